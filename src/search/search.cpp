// The search loop: ask a strategy, price the candidate, reject what breaks a limit, train the rest side
// by side with per-epoch reports (and ASHA), tell the study; at the end the Pareto models meet the test split.
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/deploy.h"
#include "rnnas/quant.h"
#include "rnnas/search.h"

namespace rnnas::search {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRejected = "rejected by the cost model: ";
constexpr const char* kInterrupted = "interrupted: ";

std::vector<double> val_curve(const nn::TrainResult& r) {
  std::vector<double> out;
  for (const auto& e : r.curve) out.push_back(e.val.error());
  return out;
}

// Wall-clock Unix seconds (deadlines shared by workers on several machines).
double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Times every storage call of a search (the per-trial storage overhead of rnnas worker and bench/).
class TimedStorage final : public Storage {
  // Runs f, adding its time and one call.
  template <class F>
  auto time(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    struct Add {
      TimedStorage* self;
      std::chrono::steady_clock::time_point t0;
      ~Add() {
        self->ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        ++self->calls_;
      }
    } add{this, t0};
    return f();
  }
 public:
  explicit TimedStorage(std::unique_ptr<Storage> s) : s_(std::move(s)) {}
  double seconds() const { return static_cast<double>(ns_.load()) * 1e-9; }
  long calls() const { return calls_.load(); }
  std::string location() const override { return s_->location(); }
  int64_t create_study(const std::string& n, const nlohmann::json& j) override { return time([&] { return s_->create_study(n, j); }); }
  std::optional<StudyInfo> find_study(const std::string& n) override { return time([&] { return s_->find_study(n); }); }
  std::vector<StudyInfo> list_studies() override { return time([&] { return s_->list_studies(); }); }
  int64_t add_trial(int64_t st, const Trial& t, TrialState state, const Admission& a) override {
    return time([&] { return s_->add_trial(st, t, state, a); });
  }
  std::optional<Trial> claim_waiting(int64_t st, const std::string& w, int64_t b) override {
    return time([&] { return s_->claim_waiting(st, w, b); });
  }
  int64_t budget_used(int64_t st) override { return time([&] { return s_->budget_used(st); }); }
  void report(int64_t st, int64_t t, int e, double v) override { time([&] { s_->report(st, t, e, v); return 0; }); }
  void finish(int64_t st, int64_t t, TrialState state, const std::map<std::string, double>& m,
              const std::map<std::string, double>& c, const std::string& r, double w) override {
    time([&] { s_->finish(st, t, state, m, c, r, w); return 0; });
  }
  void set_attr(int64_t st, int64_t t, const std::string& k, double v) override {
    time([&] { s_->set_attr(st, t, k, v); return 0; });
  }
  int64_t release(int64_t st, int64_t t, const std::string& r) override { return time([&] { return s_->release(st, t, r); }); }
  std::vector<Trial> fail_stale(int64_t st, double sec, const std::string& r) override {
    return time([&] { return s_->fail_stale(st, sec, r); });
  }
  void touch(int64_t st, int64_t t) override { time([&] { s_->touch(st, t); return 0; }); }
  Trial get_trial(int64_t st, int64_t t) override { return time([&] { return s_->get_trial(st, t); }); }
  std::vector<Trial> trials(int64_t st) override { return time([&] { return s_->trials(st); }); }

 private:
  std::unique_ptr<Storage> s_;
  std::atomic<long long> ns_{0};
  std::atomic<long> calls_{0};
};

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "host";
  return buf;
}

// The costs stored with a trial.
std::map<std::string, double> cost_map(const hw::Cost& c) {
  std::map<std::string, double> m = {
      {"flash_bytes", static_cast<double>(c.flash_bytes)},   {"ram_bytes", static_cast<double>(c.ram_bytes)},
      {"ram_window_bytes", static_cast<double>(c.ram_window_bytes)}, {"latency_ms", c.latency_ms},
      {"step_latency_ms", c.step_latency_ms},                  {"energy_uj", c.energy_uj},
      {"macs", static_cast<double>(c.macs)},                   {"params", static_cast<double>(c.params)}};
  if (c.instructions > 0) m["instructions"] = c.instructions;  // calibrated targets: predicted per inference
  return m;
}

std::string duration(double s) {
  if (s < 0) return "?";
  const long t = std::lround(s);
  return t >= 3600 ? fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60) : fmt::format("{}m{:02d}s", t / 60, t % 60);
}

nlohmann::json settings_of(const SearchOptions& o) {
  nlohmann::json objectives = nlohmann::json::array();
  for (Objective x : o.objectives) objectives.push_back(std::string(to_string(x)));
  return {{"data", o.data},
          {"target", o.target},
          {"space", o.space},
          {"strategy", o.strategy},
          {"objectives", objectives},
          {"constraints",
           {{"max_flash_bytes", o.constraints.max_flash_bytes},
            {"max_ram_bytes", o.constraints.max_ram_bytes},
            {"max_latency_ms", o.constraints.max_latency_ms},
            {"max_energy_uj", o.constraints.max_energy_uj}}},
          {"quant", std::string(hw::to_string(o.quant))},
          {"quantize", o.quantize},
          {"trials", o.trials},
          {"max_seconds", o.max_seconds},
          {"seed", o.seed},
          {"asha", o.asha},
          {"asha_min_epochs", o.asha_min_epochs},
          {"asha_eta", o.asha_eta},
          {"cv_folds", o.cv_folds},
          {"refit", o.refit},
          {"epochs", o.train.epochs},
          {"patience", o.train.patience},
          {"qat_from", o.train.qat_from},
          {"augment_scale", o.train.augment_scale},
          {"augment_noise", o.train.augment_noise},
          {"ema", o.train.ema},
          {"measure", o.measure}};
}

// Settings of a stored study override the options (a resumed study continues as it was begun); the
// budget (trials, max_seconds) is taken from the options so that a resume can extend it.
void apply_settings(const nlohmann::json& s, SearchOptions& o) {
  try {
    o.data = s.at("data").get<std::string>();
    o.target = s.at("target").get<std::string>();
    o.space = s.at("space").get<std::string>();
    o.strategy = s.at("strategy").get<std::string>();
    o.objectives.clear();
    for (const auto& x : s.at("objectives")) o.objectives.push_back(parse_objective(x.get<std::string>()));
    const auto& c = s.at("constraints");
    o.constraints = {c.at("max_flash_bytes").get<double>(), c.at("max_ram_bytes").get<double>(),
                     c.at("max_latency_ms").get<double>(), c.at("max_energy_uj").get<double>()};
    o.quant = hw::parse_quant(s.at("quant").get<std::string>());
    o.quantize = s.value("quantize", false);
    o.seed = s.at("seed").get<uint64_t>();
    o.asha = s.at("asha").get<bool>();
    o.asha_min_epochs = s.value("asha_min_epochs", 2);
    o.asha_eta = s.value("asha_eta", 3.0);
    o.cv_folds = s.value("cv_folds", 1);
    o.refit = s.value("refit", false);
    o.train.epochs = s.at("epochs").get<int>();
    o.train.patience = s.at("patience").get<int>();
    o.train.qat_from = s.value("qat_from", 0);
    o.train.augment_scale = s.value("augment_scale", 0.0);
    o.train.augment_noise = s.value("augment_noise", 0.0);
    o.train.ema = s.value("ema", 0.0);
    o.measure = s.value("measure", std::string("none"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("study settings are incomplete or damaged ({})", e.what()));
  }
}

}  // namespace

std::string Progress::line() const {
  return fmt::format("trials {} (complete {}, pruned {}, failed {}, rejected {}, running {}) | best val_error {} | "
                     "pareto {} | {} elapsed, {} left",
                     trained, complete, pruned, failed, rejected, running,
                     best_val_error < 0 ? std::string("-") : fmt::format("{:.4f}", best_val_error), pareto_size,
                     duration(elapsed_s), remaining_s < 0 ? std::string("?") : duration(remaining_s));
}

SearchResult run_search(const SearchOptions& o_in) {
  SearchOptions o = o_in;
  auto timed = std::make_unique<TimedStorage>(open_storage(o.storage));
  TimedStorage* timing = timed.get();
  std::unique_ptr<Storage> store = std::move(timed);
  int64_t sid = -1;
  double deadline = 0;  // unix seconds; 0 = no wall-time budget
  if (o.resume || o.join) {
    const auto s = store->find_study(o.study);
    if (!s)
      throw Error(fmt::format("{}: no study named '{}' to {}", store->location(), o.study, o.join ? "join" : "resume"));
    sid = s->id;
    apply_settings(s->settings, o);
    if (o.join) {  // a worker spends the study's own budget, timed from the study's creation
      o.trials = s->settings.value("trials", 0);
      o.max_seconds = s->settings.value("max_seconds", 0.0);
      if (o.max_seconds > 0) deadline = s->created + o.max_seconds;
    }
  } else {
    if (o.data.empty()) throw Error("search: no dataset (--data)");
    if (store->find_study(o.study))
      throw Error(fmt::format("{}: a study named '{}' exists already (add --resume to continue it, or choose "
                              "another --study)", store->location(), o.study));
  }
  if (o.objectives.empty() || o.objectives[0] != Objective::val_error)
    throw Error("search: the first objective must be val_error");
  if (o.trials < 1 && o.max_seconds <= 0) throw Error("search: give a budget (--trials and/or --time)");
  if (o.measure != "none" && o.measure != "pareto" && o.measure != "feasible")
    throw Error(fmt::format("search: --measure '{}': expected none, pareto or feasible", o.measure));

  const Dataset base = load_dataset(o.data);
  const hw::Target target = hw::load_target(o.target);
  SearchSpace space = SearchSpace::load(o.space);
  space.input_features = base.num_features;
  if (!space.fe_win_ms.empty() && !base.audio)
    throw Error(fmt::format("search: space '{}' chooses audio front ends, but {} is not an audio dataset", o.space,
                            base.name));
  if (!o.resume && !o.join) sid = store->create_study(o.study, settings_of(o));
  if (o.create_only) {
    SearchResult created;
    created.study = sid;
    return created;
  }
  // Other processes may work on this study (a database, or a worker joining a file): heartbeats decide
  // which running trials are dead, and a process waits for others' running trials before it ends.
  const bool shared = o.join || is_url(o.storage);
  const hw::InputShape shape = hw::shape_of(base);
  auto strategy = make_strategy(o.strategy, {&space, o.objectives});
  Asha asha;
  asha.min_epochs = o.asha_min_epochs;
  asha.eta = o.asha_eta;
  asha.max_epochs = o.train.epochs;
  asha.objectives = o.objectives;  // multi-objective promotion with hardware objectives
  if (asha.min_epochs < 1 || !(asha.eta > 1))
    throw Error(fmt::format("search: ASHA needs min epochs >= 1 and eta > 1 (got {}, {})", asha.min_epochs, asha.eta));
  const std::string models_dir = fs::path(trial_model_path(store->location(), o.study, 0)).parent_path().string();
  fs::create_directories(models_dir);

  // A previous process that died (or was stopped) left running trials: they failed; their candidates are
  // offered again (Storage::fail_stale). Resuming a study says its process is gone: all of them. A worker
  // joins others that may be alive: only those whose heartbeat stopped.
  if (o.resume || o.join)
    store->fail_stale(sid, shared ? o.stale_after_s : 0,
                      std::string(kInterrupted) + (shared ? "its worker stopped sending heartbeats"
                                                          : "the search process ended first"));
  const std::string process_name =
      o.worker_name.empty() ? fmt::format("{}:{}", host_name(), static_cast<long>(::getpid())) : o.worker_name;

  // Datasets per front-end choice (audio searches), loaded once each.
  std::mutex data_mu;
  std::map<std::string, std::shared_ptr<const Dataset>> datasets;
  datasets[o.data] = std::make_shared<const Dataset>(base);
  auto dataset_for = [&](const Arch& a) {
    const std::string spec = with_front_end(o.data, a.fe);
    std::lock_guard lock(data_mu);
    auto& d = datasets[spec];
    if (!d) d = std::make_shared<const Dataset>(load_dataset(spec));
    return d;
  };
  // Cross-validation folds 1..K-1 of the same (loaded once each).
  if (o.cv_folds < 1 || o.cv_folds > 20)
    throw Error(fmt::format("search: --cv-folds {} not in [1, 20]", o.cv_folds));
  auto fold_for = [&](const Arch& a, int k) {
    const auto whole = dataset_for(a);
    const std::string key = fmt::format("{}#fold{}", with_front_end(o.data, a.fe), k);
    std::lock_guard lock(data_mu);
    auto& d = datasets[key];
    if (!d) d = std::make_shared<const Dataset>(cv_fold(*whole, k, o.cv_folds, o.seed));
    return d;
  };
  if (o.cv_folds > 1) fold_for(Arch{}, 1);  // a dataset that cannot be cut fails here, before any trial

  std::mutex mu;  // serialises asking, budget accounting and progress
  Progress prog;
  std::set<std::string> seen;  // archs already tried (trained or rejected), here or by other workers
  std::set<int64_t> mine;      // running trials of this process (heartbeats)
  int trained_here = 0;        // trials this process trained to their end
  // The counts of the whole study (every worker's trials), from the store.
  auto count = [&](const std::vector<Trial>& all) {
    Progress fresh;
    fresh.running = prog.running;
    fresh.elapsed_s = prog.elapsed_s;
    fresh.remaining_s = prog.remaining_s;
    prog = fresh;
    int running_anywhere = 0;
    for (const auto& t : all) {
      seen.insert(t.arch);
      if (is_rejected(t)) ++prog.rejected;
      else if (t.state == TrialState::complete) ++prog.complete;
      else if (t.state == TrialState::pruned) ++prog.pruned;
      else if (t.state == TrialState::failed && t.counted) ++prog.failed;
      else if (t.state == TrialState::running) ++running_anywhere;
    }
    prog.trained = prog.complete + prog.pruned + prog.failed + running_anywhere;
  };
  count(store->trials(sid));
  const double t0 = now_seconds();
  if (o.max_seconds > 0 && deadline == 0) deadline = unix_seconds() + o.max_seconds;
  // The search phase ends early enough for the refits to fit in the wall-time budget: at the deadline less
  // the estimated time to refit the current front (updated as trials end). Trials still training then are
  // stopped at their next epoch (pruned: "time budget").
  std::atomic<double> search_end{deadline};
  const double refit_growth = 1.0 + static_cast<double>(base.val.size()) /
                                        static_cast<double>(std::max<size_t>(1, base.train.size()));
  auto past_search_end = [&] { return deadline > 0 && unix_seconds() >= search_end.load(); };
  bool out_of_ideas = false, budget_spent = false;
  const int64_t budget = o.trials > 0 ? o.trials : -1;
  auto refresh = [&] {  // under mu
    prog.elapsed_s = now_seconds() - t0;
    const auto all = store->trials(sid);
    count(all);
    double best = -1;
    for (const auto& t : all)
      if (t.state == TrialState::complete) {
        const double v = objective_value(t, Objective::val_error);
        if (best < 0 || v < best) best = v;
      }
    prog.best_val_error = best;
    const std::vector<int64_t> front = study_pareto(all, o.objectives);
    prog.pareto_size = static_cast<int>(front.size());
    // Seconds per trial, once one has ended (a running trial alone says nothing of the rate).
    const int ended = prog.trained - prog.running;
    const double per = ended > 0 ? prog.elapsed_s / ended : -1;
    double left =
        o.trials > 0 && per > 0 ? per * std::max(0, o.trials - prog.trained) / std::max(1, o.jobs) : -1;
    if (deadline > 0 && o.refit && !base.val.empty())
      search_end = deadline - refit_seconds(all, front, refit_growth, o.jobs);
    const double to_deadline = search_end.load() - unix_seconds();  // what is left to search
    if (o.max_seconds > 0) left = left < 0 ? to_deadline : std::min(left, to_deadline);
    prog.remaining_s = left < 0 && o.max_seconds <= 0 ? -1 : std::max(0.0, left);
    if (o.on_progress) o.on_progress(prog);
  };
  // A storage error in one job (a database that went away, a full disk) stops every job; the first
  // error is rethrown once they have all ended (running trials stay running: a resume or another worker
  // releases them).
  std::atomic<bool> failing{false};
  std::exception_ptr failure;
  auto record_failure = [&] {  // in a catch handler: the first error is kept, every job stops
    std::lock_guard lock(mu);
    if (!failure) failure = std::current_exception();
    failing = true;
  };
  auto stopping = [&] { return failing.load() || (o.stop && o.stop->load()); };
  // Trials are ranked by their int8 model when quantising (an audio front end stays float: the network is
  // quantised from its features on).
  auto int8_ranked = [&](const Arch&) { return o.quantize && o.quant == hw::Quant::int8; };
  // Deploys a complete trial's int8 model on the target's emulated board and stores what was measured.
  auto measure_trial = [&](int64_t number, const nn::Model& model, const Dataset& data) {
    quant::QModel q = quant::quantize(model, data.train);
    if (data.audio) q.set_frontend(data.frontend);
    deploy::DeployOptions d;
    d.dir = fmt::format("{}/deploy-{}", models_dir, number);
    d.limit = o.measure_limit;
    d.max_flash_bytes = static_cast<long>(o.constraints.max_flash_bytes);
    d.max_ram_bytes = static_cast<long>(o.constraints.max_ram_bytes);
    const Split& part = data.test.empty() ? data.val : data.test;
    try {
      deploy::record(*store, sid, number, deploy::deploy(q, target, part, d));
    } catch (const Error& e) {
      // Not fitting the budgets once built is a finding, not a crash: recorded as such.
      store->set_attr(sid, number, "measured_failed", 1.0);
      fmt::print(stderr, "deploy of trial {}: {}\n", number, e.what());
    }
  };
  const unsigned jobs = o.jobs > 0 ? static_cast<unsigned>(o.jobs) : std::max(1u, std::thread::hardware_concurrency());
  o.jobs = static_cast<int>(jobs);

  double last_stale_check = now_seconds();
  auto worker = [&](unsigned w) {
    const std::string name = fmt::format("{}:{}", process_name, w);
    for (;;) {
      Arch arch;
      hw::Cost cost;
      int64_t number = -1;
      uint64_t seed = 0;
      {
        std::unique_lock lock(mu);
        if (stopping() || out_of_ideas) return;
        if (past_search_end()) return;
        // Other workers' dead trials: released (their candidates waiting again) once their heartbeat is old.
        if (shared && now_seconds() - last_stale_check >= std::min(5.0, o.stale_after_s / 4)) {
          last_stale_check = now_seconds();
          store->fail_stale(sid, o.stale_after_s, std::string(kInterrupted) + "its worker stopped sending heartbeats");
        }
        std::optional<Trial> claimed;
        while ((claimed = store->claim_waiting(sid, name, budget))) {
          // A candidate offered again (after a crash) is priced again: it may never have been feasible
          // (a crash between recording a rejection's two steps) or the limits may differ on resume.
          arch = Arch::parse(claimed->arch);
          cost = hw::estimate(arch, target, shape, o.quant);
          const std::string why = violation(cost, target, o.constraints);
          if (why.empty()) break;
          store->finish(sid, claimed->number, TrialState::pruned, {}, cost_map(cost), kRejected + why, 0);
        }
        if (claimed) {
          number = claimed->number;
          seed = claimed->seed;
        } else if (!budget_spent) {
          int attempts = 0;
          // One read of the history; rejections made here are appended to it rather than read back.
          auto history = store->trials(sid);
          for (const auto& t : history) seen.insert(t.arch);
          for (; attempts < 2000; ++attempts) {
            Rng rng = Rng(o.seed).fork(static_cast<uint64_t>(history.size()) * 4099 + static_cast<uint64_t>(attempts));
            // A strategy that keeps proposing archs tried already has exhausted the neighbourhood of its
            // parents (aging evolution did, at 259 of 300 trials in the strategy benchmark): after 500
            // such proposals the rest of the budget is sampled at random. A space with nothing left untried
            // still ends the search after 2,000 attempts.
            arch = attempts < 500 ? strategy->ask(history, rng) : space.sample(rng);
            const std::string key = arch.to_string();
            if (seen.count(key)) continue;
            seen.insert(key);
            cost = hw::estimate(arch, target, shape, o.quant);
            const std::string why = violation(cost, target, o.constraints);
            Trial t;
            t.arch = key;
            t.seed = o.seed * 1000003ULL + static_cast<uint64_t>(history.size());
            t.strategy = strategy->name();
            t.worker = name;
            if (!why.empty()) {
              t.counted = false;
              t.number = store->add_trial(sid, t, TrialState::running, {-1, true});
              if (t.number == kArchTaken) continue;  // another worker tried it meanwhile
              t.state = TrialState::pruned;
              t.costs = cost_map(cost);
              t.reason = kRejected + why;
              store->finish(sid, t.number, t.state, {}, t.costs, t.reason, 0);
              history.push_back(std::move(t));
              continue;
            }
            number = store->add_trial(sid, t, TrialState::running, {budget, true});
            if (number == kArchTaken) {
              number = -1;
              continue;
            }
            if (number == kBudgetSpent) {
              number = -1;
              budget_spent = true;
              break;
            }
            seed = t.seed;
            break;
          }
          if (attempts >= 2000) out_of_ideas = true;
        }
        if (number < 0) {
          // Nothing to train now. Another process's running trial may yet be released (its worker died)
          // and offered again: a worker stays while such trials exist; a lone search ends.
          bool others_running = false;
          if (shared)
            for (const auto& t : store->trials(sid))
              others_running = others_running || (t.state == TrialState::running && !mine.count(t.number) &&
                                                   t.worker.rfind(process_name + ":", 0) != 0);
          if (!others_running) return;
          lock.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        mine.insert(number);
        ++prog.running;
        refresh();
      }
      // Train (outside the lock).
      nn::TrainOptions topt = o.train;
      topt.seed = seed;
      bool pruned = false, interrupted = false, timed_out = false;
      std::string prune_reason;
      const std::map<std::string, double> costs = cost_map(cost);
      topt.on_epoch = [&](const nn::EpochReport& r) {
        const double err = r.val.error();
        store->report(sid, number, r.epoch, std::isfinite(err) ? err : 1e300);
        if (stopping()) {
          interrupted = true;
          return false;
        }
        if (past_search_end() && r.epoch < topt.epochs) {
          timed_out = true;
          return false;
        }
        if (o.asha && asha.is_rung(r.epoch) &&
            asha.should_stop(r.epoch, err, number, store->trials(sid), costs)) {
          pruned = true;
          prune_reason = fmt::format(
              "ASHA: val_error {:.4f} at epoch {} not in the best 1/{} of its rung{}", err, r.epoch, asha.eta,
              o.objectives.size() > 1 ? " (Pareto rank, crowding, then val_error)" : "");
          return false;
        }
        return true;
      };
      const double tstart = now_seconds();
      std::map<std::string, double> metrics;
      TrialState state = TrialState::complete;
      std::string reason;
      try {
        const auto data = dataset_for(arch);
        nn::TrainResult r = nn::train(arch, *data, topt);
        metrics["val_error"] = r.best_val.error();
        metrics["epochs"] = static_cast<double>(r.curve.size());
        metrics["best_epoch"] = r.best_epoch;
        if (data->task == TaskKind::classification) {
          metrics["val_accuracy"] = r.best_val.accuracy;
          metrics["val_macro_f1"] = r.best_val.macro_f1;
        } else {
          metrics["val_rmse"] = r.best_val.rmse;
          metrics["val_mae"] = r.best_val.mae;
        }
        if (interrupted) {
          state = TrialState::failed;
          reason = std::string(kInterrupted) + "stopped by the user";
        } else if (pruned) {
          state = TrialState::pruned;
          reason = prune_reason;
        } else if (timed_out) {
          state = TrialState::pruned;
          reason = fmt::format("time budget: stopped after epoch {} of {}", r.curve.size(), topt.epochs);
        } else if (r.status == nn::TrainStatus::diverged) {
          state = TrialState::failed;
          reason = "diverged: " + r.reason;
        } else if (r.best_epoch > 0) {
          if (int8_ranked(arch)) {
            const quant::QModel q = quant::quantize(r.model, data->train);
            const nn::Metrics qm = q.evaluate(data->val.empty() ? data->train : data->val);
            metrics["val_error_float"] = metrics["val_error"];
            metrics["val_error"] = qm.error();
            if (data->task == TaskKind::classification) {
              metrics["val_accuracy"] = qm.accuracy;
              metrics["val_macro_f1"] = qm.macro_f1;
            } else {
              metrics["val_rmse"] = qm.rmse;
              metrics["val_mae"] = qm.mae;
            }
          }
          // Ranked on the curve's best 3-epoch mean, plus the int8 model's quantisation loss, rather than
          // on the best single epoch (smoothed_best). The kept model's own error stays as
          // val_error_best_epoch (its val_accuracy ... are the kept model's).
          const SmoothedError sm = smoothed_best(val_curve(r));
          if (sm.epoch > 0) {
            const double quant_loss = metrics["val_error"] - r.best_val.error();
            metrics["val_error_best_epoch"] = metrics["val_error"];
            metrics["val_error"] = sm.error + quant_loss;
            if (metrics.count("val_error_float")) metrics["val_error_float"] = sm.error;
            metrics["smoothed_epoch"] = sm.epoch;
          }
          r.model.data = with_front_end(o.data, arch.fe);
          r.model.save(fmt::format("{}/trial-{}.json", models_dir, number));
          // Cross-validation: the same candidate on folds 1..K-1, ranked by the mean over all K folds.
          double sum = metrics["val_error"];
          if (o.cv_folds > 1) metrics["val_error_fold0"] = sum;
          for (int k = 1; k < o.cv_folds && state == TrialState::complete; ++k) {
            const auto fold = fold_for(arch, k);
            nn::TrainOptions fopt = o.train;
            fopt.seed = seed + 1000003ULL * static_cast<uint64_t>(k);
            fopt.on_epoch = [&](const nn::EpochReport& fr) {
              interrupted = interrupted || stopping();
              timed_out = timed_out || (past_search_end() && fr.epoch < fopt.epochs);
              return !interrupted && !timed_out;
            };
            const nn::TrainResult fr = nn::train(arch, *fold, fopt);
            const SmoothedError fsm = smoothed_best(val_curve(fr));
            const double fbest = fr.best_val.error();
            double err = fbest;
            if (interrupted) {
              state = TrialState::failed;
              reason = std::string(kInterrupted) + "stopped by the user";
            } else if (timed_out) {
              state = TrialState::pruned;
              reason = fmt::format("time budget: stopped during cross-validation fold {}", k);
            } else if (fr.status == nn::TrainStatus::diverged || fr.best_epoch <= 0) {
              state = TrialState::failed;
              reason = fmt::format("diverged on cross-validation fold {}: {}", k, fr.reason);
            } else {
              if (int8_ranked(arch)) err = quant::quantize(fr.model, fold->train).evaluate(fold->val).error();
              if (fsm.epoch > 0) err += fsm.error - fbest;  // ranked as fold 0
              metrics[fmt::format("val_error_fold{}", k)] = err;
              sum += err;
            }
          }
          if (o.cv_folds > 1 && state == TrialState::complete) metrics["val_error"] = sum / o.cv_folds;
        }
      } catch (const Error& e) {
        state = TrialState::failed;
        reason = e.what();
      }
      if (interrupted)  // failed, not counted, and offered again on --resume (or to another worker)
        store->release(sid, number, std::string(kInterrupted) + "stopped by the user");
      else
        store->finish(sid, number, state, metrics, costs, reason, now_seconds() - tstart);
      const std::string saved = fmt::format("{}/trial-{}.json", models_dir, number);
      if (o.measure == "feasible" && state == TrialState::complete && fs::exists(saved) && !stopping())
        measure_trial(number, nn::Model::load(saved), *dataset_for(arch));
      std::lock_guard lock(mu);
      mine.erase(number);
      ++trained_here;
      --prog.running;
      refresh();  // recounts the study's trials from the store
    }
  };
  // Heartbeats: this process's running trials are touched every heartbeat_s, so that other workers can
  // tell them from the trials of a dead process (fail_stale after stale_after_s).
  std::mutex beat_mu;
  std::condition_variable beat_cv;
  bool done = false;
  std::thread heartbeat([&] {
    std::unique_lock beat_lock(beat_mu);
    while (!beat_cv.wait_for(beat_lock, std::chrono::duration<double>(o.heartbeat_s), [&] { return done; })) {
      std::vector<int64_t> alive;
      {
        std::lock_guard lock(mu);
        alive.assign(mine.begin(), mine.end());
      }
      for (int64_t n : alive) {
        try {
          store->touch(sid, n);
        } catch (const Error& e) {  // a missed heartbeat is not fatal; the next one may get through
          fmt::print(stderr, "warning: heartbeat of trial {}: {}\n", n, e.what());
        }
      }
    }
  });
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < jobs; ++w)
    pool.emplace_back([&, w] {
      try {
        worker(w);
      } catch (...) {
        record_failure();
      }
    });
  for (auto& th : pool) th.join();
  {
    std::lock_guard beat_lock(beat_mu);
    done = true;
  }
  beat_cv.notify_all();
  heartbeat.join();
  if (failure) std::rethrow_exception(failure);

  SearchResult res;
  res.study = sid;
  res.interrupted = stopping();
  auto all = store->trials(sid);
  res.pareto = study_pareto(all, o.objectives);
  if (o.refit && !res.interrupted) {
    // The front's models, o.jobs at a time (as the search's time budget assumed).
    std::vector<int64_t> todo;
    for (int64_t n : res.pareto) {
      const Trial& t = all[static_cast<size_t>(n)];
      if (!t.metrics.count("refit_epochs") && fs::exists(fmt::format("{}/trial-{}.json", models_dir, n)))
        todo.push_back(n);
    }
    std::atomic<size_t> next{0};
    auto refit_one = [&](int64_t n) {
      const Trial& t = all[static_cast<size_t>(n)];
      const std::string path = fmt::format("{}/trial-{}.json", models_dir, n);
      const Arch arch = Arch::parse(t.arch);
      const auto data = dataset_for(arch);
      if (data->val.empty()) return;
      Dataset whole = *data;
      const int O = whole.task == TaskKind::regression ? whole.num_outputs : 0;
      for (size_t i = 0; i < data->val.size(); ++i) whole.train.append_from(data->val, i, O);
      whole.val = Split{};
      nn::TrainOptions topt = o.train;
      topt.epochs = refit_epochs(t);
      topt.patience = 0;
      topt.restore_best = false;
      topt.seed = t.seed;
      topt.on_epoch = [&](const nn::EpochReport&) { return !stopping(); };
      nn::TrainResult r = nn::train(arch, whole, topt);
      if (stopping()) return;  // nothing written: the next --resume refits again
      std::lock_guard lock(mu);
      if (r.status == nn::TrainStatus::diverged) {
        store->set_attr(sid, n, "refit_diverged", 1);
        return;
      }
      // Keep the search's model once; write the refit one beside it and move it in place (atomic).
      const std::string kept = fmt::format("{}/trial-{}.search.json", models_dir, n);
      if (!fs::exists(kept)) fs::copy_file(path, kept);
      r.model.data = with_front_end(o.data, arch.fe);
      r.model.save(path + ".tmp");
      fs::rename(path + ".tmp", path);
      store->set_attr(sid, n, "refit_epochs", topt.epochs);
    };
    std::vector<std::thread> refitters;
    for (unsigned w = 0; w < std::min<size_t>(jobs, todo.size()); ++w)
      refitters.emplace_back([&] {
        for (size_t i; !stopping() && (i = next++) < todo.size();) {
          try {
            refit_one(todo[i]);
          } catch (...) {
            record_failure();
          }
        }
      });
    for (auto& th : refitters) th.join();
    if (failure) std::rethrow_exception(failure);
    all = store->trials(sid);
    res.interrupted = stopping();  // a stop during the refits: no test figures of models not refit yet
  }
  if (o.evaluate_test && !res.interrupted) {
    for (int64_t n : res.pareto) {
      const Trial& t = all[static_cast<size_t>(n)];
      if (t.metrics.count("test_error")) continue;
      const std::string path = fmt::format("{}/trial-{}.json", models_dir, n);
      if (!fs::exists(path)) continue;
      nn::Model m = nn::Model::load(path);
      const Arch arch = Arch::parse(t.arch);
      const auto data = dataset_for(arch);
      if (data->test.empty()) continue;
      nn::Metrics tm = m.evaluate(data->test);
      if (int8_ranked(arch)) {
        store->set_attr(sid, n, "test_error_float", tm.error());
        tm = quant::quantize(m, data->train).evaluate(data->test);
      }
      store->set_attr(sid, n, "test_error", tm.error());
      if (data->task == TaskKind::classification) {
        store->set_attr(sid, n, "test_accuracy", tm.accuracy);
      } else {
        store->set_attr(sid, n, "test_rmse", tm.rmse);
        if (!tm.score_name.empty()) store->set_attr(sid, n, "test_" + tm.score_name, tm.score);
      }
    }
    all = store->trials(sid);
  }
  if (o.measure == "pareto" && !res.interrupted) {
    for (int64_t n : res.pareto) {
      const Trial& t = all[static_cast<size_t>(n)];
      const std::string path = fmt::format("{}/trial-{}.json", models_dir, n);
      if (t.metrics.count("measured_instructions") || !fs::exists(path)) continue;
      measure_trial(n, nn::Model::load(path), *dataset_for(Arch::parse(t.arch)));
    }
    all = store->trials(sid);
  }
  {
    std::lock_guard lock(mu);
    refresh();
    res.progress = prog;
  }
  if (out_of_ideas && prog.trained < o.trials)
    res.progress.remaining_s = 0;
  res.trials = std::move(all);
  res.storage_seconds = timing->seconds();
  res.storage_calls = timing->calls();
  res.trained_here = trained_here;
  return res;
}

std::string trial_model_path(const std::string& storage_location, const std::string& study, int64_t trial) {
  fs::path base;
  if (const char* dir = std::getenv("RNNAS_MODELS_DIR"); dir && *dir) {
    base = dir;
  } else if (is_url(storage_location)) {
    // A database URL: ./rnnas-models/<host_db_params>/ (workers on several machines share it through
    // RNNAS_MODELS_DIR on a shared file system).
    std::string key = storage_location.substr(storage_location.find("://") + 3);
    if (const size_t at = key.find('@'); at != std::string::npos) key = key.substr(at + 1);
    for (char& c : key)  // the parameters stay: two schemas of one database keep their models apart
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
    base = fs::path("rnnas-models") / key;
  } else {
    const fs::path loc(storage_location);
    base = loc.parent_path() / (loc.filename().string() + ".models");
  }
  return (base / study / fmt::format("trial-{}.json", trial)).string();
}

bool is_rejected(const Trial& t) { return t.reason.rfind(kRejected, 0) == 0; }

int64_t best_trial(const std::vector<Trial>& trials) {
  int64_t best = -1;
  double value = 0;
  for (const auto& t : trials) {
    if (t.state != TrialState::complete || !t.metrics.count("val_error")) continue;
    const double v = t.metrics.at("val_error");
    if (best < 0 || v < value) {
      best = t.number;
      value = v;
    }
  }
  return best;
}

std::string figure(const std::map<std::string, double>& m, const char* key) {
  const auto it = m.find(key);
  return it == m.end() ? std::string("-") : fmt::format("{:.4g}", it->second);
}

std::string pareto_table(const std::vector<Trial>& trials, const std::vector<int64_t>& pareto,
                         const std::vector<Objective>& objectives) {
  std::vector<const Trial*> rows;
  for (int64_t n : pareto)
    for (const auto& t : trials)
      if (t.number == n) rows.push_back(&t);
  std::sort(rows.begin(), rows.end(), [](const Trial* a, const Trial* b) {
    return objective_value(*a, Objective::val_error) < objective_value(*b, Objective::val_error);
  });
  const bool measured = std::any_of(rows.begin(), rows.end(), [](const Trial* t) {
    return t->metrics.count("measured_instructions") > 0 || t->metrics.count("measured_failed") > 0;
  });
  std::string s = fmt::format("{:>5}  {:<44} {:>9} {:>10} {:>9} {:>9} {:>11} {:>11}", "trial", "arch", "val_error",
                              "test_error", "flash_B", "ram_B", "latency_ms*", "energy_uJ*");
  if (measured)
    s += fmt::format(" | {:>9} {:>8} {:>12} {:>10} {:>5}", "flash_B=", "ram_B=", "instructions=", "device_err", "exact");
  s += "  strategy\n";
  const auto get = figure;
  for (const Trial* t : rows) {
    std::string arch = t->arch.size() > 44 ? t->arch.substr(0, 41) + "..." : t->arch;
    s += fmt::format("{:>5}  {:<44} {:>9} {:>10} {:>9} {:>9} {:>11} {:>11}", t->number, arch,
                     get(t->metrics, "val_error"), get(t->metrics, "test_error"), get(t->costs, "flash_bytes"),
                     get(t->costs, "ram_bytes"), get(t->costs, "latency_ms"), get(t->costs, "energy_uj"));
    if (measured) {
      const bool failed = t->metrics.count("measured_failed") > 0;
      s += failed ? fmt::format(" | {:>49}", "(did not build within the budgets)")
                  : fmt::format(" | {:>9} {:>8} {:>12} {:>10} {:>5}", get(t->metrics, "measured_flash_bytes"),
                                get(t->metrics, "measured_ram_bytes"), get(t->metrics, "measured_instructions"),
                                get(t->metrics, "device_error"),
                                t->metrics.count("device_bit_exact") ? (t->metrics.at("device_bit_exact") > 0 ? "yes" : "NO")
                                                                     : "-");
    }
    s += fmt::format("  {}\n", t->strategy);
  }
  std::string names;
  for (Objective o : objectives) names += (names.empty() ? "" : ", ") + std::string(to_string(o));
  s += fmt::format("(front of {}; * estimated: from the target's calibration when it has one (rnnas calibrate), "
                   "else from its cycle table{})\n",
                   names,
                   measured ? "; = measured on the emulated board: flash and RAM of the whole firmware image, "
                              "exact instructions per inference"
                            : "");
  return s;
}

}  // namespace rnnas::search

// rnnas command line: parsing and wiring only; the work happens in the library.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <map>
#include <unistd.h>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/deploy.h"
#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/quant.h"
#include "rnnas/report.h"
#include "rnnas/search.h"
#include "rnnas/space.h"
#include "rnnas/study.h"

namespace {

constexpr int kExitInputError = 2;
constexpr int kExitDiverged = 3;

struct TrainArgs {
  std::string arch = "gru:32|head=last";
  std::string data = "sine:classes=4,T=64";
  std::string save;
  std::string optimizer = "adam";
  std::string schedule = "cosine";
  std::string class_weights = "none";
  bool no_restore_best = false;
  bool quiet = false;
  rnnas::nn::TrainOptions opt;
};

void add_train(CLI::App& app, TrainArgs& a) {
  auto* cmd = app.add_subcommand("train", "Train one architecture on a dataset and print its learning curve");
  cmd->add_option("--arch", a.arch, "Architecture spec, e.g. 'gru:32,gru:16|head=last' (see README)")
      ->capture_default_str();
  cmd->add_option("--data", a.data, "Dataset spec, e.g. 'adding:T=50' or 'csv:rec.csv,window=128,label=act'")
      ->capture_default_str();
  auto& o = a.opt;
  cmd->add_option("--epochs", o.epochs, "Maximum epochs")->capture_default_str();
  cmd->add_option("--batch", o.batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "Weight decay (L2 for adam, decoupled for adamw)")
      ->capture_default_str();
  cmd->add_option("--optimizer", a.optimizer, "adam | adamw")->capture_default_str()->check(CLI::IsMember({"adam", "adamw"}));
  cmd->add_option("--schedule", a.schedule, "cosine | step | constant")
      ->capture_default_str()
      ->check(CLI::IsMember({"cosine", "step", "constant"}));
  cmd->add_option("--step-epochs", o.step_epochs, "Step schedule: epochs between decays")->capture_default_str();
  cmd->add_option("--step-gamma", o.step_gamma, "Step schedule: decay factor")->capture_default_str();
  cmd->add_option("--clip", o.clip_norm, "Gradient-norm clipping (0 = off)")->capture_default_str();
  cmd->add_option("--patience", o.patience, "Early stopping patience in epochs (0 = off)")->capture_default_str();
  cmd->add_flag("--no-restore-best", a.no_restore_best, "Keep the last weights instead of the best");
  cmd->add_option("--loss", o.loss, "auto | ce | mse | huber")->capture_default_str();
  cmd->add_option("--huber-delta", o.huber_delta, "Huber loss threshold")->capture_default_str();
  cmd->add_option("--class-weights", a.class_weights, "none | balanced")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "balanced"}));
  cmd->add_option("--qat-from", o.qat_from,
                  "Quantisation-aware training from this epoch on (fake int8, straight-through; 0 = off)")
      ->capture_default_str();
  cmd->add_option("--augment-scale", o.augment_scale,
                  "Augmentation: scale each input feature of each training sequence by a factor in [1-a, "
                  "1+a] (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--augment-noise", o.augment_noise,
                  "Augmentation: Gaussian noise of this standard deviation on the normalised training inputs "
                  "(0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--ema", o.ema,
                  "Weight averaging: validate and keep an exponential moving average of the weights with "
                  "this decay per step, e.g. 0.999 (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999999));
  cmd->add_option("--seed", o.seed, "Seed of every random choice")->capture_default_str();
  cmd->add_option("--save", a.save, "Write the trained model to this file (JSON, docs/model-format.md)");
  cmd->add_flag("--quiet", a.quiet, "Print only the final metrics");
}

int run_train(TrainArgs& a) {
  using namespace rnnas;
  const Arch arch = Arch::parse(a.arch);
  const Dataset ds = load_dataset(with_front_end(a.data, arch.fe));
  nn::TrainOptions& o = a.opt;
  o.optimizer = a.optimizer == "adamw" ? nn::OptimizerKind::adamw : nn::OptimizerKind::adam;
  o.schedule = a.schedule == "step"       ? nn::ScheduleKind::step
               : a.schedule == "constant" ? nn::ScheduleKind::constant
                                          : nn::ScheduleKind::cosine;
  o.class_weighting = a.class_weights == "balanced" ? nn::ClassWeighting::balanced : nn::ClassWeighting::none;
  o.restore_best = !a.no_restore_best;
  if (!a.quiet) {
    fmt::print("{}", ds.summary());
    fmt::print("arch {}  ({} parameters)\n", arch.to_string(),
               nn::Network<float>(arch, ds.num_features, ds.output_dim()).num_params());
    o.on_epoch = [](const nn::EpochReport& r) {
      fmt::print("epoch {:>3}  lr {:.2e}  train_loss {:.4g}  val {}  {:.2f}s\n", r.epoch, r.lr, r.train_loss,
                 r.val.to_string(), r.seconds);
      std::fflush(stdout);
      return true;
    };
  }
  nn::TrainResult r = nn::train(arch, ds, o);
  r.model.data = with_front_end(a.data, arch.fe);
  const double sps = r.seconds > 0 ? static_cast<double>(r.samples) / r.seconds : 0;
  fmt::print("status {}{}\n", nn::to_string(r.status), r.reason.empty() ? "" : " (" + r.reason + ")");
  if (r.best_epoch > 0) fmt::print("best epoch {}  val {}\n", r.best_epoch, r.best_val.to_string());
  if (r.test.count) fmt::print("test {}\n", r.test.to_string());
  fmt::print("trained {} sequences in {:.2f}s ({:.0f} sequences/s, one thread)\n", r.samples, r.seconds, sps);
  if (!a.save.empty() && r.best_epoch > 0) {
    r.model.save(a.save);
    fmt::print("saved {}\n", a.save);
  }
  return r.status == nn::TrainStatus::diverged ? kExitDiverged : 0;
}

int run_eval(const std::string& model_path, const std::string& data, const std::string& part_name) {
  using namespace rnnas;
  nn::Model m = nn::Model::load(model_path);
  const Dataset ds = load_dataset(data);
  if (ds.num_features != m.input_dim || ds.output_dim() != m.output_dim || ds.task != m.task)
    throw Error(fmt::format("{}: the model takes {} features and gives {} {} outputs; data '{}' has {} features and {}",
                            model_path, m.input_dim, m.output_dim, to_string(m.task), data, ds.num_features,
                            ds.output_dim()));
  const std::map<std::string, const Split*> parts = {{"train", &ds.train}, {"val", &ds.val}, {"test", &ds.test}};
  for (const auto& [name, part] : parts) {
    if (part_name != "all" && part_name != name) continue;
    if (part->empty()) continue;
    fmt::print("{:<5} {}  ({} sequences)\n", name, m.evaluate(*part).to_string(), part->size());
  }
  return 0;
}

struct CostArgs {
  std::string arch, target = "nrf52840", data, quant = "int8";
  int features = 0, steps = 0, outputs = 0;
};

int run_cost(const CostArgs& a) {
  using namespace rnnas;
  const Arch arch = Arch::parse(a.arch);
  const hw::Target t = hw::load_target(a.target);
  hw::InputShape in;
  if (!a.data.empty()) {
    in = hw::shape_of(load_dataset(a.data));
  }
  if (a.features) in.features = a.features;
  if (a.steps) in.steps = a.steps;
  if (a.outputs) in.outputs = a.outputs;
  if (in.features < 1 || in.steps < 1 || in.outputs < 1)
    throw Error("cost: give --data SPEC, or --features, --steps and --outputs");
  const hw::Cost c = hw::estimate(arch, t, in, hw::parse_quant(a.quant), true);
  fmt::print("arch          {}\ntarget        {} ({}, {:.0f} MHz, {} KiB RAM, {} KiB flash){}\n", arch.to_string(), t.name,
             t.core, t.clock_hz / 1e6, t.ram_bytes / 1024, t.flash_bytes / 1024,
             t.calibrated ? "" : "; cycle table not calibrated: latency and energy are estimates");
  fmt::print("input         {} features x {} steps -> {} outputs{}\n", hw::shape_for(arch, in).features,
             hw::shape_for(arch, in).steps, in.outputs,
             in.audio ? fmt::format(" (audio front end on the device, {} Hz)", in.sample_rate) : std::string());
  fmt::print("{}", c.to_string(t));
  return 0;
}

int run_targets() {
  using namespace rnnas;
  fmt::print("{:<11} {:<14} {:>5} {:>9} {:>10}  {:<3} {:<3} {:<3}  {:<14} {:>8}  {}\n", "name", "core", "MHz", "RAM KiB",
             "flash KiB", "fpu", "dsp", "mve", "emulator", "mW", "calibrated");
  for (const auto& t : hw::list_targets())
    fmt::print("{:<11} {:<14} {:>5.0f} {:>9} {:>10}  {:<3} {:<3} {:<3}  {:<14} {:>8.3g}  {}\n", t.name, t.core,
               t.clock_hz / 1e6, t.ram_bytes / 1024, t.flash_bytes / 1024, t.fpu ? "yes" : "-", t.dsp ? "yes" : "-",
               t.mve ? "yes" : "-", t.qemu_machine, t.active_power_mw, t.calibrated ? "yes" : "no (estimates)");
  fmt::print("\n(files in {}; datasheet sources inside each file)\n", hw::targets_dir());
  return 0;
}

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

struct SearchArgs {
  rnnas::search::SearchOptions o;
  std::string objectives = "val_error,flash_bytes";
  std::string max_flash, max_ram, max_latency, max_energy, time, quant = "int8";
  bool no_asha = false, quiet = false;
  std::string report;  // live report file
};

double parse_time_budget(const std::string& s) {
  return rnnas::search::parse_ms(s) / 1000.0;
}

int run_search(SearchArgs& a, const CLI::App& cmd) {
  using namespace rnnas;
  auto& o = a.o;
  o.objectives.clear();
  for (auto part : split(a.objectives, ',')) o.objectives.push_back(search::parse_objective(trim(part)));
  if (!a.max_flash.empty()) o.constraints.max_flash_bytes = search::parse_bytes(a.max_flash);
  if (!a.max_ram.empty()) o.constraints.max_ram_bytes = search::parse_bytes(a.max_ram);
  if (!a.max_latency.empty()) o.constraints.max_latency_ms = search::parse_ms(a.max_latency);
  if (!a.max_energy.empty()) o.constraints.max_energy_uj = search::parse_uj(a.max_energy);
  if (!a.time.empty()) o.max_seconds = parse_time_budget(a.time);
  if (o.resume && cmd.count("--trials") == 0 && cmd.count("--time") == 0) {
    // Resuming without a new budget: keep the stored one.
    auto store = open_storage(o.storage);
    if (const auto s = store->find_study(o.study)) {
      o.trials = s->settings.value("trials", o.trials);
      o.max_seconds = s->settings.value("max_seconds", o.max_seconds);
    }
  }
  o.quant = hw::parse_quant(a.quant);
  o.asha = !a.no_asha;
  o.stop = &g_stop;
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  // A terminal gets one live line; a log file a line every 10 seconds.
  const bool tty = isatty(fileno(stderr)) != 0;
  double last = -1e9, last_report = -1e9;
  // The live report: rewritten (atomically) at most every 5 seconds as trials finish, without evaluating
  // the detailed trial's model; the final one, after the search, evaluates it.
  report::ReportOptions live;
  live.storage = o.storage;
  live.study = o.study;
  live.evaluate = false;
  auto write_live = [&live, &a](bool final) {
    try {
      live.evaluate = final;
      report::write_report(live, a.report);
    } catch (const Error& e) {  // a report that cannot be written must not stop the search
      fmt::print(stderr, "\nwarning: report {}: {}\n", a.report, e.what());
    }
  };
  if (!a.report.empty() && !report::available())
    throw Error("search --report: this rnnas was built without the report's plotting libraries (RNNAS_REPORT=OFF)");
  o.on_progress = [&](const search::Progress& p) {
    if (!a.report.empty() && p.elapsed_s - last_report >= 5) {
      last_report = p.elapsed_s;
      write_live(false);
    }
    if (a.quiet) return;
    if (tty) {
      fmt::print(stderr, "\r{}\033[K", p.line());
    } else if (p.elapsed_s - last >= 10) {
      last = p.elapsed_s;
      fmt::print(stderr, "{}\n", p.line());
    }
    std::fflush(stderr);
  };
  const search::SearchResult r = search::run_search(o);
  if (o.create_only) {
    fmt::print("created study '{}' in {} ({} trials); start workers with:\n  rnnas worker --storage {} --study {} "
               "[--jobs N]\n", o.study, redact_url(o.storage), o.trials, redact_url(o.storage), o.study);
    return 0;
  }
  if (!a.quiet && tty) fmt::print(stderr, "\n");
  if (!a.report.empty()) {
    write_live(true);
    fmt::print("report: {}\n", a.report);
  }
  fmt::print("study '{}' in {}: {}\n", o.study, redact_url(o.storage), r.progress.line());
  if (o.join || is_url(o.storage))
    fmt::print("this process trained {} trials; storage {:.1f} ms per trial ({} calls)\n", r.trained_here,
               r.trained_here ? 1e3 * r.storage_seconds / r.trained_here : 0.0, r.storage_calls);
  if (r.interrupted) {
    fmt::print("stopped by the user; continue with: rnnas {} --storage {} --study {}{}\n", o.join ? "worker" : "search",
               redact_url(o.storage), o.study, o.join ? "" : " --resume");
    return 0;
  }
  bool int8 = false;
  for (int64_t n : r.pareto) int8 = int8 || r.trials[static_cast<size_t>(n)].metrics.count("val_error_float") > 0;
  fmt::print("\nPareto front (ranked on validation; test evaluated once at the end; errors of the {} models):\n{}",
             int8 ? "int8 (C runtime)" : "float", search::pareto_table(r.trials, r.pareto, o.objectives));
  return 0;
}

struct ExportArgs {
  std::string model, storage = "study.db", study = "default", data, format = "c", out, prefix = "model";
  int64_t trial = -1;
  bool best = false;  // the study's best complete trial by validation error
  bool weights16 = false;  // the DSP kernels' 16-bit weight layout
  // deploy only
  std::string target = "nrf52840", max_flash, max_ram;
  size_t limit = 0;
};

// The options naming a trained model and its data, shared by export and deploy.
void add_model_source(CLI::App* cmd, ExportArgs& a) {
  cmd->add_option("--model", a.model, "Model file (rnnas train --save, or a study's trial-N.json)");
  cmd->add_option("--storage", a.storage, "Study file or URL (with --study and --trial)")->capture_default_str();
  cmd->add_option("--study", a.study, "Study name")->capture_default_str();
  cmd->add_option("--trial", a.trial, "Trial number of the study");
  cmd->add_flag("--best", a.best, "The study's best complete trial (lowest validation error)");
  cmd->add_option("--data", a.data, "Dataset spec (default: the one the model records)");
  cmd->add_flag(
      "--weights16", a.weights16,
      "Store the int8 weights widened to 16 bits for the Cortex-M4/M7 DSP kernels: about a third fewer "
      "instructions, twice the weight flash, the same outputs");
}

// A trained model (a file or a study's trial), its dataset and its int8 form, for export and deploy.
struct Quantised : rnnas::quant::LoadedModel {
  std::string source;
  int64_t trial = -1;        // a study's trial (else a model file)
  std::string study_target;  // that study's target
};

Quantised load_quantised(const ExportArgs& a, const char* what) {
  using namespace rnnas;
  std::string path = a.model;
  std::string source = a.model;
  int64_t trial = -1;
  std::string study_target;
  if (path.empty()) {
    if (a.trial < 0 && !a.best)
      throw Error(fmt::format("{}: give --model FILE, or --study NAME --trial N | --best (with --storage)", what));
    auto store = open_storage(a.storage);
    const auto info = store->find_study(a.study);
    if (!info) throw Error(fmt::format("{}: no study named '{}'", redact_url(a.storage), a.study));
    study_target = info->settings.value("target", std::string());
    trial = a.trial;
    if (a.best) {
      trial = search::best_trial(store->trials(info->id));
      if (trial < 0) throw Error(fmt::format("{}: study '{}' has no complete trial", what, a.study));
    }
    path = search::trial_model_path(store->location(), a.study, trial);
    source = fmt::format("study '{}' trial {} ({})", a.study, trial, redact_url(a.storage));
    if (!std::ifstream(path))
      throw Error(fmt::format("{}: {} has no saved model (only complete trials have one; looked for {})", what, source,
                              path));
  }
  Quantised r{quant::load_and_quantize(path, a.data, what), source, trial, study_target};
  return r;
}

int run_export(const ExportArgs& a) {
  using namespace rnnas;
  Quantised m = load_quantised(a, "export");
  for (const auto& [name, part] : {std::pair<const char*, const Split*>{"val", &m.data.val}, {"test", &m.data.test}}) {
    if (part->empty()) continue;
    fmt::print("{:<5} float {}\n      int8  {}\n", name, m.model.evaluate(*part).to_string(),
               m.q.evaluate(*part).to_string());
  }
  quant::ExportOptions eo{a.out, a.prefix, m.source};
  eo.weights16 = a.weights16;
  quant::export_c(m.q, eo);
  fmt::print("wrote {0}/{1}.h, {1}.c, {1}.json, README.md and the runtime: weights {2} B, arena {3} B\n", a.out,
             a.prefix, m.q.weight_bytes(), m.q.plan.arena_bytes);
  return 0;
}

int run_deploy(const ExportArgs& a) {
  using namespace rnnas;
  Quantised m = load_quantised(a, "deploy");
  if (m.data.audio)
    fmt::print("note: the front end is not deployed yet (its FFT needs kissfft's sources on the device); the "
               "firmware is fed the features\n");
  const hw::Target t = hw::load_target(a.target);
  deploy::DeployOptions o;
  o.dir = a.out;
  o.limit = a.limit;
  o.weights16 = a.weights16;
  if (!a.max_flash.empty()) o.max_flash_bytes = static_cast<long>(search::parse_bytes(a.max_flash));
  if (!a.max_ram.empty()) o.max_ram_bytes = static_cast<long>(search::parse_bytes(a.max_ram));
  const Split& part = m.data.test.empty() ? m.data.val : m.data.test;
  fmt::print("deploying {} ({}) to {} ...\n", m.source, m.q.arch.to_string(), t.name);
  const deploy::DeployResult r = deploy::deploy(m.q, t, part, o);
  const hw::Cost c = hw::estimate(m.q.arch, t, hw::shape_of(m.data), hw::Quant::int8);
  fmt::print("{}", r.to_string());
  fmt::print("host int8     {}\n", m.q.evaluate(part).to_string());
  fmt::print("cost model    flash {} B, RAM {} B (arena {} B), {:.4g} ms (estimates before deployment{})\n",
             c.flash_bytes, c.ram_bytes, c.arena_bytes, c.latency_ms,
             a.weights16 ? "; the cost model assumes int8 weight storage" : "");
  fmt::print("files         {}/ (firmware.elf, firmware.map, model.c, qemu.log)\n", a.out);
  if (m.trial >= 0 && m.study_target == t.name && a.data.empty() && !a.weights16) {
    // Measured on the study's own target and data: kept with the trial, next to its estimates.
    auto store = open_storage(a.storage);
    deploy::record(*store, store->find_study(a.study)->id, m.trial, r);
    fmt::print("recorded      with study '{}' trial {} (rnnas show, rnnas report)\n", a.study, m.trial);
  }
  return r.bit_exact() ? 0 : 1;
}

struct ReportArgs {
  rnnas::report::ReportOptions o;
  std::string compare, out;
  bool no_eval = false;
};

int run_report(ReportArgs& a) {
  using namespace rnnas;
  for (auto part : split(a.compare, ','))
    if (!trim(part).empty()) a.o.compare.emplace_back(trim(part));
  a.o.evaluate = !a.no_eval;
  const double t0 = now_seconds();
  report::write_report(a.o, a.out);
  fmt::print("wrote {} in {:.2f}s\n", a.out, now_seconds() - t0);
  return 0;
}

struct ShowArgs {
  std::string storage, study = "default", csv, json;
  bool all = false;
};

int run_show(const ShowArgs& a) {
  using namespace rnnas;
  auto store = open_storage(a.storage);
  const auto info = store->find_study(a.study);
  if (!info) {
    std::string names;
    for (const auto& s : store->list_studies()) names += (names.empty() ? "" : ", ") + s.name;
    throw Error(fmt::format("{}: no study named '{}' (studies: {})", redact_url(a.storage), a.study,
                            names.empty() ? "none" : names));
  }
  const auto trials = store->trials(info->id);
  std::vector<search::Objective> objectives;
  for (const auto& x : info->settings.value("objectives", nlohmann::json::array()))
    objectives.push_back(search::parse_objective(x.get<std::string>()));
  if (objectives.empty()) objectives = {search::Objective::val_error, search::Objective::flash_bytes};
  const auto pareto = search::study_pareto(trials, objectives);
  fmt::print("study '{}': {}\n", info->name, info->settings.dump());
  std::map<std::string, int> states;
  for (const auto& t : trials) ++states[std::string(to_string(t.state))];
  for (const auto& [k, v] : states) fmt::print("  {} {}\n", k, v);
  if (a.all) {
    fmt::print("\n{:>5} {:<9} {:<44} {:>9} {:>9} {:>9}  {}\n", "trial", "state", "arch", "val_error", "flash_B",
               "ram_B", "reason");
    for (const auto& t : trials) {
      const auto get = search::figure;
      fmt::print("{:>5} {:<9} {:<44} {:>9} {:>9} {:>9}  {}\n", t.number, to_string(t.state), t.arch.substr(0, 44),
                 get(t.metrics, "val_error"), get(t.costs, "flash_bytes"), get(t.costs, "ram_bytes"), t.reason);
    }
  }
  fmt::print("\nPareto front:\n{}", search::pareto_table(trials, pareto, objectives));
  if (!a.csv.empty()) {
    std::ofstream out(a.csv);
    if (!out) throw Error(fmt::format("{}: cannot write", a.csv));
    out << "trial,state,arch,seed,strategy,val_error,test_error,flash_bytes,ram_bytes,latency_ms,energy_uj,epochs,"
           "wall_seconds,pareto,reason\n";
    auto num = [](const std::map<std::string, double>& m, const char* k) {
      const auto it = m.find(k);
      return it == m.end() ? std::string() : fmt::format("{}", it->second);
    };
    auto quote = [](const std::string& x) {
      std::string q = "\"";
      for (char c : x) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      return q + "\"";
    };
    for (const auto& t : trials)
      out << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", t.number, to_string(t.state), quote(t.arch),
                         t.seed, t.strategy, num(t.metrics, "val_error"), num(t.metrics, "test_error"),
                         num(t.costs, "flash_bytes"), num(t.costs, "ram_bytes"), num(t.costs, "latency_ms"),
                         num(t.costs, "energy_uj"), num(t.metrics, "epochs"), t.wall_seconds,
                         std::find(pareto.begin(), pareto.end(), t.number) != pareto.end() ? 1 : 0, quote(t.reason));
    fmt::print("wrote {}\n", a.csv);
  }
  if (!a.json.empty()) {
    nlohmann::json j = {{"study", info->name}, {"settings", info->settings}, {"pareto", pareto}};
    j["trials"] = nlohmann::json::array();
    for (const auto& t : trials)
      j["trials"].push_back({{"number", t.number}, {"state", std::string(to_string(t.state))}, {"arch", t.arch},
                             {"seed", t.seed}, {"strategy", t.strategy}, {"curve", t.curve}, {"metrics", t.metrics},
                             {"costs", t.costs}, {"reason", t.reason}, {"wall_seconds", t.wall_seconds}});
    std::ofstream out(a.json);
    if (!out) throw Error(fmt::format("{}: cannot write", a.json));
    out << j.dump(2) << "\n";
    fmt::print("wrote {}\n", a.json);
  }
  return 0;
}

}  // namespace

// Options of a process working on a shared study (search on a database, worker).
void add_worker_options(CLI::App* cmd, SearchArgs& a) {
  cmd->add_option("--heartbeat", a.o.heartbeat_s, "Seconds between heartbeats of running trials")->capture_default_str();
  cmd->add_option("--stale-after", a.o.stale_after_s,
                  "A running trial without a heartbeat for this many seconds belongs to a dead worker: failed, "
                  "and its candidate offered again")
      ->capture_default_str();
}

// The options of a search, shared by `search` and `study create`.
void add_search_options(CLI::App* cmd, SearchArgs& a) {
  cmd->add_option("--data", a.o.data, "Dataset spec");
  cmd->add_option("--target", a.o.target, "Target (rnnas targets)")->capture_default_str();
  cmd->add_option("--space", a.o.space, "Search space: tiny|default|wide|audio or a JSON file")->capture_default_str();
  cmd->add_option("--strategy", a.o.strategy, "random | evolution | nsga2")->capture_default_str();
  cmd->add_option("--objectives", a.objectives, "Comma list: val_error,flash_bytes,ram_bytes,latency_ms,energy_uj")
      ->capture_default_str();
  cmd->add_option("--max-flash", a.max_flash, "Flash limit, e.g. 32KiB");
  cmd->add_option("--max-ram", a.max_ram, "RAM limit, e.g. 8KiB");
  cmd->add_option("--max-latency", a.max_latency, "Latency limit per window, e.g. 20ms (estimated)");
  cmd->add_option("--max-energy", a.max_energy, "Energy limit per window, e.g. 50uJ (estimated)");
  cmd->add_option("--trials", a.o.trials, "Trained candidates (rejected ones do not count)")->capture_default_str();
  cmd->add_option("--time", a.time, "Wall-time budget, e.g. 30m or 600s");
  cmd->add_option("--jobs", a.o.jobs, "Candidates trained side by side (0 = all cores)")->capture_default_str();
  cmd->add_option("--seed", a.o.seed, "Seed of every random choice")->capture_default_str();
  cmd->add_option("--storage", a.o.storage, "Study file (SQLite) or URL")->capture_default_str();
  cmd->add_option("--study", a.o.study, "Study name")->capture_default_str();
  cmd->add_flag("--resume", a.o.resume, "Continue the study (also after a crash or kill -9)");
  cmd->add_option("--epochs", a.o.train.epochs, "Maximum epochs per candidate")->capture_default_str();
  cmd->add_option("--patience", a.o.train.patience, "Early-stopping patience per candidate")->capture_default_str();
  cmd->add_option("--qat-from", a.o.train.qat_from,
                   "Quantisation-aware training of every candidate from this epoch on (0 = off)")
      ->capture_default_str();
  cmd->add_option(
         "--augment-scale", a.o.train.augment_scale,
         "Augmentation of every candidate's training inputs: per-feature scale in [1-a, 1+a] (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option(
         "--augment-noise", a.o.train.augment_noise,
         "Augmentation of every candidate's training inputs: Gaussian noise (normalised units; 0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--ema", a.o.train.ema,
                  "Weight averaging of every candidate: an exponential moving average of the weights with "
                  "this decay per step, e.g. 0.999 (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999999));
  cmd->add_flag("--no-asha", a.no_asha, "Do not stop weak candidates early (successive halving)");
  cmd->add_option("--asha-min-epochs", a.o.asha_min_epochs, "First ASHA rung (epochs)")->capture_default_str();
  cmd->add_option("--asha-eta", a.o.asha_eta, "ASHA rung spacing; keeps the best 1/eta")->capture_default_str();
  cmd->add_option("--cv-folds", a.o.cv_folds,
                  "Rank on K-fold cross-validation: a candidate that completes is trained again on K-1 more "
                  "folds of the training part (by volunteer/speaker/unit when the dataset has them) and "
                  "ranked by its mean validation error (1 = off)")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  cmd->add_flag("--refit", a.o.refit,
                "At the end, train each Pareto model again on the training and validation parts together for "
                "the epochs at which its validation error was best; test, deploy and --measure use the refit "
                "model (the search's stays as trial-N.search.json)");
  cmd->add_option("--quant", a.quant, "int8 | float32 (what the costs assume)")->capture_default_str();
  cmd->add_flag("--quiet", a.quiet, "No progress line");
  cmd->add_option("--measure", a.o.measure,
                   "Deploy and measure on the emulated board: none | pareto (the front, at the end) | feasible "
                   "(every complete trial)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "pareto", "feasible"}));
  cmd->add_option("--measure-limit", a.o.measure_limit, "Test sequences streamed per deployment (0 = all)")
      ->capture_default_str();
  cmd->add_flag("--quantize,!--no-quantize", a.o.quantize,
                 "Rank trials by their int8 model, as deployed (default), or by the float model");
  add_worker_options(cmd, a);
}

int main(int argc, char** argv) {
  CLI::App app{"rnnas: hardware-aware search of recurrent networks for microcontrollers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rnnas ") + RNNAS_VERSION);

  TrainArgs train_args;
  add_train(app, train_args);

  std::string model_path, eval_data, eval_part = "test";
  auto* eval = app.add_subcommand("eval", "Evaluate a saved model on a dataset");
  eval->add_option("--model", model_path, "Model file written by 'train --save'")->required();
  eval->add_option("--data", eval_data, "Dataset spec")->required();
  eval->add_option("--part", eval_part, "train | val | test | all")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "val", "test", "all"}));

  std::string data_spec;
  auto* data = app.add_subcommand("data", "Load a dataset and describe it");
  data->add_option("--data", data_spec, "Dataset spec (short summary)");
  auto* inspect = data->add_subcommand("inspect", "Shapes, lengths, class balance, split sizes and groups");
  inspect->add_option("spec", data_spec, "Dataset spec, e.g. 'uci-har:../shared/data/hapt'")->required();

  CostArgs cost_args;
  auto* cost = app.add_subcommand("cost", "Flash, RAM, MACs, estimated latency and energy of an arch on a target");
  cost->add_option("--arch", cost_args.arch, "Architecture spec")->required();
  cost->add_option("--target", cost_args.target, "Target name (rnnas targets) or .json file")->capture_default_str();
  cost->add_option("--data", cost_args.data, "Dataset spec (gives features, steps, outputs, audio front end)");
  cost->add_option("--features", cost_args.features, "Input features per step (without --data)");
  cost->add_option("--steps", cost_args.steps, "Time steps per window (without --data)");
  cost->add_option("--outputs", cost_args.outputs, "Classes or regression outputs (without --data)");
  cost->add_option("--quant", cost_args.quant, "int8 | float32")
      ->capture_default_str()
      ->check(CLI::IsMember({"int8", "float32"}));
  app.add_subcommand("targets", "List the microcontroller targets");

  SearchArgs sa;
  auto* srch = app.add_subcommand("search", "Hardware-aware multi-objective search (Pareto front)");
  add_search_options(srch, sa);

  SearchArgs ca;
  auto* study_cmd = app.add_subcommand("study", "Manage studies: rnnas study create");
  study_cmd->require_subcommand(1);
  auto* create = study_cmd->add_subcommand(
      "create", "Create a study (dataset, target, limits, strategy, budget) for rnnas worker processes to run");
  add_search_options(create, ca);

  SearchArgs wa;
  auto* wk = app.add_subcommand("worker", "Work on a shared study (PostgreSQL URL or study file) until its budget is spent");
  wk->add_option("--storage", wa.o.storage, "Study URL (postgresql://...) or file")->required();
  wk->add_option("--study", wa.o.study, "Study name (created by rnnas search or rnnas study create)")->required();
  wk->add_option("--jobs", wa.o.jobs, "Candidates trained side by side (0 = all cores)")->capture_default_str();
  wk->add_option("--name", wa.o.worker_name, "Worker name in the study (default host:pid)");
  wk->add_option("--report", wa.report, "Keep this HTML report up to date");
  wk->add_flag("--quiet", wa.quiet, "No progress line");
  add_worker_options(wk, wa);
  srch->add_option("--report", sa.report, "Keep this HTML report up to date as trials finish (rnnas report)");

  ReportArgs rp;
  auto* rep = app.add_subcommand("report", "Write a study's report: one self-contained HTML page");
  rep->add_option("storage", rp.o.storage, "Study file or URL")->required();
  rep->add_option("--study", rp.o.study, "Study name (default: the only study of the file, else 'default')");
  rep->add_option("--trial", rp.o.trial, "The trial shown in detail (default: the best feasible one)");
  rep->add_option("--compare", rp.compare, "Comma list of other studies of the file whose progress is drawn too");
  rep->add_flag("--no-eval", rp.no_eval, "Do not load the detailed trial's model and dataset (no confusion matrix)");
  rep->add_option("--title", rp.o.title, "Page title");
  rep->add_option("-o,--output", rp.out, "HTML file to write")->required();

  ExportArgs ex;
  auto* exp = app.add_subcommand("export", "Quantise a trained model to int8 and write C code for a microcontroller");
  add_model_source(exp, ex);
  exp->add_option("--format", ex.format, "Output format")->capture_default_str()->check(CLI::IsMember({"c"}));
  exp->add_option("-o,--out", ex.out, "Output directory")->required();
  exp->add_option("--prefix", ex.prefix, "File and symbol prefix")->capture_default_str();

  ExportArgs dp;
  auto* dep = app.add_subcommand("deploy", "Build the int8 model into firmware, run it on the target's emulated board, "
                                           "and measure it");
  add_model_source(dep, dp);
  dep->add_option("--target", dp.target, "Target (rnnas targets)")->capture_default_str();
  dep->add_option("--max-flash", dp.max_flash, "Flash budget, a linker region (default: the target's flash)");
  dep->add_option("--max-ram", dp.max_ram, "RAM budget, a linker region (default: the target's RAM)");
  dep->add_option("--limit", dp.limit, "Test sequences streamed to the board (0 = all)")->capture_default_str();
  dep->add_option("-o,--out", dp.out, "Work directory (firmware, map, logs)")->required();

  std::string cal_target = "nrf52840", cal_dir = "out/calibrate";
  rnnas::deploy::CalibrateOptions cal;
  bool cal_write = false;
  auto* calc = app.add_subcommand("calibrate", "Deploy sampled archs on the target's emulated board and fit its cost "
                                               "model (instructions, flash, RAM)");
  calc->add_option("--target", cal_target, "Target (rnnas targets)")->capture_default_str();
  calc->add_option("--archs", cal.archs, "Architectures deployed")->capture_default_str();
  calc->add_option("--seed", cal.seed, "Seed of the sampled architectures")->capture_default_str();
  calc->add_option("--space", cal.space, "Search space sampled (preset or JSON file)")->capture_default_str();
  calc->add_option("-o,--out", cal_dir, "Work directory")->capture_default_str();
  calc->add_flag("--write", cal_write, "Write targets/calibration/<target>.json (the cost model then uses it)");

  ShowArgs sh;
  auto* show = app.add_subcommand("show", "Print a study's trials and Pareto front; export CSV/JSON");
  show->add_option("storage", sh.storage, "Study file or URL")->required();
  show->add_option("--study", sh.study, "Study name")->capture_default_str();
  show->add_flag("--all", sh.all, "List every trial");
  show->add_option("--csv", sh.csv, "Write all trials as CSV");
  show->add_option("--json", sh.json, "Write the study as JSON");

  CLI11_PARSE(app, argc, argv);
  try {
    if (app.got_subcommand("train")) return run_train(train_args);
    if (app.got_subcommand("eval")) return run_eval(model_path, eval_data, eval_part);
    if (app.got_subcommand("cost")) return run_cost(cost_args);
    if (app.got_subcommand("targets")) return run_targets();
    if (app.got_subcommand("search")) return run_search(sa, *srch);
    if (app.got_subcommand("study")) {
      ca.o.create_only = true;
      return run_search(ca, *create);
    }
    if (app.got_subcommand("worker")) {
      wa.o.join = true;
      return run_search(wa, *wk);
    }
    if (app.got_subcommand("show")) return run_show(sh);
    if (app.got_subcommand("report")) return run_report(rp);
    if (app.got_subcommand("export")) return run_export(ex);
    if (app.got_subcommand("deploy")) return run_deploy(dp);
    if (app.got_subcommand("calibrate")) {
      const rnnas::hw::Target t = rnnas::hw::load_target(cal_target, false);
      cal.dir = cal_dir;
      const bool tty = isatty(fileno(stderr));
      cal.on_progress = [tty](int done, int total) {
        if (tty) fmt::print(stderr, "\rdeployed {}/{}", done, total);
      };
      const rnnas::deploy::CalibrateResult r = rnnas::deploy::calibrate(t, cal);
      if (tty) fmt::print(stderr, "\n");
      fmt::print("{:<60} {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}\n", "arch", "insns", "predicted", "flash",
                 "(data)", "ram", "(arena)", "task", "holdout");
      for (const auto& x : r.samples) {
        double pred = 0;
        for (size_t i = 0; i < x.features.insn.size(); ++i) pred += r.calibration.insn[i] * x.features.insn[i];
        fmt::print("{:<60} {:>12.0f} {:>12.0f} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}\n", x.arch.substr(0, 60),
                   x.instructions, pred, x.flash_bytes, x.features.model_data_bytes, x.ram_bytes, x.features.arena_bytes,
                   x.data.substr(0, x.data.find(':')), x.holdout ? "yes" : "");
      }
      fmt::print("{} archs deployed ({} sampled ones did not fit the board)\n{}\n", r.samples.size(), r.skipped,
                 r.bench_line());
      if (cal_write) {
        rnnas::hw::Calibration c = r.calibration;
        {
          const std::time_t now = std::time(nullptr);
          char buf[16];
          std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
          c.date = buf;
        }
        const std::string dir = rnnas::hw::targets_dir() + "/calibration";
        std::filesystem::create_directories(dir);
        rnnas::hw::save_calibration(c, dir + "/" + t.name + ".json");
        fmt::print("wrote {}/{}.json\n", dir, t.name);
      }
      return 0;
    }
    if (app.got_subcommand("data")) {
      if (data_spec.empty()) throw rnnas::Error("data: give a spec, as in 'rnnas data inspect adding:T=50'");
      const double t0 = rnnas::now_seconds();
      const rnnas::Dataset ds = rnnas::load_dataset(data_spec);
      if (data->got_subcommand("inspect"))
        fmt::print("{}loaded in {:.2f}s\n", rnnas::inspect(ds), rnnas::now_seconds() - t0);
      else
        fmt::print("{}", ds.summary());
      return 0;
    }
  } catch (const rnnas::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInputError;
  }
  return 0;
}

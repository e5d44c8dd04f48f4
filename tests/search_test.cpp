// Pareto utilities, ASHA, units, strategies, the search loop, and crash safety (kill -9, resume).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "rnnas/core.h"
#include "rnnas/quant.h"
#include "rnnas/search.h"
#include "test_util.h"

namespace rnnas::search {
namespace {
namespace fs = std::filesystem;
using test_util::error_of;

TEST(Pareto, FrontRanksCrowdingAndHypervolume) {
  const std::vector<std::vector<double>> p = {{1, 5}, {2, 2}, {5, 1}, {3, 3}, {2, 2}, {6, 6}};
  EXPECT_EQ(pareto_front(p), (std::vector<size_t>{0, 1, 2}));  // the duplicate (2, 2) counted once
  EXPECT_EQ(pareto_ranks(p), (std::vector<int>{0, 0, 0, 1, 0, 2}));
  const auto cd = crowding({{1, 5}, {2, 2}, {5, 1}});
  EXPECT_TRUE(std::isinf(cd[0]) && std::isinf(cd[2]));
  EXPECT_NEAR(cd[1], (5.0 - 1) / 4 + (5.0 - 1) / 4, 1e-12);
  // 2-D: staircase of (1,5), (2,2), (5,1) under reference (6, 6): 1*5... computed by slices.
  EXPECT_NEAR(hypervolume({{1, 5}, {2, 2}, {5, 1}}, {6, 6}), 5 * 1 + 4 * 3 + 1 * 1, 1e-12);
  // 3-D: one point is a box; two disjoint-ish boxes by inclusion-exclusion.
  EXPECT_NEAR(hypervolume({{1, 1, 1}}, {2, 3, 4}), 1 * 2 * 3, 1e-12);
  EXPECT_NEAR(hypervolume({{0, 1, 1}, {1, 0, 1}}, {2, 2, 2}), 2 + 2 - 1, 1e-12);
  EXPECT_EQ(hypervolume({{7, 7}}, {6, 6}), 0.0);
}

TEST(Units, BytesTimeAndEnergy) {
  EXPECT_EQ(parse_bytes("8KiB"), 8192);
  EXPECT_EQ(parse_bytes("32 KiB"), 32768);
  EXPECT_EQ(parse_bytes("1MiB"), 1048576);
  EXPECT_EQ(parse_bytes("4096"), 4096);
  EXPECT_EQ(parse_ms("20ms"), 20);
  EXPECT_EQ(parse_ms("1.5s"), 1500);
  EXPECT_EQ(parse_ms("30m"), 1800000);
  EXPECT_EQ(parse_ms("2h"), 7200000);
  EXPECT_EQ(parse_uj("2mJ"), 2000);
  EXPECT_EQ(error_of([] { parse_bytes("8 parsecs"); }),
            "size '8 parsecs': unknown unit 'parsecs' (expected (none), b, kib, kb, k, mib, mb, m)");
  EXPECT_EQ(error_of([] { parse_objective("accuracy"); }),
            "objective 'accuracy': expected val_error, flash_bytes, ram_bytes, latency_ms or energy_uj");
}

TEST(Asha, StopsOnlyWeakTrialsAtRungs) {
  Asha a;  // rungs at 2, 6, 18
  a.max_epochs = 30;
  std::vector<Trial> h(6);
  for (int i = 0; i < 6; ++i) {
    h[i].number = i;
    h[i].curve = {0.9, 0.1 * (i + 1), 0.05 * (i + 1)};  // error at epoch 2: 0.1 .. 0.6
  }
  EXPECT_FALSE(a.should_stop(1, 0.99, 100, h));   // not a rung
  EXPECT_FALSE(a.should_stop(2, 0.15, 100, h));   // 2nd best of 7 -> kept (best 7/3 = 2)
  EXPECT_TRUE(a.should_stop(2, 0.35, 100, h));    // 4th of 7 -> stopped
  EXPECT_FALSE(a.should_stop(2, 0.35, 100, {}));  // nobody to compare with yet
  a.max_epochs = 2;
  EXPECT_FALSE(a.should_stop(2, 0.35, 100, h));   // the last epoch is never a rung
}

// With a hardware objective the rung is ranked as NSGA-II ranks (Pareto rank, then crowding distance):
// the smallest model goes on although five larger ones are more accurate; a dominated one stops.
TEST(Asha, WithHardwareObjectivesKeepsTheRungsFront) {
  Asha a;  // rungs at 2, 6, 18
  a.max_epochs = 30;
  a.objectives = {Objective::val_error, Objective::flash_bytes};
  std::vector<Trial> h(6);
  for (int i = 0; i < 6; ++i) {
    h[i].number = i;
    h[i].curve = {0.9, 0.1 * (i + 1)};                                      // error at epoch 2: 0.1 .. 0.6
    h[i].costs["flash_bytes"] = 10000.0 - 1000.0 * static_cast<double>(i);  // the accurate ones are larger
  }
  // 7 at the rung, 2 go on. All 7 are on the rung's front; 3000 B is its extreme, behind only 0.1 (the
  // other extreme, more accurate).
  EXPECT_FALSE(a.should_stop(2, 0.55, 100, h, {{"flash_bytes", 3000.0}}));
  // Dominated by (0.2, 9000 B) and more: behind the whole front.
  EXPECT_TRUE(a.should_stop(2, 0.55, 100, h, {{"flash_bytes", 9500.0}}));
  // On the front but in its middle: behind both extremes.
  EXPECT_TRUE(a.should_stop(2, 0.35, 100, h, {{"flash_bytes", 7500.0}}));
  // One objective: 6th of 7 by validation error.
  a.objectives = {Objective::val_error};
  EXPECT_TRUE(a.should_stop(2, 0.55, 100, h, {{"flash_bytes", 3000.0}}));
}

TEST(Strategies, ProposeArchsInsideTheSpace) {
  SearchSpace s = SearchSpace::preset("tiny");
  s.input_features = 3;
  std::vector<Trial> history;
  Rng rng(1);
  for (int i = 0; i < 40; ++i) {
    Trial t;
    t.number = i;
    t.state = TrialState::complete;
    t.arch = s.sample(rng).to_string();
    t.metrics["val_error"] = rng.uniform();
    t.costs["flash_bytes"] = rng.uniform(1000, 9000);
    history.push_back(t);
  }
  for (const auto& name : strategy_names()) {
    auto st = make_strategy(name, {&s, {Objective::val_error, Objective::flash_bytes}});
    EXPECT_EQ(st->name(), name);
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(s.contains(st->ask(history, rng))) << name;
  }
  EXPECT_EQ(error_of([&] { make_strategy("annealing", {&s, {}}); }),
            "strategy 'annealing': expected random, evolution or nsga2");
}

std::string temp_db(const std::string& name) {
  const std::string p = (fs::path(rnnas::test_util::temp_dir()) / ("rnnas_search_" + name + ".db")).string();
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p + ext);
  fs::remove_all(p + ".models");
  return p;
}

SearchOptions small_search(const std::string& db) {
  SearchOptions o;
  o.data = "sine:classes=3,T=24,n=300";
  o.target = "samd21";
  o.space = "tiny";
  o.storage = db;
  o.study = "s";
  o.trials = 8;
  o.jobs = 1;
  o.train.epochs = 3;
  o.constraints.max_ram_bytes = 600;
  return o;
}

TEST(Search, RecordsTrialsRejectsInfeasibleAndRepeatsWithTheSameSeed) {
  const std::string a = temp_db("a"), b = temp_db("b");
  const SearchResult ra = run_search(small_search(a));
  const SearchResult rb = run_search(small_search(b));
  EXPECT_EQ(ra.progress.trained, 8);
  EXPECT_GT(ra.progress.rejected, 0);  // RAM <= 600 B rejects the wider candidates
  ASSERT_EQ(ra.trials.size(), rb.trials.size());
  for (size_t i = 0; i < ra.trials.size(); ++i) {
    EXPECT_EQ(ra.trials[i].arch, rb.trials[i].arch);
    EXPECT_EQ(ra.trials[i].curve, rb.trials[i].curve);
    EXPECT_EQ(ra.trials[i].state, rb.trials[i].state);
    if (ra.trials[i].reason.rfind("rejected", 0) == 0) {
      EXPECT_GT(ra.trials[i].costs.at("ram_bytes"), 600);
    } else if (ra.trials[i].state == TrialState::complete) {
      const Trial& t = ra.trials[i];
      EXPECT_LE(t.costs.at("ram_bytes"), 600);
      EXPECT_EQ(t.curve.size(), static_cast<size_t>(t.metrics.at("epochs")));
      // Ranked on the curve's best 3-epoch mean plus the int8 model's quantisation loss.
      const SmoothedError sm = smoothed_best(t.curve);
      EXPECT_EQ(t.metrics.at("smoothed_epoch"), sm.epoch);
      EXPECT_DOUBLE_EQ(t.metrics.at("val_error_float"), sm.error);
      const double best_float = t.curve[static_cast<size_t>(t.metrics.at("best_epoch")) - 1];
      EXPECT_NEAR(t.metrics.at("val_error") - sm.error, t.metrics.at("val_error_best_epoch") - best_float,
                  1e-12);
    }
  }
  ASSERT_FALSE(ra.pareto.empty());
  for (int64_t n : ra.pareto) EXPECT_TRUE(ra.trials[static_cast<size_t>(n)].metrics.count("test_error"));
  EXPECT_NE(pareto_table(ra.trials, ra.pareto, {Objective::val_error, Objective::flash_bytes}).find("val_error"),
            std::string::npos);
  // The study exists now: a second run without --resume is refused; with it the budget can grow.
  EXPECT_NE(error_of([&] { run_search(small_search(a)); }).find("exists already (add --resume"), std::string::npos);
  SearchOptions more = small_search(a);
  more.resume = true;
  more.trials = 10;
  EXPECT_EQ(run_search(more).progress.trained, 10);
}

// A strategy whose proposals are all tried already (the neighbourhoods of its parents are used up) does not
// end the search early: the loop samples the space at random after 500 such proposals, so a budget as large
// as the space is spent on every arch of it. Without it, aging evolution stops here at 34 of 40 (its
// population is the last 24 trials, and the neighbours of all of them were tried), and it had stopped the
// strategy benchmark at 259 of 300.
TEST(Search, StrategiesSpendTheBudgetWhenTheirNeighbourhoodsAreUsedUp) {
  const std::string space = (fs::path(rnnas::test_util::temp_dir()) / "rnnas_space_40.json").string();
  {
    std::ofstream f(space);
    f << R"({"strides": [1], "layers": [1, 1], "cells": ["gru"],
             "widths": [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                        26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41],
             "wranks": [0], "uranks": [0], "heads": ["last"], "dense": [0], "lr": [0.01],
             "weight_decay": [0], "batch": [32]})";
  }
  for (const char* strategy : {"evolution", "nsga2"}) {
    SCOPED_TRACE(strategy);
    SearchOptions o = small_search(temp_db(std::string("all40_") + strategy));
    o.space = space;
    o.strategy = strategy;
    o.trials = 40;  // the whole space
    o.train.epochs = 1;
    o.asha = false;
    o.evaluate_test = false;
    o.constraints = {};
    const SearchResult r = run_search(o);
    EXPECT_EQ(r.progress.trained, 40);
    std::set<std::string> archs;
    for (const auto& t : r.trials) archs.insert(t.arch);
    EXPECT_EQ(archs.size(), 40u);
  }
}

// --time bounds the whole search: trials still training at the deadline stop at their next epoch (pruned,
// "time budget"); with --refit the search stops earlier by the estimated refit time of its front.
TEST(Search, TheTimeBudgetStopsTrialsStillTraining) {
  SearchOptions o = small_search(temp_db("time"));
  o.trials = 100000;
  o.max_seconds = 2;
  o.train.epochs = 1000000;  // no trial ends by itself
  o.train.patience = 0;
  o.asha = false;
  o.jobs = 2;
  o.evaluate_test = false;
  const SearchResult r = run_search(o);
  EXPECT_FALSE(r.interrupted);
  EXPECT_GE(r.progress.trained, 2);
  for (const auto& t : r.trials) {
    if (is_rejected(t)) continue;
    EXPECT_EQ(t.state, TrialState::pruned) << t.arch;
    EXPECT_EQ(t.reason.rfind("time budget: stopped after epoch ", 0), 0u) << t.reason;
    EXPECT_GT(t.curve.size(), 0u);
    EXPECT_LT(t.curve.size(), 1000000u);
  }
}

// A noisy curve's one lucky epoch does not rank a trial: UCI HAR's nRF52840 16 KiB search ranked a trial
// first on epoch 1 (3.8% against 5.7-7.4% after it); its refit trained for 1 epoch and reached 89.4% on test.
TEST(Search, TrialsAreRankedOnTheirBestThreeEpochMean) {
  const SmoothedError lucky = smoothed_best({0.038, 0.065, 0.074, 0.066, 0.057, 0.062});
  EXPECT_NEAR(lucky.error, (0.038 + 0.065 + 0.074) / 3, 1e-15);
  EXPECT_EQ(lucky.epoch, 3);
  const SmoothedError steady = smoothed_best({0.058, 0.068, 0.050, 0.048, 0.046, 0.049, 0.046, 0.048});
  EXPECT_NEAR(steady.error, (0.046 + 0.049 + 0.046) / 3, 1e-15);
  EXPECT_EQ(steady.epoch, 7);
  EXPECT_LT(steady.error, lucky.error);
  const SmoothedError two = smoothed_best({0.2, 0.1});  // shorter than the window: its mean
  EXPECT_NEAR(two.error, 0.15, 1e-15);
  EXPECT_EQ(two.epoch, 2);
  EXPECT_EQ(smoothed_best({}).epoch, 0);
  EXPECT_EQ(smoothed_best({std::nan(""), std::numeric_limits<double>::infinity()}).epoch, 0);
  Trial t;
  t.metrics = {{"best_epoch", 1}, {"smoothed_epoch", 3}};
  EXPECT_EQ(refit_epochs(t), 3);  // the refit trains to the end of the best window
}

TEST(Search, RefitSecondsEstimateTheFrontsRefits) {
  auto trial = [](int64_t n, double err, double flash, double wall, double epochs, double best) {
    Trial t;
    t.number = n;
    t.state = TrialState::complete;
    t.metrics = {{"val_error", err}, {"epochs", epochs}, {"best_epoch", best}};
    t.costs = {{"flash_bytes", flash}};
    t.wall_seconds = wall;
    return t;
  };
  std::vector<Trial> all = {trial(0, 0.1, 1000, 10, 10, 4),     // front: 1 s an epoch, 4 epochs
                            trial(1, 0.2, 2000, 50, 5, 5),      // dominated by 0
                            trial(2, 0.05, 3000, 40, 20, 10)};  // front: 2 s an epoch, 10 epochs
  const std::vector<int64_t> front = study_pareto(all, {Objective::val_error, Objective::flash_bytes});
  EXPECT_EQ(std::set<int64_t>(front.begin(), front.end()), (std::set<int64_t>{0, 2}));
  EXPECT_DOUBLE_EQ(refit_seconds(all, front, 1.25, 1), (4 + 20) * 1.25);
  EXPECT_DOUBLE_EQ(refit_seconds(all, front, 1.25, 2), (4 + 20) * 1.25 / 2);
  all[2].metrics["refit_epochs"] = 10;  // refit already
  EXPECT_DOUBLE_EQ(refit_seconds(all, front, 1.0, 1), 4);
  EXPECT_EQ(refit_epochs(all[1]), 5);
}

// --cv-folds: a complete trial carries each fold's validation error and is ranked by their mean; the
// per-epoch curve (what ASHA reads) stays fold 0's.
TEST(Search, CrossValidationRanksByTheMeanOverFolds) {
  SearchOptions o = small_search(temp_db("cv"));
  o.cv_folds = 3;
  o.trials = 4;
  o.constraints.max_ram_bytes = 0;
  const SearchResult r = run_search(o);
  int complete = 0;
  for (const auto& t : r.trials) {
    if (t.state != TrialState::complete) continue;
    ++complete;
    ASSERT_TRUE(t.metrics.count("val_error_fold2")) << t.arch;
    const double mean = (t.metrics.at("val_error_fold0") + t.metrics.at("val_error_fold1") +
                         t.metrics.at("val_error_fold2")) /
                        3;
    EXPECT_NEAR(t.metrics.at("val_error"), mean, 1e-12);
    EXPECT_EQ(t.metrics.count("val_error_fold3"), 0u);
  }
  EXPECT_GT(complete, 0);
  o.storage = temp_db("cv2");
  o.cv_folds = 30;  // sine has 300 sequences: enough; but the range is 1-20
  EXPECT_NE(error_of([&] { run_search(o); }).find("--cv-folds 30 not in [1, 20]"), std::string::npos);
}

// --refit: the front's models are trained again on train + val for their best epoch count; the refit model
// takes the trial's model file (the search's is kept), and the test figures are the refit model's.
TEST(Search, RefitTrainsTheFrontOnTrainingAndValidationTogether) {
  SearchOptions o = small_search(temp_db("refit"));
  o.refit = true;
  o.trials = 4;
  o.constraints.max_ram_bytes = 0;
  const SearchResult r = run_search(o);
  SearchOptions p = o;
  p.refit = false;
  p.storage = temp_db("refit_none");
  const SearchResult plain = run_search(p);
  ASSERT_FALSE(r.pareto.empty());
  ASSERT_EQ(plain.pareto, r.pareto);
  const Dataset data = load_dataset(o.data);
  for (int64_t n : r.pareto) {
    const Trial& t = r.trials[static_cast<size_t>(n)];
    ASSERT_TRUE(t.metrics.count("refit_epochs")) << t.arch;
    EXPECT_EQ(t.metrics.at("refit_epochs"), std::max(1.0, t.metrics.at("smoothed_epoch")));
    const std::string path = trial_model_path(o.storage, o.study, n);
    const std::string kept = path.substr(0, path.size() - 5) + ".search.json";
    ASSERT_TRUE(fs::exists(kept)) << kept;
    const nn::Model refit = nn::Model::load(path), searched = nn::Model::load(kept);
    EXPECT_NE(refit.norm.mean, searched.norm.mean);  // normalised over train + val, not train alone
    EXPECT_NEAR(quant::quantize(refit, data.train).evaluate(data.test).error(), t.metrics.at("test_error"),
                1e-12);
    // Ranking is the search's: the same study without --refit has the same validation errors.
    EXPECT_EQ(t.metrics.at("val_error"), plain.trials[static_cast<size_t>(n)].metrics.at("val_error"));
    EXPECT_NE(t.metrics.at("test_error"), plain.trials[static_cast<size_t>(n)].metrics.at("test_error"));
  }
}

int integrity_ok(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 0;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  int ok = sqlite3_step(st) == SQLITE_ROW && std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "ok";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ok;
}

// Starts `rnnas <args>` as a child process (the shell execs rnnas, so the pid is rnnas itself).
pid_t spawn_rnnas(const std::string& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + std::string(RNNAS_BINARY) + " " + args + " > /dev/null 2>&1").c_str(),
          nullptr);
    _exit(127);
  }
  return pid;
}

// Polls the study until `ready(trials)` holds (up to 30 s); false on time-out.
bool wait_for(const std::string& db, const std::string& study, const std::function<bool(const std::vector<Trial>&)>& ready) {
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(db)) continue;
    try {
      auto s = open_sqlite(db);
      const auto st = s->find_study(study);
      if (st && ready(s->trials(st->id))) return true;
    } catch (const Error&) {
    }
  }
  return false;
}

// Kills a search process with SIGKILL while it trains, resumes it, and checks that nothing completed was
// lost or changed, the file is intact, the interrupted candidate was retried and the budget was met.
TEST(Search, SurvivesKillDashNineAndResumes) {
  const std::string db = temp_db("kill");
  const std::string args = fmt::format(
      "search --data 'adding:T=60,n=3000' --target nrf52840 --space tiny --trials 8 --jobs 1 --epochs 4 "
      "--no-asha --storage {} --study k --quiet",
      db);
  const pid_t pid = spawn_rnnas(args);
  ASSERT_GE(pid, 0);
  // Wait until two trials are complete and a third is running, then kill -9.
  std::vector<Trial> before;
  const bool killed = wait_for(db, "k", [](const std::vector<Trial>& trials) {
    int complete = 0, running = 0;
    for (const auto& t : trials) {
      complete += t.state == TrialState::complete;
      running += t.state == TrialState::running && !t.curve.empty();
    }
    return complete >= 2 && running >= 1;
  });
  if (killed) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(killed) << "the search never had two complete trials and one running";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(integrity_ok(db));
  {
    auto s = open_sqlite(db);
    before = s->trials(s->find_study("k")->id);
  }
  const int rc = std::system((std::string(RNNAS_BINARY) + " search --storage " + db + " --study k --resume --quiet > /dev/null 2>&1").c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0);
  ASSERT_TRUE(integrity_ok(db));
  auto s = open_sqlite(db);
  const auto after = s->trials(s->find_study("k")->id);
  int trained = 0;
  for (const auto& t : after)
    trained += (t.state == TrialState::complete || t.state == TrialState::pruned ||
                (t.state == TrialState::failed && t.reason.rfind("interrupted", 0) != 0)) &&
               t.reason.rfind("rejected", 0) != 0;
  EXPECT_EQ(trained, 8);
  int interrupted = 0;
  for (const auto& b : before) {
    const Trial& a = after[static_cast<size_t>(b.number)];
    if (b.state == TrialState::complete) {
      EXPECT_EQ(a.state, TrialState::complete);
      EXPECT_EQ(a.curve, b.curve);
      EXPECT_EQ(a.metrics.at("val_error"), b.metrics.at("val_error"));
    }
    if (b.state == TrialState::running) {
      ++interrupted;
      EXPECT_EQ(a.state, TrialState::failed);
      EXPECT_EQ(a.reason.rfind("interrupted", 0), 0u);
      // Its candidate was offered again and trained to completion.
      bool retried = false;
      for (const auto& t : after)
        retried = retried || (t.number > b.number && t.arch == b.arch && t.state == TrialState::complete);
      EXPECT_TRUE(retried) << b.arch;
    }
  }
  EXPECT_EQ(interrupted, 1);
}

// Ctrl-C (SIGINT) stops cleanly: exit code 0, the running trial re-queued, and `--resume` finishes the budget;
// `rnnas show` then prints the front and exports CSV and JSON.
TEST(Search, CtrlCStopsCleanlyAndShowExports) {
  const std::string db = temp_db("sigint");
  const std::string args = fmt::format(
      "search --data 'adding:T=60,n=3000' --target nrf52840 --space tiny --trials 5 --jobs 1 --epochs 4 --no-asha "
      "--storage {} --study c --quiet",
      db);
  const pid_t pid = spawn_rnnas(args);
  ASSERT_GE(pid, 0);
  // Interrupt during training (after epoch 1 or 2 of 4), not in the int8 evaluation that follows it.
  const bool sent = wait_for(db, "c", [](const std::vector<Trial>& trials) {
    return std::any_of(trials.begin(), trials.end(), [](const Trial& t) {
      return t.state == TrialState::running && !t.curve.empty() && t.curve.size() <= 2;
    });
  });
  if (sent) kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(sent);
  ASSERT_TRUE(WIFEXITED(status)) << "rnnas did not exit by itself after SIGINT";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  {
    auto s = open_sqlite(db);
    const auto trials = s->trials(s->find_study("c")->id);
    int running = 0, waiting = 0;
    for (const auto& t : trials) {
      running += t.state == TrialState::running;
      waiting += t.state == TrialState::waiting;
    }
    EXPECT_EQ(running, 0);
    EXPECT_EQ(waiting, 1);  // the interrupted candidate, offered again
  }
  const int rc = std::system((std::string(RNNAS_BINARY) + " search --storage " + db +
                              " --study c --resume --quiet > /dev/null 2>&1").c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0);
  const std::string csv = db + ".csv", json = db + ".json";
  const int rs = std::system(
      (std::string(RNNAS_BINARY) + " show " + db + " --study c --all --csv " + csv + " --json " + json + " > " + db +
       ".show.txt 2>&1")
          .c_str());
  ASSERT_EQ(WEXITSTATUS(rs), 0);
  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("trial,state,arch,seed,strategy,val_error,test_error,flash_bytes", 0), 0u);
  int rows = 0, complete = 0;
  while (std::getline(in, line)) {
    ++rows;
    complete += line.find(",complete,") != std::string::npos;
  }
  EXPECT_EQ(complete, 5);
  EXPECT_GE(rows, 6);
  std::ifstream js(json);
  const auto j = nlohmann::json::parse(js);
  EXPECT_EQ(j["study"], "c");
  EXPECT_FALSE(j["pareto"].empty());
  std::ifstream txt(db + ".show.txt");
  const std::string shown((std::istreambuf_iterator<char>(txt)), std::istreambuf_iterator<char>());
  EXPECT_NE(shown.find("Pareto front"), std::string::npos);
  EXPECT_NE(shown.find("interrupted: stopped by the user"), std::string::npos);
}

}  // namespace
}  // namespace rnnas::search

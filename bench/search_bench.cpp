// Strategies against random search: the same trial budget on the same task over several seeds; prints
// the hypervolume of each strategy's front of (val_error, flash_bytes) and its ratio to random search's:
//   BENCH search task=... strategy=nsga2 seed=1 trials=... hv=... hv_random=... ratio=...
// Hypervolume reference: val_error 1 (chance and worse), flash_bytes = the flash limit; both normalised.
// At the end, per strategy: BENCH search_summary ... seeds=3 wins=3 min_ratio=... mean_ratio=...
// The defaults are issue 5's benchmark (docs/search.md): the motion task at difficulty 0.7, the default
// space on the SAM D21 within 16 KiB of flash, 1,000 trained trials of 8 epochs, one job at a time (so the
// same seed gives the same study), seeds 1-3: about a minute per run, 8 minutes on one core. Seeds can be
// split across processes with --seeds 1 --first-seed N. A quick look: --trials 60 --space tiny.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <map>

#include "rnnas/core.h"
#include "rnnas/search.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnas search-strategy benchmark"};
  std::string data = "motion:difficulty=0.7,subjects=20,per_subject=60,T=64";
  std::string target = "samd21", space = "default", dir = "out/search-bench";
  std::vector<std::string> strategies = {"random", "evolution", "nsga2"};
  int trials = 1000, seeds = 3, first_seed = 1, epochs = 8, jobs = 1, asha_min_epochs = 2;
  bool no_asha = false;
  double max_flash = 16384;
  app.add_option("--data", data, "Task")->capture_default_str();
  app.add_option("--target", target, "Target")->capture_default_str();
  app.add_option("--space", space, "Search space")->capture_default_str();
  app.add_option("--trials", trials, "Trained candidates per run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "How many seeds")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--first-seed", first_seed, "The first seed (then first+1, ...)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--epochs", epochs, "Epochs per candidate")->capture_default_str();
  app.add_option("--jobs", jobs,
                 "Candidates trained side by side (above 1, timing changes what a strategy sees)")
      ->capture_default_str();
  app.add_option("--asha-min-epochs", asha_min_epochs, "First ASHA rung")->capture_default_str();
  app.add_flag("--no-asha", no_asha, "Train every candidate to the end");
  app.add_option("--max-flash", max_flash, "Flash limit in bytes (also the hypervolume reference)")
      ->capture_default_str();
  app.add_option("--strategies", strategies, "Strategies to run, each once (random search always runs first)")
      ->delimiter(',')
      ->check(CLI::IsMember(rnnas::search::strategy_names()));
  app.add_option("--dir", dir, "Where the study files go")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  try {
    std::filesystem::create_directories(dir);
    {  // random search first, then each other strategy once, in the order given
      std::vector<std::string> order = {"random"};
      for (const auto& s : strategies)
        if (std::find(order.begin(), order.end(), s) == order.end()) order.push_back(s);
      strategies = std::move(order);
    }
    const std::vector<search::Objective> objectives = {search::Objective::val_error,
                                                       search::Objective::flash_bytes};
    auto hv_of = [&](const search::SearchResult& r) {
      std::vector<std::vector<double>> pts;
      for (int64_t n : r.pareto) {
        const Trial& t = r.trials[static_cast<size_t>(n)];
        pts.push_back({search::objective_value(t, objectives[0]),
                       search::objective_value(t, objectives[1]) / max_flash});
      }
      return search::hypervolume(pts, {1.0, 1.0});
    };
    std::map<std::string, std::vector<double>> ratios;  // per strategy, one per seed
    for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
      double hv_random = 0;
      for (const std::string& strategy : strategies) {
        search::SearchOptions o;
        o.data = data;
        o.target = target;
        o.space = space;
        o.strategy = strategy;
        o.storage = fmt::format("{}/{}-{}.db", dir, strategy, seed);
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(o.storage + ext);
        std::filesystem::remove_all(o.storage + ".models");
        o.study = "bench";
        o.trials = trials;
        o.jobs = jobs;
        o.seed = static_cast<uint64_t>(seed);
        o.train.epochs = epochs;
        o.constraints.max_flash_bytes = max_flash;
        o.evaluate_test = false;
        o.asha = !no_asha;
        o.asha_min_epochs = asha_min_epochs;
        const double t0 = now_seconds();
        const search::SearchResult r = search::run_search(o);
        const double hv = hv_of(r);
        if (strategy == "random") hv_random = hv;
        const double ratio = hv_random > 0 ? hv / hv_random : 0.0;
        if (strategy != "random") ratios[strategy].push_back(ratio);
        fmt::print(
            "BENCH search task={} strategy={} seed={} trials={} rejected={} hv={:.4f} hv_random={:.4f} "
            "ratio={:.3f} pareto={} seconds={:.1f}\n",
            data, strategy, seed, r.progress.trained, r.progress.rejected, hv, hv_random, ratio,
            r.pareto.size(), now_seconds() - t0);
        std::fflush(stdout);
      }
    }
    // The goal, per strategy: a hypervolume above random search's on every seed (wins = seeds).
    for (const auto& [strategy, rs] : ratios) {
      double lo = rs.front(), sum = 0;
      int wins = 0;
      for (double x : rs) {
        lo = std::min(lo, x);
        sum += x;
        wins += x > 1.0;
      }
      fmt::print(
          "BENCH search_summary task={} strategy={} trials={} seeds={} wins={} min_ratio={:.3f} "
          "mean_ratio={:.3f}\n",
          data, strategy, trials, rs.size(), wins, lo, sum / static_cast<double>(rs.size()));
    }
  } catch (const std::exception& e) {  // rnnas::Error (a bad task or target), std::filesystem errors
    fmt::print(stderr, "search_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}

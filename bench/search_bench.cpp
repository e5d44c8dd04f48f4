// Strategies against random search: the same trial budget on the same task over several seeds; prints
// the hypervolume of each strategy's front of (val_error, flash_bytes) and its ratio to random search's:
//   BENCH search task=... strategy=nsga2 seed=1 trials=... hv=... hv_random=... ratio=...
// Hypervolume reference: val_error 1 (chance and worse), flash_bytes = the flash limit; both normalised.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "rnnas/core.h"
#include "rnnas/search.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnas search-strategy benchmark"};
  std::string data = "motion:difficulty=0.6,subjects=12,per_subject=40,T=64";
  std::string target = "samd21", space = "tiny", dir = "out/search-bench";
  int trials = 40, seeds = 3, epochs = 6, jobs = 2, asha_min_epochs = 2;
  bool no_asha = false;
  double max_flash = 16384;
  app.add_option("--data", data, "Task")->capture_default_str();
  app.add_option("--target", target, "Target")->capture_default_str();
  app.add_option("--space", space, "Search space")->capture_default_str();
  app.add_option("--trials", trials, "Trained candidates per run")->capture_default_str();
  app.add_option("--seeds", seeds, "Seeds 1..N")->capture_default_str();
  app.add_option("--epochs", epochs, "Epochs per candidate")->capture_default_str();
  app.add_option("--jobs", jobs, "Candidates trained side by side")->capture_default_str();
  app.add_option("--asha-min-epochs", asha_min_epochs, "First ASHA rung")->capture_default_str();
  app.add_flag("--no-asha", no_asha, "Train every candidate to the end");
  app.add_option("--max-flash", max_flash, "Flash limit in bytes (also the hypervolume reference)")->capture_default_str();
  app.add_option("--dir", dir, "Where the study files go")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  std::filesystem::create_directories(dir);
  const std::vector<search::Objective> objectives = {search::Objective::val_error, search::Objective::flash_bytes};
  auto hv_of = [&](const search::SearchResult& r) {
    std::vector<std::vector<double>> pts;
    for (int64_t n : r.pareto) {
      const Trial& t = r.trials[static_cast<size_t>(n)];
      pts.push_back({search::objective_value(t, objectives[0]), search::objective_value(t, objectives[1]) / max_flash});
    }
    return search::hypervolume(pts, {1.0, 1.0});
  };
  for (int seed = 1; seed <= seeds; ++seed) {
    double hv_random = 0;
    for (const std::string strategy : {"random", "evolution", "nsga2"}) {
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
      fmt::print("BENCH search task={} strategy={} seed={} trials={} rejected={} hv={:.4f} hv_random={:.4f} "
                 "ratio={:.3f} pareto={} seconds={:.1f}\n",
                 data, strategy, seed, r.progress.trained, r.progress.rejected, hv, hv_random,
                 hv_random > 0 ? hv / hv_random : 0.0, r.pareto.size(), now_seconds() - t0);
      std::fflush(stdout);
    }
  }
  return 0;
}

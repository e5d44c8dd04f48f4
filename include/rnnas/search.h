// rnnas/search.h — hardware-aware multi-objective search over a SearchSpace, stored in a Study.
//
//   rnnas::search::SearchOptions o;
//   o.data = "uci-har:../shared/data/hapt"; o.target = "nrf52840"; o.storage = "har.db";
//   o.constraints.max_ram = 8192; o.trials = 100; o.strategy = "nsga2";
//   rnnas::search::SearchResult r = rnnas::search::run_search(o);   // r.pareto: the front's trial numbers
//
// Everything a search decides flows from SearchOptions::seed. With --jobs 1 the same seed gives the same
// study; with more jobs the order in which trials finish (and so what the strategies see) depends on
// timing, while every trial's own training stays deterministic.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/space.h"
#include "rnnas/study.h"

namespace rnnas::search {

// ---- Objectives (all minimised) and constraints ----
enum class Objective { val_error, flash_bytes, ram_bytes, latency_ms, energy_uj };
std::string_view to_string(Objective o);
Objective parse_objective(std::string_view s);
// The objective's value of a complete trial (metrics["val_error"] or costs[name]).
double objective_value(const Trial& t, Objective o);

struct Constraints {
  double max_flash_bytes = 0, max_ram_bytes = 0, max_latency_ms = 0, max_energy_uj = 0;  // 0 = no limit
};
// "8KiB", "32 KiB", "1MiB", "4096", "4kB" -> bytes; "20ms", "1.5 s", "500us" -> ms; "50uJ", "2mJ" -> uJ.
double parse_bytes(std::string_view s);
double parse_ms(std::string_view s);
double parse_uj(std::string_view s);
// Empty when the cost fits the target and the limits, else why not ("ram_bytes 9216 > 8192").
std::string violation(const hw::Cost& c, const hw::Target& t, const Constraints& k);

// ---- Pareto utilities (minimisation) ----
// Indices of the points no other point dominates.
std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& points);
// Non-dominated sorting: rank 0 is the front, rank 1 the front of the rest, ...
std::vector<int> pareto_ranks(const std::vector<std::vector<double>>& points);
// NSGA-II crowding distance of points of one rank (infinite at the extremes).
std::vector<double> crowding(const std::vector<std::vector<double>>& points);
// Exact hypervolume dominated by the points and bounded by `reference` (points beyond it ignored).
double hypervolume(std::vector<std::vector<double>> points, const std::vector<double>& reference);

// ---- Strategies ----
struct StrategyContext {
  const SearchSpace* space = nullptr;
  std::vector<Objective> objectives;
};
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // The next arch to try, given every trial so far (complete ones carry metrics and costs).
  virtual Arch ask(const std::vector<Trial>& history, Rng& rng) = 0;
};
// "random", "evolution" (aging / regularised evolution, Real et al. 2019, with Pareto-rank tournaments),
// "nsga2" (Deb et al. 2002: non-dominated sorting, crowding, tournament, crossover + mutation).
std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyContext& ctx);
std::vector<std::string> strategy_names();

// ---- Multi-fidelity: asynchronous successive halving (ASHA, Li et al. 2020) ----
// Rungs at epochs min_epochs * eta^k. A trial reaching a rung goes on only if it is in the best 1/eta of
// the trials that reached that rung (judged once eta trials have). With one objective (val_error) "best"
// is the lowest validation error. With hardware objectives as well (`objectives`, e.g. val_error and
// flash_bytes) it is multi-objective ASHA (Schmucker et al. 2021): the rung's points (validation error at
// the rung, costs) are ordered as NSGA-II orders a population (Pareto rank, then crowding distance, then
// validation error), so a small model at the rung front's extreme goes on even when larger ones are more
// accurate.
struct Asha {
  int min_epochs = 2;
  double eta = 3;
  int max_epochs = 0;  // > 0: no rung at or beyond the last epoch (nothing left to save there)
  std::vector<Objective> objectives;  // empty or val_error alone: single-objective
  bool is_rung(int epoch) const;
  // costs: the trial's own cost-model figures (flash_bytes, ...), for the hardware objectives.
  bool should_stop(int epoch, double val_error, int64_t trial, const std::vector<Trial>& history,
                   const std::map<std::string, double>& costs = {}) const;
};

// ---- The search loop ----
struct Progress {
  int trained = 0, complete = 0, pruned = 0, failed = 0, rejected = 0, running = 0;
  double best_val_error = -1;  // best complete feasible trial, -1 before the first
  int pareto_size = 0;
  double elapsed_s = 0, remaining_s = -1;  // -1: unknown
  std::string line() const;
};

struct SearchOptions {
  std::string data;                   // dataset spec
  std::string target = "nrf52840";
  std::string space = "default";      // preset or JSON file
  std::string strategy = "nsga2";
  std::string storage = "study.db";   // file or URL
  std::string study = "default";
  std::vector<Objective> objectives = {Objective::val_error, Objective::flash_bytes};
  Constraints constraints;
  hw::Quant quant = hw::Quant::int8;
  // With int8 costs: rank complete trials by the int8 model's validation metrics (post-training
  // quantisation, evaluated by the C runtime the device runs); the float figures are kept as
  // val_error_float. ASHA still reads the float per-epoch curve.
  bool quantize = true;
  int trials = 30;          // trained candidates (rejected ones do not count)
  double max_seconds = 0;   // wall-time budget (0 = none)
  int jobs = 0;             // candidates trained side by side (0 = all cores)
  uint64_t seed = 1;
  bool asha = true;
  int asha_min_epochs = 2;  // first rung
  double asha_eta = 3;      // rung spacing and keep fraction 1/eta
  // Rank on K-fold cross-validation (K >= 2; 1 = off): a candidate that completes its training on the
  // dataset's own split (fold 0, the one ASHA watches and the model kept) is trained again on folds
  // 1..K-1 (cv_fold: the training part cut into K-1 more validation parts, by group when it has groups);
  // its val_error is the mean over the K folds (val_error_fold<k> keeps each).
  int cv_folds = 1;
  // At the end, train each Pareto model's arch again on the training and validation parts together, for
  // the epochs at which its validation error was best (at least 1; patience off; the trial's seed), as
  // a refit after model selection. The refit model replaces <models>/trial-N.json (the one the search
  // trained stays as trial-N.search.json); test, deploy and --measure pareto use it; the trial records
  // refit_epochs. The ranking (validation) is the search's.
  bool refit = false;
  bool resume = false;
  // Join an existing study as one of its workers (rnnas worker): settings and budget come from the
  // study; other processes may be running trials of it (no trial of theirs is failed unless its heartbeat
  // is older than stale_after_s); the worker stays until the budget is spent and no other trial runs.
  bool join = false;
  bool create_only = false;    // create the study (settings, budget) and return: workers will run it
  double heartbeat_s = 10;     // running trials of this process are touched this often
  double stale_after_s = 120;  // a running trial not touched for this long belongs to a dead worker
  std::string worker_name;     // default: host:pid (each job adds ":N")
  bool evaluate_test = true;  // evaluate the Pareto models once on the test split at the end
  // Deploy and measure on the target's emulated board (docs/deploy.md): "none", "pareto" (the front, at
  // the end) or "feasible" (every complete trial, as it completes). Measured figures are stored with the
  // trial as measured_* next to the cost model's estimates; the test split (or validation) is streamed.
  std::string measure = "none";
  size_t measure_limit = 200;  // sequences streamed per deployment
  nn::TrainOptions train;     // epochs, patience, ... (an arch's own lr/wd/batch override)
  std::atomic<bool>* stop = nullptr;                 // set to stop cleanly (Ctrl-C)
  std::function<void(const Progress&)> on_progress;  // after every trial event
};

struct SearchResult {
  int64_t study = -1;
  std::vector<Trial> trials;
  std::vector<int64_t> pareto;  // trial numbers on the front of the objectives (complete, feasible)
  Progress progress;
  bool interrupted = false;
  // This process: trials it trained to their end, and the time it spent in storage calls.
  int trained_here = 0;
  double storage_seconds = 0;
  long storage_calls = 0;
};

SearchResult run_search(const SearchOptions& o);
// Where a search saves the float model of a complete trial: <study file>.models/<study>/trial-N.json, or
// for a database URL ./rnnas-models/<host_db_params>/<study>/trial-N.json; $RNNAS_MODELS_DIR/<study>/ when set.
std::string trial_model_path(const std::string& storage_location, const std::string& study, int64_t trial);
// A trial's figure for tables: metrics[key] or costs[key] to 4 significant digits, "-" when absent.
std::string figure(const std::map<std::string, double>& m, const char* key);
// The front as a table: trial, arch, objectives, val and test metrics, costs.
std::string pareto_table(const std::vector<Trial>& trials, const std::vector<int64_t>& pareto,
                         const std::vector<Objective>& objectives);
// A trial the cost model rejected before training (pruned, never trained; it does not count).
bool is_rejected(const Trial& t);
// The complete trial of lowest val_error (the first of equals), or -1 when none is complete. Complete
// trials passed the cost model's limits before training.
int64_t best_trial(const std::vector<Trial>& trials);
// Pareto front of the complete trials of a stored study by its objectives.
std::vector<int64_t> study_pareto(const std::vector<Trial>& trials, const std::vector<Objective>& objectives);
// The lowest mean validation error over `window` consecutive epochs of a learning curve (the mean of the
// whole curve when it is shorter), and the last epoch of that window (1-based; 0 when no window has a
// finite mean, e.g. an empty curve).
// A trial is ranked on it rather than on its single best epoch: one lucky epoch of a noisy curve (a small
// validation split) no longer ranks a trial first, nor makes its refit train for that one epoch.
struct SmoothedError {
  double error = 0;
  int epoch = 0;
};
SmoothedError smoothed_best(const std::vector<double>& curve, int window = 3);
// Epochs a refit (--refit) trains the trial's arch for: the last epoch of its best smoothed window
// (smoothed_epoch), else its best_epoch; at least 1.
int refit_epochs(const Trial& t);
// Estimated wall seconds to refit the front (`front`: trial numbers, study_pareto) `jobs` at a time: per
// front trial not refit yet, its seconds per epoch times refit_epochs, times `growth` ((train + val) / train
// sequences). A search with a wall-time budget and --refit stops training this long before its deadline.
double refit_seconds(const std::vector<Trial>& trials, const std::vector<int64_t>& front, double growth,
                     int jobs);

}  // namespace rnnas::search

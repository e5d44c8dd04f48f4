// rnnas/study.h — studies, trials and their storage (SQLite by default; one conformance suite for all).
//
//   auto store = rnnas::open_storage("study.db");            // or "sqlite:study.db"
//   const int64_t sid = store->create_study("har", settings); // or store->find_study("har")
//   rnnas::Trial t; t.arch = "gru:16|head=last"; t.seed = 7;
//   const int64_t n = store->add_trial(sid, t, rnnas::TrialState::running);
//   store->report(sid, n, epoch, val_error);                   // per-epoch validation curve
//   store->finish(sid, n, rnnas::TrialState::complete, metrics, costs, "");
//
// Storage contract (every backend; tests/study_test.cpp checks it for each, PostgreSQL included):
//  1. Durability: when a call returns, its effect survives a crash of the process (kill -9) at any later
//     moment. A crash during a call leaves the store as if the call never happened.
//  2. Atomicity: each call is one transaction. claim_waiting() hands a waiting trial to exactly one caller,
//     even with several processes on one store.
//  3. Numbering: trial numbers are 0, 1, 2, ... per study, in the order add_trial() was called.
//  4. Finished trials (complete, pruned, failed) never change state again; report() and finish() on them
//     throw rnnas::Error. set_attr() may add named figures (e.g. test metrics) to any trial.
//  5. Errors: a missing, corrupt or foreign file, an unknown study or trial, and a newer schema version
//     throw rnnas::Error with a message that names the file (or URL) and what is wrong.
//  6. Threads: one Storage object may be used from several threads; calls are serialised.
//  7. Budget: a trial counts against its study's trial budget while running and once finished, unless
//     it was added with counted = false (rejections) or released (release(), fail_stale()). add_trial()
//     with Admission::budget and claim_waiting() with a budget admit a counted trial only while fewer
//     than `budget` counted trials are running or finished, atomically: many workers never overrun it.
//  8. Release: a running trial whose process stopped or died becomes failed, stops counting, and its
//     candidate (arch, seed, strategy) is offered again as a new waiting trial, in one transaction: a
//     candidate is never lost between the two.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rnnas {

enum class TrialState { waiting, running, complete, pruned, failed };
std::string_view to_string(TrialState s);
TrialState parse_trial_state(std::string_view s);
inline bool finished(TrialState s) { return s != TrialState::waiting && s != TrialState::running; }

struct Trial {
  int64_t number = -1;          // 0, 1, ... within the study
  TrialState state = TrialState::waiting;
  std::string arch;             // canonical Arch string
  uint64_t seed = 0;
  std::string strategy;         // which strategy proposed it
  std::vector<double> curve;    // validation error after each epoch
  std::map<std::string, double> metrics;  // val_error, val_accuracy / val_rmse, epochs, ... and set_attr()
  std::map<std::string, double> costs;    // flash_bytes, ram_bytes, latency_ms, energy_uj, macs, ...
  std::string reason;           // why it was pruned or failed (or rejected by the cost model)
  double wall_seconds = 0;      // training time
  double created = 0, updated = 0;  // Unix seconds
  std::string worker;           // who ran it
  bool counted = true;          // counts against the study's trial budget (contract 7)
};

// Conditions for admitting a new trial (add_trial); refusals return kBudgetSpent or kArchTaken.
struct Admission {
  int64_t budget = -1;       // >= 0: a counted trial is admitted only while fewer counted trials exist
  bool unique_arch = false;  // admitted only if no waiting, running, complete or pruned trial has this arch
};
constexpr int64_t kBudgetSpent = -1;
constexpr int64_t kArchTaken = -2;

struct StudyInfo {
  int64_t id = -1;
  std::string name;
  nlohmann::json settings;  // dataset, target, constraints, objectives, strategy, budget, seed
  double created = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  // Where the data lives ("study.db", or a URL with the password removed).
  virtual std::string location() const = 0;

  // Creates a study; throws if the name is taken.
  virtual int64_t create_study(const std::string& name, const nlohmann::json& settings) = 0;
  // The study of that name, or nullopt.
  virtual std::optional<StudyInfo> find_study(const std::string& name) = 0;
  virtual std::vector<StudyInfo> list_studies() = 0;

  // Adds a trial in state waiting or running (t.worker, t.counted as given); returns its number, or
  // kBudgetSpent / kArchTaken when `admit` refuses it.
  virtual int64_t add_trial(int64_t study, const Trial& t, TrialState state, const Admission& admit = {}) = 0;
  // Atomically moves the oldest waiting trial to running for `worker`; nullopt when none waits or when
  // `budget` >= 0 counted trials are running or finished already.
  virtual std::optional<Trial> claim_waiting(int64_t study, const std::string& worker, int64_t budget = -1) = 0;
  // Counted trials that are running or finished (what a budget is compared with).
  virtual int64_t budget_used(int64_t study) = 0;
  // Appends the validation error of `epoch` (1-based, in order) to a running trial's curve.
  virtual void report(int64_t study, int64_t trial, int epoch, double val_error) = 0;
  // Moves a running (or waiting) trial to a finished state with its results.
  virtual void finish(int64_t study, int64_t trial, TrialState state, const std::map<std::string, double>& metrics,
                      const std::map<std::string, double>& costs, const std::string& reason,
                      double wall_seconds) = 0;
  // Adds or replaces a named figure in a trial's metrics (any state).
  virtual void set_attr(int64_t study, int64_t trial, const std::string& key, double value) = 0;
  // Releases a running trial (contract 8): failed with `reason`, no longer counted, and its candidate
  // added as a new waiting trial, whose number is returned.
  virtual int64_t release(int64_t study, int64_t trial, const std::string& reason) = 0;
  // Releases every running trial whose last update (report, touch) is older than `seconds` (all of them
  // when seconds <= 0); returns them as they were. The age is judged by the store's own clock.
  virtual std::vector<Trial> fail_stale(int64_t study, double seconds, const std::string& reason) = 0;
  // Heartbeat: marks a running trial as alive now.
  virtual void touch(int64_t study, int64_t trial) = 0;

  virtual Trial get_trial(int64_t study, int64_t trial) = 0;
  virtual std::vector<Trial> trials(int64_t study) = 0;  // ordered by number
};

// "study.db", "sqlite:study.db" or "sqlite:///abs/path.db" -> SQLite (created if missing);
// "postgresql://[user[:password]@]host[:port]/db[?param=value...]" (or "postgres://") -> PostgreSQL. Missing
// parts come from the PG* environment variables and ~/.pgpass, as for psql. Passwords are never printed:
// location() and every error message carry the URL without them.
std::unique_ptr<Storage> open_storage(const std::string& url);
std::unique_ptr<Storage> open_sqlite(const std::string& path);
std::unique_ptr<Storage> open_postgres(const std::string& url);
// The URL with any password removed (userinfo and the password= parameter).
std::string redact_url(const std::string& url);
bool is_url(const std::string& storage);  // "scheme://..." (not a file path)

}  // namespace rnnas

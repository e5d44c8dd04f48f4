// What the storage backends share: the contract's checks (with the messages the conformance suite
// expects) and the JSON text of a trial's curve, metrics and costs. Internal to src/study/.
#pragma once

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rnnas/core.h"
#include "rnnas/study.h"

namespace rnnas::study_common {

inline std::string to_json_text(const std::map<std::string, double>& m) { return nlohmann::json(m).dump(); }
inline std::string to_json_text(const std::vector<double>& v) { return nlohmann::json(v).dump(); }

// Fills t.curve, t.metrics and t.costs from their stored JSON text.
inline void parse_json_fields(const std::string& where, Trial& t, const std::string& curve, const std::string& metrics,
                              const std::string& costs) {
  try {
    t.curve = nlohmann::json::parse(curve).get<std::vector<double>>();
    t.metrics = nlohmann::json::parse(metrics).get<std::map<std::string, double>>();
    t.costs = nlohmann::json::parse(costs).get<std::map<std::string, double>>();
  } catch (const nlohmann::json::exception&) {
    throw Error(fmt::format("{}: trial {} has damaged data", where, t.number));
  }
}

inline void check_new_state(const std::string& where, TrialState state) {
  if (finished(state)) throw Error(fmt::format("{}: a new trial must be waiting or running", where));
}

// report(): the trial runs and `epoch` is the next one.
inline void check_report(const std::string& where, const Trial& t, int epoch) {
  if (t.state != TrialState::running)
    throw Error(fmt::format("{}: trial {} is {}, not running: cannot report epoch {}", where, t.number,
                            to_string(t.state), epoch));
  if (epoch != static_cast<int>(t.curve.size()) + 1)
    throw Error(fmt::format("{}: trial {} reports epoch {} after {} epochs", where, t.number, epoch, t.curve.size()));
}

// finish(): to a finished state, from an unfinished one.
inline void check_finish(const std::string& where, const Trial& t, TrialState state) {
  if (!finished(state)) throw Error(fmt::format("{}: finish() needs complete, pruned or failed", where));
  if (finished(t.state)) throw Error(fmt::format("{}: trial {} is already {}", where, t.number, to_string(t.state)));
}

// release(): only a running trial.
inline void check_release(const std::string& where, const Trial& t) {
  if (t.state != TrialState::running)
    throw Error(fmt::format("{}: trial {} is {}, not running: cannot release it", where, t.number, to_string(t.state)));
}

// The waiting copy a release adds: the candidate (arch, seed, strategy) and nothing of its run.
inline Trial candidate_of(const Trial& t) {
  Trial again;
  again.arch = t.arch;
  again.seed = t.seed;
  again.strategy = t.strategy;
  return again;
}

}  // namespace rnnas::study_common

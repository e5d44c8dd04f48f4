// Search strategies (random, aging evolution, NSGA-II) and the ASHA early-stopping rule.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "rnnas/core.h"
#include "rnnas/search.h"

namespace rnnas::search {
namespace {

struct Scored {
  const Trial* trial;
  std::vector<double> point;
};

std::vector<Scored> complete_points(const std::vector<Trial>& history, const std::vector<Objective>& objectives) {
  std::vector<Scored> out;
  for (const auto& t : history) {
    if (t.state != TrialState::complete) continue;
    Scored s{&t, {}};
    for (Objective o : objectives) s.point.push_back(objective_value(t, o));
    if (std::all_of(s.point.begin(), s.point.end(), [](double v) { return std::isfinite(v); })) out.push_back(s);
  }
  return out;
}

class RandomSearch final : public Strategy {
 public:
  explicit RandomSearch(StrategyContext c) : c_(std::move(c)) {}
  std::string name() const override { return "random"; }
  Arch ask(const std::vector<Trial>&, Rng& rng) override { return c_.space->sample(rng); }

 private:
  StrategyContext c_;
};

// Regularised (aging) evolution: the population is the most recent `population` complete trials; a
// tournament of `sample` members picks the parent by Pareto rank within the tournament, then validation
// error; the child is one mutation of it. Constraints are enforced before training (infeasible children
// are rejected by the search loop and never enter the population).
class AgingEvolution final : public Strategy {
 public:
  explicit AgingEvolution(StrategyContext c) : c_(std::move(c)) {}
  std::string name() const override { return "evolution"; }
  Arch ask(const std::vector<Trial>& history, Rng& rng) override {
    auto pts = complete_points(history, c_.objectives);
    if (static_cast<int>(pts.size()) < kInit) return c_.space->sample(rng);
    std::sort(pts.begin(), pts.end(), [](const Scored& a, const Scored& b) { return a.trial->number < b.trial->number; });
    if (static_cast<int>(pts.size()) > kPopulation) pts.erase(pts.begin(), pts.end() - kPopulation);
    std::vector<Scored> tour;
    for (int k = 0; k < kSample; ++k) tour.push_back(pts[rng.below(pts.size())]);
    std::vector<std::vector<double>> p;
    for (const auto& s : tour) p.push_back(s.point);
    const auto rank = pareto_ranks(p);
    size_t best = 0;
    for (size_t i = 1; i < tour.size(); ++i)
      if (rank[i] < rank[best] || (rank[i] == rank[best] && tour[i].point[0] < tour[best].point[0])) best = i;
    return c_.space->mutate(Arch::parse(tour[best].trial->arch), rng);
  }

 private:
  static constexpr int kInit = 10, kPopulation = 24, kSample = 5;
  StrategyContext c_;
};

// NSGA-II: parents are the best `population` complete trials by (Pareto rank, crowding distance); two
// binary tournaments pick two parents; the child is their crossover, mutated once.
class Nsga2 final : public Strategy {
 public:
  explicit Nsga2(StrategyContext c) : c_(std::move(c)) {}
  std::string name() const override { return "nsga2"; }
  Arch ask(const std::vector<Trial>& history, Rng& rng) override {
    const auto pts = complete_points(history, c_.objectives);
    if (static_cast<int>(pts.size()) < kInit) return c_.space->sample(rng);
    std::vector<std::vector<double>> p;
    for (const auto& s : pts) p.push_back(s.point);
    const auto rank = pareto_ranks(p);
    std::vector<double> crowd(pts.size(), 0.0);
    for (int r = 0;; ++r) {
      std::vector<size_t> idx;
      for (size_t i = 0; i < pts.size(); ++i)
        if (rank[i] == r) idx.push_back(i);
      if (idx.empty()) break;
      std::vector<std::vector<double>> sub;
      for (size_t i : idx) sub.push_back(p[i]);
      const auto cd = crowding(sub);
      for (size_t k = 0; k < idx.size(); ++k) crowd[idx[k]] = cd[k];
    }
    std::vector<size_t> order(pts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto better = [&](size_t a, size_t b) { return rank[a] < rank[b] || (rank[a] == rank[b] && crowd[a] > crowd[b]); };
    std::stable_sort(order.begin(), order.end(), better);
    if (order.size() > kPopulation) order.resize(kPopulation);
    auto tournament = [&] {
      const size_t a = order[rng.below(order.size())], b = order[rng.below(order.size())];
      return better(b, a) ? b : a;
    };
    const Arch pa = Arch::parse(pts[tournament()].trial->arch), pb = Arch::parse(pts[tournament()].trial->arch);
    return c_.space->mutate(c_.space->crossover(pa, pb, rng), rng);
  }

 private:
  static constexpr int kInit = 10;
  static constexpr size_t kPopulation = 24;
  StrategyContext c_;
};

}  // namespace

std::vector<std::string> strategy_names() { return {"random", "evolution", "nsga2"}; }

std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyContext& ctx) {
  if (!ctx.space) throw Error("strategy: no search space");
  if (name == "random") return std::make_unique<RandomSearch>(ctx);
  if (name == "evolution") return std::make_unique<AgingEvolution>(ctx);
  if (name == "nsga2") return std::make_unique<Nsga2>(ctx);
  throw Error(fmt::format("strategy '{}': expected random, evolution or nsga2", name));
}

bool Asha::is_rung(int epoch) const {
  if (max_epochs > 0 && epoch >= max_epochs) return false;
  double rung = min_epochs;
  while (rung < epoch - 1e-9) rung *= eta;
  return std::abs(rung - epoch) <= 1e-9;
}

bool Asha::should_stop(int epoch, double val_error, int64_t trial, const std::vector<Trial>& history,
                       const std::map<std::string, double>& costs) const {
  if (!is_rung(epoch)) return false;
  // The other objectives: costs known before training (val_error is the rung's own figure).
  std::vector<Objective> others;
  for (Objective o : objectives)
    if (o != Objective::val_error) others.push_back(o);
  std::vector<std::vector<double>> at_rung;
  for (const auto& t : history) {
    if (t.number == trial || static_cast<int>(t.curve.size()) < epoch) continue;
    std::vector<double> p = {t.curve[epoch - 1]};
    for (Objective o : others) p.push_back(objective_value(t, o));
    at_rung.push_back(std::move(p));
  }
  Trial self;  // this trial's own point: its validation error now, its costs
  self.costs = costs;
  std::vector<double> mine = {val_error};
  for (Objective o : others) mine.push_back(objective_value(self, o));
  at_rung.push_back(std::move(mine));
  if (static_cast<double>(at_rung.size()) < eta) return false;
  const auto keep = static_cast<size_t>(std::max(1.0, std::floor(static_cast<double>(at_rung.size()) / eta)));
  const size_t me = at_rung.size() - 1;
  size_t ahead = 0;      // points strictly better than this trial
  if (others.empty()) {  // one objective: the validation error
    for (size_t i = 0; i < me; ++i) ahead += at_rung[i][0] < at_rung[me][0];
    return ahead >= keep;
  }
  // NSGA-II's order (Pareto rank, then crowding distance: the rank's extremes first), then validation error.
  const std::vector<int> rank = pareto_ranks(at_rung);
  std::vector<size_t> same;
  std::vector<std::vector<double>> sub;
  for (size_t i = 0; i <= me; ++i)
    if (rank[i] == rank[me]) {
      same.push_back(i);
      sub.push_back(at_rung[i]);
    }
  const std::vector<double> cd = crowding(sub);
  const double my_cd = cd.back();  // me is the last of my rank
  for (size_t i = 0; i < me; ++i) ahead += rank[i] < rank[me];
  for (size_t k = 0; k + 1 < same.size(); ++k)
    ahead += cd[k] > my_cd || (cd[k] == my_cd && at_rung[same[k]][0] < at_rung[me][0]);
  return ahead >= keep;
}

}  // namespace rnnas::search

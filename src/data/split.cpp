// Seeded, leak-free train/validation/test splits.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace {

constexpr const char* kPartNames[3] = {"train", "val", "test"};

// "unit2" < "unit10": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      const std::string_view x = std::string_view(a).substr(i, i2 - i), y = std::string_view(b).substr(j, j2 - j);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i2, j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// Within each stratum (or all items as one stratum): shuffle, the first round(n * test) to test, the next
// round(n * val) to val.
std::vector<int> assign_items(size_t n, const std::vector<int>& strata, double val, double test, Rng& rng) {
  std::map<int, std::vector<size_t>> by_stratum;
  for (size_t i = 0; i < n; ++i) by_stratum[strata.empty() ? 0 : strata[i]].push_back(i);
  std::vector<int> parts(n, 0);
  for (auto& [stratum, items] : by_stratum) {
    rng.shuffle(items);
    const auto m = static_cast<double>(items.size());
    const auto n_test = static_cast<size_t>(std::round(m * test));
    const auto n_val = static_cast<size_t>(std::round(m * val));
    for (size_t k = 0; k < items.size(); ++k) parts[items[k]] = k < n_test ? 2 : (k < n_test + n_val ? 1 : 0);
  }
  return parts;
}

}  // namespace

namespace detail {
void check_fractions(double val, double test, std::string_view what) {
  if (!(val >= 0) || !(test >= 0) || !(val + test < 1.0))
    throw Error(fmt::format("{}: split fractions val={} test={} must be >= 0 and sum below 1", what, val, test));
}
}  // namespace detail

std::vector<int> assign_parts(size_t n, const std::vector<int>& strata, const std::vector<std::string>& groups,
                              double val, double test, uint64_t seed) {
  detail::check_fractions(val, test, "split");
  Rng rng(seed);
  if (groups.empty()) return assign_items(n, strata, val, test, rng);
  if (groups.size() != n) throw Error(fmt::format("split: {} group ids for {} items", groups.size(), n));
  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < n; ++i) members[groups[i]].push_back(i);
  std::vector<const std::string*> order;
  for (const auto& [g, items] : members) order.push_back(&g);
  rng.shuffle(order);
  const double share[3] = {1.0 - val - test, val, test};
  const int needed = (share[1] > 0) + (share[2] > 0) + 1;
  if (static_cast<int>(order.size()) < needed)
    throw Error(fmt::format("split: {} group{} cannot fill {} parts without a group on two sides", order.size(),
                            order.size() == 1 ? "" : "s", needed));
  // Greedy: each group goes to the part with the largest relative shortfall; ties prefer test, then val,
  // so small held-out parts always get a group. Empty parts come first until each non-empty share has one.
  double filled[3] = {0, 0, 0};
  int groups_in[3] = {0, 0, 0};
  std::vector<int> parts(n, 0);
  const auto total = static_cast<double>(n);
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& items = members[*order[k]];
    int best = -1;
    double best_need = -1e300;
    const size_t left = order.size() - k;
    int empty_parts = 0;
    for (int p = 0; p < 3; ++p) empty_parts += share[p] > 0 && groups_in[p] == 0;
    for (int p = 2; p >= 0; --p) {
      if (share[p] <= 0) continue;
      // When the remaining groups are just enough for the parts still empty, only those may take one.
      if (static_cast<int>(left) <= empty_parts && groups_in[p] > 0) continue;
      const double need = (share[p] * total - filled[p]) / (share[p] * total);
      if (need > best_need + 1e-12) {
        best_need = need;
        best = p;
      }
    }
    for (size_t i : items) parts[i] = best;
    filled[best] += static_cast<double>(items.size());
    ++groups_in[best];
  }
  return parts;
}

void distribute(Split&& all, const std::vector<int>& parts, int num_outputs, Dataset& out) {
  Split* dst[3] = {&out.train, &out.val, &out.test};
  for (size_t i = 0; i < all.size(); ++i) dst[parts[i]]->append_from(all, i, num_outputs);
  all = Split{};
}

std::string describe_groups(const Dataset& ds) {
  const Split* parts[3] = {&ds.train, &ds.val, &ds.test};
  std::string s;
  for (int p = 0; p < 3; ++p) {
    if (parts[p]->group.empty()) continue;
    std::vector<std::string> g(parts[p]->group.begin(), parts[p]->group.end());
    std::sort(g.begin(), g.end(), natural_less);
    g.erase(std::unique(g.begin(), g.end()), g.end());
    std::string list;
    for (size_t k = 0; k < g.size() && k < 40; ++k) list += (k ? "," : "") + g[k];
    if (g.size() > 40) list += fmt::format(",... ({} more)", g.size() - 40);
    s += fmt::format("{}{} {}s {}", s.empty() ? "" : "; ", kPartNames[p],
                     ds.group_kind.empty() ? "group" : ds.group_kind, list);
  }
  return s;
}

void random_split(Split&& all, double val_fraction, double test_fraction, uint64_t seed, int num_outputs,
                  Dataset& out) {
  const bool by_group = !all.group.empty();
  const bool stratified = !by_group && !all.label.empty();
  const auto parts = assign_parts(all.size(), stratified ? all.label : std::vector<int>{}, all.group,
                                  val_fraction, test_fraction, seed);
  distribute(std::move(all), parts, num_outputs, out);
  std::string how = by_group ? fmt::format("by {}", out.group_kind.empty() ? "group" : out.group_kind)
                             : (stratified ? "stratified by class" : "shuffled");
  out.split_info = fmt::format("{} {:.0f}/{:.0f}/{:.0f}% train/val/test, seed {}", how,
                               100 * (1 - val_fraction - test_fraction), 100 * val_fraction, 100 * test_fraction,
                               seed);
  if (by_group) out.split_info += "; " + describe_groups(out);
}

void carve_validation(Dataset& ds, double val_fraction, uint64_t seed, bool by_group_wanted) {
  if (!(val_fraction >= 0 && val_fraction < 1))
    throw Error(fmt::format("{}: val={} must be in [0, 1)", ds.name, val_fraction));
  if (val_fraction == 0) return;
  const int O = ds.task == TaskKind::regression ? ds.num_outputs : 0;
  Split pool = std::move(ds.train);
  ds.train = Split{};
  const bool by_group = by_group_wanted && !pool.group.empty();
  const auto parts = assign_parts(pool.size(), by_group ? std::vector<int>{} : pool.label,
                                  by_group ? pool.group : std::vector<std::string>{},
                                  val_fraction, 0.0, seed);
  Split* dst[2] = {&ds.train, &ds.val};
  for (size_t i = 0; i < pool.size(); ++i) dst[parts[i]]->append_from(pool, i, O);
}

Dataset cv_fold(const Dataset& ds, int fold, int folds, uint64_t seed) {
  if (folds < 2 || fold < 0 || fold >= folds)
    throw Error(
        fmt::format("{}: cross-validation fold {} of {} (need 2 or more folds)", ds.name, fold, folds));
  if (ds.val.empty())
    throw Error(fmt::format("{}: cross-validation needs a validation part (val > 0)", ds.name));
  if (fold == 0) return ds;
  const Split& tr = ds.train;
  const int parts = folds - 1;
  const std::set<std::string> val_groups(ds.val.group.begin(), ds.val.group.end());
  bool by_group = !tr.group.empty() && !val_groups.empty();
  for (const auto& g : tr.group)
    if (by_group && val_groups.count(g)) by_group = false;
  std::vector<int> part(tr.size(), 0);
  Rng rng(seed * 0x9E3779B97F4A7C15ULL + 0xC5);
  if (by_group) {
    std::map<std::string, std::vector<size_t>> members;
    for (size_t i = 0; i < tr.size(); ++i) members[tr.group[i]].push_back(i);
    if (static_cast<int>(members.size()) < parts)
      throw Error(fmt::format("{}: {} training {}s cannot fill {} more cross-validation folds", ds.name,
                              members.size(), ds.group_kind.empty() ? "group" : ds.group_kind, parts));
    std::vector<const std::string*> order;
    for (const auto& [g, items] : members) order.push_back(&g);
    rng.shuffle(order);
    std::vector<size_t> filled(static_cast<size_t>(parts), 0);
    for (const auto* g : order) {  // each group to the part with the fewest sequences so far
      const auto p = static_cast<size_t>(std::min_element(filled.begin(), filled.end()) - filled.begin());
      for (size_t i : members[*g]) part[i] = static_cast<int>(p);
      filled[p] += members[*g].size();
    }
  } else {
    std::map<int, std::vector<size_t>> by_stratum;
    for (size_t i = 0; i < tr.size(); ++i) by_stratum[tr.label.empty() ? 0 : tr.label[i]].push_back(i);
    size_t next = 0;  // continues across classes, so that the parts stay within one sequence of each other
    for (auto& [stratum, items] : by_stratum) {
      rng.shuffle(items);
      for (size_t i : items) part[i] = static_cast<int>(next++ % static_cast<size_t>(parts));
    }
  }
  const int O = ds.task == TaskKind::regression ? ds.num_outputs : 0;
  Dataset out = ds;
  out.train = Split{};
  out.val = Split{};
  for (size_t i = 0; i < tr.size(); ++i) (part[i] == fold - 1 ? out.val : out.train).append_from(tr, i, O);
  for (size_t i = 0; i < ds.val.size(); ++i) out.train.append_from(ds.val, i, O);
  if (out.val.empty() || out.train.empty())
    throw Error(fmt::format("{}: cross-validation fold {} of {} leaves a part empty", ds.name, fold, folds));
  out.split_info = fmt::format("{}; cross-validation fold {} of {}: {}", ds.split_info, fold, folds,
                               by_group ? describe_groups(out) : "stratified by class");
  return out;
}

}  // namespace rnnas

// Pareto fronts, non-dominated sorting, crowding distance, exact hypervolume; objectives and limits.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "rnnas/core.h"
#include "rnnas/search.h"

namespace rnnas::search {
namespace {

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool strictly = false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] > b[k]) return false;
    strictly = strictly || a[k] < b[k];
  }
  return strictly;
}

// Parses "<number><unit>" with the unit's scale from `units` (lower-case match); the bare number uses `bare`.
double parse_quantity(std::string_view s_in, std::initializer_list<std::pair<const char*, double>> units,
                      std::string_view what) {
  const std::string_view s = trim(s_in);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                          ((s[i] == '-' || s[i] == '+') && i > 0 && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
    ++i;
  double v;
  if (!parse_number(s.substr(0, i), v) || v < 0)
    throw Error(fmt::format("{} '{}': expected a non-negative number with a unit", what, s));
  std::string unit(trim(s.substr(i)));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [name, scale] : units)
    if (unit == name) return v * scale;
  std::string known;
  for (const auto& [name, scale] : units) known += (known.empty() ? "" : ", ") + std::string(name[0] ? name : "(none)");
  throw Error(fmt::format("{} '{}': unknown unit '{}' (expected {})", what, s, unit, known));
}

}  // namespace

std::string_view to_string(Objective o) {
  switch (o) {
    case Objective::val_error: return "val_error";
    case Objective::flash_bytes: return "flash_bytes";
    case Objective::ram_bytes: return "ram_bytes";
    case Objective::latency_ms: return "latency_ms";
    case Objective::energy_uj: return "energy_uj";
  }
  return "val_error";
}

Objective parse_objective(std::string_view s) {
  for (Objective o : {Objective::val_error, Objective::flash_bytes, Objective::ram_bytes, Objective::latency_ms,
                      Objective::energy_uj})
    if (to_string(o) == s) return o;
  throw Error(fmt::format("objective '{}': expected val_error, flash_bytes, ram_bytes, latency_ms or energy_uj", s));
}

double objective_value(const Trial& t, Objective o) {
  const std::string key(to_string(o));
  const auto& m = o == Objective::val_error ? t.metrics : t.costs;
  const auto it = m.find(key);
  return it == m.end() ? std::numeric_limits<double>::infinity() : it->second;
}

double parse_bytes(std::string_view s) {
  return parse_quantity(s, {{"", 1}, {"b", 1}, {"kib", 1024}, {"kb", 1000}, {"k", 1024}, {"mib", 1048576},
                            {"mb", 1e6}, {"m", 1048576}},
                        "size");
}
double parse_ms(std::string_view s) {
  return parse_quantity(s, {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}, {"us", 1e-3}, {"", 1}},
                        "time");
}
double parse_uj(std::string_view s) {
  return parse_quantity(s, {{"uj", 1}, {"mj", 1000}, {"j", 1e6}, {"nj", 1e-3}, {"", 1}}, "energy");
}

std::string violation(const hw::Cost& c, const hw::Target& t, const Constraints& k) {
  // A calibrated estimate is the whole firmware image's (Cost::fits): nothing is reserved on top of it.
  const long reserved_flash = c.instructions > 0 ? 0 : t.reserved_flash_bytes;
  const long reserved_ram = c.instructions > 0 ? 0 : t.reserved_ram_bytes;
  if (c.flash_bytes + reserved_flash > t.flash_bytes)
    return fmt::format("flash_bytes {} + {} reserved > {} on {}", c.flash_bytes, reserved_flash, t.flash_bytes, t.name);
  if (c.ram_bytes + reserved_ram > t.ram_bytes)
    return fmt::format("ram_bytes {} + {} reserved > {} on {}", c.ram_bytes, reserved_ram, t.ram_bytes, t.name);
  if (k.max_flash_bytes > 0 && static_cast<double>(c.flash_bytes) > k.max_flash_bytes)
    return fmt::format("flash_bytes {} > {:.0f}", c.flash_bytes, k.max_flash_bytes);
  if (k.max_ram_bytes > 0 && static_cast<double>(c.ram_bytes) > k.max_ram_bytes)
    return fmt::format("ram_bytes {} > {:.0f}", c.ram_bytes, k.max_ram_bytes);
  if (k.max_latency_ms > 0 && c.latency_ms > k.max_latency_ms)
    return fmt::format("latency_ms {:.4g} > {:.4g} (estimated)", c.latency_ms, k.max_latency_ms);
  if (k.max_energy_uj > 0 && c.energy_uj > k.max_energy_uj)
    return fmt::format("energy_uj {:.4g} > {:.4g} (estimated)", c.energy_uj, k.max_energy_uj);
  return "";
}

std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& p) {
  std::vector<size_t> out;
  for (size_t i = 0; i < p.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < p.size() && !dominated; ++j) dominated = j != i && dominates(p[j], p[i]);
    // Duplicates: keep the first of equal points only.
    for (size_t j = 0; j < i && !dominated; ++j) dominated = p[j] == p[i];
    if (!dominated) out.push_back(i);
  }
  return out;
}

std::vector<int> pareto_ranks(const std::vector<std::vector<double>>& p) {
  const size_t n = p.size();
  std::vector<int> rank(n, -1), count(n, 0);
  std::vector<std::vector<size_t>> dominated_by(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      if (i != j && dominates(p[i], p[j])) {
        dominated_by[i].push_back(j);
        ++count[j];
      }
  std::vector<size_t> front;
  for (size_t i = 0; i < n; ++i)
    if (count[i] == 0) front.push_back(i);
  for (int r = 0; !front.empty(); ++r) {
    std::vector<size_t> next;
    for (size_t i : front) {
      rank[i] = r;
      for (size_t j : dominated_by[i])
        if (--count[j] == 0) next.push_back(j);
    }
    front = std::move(next);
  }
  return rank;
}

std::vector<double> crowding(const std::vector<std::vector<double>>& p) {
  const size_t n = p.size();
  std::vector<double> d(n, 0.0);
  if (n == 0) return d;
  const size_t m = p[0].size();
  std::vector<size_t> order(n);
  for (size_t k = 0; k < m; ++k) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a][k] < p[b][k]; });
    const double span = p[order.back()][k] - p[order.front()][k];
    d[order.front()] = d[order.back()] = std::numeric_limits<double>::infinity();
    if (span <= 0) continue;
    for (size_t i = 1; i + 1 < n; ++i) d[order[i]] += (p[order[i + 1]][k] - p[order[i - 1]][k]) / span;
  }
  return d;
}

double hypervolume(std::vector<std::vector<double>> pts, const std::vector<double>& ref) {
  const size_t d = ref.size();
  pts.erase(std::remove_if(pts.begin(), pts.end(),
                           [&](const std::vector<double>& p) {
                             for (size_t k = 0; k < d; ++k)
                               if (!(p[k] < ref[k])) return true;
                             return false;
                           }),
            pts.end());
  if (pts.empty()) return 0.0;
  if (d == 1) {
    double lo = ref[0];
    for (const auto& p : pts) lo = std::min(lo, p[0]);
    return ref[0] - lo;
  }
  // Slice along the last objective: between consecutive values, the (d-1)-volume of the points below.
  std::sort(pts.begin(), pts.end(), [&](const auto& a, const auto& b) { return a[d - 1] < b[d - 1]; });
  const std::vector<double> sub_ref(ref.begin(), ref.end() - 1);
  double volume = 0;
  std::vector<std::vector<double>> below;
  for (size_t i = 0; i < pts.size(); ++i) {
    below.emplace_back(pts[i].begin(), pts[i].end() - 1);
    const double next = i + 1 < pts.size() ? pts[i + 1][d - 1] : ref[d - 1];
    if (next > pts[i][d - 1]) {
      std::vector<std::vector<double>> front;
      for (size_t k : pareto_front(below)) front.push_back(below[k]);
      below = front;
      volume += hypervolume(front, sub_ref) * (next - pts[i][d - 1]);
    }
  }
  return volume;
}

std::vector<int64_t> study_pareto(const std::vector<Trial>& trials, const std::vector<Objective>& objectives) {
  std::vector<std::vector<double>> pts;
  std::vector<int64_t> numbers;
  for (const auto& t : trials) {
    if (t.state != TrialState::complete) continue;
    std::vector<double> p;
    for (Objective o : objectives) p.push_back(objective_value(t, o));
    if (std::any_of(p.begin(), p.end(), [](double v) { return !std::isfinite(v); })) continue;
    pts.push_back(std::move(p));
    numbers.push_back(t.number);
  }
  std::vector<int64_t> out;
  for (size_t i : pareto_front(pts)) out.push_back(numbers[i]);
  return out;
}

SmoothedError smoothed_best(const std::vector<double>& curve, int window) {
  if (curve.empty()) return {};
  const size_t w = std::min(curve.size(), static_cast<size_t>(std::max(1, window)));
  SmoothedError best{std::numeric_limits<double>::infinity(), 0};
  for (size_t end = w; end <= curve.size(); ++end) {
    double sum = 0;
    for (size_t i = end - w; i < end; ++i) sum += curve[i];
    if (sum / static_cast<double>(w) < best.error)
      best = {sum / static_cast<double>(w), static_cast<int>(end)};
  }
  return best;
}

int refit_epochs(const Trial& t) {
  for (const char* key : {"smoothed_epoch", "best_epoch"})
    if (t.metrics.count(key)) return std::max(1, static_cast<int>(t.metrics.at(key)));
  return 1;
}

double refit_seconds(const std::vector<Trial>& trials, const std::vector<int64_t>& front, double growth,
                     int jobs) {
  double total = 0;
  for (int64_t n : front) {
    const Trial& t = trials[static_cast<size_t>(n)];
    const double epochs = t.metrics.count("epochs") ? t.metrics.at("epochs") : 0;
    if (t.metrics.count("refit_epochs") || epochs <= 0) continue;
    total += t.wall_seconds / epochs * refit_epochs(t) * growth;
  }
  return total / std::max(1, jobs);
}

}  // namespace rnnas::search

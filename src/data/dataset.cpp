#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace {

constexpr double kMinScale = 1e-8;

std::string describe_part(const Dataset& ds, const Split& part, std::string_view name) {
  if (part.empty()) return fmt::format("  {:<5} 0 sequences\n", name);
  size_t tmin = SIZE_MAX, tmax = 0;
  for (const auto& s : part.x) {
    tmin = std::min<size_t>(tmin, s.rows());
    tmax = std::max<size_t>(tmax, s.rows());
  }
  std::string lengths = tmin == tmax ? fmt::format("T={}", tmin) : fmt::format("T={}..{}", tmin, tmax);
  std::string extra;
  if (ds.task == TaskKind::classification) {
    std::vector<size_t> counts(ds.num_classes, 0);
    for (int l : part.label) ++counts[l];
    extra = "classes [";
    for (int k = 0; k < ds.num_classes; ++k) extra += fmt::format("{}{}", k ? " " : "", counts[k]);
    extra += "]";
  } else {
    const auto [lo, hi] = std::minmax_element(part.y.begin(), part.y.end());
    extra = fmt::format("targets in [{:.4g}, {:.4g}]", *lo, *hi);
  }
  return fmt::format("  {:<5} {} sequences, {}, {}\n", name, part.size(), lengths, extra);
}

}  // namespace

std::string_view to_string(TaskKind k) { return k == TaskKind::classification ? "classification" : "regression"; }

void Split::append_from(const Split& other, size_t i, int num_outputs) {
  x.push_back(other.x[i]);
  if (!other.label.empty()) label.push_back(other.label[i]);
  if (!other.group.empty()) group.push_back(other.group[i]);
  if (!other.y.empty())
    y.insert(y.end(), other.y.begin() + static_cast<long>(i) * num_outputs,
             other.y.begin() + static_cast<long>(i + 1) * num_outputs);
}

void Dataset::validate() const {
  if (num_features < 1) throw Error(fmt::format("dataset '{}': no features", name));
  if (task == TaskKind::classification && num_classes < 2)
    throw Error(fmt::format("dataset '{}': classification needs at least 2 classes, found {}", name,
                            num_classes));
  if (task == TaskKind::regression && num_outputs < 1)
    throw Error(fmt::format("dataset '{}': regression needs at least 1 output", name));
  if (train.empty()) throw Error(fmt::format("dataset '{}': the training part is empty", name));
  const std::pair<const Split*, const char*> parts[] = {{&train, "train"}, {&val, "val"}, {&test, "test"}};
  for (const auto& [part, pname] : parts) {
    for (size_t i = 0; i < part->size(); ++i) {
      if (part->x[i].cols() != num_features)
        throw Error(fmt::format("dataset '{}': {} sequence {} has {} features, expected {}", name, pname, i,
                                part->x[i].cols(), num_features));
      if (part->x[i].rows() < 1)
        throw Error(fmt::format("dataset '{}': {} sequence {} is empty", name, pname, i));
    }
    if (task == TaskKind::classification) {
      if (part->label.size() != part->size())
        throw Error(fmt::format("dataset '{}': {} has {} labels for {} sequences", name, pname,
                                part->label.size(), part->size()));
      for (int l : part->label)
        if (l < 0 || l >= num_classes)
          throw Error(fmt::format("dataset '{}': {} label {} outside [0, {})", name, pname, l, num_classes));
    } else if (part->y.size() != part->size() * static_cast<size_t>(num_outputs)) {
      throw Error(fmt::format("dataset '{}': {} has {} targets for {} sequences x {} outputs", name, pname,
                              part->y.size(), part->size(), num_outputs));
    }
    if (!part->group.empty() && part->group.size() != part->size())
      throw Error(fmt::format("dataset '{}': {} has {} group ids for {} sequences", name, pname,
                              part->group.size(), part->size()));
    if (task == TaskKind::regression) {
      for (float v : part->y)
        if (!std::isfinite(v)) throw Error(fmt::format("dataset '{}': {} holds a non-finite target", name, pname));
    }
  }
}

std::string Dataset::summary() const {
  std::string s = fmt::format("{}: {}, {} features, ", name, to_string(task), num_features);
  if (task == TaskKind::classification) {
    s += fmt::format("{} classes (", num_classes);
    for (int k = 0; k < num_classes; ++k)
      s += fmt::format("{}{}", k ? ", " : "", k < static_cast<int>(class_names.size()) ? class_names[k]
                                                                                        : std::to_string(k));
    s += ")\n";
  } else {
    s += fmt::format("{} output{}\n", num_outputs, num_outputs > 1 ? "s" : "");
  }
  s += describe_part(*this, train, "train");
  s += describe_part(*this, val, "val");
  s += describe_part(*this, test, "test");
  if (!split_info.empty()) s += "  split: " + split_info + "\n";
  return s;
}

Normalizer Normalizer::fit(const Split& train) {
  Normalizer n;
  if (train.empty()) return n;
  const long F = train.x[0].cols();
  std::vector<double> sum(F, 0.0), sq(F, 0.0);
  double count = 0;
  for (const auto& s : train.x) {
    for (long t = 0; t < s.rows(); ++t)
      for (long f = 0; f < F; ++f) sum[f] += s(t, f);
    count += static_cast<double>(s.rows());
  }
  n.mean.resize(F);
  n.scale.resize(F);
  for (long f = 0; f < F; ++f) n.mean[f] = static_cast<float>(sum[f] / count);
  for (const auto& s : train.x)
    for (long t = 0; t < s.rows(); ++t)
      for (long f = 0; f < F; ++f) {
        const double d = s(t, f) - static_cast<double>(n.mean[f]);
        sq[f] += d * d;
      }
  for (long f = 0; f < F; ++f) {
    const double sd = std::sqrt(sq[f] / count);
    n.scale[f] = static_cast<float>(sd > kMinScale ? sd : 1.0);
  }
  return n;
}

void Normalizer::apply(Split& part) const {
  const long F = static_cast<long>(mean.size());
  for (auto& s : part.x)
    for (long f = 0; f < F; ++f) s.col(f) = (s.col(f).array() - mean[f]) / scale[f];
}

TargetScaler TargetScaler::fit(const Split& train, int num_outputs) {
  TargetScaler t;
  const size_t n = train.size();
  if (n == 0 || train.y.empty()) return t;
  t.mean.assign(num_outputs, 0.f);
  t.scale.assign(num_outputs, 1.f);
  for (int o = 0; o < num_outputs; ++o) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; ++i) sum += train.y[i * num_outputs + o];
    const double m = sum / static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) {
      const double d = train.y[i * num_outputs + o] - m;
      sq += d * d;
    }
    const double sd = std::sqrt(sq / static_cast<double>(n));
    t.mean[o] = static_cast<float>(m);
    t.scale[o] = static_cast<float>(sd > kMinScale ? sd : 1.0);
  }
  return t;
}

void TargetScaler::apply(Split& part) const {
  const size_t O = mean.size();
  for (size_t i = 0; i < part.y.size(); ++i) part.y[i] = (part.y[i] - mean[i % O]) / scale[i % O];
}

}  // namespace rnnas

namespace rnnas {

std::string inspect(const Dataset& ds) {
  std::string s = fmt::format("dataset   {}\ntask      {}\nfeatures  {}", ds.name, to_string(ds.task), ds.num_features);
  if (!ds.feature_names.empty()) {
    std::string names;
    for (size_t f = 0; f < ds.feature_names.size() && f < 16; ++f) names += (f ? ", " : "") + ds.feature_names[f];
    if (ds.feature_names.size() > 16) names += ", ...";
    s += " (" + names + ")";
  }
  s += "\n";
  if (ds.task == TaskKind::classification)
    s += fmt::format("classes   {}\n", ds.num_classes);
  else
    s += fmt::format("outputs   {}\n", ds.num_outputs);
  if (!ds.score.empty()) s += fmt::format("score     {} (besides the usual metrics)\n", ds.score);
  const std::pair<const Split*, const char*> parts[] = {{&ds.train, "train"}, {&ds.val, "val"}, {&ds.test, "test"}};
  s += fmt::format("\n{:<6}{:>9}  {:>7} {:>7} {:>7}  {:>7}  {}\n", "part", "sequences", "T min", "T med", "T max",
                   ds.group_kind.empty() ? "groups" : ds.group_kind + "s", "shape");
  size_t total = 0;
  for (const auto& [p, name] : parts) total += p->size();
  for (const auto& [p, name] : parts) {
    if (p->empty()) {
      s += fmt::format("{:<6}{:>9}\n", name, 0);
      continue;
    }
    std::vector<long> len;
    for (const auto& x : p->x) len.push_back(x.rows());
    std::sort(len.begin(), len.end());
    std::set<std::string> groups(p->group.begin(), p->group.end());
    const std::string shape = len.front() == len.back() ? fmt::format("[{}, {}, {}]", p->size(), len.front(), ds.num_features)
                                                        : fmt::format("[{}, <= {}, {}]", p->size(), len.back(), ds.num_features);
    s += fmt::format("{:<6}{:>9}  {:>7} {:>7} {:>7}  {:>7}  {}  ({:.1f}%)\n", name, p->size(), len.front(),
                     len[len.size() / 2], len.back(), groups.empty() ? std::string("-") : std::to_string(groups.size()),
                     shape, 100.0 * static_cast<double>(p->size()) / static_cast<double>(total));
  }
  if (ds.task == TaskKind::classification) {
    s += "\nclass balance (sequences per part, and % of the part)\n";
    for (int k = 0; k < ds.num_classes; ++k) {
      const std::string cname = k < static_cast<int>(ds.class_names.size()) ? ds.class_names[k] : std::to_string(k);
      s += fmt::format("  {:>3} {:<20}", k, cname.substr(0, 20));
      for (const auto& [p, name] : parts) {
        const auto c = std::count(p->label.begin(), p->label.end(), k);
        s += fmt::format("  {} {:>5} ({:>4.1f}%)", name, c,
                         p->empty() ? 0.0 : 100.0 * static_cast<double>(c) / static_cast<double>(p->size()));
      }
      s += "\n";
    }
  } else {
    s += "\ntargets (min / mean / max per part)\n";
    for (int o = 0; o < ds.num_outputs; ++o) {
      s += fmt::format("  {:<12}", o < static_cast<int>(ds.output_names.size()) ? ds.output_names[o] : std::to_string(o));
      for (const auto& [p, name] : parts) {
        if (p->empty()) continue;
        double lo = 1e300, hi = -1e300, sum = 0;
        for (size_t i = 0; i < p->size(); ++i) {
          const double v = p->y[i * ds.num_outputs + o];
          lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
        }
        s += fmt::format("  {} {:.4g} / {:.4g} / {:.4g}", name, lo, sum / static_cast<double>(p->size()), hi);
      }
      s += "\n";
    }
  }
  // Leak check: a group on two sides.
  if (!ds.group_kind.empty()) {
    std::set<std::string> seen[3];
    for (int k = 0; k < 3; ++k) seen[k].insert(parts[k].first->group.begin(), parts[k].first->group.end());
    std::set<std::string> shared;
    for (const auto& g : seen[0])
      if (seen[1].count(g) || seen[2].count(g)) shared.insert(g);
    for (const auto& g : seen[1])
      if (seen[2].count(g)) shared.insert(g);
    s += shared.empty() ? fmt::format("\nno {} is in two parts\n", ds.group_kind)
                        : fmt::format("\n{} {}s are in more than one part (as the protocol of this dataset has it)\n",
                                      shared.size(), ds.group_kind);
  }
  if (!ds.split_info.empty()) s += "split     " + ds.split_info + "\n";
  return s;
}

}  // namespace rnnas

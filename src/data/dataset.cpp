#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

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

void random_split(Split&& all, double val_fraction, double test_fraction, uint64_t seed, int num_outputs,
                  Dataset& out) {
  if (val_fraction < 0 || test_fraction < 0 || val_fraction + test_fraction >= 1.0)
    throw Error(fmt::format("split fractions val={} test={} must be >= 0 and sum below 1", val_fraction,
                            test_fraction));
  std::vector<size_t> order(all.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(seed);
  rng.shuffle(order);
  const auto n = static_cast<double>(order.size());
  const auto n_test = static_cast<size_t>(std::round(n * test_fraction));
  const auto n_val = static_cast<size_t>(std::round(n * val_fraction));
  for (size_t k = 0; k < order.size(); ++k) {
    Split& dst = k < n_test ? out.test : (k < n_test + n_val ? out.val : out.train);
    dst.append_from(all, order[k], num_outputs);
  }
}

}  // namespace rnnas

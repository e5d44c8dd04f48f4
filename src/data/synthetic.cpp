#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace {

void check_counts(int train, int val, int test, std::string_view task) {
  if (train < 1 || val < 0 || test < 0)
    throw Error(fmt::format("{}: sequence counts must be positive (train={}, val={}, test={})", task, train,
                            val, test));
}

}  // namespace

Dataset make_adding(const AddingOptions& o) {
  check_counts(o.train, o.val, o.test, "adding");
  if (o.steps < 2) throw Error(fmt::format("adding: T={} must be at least 2", o.steps));
  if (o.min_steps != 0 && (o.min_steps < 2 || o.min_steps > o.steps))
    throw Error(fmt::format("adding: minT={} must be in [2, T={}]", o.min_steps, o.steps));
  Dataset ds;
  ds.name = fmt::format("adding(T={}{})", o.steps, o.min_steps ? fmt::format(",minT={}", o.min_steps) : "");
  ds.task = TaskKind::regression;
  ds.num_features = 2;
  ds.num_outputs = 1;
  ds.feature_names = {"value", "marker"};
  ds.output_names = {"sum"};
  Rng rng(o.seed);
  auto fill = [&](Split& part, int count) {
    for (int i = 0; i < count; ++i) {
      const int T = o.min_steps ? o.min_steps + static_cast<int>(rng.below(o.steps - o.min_steps + 1)) : o.steps;
      Sequence s(T, 2);
      for (int t = 0; t < T; ++t) {
        s(t, 0) = static_cast<float>(rng.uniform());
        s(t, 1) = 0.f;
      }
      const int half = T / 2;
      const int a = static_cast<int>(rng.below(half));
      const int b = half + static_cast<int>(rng.below(T - half));
      s(a, 1) = 1.f;
      s(b, 1) = 1.f;
      part.y.push_back(s(a, 0) + s(b, 0));
      part.x.push_back(std::move(s));
    }
  };
  fill(ds.train, o.train);
  fill(ds.val, o.val);
  fill(ds.test, o.test);
  return ds;
}

Dataset make_sine(const SineOptions& o) {
  check_counts(o.train, o.val, o.test, "sine");
  if (o.classes < 2 || o.classes > 64) throw Error(fmt::format("sine: classes={} not in [2, 64]", o.classes));
  if (o.steps < 8) throw Error(fmt::format("sine: T={} must be at least 8", o.steps));
  if (o.channels < 1 || o.channels > 64) throw Error(fmt::format("sine: channels={} not in [1, 64]", o.channels));
  if (!(o.noise >= 0)) throw Error(fmt::format("sine: noise={} must be >= 0", o.noise));
  Dataset ds;
  ds.name = fmt::format("sine(classes={},T={},noise={})", o.classes, o.steps, o.noise);
  ds.task = TaskKind::classification;
  ds.num_features = o.channels;
  ds.num_classes = o.classes;
  for (int k = 0; k < o.classes; ++k) ds.class_names.push_back(fmt::format("mix{}", k));
  for (int c = 0; c < o.channels; ++c) ds.feature_names.push_back(fmt::format("ch{}", c));
  // Class k: a low component at (k+1) cycles per sequence and a high one whose frequency falls with k,
  // so classes differ in both components and no single band decides.
  const double T = o.steps;
  Rng rng(o.seed);
  auto fill = [&](Split& part, int count) {
    for (int i = 0; i < count; ++i) {
      const int k = static_cast<int>(rng.below(o.classes));
      const double f1 = (k + 1.0) / T;
      const double f2 = (2.0 * o.classes + 2.0 - k) / T;
      Sequence s(o.steps, o.channels);
      for (int c = 0; c < o.channels; ++c) {
        const double p1 = rng.uniform(0, 2 * std::numbers::pi), p2 = rng.uniform(0, 2 * std::numbers::pi);
        const double a1 = rng.uniform(0.6, 1.0), a2 = rng.uniform(0.3, 0.6);
        for (int t = 0; t < o.steps; ++t)
          s(t, c) = static_cast<float>(a1 * std::sin(2 * std::numbers::pi * f1 * t + p1) +
                                       a2 * std::sin(2 * std::numbers::pi * f2 * t + p2) + o.noise * rng.normal());
      }
      part.x.push_back(std::move(s));
      part.label.push_back(k);
    }
  };
  fill(ds.train, o.train);
  fill(ds.val, o.val);
  fill(ds.test, o.test);
  return ds;
}

}  // namespace rnnas

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

namespace rnnas {

Dataset make_memory(const MemoryOptions& o) {
  check_counts(o.train, o.val, o.test, "memory");
  if (o.symbols < 2 || o.symbols > 64) throw Error(fmt::format("memory: symbols={} not in [2, 64]", o.symbols));
  if (o.delay < 1 || o.delay > 10000) throw Error(fmt::format("memory: delay={} not in [1, 10000]", o.delay));
  if (!(o.noise >= 0)) throw Error(fmt::format("memory: noise={} must be >= 0", o.noise));
  Dataset ds;
  ds.name = fmt::format("memory(symbols={},delay={},noise={})", o.symbols, o.delay, o.noise);
  ds.task = TaskKind::classification;
  ds.num_classes = o.symbols;
  ds.num_features = o.symbols + 1;
  for (int k = 0; k < o.symbols; ++k) ds.class_names.push_back(fmt::format("sym{}", k));
  for (int k = 0; k < o.symbols; ++k) ds.feature_names.push_back(fmt::format("in{}", k));
  ds.feature_names.push_back("recall");
  const int T = o.delay + 2;
  Rng rng(o.seed);
  auto fill = [&](Split& part, int count) {
    for (int i = 0; i < count; ++i) {
      const int k = static_cast<int>(rng.below(o.symbols));
      Sequence s = Sequence::Zero(T, ds.num_features);
      if (o.noise > 0)
        for (int t = 1; t < T - 1; ++t)
          for (int f = 0; f < o.symbols; ++f) s(t, f) = static_cast<float>(o.noise * rng.normal());
      s(0, k) = 1.f;
      s(T - 1, o.symbols) = 1.f;
      part.x.push_back(std::move(s));
      part.label.push_back(k);
    }
  };
  fill(ds.train, o.train);
  fill(ds.val, o.val);
  fill(ds.test, o.test);
  return ds;
}

Dataset make_chirp(const ChirpOptions& o) {
  check_counts(o.train, o.val, o.test, "chirp");
  if (o.steps < 8 || o.steps > 100000) throw Error(fmt::format("chirp: T={} not in [8, 100000]", o.steps));
  if (!(o.noise >= 0)) throw Error(fmt::format("chirp: noise={} must be >= 0", o.noise));
  Dataset ds;
  ds.name = fmt::format("chirp(T={},noise={})", o.steps, o.noise);
  ds.task = TaskKind::regression;
  ds.num_features = 1;
  ds.num_outputs = 2;
  ds.feature_names = {"x"};
  ds.output_names = {"f0_x100", "rate_x100"};
  const double T = o.steps;
  Rng rng(o.seed);
  auto fill = [&](Split& part, int count) {
    for (int i = 0; i < count; ++i) {
      // Start frequency in [0.02, 0.12] cycles/step; the sweep adds up to +-0.08 cycles/step over T.
      const double f0 = rng.uniform(0.02, 0.12);
      const double k = rng.uniform(-0.08, 0.08) / T;
      const double phase = rng.uniform(0, 2 * std::numbers::pi);
      Sequence s(o.steps, 1);
      for (int t = 0; t < o.steps; ++t)
        s(t, 0) = static_cast<float>(std::sin(2 * std::numbers::pi * (f0 * t + 0.5 * k * t * t) + phase) +
                                     o.noise * rng.normal());
      part.x.push_back(std::move(s));
      part.y.push_back(static_cast<float>(100 * f0));
      part.y.push_back(static_cast<float>(100 * k * T));
    }
  };
  fill(ds.train, o.train);
  fill(ds.val, o.val);
  fill(ds.test, o.test);
  return ds;
}

Dataset make_motion(const MotionOptions& o) {
  if (o.subjects < 3 || o.subjects > 10000) throw Error(fmt::format("motion: subjects={} not in [3, 10000]", o.subjects));
  if (o.per_subject < 1 || o.per_subject > 100000)
    throw Error(fmt::format("motion: per_subject={} not in [1, 100000]", o.per_subject));
  if (o.steps < 16 || o.steps > 10000) throw Error(fmt::format("motion: T={} not in [16, 10000]", o.steps));
  if (!(o.difficulty >= 0 && o.difficulty <= 1))
    throw Error(fmt::format("motion: difficulty={} not in [0, 1]", o.difficulty));
  Dataset ds;
  ds.name = fmt::format("motion(subjects={},T={},difficulty={})", o.subjects, o.steps, o.difficulty);
  ds.task = TaskKind::classification;
  ds.class_names = {"walking", "upstairs", "downstairs", "sitting", "standing", "lying"};
  ds.num_classes = 6;
  ds.feature_names = {"acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"};
  ds.num_features = 6;
  ds.group_kind = "subject";
  const double d = o.difficulty;
  const double pi = std::numbers::pi;
  Rng rng(o.seed);
  Split all;
  for (int subj = 0; subj < o.subjects; ++subj) {
    // Per subject: cadence, stride vigour and how the phone sits (a tilt of the gravity direction).
    const double cadence = rng.uniform(1.6, 2.1) * (1 + d * rng.uniform(-0.15, 0.15));  // steps per second
    const double vigour = rng.uniform(0.8, 1.2);
    const double tilt = d * rng.uniform(-0.5, 0.5);
    const double ct = std::cos(tilt), st = std::sin(tilt);
    for (int w = 0; w < o.per_subject; ++w) {
      const int act = static_cast<int>(rng.below(6));
      Sequence s(o.steps, 6);
      const double phase = rng.uniform(0, 2 * pi);
      // Walking variants differ in cadence, vertical bounce and forward pitch; static postures in the
      // direction of gravity (sitting and standing only slightly apart: the classic confusion).
      const double c = cadence * (act == 1 ? 0.85 : act == 2 ? 1.12 : 1.0);
      const double bounce = vigour * (act == 0 ? 0.25 : act == 1 ? 0.32 : act == 2 ? 0.42 : 0.0);
      const double pitch = act == 1 ? 0.12 : act == 2 ? -0.12 : 0.0;
      double gx = 0, gy = 1, gz = 0;  // gravity in g, in the phone frame
      if (act == 3) gy = std::cos(0.35 - 0.2 * d), gz = std::sin(0.35 - 0.2 * d);
      if (act == 4) gy = 1, gz = 0.05;
      if (act == 5) gy = 0.1, gz = 0.99;
      const double noise = 0.02 + 0.08 * d;
      const double fidget = act >= 3 ? 0.01 + 0.03 * d : 0.0;
      for (int t = 0; t < o.steps; ++t) {
        const double time = t / 50.0;
        const double a = 2 * pi * c * time + phase;
        double ax = gx + 0.3 * bounce * std::sin(a + 0.5) + pitch;
        double ay = gy + bounce * std::sin(a) + 0.3 * bounce * std::sin(2 * a);
        double az = gz + 0.2 * bounce * std::cos(a) + fidget * std::sin(0.7 * time + phase);
        const double rx = ax * ct - ay * st, ry = ax * st + ay * ct;
        ax = rx;
        ay = ry;
        s(t, 0) = static_cast<float>(ax + noise * rng.normal());
        s(t, 1) = static_cast<float>(ay + noise * rng.normal());
        s(t, 2) = static_cast<float>(az + noise * rng.normal());
        s(t, 3) = static_cast<float>(1.5 * bounce * std::cos(a) + 2 * noise * rng.normal());
        s(t, 4) = static_cast<float>(0.8 * bounce * std::sin(a + 1.0) + pitch * std::sin(a) + 2 * noise * rng.normal());
        s(t, 5) = static_cast<float>(0.5 * bounce * std::sin(2 * a) + fidget * std::cos(time) + 2 * noise * rng.normal());
      }
      all.x.push_back(std::move(s));
      all.label.push_back(act);
      all.group.push_back(fmt::format("s{}", subj + 1));
    }
  }
  random_split(std::move(all), 0.15, 0.2, o.seed, 0, ds);
  return ds;
}

}  // namespace rnnas

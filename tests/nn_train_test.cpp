#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/nn.h"

namespace rnnas::nn {
namespace {

Dataset adding(int steps, int n, int min_steps = 0) {
  AddingOptions o;
  o.steps = steps;
  o.min_steps = min_steps;
  o.train = n;
  o.val = n / 8;
  o.test = n / 8;
  o.seed = 11;
  return make_adding(o);
}

Dataset sine() {
  SineOptions o;
  o.classes = 4;
  o.steps = 64;
  o.train = 2000;
  o.val = 250;
  o.test = 500;
  o.seed = 5;
  return make_sine(o);
}

bool same_bits(const Model& a, const Model& b) {
  const auto pa = a.net.params(), pb = b.net.params();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (pa[i]->value.size() != pb[i]->value.size()) return false;
    if (std::memcmp(pa[i]->value.data(), pb[i]->value.data(), sizeof(float) * pa[i]->value.size()) != 0) return false;
  }
  return true;
}

TEST(Train, GruSolvesTheAddingProblemT50) {
  TrainOptions o;
  o.epochs = 12;
  o.lr = 1e-2;
  o.seed = 3;
  const auto r = train(Arch::parse("gru:24|head=last"), adding(50, 4000), o);
  ASSERT_NE(r.status, TrainStatus::diverged) << r.reason;
  const double test_mse = r.test.rmse * r.test.rmse;
  std::printf("adding T=50: test MSE %.5f (predicting the mean gives ~0.167)\n", test_mse);
  EXPECT_LT(test_mse, 0.01);
}

TEST(Train, SineClassificationAbove95Percent) {
  TrainOptions o;
  o.epochs = 20;
  o.seed = 2;
  const auto r = train(Arch::parse("gru:16|head=last"), sine(), o);
  ASSERT_NE(r.status, TrainStatus::diverged) << r.reason;
  std::printf("sine: test accuracy %.4f, macro-F1 %.4f\n", r.test.accuracy, r.test.macro_f1);
  EXPECT_GE(r.test.accuracy, 0.95);
  EXPECT_GE(r.test.macro_f1, 0.95);
}

TEST(Train, EveryCellLearnsSine) {
  // Every cell, low rank, stride, both heads and the dense layer in real training: far above chance
  // (25%). Vanilla RNN and FastRNN need their own learning rates on 64 steps.
  const Dataset ds = sine();
  const std::pair<const char*, double> cases[] = {{"rnn:32|head=mean", 3e-3},
                                                  {"lstm:16|head=last", 1e-2},
                                                  {"fastrnn:16|head=mean", 2e-2},
                                                  {"fastgrnn:16:urank=8|head=last,dense=16", 1e-2},
                                                  {"stride=2|gru:12:urank=4,lstm:8|head=mean", 1e-2}};
  for (const auto& [spec, lr] : cases) {
    TrainOptions o;
    o.epochs = 20;
    o.lr = lr;
    o.seed = 4;
    const auto r = train(Arch::parse(spec), ds, o);
    EXPECT_NE(r.status, TrainStatus::diverged) << spec << ": " << r.reason;
    EXPECT_GE(r.test.accuracy, 0.75) << spec;
    std::printf("%-45s test accuracy %.4f\n", spec, r.test.accuracy);
  }
}

TEST(Train, VariableLengthsTrain) {
  TrainOptions o;
  o.epochs = 10;
  o.seed = 9;
  const auto r = train(Arch::parse("gru:24|head=last"), adding(40, 3000, 10), o);
  ASSERT_NE(r.status, TrainStatus::diverged) << r.reason;
  EXPECT_LT(r.test.rmse * r.test.rmse, 0.02);
}

TEST(Train, SameSeedGivesBitIdenticalWeights) {
  const Dataset ds = sine();
  TrainOptions o;
  o.epochs = 2;
  o.seed = 17;
  const Arch arch = Arch::parse("fastgrnn:12:urank=4,gru:8:wrank=4|head=mean");
  const auto a = train(arch, ds, o);
  const auto b = train(arch, ds, o);
  EXPECT_TRUE(same_bits(a.model, b.model));
  EXPECT_EQ(a.test.accuracy, b.test.accuracy);
  o.seed = 18;
  const auto c = train(arch, ds, o);
  EXPECT_FALSE(same_bits(a.model, c.model));
}

TEST(Train, SideBySideRunsEqualSequentialRuns) {
  const Dataset ds = sine();
  std::vector<TrainJob> jobs;
  for (const char* spec : {"gru:8|head=last", "lstm:8|head=mean", "fastgrnn:8|head=last"}) {
    TrainJob j;
    j.arch = Arch::parse(spec);
    j.data = &ds;
    j.options.epochs = 2;
    j.options.seed = 5;
    jobs.push_back(j);
  }
  const auto parallel = train_many(jobs, 2);
  ASSERT_EQ(parallel.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto alone = train(jobs[i].arch, ds, jobs[i].options);
    EXPECT_TRUE(same_bits(alone.model, parallel[i].model)) << jobs[i].arch.to_string();
  }
}

// Augmentation: drawn from the seed (the same run twice is bit-identical), it changes the training but not
// the data the model is measured on, and a model trained with it still learns.
TEST(Train, AugmentationIsSeededAndStillLearns) {
  const Dataset ds = sine();
  TrainOptions o;
  o.epochs = 2;
  o.seed = 2;
  const Arch arch = Arch::parse("gru:16|head=last");
  const auto plain = train(arch, ds, o);
  o.augment_scale = 0.2;
  o.augment_noise = 0.1;
  const auto a = train(arch, ds, o), b = train(arch, ds, o);
  EXPECT_TRUE(same_bits(a.model, b.model));
  EXPECT_FALSE(same_bits(a.model, plain.model));
  Model m = std::move(const_cast<TrainResult&>(a).model);
  EXPECT_DOUBLE_EQ(m.evaluate(ds.val).accuracy, a.best_val.accuracy);  // validation data are not augmented
  o.epochs = 20;                                                       // as SineClassificationAbove95Percent
  const auto full = train(arch, ds, o);
  EXPECT_GE(full.test.accuracy, 0.95);
}

// Weight averaging: the returned model is the average of the weights along the optimiser's path, with
// TensorFlow's warm-up decay min(ema, (1 + t) / (10 + t)), and validation measures that average.
TEST(Train, WeightAveragingReturnsTheAverageOfThePath) {
  const Dataset ds = sine();
  const Arch arch = Arch::parse("gru:8|head=last");
  TrainOptions o;
  o.batch_size = 4096;  // one step per epoch: epoch k's weights are the path's step k
  o.schedule = ScheduleKind::constant;
  o.patience = 0;
  o.restore_best = false;
  o.seed = 4;
  auto weights = [&](int epochs, double lr, double ema) {
    TrainOptions x = o;
    x.epochs = epochs;
    x.lr = lr;
    x.ema = ema;
    const TrainResult r = train(arch, ds, x);
    std::vector<Mat<float>> w;
    for (const auto* p : r.model.net.params()) w.push_back(p->value);
    return w;
  };
  const auto w0 = weights(1, 1e-30, 0);  // the initial weights (a step of 1e-30 leaves them as they are)
  const auto w1 = weights(1, 0.05, 0), w2 = weights(2, 0.05, 0), avg = weights(2, 0.05, 0.99);
  ASSERT_EQ(avg.size(), w0.size());
  const float d0 = 1.0f / 10, d1 = 2.0f / 11;
  double moved = 0;
  for (size_t i = 0; i < avg.size(); ++i) {
    const Mat<float> e1 = d0 * w0[i] + (1 - d0) * w1[i], e2 = d1 * e1 + (1 - d1) * w2[i];
    EXPECT_LT((avg[i] - e2).cwiseAbs().maxCoeff(), 1e-6f) << "parameter " << i;
    moved = std::max(moved, static_cast<double>((avg[i] - w2[i]).cwiseAbs().maxCoeff()));
  }
  EXPECT_GT(moved, 1e-3);  // the average is not the last step's weights
  // With early stopping on, validation and the best snapshot are the average's.
  o.restore_best = true;
  o.batch_size = 64;
  o.epochs = 3;
  o.ema = 0.99;
  TrainResult r = train(arch, ds, o);
  EXPECT_DOUBLE_EQ(r.model.evaluate(ds.val).accuracy, r.best_val.accuracy);
  o.ema = 1.0;
  EXPECT_THROW(train(arch, ds, o), Error);
}

// A gradient whose float squared norm overflows (elements above 1.8e19) is still finite: it is clipped,
// not reported as divergence.
TEST(Train, HugeFiniteGradientsAreClipped) {
  Param<float> p;
  p.value = Mat<float>::Zero(2, 2);
  p.grad = Mat<float>::Constant(2, 2, 1e20f);
  const double norm = clip_grad_norm({&p}, 5.0);
  EXPECT_NEAR(norm, 2e20, 1e14);
  EXPECT_NEAR(p.grad.cast<double>().norm(), 5.0, 1e-5);
  p.grad(0, 0) = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(std::isfinite(clip_grad_norm({&p}, 5.0)));
}

TEST(Train, DivergenceIsAStatusNotACrash) {
  TrainOptions o;
  o.epochs = 3;
  o.lr = 1e30;
  o.clip_norm = 0;
  o.schedule = ScheduleKind::constant;
  const auto r = train(Arch::parse("rnn:8|head=last"), adding(20, 400), o);
  EXPECT_EQ(r.status, TrainStatus::diverged);
  EXPECT_NE(r.reason.find("non-finite"), std::string::npos) << r.reason;
}

TEST(Train, EarlyStoppingRestoresTheBestEpoch) {
  TrainOptions o;
  o.epochs = 40;
  o.patience = 2;
  o.lr = 0.05;  // noisy on purpose
  o.schedule = ScheduleKind::constant;
  o.seed = 1;
  const auto r = train(Arch::parse("gru:8|head=last"), sine(), o);
  ASSERT_EQ(r.status, TrainStatus::early_stopped) << to_string(r.status);
  ASSERT_GE(r.curve.size(), 3u);
  EXPECT_EQ(r.curve.size(), static_cast<size_t>(r.best_epoch + 2));
  // The returned model is the best epoch's: its validation metrics are reproduced.
  Model m = std::move(const_cast<TrainResult&>(r).model);
  const Dataset ds = sine();
  const Metrics val = m.evaluate(ds.val);
  EXPECT_DOUBLE_EQ(val.accuracy, r.best_val.accuracy);
}

TEST(Train, CallbackCanStopTraining) {
  TrainOptions o;
  o.epochs = 10;
  o.on_epoch = [](const EpochReport& e) { return e.epoch < 2; };
  const auto r = train(Arch::parse("gru:8|head=last"), sine(), o);
  EXPECT_EQ(r.status, TrainStatus::stopped_by_callback);
  EXPECT_EQ(r.curve.size(), 2u);
}

TEST(Train, BadOptionsAreErrors) {
  TrainOptions o;
  o.batch_size = 0;
  EXPECT_THROW(train(Arch::parse("gru:8"), sine(), o), Error);
  o = TrainOptions();
  o.loss = "mse";  // a regression loss on a classification task
  EXPECT_THROW(train(Arch::parse("gru:8"), sine(), o), Error);
  o = TrainOptions();
  EXPECT_THROW(train(Arch::parse("gru:8:wrank=1"), sine(), o), Error);  // 1 input feature: rank 1 is no saving
  o = TrainOptions();
  o.augment_scale = 1.5;  // would flip signs
  EXPECT_THROW(train(Arch::parse("gru:8"), sine(), o), Error);
  o = TrainOptions();
  o.augment_noise = -1;
  EXPECT_THROW(train(Arch::parse("gru:8"), sine(), o), Error);
}

TEST(Train, HuberAndWeightedLossesTrain) {
  TrainOptions o;
  o.epochs = 6;
  o.loss = "huber";
  o.huber_delta = 0.5;
  o.optimizer = OptimizerKind::adamw;
  o.weight_decay = 1e-4;
  o.schedule = ScheduleKind::step;
  o.step_epochs = 3;
  const auto r = train(Arch::parse("gru:16|head=last"), adding(30, 2000), o);
  EXPECT_NE(r.status, TrainStatus::diverged);
  EXPECT_LT(r.test.rmse, 0.2);
  TrainOptions c;
  c.epochs = 20;
  c.class_weighting = ClassWeighting::balanced;
  const auto rc = train(Arch::parse("lstm:16|head=last"), sine(), c);
  EXPECT_EQ(rc.model.loss.class_weights.size(), 4u);
  EXPECT_GE(rc.test.accuracy, 0.9);
}

TEST(Model, SaveLoadGivesIdenticalPredictions) {
  TrainOptions o;
  o.epochs = 3;
  const Dataset ds = adding(30, 800);
  auto r = train(Arch::parse("stride=2|fastgrnn:8:wrank=1:urank=4,lstm:6|head=mean,dense=5"), ds, o);
  const std::string path = (std::filesystem::path(rnnas::test_util::temp_dir()) / "rnnas_model_test.json").string();
  r.model.save(path);
  Model loaded = Model::load(path);
  EXPECT_EQ(loaded.arch, r.model.arch);
  EXPECT_TRUE(same_bits(loaded, r.model));
  EXPECT_EQ(loaded.norm.mean, r.model.norm.mean);
  EXPECT_EQ(loaded.target_scale.scale, r.model.target_scale.scale);
  const Metrics a = r.model.evaluate(ds.test), b = loaded.evaluate(ds.test);
  EXPECT_EQ(a.rmse, b.rmse);
  EXPECT_DOUBLE_EQ(a.rmse, r.test.rmse);
  std::filesystem::remove(path);
}

TEST(Model, LoadRejectsBadFiles) {
  const auto dir = std::filesystem::path(rnnas::test_util::temp_dir());
  const std::string p = (dir / "rnnas_bad_model.json").string();
  auto write = [&](const std::string& s) { std::ofstream(p) << s; };
  auto message = [&] {
    try {
      Model::load(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  write("{not json");
  EXPECT_NE(message().find("not valid JSON"), std::string::npos);
  write(R"({"format":"something-else"})");
  EXPECT_NE(message().find("not an rnnas model file"), std::string::npos);
  write(R"({"format":"rnnas-model","version":99})");
  EXPECT_NE(message().find("version 99 is not supported"), std::string::npos);
  write(R"({"format":"rnnas-model","version":1})");
  EXPECT_NE(message().find("lacks the field 'arch'"), std::string::npos);
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace rnnas::nn

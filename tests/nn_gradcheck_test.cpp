// Finite-difference gradient check, double precision, for every cell, every low-rank variant, both
// heads, every loss and variable lengths. One table of cases drives the whole check.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "rnnas/core.h"
#include "rnnas/nn.h"

namespace rnnas::nn {
namespace {

struct Case {
  std::string arch;
  LossKind loss;
  bool variable_lengths;
  bool class_weights = false;
};

std::string case_name(const Case& c) {
  std::string s = fmt::format("{} {} {}{}", c.arch, to_string(c.loss), c.variable_lengths ? "varlen" : "fixed",
                              c.class_weights ? " weighted" : "");
  return s;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const char* cells[] = {"rnn", "gru", "lstm", "fastrnn", "fastgrnn"};
  const char* ranks[] = {"", ":wrank=2", ":urank=2", ":wrank=2:urank=2"};
  const char* heads[] = {"last", "mean"};
  const LossKind losses[] = {LossKind::cross_entropy, LossKind::mse, LossKind::huber};
  for (const char* cell : cells)
    for (const char* rank : ranks)
      for (const char* head : heads)
        for (LossKind loss : losses)
          for (bool varlen : {false, true})
            cases.push_back({fmt::format("{}:4{}|head={}", cell, rank, head), loss, varlen});
  // Stacks, a dense hidden layer, temporal stride and class weights.
  cases.push_back({"gru:4,lstm:3|head=last", LossKind::cross_entropy, true, true});
  cases.push_back({"stride=2|fastgrnn:4:wrank=2,gru:3:urank=2|head=mean,dense=5", LossKind::mse, true});
  cases.push_back({"lstm:3,fastrnn:4,rnn:3,fastgrnn:2|head=last,dense=4", LossKind::huber, true});
  cases.push_back({"stride=3|lstm:5:urank=3|head=mean,dense=3", LossKind::cross_entropy, true, true});
  return cases;
}

constexpr int kInputs = 5;
constexpr int kOutputs = 3;
constexpr int kSteps = 7;
constexpr int kBatch = 4;

struct Problem {
  Batch<double> batch;
  LossOptions loss;
};

Problem make_problem(const Case& c, uint64_t seed) {
  Rng rng(seed);
  Split part;
  const int lengths[kBatch] = {kSteps, c.variable_lengths ? 5 : kSteps, c.variable_lengths ? 2 : kSteps,
                               c.variable_lengths ? 1 : kSteps};
  for (int b = 0; b < kBatch; ++b) {
    Sequence s(lengths[b], kInputs);
    for (long i = 0; i < s.size(); ++i) s.data()[i] = static_cast<float>(rng.normal());
    part.x.push_back(s);
    part.label.push_back(static_cast<int>(rng.below(kOutputs)));
    // Huber: targets spread so some errors fall on each side of delta = 1.
    for (int o = 0; o < kOutputs; ++o) part.y.push_back(static_cast<float>(2.0 * rng.normal()));
  }
  std::vector<size_t> idx = {2, 0, 3, 1};  // unsorted on purpose: make_batch sorts by length
  Problem p;
  const Arch arch = Arch::parse(c.arch);
  p.batch = make_batch<double>(part, idx, arch.stride, kOutputs);
  if (c.loss == LossKind::cross_entropy) p.batch.y.resize(0, 0);
  p.loss.kind = c.loss;
  p.loss.huber_delta = 1.0;
  if (c.class_weights) p.loss.class_weights = {0.5, 2.0, 1.25};
  return p;
}

double loss_of(Network<double>& net, const Problem& p) {
  const Mat<double>& out = net.forward(p.batch.x, p.batch.info);
  return loss_and_grad<double>(p.loss, out, p.batch.label, p.batch.y, nullptr);
}

// Sixth-order central difference: truncation error O(h^6), so with h = 1e-3 the reference is limited by
// round-off (~1e-16 / h relative to the loss), which matters for parameters with small gradients.
double numeric_derivative(Network<double>& net, const Problem& prob, double& v) {
  constexpr double h = 1e-3;
  constexpr double offsets[6] = {-3, -2, -1, 1, 2, 3};
  constexpr double weights[6] = {-1, 9, -45, 45, -9, 1};
  const double saved = v;
  double sum = 0;
  for (int k = 0; k < 6; ++k) {
    v = saved + offsets[k] * h;
    sum += weights[k] * loss_of(net, prob);
  }
  v = saved;
  return sum / (60 * h);
}

// Worst per-tensor relative error ||analytic - numeric|| / max(||analytic||, ||numeric||).
double worst_relative_error(const Case& c, std::string* worst_param) {
  const Arch arch = Arch::parse(c.arch);
  Network<double> net(arch, kInputs, kOutputs);
  net.init(11);
  // Fresh random values for every parameter: zero biases and saturated gate scalars (sigmoid(3)) of the
  // initialisation would leave paths with almost no gradient, where the check says little.
  Rng rng(5);
  for (auto* p : net.params())
    for (long i = 0; i < p->value.size(); ++i) p->value.data()[i] = 0.5 * rng.normal();
  const Problem prob = make_problem(c, 3);

  net.zero_grad();
  Mat<double> dout;
  const Mat<double>& out = net.forward(prob.batch.x, prob.batch.info);
  loss_and_grad<double>(prob.loss, out, prob.batch.label, prob.batch.y, &dout);
  net.backward(dout);

  double worst = 0;
  for (auto* p : net.params()) {
    Mat<double> numeric(p->value.rows(), p->value.cols());
    for (long i = 0; i < p->value.size(); ++i) numeric.data()[i] = numeric_derivative(net, prob, p->value.data()[i]);
    const double scale = std::max(p->grad.norm(), numeric.norm());
    EXPECT_GT(scale, 1e-8) << case_name(c) << ": parameter " << p->name << " receives no gradient";
    const double rel = scale > 0 ? (p->grad - numeric).norm() / scale : 0;
    if (std::getenv("RNNAS_GRADCHECK_VERBOSE") && rel > 1e-7) std::printf("  %s analytic %.6g numeric %.6g\n", p->name.c_str(), p->grad.norm(), numeric.norm());
    if (rel > worst) {
      worst = rel;
      if (worst_param) *worst_param = p->name;
    }
  }
  return worst;
}

TEST(GradientCheck, EveryCellRankHeadLossAndLengthBelow1e6) {
  const auto cases = all_cases();
  double overall = 0;
  for (const auto& c : cases) {
    std::string param;
    const double err = worst_relative_error(c, &param);
    overall = std::max(overall, err);
    if (std::getenv("RNNAS_GRADCHECK_VERBOSE")) std::printf("%-50s %.3g %s\n", case_name(c).c_str(), err, param.c_str());
    EXPECT_LT(err, 1e-6) << case_name(c) << ": worst relative error " << err << " in " << param;
  }
  std::printf("gradient check: %zu cases, worst relative error %.3g\n", cases.size(), overall);
}

// The check must be able to fail: a wrong gradient (here: one entry perturbed) is caught.
TEST(GradientCheck, DetectsAWrongGradient) {
  const Case c{"gru:4|head=last", LossKind::mse, true};
  const Arch arch = Arch::parse(c.arch);
  Network<double> net(arch, kInputs, kOutputs);
  net.init(11);
  const Problem prob = make_problem(c, 3);
  net.zero_grad();
  Mat<double> dout;
  loss_and_grad<double>(prob.loss, net.forward(prob.batch.x, prob.batch.info), prob.batch.label, prob.batch.y, &dout);
  net.backward(dout);
  Param<double>* u = net.params()[1];
  const double analytic = u->grad(0, 0) * 1.001;
  const double numeric = numeric_derivative(net, prob, u->value(0, 0));
  EXPECT_GT(std::abs(analytic - numeric) / std::abs(numeric), 1e-6);
  EXPECT_LT(std::abs(u->grad(0, 0) - numeric) / std::abs(numeric), 1e-6);
}

// Padded steps must not change the result: a sequence padded into a longer batch gives the same output
// and gradients as the same sequence alone.
TEST(VariableLengths, PaddingDoesNotChangeOutputsOrGradients) {
  for (const char* spec : {"gru:4|head=last", "lstm:4|head=mean", "fastgrnn:4:urank=2,rnn:3|head=last"}) {
    const Arch arch = Arch::parse(spec);
    Rng rng(9);
    Split part;
    for (int len : {7, 3}) {
      Sequence s(len, kInputs);
      for (long i = 0; i < s.size(); ++i) s.data()[i] = static_cast<float>(rng.normal());
      part.x.push_back(s);
      part.label.push_back(1);
    }
    LossOptions ce;
    Network<double> net(arch, kInputs, kOutputs);
    net.init(3);
    // Both sequences together (the short one padded), loss weighted on the short one only.
    const auto both = make_batch<double>(part, {0, 1}, 1, kOutputs);
    ce.class_weights = {1, 1, 1};
    net.zero_grad();
    const Mat<double> out_both = net.forward(both.x, both.info);
    Mat<double> dout = Mat<double>::Zero(kOutputs, 2);
    Mat<double> d1;
    loss_and_grad<double>(ce, out_both.col(1), {1}, Mat<double>(), &d1);
    dout.col(1) = d1;
    net.backward(dout);
    std::vector<Mat<double>> grads_both;
    for (auto* p : net.params()) grads_both.push_back(p->grad);
    // The short sequence alone.
    const auto alone = make_batch<double>(part, {1}, 1, kOutputs);
    net.zero_grad();
    const Mat<double> out_alone = net.forward(alone.x, alone.info);
    loss_and_grad<double>(ce, out_alone, {1}, Mat<double>(), &d1);
    net.backward(d1);
    EXPECT_LT((out_alone.col(0) - out_both.col(1)).norm(), 1e-12) << spec;
    auto params = net.params();
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_LT((params[i]->grad - grads_both[i]).norm(), 1e-12) << spec << " " << params[i]->name;
  }
}

}  // namespace
}  // namespace rnnas::nn

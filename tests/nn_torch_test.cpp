// Differential test against libtorch: the same GRU / LSTM network, the same weights and batch, gives the
// same loss and gradients (double precision), and one Adam step gives the same weights (float).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rnnas/core.h"
#include "rnnas/nn.h"

namespace rnnas::nn {
namespace {

constexpr int F = 3, H = 5, O = 4, T = 6, B = 4;

template <class S>
torch::Tensor to_torch(const Mat<S>& m) {
  using Row = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Row r = m;
  auto dtype = std::is_same_v<S, double> ? torch::kDouble : torch::kFloat;
  return torch::from_blob(r.data(), {r.rows(), r.cols()}, dtype).clone();
}

template <class S>
Mat<S> from_torch(const torch::Tensor& t) {
  auto c = t.contiguous();
  const long rows = t.size(0), cols = t.dim() > 1 ? t.size(1) : 1;
  Mat<S> m(rows, cols);
  for (long i = 0; i < rows; ++i)
    for (long j = 0; j < cols; ++j) m(i, j) = c.dim() > 1 ? c[i][j].item<S>() : c[i].item<S>();
  return m;
}

template <class S>
double max_abs_diff(const Mat<S>& a, const torch::Tensor& b) {
  const Mat<S> bm = from_torch<S>(b.dim() == 1 ? b.unsqueeze(1) : b);
  return static_cast<double>((a - bm).cwiseAbs().maxCoeff());
}

template <class S>
struct Setup {
  Network<S> net;
  Batch<S> batch;
  torch::nn::AnyModule rnn;
  torch::nn::Linear head{nullptr};
  torch::Tensor x, labels;
  std::map<std::string, Param<S>*> p;
};

template <class S>
Setup<S> build(CellType cell) {
  const char* spec = cell == CellType::gru ? "gru:5|head=last" : "lstm:5|head=last";
  Setup<S> s{Network<S>(Arch::parse(spec), F, O), {}, {}, nullptr, {}, {}, {}};
  s.net.init(3);
  Rng rng(8);
  for (auto* q : s.net.params()) {
    for (long i = 0; i < q->value.size(); ++i) q->value.data()[i] = static_cast<S>(0.4 * rng.normal());
    s.p[q->name] = q;
  }
  Split part;
  for (int b = 0; b < B; ++b) {
    Sequence seq(T, F);
    for (long i = 0; i < seq.size(); ++i) seq.data()[i] = static_cast<float>(rng.normal());
    part.x.push_back(seq);
    part.label.push_back(b % O);
  }
  s.batch = make_batch<S>(part, {0, 1, 2, 3}, 1, O);
  auto dtype = std::is_same_v<S, double> ? torch::kDouble : torch::kFloat;
  s.x = torch::zeros({T, B, F}, dtype);
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < B; ++b)
      for (int f = 0; f < F; ++f) s.x[t][b][f] = static_cast<double>(s.batch.x(f, t * B + b));
  s.labels = torch::tensor(std::vector<int64_t>(s.batch.label.begin(), s.batch.label.end()));
  torch::NoGradGuard guard;
  torch::nn::Module* m;
  if (cell == CellType::gru) {
    torch::nn::GRU gru(torch::nn::GRUOptions(F, H));
    gru->to(dtype);
    s.rnn = torch::nn::AnyModule(gru);
    m = gru.get();
  } else {
    torch::nn::LSTM lstm(torch::nn::LSTMOptions(F, H));
    lstm->to(dtype);
    s.rnn = torch::nn::AnyModule(lstm);
    m = lstm.get();
  }
  auto named = m->named_parameters();
  named["weight_ih_l0"].copy_(to_torch(s.p["l0.W"]->value));
  named["weight_hh_l0"].copy_(to_torch(s.p["l0.U"]->value));
  named["bias_ih_l0"].copy_(to_torch(s.p["l0.b"]->value).squeeze(1));
  named["bias_hh_l0"].zero_();
  if (cell == CellType::gru) named["bias_hh_l0"].slice(0, 2 * H, 3 * H).copy_(to_torch(s.p["l0.bhn"]->value).squeeze(1));
  s.head = torch::nn::Linear(H, O);
  s.head->to(dtype);
  s.head->weight.copy_(to_torch(s.p["head.Wo"]->value));
  s.head->bias.copy_(to_torch(s.p["head.bo"]->value).squeeze(1));
  return s;
}

template <class S>
torch::Tensor torch_loss(Setup<S>& s, CellType cell) {
  torch::Tensor out;
  if (cell == CellType::gru)
    out = std::get<0>(s.rnn.template get<torch::nn::GRU>()->forward(s.x));
  else
    out = std::get<0>(s.rnn.template get<torch::nn::LSTM>()->forward(s.x));
  auto logits = s.head->forward(out[T - 1]);
  return torch::nn::functional::cross_entropy(logits, s.labels);
}

torch::nn::Module& module_of(torch::nn::AnyModule& m, CellType cell) {
  if (cell == CellType::gru) return *m.get<torch::nn::GRU>();
  return *m.get<torch::nn::LSTM>();
}

class TorchParity : public ::testing::TestWithParam<CellType> {};

TEST_P(TorchParity, LossAndGradientsMatchInDouble) {
  const CellType cell = GetParam();
  torch::manual_seed(0);
  auto s = build<double>(cell);
  LossOptions ce;
  Mat<double> dout;
  s.net.zero_grad();
  const double loss = loss_and_grad<double>(ce, s.net.forward(s.batch.x, s.batch.info), s.batch.label, Mat<double>(), &dout);
  s.net.backward(dout);
  auto tl = torch_loss(s, cell);
  tl.backward();
  EXPECT_NEAR(loss, tl.item<double>(), 1e-12);
  auto named = module_of(s.rnn, cell).named_parameters();
  EXPECT_LT(max_abs_diff(s.p["l0.W"]->grad, named["weight_ih_l0"].grad()), 1e-12);
  EXPECT_LT(max_abs_diff(s.p["l0.U"]->grad, named["weight_hh_l0"].grad()), 1e-12);
  EXPECT_LT(max_abs_diff(s.p["l0.b"]->grad, named["bias_ih_l0"].grad()), 1e-12);
  if (cell == CellType::gru) {
    EXPECT_LT(max_abs_diff(s.p["l0.bhn"]->grad, named["bias_hh_l0"].grad().slice(0, 2 * H, 3 * H)), 1e-12);
  }
  EXPECT_LT(max_abs_diff(s.p["head.Wo"]->grad, s.head->weight.grad()), 1e-12);
  EXPECT_LT(max_abs_diff(s.p["head.bo"]->grad, s.head->bias.grad()), 1e-12);
  // The check can fail: the gradients are not all zero.
  EXPECT_GT(s.p["l0.U"]->grad.norm(), 1e-3);
}

TEST_P(TorchParity, OneAdamStepMatchesInFloat) {
  const CellType cell = GetParam();
  auto s = build<float>(cell);
  LossOptions ce;
  Mat<float> dout;
  s.net.zero_grad();
  loss_and_grad<float>(ce, s.net.forward(s.batch.x, s.batch.info), s.batch.label, Mat<float>(), &dout);
  s.net.backward(dout);
  Adam adam(s.net.params(), OptimizerKind::adam, 0.0);
  adam.step(1e-2);
  auto& m = module_of(s.rnn, cell);
  std::vector<torch::Tensor> tparams = m.parameters();
  for (auto& t : s.head->parameters()) tparams.push_back(t);
  torch::optim::Adam opt(tparams, torch::optim::AdamOptions(1e-2));
  opt.zero_grad();
  torch_loss(s, cell).backward();
  opt.step();
  auto named = m.named_parameters();
  EXPECT_LT(max_abs_diff(s.p["l0.W"]->value, named["weight_ih_l0"]), 2e-6);
  EXPECT_LT(max_abs_diff(s.p["l0.U"]->value, named["weight_hh_l0"]), 2e-6);
  EXPECT_LT(max_abs_diff(s.p["head.Wo"]->value, s.head->weight), 2e-6);
}

INSTANTIATE_TEST_SUITE_P(Cells, TorchParity, ::testing::Values(CellType::gru, CellType::lstm),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace rnnas::nn

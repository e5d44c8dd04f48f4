// Recurrent layers: the shared time loop (RecurrentLayer) and the five cells.
// Conventions follow PyTorch where it has the cell (gate order r,z,n for GRU with the reset gate applied
// to U_n h + b_hn; i,f,g,o for LSTM) and EdgeML / Kusupati et al. 2018 for FastRNN and FastGRNN.
#include <cmath>

#include "layers.h"

namespace rnnas::nn {
namespace {

template <class S>
S sigmoid(S x) {
  return S(1) / (S(1) + std::exp(-x));
}

template <class S>
Param<S> scalar_param(const std::string& name, double v) {
  Mat<S> m(1, 1);
  m(0, 0) = static_cast<S>(v);
  return {name, m, Mat<S>::Zero(1, 1), false};
}

template <class S>
Param<S> bias_param(const std::string& name, int n) {
  return {name, Mat<S>::Zero(n, 1), Mat<S>::Zero(n, 1), false};
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// RecurrentLayer: time loop, masking, weight gradients.

template <class S>
RecurrentLayer<S>::RecurrentLayer(const std::string& prefix, const LayerSpec& spec, int in_dim, bool has_bias)
    : H_(spec.width),
      G_(gate_count(spec.cell)),
      in_(in_dim),
      has_bias_(has_bias),
      W_(prefix + "W", G_ * H_, in_dim, spec.wrank),
      U_(prefix + "U", G_ * H_, H_, spec.urank) {
  if (has_bias_) b_ = bias_param<S>(prefix + "b", G_ * H_);
}

template <class S>
void RecurrentLayer<S>::init(Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(H_));  // PyTorch's RNN initialisation
  W_.init(rng, bound);
  U_.init(rng, bound);
  cell_init(rng);
}

template <class S>
void RecurrentLayer<S>::collect(std::vector<Param<S>*>& out) {
  W_.collect(out);
  U_.collect(out);
  if (has_bias_) out.push_back(&b_);
  cell_collect(out);
}

template <class S>
void RecurrentLayer<S>::forward(const Mat<S>& X, const SeqInfo& info, Mat<S>& H) {
  const int B = info.B;
  const long cols = info.cols();
  ax_.resize(G_ * H_, cols);
  W_.apply(X, ax_, w2x_);  // all steps in one product
  if (has_bias_) ax_.colwise() += b_.value.col(0);
  H.resize(H_, cols);
  rh_.resize(G_ * H_, B);
  zero_h_.setZero(H_, B);
  cell_alloc(cols);
  for (int t = 0; t < info.T; ++t) {
    const long c0 = static_cast<long>(t) * B;
    auto h = H.middleCols(c0, B);
    if (t == 0) {
      rh_.setZero();
      step_forward(t, B, ax_.middleCols(c0, B), rh_, zero_h_, h);
      continue;
    }
    auto hprev = H.middleCols(c0 - B, B);
    U_.apply(hprev, rh_, u2h_);
    step_forward(t, B, ax_.middleCols(c0, B), rh_, hprev, h);
    const int n = info.active[t];
    if (n < B) h.rightCols(B - n) = hprev.rightCols(B - n);  // finished sequences keep their state
  }
}

template <class S>
void RecurrentLayer<S>::backward(const Mat<S>& X, const SeqInfo& info, const Mat<S>& H, const Mat<S>& dH,
                                 Mat<S>* dX) {
  const int B = info.B;
  const long cols = info.cols();
  da_.resize(G_ * H_, cols);
  Mat<S>& dr = separate_recurrent_grad() ? dr_ : da_;
  dr.resize(G_ * H_, cols);
  carry_.setZero(H_, B);
  cell_begin_backward();
  for (int t = info.T - 1; t >= 0; --t) {
    const long c0 = static_cast<long>(t) * B;
    dh_ = dH.middleCols(c0, B) + carry_;
    const int n = info.active[t];
    // Padded steps: the gradient passes to the previous step unchanged and touches no parameter.
    if (n < B) {
      tmp2_ = dh_.rightCols(B - n);
      dh_.rightCols(B - n).setZero();
    }
    if (t == 0) {
      step_backward(t, B, zero_h_, H.middleCols(c0, B), dh_, carry_, da_.middleCols(c0, B), dr.middleCols(c0, B));
      break;
    }
    step_backward(t, B, H.middleCols(c0 - B, B), H.middleCols(c0, B), dh_, carry_, da_.middleCols(c0, B),
                  dr.middleCols(c0, B));
    if (n < B) carry_.rightCols(B - n) = tmp2_;
    U_.apply_transpose_add(dr.middleCols(c0, B), carry_, tmp_);
  }
  W_.grad(da_, X, W_.low_rank() ? &w2x_ : nullptr, tmp_);
  if (has_bias_) b_.grad.col(0) += da_.rowwise().sum();
  if (info.T > 1) U_.grad(dr.rightCols(cols - B), H.leftCols(cols - B), nullptr, tmp_);
  cell_finish_backward(da_, dr);
  if (dX) {
    dX->setZero(in_, cols);
    W_.apply_transpose_add(da_, *dX, tmp_);
  }
}

// ---------------------------------------------------------------------------------------------------
// Vanilla RNN: h = tanh(W x + U h + b)

template <class S>
class RnnLayer final : public RecurrentLayer<S> {
 public:
  RnnLayer(const std::string& prefix, const LayerSpec& spec, int in) : RecurrentLayer<S>(prefix, spec, in, true) {}

 protected:
  void cell_alloc(long) override {}
  void step_forward(int, int, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>&, MRef<S> h) override {
    h.array() = (ax + rh).array().tanh();
  }
  void step_backward(int, int, const CRef<S>&, const CRef<S>& h, const CRef<S>& dh, MRef<S> dhprev, MRef<S> da,
                     MRef<S>) override {
    da.array() = dh.array() * (S(1) - h.array().square());
    dhprev.setZero();
  }
};

// ---------------------------------------------------------------------------------------------------
// GRU (PyTorch): r = σ(Wr x + Ur h + br), z = σ(Wz x + Uz h + bz), n = tanh(Wn x + bn + r ⊙ (Un h + bhn)),
// h' = (1 - z) ⊙ n + z ⊙ h.

template <class S>
class GruLayer final : public RecurrentLayer<S> {
  using Base = RecurrentLayer<S>;
  using Base::H_;

 public:
  GruLayer(const std::string& prefix, const LayerSpec& spec, int in)
      : Base(prefix, spec, in, true), bhn_(bias_param<S>(prefix + "bhn", spec.width)) {}

 protected:
  void cell_collect(std::vector<Param<S>*>& out) override { out.push_back(&bhn_); }
  void cell_alloc(long cols) override {
    gates_.resize(3 * H_, cols);
    rn_.resize(H_, cols);
  }
  bool separate_recurrent_grad() const override { return true; }
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>& hprev, MRef<S> h) override {
    const long c0 = static_cast<long>(t) * B;
    auto g = gates_.middleCols(c0, B);
    auto r = g.topRows(H_);
    auto z = g.middleRows(H_, H_);
    auto n = g.bottomRows(H_);
    auto rn = rn_.middleCols(c0, B);
    r.array() = (ax.topRows(H_) + rh.topRows(H_)).array().logistic();
    z.array() = (ax.middleRows(H_, H_) + rh.middleRows(H_, H_)).array().logistic();
    rn = rh.bottomRows(H_).colwise() + bhn_.value.col(0);
    n.array() = (ax.bottomRows(H_).array() + r.array() * rn.array()).tanh();
    h.array() = n.array() + z.array() * (hprev.array() - n.array());
  }
  void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev,
                     MRef<S> da, MRef<S> dr) override {
    const long c0 = static_cast<long>(t) * B;
    auto g = gates_.middleCols(c0, B);
    auto r = g.topRows(H_).array();
    auto z = g.middleRows(H_, H_).array();
    auto n = g.bottomRows(H_).array();
    auto rn = rn_.middleCols(c0, B).array();
    auto dar = da.topRows(H_);
    auto daz = da.middleRows(H_, H_);
    auto dan = da.bottomRows(H_);
    dan.array() = dh.array() * (S(1) - z) * (S(1) - n.square());
    daz.array() = dh.array() * (hprev.array() - n) * z * (S(1) - z);
    dar.array() = dan.array() * rn * r * (S(1) - r);
    dhprev.array() = dh.array() * z;
    dr.topRows(2 * H_) = da.topRows(2 * H_);
    dr.bottomRows(H_).array() = dan.array() * r;
  }
  void cell_finish_backward(const Mat<S>&, const Mat<S>& dr) override {
    bhn_.grad.col(0) += dr.bottomRows(H_).rowwise().sum();
  }

 private:
  Param<S> bhn_;
  Mat<S> gates_;  // r, z, n per step
  Mat<S> rn_;     // U_n h + b_hn per step
};

// ---------------------------------------------------------------------------------------------------
// LSTM (PyTorch): i, f, o = σ(.), g = tanh(.), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').

template <class S>
class LstmLayer final : public RecurrentLayer<S> {
  using Base = RecurrentLayer<S>;
  using Base::H_;

 public:
  LstmLayer(const std::string& prefix, const LayerSpec& spec, int in) : Base(prefix, spec, in, true) {}

 protected:
  void cell_init(Rng&) override { this->b_.value.middleRows(H_, H_).setOnes(); }  // forget-gate bias 1
  void cell_alloc(long cols) override {
    gates_.resize(4 * H_, cols);
    c_.resize(H_, cols);
    tc_.resize(H_, cols);
  }
  void cell_begin_backward() override { dc_carry_.resize(0, 0); }
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>&, MRef<S> h) override {
    const long c0 = static_cast<long>(t) * B;
    auto g = gates_.middleCols(c0, B);
    g.array() = (ax + rh).array();
    g.topRows(2 * H_).array() = g.topRows(2 * H_).array().logistic();          // i, f
    g.middleRows(2 * H_, H_).array() = g.middleRows(2 * H_, H_).array().tanh();  // g
    g.bottomRows(H_).array() = g.bottomRows(H_).array().logistic();            // o
    auto i = g.topRows(H_).array();
    auto f = g.middleRows(H_, H_).array();
    auto gg = g.middleRows(2 * H_, H_).array();
    auto o = g.bottomRows(H_).array();
    auto c = c_.middleCols(c0, B);
    if (t == 0)
      c.array() = i * gg;
    else
      c.array() = f * c_.middleCols(c0 - B, B).array() + i * gg;
    auto tc = tc_.middleCols(c0, B);
    tc.array() = c.array().tanh();
    h.array() = o * tc.array();
  }
  void step_backward(int t, int B, const CRef<S>&, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev, MRef<S> da,
                     MRef<S>) override {
    const long c0 = static_cast<long>(t) * B;
    auto g = gates_.middleCols(c0, B);
    auto i = g.topRows(H_).array();
    auto f = g.middleRows(H_, H_).array();
    auto gg = g.middleRows(2 * H_, H_).array();
    auto o = g.bottomRows(H_).array();
    auto tc = tc_.middleCols(c0, B).array();
    if (dc_carry_.size() == 0) dc_carry_.setZero(H_, B);
    dc_ = (dc_carry_.array() + dh.array() * o * (S(1) - tc.square())).matrix();
    da.topRows(H_).array() = dc_.array() * gg * i * (S(1) - i);
    if (t > 0)
      da.middleRows(H_, H_).array() = dc_.array() * c_.middleCols(c0 - B, B).array() * f * (S(1) - f);
    else
      da.middleRows(H_, H_).setZero();
    da.middleRows(2 * H_, H_).array() = dc_.array() * i * (S(1) - gg.square());
    da.bottomRows(H_).array() = dh.array() * tc * o * (S(1) - o);
    dc_carry_.array() = dc_.array() * f;
    dhprev.setZero();
  }

 private:
  Mat<S> gates_, c_, tc_;
  Mat<S> dc_, dc_carry_;
};

// ---------------------------------------------------------------------------------------------------
// FastRNN (Kusupati et al. 2018): h~ = tanh(W x + U h + b), h' = α h~ + β h, α = σ(a), β = σ(b_).

template <class S>
class FastRnnLayer final : public RecurrentLayer<S> {
  using Base = RecurrentLayer<S>;
  using Base::H_;

 public:
  FastRnnLayer(const std::string& prefix, const LayerSpec& spec, int in)
      : Base(prefix, spec, in, true),
        alpha_(scalar_param<S>(prefix + "alpha", -3.0)),  // EdgeML's initial values
        beta_(scalar_param<S>(prefix + "beta", 3.0)) {}

 protected:
  void cell_init(Rng&) override {
    alpha_.value(0, 0) = S(-3);
    beta_.value(0, 0) = S(3);
  }
  void cell_collect(std::vector<Param<S>*>& out) override {
    out.push_back(&alpha_);
    out.push_back(&beta_);
  }
  void cell_alloc(long cols) override { ht_.resize(H_, cols); }
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>& hprev, MRef<S> h) override {
    auto ht = ht_.middleCols(static_cast<long>(t) * B, B);
    ht.array() = (ax + rh).array().tanh();
    const S a = sigmoid(alpha_.value(0, 0)), b = sigmoid(beta_.value(0, 0));
    h.array() = a * ht.array() + b * hprev.array();
  }
  void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev,
                     MRef<S> da, MRef<S>) override {
    auto ht = ht_.middleCols(static_cast<long>(t) * B, B).array();
    const S a = sigmoid(alpha_.value(0, 0)), b = sigmoid(beta_.value(0, 0));
    da.array() = a * dh.array() * (S(1) - ht.square());
    dhprev.array() = b * dh.array();
    alpha_.grad(0, 0) += a * (S(1) - a) * (dh.array() * ht).sum();
    beta_.grad(0, 0) += b * (S(1) - b) * (dh.array() * hprev.array()).sum();
  }

 private:
  Param<S> alpha_, beta_;
  Mat<S> ht_;
};

// ---------------------------------------------------------------------------------------------------
// FastGRNN (Kusupati et al. 2018): one W and U shared by gate and update,
//   z = σ(W x + U h + b_z), h~ = tanh(W x + U h + b_h), h' = (ζ (1 - z) + ν) ⊙ h~ + z ⊙ h,
//   ζ = σ(zeta), ν = σ(nu).

template <class S>
class FastGrnnLayer final : public RecurrentLayer<S> {
  using Base = RecurrentLayer<S>;
  using Base::H_;

 public:
  FastGrnnLayer(const std::string& prefix, const LayerSpec& spec, int in)
      : Base(prefix, spec, in, false),
        bz_(bias_param<S>(prefix + "bz", spec.width)),
        bh_(bias_param<S>(prefix + "bh", spec.width)),
        zeta_(scalar_param<S>(prefix + "zeta", 1.0)),  // EdgeML's initial values
        nu_(scalar_param<S>(prefix + "nu", -4.0)) {}

 protected:
  void cell_init(Rng&) override {
    bz_.value.setOnes();
    bh_.value.setZero();
    zeta_.value(0, 0) = S(1);
    nu_.value(0, 0) = S(-4);
  }
  void cell_collect(std::vector<Param<S>*>& out) override {
    out.push_back(&bz_);
    out.push_back(&bh_);
    out.push_back(&zeta_);
    out.push_back(&nu_);
  }
  void cell_alloc(long cols) override { zc_.resize(2 * H_, cols); }
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>& hprev, MRef<S> h) override {
    auto zc = zc_.middleCols(static_cast<long>(t) * B, B);
    auto z = zc.topRows(H_);
    auto c = zc.bottomRows(H_);
    pre_ = ax + rh;
    z.array() = (pre_.colwise() + bz_.value.col(0)).array().logistic();
    c.array() = (pre_.colwise() + bh_.value.col(0)).array().tanh();
    const S zeta = sigmoid(zeta_.value(0, 0)), nu = sigmoid(nu_.value(0, 0));
    h.array() = (zeta * (S(1) - z.array()) + nu) * c.array() + z.array() * hprev.array();
  }
  void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev,
                     MRef<S> da, MRef<S>) override {
    auto zc = zc_.middleCols(static_cast<long>(t) * B, B);
    auto z = zc.topRows(H_).array();
    auto c = zc.bottomRows(H_).array();
    const S zeta = sigmoid(zeta_.value(0, 0)), nu = sigmoid(nu_.value(0, 0));
    daz_ = (dh.array() * (hprev.array() - zeta * c) * z * (S(1) - z)).matrix();
    dac_ = (dh.array() * (zeta * (S(1) - z) + nu) * (S(1) - c.square())).matrix();
    da = daz_ + dac_;
    dhprev.array() = dh.array() * z;
    bz_.grad.col(0) += daz_.rowwise().sum();
    bh_.grad.col(0) += dac_.rowwise().sum();
    zeta_.grad(0, 0) += zeta * (S(1) - zeta) * (dh.array() * (S(1) - z) * c).sum();
    nu_.grad(0, 0) += nu * (S(1) - nu) * (dh.array() * c).sum();
  }

 private:
  Param<S> bz_, bh_, zeta_, nu_;
  Mat<S> zc_;  // z and h~ per step
  Mat<S> pre_, daz_, dac_;
};

template <class S>
std::unique_ptr<RecurrentLayer<S>> make_layer(const std::string& prefix, const LayerSpec& spec, int in_dim) {
  switch (spec.cell) {
    case CellType::rnn:
      return std::make_unique<RnnLayer<S>>(prefix, spec, in_dim);
    case CellType::gru:
      return std::make_unique<GruLayer<S>>(prefix, spec, in_dim);
    case CellType::lstm:
      return std::make_unique<LstmLayer<S>>(prefix, spec, in_dim);
    case CellType::fastrnn:
      return std::make_unique<FastRnnLayer<S>>(prefix, spec, in_dim);
    case CellType::fastgrnn:
      return std::make_unique<FastGrnnLayer<S>>(prefix, spec, in_dim);
  }
  return nullptr;
}

template class RecurrentLayer<float>;
template class RecurrentLayer<double>;
template std::unique_ptr<RecurrentLayer<float>> make_layer(const std::string&, const LayerSpec&, int);
template std::unique_ptr<RecurrentLayer<double>> make_layer(const std::string&, const LayerSpec&, int);

}  // namespace rnnas::nn

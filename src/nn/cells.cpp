// Recurrent layers: the shared time loop (RecurrentLayer) and the five cells.
// Conventions follow PyTorch where it has the cell (gate order r,z,n for GRU with the reset gate applied
// to U_n h + b_hn; i,f,g,o for LSTM) and EdgeML / Kusupati et al. 2018 for FastRNN and FastGRNN.
#include <cmath>

#include "act.h"
#include "layers.h"

namespace rnnas::nn {
namespace {

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
  H.resize(H_, cols);
  ax_.resize(G_ * H_, B);
  rh_.setZero(G_ * H_, B);
  zero_h_.setZero(H_, B);
  if (W_.low_rank()) w2x_.resize(W_.rank(), cols);  // kept for the W1 gradient
  W_.prepare_step_products();
  U_.prepare_step_products();
  cell_alloc(cols);
  for (int t = 0; t < info.T; ++t) {
    const long c0 = static_cast<long>(t) * B;
    // Input projection per step, while the step is in cache.
    if (W_.low_rank())
      W_.step_apply_keep(X.middleCols(c0, B), ax_, w2x_.middleCols(c0, B));
    else
      W_.step_apply(X.middleCols(c0, B), ax_, tmp_);
    if (has_bias_) ax_.colwise() += b_.value.col(0);
    auto h = H.middleCols(c0, B);
    if (t == 0) {
      step_forward(t, B, ax_, rh_, zero_h_, h);  // rh_ is zero: h_{-1} = 0
      continue;
    }
    auto hprev = H.middleCols(c0 - B, B);
    U_.step_apply(hprev, rh_, u2h_);
    step_forward(t, B, ax_, rh_, hprev, h);
    const int n = info.active[t];
    if (n < B) h.rightCols(B - n) = hprev.rightCols(B - n);  // finished sequences keep their state
  }
}

template <class S>
void RecurrentLayer<S>::backward(const Mat<S>& X, const SeqInfo& info, const Mat<S>& H, const Mat<S>& dH, Mat<S>* dX) {
  const int B = info.B;
  const long cols = info.cols();
  // Gradients from above: every step (mean head, upper layer) or only the last step (last head).
  const bool last_only = dH.cols() == B && info.T > 1;
  da_.resize(G_ * H_, B);
  Mat<S>& dr = separate_recurrent_grad() ? dr_ : da_;
  dr.resize(G_ * H_, B);
  carry_.setZero(H_, B);
  if (dX) dX->resize(in_, cols);
  cell_begin_backward();
  for (int t = info.T - 1; t >= 0; --t) {
    const long c0 = static_cast<long>(t) * B;
    if (last_only)
      dh_ = t == info.T - 1 ? dH + carry_ : carry_;
    else
      dh_ = dH.middleCols(c0, B) + carry_;
    const int n = info.active[t];
    // Padded steps: the gradient passes to the previous step unchanged and touches no parameter (a zero
    // dh gives zero da and dr in every cell).
    if (n < B) {
      tmp2_ = dh_.rightCols(B - n);
      dh_.rightCols(B - n).setZero();
    }
    const CRef<S> hprev = t > 0 ? CRef<S>(H.middleCols(c0 - B, B)) : CRef<S>(zero_h_);
    step_backward(t, B, hprev, H.middleCols(c0, B), dh_, carry_, da_, dr);
    if (n < B) carry_.rightCols(B - n) = tmp2_;
    // Weight gradients per step, while da and dr are in cache.
    const auto xt = X.middleCols(c0, B);
    if (W_.low_rank())
      W_.grad(da_, xt, w2x_.middleCols(c0, B), tmp_);
    else
      W_.grad(da_, xt, tmp_);
    if (has_bias_) b_.grad.col(0) += da_.rowwise().sum();
    if (dX) {
      auto dxt = dX->middleCols(c0, B);
      dxt.setZero();
      W_.step_apply_transpose_add(da_, dxt, tmp_);
    }
    if (t > 0) {
      U_.grad(dr, hprev, tmp_);
      U_.step_apply_transpose_add(dr, carry_, tmp_);
    }
  }
  cell_finish_backward();
}

// ---------------------------------------------------------------------------------------------------
// Cells. Each step kernel is one fused pass over the step's columns: for sample b, the G*H
// pre-activations of column b are contiguous (gate-major), as are the H states. The inner loop over the
// hidden units is what the compiler vectorises. All blocks passed in are column blocks of
// column-major matrices with full height, so `data() + b * rows` addresses column b.

template <class S>
const S* col(const CRef<S>& m, int b) {
  return m.data() + static_cast<long>(b) * m.outerStride();
}
template <class S>
S* col(MRef<S>& m, int b) {
  return m.data() + static_cast<long>(b) * m.outerStride();
}

// Fused per-sample kernels. restrict-qualified parameters (rather than locals) are what lets the
// compiler vectorise loops with this many streams.
template <class S>
void gru_forward_kernel(int H, const S* __restrict ar, const S* __restrict az, const S* __restrict an,
                        const S* __restrict rr, const S* __restrict rz, const S* __restrict rn_in,
                        const S* __restrict bhn, const S* __restrict hp, S* __restrict gr, S* __restrict gz,
                        S* __restrict gn, S* __restrict rn, S* __restrict h) {
  for (int i = 0; i < H; ++i) {
    const S rg = act_sigmoid(ar[i] + rr[i]);
    const S zg = act_sigmoid(az[i] + rz[i]);
    const S rnv = rn_in[i] + bhn[i];
    const S ng = act_tanh(an[i] + rg * rnv);
    gr[i] = rg;
    gz[i] = zg;
    gn[i] = ng;
    rn[i] = rnv;
    h[i] = ng + zg * (hp[i] - ng);
  }
}

template <class S>
void gru_backward_kernel(int H, const S* __restrict gr, const S* __restrict gz, const S* __restrict gn,
                         const S* __restrict rn, const S* __restrict hp, const S* __restrict dh, S* __restrict dar,
                         S* __restrict daz, S* __restrict dan, S* __restrict drr, S* __restrict drz,
                         S* __restrict drn, S* __restrict dhp, S* __restrict sbhn) {
  for (int i = 0; i < H; ++i) {
    const S rg = gr[i], zg = gz[i], ng = gn[i];
    const S an = dh[i] * (S(1) - zg) * (S(1) - ng * ng);
    const S az = dh[i] * (hp[i] - ng) * zg * (S(1) - zg);
    const S ar = an * rn[i] * rg * (S(1) - rg);
    dar[i] = ar;
    daz[i] = az;
    dan[i] = an;
    drr[i] = ar;
    drz[i] = az;
    drn[i] = an * rg;
    sbhn[i] += an * rg;
    dhp[i] = dh[i] * zg;
  }
}

template <class S>
void lstm_forward_kernel(int H, const S* __restrict ai, const S* __restrict af, const S* __restrict ag,
                         const S* __restrict ao, const S* __restrict ri, const S* __restrict rf,
                         const S* __restrict rg, const S* __restrict ro, const S* __restrict cp, S* __restrict gi,
                         S* __restrict gf, S* __restrict gg, S* __restrict go, S* __restrict c, S* __restrict tc,
                         S* __restrict h) {
  for (int i = 0; i < H; ++i) {
    const S iv = act_sigmoid(ai[i] + ri[i]);
    const S fv = act_sigmoid(af[i] + rf[i]);
    const S gv = act_tanh(ag[i] + rg[i]);
    const S ov = act_sigmoid(ao[i] + ro[i]);
    const S cv = fv * cp[i] + iv * gv;
    const S tcv = act_tanh(cv);
    gi[i] = iv;
    gf[i] = fv;
    gg[i] = gv;
    go[i] = ov;
    c[i] = cv;
    tc[i] = tcv;
    h[i] = ov * tcv;
  }
}

template <class S>
void lstm_backward_kernel(int H, const S* __restrict gi, const S* __restrict gf, const S* __restrict gg,
                          const S* __restrict go, const S* __restrict tc, const S* __restrict cp,
                          const S* __restrict dh, S* __restrict dc, S* __restrict dai, S* __restrict daf,
                          S* __restrict dag, S* __restrict dao) {
  for (int i = 0; i < H; ++i) {
    const S iv = gi[i], fv = gf[i], gv = gg[i], ov = go[i];
    const S dcv = dc[i] + dh[i] * ov * (S(1) - tc[i] * tc[i]);
    dai[i] = dcv * gv * iv * (S(1) - iv);
    daf[i] = dcv * cp[i] * fv * (S(1) - fv);
    dag[i] = dcv * iv * (S(1) - gv * gv);
    dao[i] = dh[i] * tc[i] * ov * (S(1) - ov);
    dc[i] = dcv * fv;
  }
}

// Vanilla RNN: h = tanh(W x + U h + b)
template <class S>
class RnnLayer final : public RecurrentLayer<S> {
  using Base = RecurrentLayer<S>;
  using Base::H_;

 public:
  RnnLayer(const std::string& prefix, const LayerSpec& spec, int in) : Base(prefix, spec, in, true) {}

 protected:
  void cell_alloc(long) override {}
  void step_forward(int, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>&, MRef<S> h) override {
    for (int b = 0; b < B; ++b) {
      const S* __restrict a = col(ax, b);
      const S* __restrict r = col(rh, b);
      S* __restrict hb = col(h, b);
      for (int i = 0; i < H_; ++i) hb[i] = act_tanh(a[i] + r[i]);
    }
  }
  void step_backward(int, int B, const CRef<S>&, const CRef<S>& h, const CRef<S>& dh, MRef<S> dhprev, MRef<S> da,
                     MRef<S>) override {
    for (int b = 0; b < B; ++b) {
      const S* __restrict hb = col(h, b);
      const S* __restrict g = col(dh, b);
      S* __restrict d = col(da, b);
      for (int i = 0; i < H_; ++i) d[i] = g[i] * (S(1) - hb[i] * hb[i]);
    }
    dhprev.setZero();
  }
};

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
    const int H = H_;
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b) {
      const S* a = col(ax, b);
      const S* r = col(rh, b);
      S* g = gates_.data() + (c0 + b) * 3 * H;
      gru_forward_kernel(H, a, a + H, a + 2 * H, r, r + H, r + 2 * H, bhn_.value.data(), col(hprev, b), g, g + H,
                         g + 2 * H, rn_.data() + (c0 + b) * H, col(h, b));
    }
  }
  void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev,
                     MRef<S> da, MRef<S> dr) override {
    const int H = H_;
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b) {
      const S* g = gates_.data() + (c0 + b) * 3 * H;
      S* dab = col(da, b);
      S* drb = col(dr, b);
      gru_backward_kernel(H, g, g + H, g + 2 * H, rn_.data() + (c0 + b) * H, col(hprev, b), col(dh, b), dab,
                          dab + H, dab + 2 * H, drb, drb + H, drb + 2 * H, col(dhprev, b), sbhn_.data());
    }
  }
  void cell_finish_backward() override { bhn_.grad += sbhn_; }
  void cell_begin_backward() override { sbhn_.setZero(H_, 1); }

 private:
  Param<S> bhn_;
  Mat<S> gates_;  // r, z, n per step
  Mat<S> rn_;     // U_n h + b_hn per step
  Mat<S> sbhn_;   // per-unit gradient sum of b_hn
};

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
    czero_.setZero(H_, 1);
  }
  void cell_begin_backward() override { dc_carry_.resize(0, 0); }
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>&, MRef<S> h) override {
    const int H = H_;
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b) {
      const S* a = col(ax, b);
      const S* r = col(rh, b);
      S* g = gates_.data() + (c0 + b) * 4 * H;
      const S* cp = t > 0 ? c_.data() + (c0 - B + b) * H : czero_.data();
      lstm_forward_kernel(H, a, a + H, a + 2 * H, a + 3 * H, r, r + H, r + 2 * H, r + 3 * H, cp, g, g + H, g + 2 * H,
                          g + 3 * H, c_.data() + (c0 + b) * H, tc_.data() + (c0 + b) * H, col(h, b));
    }
  }
  void step_backward(int t, int B, const CRef<S>&, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev, MRef<S> da,
                     MRef<S>) override {
    const int H = H_;
    const long c0 = static_cast<long>(t) * B;
    if (dc_carry_.size() == 0) dc_carry_.setZero(H, B);
    for (int b = 0; b < B; ++b) {
      const S* g = gates_.data() + (c0 + b) * 4 * H;
      S* dab = col(da, b);
      const S* cp = t > 0 ? c_.data() + (c0 - B + b) * H : czero_.data();
      lstm_backward_kernel(H, g, g + H, g + 2 * H, g + 3 * H, tc_.data() + (c0 + b) * H, cp, col(dh, b),
                           dc_carry_.data() + static_cast<long>(b) * H, dab, dab + H, dab + 2 * H, dab + 3 * H);
    }
    dhprev.setZero();
  }

 private:
  Mat<S> gates_, c_, tc_, czero_;
  Mat<S> dc_carry_;
};

// FastRNN (Kusupati et al. 2018): h~ = tanh(W x + U h + b), h' = α h~ + β h, α = σ(alpha), β = σ(beta).
template <class S>
void fastrnn_forward_kernel(int H, S al, S be, const S* __restrict a, const S* __restrict r,
                            const S* __restrict hp, S* __restrict ht, S* __restrict h) {
  for (int i = 0; i < H; ++i) {
    const S v = act_tanh(a[i] + r[i]);
    ht[i] = v;
    h[i] = al * v + be * hp[i];
  }
}

// Per-unit sums (sa, sb) instead of scalar reductions keep the loop vectorisable.
template <class S>
void fastrnn_backward_kernel(int H, S al, S be, const S* __restrict ht, const S* __restrict hp,
                             const S* __restrict dh, S* __restrict da, S* __restrict dhp, S* __restrict sa,
                             S* __restrict sb) {
  for (int i = 0; i < H; ++i) {
    da[i] = al * dh[i] * (S(1) - ht[i] * ht[i]);
    dhp[i] = be * dh[i];
    sa[i] += dh[i] * ht[i];
    sb[i] += dh[i] * hp[i];
  }
}

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
  void cell_begin_backward() override {
    sa_.setZero(H_, 1);
    sb_.setZero(H_, 1);
  }
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>& hprev, MRef<S> h) override {
    const S al = exact_sigmoid(alpha_.value(0, 0)), be = exact_sigmoid(beta_.value(0, 0));
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b)
      fastrnn_forward_kernel(H_, al, be, col(ax, b), col(rh, b), col(hprev, b), ht_.data() + (c0 + b) * H_, col(h, b));
  }
  void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev,
                     MRef<S> da, MRef<S>) override {
    const S al = exact_sigmoid(alpha_.value(0, 0)), be = exact_sigmoid(beta_.value(0, 0));
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b)
      fastrnn_backward_kernel(H_, al, be, ht_.data() + (c0 + b) * H_, col(hprev, b), col(dh, b), col(da, b),
                              col(dhprev, b), sa_.data(), sb_.data());
  }
  void cell_finish_backward() override {
    const S al = exact_sigmoid(alpha_.value(0, 0)), be = exact_sigmoid(beta_.value(0, 0));
    alpha_.grad(0, 0) += al * (S(1) - al) * sa_.sum();
    beta_.grad(0, 0) += be * (S(1) - be) * sb_.sum();
  }

 private:
  Param<S> alpha_, beta_;
  Mat<S> ht_;
  Mat<S> sa_, sb_;
};

// FastGRNN (Kusupati et al. 2018): one W and U shared by gate and update,
//   z = σ(W x + U h + b_z), h~ = tanh(W x + U h + b_h), h' = (ζ (1 - z) + ν) ⊙ h~ + z ⊙ h,
//   ζ = σ(zeta), ν = σ(nu).
template <class S>
void fastgrnn_forward_kernel(int H, S zeta, S nu, const S* __restrict a, const S* __restrict r,
                             const S* __restrict bz, const S* __restrict bh, const S* __restrict hp,
                             S* __restrict zs, S* __restrict cs, S* __restrict h) {
  for (int i = 0; i < H; ++i) {
    const S pre = a[i] + r[i];
    const S z = act_sigmoid(pre + bz[i]);
    const S c = act_tanh(pre + bh[i]);
    zs[i] = z;
    cs[i] = c;
    h[i] = (zeta * (S(1) - z) + nu) * c + z * hp[i];
  }
}

template <class S>
void fastgrnn_backward_kernel(int H, S zeta, S nu, const S* __restrict zs, const S* __restrict cs,
                              const S* __restrict hp, const S* __restrict dh, S* __restrict da, S* __restrict dhp,
                              S* __restrict dbz, S* __restrict dbh, S* __restrict szeta, S* __restrict snu) {
  for (int i = 0; i < H; ++i) {
    const S z = zs[i], c = cs[i];
    const S daz = dh[i] * (hp[i] - zeta * c) * z * (S(1) - z);
    const S dac = dh[i] * (zeta * (S(1) - z) + nu) * (S(1) - c * c);
    da[i] = daz + dac;
    dhp[i] = dh[i] * z;
    dbz[i] += daz;
    dbh[i] += dac;
    szeta[i] += dh[i] * (S(1) - z) * c;
    snu[i] += dh[i] * c;
  }
}

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
  void cell_begin_backward() override { sums_.setZero(H_, 4); }  // dbz, dbh, zeta and nu per unit
  void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>& hprev, MRef<S> h) override {
    const S zeta = exact_sigmoid(zeta_.value(0, 0)), nu = exact_sigmoid(nu_.value(0, 0));
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b) {
      S* zc = zc_.data() + (c0 + b) * 2 * H_;
      fastgrnn_forward_kernel(H_, zeta, nu, col(ax, b), col(rh, b), bz_.value.data(), bh_.value.data(), col(hprev, b),
                              zc, zc + H_, col(h, b));
    }
  }
  void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>&, const CRef<S>& dh, MRef<S> dhprev,
                     MRef<S> da, MRef<S>) override {
    const S zeta = exact_sigmoid(zeta_.value(0, 0)), nu = exact_sigmoid(nu_.value(0, 0));
    const long c0 = static_cast<long>(t) * B;
    for (int b = 0; b < B; ++b) {
      const S* zc = zc_.data() + (c0 + b) * 2 * H_;
      fastgrnn_backward_kernel(H_, zeta, nu, zc, zc + H_, col(hprev, b), col(dh, b), col(da, b), col(dhprev, b),
                               sums_.col(0).data(), sums_.col(1).data(), sums_.col(2).data(), sums_.col(3).data());
    }
  }
  void cell_finish_backward() override {
    const S zeta = exact_sigmoid(zeta_.value(0, 0)), nu = exact_sigmoid(nu_.value(0, 0));
    bz_.grad += sums_.col(0);
    bh_.grad += sums_.col(1);
    zeta_.grad(0, 0) += zeta * (S(1) - zeta) * sums_.col(2).sum();
    nu_.grad(0, 0) += nu * (S(1) - nu) * sums_.col(3).sum();
  }

 private:
  Param<S> bz_, bh_, zeta_, nu_;
  Mat<S> zc_;    // z and h~ per step
  Mat<S> sums_;  // per-unit gradient sums over the batch and steps
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

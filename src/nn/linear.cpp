#include <algorithm>
#include <cmath>
#include <type_traits>

#include "layers.h"
#include "small_gemm.h"

namespace rnnas::nn {

template <class S>
Linear<S>::Linear(const std::string& name, int out, int in, int rank) : out_(out), in_(in), rank_(rank) {
  if (rank_ > 0) {
    w1_ = {name + "1", Mat<S>::Zero(out, rank), Mat<S>::Zero(out, rank), true};
    w2_ = {name + "2", Mat<S>::Zero(rank, in), Mat<S>::Zero(rank, in), true};
  } else {
    w_ = {name, Mat<S>::Zero(out, in), Mat<S>::Zero(out, in), true};
  }
}

template <class S>
void Linear<S>::init(Rng& rng, double bound) {
  auto fill = [&](Mat<S>& m, double b) {
    for (long j = 0; j < m.cols(); ++j)
      for (long i = 0; i < m.rows(); ++i) m(i, j) = static_cast<S>(rng.uniform(-b, b));
  };
  if (rank_ > 0) {
    // Var(sum_k a_k b_k) = rank * (a^2/3)^2 must equal bound^2 / 3.
    const double a = std::pow(3.0 * bound * bound / rank_, 0.25);
    fill(w1_.value, a);
    fill(w2_.value, a);
  } else {
    fill(w_.value, bound);
  }
}

// Weight matrices up to this many entries (16 KB of float, well inside L1) use the register-tiled
// kernel; larger ones, and double (the gradient check), Eigen's cache-blocked GEMM. Measured with
// bench/engine_bench (docs/engine.md).
constexpr long kSmallGemmMaxWeights = 4096;

// y (+)= W x for one step's columns.
template <class S>
void mul(const Mat<S>& w, const CRef<S>& x, MRef<S> y, bool accumulate) {
  if constexpr (std::is_same_v<S, float>) {
    if (w.size() <= kSmallGemmMaxWeights) {
      small_gemm(static_cast<int>(w.rows()), static_cast<int>(x.cols()), static_cast<int>(w.cols()), w.data(),
                 w.outerStride(), x.data(), x.outerStride(), y.data(), y.outerStride(), accumulate);
      return;
    }
  }
  if (accumulate)
    y.noalias() += w * x;
  else
    y.noalias() = w * x;
}

template <class S>
void Linear<S>::prepare_step_products() {
  if (rank_ > 0) {
    w1t_ = w1_.value.transpose();
    w2t_ = w2_.value.transpose();
  } else {
    wt_ = w_.value.transpose();
  }
}

template <class S>
void Linear<S>::step_apply(const CRef<S>& x, MRef<S> y, Mat<S>& tmp) const {
  if (rank_ > 0) {
    tmp.resize(rank_, x.cols());
    mul<S>(w2_.value, x, tmp, false);
    mul<S>(w1_.value, tmp, y, false);
  } else {
    mul<S>(w_.value, x, y, false);
  }
}

template <class S>
void Linear<S>::step_apply_transpose_add(const CRef<S>& dy, MRef<S> dx, Mat<S>& tmp) const {
  if (rank_ > 0) {
    tmp.resize(rank_, dy.cols());
    mul<S>(w1t_, dy, tmp, false);
    mul<S>(w2t_, tmp, dx, true);
  } else {
    mul<S>(wt_, dy, dx, true);
  }
}

// dW += dY X^T for one step's columns.
template <class S>
void mul_nt_add(const CRef<S>& dy, const CRef<S>& x, Mat<S>& dw) {
  if constexpr (std::is_same_v<S, float>) {
    small_gemm_nt(static_cast<int>(dw.rows()), static_cast<int>(dw.cols()), static_cast<int>(dy.cols()), dy.data(),
                  dy.outerStride(), x.data(), x.outerStride(), dw.data(), dw.outerStride());
  } else {
    dw.noalias() += dy * x.transpose();
  }
}

template <class S>
void Linear<S>::grad(const CRef<S>& dy, const CRef<S>& x, Mat<S>& tmp) {
  if (rank_ > 0) {
    w2x_scratch_.resize(rank_, x.cols());
    mul<S>(w2_.value, x, w2x_scratch_, false);
    grad(dy, x, w2x_scratch_, tmp);
    return;
  }
  mul_nt_add<S>(dy, x, w_.grad);
}

template <class S>
void Linear<S>::grad(const CRef<S>& dy, const CRef<S>& x, const CRef<S>& w2x, Mat<S>& tmp) {
  mul_nt_add<S>(dy, w2x, w1_.grad);
  tmp.resize(rank_, dy.cols());
  mul<S>(w1t_, dy, tmp, false);
  mul_nt_add<S>(tmp, x, w2_.grad);
}

template <class S>
void Linear<S>::step_apply_keep(const CRef<S>& x, MRef<S> y, MRef<S> w2x) const {
  mul<S>(w2_.value, x, w2x, false);
  mul<S>(w1_.value, w2x, y, false);
}

template <class S>
void Linear<S>::collect(std::vector<Param<S>*>& out) {
  if (rank_ > 0) {
    out.push_back(&w1_);
    out.push_back(&w2_);
  } else {
    out.push_back(&w_);
  }
}

template class Linear<float>;
template class Linear<double>;

}  // namespace rnnas::nn

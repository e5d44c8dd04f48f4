#include <cmath>

#include "layers.h"

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

template <class S>
void Linear<S>::apply(const CRef<S>& x, MRef<S> y, Mat<S>& w2x) const {
  if (rank_ > 0) {
    w2x.resize(rank_, x.cols());
    w2x.noalias() = w2_.value * x;
    y.noalias() = w1_.value * w2x;
  } else {
    y.noalias() = w_.value * x;
  }
}

template <class S>
void Linear<S>::apply_transpose_add(const CRef<S>& dy, MRef<S> dx, Mat<S>& tmp) const {
  if (rank_ > 0) {
    tmp.resize(rank_, dy.cols());
    tmp.noalias() = w1_.value.transpose() * dy;
    dx.noalias() += w2_.value.transpose() * tmp;
  } else {
    dx.noalias() += w_.value.transpose() * dy;
  }
}

template <class S>
void Linear<S>::grad(const CRef<S>& dy, const CRef<S>& x, const Mat<S>* w2x, Mat<S>& tmp) {
  if (rank_ > 0) {
    if (w2x) {
      w1_.grad.noalias() += dy * w2x->transpose();
    } else {
      tmp.resize(rank_, x.cols());
      tmp.noalias() = w2_.value * x;
      w1_.grad.noalias() += dy * tmp.transpose();
    }
    tmp.resize(rank_, dy.cols());
    tmp.noalias() = w1_.value.transpose() * dy;
    w2_.grad.noalias() += tmp * x.transpose();
  } else {
    w_.grad.noalias() += dy * x.transpose();
  }
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

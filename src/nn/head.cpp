#include <cmath>

#include "layers.h"

namespace rnnas::nn {

template <class S>
Head<S>::Head(HeadType type, int in, int dense, int out) : type_(type), in_(in), dense_(dense), out_(out) {
  const int last = dense > 0 ? dense : in;
  if (dense > 0) {
    wd_ = {"head.Wd", Mat<S>::Zero(dense, in), Mat<S>::Zero(dense, in), true};
    bd_ = {"head.bd", Mat<S>::Zero(dense, 1), Mat<S>::Zero(dense, 1), false};
  }
  wo_ = {"head.Wo", Mat<S>::Zero(out, last), Mat<S>::Zero(out, last), true};
  bo_ = {"head.bo", Mat<S>::Zero(out, 1), Mat<S>::Zero(out, 1), false};
}

template <class S>
void Head<S>::init(Rng& rng) {
  auto fill = [&](Mat<S>& m) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(m.cols()));
    for (long j = 0; j < m.cols(); ++j)
      for (long i = 0; i < m.rows(); ++i) m(i, j) = static_cast<S>(rng.uniform(-bound, bound));
  };
  if (dense_ > 0) {
    fill(wd_.value);
    bd_.value.setZero();
  }
  fill(wo_.value);
  bo_.value.setZero();
}

template <class S>
void Head<S>::collect(std::vector<Param<S>*>& out) {
  if (dense_ > 0) {
    out.push_back(&wd_);
    out.push_back(&bd_);
  }
  out.push_back(&wo_);
  out.push_back(&bo_);
}

template <class S>
const Mat<S>& Head<S>::forward(const Mat<S>& H, const SeqInfo& info) {
  const int B = info.B;
  if (type_ == HeadType::last) {
    z_ = H.middleCols(static_cast<long>(info.T - 1) * B, B);  // frozen states make T-1 everyone's last step
  } else {
    z_.setZero(in_, B);
    for (int t = 0; t < info.T; ++t) z_.leftCols(info.active[t]) += H.middleCols(static_cast<long>(t) * B, info.active[t]);
    for (int b = 0; b < B; ++b) z_.col(b) /= static_cast<S>(info.len[b]);
  }
  const Mat<S>* x = &z_;
  if (dense_ > 0) {
    d_.resize(dense_, B);
    d_.noalias() = wd_.value * z_;
    d_.colwise() += bd_.value.col(0);
    d_ = d_.cwiseMax(S(0));
    x = &d_;
  }
  out_m_.resize(out_, B);
  out_m_.noalias() = wo_.value * *x;
  out_m_.colwise() += bo_.value.col(0);
  return out_m_;
}

template <class S>
void Head<S>::backward(const Mat<S>& dout, const SeqInfo& info, Mat<S>& dH) {
  const int B = info.B;
  const Mat<S>& x = dense_ > 0 ? d_ : z_;
  wo_.grad.noalias() += dout * x.transpose();
  bo_.grad.col(0) += dout.rowwise().sum();
  dz_.resize(in_, B);
  if (dense_ > 0) {
    dd_.resize(dense_, B);
    dd_.noalias() = wo_.value.transpose() * dout;
    dd_ = (d_.array() > S(0)).select(dd_, S(0));
    wd_.grad.noalias() += dd_ * z_.transpose();
    bd_.grad.col(0) += dd_.rowwise().sum();
    dz_.noalias() = wd_.value.transpose() * dd_;
  } else {
    dz_.noalias() = wo_.value.transpose() * dout;
  }
  if (type_ == HeadType::last) {
    dH = dz_;
  } else {
    dH.setZero(in_, info.cols());
    for (int b = 0; b < B; ++b) dz_.col(b) /= static_cast<S>(info.len[b]);
    for (int t = 0; t < info.T; ++t) dH.middleCols(static_cast<long>(t) * B, info.active[t]) = dz_.leftCols(info.active[t]);
  }
}

template class Head<float>;
template class Head<double>;

}  // namespace rnnas::nn

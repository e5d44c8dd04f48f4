#include <cmath>

#include "rnnas/nn.h"

namespace rnnas::nn {

std::string_view to_string(LossKind k) {
  switch (k) {
    case LossKind::cross_entropy:
      return "cross_entropy";
    case LossKind::mse:
      return "mse";
    case LossKind::huber:
      return "huber";
  }
  return "?";
}

template <class S>
S loss_and_grad(const LossOptions& opt, const Mat<S>& out, const std::vector<int>& label, const Mat<S>& y,
                Mat<S>* dout) {
  const long B = out.cols();
  const long O = out.rows();
  if (dout) dout->resize(O, B);
  if (opt.kind == LossKind::cross_entropy) {
    double total = 0, weight_sum = 0;
    for (long b = 0; b < B; ++b) {
      const int k = label[b];
      const S w = opt.class_weights.empty() ? S(1) : static_cast<S>(opt.class_weights[k]);
      const S m = out.col(b).maxCoeff();
      const S sum = (out.col(b).array() - m).exp().sum();
      const S lse = m + std::log(sum);
      total += static_cast<double>(w * (lse - out(k, b)));
      weight_sum += static_cast<double>(w);
      if (dout) {
        dout->col(b) = ((out.col(b).array() - lse).exp() * w).matrix();
        (*dout)(k, b) -= w;
      }
    }
    if (weight_sum <= 0) weight_sum = 1;
    if (dout) *dout /= static_cast<S>(weight_sum);
    return static_cast<S>(total / weight_sum);
  }
  const S n = static_cast<S>(B * O);
  if (opt.kind == LossKind::mse) {
    const Mat<S> diff = out - y;
    if (dout) *dout = diff * (S(2) / n);
    return diff.squaredNorm() / n;
  }
  const S delta = static_cast<S>(opt.huber_delta);
  S total = 0;
  for (long b = 0; b < B; ++b)
    for (long o = 0; o < O; ++o) {
      const S e = out(o, b) - y(o, b);
      const S a = std::abs(e);
      total += a <= delta ? S(0.5) * e * e : delta * (a - S(0.5) * delta);
      if (dout) (*dout)(o, b) = (a <= delta ? e : (e > 0 ? delta : -delta)) / n;
    }
  return total / n;
}

template float loss_and_grad(const LossOptions&, const Mat<float>&, const std::vector<int>&, const Mat<float>&,
                             Mat<float>*);
template double loss_and_grad(const LossOptions&, const Mat<double>&, const std::vector<int>&,
                              const Mat<double>&, Mat<double>*);

}  // namespace rnnas::nn

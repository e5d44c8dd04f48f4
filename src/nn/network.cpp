#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "layers.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace rnnas::nn {
namespace {

// Flush denormal floats to zero for the scope (restoring the caller's mode after). Long sequences drive
// gradients through many gates into the denormal range, where x86 arithmetic is up to ~100x slower;
// deep-learning frameworks flush them too. Deterministic: the same inputs give the same bits.
class FlushDenormals {
 public:
  FlushDenormals() {
#if defined(__SSE__)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
#endif
  }
  ~FlushDenormals() {
#if defined(__SSE__)
    _mm_setcsr(saved_);
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  static constexpr unsigned kFlushToZero = 0x8000;
  static constexpr unsigned kDenormalsAreZero = 0x0040;
  unsigned saved_ = 0;
};

}  // namespace

template <class S>
Network<S>::Network() = default;
template <class S>
Network<S>::Network(Network&&) noexcept = default;
template <class S>
Network<S>& Network<S>::operator=(Network&&) noexcept = default;
template <class S>
Network<S>::~Network() = default;

template <class S>
Network<S>::Network(const Arch& arch, int input_dim, int output_dim)
    : arch_(arch), input_dim_(input_dim), output_dim_(output_dim) {
  arch.validate();
  if (input_dim < 1 || output_dim < 1)
    throw Error(fmt::format("network: input size {} and output size {} must be positive", input_dim, output_dim));
  arch.check_input(input_dim);
  int in = input_dim;
  for (size_t i = 0; i < arch.layers.size(); ++i) {
    const auto& spec = arch.layers[i];
    layers_.push_back(make_layer<S>(fmt::format("l{}.", i), spec, in));
    in = spec.width;
  }
  head_ = std::make_unique<Head<S>>(arch.head, in, arch.dense, output_dim);
}

template <class S>
void Network<S>::init(uint64_t seed) {
  Rng rng(seed);
  for (auto& l : layers_) l->init(rng);
  head_->init(rng);
  zero_grad();
}

template <class S>
void Network<S>::set_fake_quant(bool on, std::vector<float> input_scale) {
  if (on && input_scale.size() != static_cast<size_t>(input_dim_))
    throw Error(fmt::format("network: fake quantisation needs {} input scales, got {}", input_dim_, input_scale.size()));
  fq_ = on;
  fq_input_ = std::move(input_scale);
}

namespace {
template <class S>
S round_to(S v, S step) {
  const S q = std::nearbyint(v / step);
  return (q > S(127) ? S(127) : (q < S(-127) ? S(-127) : q)) * step;
}
}  // namespace

template <class S>
const Mat<S>& Network<S>::input_of(size_t layer) const {
  if (layer == 0) return fq_ ? xq_ : *x_;
  return fq_ ? hq_[layer - 1] : h_[layer - 1];
}

template <class S>
const Mat<S>& Network<S>::forward(const Mat<S>& x, const SeqInfo& info) {
  const FlushDenormals ftz;
  x_ = &x;
  info_ = info;
  h_.resize(layers_.size());
  if (fq_) {
    xq_.resize(x.rows(), x.cols());
    for (long c = 0; c < x.cols(); ++c)
      for (long f = 0; f < x.rows(); ++f) xq_(f, c) = round_to(x(f, c), static_cast<S>(fq_input_[static_cast<size_t>(f)]));
    hq_.resize(layers_.size());
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(input_of(i), info, h_[i]);
    if (!fq_) continue;
    // The runtime's int16 state has 15 fractional bits for tanh-bounded cells, and for FastRNN/FastGRNN as
    // many as their range allows (8..22); the next layer reads h >> 8.
    const CellType cell = arch_.layers[i].cell;
    int frac = 15;
    if (cell == CellType::fastrnn || cell == CellType::fastgrnn) {
      const double m = static_cast<double>(h_[i].cwiseAbs().maxCoeff());
      frac = m > 0 ? std::clamp(static_cast<int>(std::floor(15.0 - std::log2(m * 1.25))), 8, 22) : 22;
    }
    const S step = static_cast<S>(std::ldexp(1.0, 8 - frac));
    hq_[i] = h_[i].unaryExpr([step](S v) { return round_to(v, step); });
  }
  const bool last_q = fq_ && arch_.head == HeadType::last;
  return head_->forward(last_q ? hq_.back() : h_.back(), info);
}

template <class S>
void Network<S>::backward(const Mat<S>& dout) {
  const FlushDenormals ftz;
  head_->backward(dout, info_, dh_);
  for (size_t i = layers_.size(); i-- > 0;) {
    const Mat<S>& in = input_of(i);  // straight-through: gradients pass the rounding unchanged
    layers_[i]->backward(in, info_, h_[i], dh_, i == 0 ? nullptr : &dx_);
    if (i > 0) std::swap(dh_, dx_);
  }
}

template <class S>
void Network<S>::zero_grad() {
  for (auto* p : params()) p->grad.setZero();
}

template <class S>
std::vector<Param<S>*> Network<S>::params() {
  std::vector<Param<S>*> out;
  for (auto& l : layers_) l->collect(out);
  if (head_) head_->collect(out);
  return out;
}

template <class S>
std::vector<const Param<S>*> Network<S>::params() const {
  auto ps = const_cast<Network*>(this)->params();
  return {ps.begin(), ps.end()};
}

template <class S>
size_t Network<S>::num_params() const {
  size_t n = 0;
  for (const auto* p : params()) n += static_cast<size_t>(p->value.size());
  return n;
}

template class Network<float>;
template class Network<double>;

}  // namespace rnnas::nn

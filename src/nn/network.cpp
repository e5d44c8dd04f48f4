#include <fmt/format.h>

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
const Mat<S>& Network<S>::forward(const Mat<S>& x, const SeqInfo& info) {
  const FlushDenormals ftz;
  x_ = &x;
  info_ = info;
  h_.resize(layers_.size());
  const Mat<S>* in = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(*in, info, h_[i]);
    in = &h_[i];
  }
  return head_->forward(h_.back(), info);
}

template <class S>
void Network<S>::backward(const Mat<S>& dout) {
  const FlushDenormals ftz;
  head_->backward(dout, info_, dh_);
  for (size_t i = layers_.size(); i-- > 0;) {
    const Mat<S>& in = i == 0 ? *x_ : h_[i - 1];
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

#include <algorithm>

#include "rnnas/nn.h"

namespace rnnas::nn {

void SeqInfo::set_lengths(std::vector<int> lengths, int steps) {
  T = steps;
  B = static_cast<int>(lengths.size());
  len = std::move(lengths);
  active.assign(T, 0);
  full = true;
  for (int l : len) {
    for (int t = 0; t < l; ++t) ++active[t];
    if (l != T) full = false;
  }
}

template <class S>
Batch<S> make_batch(const Split& part, std::vector<size_t> index, int stride, int num_outputs) {
  auto steps = [&](size_t i) { return static_cast<int>((part.x[i].rows() + stride - 1) / stride); };
  std::stable_sort(index.begin(), index.end(), [&](size_t a, size_t b) { return steps(a) > steps(b); });
  Batch<S> batch;
  const int B = static_cast<int>(index.size());
  const int T = B ? steps(index[0]) : 0;
  const long F = B ? part.x[index[0]].cols() : 0;
  batch.x.setZero(F, static_cast<long>(T) * B);
  std::vector<int> lengths(B);
  for (int b = 0; b < B; ++b) {
    const Sequence& s = part.x[index[b]];
    lengths[b] = steps(index[b]);
    for (int t = 0; t < lengths[b]; ++t)
      batch.x.col(static_cast<long>(t) * B + b) = s.row(static_cast<long>(t) * stride).transpose().template cast<S>();
  }
  batch.info.set_lengths(std::move(lengths), T);
  if (!part.label.empty()) {
    batch.label.resize(B);
    for (int b = 0; b < B; ++b) batch.label[b] = part.label[index[b]];
  }
  if (!part.y.empty()) {
    batch.y.resize(num_outputs, B);
    for (int b = 0; b < B; ++b)
      for (int o = 0; o < num_outputs; ++o) batch.y(o, b) = static_cast<S>(part.y[index[b] * num_outputs + o]);
  }
  batch.index = std::move(index);
  return batch;
}

template Batch<float> make_batch(const Split&, std::vector<size_t>, int, int);
template Batch<double> make_batch(const Split&, std::vector<size_t>, int, int);

}  // namespace rnnas::nn

// Engine benchmark: trains the same recurrent classifier (one GRU or LSTM layer + dense head on the last
// state, cross-entropy, Adam, gradient clipping) with rnnas and with libtorch, one thread each, on the
// same random data, and prints training throughput (samples/s) of both and their ratio. It also prints
// rnnas' GFLOP/s against this core's measured FMA peak, and the throughput of two rnnas runs side by
// side against one run.
//
//   OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 ./build/bench/engine_bench [--seconds 2] [--cell gru]
//
// Every figure is one line: BENCH <name> key=value ...
#include <fmt/format.h>
#include <immintrin.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rnnas/core.h"
#include "rnnas/nn.h"

#ifdef RNNAS_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

using namespace rnnas;
using namespace rnnas::nn;

struct Config {
  int input, hidden, steps, batch;
};
constexpr Config kConfigs[] = {{9, 16, 128, 64}, {9, 64, 128, 64}, {40, 32, 50, 64}, {3, 8, 200, 32}, {40, 128, 100, 128}};
constexpr int kClasses = 6;
constexpr int kBatches = 8;  // distinct batches cycled through

Split random_data(const Config& c, uint64_t seed) {
  Rng rng(seed);
  Split s;
  for (int i = 0; i < c.batch * kBatches; ++i) {
    Sequence x(c.steps, c.input);
    for (long k = 0; k < x.size(); ++k) x.data()[k] = static_cast<float>(rng.normal());
    s.x.push_back(std::move(x));
    s.label.push_back(static_cast<int>(rng.below(kClasses)));
  }
  return s;
}

// Matrix-multiply FLOPs of one training sample: forward 2*G*H*(F+H) per step plus the head; backward
// costs two such products per forward product (input and weight gradients).
double flops_per_sample(CellType cell, const Config& c) {
  const double G = gate_count(cell);
  const double fwd = 2.0 * G * c.hidden * (c.input + c.hidden) * c.steps + 2.0 * c.hidden * kClasses;
  return 3.0 * fwd;
}

// Runs step(b) over the kBatches batches in turn for at least `seconds` after one warm-up step (which
// allocates), and returns training samples per second.
template <class Step>
double samples_per_second(Step& step, int batch, double seconds) {
  step(0);
  long samples = 0;
  const double t0 = now_seconds();
  double t = t0;
  for (int b = 1; t - t0 < seconds; ++b) {
    step(b % kBatches);
    samples += batch;
    t = now_seconds();
  }
  return static_cast<double>(samples) / (t - t0);
}

// rnnas: exactly the trainer's step (batch assembly included), for at least `seconds`.
double rnnas_sps(CellType cell, const Config& c, double seconds, uint64_t seed) {
  const Split data = random_data(c, seed);
  const Arch arch = Arch::parse(fmt::format("{}:{}|head=last", to_string(cell), c.hidden));
  Network<float> net(arch, c.input, kClasses);
  net.init(seed);
  Adam adam(net.params(), OptimizerKind::adam, 0.0);
  LossOptions ce;
  Mat<float> dout;
  auto step = [&](int b) {
    std::vector<size_t> idx(c.batch);
    for (int i = 0; i < c.batch; ++i) idx[i] = static_cast<size_t>(b * c.batch + i);
    const Batch<float> batch = make_batch<float>(data, std::move(idx), 1, 0);
    train_step(net, adam, batch, ce, 5.0, 1e-3, dout);
  };
  return samples_per_second(step, c.batch, seconds);
}

#ifdef RNNAS_HAVE_TORCH
double torch_sps(CellType cell, const Config& c, double seconds, uint64_t seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  const Split data = random_data(c, seed);
  std::vector<torch::Tensor> xs, ys;
  for (int b = 0; b < kBatches; ++b) {
    auto x = torch::empty({c.steps, c.batch, c.input});
    auto acc = x.accessor<float, 3>();
    std::vector<int64_t> y(c.batch);
    for (int i = 0; i < c.batch; ++i) {
      const Sequence& s = data.x[b * c.batch + i];
      for (int t = 0; t < c.steps; ++t)
        for (int f = 0; f < c.input; ++f) acc[t][i][f] = s(t, f);
      y[i] = data.label[b * c.batch + i];
    }
    xs.push_back(x);
    ys.push_back(torch::tensor(y));
  }
  torch::nn::GRU gru(torch::nn::GRUOptions(c.input, c.hidden));
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(c.input, c.hidden));
  torch::nn::Linear head(c.hidden, kClasses);
  std::vector<torch::Tensor> params = cell == CellType::gru ? gru->parameters() : lstm->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-3));
  auto step = [&](int b) {
    opt.zero_grad();
    torch::Tensor out = cell == CellType::gru ? std::get<0>(gru->forward(xs[b])) : std::get<0>(lstm->forward(xs[b]));
    auto loss = torch::nn::functional::cross_entropy(head->forward(out[c.steps - 1]), ys[b]);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 5.0);
    opt.step();
  };
  return samples_per_second(step, c.batch, seconds);
}
#endif

// Single-core fused multiply-add peak (float), measured: 16 independent FMA chains on the widest vectors
// this build targets (enough to cover latency x ports on current x86 cores).
template <class V, V (*Fma)(V, V, V)>
[[gnu::noinline]] void fma_chunk(V* state, V m, V a, long n) {
  constexpr int kChains = 16;
  V acc[kChains];  // local and not escaping: stays in registers
  for (int i = 0; i < kChains; ++i) acc[i] = state[i];
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = Fma(acc[i], m, a);
  }
  for (int i = 0; i < kChains; ++i) state[i] = acc[i];
}

template <class V, int Lanes, V (*Fma)(V, V, V), V (*Set1)(float)>
double fma_loop(double seconds) {
  constexpr int kChains = 16;
  constexpr long kInner = 1 << 20;
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = Set1(static_cast<float>(i) * 1e-3f);
  long iters = 0;
  const double t0 = now_seconds();
  double t = t0;
  while (t - t0 < seconds) {
    fma_chunk<V, Fma>(acc, Set1(0.999999f), Set1(1e-7f), kInner);
    iters += kInner;
    t = now_seconds();
  }
  float sink[Lanes];
  std::memcpy(sink, &acc[kChains - 1], sizeof(sink));
  if (sink[0] == 12345.f) std::puts("");  // keeps the chains alive
  return static_cast<double>(iters) * kChains * Lanes * 2.0 / (t - t0) / 1e9;
}

#if defined(__AVX512F__)
__m512 fma512(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
__m512 set512(float v) { return _mm512_set1_ps(v); }
double fma_peak_gflops(double seconds) { return fma_loop<__m512, 16, fma512, set512>(seconds); }
#elif defined(__AVX2__) && defined(__FMA__)
__m256 fma256(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
__m256 set256(float v) { return _mm256_set1_ps(v); }
double fma_peak_gflops(double seconds) { return fma_loop<__m256, 8, fma256, set256>(seconds); }
#else
double fma_peak_gflops(double) { return 0.0; }
#endif

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::string only_cell;
  bool parallel = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (a == "--cell" && i + 1 < argc) {
      only_cell = argv[++i];
    } else if (a == "--no-parallel") {
      parallel = false;
    } else {
      fmt::print(stderr, "usage: engine_bench [--seconds S] [--cell gru|lstm] [--no-parallel]\n");
      return 2;
    }
  }
#ifdef RNNAS_HAVE_TORCH
  torch::set_num_threads(1);
  at::globalContext().setFlushDenormal(true);  // as rnnas does: a fair peer on long sequences
  const bool have_torch = true;
#else
  const bool have_torch = false;
  fmt::print("# libtorch not found at build time: rnnas figures only\n");
#endif
  const double peak = fma_peak_gflops(1.0);
  fmt::print("BENCH fma_peak gflops={:.1f} threads=1\n", peak);
  for (CellType cell : {CellType::gru, CellType::lstm}) {
    if (!only_cell.empty() && only_cell != to_string(cell)) continue;
    for (const Config& c : kConfigs) {
      const double ours = rnnas_sps(cell, c, seconds, 1);
      double theirs = 0;
#ifdef RNNAS_HAVE_TORCH
      theirs = torch_sps(cell, c, seconds, 1);
#endif
      const double gflops = ours * flops_per_sample(cell, c) / 1e9;
      fmt::print("BENCH engine cell={} input={} hidden={} steps={} batch={} rnnas_sps={:.0f} torch_sps={} ratio={} "
                 "gflops={:.2f} peak_frac={:.3f}\n",
                 to_string(cell), c.input, c.hidden, c.steps, c.batch, ours,
                 have_torch ? fmt::format("{:.0f}", theirs) : "na",
                 have_torch ? fmt::format("{:.2f}", ours / theirs) : "na", gflops, peak > 0 ? gflops / peak : 0.0);
      std::fflush(stdout);
    }
  }
  if (!parallel) return 0;
  // Two independent training runs side by side (one thread each) against one run alone.
  for (CellType cell : {CellType::gru, CellType::lstm}) {
    if (!only_cell.empty() && only_cell != to_string(cell)) continue;
    for (const Config& c : kConfigs) {
      const double one = rnnas_sps(cell, c, seconds, 1);
      double two[2] = {0, 0};
      std::thread a([&] { two[0] = rnnas_sps(cell, c, seconds, 1); });
      std::thread b([&] { two[1] = rnnas_sps(cell, c, seconds, 2); });
      a.join();
      b.join();
      fmt::print("BENCH engine_parallel cell={} input={} hidden={} steps={} batch={} one_sps={:.0f} two_sps={:.0f} "
                 "scaling={:.2f}\n",
                 to_string(cell), c.input, c.hidden, c.steps, c.batch, one, two[0] + two[1], (two[0] + two[1]) / one);
      std::fflush(stdout);
    }
  }
  return 0;
}

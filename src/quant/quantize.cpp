// Post-training quantisation (float model -> QModel) and int8 evaluation through the C runtime.
#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "bind.h"
#include "rnnas/core.h"
#include "rnnas/quant.h"

namespace rnnas::quant {
namespace {

using MatD = Eigen::MatrixXd;
using VecD = Eigen::VectorXd;

constexpr int kPreFrac = 12;  // pre-activations in Q12
constexpr double kQ15 = 32768.0;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The float network's parameters in double precision, by layer.
struct FLinear {
  int rank = 0;
  MatD w, w1, w2;  // w when rank == 0
};
struct FLayer {
  CellType cell = CellType::gru;
  int H = 0, in = 0;
  FLinear w, u;
  VecD b, bhn, bz, bh;
  double s0 = 0, s1 = 0;  // sigmoid of alpha/beta (FastRNN) or zeta/nu (FastGRNN)
};
struct FNet {
  int stride = 1;
  HeadType head = HeadType::last;
  std::vector<FLayer> layers;
  MatD wd, wo;
  VecD bd, bo;  // wo, bo with target scaling folded in (regression)
  std::vector<double> norm_mean, norm_scale;
};

FNet load_net(const nn::Model& m) {
  std::map<std::string, MatD> p;
  for (const auto* param : m.net.params()) p[param->name] = param->value.cast<double>();
  auto get = [&](const std::string& name) -> const MatD& {
    const auto it = p.find(name);
    if (it == p.end()) throw Error(fmt::format("quantize: the model has no parameter '{}'", name));
    return it->second;
  };
  auto linear = [&](const std::string& base, int rank) {
    FLinear l;
    l.rank = rank;
    if (rank > 0) {
      l.w1 = get(base + "1");
      l.w2 = get(base + "2");
    } else {
      l.w = get(base);
    }
    return l;
  };
  FNet n;
  n.stride = m.arch.stride;
  n.head = m.arch.head;
  int in = m.input_dim;
  for (size_t i = 0; i < m.arch.layers.size(); ++i) {
    const auto& spec = m.arch.layers[i];
    const std::string pre = fmt::format("l{}.", i);
    FLayer l;
    l.cell = spec.cell;
    l.H = spec.width;
    l.in = in;
    l.w = linear(pre + "W", spec.wrank);
    l.u = linear(pre + "U", spec.urank);
    if (spec.cell == CellType::fastgrnn) {
      l.bz = get(pre + "bz");
      l.bh = get(pre + "bh");
      l.s0 = sigmoid(get(pre + "zeta")(0, 0));
      l.s1 = sigmoid(get(pre + "nu")(0, 0));
    } else {
      l.b = get(pre + "b");
    }
    if (spec.cell == CellType::gru) l.bhn = get(pre + "bhn");
    if (spec.cell == CellType::fastrnn) {
      l.s0 = sigmoid(get(pre + "alpha")(0, 0));
      l.s1 = sigmoid(get(pre + "beta")(0, 0));
    }
    n.layers.push_back(std::move(l));
    in = spec.width;
  }
  if (m.arch.dense > 0) {
    n.wd = get("head.Wd");
    n.bd = get("head.bd");
  }
  n.wo = get("head.Wo");
  n.bo = get("head.bo");
  if (m.task == TaskKind::regression && !m.target_scale.empty()) {
    for (long o = 0; o < n.wo.rows(); ++o) {
      const double s = m.target_scale.scale[static_cast<size_t>(o)], mu = m.target_scale.mean[static_cast<size_t>(o)];
      n.wo.row(o) *= s;
      n.bo(o) = n.bo(o) * s + mu;
    }
  }
  for (size_t f = 0; f < m.norm.mean.size(); ++f) {
    n.norm_mean.push_back(m.norm.mean[f]);
    n.norm_scale.push_back(m.norm.scale[f]);
  }
  return n;
}

// Ranges seen while running the float network (what calibration needs).
struct Ranges {
  std::vector<double> input;               // max |normalised x| per feature
  std::vector<double> wmid, umid, h, c;    // per layer: max |W2 x|, |U2 h|, |h|, |c|
  double dense = 0, out = 0;
  explicit Ranges(const FNet& n)
      : input(n.norm_mean.size(), 0.0),
        wmid(n.layers.size(), 0.0),
        umid(n.layers.size(), 0.0),
        h(n.layers.size(), 0.0),
        c(n.layers.size(), 0.0) {}
};

double amax(const VecD& v) { return v.size() ? v.cwiseAbs().maxCoeff() : 0.0; }

VecD apply(const FLinear& l, const VecD& x, double* mid) {
  if (l.rank == 0) return l.w * x;
  const VecD t = l.w2 * x;
  if (mid) *mid = std::max(*mid, amax(t));
  return l.w1 * t;
}

// Runs one raw sequence; records ranges when `r` is given. Returns the outputs (targets' units).
std::vector<double> run_float(const FNet& n, const Sequence& raw, Ranges* r) {
  const size_t L = n.layers.size();
  std::vector<VecD> h(L), c(L);
  for (size_t i = 0; i < L; ++i) {
    h[i] = VecD::Zero(n.layers[i].H);
    c[i] = VecD::Zero(n.layers[i].H);
  }
  VecD sum = VecD::Zero(n.layers.back().H);
  int used = 0;
  const long F = raw.cols();
  for (long t = 0; t < raw.rows(); t += n.stride) {
    VecD x(F);
    for (long f = 0; f < F; ++f) {
      x(f) = (static_cast<double>(raw(t, f)) - n.norm_mean[static_cast<size_t>(f)]) / n.norm_scale[static_cast<size_t>(f)];
      if (r) r->input[static_cast<size_t>(f)] = std::max(r->input[static_cast<size_t>(f)], std::abs(x(f)));
    }
    for (size_t i = 0; i < L; ++i) {
      const FLayer& l = n.layers[i];
      const int H = l.H;
      const VecD ax = apply(l.w, x, r ? &r->wmid[i] : nullptr);
      const VecD rh = apply(l.u, h[i], r ? &r->umid[i] : nullptr);
      VecD hn(H);
      for (int k = 0; k < H; ++k) {
        switch (l.cell) {
          case CellType::rnn:
            hn(k) = std::tanh(ax(k) + rh(k) + l.b(k));
            break;
          case CellType::gru: {
            const double rg = sigmoid(ax(k) + rh(k) + l.b(k));
            const double zg = sigmoid(ax(H + k) + rh(H + k) + l.b(H + k));
            const double ng = std::tanh(ax(2 * H + k) + l.b(2 * H + k) + rg * (rh(2 * H + k) + l.bhn(k)));
            hn(k) = ng + zg * (h[i](k) - ng);
            break;
          }
          case CellType::lstm: {
            const double ig = sigmoid(ax(k) + rh(k) + l.b(k));
            const double fg = sigmoid(ax(H + k) + rh(H + k) + l.b(H + k));
            const double gg = std::tanh(ax(2 * H + k) + rh(2 * H + k) + l.b(2 * H + k));
            const double og = sigmoid(ax(3 * H + k) + rh(3 * H + k) + l.b(3 * H + k));
            c[i](k) = fg * c[i](k) + ig * gg;
            hn(k) = og * std::tanh(c[i](k));
            break;
          }
          case CellType::fastrnn:
            hn(k) = l.s0 * std::tanh(ax(k) + rh(k) + l.b(k)) + l.s1 * h[i](k);
            break;
          case CellType::fastgrnn: {
            const double pre = ax(k) + rh(k);
            const double z = sigmoid(pre + l.bz(k)), cc = std::tanh(pre + l.bh(k));
            hn(k) = (l.s0 * (1 - z) + l.s1) * cc + z * h[i](k);
            break;
          }
        }
      }
      h[i] = hn;
      if (r) {
        r->h[i] = std::max(r->h[i], amax(hn));
        if (l.cell == CellType::lstm) r->c[i] = std::max(r->c[i], amax(c[i]));
      }
      x = hn;
    }
    sum += h.back();
    ++used;
  }
  VecD z = n.head == HeadType::mean && used > 0 ? VecD(sum / used) : h.back();
  if (n.wd.size()) {
    z = (n.wd * z + n.bd).cwiseMax(0.0);
    if (r) r->dense = std::max(r->dense, amax(z));
  }
  const VecD out = n.wo * z + n.bo;
  if (r) r->out = std::max(r->out, amax(out));
  return {out.data(), out.data() + out.size()};
}

// real multiplier -> (mult, shift) with mult in [2^30, 2^31) and real = mult * 2^-shift.
void multiplier(double real, int32_t& mult, int8_t& shift, const std::string& what) {
  if (!(real >= 0) || !std::isfinite(real)) throw Error(fmt::format("quantize: {}: multiplier {} is not usable", what, real));
  if (real == 0) {
    mult = 1 << 30;
    shift = 62;
    return;
  }
  int e = 0;
  const double f = std::frexp(real, &e);  // real = f * 2^e, f in [0.5, 1)
  long long m = std::llround(f * 2147483648.0);
  if (m == 2147483648LL) {
    m /= 2;
    ++e;
  }
  int s = 31 - e;
  if (s > 62) {  // tiny multiplier: fewer significant bits
    m = std::llround(std::ldexp(real, 62));
    s = 62;
  }
  if (s < 1)
    throw Error(fmt::format("quantize: {}: multiplier {} is too large for the int32 requantisation", what, real));
  mult = static_cast<int32_t>(m);
  shift = static_cast<int8_t>(s);
}

// Symmetric per-row int8 quantisation of w [rows x cols] (columns pre-scaled by col_scale when given);
// each row's multiplier maps its int32 accumulator to real * 2^out_frac, or to an int8 of scale
// out_scale when out_frac < 0. Returns the row scales.
std::vector<double> quantize_rows(const MatD& w_in, const std::vector<double>& col_scale, double in_scale,
                                  int out_frac, double out_scale, QMat& q, const std::string& what) {
  MatD w = w_in;
  if (!col_scale.empty())
    for (long c = 0; c < w.cols(); ++c) w.col(c) *= col_scale[static_cast<size_t>(c)];
  q.rows = static_cast<int>(w.rows());
  q.cols = static_cast<int>(w.cols());
  q.w.assign(static_cast<size_t>(q.rows) * q.cols, 0);
  q.mult.assign(static_cast<size_t>(q.rows), 0);
  q.shift.assign(static_cast<size_t>(q.rows), 0);
  std::vector<double> scales(static_cast<size_t>(q.rows));
  for (int r = 0; r < q.rows; ++r) {
    const double m = w.row(r).cwiseAbs().maxCoeff();
    const double s = m > 0 ? m / 127.0 : 1.0;
    scales[static_cast<size_t>(r)] = s;
    for (int c = 0; c < q.cols; ++c)
      q.w[static_cast<size_t>(r) * q.cols + c] =
          static_cast<int8_t>(std::clamp(std::llround(w(r, c) / s), -127LL, 127LL));
    const double real = out_frac >= 0 ? s * in_scale * std::ldexp(1.0, out_frac) : s * in_scale / out_scale;
    multiplier(real, q.mult[static_cast<size_t>(r)], q.shift[static_cast<size_t>(r)], fmt::format("{} row {}", what, r));
  }
  return scales;
}

// A linear map to Q12 from an input of scale in_scale (per column when col_scale is given).
QLinear quantize_linear(const FLinear& f, const std::vector<double>& col_scale, double in_scale, double mid_range,
                        const std::string& what) {
  QLinear q;
  q.rank = f.rank;
  if (f.rank == 0) {
    quantize_rows(f.w, col_scale, in_scale, kPreFrac, 0, q.a, what);
  } else {
    const double mid_scale = mid_range > 0 ? mid_range / 127.0 : 1.0;
    quantize_rows(f.w2, col_scale, in_scale, -1, mid_scale, q.b, what + "2");
    quantize_rows(f.w1, {}, mid_scale, kPreFrac, 0, q.a, what + "1");
  }
  return q;
}

std::vector<int32_t> fixed(const VecD& v, int frac) {
  std::vector<int32_t> out(static_cast<size_t>(v.size()));
  for (long i = 0; i < v.size(); ++i) out[static_cast<size_t>(i)] = static_cast<int32_t>(std::llround(v(i) * std::ldexp(1.0, frac)));
  return out;
}

int32_t q15(double v) { return static_cast<int32_t>(std::clamp(std::llround(v * kQ15), 0LL, 32767LL)); }

// Fractional bits of an int16 holding values up to `range` (with headroom), within [lo, hi].
int frac_bits(double range, int lo, int hi) {
  if (!(range > 0)) return hi;
  const int f = static_cast<int>(std::floor(15.0 - std::log2(range * 1.25)));
  return std::clamp(f, lo, hi);
}

}  // namespace

std::vector<double> float_reference(const nn::Model& model, const Sequence& raw) {
  return run_float(load_net(model), raw, nullptr);
}

QModel quantize(const nn::Model& m, const Split& calibration, const QuantOptions& opt) {
  if (calibration.empty()) throw Error("quantize: no calibration sequences");
  if (m.norm.mean.size() != static_cast<size_t>(m.input_dim))
    throw Error("quantize: the model has no input normalisation for its features");
  const FNet net = load_net(m);
  Ranges ranges(net);
  std::vector<size_t> order(calibration.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(opt.seed);
  rng.shuffle(order);
  const size_t n = std::min(order.size(), static_cast<size_t>(std::max(1, opt.calibration_sequences)));
  for (size_t k = 0; k < n; ++k) {
    const Sequence& x = calibration.x[order[k]];
    if (x.cols() != m.input_dim)
      throw Error(fmt::format("quantize: calibration sequence {} has {} features, the model {}", order[k], x.cols(),
                              m.input_dim));
    run_float(net, x, &ranges);
  }

  QModel q;
  q.arch = m.arch;
  q.task = m.task;
  q.features = m.input_dim;
  q.outputs = m.output_dim;
  q.class_names = m.class_names;
  q.feature_names = m.feature_names;
  q.output_names = m.output_names;
  q.score = m.score;
  // Input: per-feature scale, folded with the normalisation into one multiply-add per feature.
  std::vector<double> in_scale(static_cast<size_t>(q.features));
  for (int f = 0; f < q.features; ++f) {
    const double range = ranges.input[static_cast<size_t>(f)];
    const double s = range > 0 ? range / 127.0 : 1.0;
    in_scale[static_cast<size_t>(f)] = s;
    const double a = 1.0 / (net.norm_scale[static_cast<size_t>(f)] * s);
    q.in_scale.push_back(static_cast<float>(a));
    q.in_offset.push_back(static_cast<float>(-net.norm_mean[static_cast<size_t>(f)] * a));
  }
  std::vector<double> col_scale = in_scale;  // first layer: per column
  double uniform_scale = 1.0;                // later layers: the int8 copy of the state below
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const FLayer& f = net.layers[i];
    QLayer l;
    l.cell = f.cell;
    l.width = f.H;
    l.input = f.in;
    const bool bounded = f.cell == CellType::rnn || f.cell == CellType::gru || f.cell == CellType::lstm;
    l.state_frac = bounded ? 15 : frac_bits(ranges.h[i], 8, 22);
    const double state8_scale = std::ldexp(1.0, 8 - l.state_frac);
    const std::string name = fmt::format("layer {}", i);
    l.w = quantize_linear(f.w, col_scale, i == 0 ? 1.0 : uniform_scale, ranges.wmid[i], name + " W");
    l.u = quantize_linear(f.u, {}, state8_scale, ranges.umid[i], name + " U");
    if (f.cell == CellType::fastgrnn) {
      l.bias = fixed(f.bz, kPreFrac);
      const auto bh = fixed(f.bh, kPreFrac);
      l.bias.insert(l.bias.end(), bh.begin(), bh.end());
    } else {
      l.bias = fixed(f.b, kPreFrac);
    }
    if (f.cell == CellType::gru) l.bias_hn = fixed(f.bhn, kPreFrac);
    if (f.cell == CellType::fastrnn || f.cell == CellType::fastgrnn) {
      l.a = q15(f.s0);
      l.b = q15(f.s1);
    }
    if (f.cell == CellType::lstm) l.cell_frac = frac_bits(ranges.c[i], 4, 15);
    q.layers.push_back(std::move(l));
    col_scale.clear();
    uniform_scale = state8_scale;
  }
  // Head: the int8 state (or its mean, same scale) -> [dense ReLU int8] -> int32 outputs.
  double z_scale = uniform_scale;
  if (net.wd.size()) {
    const double d_scale = ranges.dense > 0 ? ranges.dense / 127.0 : 1.0;
    const auto s = quantize_rows(net.wd, {}, z_scale, -1, d_scale, q.dense, "dense");
    for (long r = 0; r < net.bd.size(); ++r)
      q.dense_bias.push_back(static_cast<int32_t>(std::llround(net.bd(r) / (s[static_cast<size_t>(r)] * z_scale))));
    z_scale = d_scale;
  }
  q.out_frac = 16;
  while (q.out_frac > 0 && ranges.out * 2.0 * std::ldexp(1.0, q.out_frac) >= 2147483647.0) --q.out_frac;
  const auto s = quantize_rows(net.wo, {}, z_scale, q.out_frac, 0, q.out, "output");
  for (long r = 0; r < net.bo.size(); ++r) {
    const double b = std::round(net.bo(r) / (s[static_cast<size_t>(r)] * z_scale));
    if (std::abs(b) >= 2147483647.0) throw Error(fmt::format("quantize: output bias {} does not fit int32", r));
    q.out_bias.push_back(static_cast<int32_t>(b));
  }
  // The arena: the cost model's streaming plan (one function for both).
  hw::InputShape shape;
  shape.features = q.features;
  shape.outputs = q.outputs;
  shape.steps = 1;
  q.plan = hw::plan_memory(hw::inference_buffers(q.arch, shape, hw::Quant::int8, hw::Mode::streaming));
  return q;
}

void QModel::set_frontend(const FrontEndOptions& fe) {
  const FrontEnd check(fe);  // throws on settings the runtime refuses
  audio = true;
  frontend = fe;
  hw::InputShape shape;
  shape.features = features;
  shape.outputs = outputs;
  shape.steps = 1;
  shape.audio = true;
  shape.sample_rate = fe.rate;
  shape.win_ms = fe.win_ms;
  shape.hop_ms = fe.hop_ms;
  shape.mels = fe.mels;
  shape.mfcc = fe.mfcc;
  plan = hw::plan_memory(hw::inference_buffers(arch, shape, hw::Quant::int8, hw::Mode::streaming));
  for (const auto& b : plan.buffers)
    if (std::string(b.name) == "fe" && static_cast<size_t>(b.bytes) < check.buffer_bytes())
      throw Error(fmt::format("quantize: the front end needs {} B but the plan has {} (an explicit fft= size?)",
                              check.buffer_bytes(), b.bytes));
}

long QModel::weight_bytes() const {
  auto mat = [](const QMat& m) { return static_cast<long>(m.w.size()); };
  long b = mat(dense) + mat(out);
  for (const auto& l : layers) b += mat(l.w.a) + mat(l.w.b) + mat(l.u.a) + mat(l.u.b);
  return b;
}

std::vector<int32_t> QModel::run(const Sequence& x) const {
  Split one;
  one.x = {x};
  return run_all(one);
}

std::vector<int32_t> QModel::run_all(const Split& raw) const {
  Bound bound(*this);
  std::vector<uint32_t> arena((plan.arena_bytes + 3) / 4 + 1);
  rnnas_runner run{};
  check(rnnas_model_init(&run, &bound.model, arena.data(), arena.size() * 4), "init");
  std::vector<int32_t> all(raw.size() * static_cast<size_t>(outputs));
  for (size_t i = 0; i < raw.size(); ++i) {
    const Sequence& x = raw.x[i];
    if (x.cols() != features)
      throw Error(fmt::format("int8 model: sequence {} has {} features, the model {}", i, x.cols(), features));
    check(rnnas_model_run(&run, x.data(), static_cast<int32_t>(x.rows()), all.data() + i * static_cast<size_t>(outputs)),
          "run");
  }
  return all;
}

nn::Metrics QModel::evaluate(const Split& raw) const { return metrics(run_all(raw), raw); }

nn::Metrics QModel::metrics(const std::vector<int32_t>& all, const Split& raw) const {
  const size_t O = static_cast<size_t>(outputs);
  const size_t n = all.size() / O;
  if (n > raw.size()) throw Error("int8 metrics: more outputs than sequences");
  nn::Metrics m;
  if (task == TaskKind::classification) {
    std::vector<int> truth(raw.label.begin(), raw.label.begin() + static_cast<long>(n)), pred;
    for (size_t i = 0; i < n; ++i) pred.push_back(rnnas_argmax_s32(all.data() + i * O, static_cast<int32_t>(O)));
    m = nn::classification_metrics(truth, pred, outputs);
  } else {
    std::vector<float> truth(raw.y.begin(), raw.y.begin() + static_cast<long>(n * O)), pred;
    const double unit = std::ldexp(1.0, -out_frac);
    for (int32_t v : all) pred.push_back(static_cast<float>(v * unit));
    m = nn::regression_metrics(truth, pred);
    if (score == "phm08") {
      m.score_name = score;
      m.score = nn::phm08_score(truth, pred);
    }
  }
  m.count = n;
  return m;
}

LoadedModel load_and_quantize(const std::string& model_path, const std::string& data_spec, const std::string& what) {
  LoadedModel r;
  r.model = nn::Model::load(model_path);
  const std::string spec = data_spec.empty() ? r.model.data : data_spec;
  if (spec.empty())
    throw Error(fmt::format("{}: {} does not record its dataset; give --data SPEC (the training part calibrates "
                            "the int8 ranges)", what, model_path));
  r.data = load_dataset(spec);
  if (r.data.num_features != r.model.input_dim || r.data.output_dim() != r.model.output_dim ||
      r.data.task != r.model.task)
    throw Error(fmt::format("{}: the model takes {} features and gives {} outputs; '{}' has {} and {}", what,
                            r.model.input_dim, r.model.output_dim, spec, r.data.num_features, r.data.output_dim()));
  r.q = quantize(r.model, r.data.train);
  if (r.data.audio) r.q.set_frontend(r.data.frontend);
  return r;
}

}  // namespace rnnas::quant

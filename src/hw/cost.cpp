// The hardware cost model: flash, RAM (memory planner), MACs, estimated cycles, latency and energy.
// docs/cost-model.md gives every formula; tests/hw_test.cpp checks them by hand on small archs.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/hw.h"
#include "rnnas_frontend.h"

namespace rnnas::hw {
namespace {

constexpr long kQparamBytesPerRow = 5;  // int32 multiplier + int8 shift per output row
constexpr long kTanhTableBytes = 514;   // runtime/rnnas_nn.c: int16 tanh on [0, 8] in 257 steps (sigmoid uses it too)
constexpr long kDescriptorBase = 64, kDescriptorPerLayer = 48;

long align4(long n) { return (n + 3) & ~3L; }

// Bias vectors (and cell scalars) per cell, as in the training engine (src/nn/cells.cpp).
long bias_count(CellType c, long H) {
  switch (c) {
    case CellType::rnn: return H;
    case CellType::gru: return 4 * H;  // b (3H) + b_hn (H)
    case CellType::lstm: return 4 * H;
    case CellType::fastrnn: return H + 2;  // b + alpha, beta
    case CellType::fastgrnn: return 2 * H + 2;  // b_z, b_h + zeta, nu
  }
  return H;
}
// Learned scalars of a cell (FastRNN alpha, beta; FastGRNN zeta, nu), counted in bias_count.
long cell_scalars(CellType c) { return c == CellType::fastrnn || c == CellType::fastgrnn ? 2 : 0; }
// Activations (sigmoid/tanh) and other elementwise operations per hidden unit and step.
int acts_per_unit(CellType c) {
  switch (c) {
    case CellType::gru: return 3;
    case CellType::lstm: return 5;
    case CellType::fastgrnn: return 2;
    default: return 1;
  }
}
int elementwise_per_unit(CellType c) {
  switch (c) {
    case CellType::rnn: return 2;
    case CellType::gru: return 8;
    case CellType::lstm: return 7;
    case CellType::fastrnn: return 5;
    case CellType::fastgrnn: return 7;
  }
  return 2;
}
bool uses_sigmoid(CellType c) { return c == CellType::gru || c == CellType::lstm || c == CellType::fastgrnn; }
int cell_code(const CodeBytes& b, CellType c) {
  switch (c) {
    case CellType::rnn: return b.rnn;
    case CellType::gru: return b.gru;
    case CellType::lstm: return b.lstm;
    case CellType::fastrnn: return b.fastrnn;
    case CellType::fastgrnn: return b.fastgrnn;
  }
  return 0;
}

// One matrix product y = M x with M [rows x cols], optionally M = M1 [rows x r] * M2 [r x cols].
struct Product {
  long elems = 0;     // weight elements
  long out_rows = 0;  // outputs that are requantised (r + rows when factorised)
  long macs = 0;
};
Product product(long rows, long cols, long rank) {
  if (rank > 0) return {rows * rank + rank * cols, rows + rank, rows * rank + rank * cols};
  return {rows * cols, rows, rows * cols};
}

struct FrontEndSize {
  long window = 0, fft = 0, bins = 0;
  int mels = 0, features = 0;
  long buffer_bytes = 0;  // rnnas_fe_get_buffer_size(): tables + one frame's scratch (RAM)
};
FrontEndSize front_end_size(const InputShape& in) {
  FrontEndSize f;
  f.window = std::lround(in.win_ms * in.sample_rate / 1000.0);
  f.fft = static_cast<long>(std::bit_ceil(static_cast<unsigned long>(std::max(1L, f.window))));
  f.bins = f.fft / 2 + 1;
  f.mels = in.mels;
  f.features = in.mfcc > 0 ? in.mfcc : in.mels;
  rnnas_fe_config c{};
  c.sample_rate = in.sample_rate;
  c.window = static_cast<int32_t>(f.window);
  c.hop = static_cast<int32_t>(std::max(1L, std::min(f.window, std::lround(in.hop_ms * in.sample_rate / 1000.0))));
  c.num_mels = in.mels;
  c.num_mfcc = in.mfcc;
  c.low_hz = 20.0f;
  f.buffer_bytes = static_cast<long>(rnnas_fe_get_buffer_size(&c));
  if (f.buffer_bytes == 0)  // a configuration the runtime refuses: the formula of its layout
    f.buffer_bytes = 4 * f.window + 6 * f.bins + 4 * in.mfcc * f.mels + 8 * f.fft + 8 * f.bins + 4 * f.mels + 256;
  return f;
}

}  // namespace

std::string_view to_string(Quant q) { return q == Quant::int8 ? "int8" : "float32"; }
Quant parse_quant(std::string_view s) {
  if (s == "int8") return Quant::int8;
  if (s == "float32") return Quant::float32;
  throw Error(fmt::format("quantisation '{}': expected int8 or float32", s));
}

std::string Buffer::label() const { return layer >= 0 ? fmt::format("{}[{}]", name, layer) : std::string(name); }

// ---------------------------------------------------------------- shapes
InputShape shape_of(const Dataset& ds) {
  InputShape in;
  in.features = ds.num_features;
  in.outputs = ds.output_dim();
  for (const Split* p : {&ds.train, &ds.val, &ds.test})
    for (const auto& x : p->x) in.steps = std::max(in.steps, static_cast<int>(x.rows()));
  if (ds.audio) {
    in.audio = true;
    in.sample_rate = ds.frontend.rate;
    in.win_ms = ds.frontend.win_ms;
    in.hop_ms = ds.frontend.hop_ms;
    in.mels = ds.frontend.mels;
    in.mfcc = ds.frontend.mfcc;
  }
  return in;
}

InputShape shape_for(const Arch& a, const InputShape& in) {
  if (a.fe.empty() || !in.audio) return in;
  InputShape s = in;
  // The clip length stays; frames follow from the new window and hop.
  const double clip_samples = (in.steps - 1) * in.hop_ms * in.sample_rate / 1000.0 + in.win_ms * in.sample_rate / 1000.0;
  const double win = a.fe.win_ms * in.sample_rate / 1000.0, hop = a.fe.hop_ms * in.sample_rate / 1000.0;
  s.win_ms = a.fe.win_ms;
  s.hop_ms = a.fe.hop_ms;
  s.mels = a.fe.mels;
  s.mfcc = a.fe.mfcc;
  s.features = a.fe.mfcc > 0 ? a.fe.mfcc : a.fe.mels;
  s.steps = clip_samples < win ? 1 : 1 + static_cast<int>(std::floor((clip_samples - win) / hop + 1e-9));
  return s;
}

// ---------------------------------------------------------------- memory planner
MemoryPlan plan_memory(std::vector<Buffer> buffers) {
  MemoryPlan plan;
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> placed;
  std::vector<std::pair<long, long>> busy;  // [offset, end) of live placed buffers
  for (size_t idx : order) {
    Buffer& b = buffers[idx];
    const long size = align4(b.bytes);
    busy.clear();
    for (size_t p : placed) {
      const Buffer& o = buffers[p];
      if (o.first <= b.last && b.first <= o.last) busy.emplace_back(o.offset, o.offset + align4(o.bytes));
    }
    std::sort(busy.begin(), busy.end());
    long offset = 0;
    for (const auto& [lo, hi] : busy) {
      if (offset + size <= lo) break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
    placed.push_back(idx);
  }
  plan.buffers = std::move(buffers);
  return plan;
}

std::vector<Buffer> inference_buffers(const Arch& a, const InputShape& in_raw, Quant q, Mode mode) {
  const InputShape in = shape_for(a, in_raw);
  const bool i8 = q == Quant::int8;
  const long E = i8 ? 1 : 4;  // bytes of an activation element
  const int L = static_cast<int>(a.layers.size());
  const int end = L + 2;      // phases: 0 input, 1..L layers, L+1 head, L+2 output
  std::vector<Buffer> b;
  b.reserve(static_cast<size_t>(4 * L + 8));
  const long F = in.features;
  if (in.audio) {
    const FrontEndSize fe = front_end_size(in);
    if (mode == Mode::streaming) {
      b.push_back({"fe_samples", -1, 2 * fe.window, 0, end});  // the current frame of PCM
    } else {
      const long clip = std::lround(((in.steps - 1) * in.hop_ms + in.win_ms) * in.sample_rate / 1000.0);
      b.push_back({"clip", -1, 2 * clip, 0, end});
    }
    // runtime/rnnas_frontend.c's buffer: its tables (Hann window, mel bins, DCT, FFT twiddles), built at
    // initialisation, and one frame's scratch; exactly rnnas_fe_get_buffer_size().
    b.push_back({"fe", -1, fe.buffer_bytes, 0, end});
    b.push_back({"features", -1, 4 * F, 0, 0});
    b.push_back({"input", -1, F * E, 0, 1});
  } else if (mode == Mode::streaming) {
    b.push_back({"input", -1, F * E, 0, 1});
  } else {
    b.push_back({"window", -1, static_cast<long>(in.steps) * F * E, 0, end});
  }
  // int8: exactly the buffers of runtime/rnnas_nn.h (offsets: rnnas_layer_s8, rnnas_model_s8).
  for (int i = 0; i < L; ++i) {
    const auto& l = a.layers[static_cast<size_t>(i)];
    const long H = l.width, rows = gate_count(l.cell) * H;
    b.push_back({"state", i, i8 ? 3 * H : 4 * H, 0, end});  // int8: int16 h and its int8 copy
    if (l.cell == CellType::lstm) b.push_back({"cell", i, i8 ? 2 * H : 4 * H, 0, end});
    // Gate pre-activations (int32 or float); GRU keeps U_n h separate for r * (U_n h + b_hn).
    b.push_back({"gates", i, 4 * (rows + (l.cell == CellType::gru ? H : 0)), i + 1, i + 1});
    const long r = std::max(l.wrank, l.urank);
    if (r > 0) b.push_back({"lowrank", i, r * E, i + 1, i + 1});
  }
  const long Hl = a.layers.back().width;
  if (a.head == HeadType::mean) {
    b.push_back({"mean", -1, 4 * Hl, 0, end});
    b.push_back({"pooled", -1, Hl * E, L + 1, L + 2});
  }
  if (a.dense > 0) b.push_back({"dense", -1, a.dense * E, L + 1, L + 2});
  b.push_back({"output", -1, 4L * in.outputs, L + 2, L + 2});
  return b;
}

// ---------------------------------------------------------------- calibration
std::vector<std::string> CalibrationFeatures::insn_names() {
  return {"one",
          "step_block_macs",
          "step_other_macs",
          "step_block_rows",
          "step_other_rows",
          "step_passes",
          "step_tail_rows",
          "step_units_rnn",
          "step_units_gru",
          "step_units_lstm",
          "step_units_fastrnn",
          "step_units_fastgrnn",
          "step_features",
          "steps",
          "step_layers",
          "input_steps",
          "head_macs",
          "head_rows",
          "mean_step_units",
          "mean_units"};
}
// The runtime is compiled whole (one cell-step function for every cell type), so beyond the model's data
// the image grows with the descriptors (layers), the class names (outputs) and the input scaling (features).
std::vector<std::string> CalibrationFeatures::flash_names() { return {"one", "layers", "outputs", "features"}; }
std::vector<std::string> CalibrationFeatures::ram_names() { return {"one", "layers", "features", "outputs"}; }

namespace {
// The runtime's matrix-vector passes of one step, as the DSP kernels split them (runtime/rnnas_nn.c): rows
// in blocks of 4 over the columns in groups of 4 ("block" work, when the unpacked inputs fit the kernels'
// scratch of kKernelScratchCols), and the rest (remainder rows and columns, wider inputs). A full-rank
// layer's W x and U h share one pass (GRU: the r and z rows); low-rank factors are passes of their own.
constexpr long kKernelScratchCols = 128;
struct StepWork {
  bool blocks = true;  // false: the portable kernels (one row at a time), all work is "other"
  double block_macs = 0, other_macs = 0, block_rows = 0, other_rows = 0, passes = 0, tail_rows = 0;
  // One pass over `rows` rows of matrices with these column counts (one, or two sharing the pass).
  void pass(long rows, std::initializer_list<long> cols) {
    long c4 = 0;
    for (long c : cols) c4 += c & ~3L;
    const bool fits = blocks && c4 <= kKernelScratchCols;
    if (blocks && !fits && cols.size() > 1) {  // split into single passes
      for (long c : cols) pass(rows, {c});
      return;
    }
    const long brows = fits ? rows & ~3L : 0;
    passes += 1;
    for (long c : cols) {
      if (c & 3L)
        tail_rows += static_cast<double>(brows);  // the block's rows finish their columns one by one
      const double block = static_cast<double>(brows) * static_cast<double>(fits ? c & ~3L : 0);
      block_macs += block;
      other_macs += static_cast<double>(rows) * static_cast<double>(c) - block;
      block_rows += static_cast<double>(brows);
      other_rows += static_cast<double>(rows - brows);
    }
  }
  // W (rows x cols, rank wr) and U (rows x H, rank ur) of a layer with `shared` rows in the fused pass.
  void layer(long rows, long shared, long cols, long H, long wr, long ur) {
    if (wr == 0 && ur == 0) {
      pass(shared, {cols, H});
      if (rows > shared) {
        pass(rows - shared, {cols});
        pass(rows - shared, {H});
      }
      return;
    }
    // Otherwise W x is one pass over all rows (through its factor when low rank), and U h another (GRU: its
    // n rows apart).
    if (wr > 0) pass(wr, {cols});
    pass(rows, {wr > 0 ? wr : cols});
    const long uc = ur > 0 ? ur : H;
    if (ur > 0) pass(ur, {H});
    pass(shared, {uc});
    if (rows > shared) pass(rows - shared, {uc});
  }
};
}  // namespace

CalibrationFeatures calibration_features(const Arch& a, const InputShape& in, bool dsp) {
  CalibrationFeatures f;
  const double T = in.steps, S = (in.steps + a.stride - 1) / a.stride, F = in.features, O = in.outputs;
  double rows = 0, units[5] = {0, 0, 0, 0, 0}, weights = 0, biases = 0;
  StepWork work;
  work.blocks = dsp;
  long in_dim = in.features;
  for (const auto& l : a.layers) {
    const long H = l.width, G = gate_count(l.cell) * H;
    for (const Product& p : {product(G, in_dim, l.wrank), product(G, H, l.urank)}) {
      rows += static_cast<double>(p.out_rows);
      weights += static_cast<double>(p.elems);
    }
    work.layer(G, l.cell == CellType::gru ? 2 * H : G, in_dim, H, l.wrank, l.urank);
    const int c = static_cast<int>(l.cell);
    units[c] += static_cast<double>(H);
    biases += static_cast<double>(bias_count(l.cell, H) - cell_scalars(l.cell));
    in_dim = H;
  }
  const double Hl = a.layers.back().width, D = a.dense;
  const double head_macs = (D > 0 ? D * Hl : 0) + O * (D > 0 ? D : Hl), head_rows = D + O;
  const bool mean = a.head == HeadType::mean;
  f.insn = {1,
            S * work.block_macs,
            S * work.other_macs,
            S * work.block_rows,
            S * work.other_rows,
            S * work.passes,
            S * work.tail_rows,
            S * units[0],
            S * units[1],
            S * units[2],
            S * units[3],
            S * units[4],
            S * F,
            S,
            S * static_cast<double>(a.layers.size()),
            T,
            head_macs,
            head_rows,
            mean ? S * Hl : 0.0,
            mean ? Hl : 0.0};
  const double L = static_cast<double>(a.layers.size());
  f.flash = {1, L, O, F};
  f.ram = {1, L, F, O};
  f.model_data_bytes = static_cast<long>(weights + head_macs + 4 * (biases + head_rows) +
                                         kQparamBytesPerRow * (rows + head_rows) + 8 * F);
  f.arena_bytes = plan_memory(inference_buffers(a, in, Quant::int8, Mode::streaming)).arena_bytes;
  return f;
}

namespace {
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) s += a[i] * b[i];
  return s;
}
}  // namespace

// ---------------------------------------------------------------- cost
bool Cost::fits(const Target& t) const {
  if (instructions > 0)  // calibrated: flash and RAM are the whole firmware image's
    return flash_bytes <= t.flash_bytes && ram_bytes <= t.ram_bytes;
  return flash_bytes + t.reserved_flash_bytes <= t.flash_bytes && ram_bytes + t.reserved_ram_bytes <= t.ram_bytes;
}

Cost estimate(const Arch& a, const Target& t, const InputShape& in_raw, Quant q, bool detail) {
  if (in_raw.features < 1 || in_raw.steps < 1 || in_raw.outputs < 1)
    throw Error(fmt::format("cost: input shape needs features, steps and outputs >= 1 (got {}, {}, {})",
                            in_raw.features, in_raw.steps, in_raw.outputs));
  const InputShape in = shape_for(a, in_raw);
  a.check_input(in.features);
  const bool i8 = q == Quant::int8;
  const long wbytes = i8 ? 1 : 4;
  const OpCycles& cy = t.cycles;
  const double mac = i8 ? cy.mac_int8 : cy.mac_f32;
  const double act = i8 ? cy.act_lut : cy.act_f32;
  const double elem = i8 ? cy.elementwise : cy.elementwise_f32;
  const double requant = i8 ? cy.requant : 0.0;

  Cost c;
  c.quant = q;
  c.steps = (in.steps + a.stride - 1) / a.stride;
  bool sigmoid = false, lowrank = false;
  unsigned cells_used = 0;
  long in_dim = in.features;
  double step_cycles = 0;
  if (detail) c.layers.reserve(a.layers.size() + 1);
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const auto& l = a.layers[i];
    const long H = l.width, rows = gate_count(l.cell) * H;
    const Product w = product(rows, in_dim, l.wrank), u = product(rows, H, l.urank);
    const long biases = bias_count(l.cell, H);
    const long params = w.elems + u.elems + biases;
    // int8: one const array per matrix, exactly its elements (what `rnnas export` writes).
    const long weight_bytes = w.elems * wbytes + u.elems * wbytes;
    const long bias_bytes = 4 * (biases - cell_scalars(l.cell));  // the cell scalars live in the descriptor
    const long qparam_bytes = i8 ? kQparamBytesPerRow * (w.out_rows + u.out_rows) : 0;
    const long macs = w.macs + u.macs;
    const double cycles = mac * static_cast<double>(macs) + (cy.row + requant) * static_cast<double>(w.out_rows + u.out_rows) +
                          act * static_cast<double>(acts_per_unit(l.cell) * H) +
                          elem * static_cast<double>(elementwise_per_unit(l.cell) * H) + cy.step;
    c.params += params;
    c.flash_weights += weight_bytes;
    c.flash_biases += bias_bytes;
    c.flash_qparams += qparam_bytes;
    c.macs_per_step += macs;
    step_cycles += cycles;
    sigmoid = sigmoid || uses_sigmoid(l.cell);
    lowrank = lowrank || l.wrank > 0 || l.urank > 0;
    cells_used |= 1u << static_cast<unsigned>(l.cell);
    if (detail)
      c.layers.push_back({fmt::format("{}[{}]", to_string(l.cell), i), params, weight_bytes, bias_bytes, qparam_bytes,
                          macs, cycles});
    in_dim = H;
  }
  // Head: optional dense ReLU layer, then the output layer; mean head accumulates every step.
  const long Hl = a.layers.back().width, O = in.outputs;
  const long head_in = a.dense > 0 ? a.dense : Hl;
  const long head_weights = (a.dense > 0 ? a.dense * Hl : 0) + O * head_in;
  const long head_biases = (a.dense > 0 ? a.dense : 0) + O;
  const long head_rows = (a.dense > 0 ? a.dense : 0) + O;
  const long head_weight_bytes = (a.dense > 0 ? a.dense * Hl * wbytes : 0) + O * head_in * wbytes;
  const long head_qparams = i8 ? kQparamBytesPerRow * head_rows : 0;
  c.params += head_weights + head_biases;
  c.flash_weights += head_weight_bytes;
  c.flash_biases += 4 * head_biases;
  c.flash_qparams += head_qparams;
  const double mean_cycles = a.head == HeadType::mean ? elem * static_cast<double>(Hl) : 0.0;
  const double head_cycles = mac * static_cast<double>(head_weights) + (cy.row + requant) * static_cast<double>(head_rows) +
                             (a.head == HeadType::mean ? elem * static_cast<double>(Hl) : 0.0) + cy.inference;
  if (detail)
    c.layers.push_back({"head", head_weights + head_biases, head_weight_bytes, 4 * head_biases, head_qparams,
                        0, head_cycles});
  // Input normalisation (folded into an int32 multiplier and offset per feature, or float mean and 1/std).
  c.flash_qparams += 8L * in.features;
  c.flash_tables = i8 ? kTanhTableBytes : 0;
  c.flash_descriptor = kDescriptorBase + kDescriptorPerLayer * static_cast<long>(a.layers.size());

  // Code: the kernels this model uses.
  const CodeBytes& k = t.code;
  long code = k.runtime + k.matvec + k.dense + (lowrank ? k.matvec_lowrank : 0) + (a.head == HeadType::mean ? k.head_mean : 0);
  for (unsigned cell = 0; cell < 5; ++cell)
    if (cells_used & (1u << cell)) code += cell_code(k, static_cast<CellType>(cell));
  const bool needs_float = !i8 || in.audio;
  if (!i8) code += k.float_math;
  if (needs_float && !t.fpu) code += k.soft_float;

  // Front end (audio): tables in flash, code, cycles per frame.
  double fe_cycles = 0;
  if (in.audio) {
    const FrontEndSize fe = front_end_size(in);
    code += k.frontend;
    const long mfcc = in.mfcc;
    c.flash_frontend = 64;  // its configuration; the tables are built in RAM (the "fe" buffer)
    const double nlogn = static_cast<double>(fe.fft) * std::log2(static_cast<double>(fe.fft));
    fe_cycles = cy.fft_f32 * nlogn +
                cy.mac_f32 * static_cast<double>(fe.window + 4 * fe.bins + mfcc * fe.mels) +
                cy.log_f32 * fe.mels;
    c.macs_per_step += mfcc * fe.mels;
  }
  c.flash_code = code;
  c.flash_bytes = c.flash_weights + c.flash_biases + c.flash_qparams + c.flash_tables + c.flash_code +
                  c.flash_descriptor + c.flash_frontend;

  // RAM: planned arenas plus the kernels' stack (estimate; the deployment measures it by stack painting).
  MemoryPlan stream = plan_memory(inference_buffers(a, in_raw, q, Mode::streaming));
  MemoryPlan window = plan_memory(inference_buffers(a, in_raw, q, Mode::window));
  c.arena_bytes = stream.arena_bytes;
  c.arena_window_bytes = window.arena_bytes;
  c.stack_bytes = 128 + 32 * static_cast<long>(a.layers.size()) + (in.audio ? 96 : 0);
  c.ram_bytes = c.arena_bytes + c.stack_bytes;
  c.ram_window_bytes = c.arena_window_bytes + c.stack_bytes;
  if (detail) {
    c.plan = std::move(stream);
    c.window_plan = std::move(window);
  }

  // Work and time.
  c.macs = c.macs_per_step * c.steps + head_weights;
  c.cycles_per_step = step_cycles + fe_cycles + mean_cycles;
  c.cycles = c.cycles_per_step * c.steps + head_cycles;
  c.latency_ms = c.cycles / t.clock_hz * 1e3;
  c.step_latency_ms = c.cycles_per_step / t.clock_hz * 1e3;
  c.energy_uj = t.active_power_mw * c.latency_ms;  // mW x ms = uJ
  c.estimated = true;
  // Calibrated targets: the fitted models of deployments replace the tables for int8 networks. The audio
  // front end is not in the calibration (deployments feed the network its features, docs/deploy.md): its
  // buffers are in the planned arena, its code and its work per frame stay the table's, added on top.
  const Calibration& cal = t.calibration;
  if (i8 && !cal.empty()) {
    const CalibrationFeatures f = calibration_features(a, in, t.dsp);
    const double fe_instructions = in.audio ? fe_cycles * in.steps / cal.cycles_per_instruction : 0.0;
    c.instructions = std::max(0.0, dot(cal.insn, f.insn)) + fe_instructions;
    c.flash_bytes = f.model_data_bytes + std::lround(std::max(0.0, dot(cal.flash, f.flash))) +
                    (in.audio ? k.frontend + c.flash_frontend : 0);
    c.ram_bytes = c.arena_bytes + std::lround(std::max(0.0, dot(cal.ram, f.ram)));
    c.stack_bytes = c.ram_bytes - c.arena_bytes;
    c.ram_window_bytes = c.ram_bytes + (c.arena_window_bytes - c.arena_bytes);
    c.cycles = c.instructions * cal.cycles_per_instruction;
    c.cycles_per_step = c.steps > 0 ? c.cycles / c.steps : c.cycles;
    c.latency_ms = c.cycles / t.clock_hz * 1e3;
    c.step_latency_ms = c.cycles_per_step / t.clock_hz * 1e3;
    c.energy_uj = t.active_power_mw * c.latency_ms;
    c.estimated = false;
  }
  return c;
}

std::string Cost::to_string(const Target& t) const {
  auto kib = [](long b) { return fmt::format("{:>8} B ({:.1f} KiB)", b, static_cast<double>(b) / 1024.0); };
  std::string s;
  s += fmt::format("quantisation  {}\nparameters    {}\n\n", hw::to_string(quant), params);
  s += "flash\n";
  s += fmt::format("  weights       {}\n", kib(flash_weights));
  s += fmt::format("  biases        {}\n", kib(flash_biases));
  s += fmt::format("  requant/norm  {}\n", kib(flash_qparams));
  s += fmt::format("  tables        {}\n", kib(flash_tables));
  s += fmt::format("  kernel code   {}   (estimated per kernel)\n", kib(flash_code));
  s += fmt::format("  descriptor    {}\n", kib(flash_descriptor));
  if (flash_frontend) s += fmt::format("  front end     {}\n", kib(flash_frontend));
  s += fmt::format("  total         {}   of {} ({:.1f}%; + {} B reserved for startup/libc)\n", kib(flash_bytes),
                   t.flash_bytes, 100.0 * static_cast<double>(flash_bytes) / static_cast<double>(t.flash_bytes), t.reserved_flash_bytes);
  if (!layers.empty()) {
    s += "\nper layer          params   weights    biases   qparams   MACs/step   cycles/step (est.)\n";
    for (const auto& l : layers)
      s += fmt::format("  {:<14} {:>8} {:>9} {:>9} {:>9} {:>11} {:>13.0f}\n", l.name, l.params, l.weight_bytes,
                       l.bias_bytes, l.qparam_bytes, l.macs_per_step, l.cycles_per_step);
  }
  auto plan_text = [](const MemoryPlan& p, const char* title) {
    std::string r = fmt::format("\n{} arena {} B\n  {:<14} {:>8} {:>8}  lifetime (phases)\n", title, p.arena_bytes,
                                "buffer", "bytes", "offset");
    for (const auto& b : p.buffers)
      r += fmt::format("  {:<14} {:>8} {:>8}  {}-{}\n", b.label(), b.bytes, b.offset, b.first, b.last);
    return r;
  };
  if (!plan.buffers.empty()) s += plan_text(plan, "streaming (one step at a time):");
  if (!window_plan.buffers.empty()) s += plan_text(window_plan, "whole window:");
  s += fmt::format("\nram           streaming {} B, whole window {} B (arena + {} B stack, estimated) of {} (+ {} B "
                   "reserved)\n",
                   ram_bytes, ram_window_bytes, stack_bytes, t.ram_bytes, t.reserved_ram_bytes);
  s += fmt::format("work          {} steps/window, {} MACs/step, {} MACs/window\n", steps, macs_per_step, macs);
  const char* est = estimated ? " (estimated)" : "";
  s += fmt::format("cycles        {:.0f}/step, {:.0f}/window{}\n", cycles_per_step, cycles, est);
  s += fmt::format("latency       {:.4g} ms/step, {:.4g} ms/window at {:.0f} MHz{}\n", step_latency_ms, latency_ms,
                   t.clock_hz / 1e6, est);
  s += fmt::format("energy        {:.4g} uJ/window at {:.3g} mW{}\n", energy_uj, t.active_power_mw, est);
  if (instructions > 0)
    s += fmt::format("calibrated    on {} deployments to {} ({}): the flash and RAM above are the whole firmware "
                     "image's; {:.0f} instructions per window (held-out error {:.1f}%)\n",
                     t.calibration.archs, t.qemu_machine, t.calibration.date, instructions, t.calibration.insn_mape_pct);
  s += fmt::format("fits          {}\n", fits(t) ? "yes" : "NO");
  return s;
}

}  // namespace rnnas::hw

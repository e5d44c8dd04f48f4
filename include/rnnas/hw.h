// rnnas/hw.h — microcontroller targets and the hardware cost model.
//
//   const rnnas::hw::Target t = rnnas::hw::load_target("nrf52840");      // targets/nrf52840.json
//   rnnas::hw::InputShape in{.features = 9, .steps = 128, .outputs = 6};  // or hw::shape_of(dataset)
//   rnnas::hw::Cost c = rnnas::hw::estimate(rnnas::Arch::parse("gru:32|head=last"), t, in);
//   c.flash_bytes; c.ram_bytes; c.macs; c.latency_ms;  // latency and energy are estimates (c.estimated)
//
// The cost model is a set of pure functions of (Arch, Target, quantisation, input shape). Flash counts
// what rnnas will put in flash for a model: weights, biases, requantisation parameters, lookup tables,
// the machine code of the kernels the model uses, and the model descriptor. RAM is the arena that the
// memory planner lays out (buffers with sizes and lifetimes; the code generator uses the same plan) plus
// the kernels' stack. Latency is steps x per-step cost from the target's per-operation cycle table, which
// is an estimate until calibrated against measured counts (the deployment issue).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "rnnas/space.h"

namespace rnnas {
struct Dataset;
}

namespace rnnas::hw {

// ---- Quantisation ----
// int8: int8 weights (per-output-row scales), int32 biases, int8 activations and states, int16 LSTM cell
// state, table sigmoid/tanh. float32: everything in float (the reference).
enum class Quant { int8, float32 };
std::string_view to_string(Quant q);
Quant parse_quant(std::string_view s);  // "int8" | "float32"

// ---- Targets ----
// Cycles per operation, by operation class. Estimates until calibrated (Target::calibrated).
struct OpCycles {
  double mac_int8 = 0;        // one int8 x int8 -> int32 multiply-accumulate in a matrix-vector inner loop
  double mac_f32 = 0;         // one float multiply-accumulate (soft-float on cores without an FPU)
  double row = 0;             // per output row of a matrix-vector product: loop, bias, store
  double requant = 0;         // per element: fixed-point multiply, shift, saturate
  double act_lut = 0;         // sigmoid / tanh by table, per element
  double act_f32 = 0;         // float sigmoid / tanh, per element
  double elementwise = 0;     // one integer add / multiply / saturate of a cell update
  double elementwise_f32 = 0; // the same in float
  double step = 0;            // per layer and time step: call and pointer set-up
  double inference = 0;       // per inference: entry, head, output
  double fft_f32 = 0;         // front end: per N log2 N unit of a real FFT of size N
  double log_f32 = 0;         // front end: one logarithm
};

// Machine-code bytes of each kernel (Thumb-2, -Os; Thumb-1 on ARMv6-M). Estimates until measured.
struct CodeBytes {
  int runtime = 0;             // status, requantisation helpers, model entry points
  int matvec = 0;              // int8 matrix-vector
  int matvec_lowrank = 0;      // extra for the low-rank path
  int rnn = 0, gru = 0, lstm = 0, fastrnn = 0, fastgrnn = 0;  // cell step kernels
  int head_mean = 0;
  int dense = 0;
  int frontend = 0;            // audio front end including the FFT
  int float_math = 0;          // float32 models: expf/tanhf and friends
  int soft_float = 0;          // float on a core without FPU: the compiler's soft-float routines
};

// A target's cost model fitted to deployments on its emulated board (`rnnas calibrate`, docs/deploy.md):
// linear models over calibration_features(): instructions per inference; flash of the firmware image
// beyond the model's exact data bytes; RAM (static + peak stack) beyond the planned arena.
struct Calibration {
  std::vector<double> insn, flash, ram;  // coefficients, in the order of CalibrationFeatures
  double cycles_per_instruction = 1.25;  // the cycle estimate from exact instruction counts
  int archs = 0;                         // deployments fitted
  double insn_mape_pct = 0, flash_max_err_pct = 0, ram_max_err_pct = 0;  // held-out fidelity
  std::string date;
  bool empty() const { return insn.empty(); }
};

struct Target {
  std::string name;
  std::string description;
  std::string core;        // cortex-m0plus, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55
  std::string isa;         // armv6-m, armv7-m, armv7e-m, armv8-m.main, armv8.1-m.main
  double clock_hz = 0;
  long ram_bytes = 0;
  long flash_bytes = 0;
  bool fpu = false, dsp = false, mve = false;
  std::string qemu_machine;          // the emulated board that runs code of this instruction set
  std::vector<std::string> cflags;   // arm-none-eabi-gcc flags
  double active_power_mw = 0;        // run mode, CPU active at clock_hz (datasheet, see power_source)
  std::string power_source;
  std::vector<std::string> sources;  // datasheet references for the figures
  long reserved_ram_bytes = 0;       // stack of the caller, startup and libc data (not the model's)
  long reserved_flash_bytes = 0;     // startup, vector table, libc pieces (not the model's)
  OpCycles cycles;
  CodeBytes code;
  bool calibrated = false;
  Calibration calibration;  // targets/calibration/<name>.json when present (calibrated is then true)
  std::string file;  // where it was loaded from

  static Target from_json(const nlohmann::json& j, const std::string& where);
};

// The folder of target files: $RNNAS_TARGETS_DIR, else the source tree's targets/.
std::string targets_dir();
// By name (targets/<name>.json) or by path to a .json file. Throws rnnas::Error naming the field. Its
// calibration (targets/calibration/<name>.json) is attached unless with_calibration is false (what
// `rnnas calibrate` starts from, so a stale calibration never stops its own replacement).
Target load_target(const std::string& name_or_path, bool with_calibration = true);
std::vector<Target> list_targets();

// ---- What the network sees ----
struct InputShape {
  int features = 0;  // per time step, into the first layer
  int steps = 0;     // time steps per inference window (before the arch's stride)
  int outputs = 0;   // classes, or regression outputs
  // Audio: the device runs the front end too (its tables, code, buffers and cycles are counted).
  bool audio = false;
  int sample_rate = 0;
  double win_ms = 0, hop_ms = 0;
  int mels = 0, mfcc = 0;
};
// From a dataset (its longest sequence is the window); for audio, the dataset's front end.
InputShape shape_of(const Dataset& ds);
// The shape an arch sees: its front-end choice replaces the dataset's (features and frames change).
InputShape shape_for(const Arch& a, const InputShape& in);

// ---- Memory planner ----
// A buffer with a lifetime in phases of one inference step (0 = input, then one phase per layer, then
// head and output); buffers whose lifetimes overlap never share bytes.
struct Buffer {
  const char* name = "";  // static string: "state", "cell", "gates", ...
  int layer = -1;         // the layer it belongs to, -1 for none
  long bytes = 0;
  int first = 0, last = 0;
  long offset = -1;       // set by plan_memory
  std::string label() const;  // "state[0]"
};
struct MemoryPlan {
  std::vector<Buffer> buffers;
  long arena_bytes = 0;
};
// Greedy by size (largest first, lowest offset that does not overlap a live buffer), 4-byte aligned.
MemoryPlan plan_memory(std::vector<Buffer> buffers);

enum class Mode { streaming, window };
// The buffers one inference needs. streaming: the device feeds one time step at a time (persistent
// state only); window: the whole input window is stored first, then run.
std::vector<Buffer> inference_buffers(const Arch& a, const InputShape& in, Quant q, Mode mode);

// ---- Cost ----
struct LayerCost {
  std::string name;       // "gru[0]", "head"
  long params = 0;
  long weight_bytes = 0;  // weights
  long bias_bytes = 0;    // biases and cell scalars
  long qparam_bytes = 0;  // requantisation multipliers and shifts
  long macs_per_step = 0;
  double cycles_per_step = 0;
};

struct Cost {
  Quant quant = Quant::int8;
  long params = 0;
  // Flash, by kind; flash_bytes is their sum (the model's share of flash).
  long flash_weights = 0, flash_biases = 0, flash_qparams = 0, flash_tables = 0, flash_code = 0,
       flash_descriptor = 0, flash_frontend = 0;
  long flash_bytes = 0;
  // RAM: the planned arena plus the kernels' stack; ram_bytes is streaming inference, ram_window_bytes
  // whole-window inference.
  long arena_bytes = 0, arena_window_bytes = 0, stack_bytes = 0;
  long ram_bytes = 0, ram_window_bytes = 0;
  // Work per inference window (steps / stride network steps, plus the front end's frames for audio).
  int steps = 0;  // network steps per window
  long macs = 0, macs_per_step = 0;
  double cycles = 0, cycles_per_step = 0;
  double latency_ms = 0;       // one window
  double step_latency_ms = 0;  // one streaming step (what must fit between two input steps)
  double energy_uj = 0;        // one window at the target's active power
  bool estimated = true;       // cycles, latency and energy come from the (uncalibrated) table
  double instructions = 0;     // per window, predicted by the target's calibration (0 when uncalibrated)
  std::vector<LayerCost> layers;  // detail only
  MemoryPlan plan, window_plan;   // detail only
  // Does it fit the target (adding the target's reserved flash and RAM)?
  bool fits(const Target& t) const;
  std::string to_string(const Target& t) const;  // the breakdown `rnnas cost` prints
};

// The regressors of the calibrated cost model (int8, non-audio): per inference of in.steps input steps.
struct CalibrationFeatures {
  std::vector<double> insn, flash, ram;
  long model_data_bytes = 0;  // weights + biases + requantisation + input scaling: exact
  long arena_bytes = 0;
  static std::vector<std::string> insn_names(), flash_names(), ram_names();
};
// dsp: the target runs the DSP kernels (work in blocks of 4 rows x 4 columns is counted apart).
CalibrationFeatures calibration_features(const Arch& a, const InputShape& in, bool dsp);
void save_calibration(const Calibration& c, const std::string& path);
Calibration load_calibration(const std::string& path);

// Pure and fast (no I/O, no allocation beyond a few small vectors). `detail` adds the per-layer
// breakdown and the memory plans with buffer names.
Cost estimate(const Arch& a, const Target& t, const InputShape& in, Quant q = Quant::int8, bool detail = false);

}  // namespace rnnas::hw

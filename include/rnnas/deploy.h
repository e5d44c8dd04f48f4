// rnnas/deploy.h — an int8 model as real firmware on an emulated board: generated C code built with
// arm-none-eabi-gcc into a harness of the project's own, run under qemu-system-arm with the test split
// streamed through semihosting, measured (flash and RAM from the linked image, peak stack by stack
// painting, exact instructions per inference from the project's QEMU plugin) and checked byte for byte
// against the host's int8 evaluation.
//
//   rnnas::quant::QModel q = rnnas::quant::quantize(model, data.train);
//   rnnas::deploy::DeployResult r = rnnas::deploy::deploy(q, rnnas::hw::load_target("nrf52840"), data.test,
//                                                         {.dir = "out/deploy"});
//   r.bit_exact; r.instructions_mean; r.flash_bytes; r.device.accuracy;
//
// Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (scripts/deps.sh installs them).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rnnas/data.h"
#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/quant.h"
#include "rnnas/space.h"
#include "rnnas/study.h"

namespace rnnas::deploy {

struct DeployOptions {
  std::string dir;              // work directory: sources, firmware, map, logs (created)
  long max_flash_bytes = 0;     // budgets, made linker regions (0: the target's flash and RAM)
  long max_ram_bytes = 0;
  size_t limit = 0;             // test sequences streamed to the device (0: all)
  double timeout_s = 600;       // for the emulator
  bool weights16 = false;       // quant::ExportOptions::weights16 (Cortex-M4/M7 only)
};

struct DeployResult {
  std::string target, board, cpu;
  // Flash from the linked image (.isr_vector + .text + .rodata + .data), attributed by the map.
  long flash_bytes = 0, flash_model = 0, flash_runtime = 0, flash_harness = 0, flash_libc = 0;
  long static_ram_bytes = 0;  // .data + .bss (model arena, runner, harness buffers)
  long arena_bytes = 0;       // the planner's arena (part of static RAM)
  long stack_peak_bytes = 0;  // stack painting
  long ram_bytes() const { return static_ram_bytes + stack_peak_bytes; }
  std::vector<uint64_t> instructions;  // per inference (exact: QEMU plugin)
  double instructions_mean = 0;
  double cycles_est = 0, latency_ms_est = 0, energy_uj_est = 0;  // estimates from instructions
  nn::Metrics device;      // of the outputs the firmware computed
  size_t sequences = 0;
  size_t mismatches = 0;   // sequences whose outputs differ from the host's int8 evaluation
  bool bit_exact() const { return sequences > 0 && mismatches == 0; }
  std::string to_string() const;
  nlohmann::json to_json() const;  // also written as DIR/deploy.json by deploy()
};

// Cycles per instruction of a core (for estimates from exact instruction counts; MEASURE.md: nothing
// here models Cortex-M timing).
double cycles_per_instruction(const std::string& core);

// ---- Calibration (rnnas calibrate) ----
struct CalibrateOptions {
  int archs = 50;                 // deployments to fit (sampled, each on one of three small tasks)
  uint64_t seed = 1;
  std::string space = "default";  // the search space sampled
  std::string dir;                // work directory
  size_t sequences = 3;           // test sequences per deployment
  std::function<void(int done, int total)> on_progress;
};
struct CalibrationSample {
  std::string arch, data;
  hw::CalibrationFeatures features;
  double instructions = 0;
  long flash_bytes = 0, ram_bytes = 0;
  bool holdout = false;  // every third round of the three tasks: the fidelity figures are measured on these
};
struct CalibrateResult {
  std::string target_name;
  hw::Calibration calibration;  // fitted on all samples
  std::vector<CalibrationSample> samples;
  int skipped = 0;  // sampled archs that did not fit the board
  std::string bench_line() const;  // BENCH calibrate target=... archs=... insn_mape_pct=... ...
};
// Deploys sampled archs on the target's emulated board and fits the calibrated cost model; the fidelity
// figures are from a fit on two thirds of the samples, measured on the held-out third.
CalibrateResult calibrate(const hw::Target& target, const CalibrateOptions& o);

// Builds, runs and measures. Throws rnnas::Error when a tool is missing, the model does not fit the
// budgets (with the linker's message) or the firmware fails.
DeployResult deploy(const quant::QModel& q, const hw::Target& target, const Split& test, const DeployOptions& o);

// Stores a deployment's measurements with a study's trial (set_attr, next to the cost model's estimates):
// measured_flash_bytes, measured_ram_bytes, measured_instructions, measured_latency_ms_est,
// measured_energy_uj_est, device_error, device_bit_exact. `rnnas search --measure` and `rnnas deploy` of a
// study trial on the study's own target record them; the report and `rnnas show` display them.
void record(Storage& store, int64_t study, int64_t trial, const DeployResult& r);

}  // namespace rnnas::deploy

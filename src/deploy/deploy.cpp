// Deployment on emulated boards: generate, cross-compile with the project's harness, run under QEMU with
// the instruction-counting plugin, measure, compare with the host's int8 evaluation.
#include "rnnas/deploy.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <regex>
#include <sstream>

#include "embedded.h"
#include "rnnas/core.h"
#include "rnnas/space.h"
#include <Eigen/Dense>

namespace rnnas::deploy {

namespace {
namespace fs = std::filesystem;

std::string shell_quote(const std::string& s) {
  std::string q;
  q.reserve(s.size() + 2);
  q.push_back('\'');
  for (char c : s) {
    if (c == '\'') q.append("'\\''");
    else q.push_back(c);
  }
  q.push_back('\'');
  return q;
}

// Runs a command; returns its exit status and combined output.
int run(const std::string& cmd, std::string& output) {
  output.clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  if (!f.flush()) throw Error(fmt::format("deploy: cannot write {}", p.string()));
}

// Memory of the emulated boards (QEMU 7.2): flash origin and size, RAM size (at 0x20000000).
struct Board {
  const char* flash_origin;
  long flash_bytes, ram_bytes;
};
const Board* board_of(const std::string& machine) {
  static const std::map<std::string, Board> boards = {
      {"microbit", {"0x00000000", 256 * 1024, 16 * 1024}},       // nRF51822
      {"mps2-an385", {"0x00000000", 4 << 20, 4 << 20}},          // ZBT SSRAM 1 / 2+3
      {"mps2-an386", {"0x00000000", 4 << 20, 4 << 20}},
      {"mps2-an500", {"0x00000000", 4 << 20, 4 << 20}},
      {"netduinoplus2", {"0x08000000", 1024 * 1024, 128 * 1024}}};  // STM32F405 (main SRAM)
  const auto it = boards.find(machine);
  return it == boards.end() ? nullptr : &it->second;
}

// The stack the linker must leave free (the cost model's kernel-stack estimate is 128 + 32 per layer).
constexpr long kMinStackBytes = 256;

std::string plugin_path() {
  if (const char* e = std::getenv("RNNAS_QEMU_PLUGIN")) return e;
  return RNNAS_QEMU_PLUGIN_PATH;
}

}  // namespace

// Typical integer-code CPIs from the cores' pipelines: M0/M0+ 2-stage, M3/M4/M33 3-stage with 1-cycle
// MAC, M7 dual issue.
double cycles_per_instruction(const std::string& core) {
  static const std::map<std::string, double> cpi = {{"cortex-m0", 1.4},  {"cortex-m0plus", 1.35}, {"cortex-m3", 1.25},
                                                    {"cortex-m4", 1.2},  {"cortex-m7", 0.75},     {"cortex-m33", 1.2},
                                                    {"cortex-m55", 1.0}};
  const auto it = cpi.find(core);
  return it == cpi.end() ? 1.25 : it->second;
}

namespace {

// Flash bytes by object file from the linker map: every allocated section that lands in flash.
std::map<std::string, long> flash_by_file(const std::string& map) {
  std::map<std::string, long> bytes;
  std::istringstream in(map);
  std::string line, pending;
  bool started = false;
  static const std::regex full(R"(^ (\.[^\s]+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$)");
  static const std::regex name_only(R"(^ (\.[^\s]+)\s*$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!started) {
      started = line.rfind("Linker script and memory map", 0) == 0;
      continue;
    }
    if (std::regex_match(line, m, name_only)) {
      pending = m[1];
      continue;
    }
    if (!std::regex_match(line, m, full)) {
      pending.clear();
      continue;
    }
    const std::string section = m[1].matched ? std::string(m[1]) : pending;
    pending.clear();
    const long size = std::stol(m[3], nullptr, 16);
    const bool flash = section.rfind(".text", 0) == 0 || section.rfind(".rodata", 0) == 0 ||
                       section.rfind(".data", 0) == 0 || section.rfind(".isr_vector", 0) == 0;
    if (!flash || size == 0) continue;
    std::string file = m[4];
    while (!file.empty() && file.back() == ' ') file.pop_back();
    bytes[file] += size;
  }
  return bytes;
}

}  // namespace

std::string DeployResult::to_string() const {
  std::string s;
  s += fmt::format("target        {} ({}, emulated board {})\n", target, cpu, board);
  s += fmt::format("flash         {} B: model {} B, runtime {} B, harness {} B, libc/libgcc {} B\n", flash_bytes,
                   flash_model, flash_runtime, flash_harness, flash_libc);
  s += fmt::format("ram           {} B: static {} B (arena {} B) + peak stack {} B\n", ram_bytes(), static_ram_bytes,
                   arena_bytes, stack_peak_bytes);
  if (!instructions.empty()) {
    const auto [lo, hi] = std::minmax_element(instructions.begin(), instructions.end());
    s += fmt::format("instructions  {:.0f} per inference (exact; min {}, max {})\n", instructions_mean, *lo, *hi);
  }
  s += fmt::format("cycles        {:.0f} (estimated from instructions)\n", cycles_est);
  s += fmt::format("latency       {:.4g} ms (estimated)\n", latency_ms_est);
  s += fmt::format("energy        {:.4g} uJ (estimated)\n", energy_uj_est);
  s += fmt::format("device        {} on {} test sequences\n", device.to_string(), sequences);
  s += fmt::format("bit-exact     {} ({} of {} sequences differ from the host int8 evaluation)\n",
                   bit_exact() ? "yes" : "NO", mismatches, sequences);
  return s;
}

DeployResult deploy(const quant::QModel& q, const hw::Target& t, const Split& test_in, const DeployOptions& o) {
  if (o.dir.empty()) throw Error("deploy: no work directory");
  if (t.qemu_machine.empty()) throw Error(fmt::format("deploy: target {} names no emulated board", t.name));
  if (test_in.empty()) throw Error("deploy: no test sequences");
  std::string out;
  if (run("arm-none-eabi-gcc --version", out) != 0)
    throw Error("deploy: arm-none-eabi-gcc not found (scripts/deps.sh installs gcc-arm-none-eabi)");
  if (run("qemu-system-arm --version", out) != 0)
    throw Error("deploy: qemu-system-arm not found (scripts/deps.sh installs it)");
  const std::string plugin = plugin_path();
  if (!fs::exists(plugin)) throw Error(fmt::format("deploy: the instruction-counting plugin {} is missing", plugin));

  const fs::path dir = fs::absolute(o.dir);
  fs::create_directories(dir);
  if (o.weights16 && !t.dsp)
    throw Error(
        fmt::format("deploy: 16-bit weights are for the DSP kernels; target {} ({}) has no DSP extension",
                    t.name, t.core));
  quant::ExportOptions eo{dir.string(), "model", "rnnas deploy"};
  eo.weights16 = o.weights16;
  quant::export_c(q, eo);
  for (size_t i = 0; i < kFirmwareFileCount; ++i) write_text(dir / kFirmwareFiles[i].name, kFirmwareFiles[i].text);

  // Budgets as linker regions, within what the emulated board has.
  const Board* board = board_of(t.qemu_machine);
  if (!board)
    throw Error(fmt::format("deploy: no memory map for the emulated board '{}' of target {} yet (supported: microbit, "
                            "mps2-an385, mps2-an386, mps2-an500, netduinoplus2)",
                            t.qemu_machine, t.name));
  const long flash = std::min(o.max_flash_bytes > 0 ? o.max_flash_bytes : t.flash_bytes, board->flash_bytes);
  const long ram = std::min(o.max_ram_bytes > 0 ? o.max_ram_bytes : t.ram_bytes, board->ram_bytes);
  std::string ld = read_text(dir / "link.ld.in");
  const std::string flash_origin = board->flash_origin;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{{"@TARGET@", t.name},
                                                                             {"@FLASH_ORIGIN@", flash_origin},
                                                                             {"@FLASH_BYTES@", std::to_string(flash)},
                                                                             {"@RAM_ORIGIN@", "0x20000000"},
                                                                             {"@RAM_BYTES@", std::to_string(ram)},
                                                                             {"@MIN_STACK@", std::to_string(kMinStackBytes)}})
    for (size_t p; (p = ld.find(k)) != std::string::npos;) ld.replace(p, k.size(), v);
  write_text(dir / "link.ld", ld);

  // Build: one object per source (the map attributes bytes to them), then link.
  std::string flags;
  for (const auto& f : t.cflags) {
    flags.push_back(' ');
    flags.append(shell_quote(f));
  }
  const std::string cc = "arm-none-eabi-gcc -std=c99 -Wall -Wextra -ffunction-sections -fdata-sections -fno-ipa-icf" + flags;
  std::vector<std::string> sources = {"startup.c", "harness.c", "model.c", "rnnas_nn.c", "rnnas_status.c"};
  std::string objects;
  for (const auto& src : sources) {
    const std::string obj = fs::path(src).stem().string() + ".o";
    if (run(fmt::format("cd {} && {} -c {} -o {}", shell_quote(dir.string()), cc, src, obj), out) != 0)
      throw Error(fmt::format("deploy: compiling {} failed:\n{}", src, out));
    objects += " " + obj;
  }
  if (run(fmt::format("cd {} && {} --specs=nano.specs -nostartfiles -T link.ld -Wl,--gc-sections -Wl,-Map=firmware.map "
                      "{} -o firmware.elf",
                      shell_quote(dir.string()), cc, objects),
          out) != 0)
    throw Error(fmt::format("deploy: linking for {} (flash {} B, RAM {} B) failed:\n{}", t.name, flash, ram, out));

  DeployResult r;
  r.target = t.name;
  r.board = t.qemu_machine;
  r.cpu = t.core;
  r.arena_bytes = q.plan.arena_bytes;
  // Sizes of the image.
  if (run(fmt::format("arm-none-eabi-size -A {}", shell_quote((dir / "firmware.elf").string())), out) != 0)
    throw Error(fmt::format("deploy: arm-none-eabi-size failed:\n{}", out));
  {
    std::istringstream in(out);
    std::string name;
    long size = 0, addr = 0;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      if (!(ls >> name >> size >> addr)) continue;
      if (name == ".isr_vector" || name == ".text" || name == ".ARM.exidx" || name == ".data") r.flash_bytes += size;
      if (name == ".data" || name == ".bss") r.static_ram_bytes += size;
    }
  }
  for (const auto& [file, bytes] : flash_by_file(read_text(dir / "firmware.map"))) {
    if (file == "model.o") r.flash_model += bytes;
    else if (file == "rnnas_nn.o" || file == "rnnas_status.o") r.flash_runtime += bytes;
    else if (file == "harness.o" || file == "startup.o") r.flash_harness += bytes;
    else r.flash_libc += bytes;
  }

  // The test set, streamed through semihosting.
  const size_t n = o.limit > 0 ? std::min(o.limit, test_in.size()) : test_in.size();
  {
    std::ofstream in(dir / "inputs.bin", std::ios::binary);
    const auto count = static_cast<int32_t>(n), features = static_cast<int32_t>(q.features);
    in.write(reinterpret_cast<const char*>(&count), 4);
    in.write(reinterpret_cast<const char*>(&features), 4);
    for (size_t i = 0; i < n; ++i) {
      const Sequence& x = test_in.x[i];
      if (x.cols() != q.features)
        throw Error(fmt::format("deploy: test sequence {} has {} features, the model {}", i, x.cols(), q.features));
      const auto steps = static_cast<int32_t>(x.rows());
      in.write(reinterpret_cast<const char*>(&steps), 4);
      in.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
    }
    if (!in.flush()) throw Error("deploy: cannot write inputs.bin");
  }
  fs::remove(dir / "outputs.bin");
  fs::remove(dir / "counts.txt");
  fs::remove(dir / "stack.txt");
  if (run(fmt::format("arm-none-eabi-nm {}", shell_quote((dir / "firmware.elf").string())), out) != 0)
    throw Error(fmt::format("deploy: arm-none-eabi-nm failed:\n{}", out));
  std::map<std::string, std::string> marker;
  long stack_bytes = -1;  // the stack region: from __stack_limit__ to the end of RAM
  {
    std::istringstream in(out);
    std::string addr, kind, name;
    long limit = -1, top = -1;
    while (in >> addr >> kind >> name) {
      if (name.rfind("rnnas_mark_", 0) == 0) marker[name] = "0x" + addr;
      if (name == "__stack_limit__") limit = std::stol(addr, nullptr, 16);
      if (name == "__stack_top__") top = std::stol(addr, nullptr, 16);
    }
    if (limit >= 0 && top > limit) stack_bytes = top - limit;
  }
  if (stack_bytes < 0) throw Error("deploy: the firmware has no __stack_limit__/__stack_top__");
  for (const char* m : {"rnnas_mark_start", "rnnas_mark_stop", "rnnas_mark_done"})
    if (!marker.count(m)) throw Error(fmt::format("deploy: the firmware has no {}", m));
  const std::string cmd = fmt::format(
      "cd {} && timeout {:.0f} qemu-system-arm -M {} -nographic -monitor none -serial none "
      "-semihosting-config enable=on,target=native -kernel firmware.elf -plugin {},start={},stop={},done={},out=counts.txt "
      "-d plugin",
      shell_quote(dir.string()), o.timeout_s, t.qemu_machine, shell_quote(plugin), marker["rnnas_mark_start"],
      marker["rnnas_mark_stop"], marker["rnnas_mark_done"]);
  const int rc = run(cmd, out);
  write_text(dir / "qemu.log", out);
  if (rc != 0)
    throw Error(fmt::format(
        "deploy: the firmware failed on {} (exit {}){}: {}", t.qemu_machine, rc,
        stack_bytes < 1024
            ? fmt::format("; {} B of static RAM leave {} B of stack within {} B of RAM: the stack "
                          "probably overflowed",
                          r.static_ram_bytes, stack_bytes, ram)
            : std::string(),
        out));

  // Outputs, instruction counts, stack.
  std::vector<int32_t> device(n * static_cast<size_t>(q.outputs));
  {
    std::ifstream f(dir / "outputs.bin", std::ios::binary);
    f.read(reinterpret_cast<char*>(device.data()), static_cast<std::streamsize>(device.size() * 4));
    if (static_cast<size_t>(f.gcount()) != device.size() * 4)
      throw Error(fmt::format("deploy: the firmware wrote {} of {} output bytes", f.gcount(), device.size() * 4));
  }
  {
    std::ifstream f(dir / "counts.txt");
    uint64_t c;
    while (f >> c) r.instructions.push_back(c);
    if (r.instructions.size() != n)
      throw Error(fmt::format("deploy: the plugin counted {} inferences, expected {}", r.instructions.size(), n));
    r.instructions_mean = static_cast<double>(std::accumulate(r.instructions.begin(), r.instructions.end(), uint64_t{0})) /
                          static_cast<double>(n);
  }
  r.stack_peak_bytes = std::atol(read_text(dir / "stack.txt").c_str());
  // The painted region used up to its last word: the stack ran into the static data (the arena) and the
  // outputs cannot be trusted. Reported like a linker overflow: the model does not fit this RAM.
  if (r.stack_peak_bytes >= stack_bytes)
    throw Error(fmt::format(
        "deploy: the stack overflowed on {}: {} B of static RAM leave {} B of stack within {} B of "
        "RAM, and the kernels used all of it (the model does not fit this RAM)",
        t.qemu_machine, r.static_ram_bytes, stack_bytes, ram));
  r.cycles_est = r.instructions_mean * cycles_per_instruction(t.core);
  r.latency_ms_est = r.cycles_est / t.clock_hz * 1e3;
  r.energy_uj_est = t.active_power_mw * r.latency_ms_est;
  Split test = test_in;
  test.x.resize(n);
  const std::vector<int32_t> host = q.run_all(test);
  r.sequences = n;
  const size_t O = static_cast<size_t>(q.outputs);
  for (size_t i = 0; i < n; ++i)
    r.mismatches += !std::equal(host.begin() + static_cast<long>(i * O), host.begin() + static_cast<long>((i + 1) * O),
                                device.begin() + static_cast<long>(i * O));
  r.device = q.metrics(device, test_in);
  // The figures, for programs (bench/results collects them).
  std::ofstream(fs::path(o.dir) / "deploy.json") << r.to_json().dump(2) << "\n";
  return r;
}

nlohmann::json DeployResult::to_json() const {
  return {{"target", target},
          {"board", board},
          {"cpu", cpu},
          {"flash_bytes", flash_bytes},
          {"flash_model", flash_model},
          {"flash_runtime", flash_runtime},
          {"flash_harness", flash_harness},
          {"flash_libc", flash_libc},
          {"static_ram_bytes", static_ram_bytes},
          {"arena_bytes", arena_bytes},
          {"stack_peak_bytes", stack_peak_bytes},
          {"ram_bytes", ram_bytes()},
          {"instructions", instructions_mean},
          {"cycles_est", cycles_est},
          {"latency_ms_est", latency_ms_est},
          {"energy_uj_est", energy_uj_est},
          {"sequences", sequences},
          {"mismatches", mismatches},
          {"bit_exact", bit_exact()},
          {"task", device.task == TaskKind::classification ? "classification" : "regression"},
          {"device_error", device.error()},
          {"device_accuracy", device.accuracy},
          {"device_rmse", device.rmse}};
}

std::string CalibrateResult::bench_line() const {
  int held = 0;
  for (const auto& x : samples) held += x.holdout;
  return fmt::format("BENCH calibrate target={} archs={} holdout={} insn_mape_pct={:.2f} flash_max_err_pct={:.2f} "
                     "ram_max_err_pct={:.2f}",
                     target_name, samples.size(), held, calibration.insn_mape_pct, calibration.flash_max_err_pct,
                     calibration.ram_max_err_pct);
}

namespace {
// Least squares (column-pivoting QR: rank-deficient columns get 0).
std::vector<double> fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y) {
  if (x.empty()) return {};
  Eigen::MatrixXd a(static_cast<long>(x.size()), static_cast<long>(x[0].size()));
  Eigen::VectorXd b(static_cast<long>(y.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = 0; j < x[i].size(); ++j) a(static_cast<long>(i), static_cast<long>(j)) = x[i][j];
    b(static_cast<long>(i)) = y[i];
  }
  const Eigen::VectorXd c = a.colPivHouseholderQr().solve(b);
  return {c.data(), c.data() + c.size()};
}
double dotv(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += a[i] * b[i];
  return s;
}
}  // namespace

CalibrateResult calibrate(const hw::Target& t, const CalibrateOptions& o) {
  if (o.archs < 6) throw Error("calibrate: needs at least 6 architectures");
  if (o.dir.empty()) throw Error("calibrate: no work directory");
  CalibrateResult res;
  res.target_name = t.name;
  // Small tasks vary features (1, 2, 6), outputs (1 to 8), the task kind; every deployment streams its
  // sequences cut to a random length (8 to 96 steps), so length terms are told apart from constants.
  const std::vector<std::string> specs = {"motion:difficulty=0.4,subjects=6,per_subject=20,T=96",
                                          "sine:classes=3,T=96,n=120", "chirp:T=96,n=120", "adding:T=96,n=120",
                                          "sine:classes=8,T=96,n=160"};
  std::vector<Dataset> data;
  for (const auto& s : specs) data.push_back(load_dataset(s));
  Rng rng(o.seed);
  int attempts = 0;
  while (static_cast<int>(res.samples.size()) < o.archs) {
    if (++attempts > 4 * o.archs)
      throw Error(fmt::format("calibrate: only {} of {} sampled architectures fit {}'s board", res.samples.size(),
                              o.archs, t.name));
    const size_t k = res.samples.size() % data.size();
    const Dataset& d = data[k];
    SearchSpace space = SearchSpace::load(o.space);
    space.input_features = d.num_features;
    space.fe_win_ms.clear();
    const Arch arch = space.sample(rng);
    nn::TrainOptions topt;
    topt.epochs = 1;
    topt.seed = o.seed;
    nn::TrainResult tr = nn::train(arch, d, topt);
    const quant::QModel q = quant::quantize(tr.model, d.train);
    DeployOptions dopt;
    dopt.dir = fmt::format("{}/arch", o.dir);
    dopt.limit = o.sequences;
    const int steps = 8 + static_cast<int>(rng.below(89));
    Split cut = d.test;
    cut.x.resize(std::min(cut.x.size(), o.sequences));
    for (auto& x : cut.x) x = Sequence(x.topRows(std::min<long>(steps, x.rows())));
    DeployResult r;
    try {
      r = deploy(q, t, cut, dopt);
    } catch (const Error& e) {
      if (std::string(e.what()).find("overflowed") == std::string::npos) throw;
      ++res.skipped;  // too large for the board
      continue;
    }
    // Every calibration deployment doubles as a check of the runtime against the host's int8 evaluation.
    if (!r.bit_exact())
      throw Error(
          fmt::format("calibrate: {} on {} ({}) is not bit-exact with the host: {} of {} sequences differ; "
                      "the firmware is in {}",
                      arch.to_string(), t.name, specs[k], r.mismatches, r.sequences, dopt.dir));
    CalibrationSample x;
    x.arch = arch.to_string();
    x.data = specs[k];
    hw::InputShape shape = hw::shape_of(d);
    shape.steps = static_cast<int>(cut.x[0].rows());
    x.features = hw::calibration_features(arch, shape, t.dsp);
    x.instructions = r.instructions_mean;
    x.flash_bytes = r.flash_bytes;
    x.ram_bytes = r.ram_bytes();
    x.holdout = (res.samples.size() / data.size()) % 3 == 2;  // every third round: each task held out too
    res.samples.push_back(std::move(x));
    if (o.on_progress) o.on_progress(static_cast<int>(res.samples.size()), o.archs);
  }
  auto fit_on = [&](bool holdout_only_excluded) {
    std::vector<std::vector<double>> xi, xf, xr;
    std::vector<double> yi, yf, yr;
    for (const auto& x : res.samples) {
      if (holdout_only_excluded && x.holdout) continue;
      xi.push_back(x.features.insn);
      yi.push_back(x.instructions);
      xf.push_back(x.features.flash);
      yf.push_back(static_cast<double>(x.flash_bytes - x.features.model_data_bytes));
      xr.push_back(x.features.ram);
      yr.push_back(static_cast<double>(x.ram_bytes - x.features.arena_bytes));
    }
    hw::Calibration c;
    c.insn = fit(xi, yi);
    c.flash = fit(xf, yf);
    c.ram = fit(xr, yr);
    return c;
  };
  // Fidelity: fit on two thirds, measure on the held-out third.
  const hw::Calibration part = fit_on(true);
  double ape = 0, flash_err = 0, ram_err = 0;
  int held = 0;
  for (const auto& x : res.samples) {
    if (!x.holdout) continue;
    ++held;
    const double pi = dotv(part.insn, x.features.insn);
    const double pf = static_cast<double>(x.features.model_data_bytes) + std::round(dotv(part.flash, x.features.flash));
    const double pr = static_cast<double>(x.features.arena_bytes) + std::round(dotv(part.ram, x.features.ram));
    ape += std::abs(pi - x.instructions) / x.instructions;
    flash_err = std::max(flash_err, std::abs(pf - static_cast<double>(x.flash_bytes)) / static_cast<double>(x.flash_bytes));
    ram_err = std::max(ram_err, std::abs(pr - static_cast<double>(x.ram_bytes)) / static_cast<double>(x.ram_bytes));
  }
  res.calibration = fit_on(false);
  res.calibration.archs = static_cast<int>(res.samples.size());
  res.calibration.cycles_per_instruction = cycles_per_instruction(t.core);
  res.calibration.insn_mape_pct = held ? 100.0 * ape / held : 0;
  res.calibration.flash_max_err_pct = 100.0 * flash_err;
  res.calibration.ram_max_err_pct = 100.0 * ram_err;
  return res;
}

void record(Storage& store, int64_t study, int64_t trial, const DeployResult& r) {
  store.set_attr(study, trial, "measured_flash_bytes", static_cast<double>(r.flash_bytes));
  store.set_attr(study, trial, "measured_ram_bytes", static_cast<double>(r.ram_bytes()));
  store.set_attr(study, trial, "measured_instructions", r.instructions_mean);
  store.set_attr(study, trial, "measured_latency_ms_est", r.latency_ms_est);
  store.set_attr(study, trial, "measured_energy_uj_est", r.energy_uj_est);
  store.set_attr(study, trial, "device_error", r.device.error());
  store.set_attr(study, trial, "device_bit_exact", r.bit_exact() ? 1.0 : 0.0);
}

}  // namespace rnnas::deploy

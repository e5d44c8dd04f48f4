// Target profiles: JSON files under targets/.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "rnnas/core.h"
#include "rnnas/hw.h"

namespace rnnas::hw {
namespace fs = std::filesystem;
namespace {

// Reads `key` of object `j` as T; errors name the file and the field path.
template <class T>
T get(const nlohmann::json& j, const std::string& key, const std::string& where, const std::string& path) {
  if (!j.is_object() || !j.contains(key)) throw Error(fmt::format("{}: missing field '{}{}'", where, path, key));
  const auto& v = j.at(key);
  try {
    if constexpr (std::is_same_v<T, double>) {
      if (!v.is_number()) throw 0;
      const double x = v.get<double>();
      if (!(x >= 0)) throw Error(fmt::format("{}: field '{}{}' must be a non-negative number", where, path, key));
      return x;
    } else if constexpr (std::is_same_v<T, long> || std::is_same_v<T, int>) {
      if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > (1LL << 40)) throw 0;
      return static_cast<T>(v.get<long long>());
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) throw 0;
      return v.get<bool>();
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) throw 0;
      return v.get<std::string>();
    } else {
      if (!v.is_array()) throw 0;
      T out;
      for (const auto& e : v) {
        if (!e.is_string()) throw 0;
        out.push_back(e.get<std::string>());
      }
      return out;
    }
  } catch (int) {
    const char* kind = std::is_same_v<T, double>   ? "a non-negative number"
                       : std::is_same_v<T, bool>   ? "true or false"
                       : std::is_same_v<T, std::string> ? "a string"
                       : std::is_integral_v<T>     ? "a non-negative integer"
                                                   : "a list of strings";
    throw Error(fmt::format("{}: field '{}{}' must be {}", where, path, key, kind));
  }
}

}  // namespace

Target Target::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(fmt::format("{}: a target file holds one JSON object", where));
  static const std::set<std::string> kKeys = {"name",          "description",   "core",       "isa",
                                              "clock_hz",      "ram_bytes",     "flash_bytes", "fpu",
                                              "dsp",           "mve",           "qemu_machine", "cflags",
                                              "active_power_mw", "power_source", "sources",    "reserved_ram_bytes",
                                              "reserved_flash_bytes", "cycles", "code_bytes", "calibrated",
                                              "notes"};
  for (const auto& [k, v] : j.items())
    if (!kKeys.count(k)) throw Error(fmt::format("{}: unknown field '{}'", where, k));
  Target t;
  t.file = where;
  t.name = get<std::string>(j, "name", where, "");
  t.description = get<std::string>(j, "description", where, "");
  t.core = get<std::string>(j, "core", where, "");
  t.isa = get<std::string>(j, "isa", where, "");
  t.clock_hz = get<double>(j, "clock_hz", where, "");
  t.ram_bytes = get<long>(j, "ram_bytes", where, "");
  t.flash_bytes = get<long>(j, "flash_bytes", where, "");
  t.fpu = get<bool>(j, "fpu", where, "");
  t.dsp = get<bool>(j, "dsp", where, "");
  t.mve = get<bool>(j, "mve", where, "");
  t.qemu_machine = get<std::string>(j, "qemu_machine", where, "");
  t.cflags = get<std::vector<std::string>>(j, "cflags", where, "");
  t.active_power_mw = get<double>(j, "active_power_mw", where, "");
  t.power_source = get<std::string>(j, "power_source", where, "");
  t.sources = get<std::vector<std::string>>(j, "sources", where, "");
  t.reserved_ram_bytes = get<long>(j, "reserved_ram_bytes", where, "");
  t.reserved_flash_bytes = get<long>(j, "reserved_flash_bytes", where, "");
  t.calibrated = get<bool>(j, "calibrated", where, "");
  if (t.clock_hz < 1e6 || t.ram_bytes < 1024 || t.flash_bytes < 1024)
    throw Error(fmt::format("{}: clock_hz, ram_bytes and flash_bytes must describe a real part (>= 1 MHz, 1 KiB)", where));
  const auto& c = j.contains("cycles") ? j.at("cycles") : nlohmann::json();
  const std::string cp = "cycles.";
  t.cycles.mac_int8 = get<double>(c, "mac_int8", where, cp);
  t.cycles.mac_f32 = get<double>(c, "mac_f32", where, cp);
  t.cycles.row = get<double>(c, "row", where, cp);
  t.cycles.requant = get<double>(c, "requant", where, cp);
  t.cycles.act_lut = get<double>(c, "act_lut", where, cp);
  t.cycles.act_f32 = get<double>(c, "act_f32", where, cp);
  t.cycles.elementwise = get<double>(c, "elementwise", where, cp);
  t.cycles.elementwise_f32 = get<double>(c, "elementwise_f32", where, cp);
  t.cycles.step = get<double>(c, "step", where, cp);
  t.cycles.inference = get<double>(c, "inference", where, cp);
  t.cycles.fft_f32 = get<double>(c, "fft_f32", where, cp);
  t.cycles.log_f32 = get<double>(c, "log_f32", where, cp);
  const auto& b = j.contains("code_bytes") ? j.at("code_bytes") : nlohmann::json();
  const std::string bp = "code_bytes.";
  t.code.runtime = get<int>(b, "runtime", where, bp);
  t.code.matvec = get<int>(b, "matvec", where, bp);
  t.code.matvec_lowrank = get<int>(b, "matvec_lowrank", where, bp);
  t.code.rnn = get<int>(b, "rnn", where, bp);
  t.code.gru = get<int>(b, "gru", where, bp);
  t.code.lstm = get<int>(b, "lstm", where, bp);
  t.code.fastrnn = get<int>(b, "fastrnn", where, bp);
  t.code.fastgrnn = get<int>(b, "fastgrnn", where, bp);
  t.code.head_mean = get<int>(b, "head_mean", where, bp);
  t.code.dense = get<int>(b, "dense", where, bp);
  t.code.frontend = get<int>(b, "frontend", where, bp);
  t.code.float_math = get<int>(b, "float_math", where, bp);
  t.code.soft_float = get<int>(b, "soft_float", where, bp);
  return t;
}

std::string targets_dir() {
  const char* env = std::getenv("RNNAS_TARGETS_DIR");
  if (env && *env) return env;
  return RNNAS_DEFAULT_TARGETS_DIR;
}

Target load_target(const std::string& name_or_path, bool with_calibration) {
  fs::path p(name_or_path);
  if (p.extension() != ".json") p = fs::path(targets_dir()) / (name_or_path + ".json");
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) {
    std::string names;
    for (const auto& t : list_targets()) names += (names.empty() ? "" : ", ") + t.name;
    throw Error(fmt::format("target '{}': no such target (known: {}; or give a .json file)", name_or_path, names));
  }
  std::ifstream in(p);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", p.string(), e.what()));
  }
  Target t = Target::from_json(j, p.string());
  // A calibration of this target (rnnas calibrate) lives next to it: targets/calibration/<name>.json.
  const fs::path cal = p.parent_path() / "calibration" / (t.name + ".json");
  if (with_calibration && fs::is_regular_file(cal, ec)) {
    t.calibration = load_calibration(cal.string());
    t.calibrated = true;
  }
  return t;
}

namespace {
// Version 2: the DSP kernels' block features (step_block_macs, ...) replace step_macs and step_rows.
constexpr int kCalibrationVersion = 2;
}  // namespace

void save_calibration(const Calibration& c, const std::string& path) {
  nlohmann::json j = {{"format", "rnnas-calibration"},
                      {"version", kCalibrationVersion},
                      {"date", c.date},
                      {"archs", c.archs},
                      {"cycles_per_instruction", c.cycles_per_instruction},
                      {"insn_mape_pct", c.insn_mape_pct},
                      {"flash_max_err_pct", c.flash_max_err_pct},
                      {"ram_max_err_pct", c.ram_max_err_pct}};
  auto named = [](const std::vector<std::string>& names, const std::vector<double>& v) {
    nlohmann::json o = nlohmann::json::object();
    for (size_t i = 0; i < names.size() && i < v.size(); ++i) o[names[i]] = v[i];
    return o;
  };
  j["instructions"] = named(CalibrationFeatures::insn_names(), c.insn);
  j["flash"] = named(CalibrationFeatures::flash_names(), c.flash);
  j["ram"] = named(CalibrationFeatures::ram_names(), c.ram);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out.flush()) throw Error(fmt::format("calibration: cannot write {}", tmp));
  }
  fs::rename(tmp, path);
}

Calibration load_calibration(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
  Calibration c;
  try {
    if (j.at("format") != "rnnas-calibration")
      throw Error(fmt::format("{}: not an rnnas calibration file", path));
    if (j.at("version") != kCalibrationVersion)
      throw Error(
          fmt::format("{}: a calibration of another runtime (version {}, this rnnas reads version {}): run "
                      "`rnnas calibrate --target {} --write` again",
                      path, j.at("version").dump(), kCalibrationVersion, fs::path(path).stem().string()));
    c.date = j.value("date", "");
    c.archs = j.at("archs").get<int>();
    c.cycles_per_instruction = j.at("cycles_per_instruction").get<double>();
    c.insn_mape_pct = j.value("insn_mape_pct", 0.0);
    c.flash_max_err_pct = j.value("flash_max_err_pct", 0.0);
    c.ram_max_err_pct = j.value("ram_max_err_pct", 0.0);
    auto read = [&](const char* key, const std::vector<std::string>& names) {
      std::vector<double> v;
      for (const auto& n : names) v.push_back(j.at(key).at(n).get<double>());
      return v;
    };
    c.insn = read("instructions", CalibrationFeatures::insn_names());
    c.flash = read("flash", CalibrationFeatures::flash_names());
    c.ram = read("ram", CalibrationFeatures::ram_names());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: missing or bad field ({})", path, e.what()));
  }
  return c;
}

std::vector<Target> list_targets() {
  std::vector<Target> out;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(targets_dir(), ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out.push_back(load_target(f.string()));
  return out;
}

}  // namespace rnnas::hw

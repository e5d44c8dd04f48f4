// C code generation: model.h / model.c (const weight arrays, one static arena, the runtime descriptor),
// the runtime sources, a README for the firmware author and a JSON description.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "bind.h"
#include "embedded.h"
#include "rnnas_frontend.h"
#include "rnnas/core.h"
#include "rnnas/quant.h"

namespace rnnas::quant {

namespace {
namespace fs = std::filesystem;

template <class T>
std::string c_array(const std::string& type, const std::string& name, const std::vector<T>& v,
                    const std::string& attr = "") {
  std::string s = fmt::format("static const {} {}[{}]{} = {{", type, name, v.size(), attr);
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 24 == 0) s += "\n  ";
    s += fmt::format("{},", static_cast<long long>(v[i]));
  }
  s += "\n};\n";
  return s;
}

// A float literal that round-trips exactly (9 significant digits) and is valid C ("20.0f", not "20f").
std::string c_float(double v) {
  std::string t = fmt::format("{:.9g}", static_cast<float>(v));
  if (t.find_first_of(".eEn") == std::string::npos) t += ".0";
  return t + "f";
}

std::string c_floats(const std::string& name, const std::vector<float>& v) {
  std::string s = fmt::format("static const float {}[{}] = {{", name, v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 6 == 0) s += "\n  ";
    s += c_float(v[i]) + ",";
  }
  s += "\n};\n";
  return s;
}

std::string c_string(const std::string& v) {
  std::string s = "\"";
  for (unsigned char ch : v) {
    if (ch == '"' || ch == '\\') s += fmt::format("\\{}", static_cast<char>(ch));
    else if (ch < 32 || ch > 126) s += fmt::format("\\{:03o}", ch);
    else s += static_cast<char>(ch);
  }
  return s + "\"";
}

// v padded with `fill` to a multiple of 4 entries (per-row arrays of w16 matrices).
template <class T>
std::vector<T> padded4(std::vector<T> v, T fill) {
  v.resize((v.size() + 3) / 4 * 4, fill);
  return v;
}

// A matrix in the runtime's w16 form (rnnas_nn.h): 4-row blocks of 4-column chunks, each chunk rows 0-3 of
// the column pairs (c0, c2), then rows 0-3 of (c1, c3), zero padding to multiples of 4. Row r's weights
// (and bias) are scaled by 2^j_r, j_r = max(0, 33 - shift_r), and its shift is stored as
// k_r = shift_r + j_r - 33 >= 0: the accumulator is exactly 2^j_r times larger, so requantisation gives the
// same values, always through its short path (shift >= 33). None when a row cannot be scaled: j_r > 8 (the
// weights must stay 16-bit) or an accumulator (inputs within +-128, plus the bias) that could leave int32.
struct Wide {
  std::vector<int16_t> w;
  std::vector<int32_t> mult, bias;
  std::vector<int8_t> k;
};
std::optional<Wide> widen(const QMat& m, const std::vector<int32_t>& bias) {
  const int rows4 = (m.rows + 3) / 4 * 4, chunks = (m.cols + 3) / 4;
  Wide o;
  o.w.assign(static_cast<size_t>(rows4) * static_cast<size_t>(chunks) * 4, 0);
  o.mult = padded4(m.mult, 0);
  o.k.assign(static_cast<size_t>(rows4), 0);
  if (!bias.empty()) o.bias.assign(static_cast<size_t>(rows4), 0);
  for (int r = 0; r < m.rows; ++r) {
    const auto ru = static_cast<size_t>(r);
    const int j = std::max(0, 33 - m.shift[ru]);
    if (j > 8) return std::nullopt;
    int64_t reach = bias.empty() ? 0 : std::abs(static_cast<int64_t>(bias[ru]));
    for (int c = 0; c < m.cols; ++c)
      reach += 128 *
               std::abs(static_cast<int64_t>(m.w[ru * static_cast<size_t>(m.cols) + static_cast<size_t>(c)]));
    if ((reach << j) >= (int64_t{1} << 31)) return std::nullopt;
    o.k[ru] = static_cast<int8_t>(m.shift[ru] + j - 33);
    if (!bias.empty()) o.bias[ru] = bias[ru] * (1 << j);
    for (int c = 0; c < m.cols; ++c)
      o.w[static_cast<size_t>(((r / 4) * chunks + c / 4) * 16 + (c & 1) * 8 + (r & 3) * 2 + ((c >> 1) & 1))] =
          static_cast<int16_t>(m.w[ru * static_cast<size_t>(m.cols) + static_cast<size_t>(c)] * (1 << j));
  }
  return o;
}

// Emits the arrays of a matrix (and of its bias, when given, as bias_name) and returns its C initialiser;
// w16: in the w16 form when the matrix allows it (the last, partial 4-row group then runs through the
// assembly too: its padding rows requantise to 0).
std::string emit_mat(std::string& out, const std::string& name, const QMat& m, bool w16,
                     const std::vector<int32_t>& bias = {}, const std::string& bias_name = "") {
  if (m.w.empty()) return "{0, 0, NULL, NULL, NULL, NULL, NULL}";
  if (const auto wide = w16 ? widen(m, bias) : std::nullopt) {
    out += c_array("int16_t", name, wide->w, " RNNAS_ALIGN4");
    out += c_array("int32_t", name + "_mult", wide->mult);
    out += c_array("int8_t", name + "_shift", wide->k);
    if (!bias.empty()) out += c_array("int32_t", bias_name, wide->bias);
    return fmt::format("{{{}, {}, NULL, {}_mult, {}_shift, {}, rnnas_matvec16}}", m.rows, m.cols, name, name,
                       name);
  }
  out += c_array("int8_t", name, m.w);
  out += c_array("int32_t", name + "_mult", m.mult);
  out += c_array("int8_t", name + "_shift", m.shift);
  if (!bias.empty()) out += c_array("int32_t", bias_name, bias);
  return fmt::format("{{{}, {}, {}, {}_mult, {}_shift, NULL, NULL}}", m.rows, m.cols, name, name, name);
}

// sliced: the runtime takes row ranges of W (or W1) at 2H (GRU gates), which the w16 layout allows when
// 2H is a multiple of 4; W2 is never sliced.
std::string emit_linear(std::string& out, const std::string& name, const QLinear& l, bool w16, bool sliced) {
  const bool a16 = w16 && !sliced;
  if (l.rank == 0)
    return fmt::format("{{0, {}, {{0, 0, NULL, NULL, NULL, NULL, NULL}}}}", emit_mat(out, name, l.a, a16));
  const std::string a = emit_mat(out, name + "1", l.a, a16), b = emit_mat(out, name + "2", l.b, w16);
  return fmt::format("{{{}, {}, {}}}", l.rank, a, b);
}

const char* cell_enum(CellType c) {
  switch (c) {
    case CellType::rnn: return "RNNAS_CELL_RNN";
    case CellType::gru: return "RNNAS_CELL_GRU";
    case CellType::lstm: return "RNNAS_CELL_LSTM";
    case CellType::fastrnn: return "RNNAS_CELL_FASTRNN";
    case CellType::fastgrnn: return "RNNAS_CELL_FASTGRNN";
  }
  return "";
}

void write_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw Error(fmt::format("export: cannot write {}", tmp.string()));
    f << text;
    if (!f.flush()) throw Error(fmt::format("export: writing {} failed", tmp.string()));
  }
  fs::rename(tmp, path);
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void export_c(const QModel& q, const ExportOptions& opt) {
  if (opt.dir.empty()) throw Error("export: no output directory");
  const std::string p = opt.prefix;
  if (p.empty() || !(std::isalpha(static_cast<unsigned char>(p[0])) || p[0] == '_') ||
      p.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
    throw Error(fmt::format("export: prefix '{}' is not a C identifier", p));
  const std::string P = upper(p);
  std::error_code ec;
  fs::create_directories(opt.dir, ec);
  if (ec) throw Error(fmt::format("export: cannot create {}: {}", opt.dir, ec.message()));
  const Bound bound(q);  // the same descriptor the host evaluation uses, for its offsets

  // ---- model.h ----
  std::string h = fmt::format(
      "/* {p}.h - generated by rnnas export: {arch}\n"
      " * {task}, {F} features per step, {O} outputs; int8 weights, integer-only inference (docs in README.md).\n"
      " */\n"
      "#ifndef {P}_H\n#define {P}_H\n\n#include <stdint.h>\n\n#include \"rnnas_nn.h\"\n\n#ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n"
      "#define {P}_FEATURES {F}\n#define {P}_OUTPUTS {O}\n#define {P}_STRIDE {S}\n#define {P}_OUT_FRAC {OF}\n"
      "#define {P}_ARENA_BYTES {A}\n#define {P}_WEIGHT_BYTES {W}\n\n"
      "/** The network's descriptor (const, in flash). */\nextern const rnnas_model_s8 {p}_desc;\n\n"
      "/** Binds the static arena and resets the state. Call once before anything else. */\n"
      "rnnas_status {p}_init(void);\n"
      "/** Clears the state before a new sequence. */\nvoid {p}_reset(void);\n"
      "/** Streaming: feeds one time step of {P}_FEATURES raw features (the dataset's units). */\n"
      "rnnas_status {p}_step(const float *x);\n"
      "/** Streaming: feeds one step already quantised to int8 (see {p}_desc.in_scale / in_offset). */\n"
      "rnnas_status {p}_step_s8(const int8_t *x);\n"
      "/** The outputs for the steps fed so far: {P}_OUTPUTS int32 values, value = out / 2^{P}_OUT_FRAC. */\n"
      "rnnas_status {p}_output(int32_t *out);\n"
      "/** Whole sequence: reset, feed `steps` rows of x (steps x {P}_FEATURES, row-major), output. */\n"
      "rnnas_status {p}_run(const float *x, int32_t steps, int32_t *out);\n",
      fmt::arg("p", p), fmt::arg("P", P), fmt::arg("arch", q.arch.to_string()),
      fmt::arg("task", q.task == TaskKind::classification ? "classification" : "regression"), fmt::arg("F", q.features),
      fmt::arg("O", q.outputs), fmt::arg("S", q.arch.stride), fmt::arg("OF", q.out_frac),
      fmt::arg("A", q.plan.arena_bytes), fmt::arg("W", q.weight_bytes()));
  if (q.task == TaskKind::classification)
    h += fmt::format("/** Index of the largest output after `{p}_run` or `{p}_output` (-1 on error). */\n"
                     "int32_t {p}_classify(const float *x, int32_t steps);\n"
                     "/** Class names, {P}_OUTPUTS of them. */\nextern const char *const {p}_class_names[{P}_OUTPUTS];\n",
                     fmt::arg("p", p), fmt::arg("P", P));
  if (q.audio) {
    const FrontEnd fe(q.frontend);
    h += fmt::format(
        "\n/* Audio: 16-bit PCM at {P}_SAMPLE_RATE Hz -> the rnnas front end (runtime/rnnas_frontend.c, float;\n"
        " * needs kissfft's kiss_fft.c and kiss_fftr.c, BSD-3-Clause) -> one network step every {P}_HOP samples. */\n"
        "#define {P}_SAMPLE_RATE {rate}\n#define {P}_WINDOW {win}\n#define {P}_HOP {hop}\n"
        "/** Streaming: feeds any number of samples; runs a network step for every complete frame. */\n"
        "rnnas_status {p}_feed_pcm(const int16_t *pcm, int32_t n);\n"
        "/** Whole clip: reset, feed n samples, output. */\n"
        "rnnas_status {p}_run_pcm(const int16_t *pcm, int32_t n, int32_t *out);\n",
        fmt::arg("p", p), fmt::arg("P", P), fmt::arg("rate", q.frontend.rate), fmt::arg("win", fe.window()),
        fmt::arg("hop", fe.hop()));
  }
  h += "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n";

  // ---- model.c ----
  std::string arrays, c;
  c += fmt::format("/* {}.c - generated by rnnas export from {}. Do not edit: regenerate instead. */\n#include \"{}.h\"\n\n"
                   "#include <stddef.h>\n\n",
                   p, opt.source.empty() ? std::string("a model") : opt.source, p);
  std::vector<std::string> layer_inits;
  for (size_t i = 0; i < q.layers.size(); ++i) {
    const QLayer& l = q.layers[i];
    const rnnas_layer_s8& b = bound.layers[i];
    const std::string n = fmt::format("l{}_", i);
    const bool unaligned = l.cell == CellType::gru && (2 * l.width) % 4 != 0;
    const std::string w = emit_linear(arrays, n + "w", l.w, opt.weights16, unaligned),
                      u = emit_linear(arrays, n + "u", l.u, opt.weights16, unaligned);
    arrays += c_array("int32_t", n + "bias", l.bias);
    if (!l.bias_hn.empty()) arrays += c_array("int32_t", n + "bias_hn", l.bias_hn);
    layer_inits.push_back(fmt::format(
        "  {{{}, {}, {}, {}, {}, {}bias, {}, {}, {}, {}, {}, {}u, {}u, {}u, {}u}}", cell_enum(l.cell), l.width, l.input, w,
        u, n, l.bias_hn.empty() ? std::string("NULL") : n + "bias_hn", l.a, l.b, l.state_frac, l.cell_frac, b.off_state,
        b.off_cell, b.off_gates, b.off_lowrank));
  }
  arrays += c_floats("in_scale", q.in_scale);
  arrays += c_floats("in_offset", q.in_offset);
  const std::string dense = emit_mat(arrays, "dense_w", q.dense, opt.weights16, q.dense_bias, "dense_bias");
  const std::string outm = emit_mat(arrays, "out_w", q.out, opt.weights16, q.out_bias, "out_bias");
  c += arrays;
  c += fmt::format("\nstatic const rnnas_layer_s8 layers[{}] = {{\n", q.layers.size());
  for (size_t i = 0; i < layer_inits.size(); ++i) c += layer_inits[i] + (i + 1 < layer_inits.size() ? ",\n" : "\n");
  c += "};\n\n";
  const rnnas_model_s8& m = bound.model;
  c += fmt::format(
      "const rnnas_model_s8 {p}_desc = {{{F}, {O}, {S}, {L}, {head}, {D}, in_scale, in_offset, layers, {dense}, {db},\n"
      "  {out}, out_bias, {OF}, {oi}u, {om}u, {op}u, {od}u, {oo}u, {A}u}};\n\n"
      "/* One arena for every buffer, placed by the rnnas memory planner ({A} bytes). */\n"
      "static uint32_t arena[({A} + 3) / 4];\nstatic rnnas_runner runner;\n{pcmdecl}\n"
      "rnnas_status {p}_init(void) {{ return rnnas_model_init(&runner, &{p}_desc, arena, sizeof arena); }}\n"
      "void {p}_reset(void) {{ rnnas_model_reset(&runner);{rx} }}\n"
      "rnnas_status {p}_step(const float *x) {{ return rnnas_model_step(&runner, x); }}\n"
      "rnnas_status {p}_step_s8(const int8_t *x) {{ return rnnas_model_step_s8(&runner, x); }}\n"
      "rnnas_status {p}_output(int32_t *out) {{ return rnnas_model_output(&runner, out); }}\n"
      "rnnas_status {p}_run(const float *x, int32_t steps, int32_t *out) {{ return rnnas_model_run(&runner, x, steps, out); }}\n",
      fmt::arg("p", p), fmt::arg("F", m.features), fmt::arg("O", m.outputs), fmt::arg("S", m.stride),
      fmt::arg("L", m.num_layers), fmt::arg("head", m.head == RNNAS_HEAD_MEAN ? "RNNAS_HEAD_MEAN" : "RNNAS_HEAD_LAST"),
      fmt::arg("D", m.dense), fmt::arg("dense", dense), fmt::arg("db", q.dense_bias.empty() ? "NULL" : "dense_bias"),
      fmt::arg("out", outm), fmt::arg("OF", m.out_frac), fmt::arg("oi", m.off_input), fmt::arg("om", m.off_mean),
      fmt::arg("op", m.off_pooled), fmt::arg("od", m.off_dense), fmt::arg("oo", m.off_output),
      fmt::arg("A", m.arena_bytes),
      fmt::arg("pcmdecl", q.audio ? "static int32_t pcm_filled; /* samples of the current frame so far */\n" : ""),
      fmt::arg("rx", q.audio ? " pcm_filled = 0;" : ""));
  if (q.audio) {
    const FrontEnd fe(q.frontend);
    const size_t fe_bytes = fe.buffer_bytes();
    const std::string cfg = fmt::format("{{{}, {}, {}, {}, {}, {}, {}, {}}}", q.frontend.rate, fe.window(), fe.hop(),
                                        q.frontend.fft, q.frontend.mels, q.frontend.mfcc, c_float(q.frontend.low_hz),
                                        c_float(q.frontend.high_hz));
    c += fmt::format(
        "\n/* ---- Audio front end ---- */\n#include <string.h>\n#include \"rnnas_frontend.h\"\n\n"
        "static const rnnas_fe_config fe_config = {cfg};\n"
        "/* In the planned arena: the front end's tables and scratch ({feb} B), the PCM frame, the features. */\n"
        "#define FE_BUFFER ((uint8_t *)arena + {ofe}u)\n#define PCM_FRAME ((int16_t *)(void *)((uint8_t *)arena + {opcm}u))\n"
        "#define FEATURES ((float *)(void *)((uint8_t *)arena + {ofeat}u))\n"
        "static rnnas_fe fe;\nstatic int fe_ready;\n\n"
        "rnnas_status {p}_feed_pcm(const int16_t *pcm, int32_t n) {{\n"
        "  int32_t i = 0;\n"
        "  if (!pcm && n > 0) return RNNAS_ERR_NULL;\n"
        "  if (!fe_ready) {{\n"
        "    const rnnas_status s = rnnas_fe_init(&fe, &fe_config, FE_BUFFER, {feb});\n"
        "    if (s != RNNAS_OK) return s;\n"
        "    fe_ready = 1;\n"
        "  }}\n"
        "  while (i < n) {{\n"
        "    int32_t take = {P}_WINDOW - pcm_filled;\n"
        "    rnnas_status s;\n"
        "    if (take > n - i) take = n - i;\n"
        "    memcpy(PCM_FRAME + pcm_filled, pcm + i, (size_t)take * sizeof(int16_t));\n"
        "    pcm_filled += take;\n"
        "    i += take;\n"
        "    if (pcm_filled < {P}_WINDOW) break;\n"
        "    s = rnnas_fe_compute_frame(&fe, PCM_FRAME, FEATURES);\n"
        "    if (s == RNNAS_OK) s = {p}_step(FEATURES);\n"
        "    if (s != RNNAS_OK) return s;\n"
        "    memmove(PCM_FRAME, PCM_FRAME + {P}_HOP, (size_t)({P}_WINDOW - {P}_HOP) * sizeof(int16_t));\n"
        "    pcm_filled = {P}_WINDOW - {P}_HOP;\n"
        "  }}\n"
        "  return RNNAS_OK;\n"
        "}}\n\n"
        "rnnas_status {p}_run_pcm(const int16_t *pcm, int32_t n, int32_t *out) {{\n"
        "  rnnas_status s;\n"
        "  {p}_reset();\n"
        "  s = {p}_feed_pcm(pcm, n);\n"
        "  return s == RNNAS_OK ? {p}_output(out) : s;\n"
        "}}\n",
        fmt::arg("p", p), fmt::arg("P", P), fmt::arg("cfg", cfg), fmt::arg("feb", fe_bytes),
        fmt::arg("ofe", offset_of(q.plan, "fe")), fmt::arg("opcm", offset_of(q.plan, "fe_samples")),
        fmt::arg("ofeat", offset_of(q.plan, "features")));
  }
  if (q.task == TaskKind::classification) {
    c += fmt::format(
        "\nint32_t {p}_classify(const float *x, int32_t steps) {{\n  int32_t out[{P}_OUTPUTS];\n"
        "  if ({p}_run(x, steps, out) != RNNAS_OK) return -1;\n  return rnnas_argmax_s32(out, {P}_OUTPUTS);\n}}\n\n"
        "const char *const {p}_class_names[{P}_OUTPUTS] = {{",
        fmt::arg("p", p), fmt::arg("P", P));
    for (int k = 0; k < q.outputs; ++k) {
      const std::string name = static_cast<size_t>(k) < q.class_names.size() ? q.class_names[static_cast<size_t>(k)]
                                                                             : fmt::format("class{}", k);
      c += (k ? ", " : "") + c_string(name);
    }
    c += "};\n";
  }

  // ---- description (JSON) ----
  nlohmann::json j;
  j["format"] = "rnnas-c-model";
  j["version"] = 1;
  j["arch"] = q.arch.to_string();
  j["task"] = q.task == TaskKind::classification ? "classification" : "regression";
  j["features"] = q.features;
  j["outputs"] = q.outputs;
  j["feature_names"] = q.feature_names;
  j["class_names"] = q.class_names;
  j["output_names"] = q.output_names;
  j["out_frac"] = q.out_frac;
  j["in_scale"] = q.in_scale;
  j["in_offset"] = q.in_offset;
  j["source"] = opt.source;
  if (q.audio)
    j["frontend"] = {{"sample_rate", q.frontend.rate}, {"win_ms", q.frontend.win_ms}, {"hop_ms", q.frontend.hop_ms},
                     {"mels", q.frontend.mels},       {"mfcc", q.frontend.mfcc},     {"low_hz", q.frontend.low_hz},
                     {"high_hz", q.frontend.high_hz}, {"fft", q.frontend.fft}};
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : q.layers)
    layers.push_back({{"cell", std::string(to_string(l.cell))},
                      {"width", l.width},
                      {"input", l.input},
                      {"wrank", l.w.rank},
                      {"urank", l.u.rank},
                      {"state_frac", l.state_frac},
                      {"cell_frac", l.cell_frac}});
  j["layers"] = layers;
  nlohmann::json buffers = nlohmann::json::array();
  for (const auto& b : q.plan.buffers)
    buffers.push_back({{"name", b.label()}, {"bytes", b.bytes}, {"offset", b.offset}, {"first", b.first}, {"last", b.last}});
  j["arena"] = {{"bytes", q.plan.arena_bytes}, {"buffers", buffers}};
  j["weight_bytes"] = q.weight_bytes();
  j["weights16"] = opt.weights16;

  // ---- README ----
  const std::string readme = fmt::format(
      "# {p}: {arch}\n\nGenerated by `rnnas export`{src}. Plain C99; no malloc, no libm; the only floating "
      "point is the\n"
      "input quantisation in `{p}_step()` (one multiply-add per feature; use `{p}_step_s8()` to avoid "
      "it).\n\n"
      "## Files\n\n| file | what |\n|---|---|\n| `{p}.h`, `{p}.c` | the network: weights as `const` arrays "
      "(flash), one static arena of "
      "{A} bytes (RAM), the API below |\n| `rnnas_nn.h`, `rnnas_nn.c` | the rnnas int8 runtime (kernels and "
      "runner) |\n"
      "| `rnnas_status.h`, `rnnas_status.c` | status codes |\n| `{p}.json` | a description: shapes, number "
      "formats, "
      "arena plan |\n\nAdd the four `.c` files to your firmware build (`-std=c99` or later; `-O2` or "
      "`-Os`).\n\n"
      "## Use\n\n```c\n#include \"{p}.h\"\n\nint32_t out[{P}_OUTPUTS];\n{p}_init();\n"
      "/* streaming: one step at a time, {P}_FEATURES features each (the units of the training data) */\n"
      "for (;;) {{\n  read_sensors(x);\n  {p}_step(x);\n  if (window_complete) {{ {p}_output(out); "
      "{p}_reset(); }}\n}}\n"
      "/* or a whole window at once: steps x {P}_FEATURES floats, row-major */\n{p}_run(window, steps, "
      "out);\n```\n\n"
      "Outputs are int32 fixed point: value = out[k] / 2^{OF} ({kind}). The model was trained on windows of "
      "the\n"
      "dataset's length; feed the same number of steps before reading the output.\n\n"
      "## Figures\n\n- weights: {W} int8 values (plus per-row requantisation and biases){w16}\n- arena: {A} "
      "bytes "
      "(planned; the buffers and their offsets are in `{p}.json`)\n",
      fmt::arg("p", p), fmt::arg("P", P), fmt::arg("arch", q.arch.to_string()),
      fmt::arg("src", opt.source.empty() ? std::string() : " from " + opt.source),
      fmt::arg("A", q.plan.arena_bytes), fmt::arg("W", q.weight_bytes()), fmt::arg("OF", q.out_frac),
      fmt::arg("w16", opt.weights16
                          ? ", stored as 16-bit words in the DSP kernels' blocked layout (twice the "
                            "flash, fewer instructions on Cortex-M4/M7)"
                          : std::string()),
      fmt::arg("kind", q.task == TaskKind::classification ? "logits; the largest is the class"
                                                          : "regression values in the targets' units"));

  std::string readme_all = readme;
  if (q.audio)
    readme_all += fmt::format(
        "\n## Audio\n\nThe model listens to 16-bit PCM at {rate} Hz: `{p}_feed_pcm(pcm, n)` takes any number of "
        "samples and runs\none network step per frame ({win} samples, every {hop}); `{p}_run_pcm(pcm, n, out)` does a "
        "whole clip.\nThe front end (`rnnas_frontend.[ch]`: Hann window, FFT, mel filterbank, log{mfcc}) computes in "
        "float, the\nsame C code rnnas trained on; the network after it is integer. It needs kissfft's `kiss_fft.c` and\n"
        "`kiss_fftr.c` (BSD-3-Clause; Debian's libkissfft-dev has the headers, not the sources) compiled with\n"
        "`-Dkiss_fft_scalar=float`. Its tables and one frame's scratch ({feb} bytes), the {win}-sample PCM frame and\n"
        "the features are buffers of the planned arena (`model.json`).\n",
        fmt::arg("p", p), fmt::arg("rate", q.frontend.rate), fmt::arg("win", FrontEnd(q.frontend).window()),
        fmt::arg("hop", FrontEnd(q.frontend).hop()), fmt::arg("mfcc", q.frontend.mfcc > 0 ? ", DCT to MFCCs" : ""),
        fmt::arg("feb", q.audio ? FrontEnd(q.frontend).buffer_bytes() : 0));
  const fs::path dir(opt.dir);
  write_file(dir / (p + ".h"), h);
  write_file(dir / (p + ".c"), c);
  write_file(dir / (p + ".json"), j.dump(2) + "\n");
  write_file(dir / "README.md", readme_all);
  for (size_t i = 0; i < kRuntimeFileCount; ++i) {
    const std::string name = kRuntimeFiles[i].name;
    if (!q.audio && name.rfind("rnnas_frontend", 0) == 0) continue;
    write_file(dir / name, kRuntimeFiles[i].text);
  }
}

}  // namespace rnnas::quant

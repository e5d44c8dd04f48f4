#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "rnnas/core.h"
#include "rnnas/space.h"

namespace rnnas {
namespace {

constexpr std::string_view kCellNames[] = {"rnn", "gru", "lstm", "fastrnn", "fastgrnn"};

bool parse_cell(std::string_view name, CellType& out) {
  for (size_t i = 0; i < std::size(kCellNames); ++i) {
    if (name == kCellNames[i]) {
      out = static_cast<CellType>(i);
      return true;
    }
  }
  return false;
}

int parse_positive(std::string_view text, std::string_view what, std::string_view spec) {
  long long v = 0;
  if (!parse_int(text, v) || v <= 0 || v > 1'000'000)
    throw Error(fmt::format("arch '{}': {} must be a positive integer, got '{}'", spec, what, text));
  return static_cast<int>(v);
}

double parse_real(std::string_view text, std::string_view what, std::string_view spec) {
  double v = 0;
  if (!parse_number(text, v) || !std::isfinite(v) || v < 0)
    throw Error(fmt::format("arch '{}': {} must be a non-negative number, got '{}'", spec, what, text));
  return v;
}

LayerSpec parse_layer(std::string_view token, std::string_view spec) {
  const auto parts = split(token, ':');
  LayerSpec layer;
  if (!parse_cell(parts[0], layer.cell))
    throw Error(fmt::format("arch '{}': unknown cell '{}' (expected rnn, gru, lstm, fastrnn or fastgrnn)",
                            spec, parts[0]));
  if (parts.size() < 2)
    throw Error(fmt::format("arch '{}': layer '{}' needs a width, as in '{}:32'", spec, token, parts[0]));
  layer.width = parse_positive(parts[1], "layer width", spec);
  for (size_t i = 2; i < parts.size(); ++i) {
    const auto eq = parts[i].find('=');
    const auto key = parts[i].substr(0, eq);
    if (eq == std::string_view::npos || (key != "wrank" && key != "urank"))
      throw Error(fmt::format("arch '{}': layer option '{}' is not wrank=R or urank=R", spec, parts[i]));
    const int r = parse_positive(parts[i].substr(eq + 1), key, spec);
    (key == "wrank" ? layer.wrank : layer.urank) = r;
  }
  return layer;
}

}  // namespace

std::string_view to_string(CellType c) { return kCellNames[static_cast<int>(c)]; }
std::string_view to_string(HeadType h) { return h == HeadType::last ? "last" : "mean"; }

int gate_count(CellType c) {
  switch (c) {
    case CellType::gru:
      return 3;
    case CellType::lstm:
      return 4;
    case CellType::rnn:
    case CellType::fastrnn:
    case CellType::fastgrnn:
      return 1;
  }
  return 1;
}

Arch Arch::parse(std::string_view spec) {
  Arch arch;
  bool have_layers = false;
  for (auto section : split(trim(spec), '|')) {
    section = trim(section);
    if (section.empty()) throw Error(fmt::format("arch '{}': empty section between '|'", spec));
    // A key=value option has '=' and no ':' before it; anything else is read as a layer.
    const auto first = split(section, ',')[0];
    const auto eq_pos = first.find('=');
    if (eq_pos == std::string_view::npos || first.substr(0, eq_pos).find(':') != std::string_view::npos) {
      if (have_layers) throw Error(fmt::format("arch '{}': more than one layer section", spec));
      have_layers = true;
      for (auto token : split(section, ',')) arch.layers.push_back(parse_layer(trim(token), spec));
      continue;
    }
    for (auto option : split(section, ',')) {
      option = trim(option);
      const auto eq = option.find('=');
      if (eq == std::string_view::npos)
        throw Error(fmt::format("arch '{}': '{}' is neither a layer (cell:width) nor key=value", spec,
                                option));
      const auto key = option.substr(0, eq);
      const auto value = option.substr(eq + 1);
      if (key == "stride") {
        arch.stride = parse_positive(value, "stride", spec);
      } else if (key == "head") {
        if (value == "last")
          arch.head = HeadType::last;
        else if (value == "mean")
          arch.head = HeadType::mean;
        else
          throw Error(fmt::format("arch '{}': head must be 'last' or 'mean', got '{}'", spec, value));
      } else if (key == "dense") {
        long long v = 0;
        if (!parse_int(value, v) || v < 0 || v > kMaxWidth)
          throw Error(fmt::format("arch '{}': dense must be an integer in [0, {}], got '{}'", spec,
                                  kMaxWidth, value));
        arch.dense = static_cast<int>(v);
      } else if (key == "fe") {
        const auto f = split(value, '/');
        if (f.size() != 4)
          throw Error(fmt::format("arch '{}': fe must be window/hop/mels/mfcc, as in fe=40/20/40/10, got '{}'", spec,
                                  value));
        arch.fe.win_ms = parse_real(f[0], "fe window (ms)", spec);
        arch.fe.hop_ms = parse_real(f[1], "fe hop (ms)", spec);
        arch.fe.mels = parse_positive(f[2], "fe mel bands", spec);
        long long c = 0;
        if (!parse_int(f[3], c) || c < 0 || c > 256)
          throw Error(fmt::format("arch '{}': fe mfcc must be an integer in [0, 256], got '{}'", spec, f[3]));
        arch.fe.mfcc = static_cast<int>(c);
      } else if (key == "lr") {
        arch.train.lr = parse_real(value, "lr", spec);
      } else if (key == "wd") {
        arch.train.weight_decay = parse_real(value, "wd", spec);
      } else if (key == "batch") {
        arch.train.batch = parse_positive(value, "batch", spec);
      } else {
        throw Error(fmt::format("arch '{}': unknown option '{}' (expected stride, head, dense, fe, lr, wd or batch)",
                                spec, key));
      }
    }
  }
  if (!have_layers) throw Error(fmt::format("arch '{}': no recurrent layers (for example 'gru:32')", spec));
  arch.validate();
  return arch;
}

void Arch::validate() const {
  if (layers.empty() || static_cast<int>(layers.size()) > kMaxLayers)
    throw Error(fmt::format("arch: {} recurrent layers, expected 1 to {}", layers.size(), kMaxLayers));
  if (stride < 1 || stride > kMaxStride)
    throw Error(fmt::format("arch: stride {} out of range [1, {}]", stride, kMaxStride));
  if (dense < 0 || dense > kMaxWidth)
    throw Error(fmt::format("arch: dense {} out of range [0, {}]", dense, kMaxWidth));
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    if (l.width < 1 || l.width > kMaxWidth)
      throw Error(fmt::format("arch: layer {} width {} out of range [1, {}]", i + 1, l.width, kMaxWidth));
    if (l.wrank < 0 || l.urank < 0)
      throw Error(fmt::format("arch: layer {} has a negative rank", i + 1));
    // A recurrent factorisation with rank >= width saves nothing and only slows training down.
    if (l.urank >= l.width)
      throw Error(fmt::format("arch: layer {} urank {} must be below its width {}", i + 1, l.urank, l.width));
    if (l.wrank > kMaxWidth || l.urank > kMaxWidth)
      throw Error(fmt::format("arch: layer {} rank out of range [0, {}]", i + 1, kMaxWidth));
  }
  if (!fe.empty()) {
    if (!(fe.win_ms >= 1 && fe.win_ms <= 500) || !(fe.hop_ms > 0 && fe.hop_ms <= fe.win_ms))
      throw Error(fmt::format("arch: front end window {} ms and hop {} ms: need 1 <= window <= 500 and 0 < hop <= "
                              "window", fe.win_ms, fe.hop_ms));
    if (fe.mels < 1 || fe.mels > 256 || fe.mfcc < 0 || fe.mfcc > fe.mels)
      throw Error(fmt::format("arch: front end {} mel bands and {} MFCCs: need 1-256 bands and 0 <= mfcc <= bands",
                              fe.mels, fe.mfcc));
  } else if (fe.hop_ms != 0 || fe.mels != 0 || fe.mfcc != 0) {
    throw Error("arch: front end fields set without a window");
  }
  if (!(train.lr >= 0 && train.lr <= 10) || !(train.weight_decay >= 0 && train.weight_decay <= 10))
    throw Error(fmt::format("arch: lr {} and wd {} must be in [0, 10]", train.lr, train.weight_decay));
  if (train.batch < 0 || train.batch > 65536)
    throw Error(fmt::format("arch: batch {} out of range [0, 65536]", train.batch));
}

void Arch::check_input(int features) const {
  int in = features;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const int rows = gate_count(l.cell) * l.width;
    if (l.wrank >= std::min(in, rows))
      throw Error(fmt::format("arch '{}': layer {} wrank {} must be below its input size {} (and its {} gate rows)",
                              to_string(), i + 1, l.wrank, in, rows));
    in = l.width;
  }
}

std::string Arch::to_string() const {
  std::string s;
  if (stride > 1) s += fmt::format("stride={}|", stride);
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    if (i) s += ',';
    s += fmt::format("{}:{}", rnnas::to_string(l.cell), l.width);
    if (l.wrank) s += fmt::format(":wrank={}", l.wrank);
    if (l.urank) s += fmt::format(":urank={}", l.urank);
  }
  s += fmt::format("|head={}", rnnas::to_string(head));
  if (dense) s += fmt::format(",dense={}", dense);
  if (!fe.empty()) s += fmt::format("|fe={}/{}/{}/{}", fe.win_ms, fe.hop_ms, fe.mels, fe.mfcc);
  std::string t;
  if (train.lr > 0) t += fmt::format(",lr={}", train.lr);
  if (train.weight_decay > 0) t += fmt::format(",wd={}", train.weight_decay);
  if (train.batch > 0) t += fmt::format(",batch={}", train.batch);
  if (!t.empty()) {
    s += '|';
    s.append(t, 1);  // (not "|" + t.substr(1): GCC 12 bug 105329 reports a false -Wrestrict)
  }
  return s;
}

nlohmann::json Arch::to_json() const {
  nlohmann::json j;
  j["stride"] = stride;
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers)
    j["layers"].push_back({{"cell", std::string(rnnas::to_string(l.cell))}, {"width", l.width}, {"wrank", l.wrank},
                           {"urank", l.urank}});
  j["head"] = std::string(rnnas::to_string(head));
  j["dense"] = dense;
  if (!fe.empty()) j["frontend"] = {{"win_ms", fe.win_ms}, {"hop_ms", fe.hop_ms}, {"mels", fe.mels}, {"mfcc", fe.mfcc}};
  if (train != TrainChoice{})
    j["train"] = {{"lr", train.lr}, {"weight_decay", train.weight_decay}, {"batch", train.batch}};
  return j;
}

namespace {

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& where, bool required, T fallback) {
  if (!j.is_object()) throw Error(fmt::format("arch JSON: {} must be an object", where));
  if (!j.contains(key)) {
    if (required) throw Error(fmt::format("arch JSON: {} has no '{}'", where, key));
    return fallback;
  }
  const auto& v = j.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw Error(fmt::format("arch JSON: {}.{} must be a string", where, key));
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) throw Error(fmt::format("arch JSON: {}.{} must be an integer", where, key));
    const auto x = v.get<long long>();
    if (x < -1'000'000'000LL || x > 1'000'000'000LL) throw Error(fmt::format("arch JSON: {}.{} out of range", where, key));
    return static_cast<T>(x);
  } else {
    if (!v.is_number()) throw Error(fmt::format("arch JSON: {}.{} must be a number", where, key));
  }
  return v.get<T>();
}

}  // namespace

Arch Arch::from_json(const nlohmann::json& j) {
  Arch a;
  a.stride = field<int>(j, "stride", "arch", false, 1);
  if (!j.is_object() || !j.contains("layers") || !j.at("layers").is_array())
    throw Error("arch JSON: 'layers' must be an array of {cell, width[, wrank, urank]}");
  for (size_t i = 0; i < j.at("layers").size(); ++i) {
    const auto& lj = j.at("layers")[i];
    const std::string where = fmt::format("layers[{}]", i);
    LayerSpec l;
    const auto cell = field<std::string>(lj, "cell", where, true, "");
    if (!parse_cell(cell, l.cell))
      throw Error(fmt::format("arch JSON: {}.cell '{}' is not rnn, gru, lstm, fastrnn or fastgrnn", where, cell));
    l.width = field<int>(lj, "width", where, true, 0);
    l.wrank = field<int>(lj, "wrank", where, false, 0);
    l.urank = field<int>(lj, "urank", where, false, 0);
    a.layers.push_back(l);
  }
  const auto head = field<std::string>(j, "head", "arch", false, "last");
  if (head != "last" && head != "mean") throw Error(fmt::format("arch JSON: head '{}' is not last or mean", head));
  a.head = head == "last" ? HeadType::last : HeadType::mean;
  a.dense = field<int>(j, "dense", "arch", false, 0);
  if (j.contains("frontend") && !j.at("frontend").is_null()) {
    const auto& f = j.at("frontend");
    a.fe.win_ms = field<double>(f, "win_ms", "frontend", true, 0);
    a.fe.hop_ms = field<double>(f, "hop_ms", "frontend", true, 0);
    a.fe.mels = field<int>(f, "mels", "frontend", true, 0);
    a.fe.mfcc = field<int>(f, "mfcc", "frontend", true, 0);
  }
  if (j.contains("train") && !j.at("train").is_null()) {
    const auto& t = j.at("train");
    a.train.lr = field<double>(t, "lr", "train", false, 0);
    a.train.weight_decay = field<double>(t, "weight_decay", "train", false, 0);
    a.train.batch = field<int>(t, "batch", "train", false, 0);
  }
  a.validate();
  return a;
}

}  // namespace rnnas

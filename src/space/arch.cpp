#include <fmt/format.h>

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
      } else {
        throw Error(fmt::format("arch '{}': unknown option '{}' (expected stride, head or dense)", spec, key));
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
  return s;
}

}  // namespace rnnas

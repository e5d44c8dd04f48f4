// SearchSpace: sampling, mutation, crossover and encoding of architectures.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "rnnas/core.h"
#include "rnnas/space.h"

namespace rnnas {
namespace {

template <class T>
const T& pick(const std::vector<T>& v, Rng& rng) {
  return v[rng.below(v.size())];
}

// Index of the value nearest to x in v (exact match first).
template <class T>
size_t nearest(const std::vector<T>& v, T x) {
  size_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == x) return i;
    if (std::abs(static_cast<double>(v[i]) - static_cast<double>(x)) <
        std::abs(static_cast<double>(v[best]) - static_cast<double>(x)))
      best = i;
  }
  return best;
}

// One step to an adjacent value of an ordered list (from its nearest entry).
template <class T>
T step(const std::vector<T>& v, T x, Rng& rng) {
  const size_t i = nearest(v, x);
  if (v.size() == 1) return v[0];
  if (v[i] != x) return v[i];  // off-list value: snap to the list
  if (i == 0) return v[1];
  if (i + 1 == v.size()) return v[i - 1];
  return rng.below(2) ? v[i + 1] : v[i - 1];
}

template <class T>
double index_norm(const std::vector<T>& v, T x) {
  return v.size() <= 1 ? 0.0 : static_cast<double>(nearest(v, x)) / static_cast<double>(v.size() - 1);
}

template <class T>
bool in(const std::vector<T>& v, T x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Recurrent ranks valid for a width (0 = full rank is always valid).
std::vector<int> valid_uranks(const std::vector<int>& uranks, int width) {
  std::vector<int> out;
  for (int u : uranks)
    if (u == 0 || u < width) out.push_back(u);
  return out;
}

// Input ranks valid for a layer with `in` inputs (0 = unknown) and `rows` gate rows.
std::vector<int> valid_wranks(const std::vector<int>& wranks, int in, int rows) {
  std::vector<int> out;
  for (int r : wranks)
    if (r == 0 || ((in == 0 || r < in) && r < rows)) out.push_back(r);
  return out;
}

bool has_fe(const SearchSpace& s) { return !s.fe_win_ms.empty(); }

// Keeps a layer's recurrent rank valid after its width changed: the largest valid rank not above it.
void fix_urank(const SearchSpace& s, LayerSpec& l) {
  if (l.urank == 0 || l.urank < l.width) return;
  int best = 0;
  for (int u : valid_uranks(s.uranks, l.width))
    if (u <= l.urank) best = std::max(best, u);
  l.urank = best;
}

LayerSpec sample_layer(const SearchSpace& s, CellType cell, int in, Rng& rng) {
  LayerSpec l;
  l.cell = cell;
  l.width = pick(s.widths, rng);
  l.wrank = pick(valid_wranks(s.wranks, in, gate_count(cell) * l.width), rng);
  l.urank = pick(valid_uranks(s.uranks, l.width), rng);
  return l;
}

// Keeps every layer's ranks valid after a width or cell changed: the largest valid rank not above it.
void fix_ranks(const SearchSpace& s, Arch& a) {
  int in = s.input_features;
  for (auto& l : a.layers) {
    fix_urank(s, l);
    const auto wr = valid_wranks(s.wranks, in, gate_count(l.cell) * l.width);
    if (std::find(wr.begin(), wr.end(), l.wrank) == wr.end()) {
      int best = 0;
      for (int r : wr)
        if (r <= l.wrank) best = std::max(best, r);
      l.wrank = best;
    }
    in = l.width;
  }
}

template <class T>
std::vector<T> json_list(const nlohmann::json& j, const char* key, const std::vector<T>& fallback) {
  if (!j.contains(key)) return fallback;
  const auto& v = j.at(key);
  if (!v.is_array() || v.empty()) throw Error(fmt::format("search space: '{}' must be a non-empty list", key));
  std::vector<T> out;
  for (const auto& e : v) {
    if constexpr (std::is_same_v<T, int>) {
      if (!e.is_number_integer()) throw Error(fmt::format("search space: '{}' holds {}, not an integer", key, e.dump()));
      const auto x = e.get<long long>();
      if (x < 0 || x > 1'000'000) throw Error(fmt::format("search space: '{}' holds {}, out of range", key, x));
      out.push_back(static_cast<int>(x));
    } else {
      if (!e.is_number()) throw Error(fmt::format("search space: '{}' holds {}, not a number", key, e.dump()));
      out.push_back(e.get<double>());
    }
  }
  return out;
}

template <class T>
void check_list(const std::vector<T>& v, const char* what, T lo, T hi) {
  if (v.empty()) throw Error(fmt::format("search space: no {} to choose from", what));
  std::set<T> seen;
  for (T x : v) {
    if (!(x >= lo && x <= hi)) throw Error(fmt::format("search space: {} {} out of range [{}, {}]", what, x, lo, hi));
    if (!seen.insert(x).second) throw Error(fmt::format("search space: {} {} listed twice", what, x));
  }
  if (!std::is_sorted(v.begin(), v.end()))
    throw Error(fmt::format("search space: {} must be listed in increasing order", what));
}

}  // namespace

std::vector<std::string> SearchSpace::preset_names() { return {"tiny", "default", "wide", "audio"}; }

SearchSpace SearchSpace::preset(std::string_view name) {
  SearchSpace s;
  if (name == "default") return s;
  if (name == "tiny") {
    s.strides = {1, 2, 4};
    s.max_layers = 2;
    s.widths = {4, 8, 12, 16, 24, 32};
    s.uranks = {0, 2, 4, 8};
    s.wranks = {0, 4};
    return s;
  }
  if (name == "wide") {
    s.max_layers = 3;
    s.widths = {8, 16, 24, 32, 48, 64, 96, 128};
    s.wranks = {0, 8, 16};
    s.uranks = {0, 8, 16};
    s.denses = {0, 32};
    s.lrs = {0.003, 0.01};
    s.batches = {32, 64};
    return s;
  }
  if (name == "audio") {
    s.fe_win_ms = {25, 32, 40};
    s.fe_hop_ms = {10, 16, 20};
    s.fe_mels = {20, 32, 40};
    s.fe_mfcc = {0, 10, 13};
    return s;
  }
  throw Error(fmt::format("search space: unknown preset '{}' (expected tiny, default, wide or audio)", name));
}

SearchSpace SearchSpace::load(const std::string& name_or_path) {
  for (const auto& p : preset_names())
    if (p == name_or_path) return preset(p);
  std::ifstream in(name_or_path);
  if (!in) throw Error(fmt::format("search space '{}': not a preset (tiny, default, wide, audio) and no such file",
                                   name_or_path));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", name_or_path, e.what()));
  }
  try {
    return from_json(j);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", name_or_path, e.what()));
  }
}

SearchSpace SearchSpace::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("search space: expected a JSON object");
  static const std::set<std::string> kKeys = {"preset", "strides", "layers", "cells",  "widths",       "wranks",
                                              "uranks", "heads",   "dense",  "lr",     "weight_decay", "batch",
                                              "same_cell", "frontend"};
  for (const auto& [k, v] : j.items())
    if (!kKeys.count(k)) throw Error(fmt::format("search space: unknown key '{}'", k));
  SearchSpace s;
  if (j.contains("preset")) {
    if (!j.at("preset").is_string()) throw Error("search space: 'preset' must be a string");
    s = preset(j.at("preset").get<std::string>());
  }
  s.strides = json_list<int>(j, "strides", s.strides);
  if (j.contains("layers")) {
    const auto l = json_list<int>(j, "layers", {});
    if (l.size() != 2) throw Error("search space: 'layers' must be [min, max]");
    s.min_layers = l[0];
    s.max_layers = l[1];
  }
  if (j.contains("cells")) {
    if (!j.at("cells").is_array() || j.at("cells").empty()) throw Error("search space: 'cells' must be a non-empty list");
    s.cells.clear();
    for (const auto& c : j.at("cells")) {
      if (!c.is_string()) throw Error(fmt::format("search space: cells holds {}, not a name", c.dump()));
      const Arch a = Arch::parse(c.get<std::string>() + ":8");  // reuses the cell-name check
      s.cells.push_back(a.layers[0].cell);
    }
  }
  s.widths = json_list<int>(j, "widths", s.widths);
  s.wranks = json_list<int>(j, "wranks", s.wranks);
  s.uranks = json_list<int>(j, "uranks", s.uranks);
  if (j.contains("heads")) {
    if (!j.at("heads").is_array() || j.at("heads").empty()) throw Error("search space: 'heads' must be a non-empty list");
    s.heads.clear();
    for (const auto& h : j.at("heads")) {
      if (h == "last") s.heads.push_back(HeadType::last);
      else if (h == "mean") s.heads.push_back(HeadType::mean);
      else throw Error(fmt::format("search space: heads holds {}, expected \"last\" or \"mean\"", h.dump()));
    }
  }
  s.denses = json_list<int>(j, "dense", s.denses);
  s.lrs = json_list<double>(j, "lr", s.lrs);
  s.weight_decays = json_list<double>(j, "weight_decay", s.weight_decays);
  s.batches = json_list<int>(j, "batch", s.batches);
  if (j.contains("same_cell")) {
    if (!j.at("same_cell").is_boolean()) throw Error("search space: 'same_cell' must be true or false");
    s.same_cell = j.at("same_cell").get<bool>();
  }
  if (j.contains("frontend")) {
    const auto& f = j.at("frontend");
    if (f.is_null()) {
      s.fe_win_ms.clear(), s.fe_hop_ms.clear(), s.fe_mels.clear(), s.fe_mfcc.clear();
    } else {
      if (!f.is_object()) throw Error("search space: 'frontend' must be an object or null");
      for (const auto& [k, v] : f.items())
        if (k != "win_ms" && k != "hop_ms" && k != "mels" && k != "mfcc")
          throw Error(fmt::format("search space: unknown frontend key '{}'", k));
      s.fe_win_ms = json_list<double>(f, "win_ms", {});
      s.fe_hop_ms = json_list<double>(f, "hop_ms", {});
      s.fe_mels = json_list<int>(f, "mels", {});
      s.fe_mfcc = json_list<int>(f, "mfcc", {});
    }
  }
  s.validate();
  return s;
}

nlohmann::json SearchSpace::to_json() const {
  nlohmann::json j;
  j["strides"] = strides;
  j["layers"] = {min_layers, max_layers};
  j["cells"] = nlohmann::json::array();
  for (CellType c : cells) j["cells"].push_back(std::string(to_string(c)));
  j["widths"] = widths;
  j["wranks"] = wranks;
  j["uranks"] = uranks;
  j["heads"] = nlohmann::json::array();
  for (HeadType h : heads) j["heads"].push_back(std::string(to_string(h)));
  j["dense"] = denses;
  j["lr"] = lrs;
  j["weight_decay"] = weight_decays;
  j["batch"] = batches;
  j["same_cell"] = same_cell;
  if (has_fe(*this))
    j["frontend"] = {{"win_ms", fe_win_ms}, {"hop_ms", fe_hop_ms}, {"mels", fe_mels}, {"mfcc", fe_mfcc}};
  else
    j["frontend"] = nullptr;
  return j;
}

void SearchSpace::validate() const {
  check_list(strides, "strides", 1, Arch::kMaxStride);
  if (min_layers < 1 || max_layers > Arch::kMaxLayers || min_layers > max_layers)
    throw Error(fmt::format("search space: layers [{}, {}] must satisfy 1 <= min <= max <= {}", min_layers, max_layers,
                            Arch::kMaxLayers));
  if (cells.empty()) throw Error("search space: no cells to choose from");
  if (std::set<CellType>(cells.begin(), cells.end()).size() != cells.size())
    throw Error("search space: a cell is listed twice");
  check_list(widths, "widths", 1, Arch::kMaxWidth);
  check_list(wranks, "wranks", 0, Arch::kMaxWidth);
  check_list(uranks, "uranks", 0, Arch::kMaxWidth);
  if (valid_uranks(uranks, widths.front()).empty())
    throw Error(fmt::format("search space: no urank is valid for width {} (use 0 for full rank)", widths.front()));
  if (heads.empty() || std::set<HeadType>(heads.begin(), heads.end()).size() != heads.size())
    throw Error("search space: heads must list last and/or mean once each");
  check_list(denses, "dense", 0, Arch::kMaxWidth);
  check_list(lrs, "lr", 0.0, 10.0);
  check_list(weight_decays, "weight_decay", 0.0, 10.0);
  check_list(batches, "batch", 0, 65536);
  const bool any = !fe_win_ms.empty() || !fe_hop_ms.empty() || !fe_mels.empty() || !fe_mfcc.empty();
  if (any) {
    if (fe_win_ms.empty() || fe_hop_ms.empty() || fe_mels.empty() || fe_mfcc.empty())
      throw Error("search space: frontend needs all of win_ms, hop_ms, mels and mfcc");
    check_list(fe_win_ms, "frontend win_ms", 1.0, 500.0);
    check_list(fe_hop_ms, "frontend hop_ms", 0.1, 500.0);
    check_list(fe_mels, "frontend mels", 1, 256);
    check_list(fe_mfcc, "frontend mfcc", 0, 256);
    if (fe_hop_ms.front() > fe_win_ms.back())
      throw Error("search space: every frontend hop is longer than every window");
    if (fe_mfcc.front() > fe_mels.back()) throw Error("search space: every mfcc count exceeds every mel count");
  }
}

namespace {

// Front-end choice valid combinations: hop <= window and mfcc <= mels.
FrontEndChoice sample_fe(const SearchSpace& s, Rng& rng) {
  for (;;) {
    FrontEndChoice f{pick(s.fe_win_ms, rng), pick(s.fe_hop_ms, rng), pick(s.fe_mels, rng), pick(s.fe_mfcc, rng)};
    if (f.hop_ms <= f.win_ms && f.mfcc <= f.mels) return f;
  }
}

bool fe_valid(const FrontEndChoice& f) { return f.hop_ms <= f.win_ms && f.mfcc <= f.mels; }

}  // namespace

Arch SearchSpace::sample(Rng& rng) const {
  Arch a;
  a.stride = pick(strides, rng);
  const int L = min_layers + static_cast<int>(rng.below(static_cast<uint64_t>(max_layers - min_layers + 1)));
  const CellType shared = pick(cells, rng);
  int in = input_features;
  for (int i = 0; i < L; ++i) {
    a.layers.push_back(sample_layer(*this, same_cell ? shared : pick(cells, rng), in, rng));
    in = a.layers.back().width;
  }
  a.head = pick(heads, rng);
  a.dense = pick(denses, rng);
  a.train.lr = pick(lrs, rng);
  a.train.weight_decay = pick(weight_decays, rng);
  a.train.batch = pick(batches, rng);
  if (has_fe(*this)) a.fe = sample_fe(*this, rng);
  return a;
}

bool SearchSpace::contains(const Arch& a) const {
  if (!in(strides, a.stride) || !in(heads, a.head) || !in(denses, a.dense) || !in(lrs, a.train.lr) ||
      !in(weight_decays, a.train.weight_decay) || !in(batches, a.train.batch))
    return false;
  const int L = static_cast<int>(a.layers.size());
  if (L < min_layers || L > max_layers) return false;
  int features = input_features;
  for (const auto& l : a.layers) {
    if (!in(cells, l.cell) || !in(widths, l.width) || !in(wranks, l.wrank) || !in(uranks, l.urank)) return false;
    if (l.urank != 0 && l.urank >= l.width) return false;
    if (!in(valid_wranks(wranks, features, gate_count(l.cell) * l.width), l.wrank)) return false;
    if (same_cell && l.cell != a.layers[0].cell) return false;
    features = l.width;
  }
  if (has_fe(*this))
    return in(fe_win_ms, a.fe.win_ms) && in(fe_hop_ms, a.fe.hop_ms) && in(fe_mels, a.fe.mels) &&
           in(fe_mfcc, a.fe.mfcc) && fe_valid(a.fe);
  return a.fe.empty();
}

Arch SearchSpace::mutate(const Arch& a_in, Rng& rng) const {
  // Genes: 0 stride, 1 layer count, 2 head, 3 dense, 4 lr, 5 wd, 6 batch, 7 fe, 8.. per layer
  // (cell, width, wrank, urank).
  enum { kStride, kLayers, kHead, kDense, kLr, kWd, kBatch, kFe, kLayerGenes };
  if (size() <= 1.0) return a_in;
  for (int attempt = 0; attempt < 64; ++attempt) {
    Arch a = a_in;
    const int L = static_cast<int>(a.layers.size());
    std::vector<int> genes;
    if (strides.size() > 1) genes.push_back(kStride);
    if (max_layers > min_layers) genes.push_back(kLayers);
    if (heads.size() > 1) genes.push_back(kHead);
    if (denses.size() > 1) genes.push_back(kDense);
    if (lrs.size() > 1) genes.push_back(kLr);
    if (weight_decays.size() > 1) genes.push_back(kWd);
    if (batches.size() > 1) genes.push_back(kBatch);
    if (has_fe(*this)) genes.push_back(kFe);
    for (int i = 0; i < L; ++i) genes.push_back(kLayerGenes + i);
    switch (const int g = pick(genes, rng); g) {
      case kStride: a.stride = step(strides, a.stride, rng); break;
      case kLayers: {
        const bool grow = L == min_layers || (L < max_layers && rng.below(2));
        if (grow) {
          // A new layer on top, like the one below it (same cell and width) so the step is small.
          LayerSpec l = a.layers.back();
          if (!same_cell && !in(cells, l.cell)) l.cell = pick(cells, rng);
          a.layers.push_back(l);
        } else {
          a.layers.erase(a.layers.begin() + static_cast<long>(rng.below(static_cast<uint64_t>(L))));
        }
        break;
      }
      case kHead: a.head = a.head == HeadType::last ? HeadType::mean : HeadType::last; break;
      case kDense: a.dense = step(denses, a.dense, rng); break;
      case kLr: a.train.lr = step(lrs, a.train.lr, rng); break;
      case kWd: a.train.weight_decay = step(weight_decays, a.train.weight_decay, rng); break;
      case kBatch: a.train.batch = step(batches, a.train.batch, rng); break;
      case kFe: {
        FrontEndChoice& f = a.fe;
        if (f.empty()) f = sample_fe(*this, rng);
        switch (rng.below(4)) {
          case 0: f.win_ms = step(fe_win_ms, f.win_ms, rng); break;
          case 1: f.hop_ms = step(fe_hop_ms, f.hop_ms, rng); break;
          case 2: f.mels = step(fe_mels, f.mels, rng); break;
          default: f.mfcc = step(fe_mfcc, f.mfcc, rng); break;
        }
        break;
      }
      default: {
        LayerSpec& l = a.layers[static_cast<size_t>(g - kLayerGenes)];
        switch (rng.below(4)) {
          case 0:
            if (cells.size() > 1) {
              CellType c = l.cell;
              while (c == l.cell) c = pick(cells, rng);
              if (same_cell)
                for (auto& other : a.layers) other.cell = c;
              else
                l.cell = c;
            }
            break;
          case 1: l.width = step(widths, l.width, rng); break;
          case 2: {
            const size_t idx = static_cast<size_t>(&l - a.layers.data());
            const int layer_in = idx == 0 ? input_features : a.layers[idx - 1].width;
            l.wrank = step(valid_wranks(wranks, layer_in, gate_count(l.cell) * l.width), l.wrank, rng);
            break;
          }
          default: l.urank = step(valid_uranks(uranks, l.width), l.urank, rng); break;
        }
      }
    }
    // Snap anything off the lists (an arch from outside the space) and keep ranks valid.
    a.stride = strides[nearest(strides, a.stride)];
    for (auto& l : a.layers) {
      if (!in(cells, l.cell)) l.cell = cells.front();
      l.width = widths[nearest(widths, l.width)];
      l.wrank = wranks[nearest(wranks, l.wrank)];
      fix_urank(*this, l);
      const auto ur = valid_uranks(uranks, l.width);
      l.urank = ur[nearest(ur, l.urank)];
    }
    if (same_cell)
      for (auto& l : a.layers) l.cell = a.layers[0].cell;
    fix_ranks(*this, a);
    if (!in(heads, a.head)) a.head = heads.front();
    a.dense = denses[nearest(denses, a.dense)];
    a.train.lr = lrs[nearest(lrs, a.train.lr)];
    a.train.weight_decay = weight_decays[nearest(weight_decays, a.train.weight_decay)];
    a.train.batch = batches[nearest(batches, a.train.batch)];
    if (has_fe(*this) && !fe_valid(a.fe)) continue;
    if (!has_fe(*this)) a.fe = {};
    if (!(a == a_in) && contains(a)) return a;
  }
  return sample(rng);  // tiny spaces where every neighbour of a_in is a_in itself
}

Arch SearchSpace::crossover(const Arch& a, const Arch& b, Rng& rng) const {
  Arch c;
  auto either = [&](const auto& x, const auto& y) { return rng.below(2) ? x : y; };
  c.stride = either(a.stride, b.stride);
  c.head = either(a.head, b.head);
  c.dense = either(a.dense, b.dense);
  c.train.lr = either(a.train.lr, b.train.lr);
  c.train.weight_decay = either(a.train.weight_decay, b.train.weight_decay);
  c.train.batch = either(a.train.batch, b.train.batch);
  c.fe = either(a.fe, b.fe);
  const size_t L = either(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < L; ++i) {
    const LayerSpec* pa = i < a.layers.size() ? &a.layers[i] : nullptr;
    const LayerSpec* pb = i < b.layers.size() ? &b.layers[i] : nullptr;
    if (pa && pb) {
      LayerSpec l;
      l.cell = either(pa->cell, pb->cell);
      l.width = either(pa->width, pb->width);
      l.wrank = either(pa->wrank, pb->wrank);
      l.urank = either(pa->urank, pb->urank);
      fix_urank(*this, l);
      c.layers.push_back(l);
    } else {
      c.layers.push_back(pa ? *pa : *pb);
    }
  }
  if (same_cell)
    for (auto& l : c.layers) l.cell = c.layers[0].cell;
  fix_ranks(*this, c);
  if (!contains(c)) return mutate(c, rng);  // parents from outside the space: snap by mutation
  return c;
}

size_t SearchSpace::encoding_size() const {
  return 2 + static_cast<size_t>(max_layers) * (4 + cells.size()) + 6 + (has_fe(*this) ? 4 : 0);
}

std::vector<double> SearchSpace::encode(const Arch& a) const {
  std::vector<double> v;
  v.reserve(encoding_size());
  v.push_back(index_norm(strides, a.stride));
  v.push_back(max_layers == min_layers ? 0.0
                                       : static_cast<double>(static_cast<int>(a.layers.size()) - min_layers) /
                                             (max_layers - min_layers));
  for (int i = 0; i < max_layers; ++i) {
    const bool present = i < static_cast<int>(a.layers.size());
    v.push_back(present ? 1.0 : 0.0);
    for (CellType c : cells) v.push_back(present && a.layers[static_cast<size_t>(i)].cell == c ? 1.0 : 0.0);
    if (present) {
      const auto& l = a.layers[static_cast<size_t>(i)];
      v.push_back(index_norm(widths, l.width));
      v.push_back(index_norm(wranks, l.wrank));
      v.push_back(index_norm(uranks, l.urank));
    } else {
      v.insert(v.end(), 3, 0.0);
    }
  }
  v.push_back(heads.size() > 1 && a.head == HeadType::mean ? 1.0 : 0.0);
  v.push_back(index_norm(denses, a.dense));
  v.push_back(index_norm(lrs, a.train.lr));
  v.push_back(index_norm(weight_decays, a.train.weight_decay));
  v.push_back(index_norm(batches, a.train.batch));
  v.push_back(1.0);  // bias term for linear surrogates
  if (has_fe(*this)) {
    v.push_back(index_norm(fe_win_ms, a.fe.win_ms));
    v.push_back(index_norm(fe_hop_ms, a.fe.hop_ms));
    v.push_back(index_norm(fe_mels, a.fe.mels));
    v.push_back(index_norm(fe_mfcc, a.fe.mfcc));
  }
  return v;
}

double SearchSpace::size() const {
  // Layer stacks by dynamic programming over depth: the ranks a layer may take depend on the width of
  // the layer below (its input size). count[w] = stacks of the current depth whose top layer has width w.
  auto layer_choices = [&](int in, int w, CellType c) {
    return static_cast<double>(valid_wranks(wranks, in, gate_count(c) * w).size()) *
           static_cast<double>(valid_uranks(uranks, w).size());
  };
  auto stacks = [&](const std::vector<CellType>& cell_set) {
    double total = 0;
    std::vector<double> count(widths.size());
    for (size_t j = 0; j < widths.size(); ++j) {
      count[j] = 0;
      for (CellType c : cell_set) count[j] += layer_choices(input_features, widths[j], c);
    }
    for (int L = 1; L <= max_layers; ++L) {
      if (L >= min_layers)
        for (double x : count) total += x;
      std::vector<double> next(widths.size(), 0.0);
      for (size_t j = 0; j < widths.size(); ++j)
        for (size_t i = 0; i < widths.size(); ++i)
          for (CellType c : cell_set) next[j] += count[i] * layer_choices(widths[i], widths[j], c);
      count = std::move(next);
    }
    return total;
  };
  double layers_total = 0;
  if (same_cell)
    for (CellType c : cells) layers_total += stacks({c});
  else
    layers_total = stacks(cells);
  double fe = 1;
  if (has_fe(*this)) {
    fe = 0;
    for (double w : fe_win_ms)
      for (double h : fe_hop_ms)
        for (int m : fe_mels)
          for (int c : fe_mfcc) fe += h <= w && c <= m;
  }
  return static_cast<double>(strides.size() * heads.size() * denses.size() * lrs.size() * weight_decays.size() *
                             batches.size()) *
         layers_total * fe;
}

}  // namespace rnnas

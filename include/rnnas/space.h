// rnnas/space.h — the architecture of one candidate network, as a value type with a canonical string.
//
//   rnnas::Arch a = rnnas::Arch::parse("stride=2|fastgrnn:32:wrank=4:urank=8,gru:16|head=mean,dense=32");
//   a.layers[0].cell == rnnas::CellType::fastgrnn;   // a.layers[0].width == 32
//   std::string s = a.to_string();                    // canonical: parse(s) == a, and s is stable
//
// Grammar (sections separated by '|', in any order; exactly one section holds the layers):
//   layers   := layer ("," layer)*                    1 to 4 recurrent layers, input side first
//   layer    := cell ":" width (":wrank=" R)? (":urank=" R)?
//   cell     := rnn | gru | lstm | fastrnn | fastgrnn
//   options  := key "=" value ("," key "=" value)*
//     stride=K        use every K-th input step (1 = all; default 1)
//     head=last|mean  dense output head on the last hidden state, or on its mean over time (default last)
//     dense=N         optional hidden dense layer (ReLU) of width N before the output (default none)
//     fe=W/H/M/C      audio front end: window W ms, hop H ms, M mel bands, C MFCCs (0 = log-mel);
//                     only for audio datasets (default: the dataset's own front end)
//     lr=X wd=Y batch=B   training hyperparameters (default: the trainer's options)
// wrank / urank factorise the input / recurrent matrix as W = W1·W2 with inner dimension R
// (FastGRNN-LSQ); omitted means full rank.
//
// Canonical string: [stride=K|]layers|head=H[,dense=N][|fe=W/H/M/C][|lr=X,wd=Y,batch=B] with only the
// non-default fields; numbers in their shortest exact form, so parse(to_string()) == *this for every arch.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rnnas {

enum class CellType { rnn, gru, lstm, fastrnn, fastgrnn };
enum class HeadType { last, mean };

std::string_view to_string(CellType c);
std::string_view to_string(HeadType h);
// Number of gate pre-activations a cell computes per hidden unit (rows of W and U = gates * width).
int gate_count(CellType c);

struct LayerSpec {
  CellType cell = CellType::gru;
  int width = 16;
  int wrank = 0;  // 0 = full-rank input matrix
  int urank = 0;  // 0 = full-rank recurrent matrix
  bool operator==(const LayerSpec&) const = default;
};

// Audio front-end choices (runtime/rnnas_frontend.h); win_ms == 0 means "the dataset's own".
struct FrontEndChoice {
  double win_ms = 0, hop_ms = 0;
  int mels = 0, mfcc = 0;
  bool empty() const { return win_ms == 0; }
  bool operator==(const FrontEndChoice&) const = default;
};

// Training hyperparameters a search may choose; 0 means "the trainer's option".
struct TrainChoice {
  double lr = 0;
  double weight_decay = 0;
  int batch = 0;
  bool operator==(const TrainChoice&) const = default;
};

struct Arch {
  static constexpr int kMaxLayers = 4;
  static constexpr int kMaxWidth = 1024;
  static constexpr int kMaxStride = 64;

  int stride = 1;
  std::vector<LayerSpec> layers;
  HeadType head = HeadType::last;
  int dense = 0;  // 0 = no hidden dense layer
  FrontEndChoice fe;
  TrainChoice train;

  // Parses the grammar above; throws rnnas::Error naming the offending token.
  static Arch parse(std::string_view spec);
  // Canonical string: "stride=K|" only when K > 1, layers, then "head=..." and ",dense=N" when N > 0.
  std::string to_string() const;
  // Throws rnnas::Error when a field is out of range.
  void validate() const;
  // Throws when the arch cannot take `features` inputs: an input rank (wrank) must be below its layer's
  // input size and gate rows.
  void check_input(int features) const;
  // JSON form: {"stride", "layers": [{"cell", "width", "wrank", "urank"}], "head", "dense",
  //             "frontend": {"win_ms", "hop_ms", "mels", "mfcc"} (optional), "train": {"lr",
  //             "weight_decay", "batch"} (optional)}. from_json names the bad field in its errors.
  nlohmann::json to_json() const;
  static Arch from_json(const nlohmann::json& j);
  bool operator==(const Arch&) const = default;
};

}  // namespace rnnas

namespace rnnas {

class Rng;

// The choices a search may make, each a list of allowed values. Values of 0 mean "off" for ranks and
// dense ("full rank", "no dense layer") and "the trainer's default" for lr, weight decay and batch.
//
//   SearchSpace s = SearchSpace::preset("default");     // or SearchSpace::load("space.json")
//   Arch a = s.sample(rng), b = s.mutate(a, rng), c = s.crossover(a, b, rng);
//   std::vector<double> v = s.encode(a);                // fixed length, values in [0, 1]
//
// JSON (every key optional; "preset" names the base the other keys override):
//   {"preset": "default", "strides": [1, 2, 4], "layers": [1, 3], "cells": ["gru", "lstm"],
//    "widths": [8, 16, 32], "wranks": [0, 4], "uranks": [0, 4, 8], "heads": ["last", "mean"],
//    "dense": [0, 16], "lr": [0.003, 0.01], "weight_decay": [0, 0.0001], "batch": [32, 64],
//    "same_cell": false,
//    "frontend": {"win_ms": [32, 40], "hop_ms": [16, 20], "mels": [32, 40], "mfcc": [10, 13]}}
struct SearchSpace {
  std::vector<int> strides = {1, 2, 4};
  int min_layers = 1, max_layers = 2;
  std::vector<CellType> cells = {CellType::gru, CellType::lstm, CellType::fastgrnn, CellType::fastrnn, CellType::rnn};
  std::vector<int> widths = {8, 12, 16, 24, 32, 48, 64};
  std::vector<int> wranks = {0};
  std::vector<int> uranks = {0, 4, 8};
  std::vector<HeadType> heads = {HeadType::last, HeadType::mean};
  std::vector<int> denses = {0};
  std::vector<double> lrs = {0};
  std::vector<double> weight_decays = {0};
  std::vector<int> batches = {0};
  bool same_cell = false;  // every layer of an arch uses one cell type
  // Input features of the dataset (0 = unknown): input ranks (wranks) must be below each layer's input
  // size and gate rows (Arch::check_input); set by the search, not part of the JSON form.
  int input_features = 0;
  // Audio front end (empty lists: the dataset's own front end, not searched).
  std::vector<double> fe_win_ms, fe_hop_ms;
  std::vector<int> fe_mels, fe_mfcc;

  // Presets: "tiny" (M0-class budgets), "default", "wide", "audio" (default + front-end choices).
  static SearchSpace preset(std::string_view name);
  static std::vector<std::string> preset_names();
  // A preset name or a JSON file path.
  static SearchSpace load(const std::string& name_or_path);
  static SearchSpace from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
  void validate() const;  // throws rnnas::Error naming the bad choice

  Arch sample(Rng& rng) const;
  // A neighbour: one choice moved one step (ordered choices to an adjacent value, cell and head to
  // another value; a layer added or removed). Always inside the space and different from `a` when the
  // space has more than one arch.
  Arch mutate(const Arch& a, Rng& rng) const;
  // Uniform crossover of two parents: each choice from either parent; layer count from one of them.
  Arch crossover(const Arch& a, const Arch& b, Rng& rng) const;
  bool contains(const Arch& a) const;
  // Numeric vector for surrogate models: normalised choice indices and one-hot cells, in [0, 1].
  std::vector<double> encode(const Arch& a) const;
  size_t encoding_size() const;
  // Number of distinct archs (as a double: it can exceed 2^64).
  double size() const;
};

}  // namespace rnnas

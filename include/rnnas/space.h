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
// wrank / urank factorise the input / recurrent matrix as W = W1·W2 with inner dimension R
// (FastGRNN-LSQ); omitted means full rank.
#pragma once

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

struct Arch {
  static constexpr int kMaxLayers = 4;
  static constexpr int kMaxWidth = 1024;
  static constexpr int kMaxStride = 64;

  int stride = 1;
  std::vector<LayerSpec> layers;
  HeadType head = HeadType::last;
  int dense = 0;  // 0 = no hidden dense layer

  // Parses the grammar above; throws rnnas::Error naming the offending token.
  static Arch parse(std::string_view spec);
  // Canonical string: "stride=K|" only when K > 1, layers, then "head=..." and ",dense=N" when N > 0.
  std::string to_string() const;
  // Throws rnnas::Error when a field is out of range.
  void validate() const;
  bool operator==(const Arch&) const = default;
};

}  // namespace rnnas

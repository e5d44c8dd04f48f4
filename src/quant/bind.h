// The C runtime's descriptor of a QModel: plain structs pointing into the QModel's arrays (which must
// outlive it). Internal to src/quant.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "rnnas/core.h"
#include "rnnas/quant.h"
#include "rnnas_nn.h"

namespace rnnas::quant {

inline void check(rnnas_status s, const char* what) {
  if (s != RNNAS_OK) throw Error(fmt::format("int8 runtime: {} failed: {}", what, rnnas_status_string(s)));
}

// Arena offset of a planned buffer ("state", layer 0), or 0 when the plan has none.
inline uint32_t offset_of(const hw::MemoryPlan& plan, const char* name, int layer = -1) {
  for (const auto& b : plan.buffers)
    if (std::string(b.name) == name && b.layer == layer) return static_cast<uint32_t>(b.offset);
  return 0;
}

inline rnnas_mat_s8 c_mat(const QMat& m) {
  rnnas_mat_s8 c{};
  c.rows = m.rows;
  c.cols = m.cols;
  c.w = m.w.empty() ? nullptr : m.w.data();
  c.mult = m.mult.empty() ? nullptr : m.mult.data();
  c.shift = m.shift.empty() ? nullptr : m.shift.data();
  return c;
}

inline rnnas_linear_s8 c_linear(const QLinear& l) {
  rnnas_linear_s8 c{};
  c.rank = l.rank;
  c.a = c_mat(l.a);
  c.b = c_mat(l.b);
  return c;
}

struct Bound {
  std::vector<rnnas_layer_s8> layers;
  rnnas_model_s8 model{};
  explicit Bound(const QModel& q) {
    for (size_t i = 0; i < q.layers.size(); ++i) {
      const QLayer& l = q.layers[i];
      const int li = static_cast<int>(i);
      rnnas_layer_s8 c{};
      c.cell = static_cast<int32_t>(l.cell);
      c.width = l.width;
      c.input = l.input;
      c.w = c_linear(l.w);
      c.u = c_linear(l.u);
      c.bias = l.bias.data();
      c.bias_hn = l.bias_hn.empty() ? nullptr : l.bias_hn.data();
      c.a = l.a;
      c.b = l.b;
      c.state_frac = l.state_frac;
      c.cell_frac = l.cell_frac;
      c.off_state = offset_of(q.plan, "state", li);
      c.off_cell = offset_of(q.plan, "cell", li);
      c.off_gates = offset_of(q.plan, "gates", li);
      c.off_lowrank = offset_of(q.plan, "lowrank", li);
      layers.push_back(c);
    }
    model.features = q.features;
    model.outputs = q.outputs;
    model.stride = q.arch.stride;
    model.num_layers = static_cast<int32_t>(layers.size());
    model.head = q.arch.head == HeadType::mean ? RNNAS_HEAD_MEAN : RNNAS_HEAD_LAST;
    model.dense = q.arch.dense;
    model.in_scale = q.in_scale.data();
    model.in_offset = q.in_offset.data();
    model.layers = layers.data();
    model.dense_w = c_mat(q.dense);
    model.dense_bias = q.dense_bias.empty() ? nullptr : q.dense_bias.data();
    model.out_w = c_mat(q.out);
    model.out_bias = q.out_bias.data();
    model.out_frac = q.out_frac;
    model.off_input = offset_of(q.plan, "input");
    model.off_mean = offset_of(q.plan, "mean");
    model.off_pooled = offset_of(q.plan, "pooled");
    model.off_dense = offset_of(q.plan, "dense");
    model.off_output = offset_of(q.plan, "output");
    model.arena_bytes = static_cast<uint32_t>(q.plan.arena_bytes);
  }
  Bound(const Bound&) = delete;
  Bound& operator=(const Bound&) = delete;
};

}  // namespace rnnas::quant

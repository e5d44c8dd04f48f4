// Cost model: hand-computed flash, RAM and MACs for small archs of each cell type; the memory planner;
// properties over thousands of sampled archs; target files.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/space.h"
#include "test_util.h"

namespace rnnas::hw {
namespace {

using test_util::error_of;

// The table model (the hand computations below): the nRF52840 without its calibration file.
const Target& m4() {
  static const Target t = [] {
    Target x = load_target("nrf52840");
    x.calibration = {};
    x.calibrated = false;
    return x;
  }();
  return t;
}

// 3 features, 10 steps, 2 classes; int8 on the nRF52840 (Cortex-M4, DSP matvec kernel 420 B).
const InputShape kIn{3, 10, 2};

struct Expect {
  const char* arch;
  long params, weights, biases, qparams, tables, code, flash, macs_step, arena;
};

// Hand computation (docs/cost-model.md):
//  weights: W [G*H x 3] + U [G*H x H] + head [2 x H], int8, one array each (what rnnas export writes);
//  biases: int32 per bias (rnn H, gru 3H + b_hn H, lstm 4H, fastrnn H, fastgrnn 2H; the cell scalars sit in
//  the descriptor) + head 2;
//  qparams: 5 B per output row of each product (W, U, head) + 8 B per input feature;
//  tables: the runtime's int16 tanh table, 514 B (sigmoid uses it too);
//  code: runtime 700 + matvec 420 + dense 160 + the cell's kernel; descriptor 64 + 48.
//  arena (runtime/rnnas_nn.h): state 3H (int16 h + int8 copy), LSTM cell 2H, gates 4 x rows (+4H GRU),
//  low-rank intermediate max(rank) bytes, output 4 x 2, input 3.
const Expect kCases[] = {
    // rnn:4: W 12, U 16, head 8 -> 36 B; biases (4 + 2) x 4; qparams (4 + 4 + 2) x 5 + 24; code 1460;
    // arena: gates 16 at 0, state 12 at 16, output 8 at 0, input at 28 -> 32.
    {"rnn:4|head=last", 42, 36, 24, 74, 514, 1460, 36 + 24 + 74 + 514 + 1460 + 112, 28, 32},
    // gru:4: W 36, U 48, head 8; biases (16 + 2) x 4; qparams (12 + 12 + 2) x 5 + 24; code 1700;
    // arena: gates 64, state 12 at 64, input at 76 -> 80.
    {"gru:4|head=last", 110, 92, 72, 154, 514, 1700, 92 + 72 + 154 + 514 + 1700 + 112, 84, 80},
    // lstm:4: W 48, U 64, head 8; biases (16 + 2) x 4; qparams (16 + 16 + 2) x 5 + 24; code 1740;
    // arena: gates 64, state 12 at 64, cell 8 at 76, input at 84 -> 88.
    {"lstm:4|head=last", 138, 120, 72, 194, 514, 1740, 120 + 72 + 194 + 514 + 1740 + 112, 112, 88},
    // fastrnn:4: W 12, U 16, head 8; biases (4 + 2) x 4; code 1520.
    {"fastrnn:4|head=last", 44, 36, 24, 74, 514, 1520, 36 + 24 + 74 + 514 + 1520 + 112, 28, 32},
    // fastgrnn:4: biases (8 + 2) x 4; code 1580.
    {"fastgrnn:4|head=last", 48, 36, 40, 74, 514, 1580, 36 + 40 + 74 + 514 + 1580 + 112, 28, 32},
    // gru:8:wrank=2:urank=4: W = [24x2][2x3] = 54 B, U = [24x4][4x8] = 128 B, head 16;
    // qparams (24 + 2 + 24 + 4 + 2) x 5 + 24; code 1700 + lowrank 160; MACs 54 + 128;
    // arena: gates 4 x (24 + 8) = 128 at 0, state 24 at 128, lowrank 4 at 152, output at 0, input at 156.
    {"gru:8:wrank=2:urank=4|head=last", 232, 198, 136, 304, 514, 1860, 198 + 136 + 304 + 514 + 1860 + 112, 182, 160},
};

TEST(CostModel, HandComputedFlashRamAndMacsForEachCell) {
  for (const auto& e : kCases) {
    SCOPED_TRACE(e.arch);
    const Cost c = estimate(Arch::parse(e.arch), m4(), kIn);
    EXPECT_EQ(c.params, e.params);
    EXPECT_EQ(c.flash_weights, e.weights);
    EXPECT_EQ(c.flash_biases, e.biases);
    EXPECT_EQ(c.flash_qparams, e.qparams);
    EXPECT_EQ(c.flash_tables, e.tables);
    EXPECT_EQ(c.flash_code, e.code);
    EXPECT_EQ(c.flash_descriptor, 112);
    EXPECT_EQ(c.flash_bytes, e.flash);
    EXPECT_EQ(c.macs_per_step, e.macs_step);
    EXPECT_EQ(c.macs, e.macs_step * 10 + 2 * Arch::parse(e.arch).layers[0].width);
    EXPECT_EQ(c.arena_bytes, e.arena);
    EXPECT_EQ(c.ram_bytes, e.arena + 160);  // stack estimate 128 + 32 per layer
  }
}

TEST(CostModel, HandComputedPlansAndLatency) {
  // rnn:4 streaming: gates 16 B at 0 (phase 1), output 8 B at 0 (phase 3, no overlap), state 12 B at 16,
  // input 3 B at 28 -> 32 B. Whole window: window 30 B at 0, gates 16 at 32, state 12 at 48, output at 32.
  const Cost c = estimate(Arch::parse("rnn:4|head=last"), m4(), kIn, Quant::int8, true);
  ASSERT_EQ(c.plan.buffers.size(), 4u);
  std::map<std::string, long> offset;
  for (const auto& b : c.plan.buffers) offset[b.name] = b.offset;
  EXPECT_EQ(offset, (std::map<std::string, long>{{"gates", 0}, {"output", 0}, {"state", 16}, {"input", 28}}));
  EXPECT_EQ(c.arena_window_bytes, 60);
  // Cycles per step: 28 MACs x 1.3 + 8 rows x (10 + 6) + 4 tanh x 4 + 8 elementwise x 2 + 60 = 256.4;
  // head: 8 MACs x 1.3 + 2 rows x 16 + 250; window = 10 steps.
  EXPECT_NEAR(c.cycles_per_step, 256.4, 1e-9);
  EXPECT_NEAR(c.cycles, 2564 + 8 * 1.3 + 32 + 250, 1e-9);
  EXPECT_NEAR(c.latency_ms, c.cycles / 64e6 * 1e3, 1e-12);
  EXPECT_NEAR(c.energy_uj, 9.9 * c.latency_ms, 1e-12);
  EXPECT_TRUE(c.estimated);
  // The TensorFlow Lite Micro reference model of MEASURE.md: 28 x 28 -> LSTM(20) -> FC(10), 107,720 MACs.
  EXPECT_EQ(estimate(Arch::parse("lstm:20|head=last"), m4(), {28, 28, 10}).macs, 107720);
  // Stride: half the steps.
  EXPECT_EQ(estimate(Arch::parse("stride=2|rnn:4|head=last"), m4(), kIn).steps, 5);
}

TEST(CostModel, Float32AndParameterCountsAgreeWithTheEngine) {
  SearchSpace s = SearchSpace::preset("wide");
  s.input_features = 7;
  Rng rng(5);
  for (int i = 0; i < 300; ++i) {
    const Arch a = s.sample(rng);
    const long engine = static_cast<long>(nn::Network<float>(a, 7, 5).num_params());
    const Cost c8 = estimate(a, m4(), {7, 20, 5});
    const Cost cf = estimate(a, m4(), {7, 20, 5}, Quant::float32);
    ASSERT_EQ(c8.params, engine) << a.to_string();
    ASSERT_EQ(cf.params, engine);
    EXPECT_EQ(cf.flash_tables, 0);
    EXPECT_EQ(cf.flash_qparams, 8 * 7);
    EXPECT_GE(cf.flash_weights, 4 * (c8.flash_weights - 8 * static_cast<long>(a.layers.size() + 2)));
    EXPECT_GT(cf.ram_bytes, c8.ram_bytes);
  }
}

// Memory plans never let two live buffers share bytes; the arena is at least the largest phase's live
// total and at most the sum of all buffers.
TEST(MemoryPlanner, NoOverlapOfLiveBuffersOverSampledArchs) {
  const SearchSpace s = SearchSpace::preset("wide");
  Rng rng(9);
  for (int i = 0; i < 2000; ++i) {
    const Arch a = s.sample(rng);
    for (Mode mode : {Mode::streaming, Mode::window}) {
      const MemoryPlan p = plan_memory(inference_buffers(a, {9, 64, 6}, Quant::int8, mode));
      long total = 0, max_phase = 0;
      for (int phase = 0; phase <= static_cast<int>(a.layers.size()) + 2; ++phase) {
        long live = 0;
        for (const auto& b : p.buffers) live += (b.first <= phase && phase <= b.last) ? (b.bytes + 3) / 4 * 4 : 0;
        max_phase = std::max(max_phase, live);
      }
      for (size_t x = 0; x < p.buffers.size(); ++x) {
        const auto& bx = p.buffers[x];
        total += (bx.bytes + 3) / 4 * 4;
        ASSERT_GE(bx.offset, 0);
        ASSERT_EQ(bx.offset % 4, 0);
        for (size_t y = x + 1; y < p.buffers.size(); ++y) {
          const auto& by = p.buffers[y];
          const bool live_together = bx.first <= by.last && by.first <= bx.last;
          const bool share = bx.offset < by.offset + by.bytes && by.offset < bx.offset + bx.bytes;
          ASSERT_FALSE(live_together && share) << a.to_string() << " " << bx.label() << " " << by.label();
        }
      }
      EXPECT_GE(p.arena_bytes, max_phase);
      EXPECT_LE(p.arena_bytes, total);
    }
  }
}

// Wider layers never cost less: flash, MACs and cycles are monotone in every layer's width; RAM too up to
// the greedy planner's packing luck (a wider buffer can let the others pack a few bytes tighter).
TEST(CostModel, MonotoneInWidthOverSampledArchs) {
  SearchSpace s = SearchSpace::preset("wide");
  s.input_features = 9;
  Rng rng(21);
  int checked = 0;
  for (int i = 0; i < 3000; ++i) {
    const Arch a = s.sample(rng);
    for (size_t l = 0; l < a.layers.size(); ++l) {
      Arch b = a;
      b.layers[l].width += 8;
      for (Quant q : {Quant::int8, Quant::float32}) {
        const Cost ca = estimate(a, m4(), {9, 64, 6}, q), cb = estimate(b, m4(), {9, 64, 6}, q);
        ASSERT_LE(ca.flash_bytes, cb.flash_bytes) << a.to_string();
        const auto slack = [](long r) { return r / 50; };  // 2%
        ASSERT_LE(ca.ram_bytes, cb.ram_bytes + slack(cb.ram_bytes)) << a.to_string() << " vs " << b.to_string();
        ASSERT_LE(ca.ram_window_bytes, cb.ram_window_bytes + slack(cb.ram_window_bytes)) << a.to_string();
        ASSERT_LT(ca.macs, cb.macs) << a.to_string();
        ASSERT_LT(ca.cycles, cb.cycles) << a.to_string();
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 5000);
}

TEST(CostModel, InputRanksMustFitTheInput) {
  EXPECT_EQ(error_of([] { estimate(Arch::parse("gru:8:wrank=4|head=last"), m4(), kIn); }),
            "arch 'gru:8:wrank=4|head=last': layer 1 wrank 4 must be below its input size 3 (and its 24 gate rows)");
}

TEST(CostModel, StreamingRamDoesNotGrowWithSequenceLength) {
  const Arch a = Arch::parse("gru:32,gru:16|head=mean");
  const Cost short_seq = estimate(a, m4(), {9, 32, 6}), long_seq = estimate(a, m4(), {9, 4096, 6});
  EXPECT_EQ(short_seq.ram_bytes, long_seq.ram_bytes);
  EXPECT_GT(long_seq.ram_window_bytes, short_seq.ram_window_bytes);
  EXPECT_NEAR(long_seq.latency_ms / short_seq.latency_ms, 4096.0 / 32, 2.0);
}

TEST(CostModel, AudioCountsTheFrontEnd) {
  InputShape in{10, 49, 12};
  in.audio = true;
  in.sample_rate = 16000;
  in.win_ms = 40;
  in.hop_ms = 20;
  in.mels = 40;
  in.mfcc = 10;
  const Arch a = Arch::parse("gru:16|head=last");
  const Cost c = estimate(a, m4(), in, Quant::int8, true);
  EXPECT_EQ(c.flash_frontend, 64);  // the tables are built in RAM at initialisation
  EXPECT_GE(c.flash_code, m4().code.frontend);
  // Streaming keeps one frame of PCM (640 samples x 2 B) and the front end's buffer (its tables and one
  // frame's scratch, exactly what the runtime asks for); whole-window inference stores the clip: 32,000 B more.
  FrontEndOptions o;
  o.rate = 16000;
  o.win_ms = 40;
  o.hop_ms = 20;
  o.mels = 40;
  o.mfcc = 10;
  const long fe_bytes = static_cast<long>(FrontEnd(o).buffer_bytes());
  EXPECT_EQ(c.ram_window_bytes - c.ram_bytes, 32000 - 1280);
  EXPECT_GE(c.arena_bytes, fe_bytes + 1280);
  EXPECT_LT(c.arena_bytes, fe_bytes + 1280 + 1024);
  // The arch's front-end choice changes features and frames: 25/10 ms -> 1 + (16000 - 400) / 160 = 98.
  const Arch b = Arch::parse("gru:16|head=last|fe=25/10/32/13");
  const InputShape sb = shape_for(b, in);
  EXPECT_EQ(sb.features, 13);
  EXPECT_EQ(sb.steps, 98);
}

// The calibration's work features follow the runtime's passes: DSP targets count rows in blocks of 4 over
// columns in groups of 4 apart from the rest; either way they add up to the model's MACs and rows.
TEST(CostModel, CalibrationFeaturesSplitTheKernelsWork) {
  const auto names = CalibrationFeatures::insn_names();
  auto at = [&](const CalibrationFeatures& f, const char* n) {
    return f.insn[static_cast<size_t>(std::find(names.begin(), names.end(), n) - names.begin())];
  };
  // gru:7 on 6 features, 10 steps: W 21 x 6 and U 21 x 7. Fused r, z rows (14): blocks of 12 rows over 4 + 4
  // columns; the n rows (7) of W and U are passes of their own: 4 rows over 4 columns each.
  const Arch a = Arch::parse("gru:7|head=last");
  const CalibrationFeatures d = calibration_features(a, {6, 10, 3}, true),
                            p = calibration_features(a, {6, 10, 3}, false);
  EXPECT_DOUBLE_EQ(at(d, "step_block_macs"), 10.0 * (12 * 4 + 12 * 4 + 4 * 4 + 4 * 4));
  EXPECT_DOUBLE_EQ(at(d, "step_block_macs") + at(d, "step_other_macs"), 10.0 * (21 * 6 + 21 * 7));
  EXPECT_DOUBLE_EQ(at(d, "step_block_rows"), 10.0 * (12 + 12 + 4 + 4));
  EXPECT_DOUBLE_EQ(at(d, "step_block_rows") + at(d, "step_other_rows"), 10.0 * 42);
  EXPECT_DOUBLE_EQ(at(p, "step_block_macs"), 0.0);
  EXPECT_DOUBLE_EQ(at(p, "step_other_macs"), 10.0 * (21 * 6 + 21 * 7));
  // Wider than the kernels' scratch (128 columns): the fused pass splits, a single wide matrix has no blocks.
  const CalibrationFeatures w = calibration_features(Arch::parse("lstm:100|head=last"), {200, 10, 3}, true);
  EXPECT_DOUBLE_EQ(at(w, "step_block_macs"), 10.0 * 400 * 100);
}

// The calibrated model: exact model data plus the fitted terms; flash and RAM are the whole image's.
TEST(CostModel, CalibratedTargetsPredictTheImage) {
  const Target t = load_target("nrf52840");
  ASSERT_TRUE(t.calibrated);
  const Arch a = Arch::parse("gru:16|head=last");
  const Cost c = estimate(a, t, {6, 64, 6});
  const CalibrationFeatures f = calibration_features(a, {6, 64, 6}, t.dsp);
  EXPECT_GT(c.instructions, 0);
  EXPECT_FALSE(c.estimated);
  EXPECT_GT(c.flash_bytes, f.model_data_bytes + 4000);  // runtime, harness and libc are in the image
  EXPECT_GT(c.ram_bytes, f.arena_bytes);
  EXPECT_NEAR(c.cycles, c.instructions * t.calibration.cycles_per_instruction, 1e-6);
  // Instructions grow with the steps; RAM does not (streaming).
  const Cost longer = estimate(a, t, {6, 128, 6});
  EXPECT_NEAR(longer.instructions / c.instructions, 2.0, 0.1);
  EXPECT_EQ(longer.ram_bytes, c.ram_bytes);
  // A calibration file round-trips.
  const std::string path = rnnas::test_util::temp_dir() + "/cal.json";
  save_calibration(t.calibration, path);
  const Calibration back = load_calibration(path);
  EXPECT_EQ(back.insn, t.calibration.insn);
  EXPECT_EQ(back.flash, t.calibration.flash);
  EXPECT_NE(error_of([] { load_calibration("/nonexistent/cal.json"); }).find("not valid JSON"), std::string::npos);
}

TEST(Targets, FilesLoadAndCoverTheRequiredCores) {
  const auto all = list_targets();
  std::set<std::string> cores;
  for (const auto& t : all) {
    cores.insert(t.core);
    EXPECT_FALSE(t.qemu_machine.empty()) << t.name;
    EXPECT_GT(t.active_power_mw, 0) << t.name;
    EXPECT_FALSE(t.sources.empty()) << t.name;
    // A target is calibrated exactly when targets/calibration/<name>.json exists (rnnas calibrate --write),
    // and its recorded held-out fidelity meets the goals: flash and RAM within 1%, instructions within 5%.
    EXPECT_EQ(t.calibrated, std::filesystem::exists(targets_dir() + "/calibration/" + t.name + ".json")) << t.name;
    if (t.calibrated) {
      EXPECT_GE(t.calibration.archs, 50) << t.name;
      EXPECT_LE(t.calibration.insn_mape_pct, 5.0) << t.name;
      EXPECT_LE(t.calibration.flash_max_err_pct, 1.0) << t.name;
      EXPECT_LE(t.calibration.ram_max_err_pct, 1.0) << t.name;
    }
  }
  EXPECT_TRUE(load_target("nrf52840").calibrated);
  EXPECT_FALSE(load_target("nrf5340").calibrated);  // its board (mps2-an505) is not deployable yet
  for (const char* core : {"cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"})
    EXPECT_TRUE(cores.count(core)) << core;
  EXPECT_EQ(load_target("samd21").ram_bytes, 32768);
  EXPECT_NE(error_of([] { load_target("esp32"); }).find("target 'esp32': no such target (known: nrf52840"),
            std::string::npos);
  nlohmann::json j = nlohmann::json::parse(R"({"name": "x"})");
  EXPECT_EQ(error_of([&] { Target::from_json(j, "x.json"); }), "x.json: missing field 'description'");
  EXPECT_EQ(error_of([&] { Target::from_json(nlohmann::json::parse(R"({"name": 3})"), "y.json"); }),
            "y.json: field 'name' must be a string");
}

TEST(Targets, FitsUsesTheBudgetsAndReservations) {
  const Target m0 = load_target("samd21");
  EXPECT_TRUE(estimate(Arch::parse("gru:16|head=last"), m0, {9, 128, 6}).fits(m0));
  // A 1024-wide LSTM needs megabytes of weights.
  EXPECT_FALSE(estimate(Arch::parse("lstm:1024|head=last"), m0, {9, 128, 6}).fits(m0));
  EXPECT_EQ(error_of([] { estimate(Arch::parse("gru:4|head=last"), m4(), {0, 10, 2}); }),
            "cost: input shape needs features, steps and outputs >= 1 (got 0, 10, 2)");
}

}  // namespace
}  // namespace rnnas::hw

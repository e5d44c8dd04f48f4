// rnnas/quant.h — int8 models: post-training quantisation of a trained float model, evaluation with the
// C runtime (runtime/rnnas_nn.c, the code that runs on the microcontroller), and C code generation.
//
//   rnnas::nn::Model m = rnnas::nn::Model::load("model.json");
//   rnnas::quant::QModel q = rnnas::quant::quantize(m, data.train);   // calibrates on training sequences
//   rnnas::nn::Metrics int8 = q.evaluate(data.test);                     // raw (unnormalised) sequences
//   rnnas::quant::export_c(q, {.dir = "out/model"});                     // model.h, model.c, runtime, README
//
// The number formats are in docs/quantization.md. A QModel owns all its arrays; the descriptor the C
// runtime reads (bind()) points into them and lives no longer than the QModel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rnnas/data.h"
#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/space.h"

namespace rnnas::quant {

// An int8 matrix, row-major, with one requantisation (multiplier, shift) per row.
struct QMat {
  int rows = 0, cols = 0;
  std::vector<int8_t> w;
  std::vector<int32_t> mult;
  std::vector<int8_t> shift;
};
// W (rank 0) or W1 (a) times W2 (b) through an int8 intermediate.
struct QLinear {
  int rank = 0;
  QMat a, b;
};
struct QLayer {
  CellType cell = CellType::gru;
  int width = 0, input = 0;
  QLinear w, u;
  std::vector<int32_t> bias, bias_hn;  // Q12
  int32_t a = 0, b = 0;                // Q15 cell scalars
  int state_frac = 15, cell_frac = 15;
};

struct QModel {
  Arch arch;
  TaskKind task = TaskKind::classification;
  int features = 0, outputs = 0;
  std::vector<std::string> class_names, feature_names, output_names;
  std::string score;                       // "phm08" when the dataset has that score
  std::vector<float> in_scale, in_offset;  // per feature: q = round(x * scale + offset)
  std::vector<QLayer> layers;
  QMat dense, out;
  std::vector<int32_t> dense_bias, out_bias;  // accumulator domain
  int out_frac = 16;
  // Audio models: the front end (runtime/rnnas_frontend.c, float) that turns 16-bit PCM into the
  // features; the generated code then takes PCM (model_feed_pcm, model_run_pcm). Set with set_frontend().
  bool audio = false;
  FrontEndOptions frontend;
  hw::MemoryPlan plan;  // the arena (streaming plan of the cost model: the same function, the same bytes)

  // Makes this an audio model with the dataset's front end (Dataset::frontend); the arena plan then
  // holds the front end's buffer, the PCM frame and the features as well.
  void set_frontend(const FrontEndOptions& fe);

  // Bytes of the int8 weight arrays (what the cost model calls flash_weights).
  long weight_bytes() const;
  // Runs one raw sequence [T x features] through the C runtime; outputs in Q(out_frac).
  std::vector<int32_t> run(const Sequence& x) const;
  // Outputs of every sequence of a part, concatenated (outputs per sequence).
  std::vector<int32_t> run_all(const Split& raw) const;
  // Metrics of the int8 model on a raw part (accuracy, or RMSE in the targets' units).
  nn::Metrics evaluate(const Split& raw) const;
  // Metrics of given outputs (run_all's layout) of the first outputs.size() / this->outputs sequences.
  nn::Metrics metrics(const std::vector<int32_t>& all, const Split& raw) const;
};

struct QuantOptions {
  int calibration_sequences = 512;  // training sequences the ranges are taken from (seeded choice)
  uint64_t seed = 1;
};

// Post-training quantisation: ranges from the float model run (in double precision) over training
// sequences (features, for audio models). Throws rnnas::Error for models the int8 runtime cannot
// represent (a requantisation multiplier out of range), naming the reason.
QModel quantize(const nn::Model& model, const Split& calibration, const QuantOptions& opt = {});

// Float reference of the network, step by step in double precision (what calibration runs). Outputs are
// in the targets' units (regression) or logits. Exposed so tests can check it against nn::Network.
std::vector<double> float_reference(const nn::Model& model, const Sequence& raw);

// A saved float model (nn::Model file), the dataset it records (or `data_spec` when given) and its int8
// form, quantised with the dataset's training part (and the dataset's front end for audio). Errors name
// `what` (the command) and the file.
struct LoadedModel {
  nn::Model model;
  Dataset data;
  QModel q;
};
LoadedModel load_and_quantize(const std::string& model_path, const std::string& data_spec = "",
                              const std::string& what = "model");

// ---- C code generation ----
struct ExportOptions {
  std::string dir;             // output directory (created)
  std::string prefix = "model";  // file names and C symbol prefix: model.h, model_run(), ...
  std::string source;          // where the model came from (a file or "study S trial N"), for the README
  bool weights16 = false;      // weights widened to 16 bits in the DSP kernels' blocked layout (rnnas_nn.h):
                               // fewer instructions on Cortex-M4/M7, twice the weight flash; same outputs
};
// Writes <prefix>.h, <prefix>.c (weights as const arrays, one static arena sized by the planner),
// the runtime sources, README.md and <prefix>.json (a description: shapes, formats, arena plan, sizes).
void export_c(const QModel& q, const ExportOptions& opt);

}  // namespace rnnas::quant

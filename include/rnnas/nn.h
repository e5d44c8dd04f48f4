// rnnas/nn.h — recurrent networks, analytic backpropagation through time, and the trainer.
//
//   rnnas::Dataset ds = rnnas::load_dataset("sine:classes=4,T=64");
//   rnnas::nn::TrainOptions opt;                      // defaults are sensible; CLI flags map 1:1
//   opt.epochs = 20;
//   opt.seed = 7;                                     // same seed, same bits
//   auto result = rnnas::nn::train(rnnas::Arch::parse("gru:32|head=last"), ds, opt);
//   if (result.status == rnnas::nn::TrainStatus::diverged) std::puts(result.reason.c_str());
//   result.test.accuracy;                             // metrics of the restored best weights
//   result.model.save("model.json");                  // weights + normalisation, versioned format
//   auto m = rnnas::nn::Model::load("model.json");
//
// Layout: a batch of B sequences of T steps and F features is one column-major matrix [F x (T*B)];
// step t occupies columns [t*B, (t+1)*B) so each step's batch is contiguous. Shorter sequences are
// padded; their hidden state is frozen after their last step (so the "last" head reads column block
// T-1 for every sample), and padded steps receive no gradient.
//
// Network<S> is templated on the scalar: float trains, double checks gradients. It is single-threaded;
// train several networks side by side with train_many(). A Network owns its parameters and its
// forward caches: backward() uses the caches of the latest forward().
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rnnas/data.h"
#include "rnnas/space.h"

namespace rnnas::nn {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <class S>
struct Param {
  std::string name;
  Mat<S> value;
  Mat<S> grad;
  bool decay = true;  // weight decay applies (weights yes; biases and gate scalars no)
};

// Shape and lengths of one batch. Samples are sorted by length, longest first, so that at step t the
// samples still running are the first active[t] columns.
struct SeqInfo {
  int T = 0;
  int B = 0;
  std::vector<int> len;     // per sample, 1..T
  std::vector<int> active;  // per step: number of samples with len > t
  bool full = true;         // every len == T
  long cols() const { return static_cast<long>(T) * B; }
  // Fills len-derived fields; lengths must be sorted in non-increasing order.
  void set_lengths(std::vector<int> lengths, int steps);
};

template <class S>
struct Batch {
  Mat<S> x;                   // [F x T*B]
  SeqInfo info;
  std::vector<int> label;     // classification, in batch order
  Mat<S> y;                   // regression targets [O x B]
  std::vector<size_t> index;  // position of each batch column in the source part
};

// Builds a batch of the sequences `index` of `part`, taking every stride-th step (from step 0).
template <class S>
Batch<S> make_batch(const Split& part, std::vector<size_t> index, int stride, int num_outputs);

template <class S>
class RecurrentLayer;
template <class S>
class Head;

template <class S>
class Network {
 public:
  Network();
  // Throws rnnas::Error if the arch does not fit the input (for example wrank >= input size).
  Network(const Arch& arch, int input_dim, int output_dim);
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

  void init(uint64_t seed);
  // Returns the network output [output_dim x B] (logits or standardised regression values).
  const Mat<S>& forward(const Mat<S>& x, const SeqInfo& info);
  // Accumulates parameter gradients of the last forward(); dout is [output_dim x B].
  void backward(const Mat<S>& dout);
  void zero_grad();
  std::vector<Param<S>*> params();
  std::vector<const Param<S>*> params() const;
  size_t num_params() const;
  const Arch& arch() const { return arch_; }
  int input_dim() const { return input_dim_; }
  int output_dim() const { return output_dim_; }
  // Quantisation-aware forward passes (docs/quantization.md): the network input is rounded per feature
  // to int8 steps of input_scale[f], and each layer's output, where the next layer (or a "last" head)
  // reads it, to the int8 copy of the runtime's int16 state (steps of 2^(8 - state_frac)). The
  // backward pass treats the rounding as identity (straight-through estimator). Off by default.
  void set_fake_quant(bool on, std::vector<float> input_scale = {});
  bool fake_quant() const { return fq_; }

 private:
  Arch arch_;
  int input_dim_ = 0, output_dim_ = 0;
  std::vector<std::unique_ptr<RecurrentLayer<S>>> layers_;
  std::unique_ptr<Head<S>> head_;
  const Mat<S>* x_ = nullptr;  // input of the last forward (not owned)
  SeqInfo info_;
  std::vector<Mat<S>> h_;      // output of each layer
  Mat<S> dh_, dx_;
  bool fq_ = false;
  std::vector<float> fq_input_;
  Mat<S> xq_;                  // fake-quantised input
  std::vector<Mat<S>> hq_;     // fake-quantised layer outputs (what the next layer reads)
  const Mat<S>& input_of(size_t layer) const;
};

// ---- Losses ----
enum class LossKind { cross_entropy, mse, huber };
std::string_view to_string(LossKind k);

struct LossOptions {
  LossKind kind = LossKind::cross_entropy;
  double huber_delta = 1.0;
  std::vector<double> class_weights;  // empty = all 1; otherwise one per class
};

// Mean loss over the batch (cross-entropy: weighted mean over samples, as PyTorch; MSE/Huber: mean
// over samples and outputs). Writes dL/dout when dout != nullptr.
template <class S>
S loss_and_grad(const LossOptions& opt, const Mat<S>& out, const std::vector<int>& label, const Mat<S>& y,
                Mat<S>* dout);

// ---- Metrics ----
struct Metrics {
  TaskKind task = TaskKind::classification;
  size_t count = 0;
  double loss = 0;
  double accuracy = 0, macro_f1 = 0;  // classification
  double rmse = 0, mae = 0;           // regression, in the targets' original units
  std::string score_name;             // a protocol's extra score ("phm08"), empty if none
  double score = 0;
  // The number a search minimises: 1 - accuracy, or RMSE.
  double error() const { return task == TaskKind::classification ? 1.0 - accuracy : rmse; }
  std::string to_string() const;
};
Metrics classification_metrics(const std::vector<int>& truth, const std::vector<int>& pred, int num_classes);
Metrics regression_metrics(const std::vector<float>& truth, const std::vector<float>& pred);
// PHM08 challenge score of remaining-useful-life predictions (Saxena et al. 2008): sum over units of
// exp(-d/13) - 1 for early (d < 0) and exp(d/10) - 1 for late predictions, d = predicted - true.
double phm08_score(const std::vector<float>& truth, const std::vector<float>& pred);

// ---- Optimisation ----
enum class OptimizerKind { adam, adamw };
enum class ScheduleKind { constant, cosine, step };
enum class ClassWeighting { none, balanced };

struct TrainOptions {
  int epochs = 30;
  int batch_size = 64;
  double lr = 1e-2;
  double weight_decay = 0;  // adam: L2 added to the gradient; adamw: decoupled
  OptimizerKind optimizer = OptimizerKind::adam;
  ScheduleKind schedule = ScheduleKind::cosine;
  double min_lr_fraction = 0.01;  // cosine ends at lr * min_lr_fraction
  int step_epochs = 10;           // step schedule: multiply by step_gamma every step_epochs
  double step_gamma = 0.5;
  double clip_norm = 5.0;  // global gradient-norm clipping; 0 = off
  int patience = 10;       // early stopping: epochs without validation improvement; 0 = off
  bool restore_best = true;
  std::string loss = "auto";  // auto (ce | mse), ce, mse, huber
  double huber_delta = 1.0;
  ClassWeighting class_weighting = ClassWeighting::none;
  bool scale_targets = true;  // regression: learn standardised targets
  // Quantisation-aware training from this epoch on (1-based; 0 = off): weights are fake-quantised per
  // row to int8 in every forward pass, with gradients applied to the float weights (straight-through),
  // and inputs and inter-layer states are rounded as the int8 runtime rounds them. Validation then
  // measures the fake-quantised network.
  int qat_from = 0;
  // Training-time augmentation of the (normalised) inputs, drawn anew for every sequence of every batch:
  // each feature scaled by a factor uniform in [1 - augment_scale, 1 + augment_scale], then Gaussian noise of
  // standard deviation augment_noise added to every step. 0 = off. Validation and test data are never
  // changed.
  double augment_scale = 0;
  double augment_noise = 0;
  // Weight averaging (Polyak; TensorFlow's ExponentialMovingAverage): after every step the average moves
  // towards the weights by 1 - d, d = min(ema, (1 + step) / (10 + step)). Validation, the best weights and
  // the returned model are the average's; the optimiser keeps stepping the raw weights. 0 = off.
  double ema = 0;
  uint64_t seed = 1;
  // Called after every epoch; returning false stops training (status stopped_by_callback).
  std::function<bool(const struct EpochReport&)> on_epoch;
};

struct EpochReport {
  int epoch = 0;  // 1-based
  double lr = 0;
  double train_loss = 0;
  Metrics val;  // of the validation part (or of the training part if there is none)
  double seconds = 0;
};

enum class TrainStatus { completed, early_stopped, stopped_by_callback, diverged };
std::string_view to_string(TrainStatus s);

// A trained float model with what it needs to run on raw data: the normalisation fitted on the
// training part, target scaling, class and feature names.
struct Model {
  Arch arch;
  TaskKind task = TaskKind::classification;
  int input_dim = 0;
  int output_dim = 0;
  std::vector<std::string> class_names, feature_names, output_names;
  Normalizer norm;
  TargetScaler target_scale;
  LossOptions loss;
  Network<float> net;
  std::map<std::string, double> info;  // free-form figures stored with the model (e.g. test_accuracy)
  std::string score;                   // the dataset's extra score ("phm08"), computed by evaluate
  std::string data;                    // the dataset spec it was trained on (when known), for export

  // Metrics on a raw (unnormalised) part of a dataset with the same features.
  Metrics evaluate(const Split& raw, int batch_size = 256);
  // Versioned JSON format, documented in docs/model-format.md. Throws rnnas::Error on I/O or format errors.
  void save(const std::string& path) const;
  static Model load(const std::string& path);
};

struct TrainResult {
  TrainStatus status = TrainStatus::completed;
  std::string reason;  // why training ended early (divergence, early stopping, callback)
  std::vector<EpochReport> curve;
  int best_epoch = 0;  // 0 = no epoch completed
  Metrics best_val;
  Metrics test;  // empty (count 0) when the dataset has no test part
  Model model;
  double seconds = 0;
  size_t samples = 0;  // training sequences processed
};

// Trains one architecture on a dataset. Single-threaded and deterministic for a given seed. Bad
// input (arch that does not fit, unusable options) throws rnnas::Error; divergence is a status. The
// arch's training choices (Arch::train: lr, weight decay, batch), when set, override `opt`.
TrainResult train(const Arch& arch, const Dataset& data, const TrainOptions& opt);

struct TrainJob {
  Arch arch;
  const Dataset* data = nullptr;
  TrainOptions options;
};
// Trains several jobs side by side, one thread per job, at most `threads` at a time (0 = all cores).
// Results are in job order and identical to training the jobs one by one.
std::vector<TrainResult> train_many(const std::vector<TrainJob>& jobs, unsigned threads = 0);

// ---- Lower-level training pieces, shared by train() and bench/ ----
class Adam {
 public:
  Adam(std::vector<Param<float>*> params, OptimizerKind kind, double weight_decay, double beta1 = 0.9,
       double beta2 = 0.999, double eps = 1e-8);
  void step(double lr);
  const std::vector<Param<float>*>& params() const { return params_; }

 private:
  std::vector<Param<float>*> params_;
  std::vector<Mat<float>> m_, v_;
  OptimizerKind kind_;
  double wd_, b1_, b2_, eps_;
  long t_ = 0;
};

// Scales gradients so their global L2 norm is at most max_norm (0 = no clipping). Returns the norm
// before clipping (non-finite if any gradient is).
double clip_grad_norm(const std::vector<Param<float>*>& params, double max_norm);
double learning_rate(const TrainOptions& opt, long step, long total_steps, int epoch);

struct StepResult {
  float loss = 0;
  double grad_norm = 0;  // before clipping
  bool finite() const;
};
// One optimisation step on one batch: forward, loss, backward, clipping, and (when loss and gradient are
// finite) the Adam update. `dout` is scratch space reused between calls. train() runs exactly this.
StepResult train_step(Network<float>& net, Adam& adam, const Batch<float>& batch, const LossOptions& loss,
                      double clip_norm, double lr, Mat<float>& dout, bool quantize_weights = false);
// Quantisation-aware training's weight rounding: every weight matrix (a parameter with decay) rounded per
// row to 127 symmetric int8 steps, as post-training quantisation rounds it. Swaps the float values out
// and back in.
class WeightRounding {
 public:
  explicit WeightRounding(std::vector<Param<float>*> params);
  void apply();    // keeps the float weights, writes the rounded ones
  void restore();  // writes the float weights back
 private:
  std::vector<Param<float>*> params_;
  std::vector<Mat<float>> saved_;
};
LossOptions resolve_loss(const TrainOptions& opt, const Dataset& data);

}  // namespace rnnas::nn

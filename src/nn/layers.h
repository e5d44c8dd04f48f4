// Internal building blocks of Network<S>: linear maps (full or low-rank), recurrent layers with one
// cell each, and the output head. Not part of the public API.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "rnnas/core.h"
#include "rnnas/nn.h"

namespace rnnas::nn {

template <class S>
using CRef = Eigen::Ref<const Mat<S>>;
template <class S>
using MRef = Eigen::Ref<Mat<S>>;

// y = W x with W either full [out x in] or factorised W1 [out x rank] · W2 [rank x in].
template <class S>
class Linear {
 public:
  Linear() = default;
  Linear(const std::string& name, int out, int in, int rank);
  // Entries of the (product) matrix are drawn so that their variance equals that of U(-bound, bound).
  void init(Rng& rng, double bound);
  bool low_rank() const { return rank_ > 0; }
  // y = W x. For a low-rank W, `w2x` receives W2 x (kept for grad()).
  void apply(const CRef<S>& x, MRef<S> y, Mat<S>& w2x) const;
  // dx += W^T dy (tmp: scratch).
  void apply_transpose_add(const CRef<S>& dy, MRef<S> dx, Mat<S>& tmp) const;
  // dW += dy x^T. For a low-rank W, w2x may point to W2 x (as written by apply()); when null it is
  // recomputed. tmp is scratch.
  void grad(const CRef<S>& dy, const CRef<S>& x, const Mat<S>* w2x, Mat<S>& tmp);
  void collect(std::vector<Param<S>*>& out);

 private:
  int out_ = 0, in_ = 0, rank_ = 0;
  Param<S> w_, w1_, w2_;
};

// One recurrent layer. The base class runs the time loop, masking and weight gradients; a cell
// (subclass) implements one step forward and backward.
//   forward : ax = W X (+ b) for all steps in one product; per step rh = U h_{t-1}; cell step.
//   backward: per step the cell writes da (dL/d input pre-activation) and dr (dL/d recurrent
//             pre-activation; the same matrix for every cell except GRU); dh_{t-1} += U^T dr.
//             After the loop: dW = da X^T, db = rowsum(da), dU = dr H_prev^T, dX = W^T da.
template <class S>
class RecurrentLayer {
 public:
  RecurrentLayer(const std::string& prefix, const LayerSpec& spec, int in_dim, bool has_bias);
  virtual ~RecurrentLayer() = default;
  int width() const { return H_; }
  void init(Rng& rng);
  // X [in x T*B] -> H [width x T*B].
  void forward(const Mat<S>& X, const SeqInfo& info, Mat<S>& H);
  // dH: gradient w.r.t. every H column from above. Accumulates parameter gradients; writes dX if given.
  void backward(const Mat<S>& X, const SeqInfo& info, const Mat<S>& H, const Mat<S>& dH, Mat<S>* dX);
  void collect(std::vector<Param<S>*>& out);

 protected:
  virtual void cell_init(Rng&) {}
  virtual void cell_collect(std::vector<Param<S>*>&) {}
  virtual void cell_alloc(long cols) = 0;
  virtual void cell_begin_backward() {}
  // ax = input pre-activation (+ bias) of step t, rh = U h_{t-1}; writes h_t.
  virtual void step_forward(int t, int B, const CRef<S>& ax, const CRef<S>& rh, const CRef<S>& hprev,
                            MRef<S> h) = 0;
  // dh = total dL/dh_t (zero in padded columns). Writes dhprev (the direct path only), da and dr.
  virtual void step_backward(int t, int B, const CRef<S>& hprev, const CRef<S>& h, const CRef<S>& dh,
                             MRef<S> dhprev, MRef<S> da, MRef<S> dr) = 0;
  virtual bool separate_recurrent_grad() const { return false; }
  // After the time loop, with every step's da and dr (padded columns zero).
  virtual void cell_finish_backward(const Mat<S>& /*da*/, const Mat<S>& /*dr*/) {}

  int H_, G_, in_;
  bool has_bias_;
  Linear<S> W_, U_;
  Param<S> b_;

 private:
  Mat<S> ax_, w2x_, rh_, u2h_, zero_h_;
  Mat<S> da_, dr_, dh_, carry_, tmp_, tmp2_;
};

template <class S>
std::unique_ptr<RecurrentLayer<S>> make_layer(const std::string& prefix, const LayerSpec& spec, int in_dim);

// Output head: last hidden state or its mean over valid steps -> [dense ReLU] -> linear output.
template <class S>
class Head {
 public:
  Head(HeadType type, int in, int dense, int out);
  void init(Rng& rng);
  const Mat<S>& forward(const Mat<S>& H, const SeqInfo& info);
  // Accumulates parameter gradients; writes dH [in x T*B].
  void backward(const Mat<S>& dout, const SeqInfo& info, Mat<S>& dH);
  void collect(std::vector<Param<S>*>& out);

 private:
  HeadType type_;
  int in_, dense_, out_;
  Param<S> wd_, bd_, wo_, bo_;
  Mat<S> z_, d_, out_m_, dd_, dz_;
};

}  // namespace rnnas::nn

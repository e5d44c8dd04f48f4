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
  // Products for one time step's columns: y = W x and dx += W^T dy. float uses a register-tiled kernel
  // without GEMM packing (small_gemm.h); the transposed copies it needs are made by
  // prepare_step_products() (call it after the weights change, before a time loop).
  void prepare_step_products();
  void step_apply(const CRef<S>& x, MRef<S> y, Mat<S>& tmp) const;
  void step_apply_transpose_add(const CRef<S>& dy, MRef<S> dx, Mat<S>& tmp) const;
  // dW += dy x^T (tmp: scratch). The low-rank form needs W2 x (as kept by step_apply_keep).
  void grad(const CRef<S>& dy, const CRef<S>& x, Mat<S>& tmp);
  void grad(const CRef<S>& dy, const CRef<S>& x, const CRef<S>& w2x, Mat<S>& tmp);
  // step_apply for a low-rank W that also keeps W2 x in w2x.
  void step_apply_keep(const CRef<S>& x, MRef<S> y, MRef<S> w2x) const;
  int rank() const { return rank_; }
  void collect(std::vector<Param<S>*>& out);

 private:
  int out_ = 0, in_ = 0, rank_ = 0;
  Param<S> w_, w1_, w2_;
  Mat<S> wt_, w1t_, w2t_;  // transposed copies for step_apply_transpose_add
  Mat<S> w2x_scratch_;
};

// One recurrent layer. The base class runs the time loop, masking and weight gradients; a cell
// (subclass) implements one step forward and backward.
//   forward : per step ax = W x_t (+ b), rh = U h_{t-1}, then the cell step.
//   backward: per step the cell writes da (dL/d input pre-activation) and dr (dL/d recurrent
//             pre-activation; the same matrix for every cell except GRU); then, while they are in
//             cache: dW += da x_t^T, db += rowsum(da), dU += dr h_{t-1}^T, dX_t = W^T da, and
//             dh_{t-1} += U^T dr.
template <class S>
class RecurrentLayer {
 public:
  RecurrentLayer(const std::string& prefix, const LayerSpec& spec, int in_dim, bool has_bias);
  virtual ~RecurrentLayer() = default;
  int width() const { return H_; }
  void init(Rng& rng);
  // X [in x T*B] -> H [width x T*B].
  void forward(const Mat<S>& X, const SeqInfo& info, Mat<S>& H);
  // dH: gradient w.r.t. the H columns from above: [width x T*B], or [width x B] when only the last step
  // receives gradient (the "last" head). Accumulates parameter gradients; writes dX if given.
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
  // After the time loop.
  virtual void cell_finish_backward() {}

  int H_, G_, in_;
  bool has_bias_;
  Linear<S> W_, U_;
  Param<S> b_;

 private:
  Mat<S> ax_, w2x_, rh_, u2h_, zero_h_;  // ax_, rh_: one step's pre-activations; w2x_: W2 x for all steps
  Mat<S> da_, dr_, dh_, carry_, tmp_, tmp2_;  // one step's gradients
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
  // Accumulates parameter gradients; writes dH: [in x T*B] (mean head) or [in x B] (last head: only the
  // last step receives gradient).
  void backward(const Mat<S>& dout, const SeqInfo& info, Mat<S>& dH);
  void collect(std::vector<Param<S>*>& out);

 private:
  HeadType type_;
  int in_, dense_, out_;
  Param<S> wd_, bd_, wo_, bo_;
  Mat<S> z_, d_, out_m_, dd_, dz_;
};

}  // namespace rnnas::nn

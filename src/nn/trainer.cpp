#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "rnnas/core.h"
#include "rnnas/nn.h"

namespace rnnas::nn {
namespace {

void check_options(const TrainOptions& o) {
  if (o.epochs < 1) throw Error(fmt::format("train: epochs={} must be at least 1", o.epochs));
  if (o.batch_size < 1) throw Error(fmt::format("train: batch size {} must be at least 1", o.batch_size));
  if (!(o.augment_scale >= 0 && o.augment_scale < 1))
    throw Error(fmt::format("train: augmentation scale {} must be in [0, 1)", o.augment_scale));
  if (!(o.augment_noise >= 0 && std::isfinite(o.augment_noise)))
    throw Error(fmt::format("train: augmentation noise {} must be a finite value >= 0", o.augment_noise));
  if (!(o.ema >= 0 && o.ema < 1))
    throw Error(fmt::format("train: weight-averaging decay {} must be in [0, 1)", o.ema));
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw Error(fmt::format("train: learning rate {} must be positive", o.lr));
  if (!(o.weight_decay >= 0)) throw Error(fmt::format("train: weight decay {} must be >= 0", o.weight_decay));
  if (!(o.clip_norm >= 0)) throw Error(fmt::format("train: clip norm {} must be >= 0", o.clip_norm));
  if (o.patience < 0) throw Error(fmt::format("train: patience {} must be >= 0", o.patience));
  if (!(o.huber_delta > 0)) throw Error(fmt::format("train: huber delta {} must be positive", o.huber_delta));
  if (!(o.min_lr_fraction >= 0 && o.min_lr_fraction <= 1))
    throw Error(fmt::format("train: min lr fraction {} must be in [0, 1]", o.min_lr_fraction));
  if (o.qat_from < 0) throw Error(fmt::format("train: qat_from {} must be >= 0 (0 = off)", o.qat_from));
  if (o.step_epochs < 1 || !(o.step_gamma > 0))
    throw Error(fmt::format("train: step schedule needs step_epochs >= 1 and gamma > 0"));
}

// Augmentation (TrainOptions::augment_*): per sequence, every feature scaled by its own factor, then
// Gaussian noise on every active step. Padding stays zero.
void augment(Batch<float>& b, double scale, double noise, Rng& rng) {
  const long F = b.x.rows();
  const int B = b.info.B;
  std::vector<float> factor(static_cast<size_t>(F));
  for (int s = 0; s < B; ++s) {
    for (auto& f : factor) f = static_cast<float>(scale > 0 ? rng.uniform(1 - scale, 1 + scale) : 1.0);
    for (int t = 0; t < b.info.len[static_cast<size_t>(s)]; ++t) {
      auto col = b.x.col(static_cast<long>(t) * B + s);
      for (long f = 0; f < F; ++f) {
        col(f) *= factor[static_cast<size_t>(f)];
        if (noise > 0) col(f) += static_cast<float>(noise * rng.normal());
      }
    }
  }
}

// Evaluation batches: sequences sorted by length so that each batch pads little.
std::vector<Batch<float>> eval_batches(const Split& part, int stride, int num_outputs, int batch_size) {
  std::vector<size_t> order(part.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return part.x[a].rows() > part.x[b].rows(); });
  std::vector<Batch<float>> batches;
  for (size_t s = 0; s < order.size(); s += batch_size) {
    std::vector<size_t> idx(order.begin() + static_cast<long>(s),
                            order.begin() + static_cast<long>(std::min(order.size(), s + batch_size)));
    batches.push_back(make_batch<float>(part, std::move(idx), stride, num_outputs));
  }
  return batches;
}

Metrics evaluate_batches(Network<float>& net, const std::vector<Batch<float>>& batches, const LossOptions& loss,
                         TaskKind task, int num_classes, const TargetScaler& ts, const std::string& score) {
  std::vector<int> truth, pred;
  std::vector<float> ytrue, ypred;
  double loss_sum = 0;
  size_t n = 0;
  for (const auto& b : batches) {
    const Mat<float>& out = net.forward(b.x, b.info);
    loss_sum += static_cast<double>(loss_and_grad<float>(loss, out, b.label, b.y, nullptr)) * b.info.B;
    n += b.info.B;
    for (int j = 0; j < b.info.B; ++j) {
      if (task == TaskKind::classification) {
        Eigen::Index k;
        out.col(j).maxCoeff(&k);
        pred.push_back(static_cast<int>(k));
        truth.push_back(b.label[j]);
      } else {
        for (long o = 0; o < out.rows(); ++o) {
          const bool scaled = !ts.empty();
          ypred.push_back(scaled ? ts.invert(out(o, j), static_cast<int>(o)) : out(o, j));
          ytrue.push_back(scaled ? ts.invert(b.y(o, j), static_cast<int>(o)) : b.y(o, j));
        }
      }
    }
  }
  Metrics m = task == TaskKind::classification ? classification_metrics(truth, pred, num_classes)
                                               : regression_metrics(ytrue, ypred);
  m.count = n;
  m.loss = n ? loss_sum / static_cast<double>(n) : 0;
  if (score == "phm08" && task == TaskKind::regression) {
    m.score_name = score;
    m.score = phm08_score(ytrue, ypred);
  }
  return m;
}

bool better(const Metrics& a, const Metrics& b) {
  const double ea = a.error(), eb = b.error();
  if (!std::isfinite(ea)) return false;
  if (!std::isfinite(eb)) return true;
  return ea < eb || (ea == eb && a.loss < b.loss);
}

}  // namespace

std::string_view to_string(TrainStatus s) {
  switch (s) {
    case TrainStatus::completed:
      return "completed";
    case TrainStatus::early_stopped:
      return "early_stopped";
    case TrainStatus::stopped_by_callback:
      return "stopped_by_callback";
    case TrainStatus::diverged:
      return "diverged";
  }
  return "?";
}

bool StepResult::finite() const { return std::isfinite(loss) && std::isfinite(grad_norm); }

WeightRounding::WeightRounding(std::vector<Param<float>*> params) {
  for (auto* p : params)
    if (p->decay) params_.push_back(p);
  saved_.resize(params_.size());
}

void WeightRounding::apply() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Mat<float>& w = params_[i]->value;
    saved_[i] = w;
    for (long r = 0; r < w.rows(); ++r) {
      const float m = w.row(r).cwiseAbs().maxCoeff();
      if (!(m > 0)) continue;
      const float s = m / 127.0f;
      for (long c = 0; c < w.cols(); ++c) w(r, c) = std::nearbyint(w(r, c) / s) * s;
    }
  }
}

void WeightRounding::restore() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i]->value = saved_[i];
}

StepResult train_step(Network<float>& net, Adam& adam, const Batch<float>& batch, const LossOptions& loss,
                      double clip_norm, double lr, Mat<float>& dout, bool quantize_weights) {
  StepResult r;
  net.zero_grad();
  WeightRounding rounding(adam.params());
  if (quantize_weights) rounding.apply();
  const Mat<float>& out = net.forward(batch.x, batch.info);
  r.loss = loss_and_grad<float>(loss, out, batch.label, batch.y, &dout);
  net.backward(dout);
  if (quantize_weights) rounding.restore();  // straight-through: the update goes to the float weights
  r.grad_norm = clip_grad_norm(adam.params(), clip_norm);
  if (r.finite()) adam.step(lr);
  return r;
}

LossOptions resolve_loss(const TrainOptions& opt, const Dataset& data) {
  LossOptions l;
  const bool cls = data.task == TaskKind::classification;
  const std::string& name = opt.loss;
  if (name == "auto") {
    l.kind = cls ? LossKind::cross_entropy : LossKind::mse;
  } else if (name == "ce" || name == "cross_entropy") {
    l.kind = LossKind::cross_entropy;
  } else if (name == "mse") {
    l.kind = LossKind::mse;
  } else if (name == "huber") {
    l.kind = LossKind::huber;
  } else {
    throw Error(fmt::format("train: unknown loss '{}' (expected auto, ce, mse or huber)", name));
  }
  if (cls != (l.kind == LossKind::cross_entropy))
    throw Error(fmt::format("train: loss '{}' does not fit a {} task", name, to_string(data.task)));
  l.huber_delta = opt.huber_delta;
  if (cls && opt.class_weighting == ClassWeighting::balanced) {
    std::vector<size_t> counts(data.num_classes, 0);
    for (int k : data.train.label) ++counts[k];
    const double n = static_cast<double>(data.train.size());
    for (int k = 0; k < data.num_classes; ++k)
      l.class_weights.push_back(counts[k] ? n / (data.num_classes * static_cast<double>(counts[k])) : 1.0);
  }
  return l;
}

Metrics Model::evaluate(const Split& raw, int batch_size) {
  Split part = raw;
  norm.apply(part);
  if (!target_scale.empty()) target_scale.apply(part);
  const auto batches = eval_batches(part, arch.stride, task == TaskKind::regression ? output_dim : 0, batch_size);
  return evaluate_batches(net, batches, loss, task, output_dim, target_scale, score);
}

TrainResult train(const Arch& arch, const Dataset& data, const TrainOptions& opt_in) {
  data.validate();
  arch.validate();
  // Hyperparameters chosen in the arch (a search's choice) override the caller's options.
  TrainOptions opt = opt_in;
  if (arch.train.lr > 0) opt.lr = arch.train.lr;
  if (arch.train.weight_decay > 0) opt.weight_decay = arch.train.weight_decay;
  if (arch.train.batch > 0) opt.batch_size = arch.train.batch;
  check_options(opt);
  const double t_start = now_seconds();
  TrainResult r;
  Model& model = r.model;
  model.arch = arch;
  model.task = data.task;
  model.input_dim = data.num_features;
  model.output_dim = data.output_dim();
  model.class_names = data.class_names;
  model.score = data.score;
  model.feature_names = data.feature_names;
  model.output_names = data.output_names;
  model.loss = resolve_loss(opt, data);
  model.net = Network<float>(arch, model.input_dim, model.output_dim);
  model.net.init(opt.seed);

  // Normalisation and target scaling are fitted on the training part only.
  Split train = data.train, val = data.val, test = data.test;
  model.norm = Normalizer::fit(train);
  for (Split* p : {&train, &val, &test}) model.norm.apply(*p);
  const bool regression = data.task == TaskKind::regression;
  const int O = regression ? data.num_outputs : 0;
  if (regression && opt.scale_targets) {
    model.target_scale = TargetScaler::fit(train, O);
    for (Split* p : {&train, &val, &test}) model.target_scale.apply(*p);
  }
  Network<float>& net = model.net;
  auto params = net.params();
  Adam adam(params, opt.optimizer, opt.weight_decay);
  const Split& monitor_part = val.empty() ? train : val;
  const auto monitor_batches = eval_batches(monitor_part, arch.stride, O, 256);

  Rng shuffle_rng = Rng(opt.seed).fork(1);
  Rng augment_rng = Rng(opt.seed).fork(2);
  const bool augmenting = opt.augment_scale > 0 || opt.augment_noise > 0;
  const size_t N = train.size();
  const long steps_per_epoch = static_cast<long>((N + opt.batch_size - 1) / opt.batch_size);
  const long total_steps = steps_per_epoch * opt.epochs;
  std::vector<size_t> order(N);
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<Mat<float>> best_weights;
  Mat<float> dout;
  long step = 0;
  bool stop = false;
  // Quantisation-aware training: the int8 input steps come from the (normalised) training inputs' range.
  std::vector<float> input_step;
  if (opt.qat_from > 0) {
    std::vector<float> range(static_cast<size_t>(model.input_dim), 0.0f);
    for (const auto& x : train.x)
      for (long f = 0; f < x.cols(); ++f)
        range[static_cast<size_t>(f)] = std::max(range[static_cast<size_t>(f)], x.col(f).cwiseAbs().maxCoeff());
    for (float m : range) input_step.push_back(m > 0 ? m / 127.0f : 1.0f);
  }
  WeightRounding eval_rounding(params);
  // Weight averaging: `ema` holds the average while training steps the raw weights; the two are swapped
  // for validation and the best-weights snapshot.
  std::vector<Mat<float>> ema;
  if (opt.ema > 0)
    for (const auto* p : params) ema.push_back(p->value);
  bool ema_in = false;
  auto swap_ema = [&] {
    for (size_t i = 0; i < ema.size(); ++i) params[i]->value.swap(ema[i]);
    ema_in = !ema_in;
  };
  for (int epoch = 1; epoch <= opt.epochs && !stop; ++epoch) {
    const double t_epoch = now_seconds();
    const bool qat = opt.qat_from > 0 && epoch >= opt.qat_from;
    if (qat && !net.fake_quant()) net.set_fake_quant(true, input_step);
    shuffle_rng.shuffle(order);
    double loss_sum = 0;
    EpochReport rep;
    rep.epoch = epoch;
    for (long s = 0; s < steps_per_epoch; ++s, ++step) {
      const size_t begin = static_cast<size_t>(s) * opt.batch_size;
      std::vector<size_t> idx(order.begin() + static_cast<long>(begin),
                              order.begin() + static_cast<long>(std::min(N, begin + opt.batch_size)));
      Batch<float> batch = make_batch<float>(train, std::move(idx), arch.stride, O);
      if (augmenting) augment(batch, opt.augment_scale, opt.augment_noise, augment_rng);
      rep.lr = learning_rate(opt, step, total_steps, epoch);
      const StepResult sr = train_step(net, adam, batch, model.loss, opt.clip_norm, rep.lr, dout, qat);
      if (!sr.finite()) {
        r.status = TrainStatus::diverged;
        r.reason = fmt::format("{} at epoch {}, batch {} (loss {}, gradient norm {})",
                               std::isfinite(sr.loss) ? "non-finite gradient" : "non-finite training loss", epoch,
                               s + 1, sr.loss, sr.grad_norm);
        stop = true;
        break;
      }
      if (!ema.empty()) {
        const auto d = static_cast<float>(
            std::min(opt.ema, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step))));
        for (size_t i = 0; i < ema.size(); ++i) ema[i] = d * ema[i] + (1.0f - d) * params[i]->value;
      }
      loss_sum += static_cast<double>(sr.loss) * batch.info.B;
      r.samples += batch.info.B;
    }
    if (stop) break;
    rep.train_loss = loss_sum / static_cast<double>(N);
    if (!ema.empty()) swap_ema();
    if (qat) eval_rounding.apply();
    rep.val = evaluate_batches(net, monitor_batches, model.loss, data.task, model.output_dim, model.target_scale,
                               data.score);
    if (qat) eval_rounding.restore();
    if (!std::isfinite(rep.val.loss)) {
      r.status = TrainStatus::diverged;
      r.reason = fmt::format("non-finite validation loss at epoch {}", epoch);
      break;
    }
    rep.seconds = now_seconds() - t_epoch;
    r.curve.push_back(rep);
    if (r.best_epoch == 0 || better(rep.val, r.best_val)) {
      r.best_epoch = epoch;
      r.best_val = rep.val;
      if (opt.restore_best) {
        best_weights.clear();
        for (const auto* p : params) best_weights.push_back(p->value);
      }
    } else if (opt.patience > 0 && epoch - r.best_epoch >= opt.patience) {
      r.status = TrainStatus::early_stopped;
      r.reason = fmt::format("no validation improvement for {} epochs (best at epoch {})", opt.patience,
                             r.best_epoch);
      stop = true;
    }
    if (!stop && opt.on_epoch && !opt.on_epoch(rep)) {
      r.status = TrainStatus::stopped_by_callback;
      r.reason = fmt::format("stopped by the epoch callback after epoch {}", epoch);
      stop = true;
    }
    if (ema_in && !stop) swap_ema();  // back to the raw weights for the next epoch
  }
  if (!ema.empty() && !ema_in) swap_ema();  // the model is the average (or its best snapshot, below)
  if (opt.restore_best && !best_weights.empty())
    for (size_t i = 0; i < params.size(); ++i) params[i]->value = best_weights[i];
  net.set_fake_quant(false);  // the model is float; rnnas::quant::quantize rounds it as training did
  const bool usable = r.best_epoch > 0 && (opt.restore_best || r.status != TrainStatus::diverged);
  if (usable && !test.empty())
    r.test = evaluate_batches(net, eval_batches(test, arch.stride, O, 256), model.loss, data.task, model.output_dim,
                              model.target_scale, data.score);
  r.seconds = now_seconds() - t_start;
  model.info["best_epoch"] = r.best_epoch;
  model.info["val_error"] = r.best_val.error();
  if (r.test.count) model.info["test_error"] = r.test.error();
  return r;
}

std::vector<TrainResult> train_many(const std::vector<TrainJob>& jobs, unsigned threads) {
  std::vector<TrainResult> results(jobs.size());
  parallel_for(jobs.size(), threads, [&](size_t i) { results[i] = train(jobs[i].arch, *jobs[i].data, jobs[i].options); });
  return results;
}

}  // namespace rnnas::nn

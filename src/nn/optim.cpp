#include <cmath>
#include <numbers>

#include "rnnas/core.h"
#include "rnnas/nn.h"

namespace rnnas::nn {

Adam::Adam(std::vector<Param<float>*> params, OptimizerKind kind, double weight_decay, double beta1, double beta2,
           double eps)
    : params_(std::move(params)), kind_(kind), wd_(weight_decay), b1_(beta1), b2_(beta2), eps_(eps) {
  for (auto* p : params_) {
    m_.push_back(Mat<float>::Zero(p->value.rows(), p->value.cols()));
    v_.push_back(Mat<float>::Zero(p->value.rows(), p->value.cols()));
  }
}

void Adam::step(double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(b1_, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(b2_, static_cast<double>(t_));
  const auto b1 = static_cast<float>(b1_), b2 = static_cast<float>(b2_);
  const auto step_size = static_cast<float>(lr / bc1);
  const auto inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const auto eps = static_cast<float>(eps_);
  for (size_t i = 0; i < params_.size(); ++i) {
    Param<float>& p = *params_[i];
    const bool decay = p.decay && wd_ > 0;
    if (decay && kind_ == OptimizerKind::adam) p.grad += static_cast<float>(wd_) * p.value;
    m_[i] = b1 * m_[i] + (1.f - b1) * p.grad;
    v_[i] = b2 * v_[i] + (1.f - b2) * p.grad.cwiseAbs2();
    if (decay && kind_ == OptimizerKind::adamw) p.value *= static_cast<float>(1.0 - lr * wd_);
    p.value.array() -= step_size * m_[i].array() / (v_[i].array().sqrt() * inv_sqrt_bc2 + eps);
  }
}

double clip_grad_norm(const std::vector<Param<float>*>& params, double max_norm) {
  double sq = 0;
  for (const auto* p : params) {
    const float f = p->grad.squaredNorm();
    // A float squaredNorm overflows to inf once an element passes 1.8e19; such a gradient is still finite
    // and clippable, so it is summed again in double (only then: the float sum keeps runs as they were).
    sq += std::isfinite(f) ? static_cast<double>(f) : p->grad.cast<double>().squaredNorm();
  }
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const auto scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (auto* p : params) p->grad *= scale;
  }
  return norm;
}

double learning_rate(const TrainOptions& opt, long step, long total_steps, int epoch) {
  switch (opt.schedule) {
    case ScheduleKind::constant:
      return opt.lr;
    case ScheduleKind::cosine: {
      const double lo = opt.lr * opt.min_lr_fraction;
      const double progress = total_steps > 1 ? static_cast<double>(step) / static_cast<double>(total_steps - 1) : 0;
      return lo + 0.5 * (opt.lr - lo) * (1.0 + std::cos(std::numbers::pi * progress));
    }
    case ScheduleKind::step:
      return opt.lr * std::pow(opt.step_gamma, static_cast<double>((epoch - 1) / std::max(1, opt.step_epochs)));
  }
  return opt.lr;
}

}  // namespace rnnas::nn

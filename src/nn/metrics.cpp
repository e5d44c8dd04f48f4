#include <fmt/format.h>

#include <cmath>

#include "rnnas/nn.h"

namespace rnnas::nn {

Metrics classification_metrics(const std::vector<int>& truth, const std::vector<int>& pred, int num_classes) {
  Metrics m;
  m.task = TaskKind::classification;
  m.count = truth.size();
  if (truth.empty()) return m;
  std::vector<size_t> tp(num_classes, 0), fp(num_classes, 0), fn(num_classes, 0);
  size_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] == pred[i]) {
      ++correct;
      ++tp[truth[i]];
    } else {
      ++fp[pred[i]];
      ++fn[truth[i]];
    }
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(truth.size());
  // Macro-F1 over the classes present in truth or predictions (as scikit-learn's default labels).
  double f1_sum = 0;
  int classes = 0;
  for (int k = 0; k < num_classes; ++k) {
    if (tp[k] + fp[k] + fn[k] == 0) continue;
    ++classes;
    f1_sum += 2.0 * static_cast<double>(tp[k]) / static_cast<double>(2 * tp[k] + fp[k] + fn[k]);
  }
  m.macro_f1 = classes ? f1_sum / classes : 0.0;
  return m;
}

Metrics regression_metrics(const std::vector<float>& truth, const std::vector<float>& pred) {
  Metrics m;
  m.task = TaskKind::regression;
  m.count = truth.size();
  if (truth.empty()) return m;
  double sq = 0, ab = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double e = static_cast<double>(pred[i]) - truth[i];
    sq += e * e;
    ab += std::abs(e);
  }
  m.rmse = std::sqrt(sq / static_cast<double>(truth.size()));
  m.mae = ab / static_cast<double>(truth.size());
  return m;
}

double phm08_score(const std::vector<float>& truth, const std::vector<float>& pred) {
  double s = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double d = static_cast<double>(pred[i]) - truth[i];
    s += d < 0 ? std::exp(-d / 13.0) - 1.0 : std::exp(d / 10.0) - 1.0;
  }
  return s;
}

std::string Metrics::to_string() const {
  if (task == TaskKind::classification)
    return fmt::format("loss {:.4f}  acc {:.4f}  macro_f1 {:.4f}", loss, accuracy, macro_f1);
  return fmt::format("loss {:.4g}  rmse {:.4g}  mae {:.4g}{}", loss, rmse, mae,
                     score_name.empty() ? std::string() : fmt::format("  {} {:.4g}", score_name, score));
}

}  // namespace rnnas::nn

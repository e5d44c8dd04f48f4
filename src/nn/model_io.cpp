// Model files: JSON, format "rnnas-model", version 1. Documented in docs/model-format.md.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "rnnas/core.h"
#include "rnnas/nn.h"

namespace rnnas::nn {
namespace {

using nlohmann::json;
constexpr const char* kFormat = "rnnas-model";
constexpr int kVersion = 1;

json vec_json(const std::vector<float>& v) { return json(v); }

const json& field(const json& j, const char* key, const std::string& path) {
  if (!j.is_object() || !j.contains(key)) throw Error(fmt::format("{}: model file lacks the field '{}'", path, key));
  return j.at(key);
}

template <class T>
T get(const json& j, const char* key, const std::string& path) {
  try {
    return field(j, key, path).get<T>();
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: field '{}' has the wrong type ({})", path, key, e.what()));
  }
}

}  // namespace

void Model::save(const std::string& path) const {
  json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["arch"] = arch.to_string();
  j["task"] = std::string(to_string(task));
  j["input_dim"] = input_dim;
  j["output_dim"] = output_dim;
  j["class_names"] = class_names;
  j["feature_names"] = feature_names;
  j["output_names"] = output_names;
  j["normalization"] = {{"mean", vec_json(norm.mean)}, {"scale", vec_json(norm.scale)}};
  j["target_scaling"] = {{"mean", vec_json(target_scale.mean)}, {"scale", vec_json(target_scale.scale)}};
  j["loss"] = {{"kind", std::string(to_string(loss.kind))},
               {"huber_delta", loss.huber_delta},
               {"class_weights", loss.class_weights}};
  j["info"] = info;
  if (!score.empty()) j["score"] = score;
  if (!data.empty()) j["data"] = data;
  json params = json::array();
  for (const auto* p : net.params()) {
    std::vector<float> values;
    values.reserve(static_cast<size_t>(p->value.size()));
    for (long r = 0; r < p->value.rows(); ++r)
      for (long c = 0; c < p->value.cols(); ++c) values.push_back(p->value(r, c));
    params.push_back({{"name", p->name}, {"shape", {p->value.rows(), p->value.cols()}}, {"data", values}});
  }
  j["params"] = params;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error(fmt::format("{}: cannot write", tmp));
    out << j.dump(1) << '\n';
    if (!out) throw Error(fmt::format("{}: write failed", tmp));
  }
  // Write-then-rename: a reader never sees a half-written model.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(fmt::format("{}: cannot rename from {}", path, tmp));
}

Model Model::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open model file", path));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw Error(fmt::format("{}: not an rnnas model file (format field is not '{}')", path, kFormat));
  const int version = get<int>(j, "version", path);
  if (version != kVersion)
    throw Error(fmt::format("{}: model format version {} is not supported (this build reads {})", path, version,
                            kVersion));
  Model m;
  m.arch = Arch::parse(get<std::string>(j, "arch", path));
  const auto task = get<std::string>(j, "task", path);
  if (task != "classification" && task != "regression")
    throw Error(fmt::format("{}: task '{}' is not classification or regression", path, task));
  m.task = task == "classification" ? TaskKind::classification : TaskKind::regression;
  m.input_dim = get<int>(j, "input_dim", path);
  m.output_dim = get<int>(j, "output_dim", path);
  m.class_names = get<std::vector<std::string>>(j, "class_names", path);
  m.feature_names = get<std::vector<std::string>>(j, "feature_names", path);
  m.output_names = get<std::vector<std::string>>(j, "output_names", path);
  const json& nj = field(j, "normalization", path);
  m.norm.mean = get<std::vector<float>>(nj, "mean", path);
  m.norm.scale = get<std::vector<float>>(nj, "scale", path);
  if (m.norm.mean.size() != static_cast<size_t>(m.input_dim) || m.norm.scale.size() != m.norm.mean.size())
    throw Error(fmt::format("{}: normalization has {} means for {} inputs", path, m.norm.mean.size(), m.input_dim));
  const json& tj = field(j, "target_scaling", path);
  m.target_scale.mean = get<std::vector<float>>(tj, "mean", path);
  m.target_scale.scale = get<std::vector<float>>(tj, "scale", path);
  const json& lj = field(j, "loss", path);
  const auto kind = get<std::string>(lj, "kind", path);
  m.loss.kind = kind == "cross_entropy" ? LossKind::cross_entropy : kind == "huber" ? LossKind::huber : LossKind::mse;
  m.loss.huber_delta = get<double>(lj, "huber_delta", path);
  m.loss.class_weights = get<std::vector<double>>(lj, "class_weights", path);
  m.info = get<std::map<std::string, double>>(j, "info", path);
  if (j.contains("score")) {
    m.score = get<std::string>(j, "score", path);
    if (m.score != "phm08") throw Error(fmt::format("{}: unknown score '{}' (expected phm08)", path, m.score));
  }
  if (j.contains("data")) m.data = get<std::string>(j, "data", path);
  m.net = Network<float>(m.arch, m.input_dim, m.output_dim);
  const json& pj = field(j, "params", path);
  auto params = m.net.params();
  if (!pj.is_array() || pj.size() != params.size())
    throw Error(fmt::format("{}: {} parameter tensors, the arch '{}' has {}", path, pj.is_array() ? pj.size() : 0,
                            m.arch.to_string(), params.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    Param<float>& p = *params[i];
    const auto name = get<std::string>(pj[i], "name", path);
    const auto shape = get<std::vector<long>>(pj[i], "shape", path);
    const auto data = get<std::vector<float>>(pj[i], "data", path);
    if (name != p.name || shape.size() != 2 || shape[0] != p.value.rows() || shape[1] != p.value.cols() ||
        data.size() != static_cast<size_t>(p.value.size()))
      throw Error(fmt::format("{}: parameter {} is '{}' {}x{} with {} values, expected '{}' {}x{}", path, i, name,
                              shape.size() > 0 ? shape[0] : 0, shape.size() > 1 ? shape[1] : 0, data.size(), p.name,
                              p.value.rows(), p.value.cols()));
    for (long r = 0, k = 0; r < p.value.rows(); ++r)
      for (long c = 0; c < p.value.cols(); ++c) p.value(r, c) = data[k++];
    p.grad.setZero(p.value.rows(), p.value.cols());
  }
  return m;
}

}  // namespace rnnas::nn

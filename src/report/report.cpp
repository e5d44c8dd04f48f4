// The study report: data gathering (report_data) and the self-contained page (render_html).
#include "rnnas/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "embedded.h"
#include "rnnas/core.h"
#include "rnnas/hw.h"
#include "rnnas/quant.h"
#include "rnnas/search.h"
#include "rnnas/study.h"

namespace fs = std::filesystem;

namespace rnnas::report {
namespace {

using nlohmann::json;

// A number for the page, or null (JSON has no NaN/Inf).
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json get(const std::map<std::string, double>& m, const char* key) {
  const auto it = m.find(key);
  return it == m.end() ? json(nullptr) : num(it->second);
}

struct Limits {
  double flash = 0, ram = 0, latency = 0, energy = 0;  // the study's constraints (0 = none)
  double target_flash = 0, target_ram = 0;             // the target's memories
};

// How a trial counts on the page: feasible (complete, within every limit), over (complete but over a limit:
// the limits changed on resume), pruned (stopped by ASHA), rejected (priced over a limit, never trained),
// failed, running, waiting.
std::string kind_of(const Trial& t, const Limits& k) {
  if (t.state == TrialState::complete) {
    auto over = [&](const char* key, double limit) {
      const auto it = t.costs.find(key);
      return limit > 0 && it != t.costs.end() && it->second > limit;
    };
    if (over("flash_bytes", k.flash) || over("ram_bytes", k.ram) || over("latency_ms", k.latency) ||
        over("energy_uj", k.energy) || over("flash_bytes", k.target_flash) || over("ram_bytes", k.target_ram))
      return "over";
    return "feasible";
  }
  if (t.state == TrialState::pruned) return search::is_rejected(t) ? "rejected" : "pruned";
  return std::string(to_string(t.state));
}

// The normalised objective vector of a trial for the hypervolume: val_error / ref_error, costs / limit.
std::vector<double> normalised(const Trial& t, const std::vector<search::Objective>& objectives,
                               const std::map<search::Objective, double>& scale) {
  std::vector<double> p;
  for (auto o : objectives) p.push_back(search::objective_value(t, o) / scale.at(o));
  return p;
}

// Best feasible val_error and hypervolume after each finished trial of one series (trials in number order).
json progress_series(const std::string& series, const std::vector<Trial>& trials, double created,
                     const std::vector<search::Objective>& objectives,
                     const std::map<search::Objective, double>& scale, const Limits& limits) {
  json out = json::array();
  std::vector<std::vector<double>> front;
  double best = -1, hv = 0;
  int index = 0;
  for (const auto& t : trials) {
    if (!finished(t.state)) continue;
    ++index;
    if (kind_of(t, limits) == "feasible" && t.metrics.count("val_error")) {
      const double v = t.metrics.at("val_error");
      if (best < 0 || v < best) best = v;
      std::vector<double> p = normalised(t, objectives, scale);
      bool dominated = false;
      for (const auto& q : front) {
        bool all_le = true;
        for (size_t i = 0; i < p.size(); ++i) all_le = all_le && q[i] <= p[i];
        dominated = dominated || all_le;
      }
      if (!dominated) {
        std::erase_if(front, [&](const std::vector<double>& q) {
          bool all_le = true;
          for (size_t i = 0; i < p.size(); ++i) all_le = all_le && p[i] <= q[i];
          return all_le;
        });
        front.push_back(std::move(p));
        hv = search::hypervolume(front, std::vector<double>(objectives.size(), 1.0));
      }
    }
    out.push_back({{"series", series},
                   {"index", index},
                   {"trial", t.number},
                   {"minutes", num((t.updated - created) / 60.0)},
                   {"best", best < 0 ? json(nullptr) : json(best)},
                   {"hypervolume", hv}});
  }
  return out;
}

Limits limits_of(const json& settings, const std::optional<hw::Target>& target) {
  Limits k;
  const json c = settings.value("constraints", json::object());
  k.flash = c.value("max_flash_bytes", 0.0);
  k.ram = c.value("max_ram_bytes", 0.0);
  k.latency = c.value("max_latency_ms", 0.0);
  k.energy = c.value("max_energy_uj", 0.0);
  if (target) {
    k.target_flash = static_cast<double>(target->flash_bytes);
    k.target_ram = static_cast<double>(target->ram_bytes);
  }
  return k;
}

json trial_row(const Trial& t, const Limits& k, double created, bool on_front) {
  json measured = json::object();
  for (const auto& [key, v] : t.metrics)
    if (key.rfind("measured_", 0) == 0 || key.rfind("device_", 0) == 0) measured[key] = num(v);
  return {{"n", t.number},
          {"state", std::string(to_string(t.state))},
          {"kind", kind_of(t, k)},
          {"arch", t.arch},
          {"strategy", t.strategy},
          {"seed", t.seed},
          {"val", get(t.metrics, "val_error")},
          {"val_float", get(t.metrics, "val_error_float")},
          {"test", get(t.metrics, "test_error")},
          {"flash", get(t.costs, "flash_bytes")},
          {"ram", get(t.costs, "ram_bytes")},
          {"latency", get(t.costs, "latency_ms")},
          {"energy", get(t.costs, "energy_uj")},
          {"macs", get(t.costs, "macs")},
          {"params", get(t.costs, "params")},
          {"epochs", static_cast<int>(t.curve.size())},
          {"wall", num(t.wall_seconds)},
          {"minutes", num((t.updated - created) / 60.0)},
          {"front", on_front},
          {"measured", measured},
          {"reason", t.reason},
          {"worker", t.worker}};
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The detailed trial: stored figures, and (evaluate) its int8 model's predictions and cost breakdown.
json trial_detail(const Trial& t, const StudyInfo& info, const std::string& storage_location,
                  const std::string& storage_arg, const std::optional<hw::Target>& target, const Limits& k,
                  bool evaluate) {
  json d = {{"n", t.number}, {"arch", t.arch}, {"state", std::string(to_string(t.state))}, {"kind", kind_of(t, k)},
            {"strategy", t.strategy}, {"seed", t.seed}, {"reason", t.reason}, {"wall", num(t.wall_seconds)}};
  json curve = json::array();
  for (size_t e = 0; e < t.curve.size(); ++e) curve.push_back({{"epoch", e + 1}, {"val_error", num(t.curve[e])}});
  d["curve"] = curve;
  json metrics = json::object();
  for (const auto& [key, v] : t.metrics) metrics[key] = num(v);
  d["metrics"] = metrics;
  json costs = json::object();
  for (const auto& [key, v] : t.costs) costs[key] = num(v);
  d["costs"] = costs;

  // Estimate against measurement (rnnas search --measure, or none).
  json vs = json::array();
  const std::pair<const char*, const char*> pairs[] = {{"flash_bytes", "measured_flash_bytes"},
                                                       {"ram_bytes", "measured_ram_bytes"},
                                                       {"instructions", "measured_instructions"},
                                                       {"latency_ms", "measured_latency_ms_est"},
                                                       {"energy_uj", "measured_energy_uj_est"}};
  for (const auto& [est, meas] : pairs)
    if (t.costs.count(est) || t.metrics.count(meas))
      vs.push_back({{"figure", est}, {"estimate", get(t.costs, est)}, {"measured", get(t.metrics, meas)}});
  d["estimate_vs_measured"] = vs;

  const json& s = info.settings;
  std::string cmd = fmt::format("rnnas deploy --storage {} --study {} --trial {} --target {}", shell_quote(storage_arg),
                                shell_quote(info.name), t.number, shell_quote(s.value("target", std::string("nrf52840"))));
  if (k.flash > 0) cmd += fmt::format(" --max-flash {:.0f}", k.flash);
  if (k.ram > 0) cmd += fmt::format(" --max-ram {:.0f}", k.ram);
  cmd += fmt::format(" -o deploy-trial-{}", t.number);
  d["deploy_command"] = cmd;

  const std::string model_path = search::trial_model_path(storage_location, info.name, t.number);
  d["model_file"] = model_path;
  if (!evaluate) return d;
  if (t.state != TrialState::complete || !fs::exists(model_path)) {
    d["evaluation_note"] = fmt::format("no saved model (only complete trials have one: {})", model_path);
    return d;
  }
  try {
    const bool int8 = s.value("quantize", true) && s.value("quant", std::string("int8")) == "int8";
    quant::LoadedModel m = quant::load_and_quantize(model_path, "", "report");
    const bool finalist = t.metrics.count("test_error") && !m.data.test.empty();
    const Split& part = finalist ? m.data.test : (m.data.val.empty() ? m.data.test : m.data.val);
    const std::string part_name = &part == &m.data.test ? "test" : "validation";
    json ev = {{"split", part_name}, {"model", int8 ? "int8 (C runtime)" : "float"}, {"count", part.size()}};
    const int O = m.model.output_dim;
    std::vector<double> outputs;  // per sequence, O values: logits or targets' units
    if (int8) {
      const std::vector<int32_t> q = m.q.run_all(part);
      const double unit = std::ldexp(1.0, -m.q.out_frac);
      for (int32_t v : q) outputs.push_back(v * unit);
    } else {
      for (const auto& x : part.x) {
        const std::vector<double> y = quant::float_reference(m.model, x);
        outputs.insert(outputs.end(), y.begin(), y.end());
      }
    }
    if (m.data.task == TaskKind::classification) {
      std::vector<std::vector<int>> cm(O, std::vector<int>(O, 0));
      int correct = 0;
      for (size_t i = 0; i < part.size(); ++i) {
        const auto row = outputs.begin() + static_cast<long>(i) * O;
        const int pred = static_cast<int>(std::max_element(row, row + O) - row);  // first of equals, as the runtime
        ++cm[part.label[i]][pred];
        correct += pred == part.label[i];
      }
      ev["kind"] = "confusion";
      ev["labels"] = m.data.class_names;
      ev["matrix"] = cm;
      ev["accuracy"] = part.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(part.size());
    } else {
      ev["kind"] = "regression";
      ev["output"] = m.data.output_names.empty() ? std::string("output") : m.data.output_names[0];
      json pts = json::array();
      const size_t n = part.size(), step = std::max<size_t>(1, n / 3000);  // at most ~3000 points drawn
      double se = 0;
      for (size_t i = 0; i < n; ++i) {
        const double truth = part.y[i * O], pred = outputs[i * O];
        se += (pred - truth) * (pred - truth);
        if (i % step == 0) pts.push_back({{"truth", num(truth)}, {"pred", num(pred)}});
      }
      ev["points"] = pts;
      ev["rmse"] = n ? std::sqrt(se / static_cast<double>(n)) : 0.0;
    }
    d["evaluation"] = ev;

    if (target) {
      const hw::InputShape shape = hw::shape_of(m.data);
      const hw::Cost c = hw::estimate(m.model.arch, *target, shape, int8 ? hw::Quant::int8 : hw::Quant::float32, true);
      json layers = json::array();
      for (const auto& l : c.layers)
        layers.push_back({{"name", l.name}, {"params", l.params}, {"weight_bytes", l.weight_bytes},
                          {"bias_bytes", l.bias_bytes}, {"qparam_bytes", l.qparam_bytes},
                          {"macs_per_step", l.macs_per_step}, {"cycles_per_step", num(l.cycles_per_step)}});
      d["layers"] = layers;
      json flash = json::array();
      const std::pair<const char*, long> parts[] = {
          {"weights", c.flash_weights}, {"biases", c.flash_biases},   {"requantisation", c.flash_qparams},
          {"tables", c.flash_tables},   {"code", c.flash_code},       {"descriptor", c.flash_descriptor},
          {"front end", c.flash_frontend}};
      for (const auto& [name, bytes] : parts)
        if (bytes > 0) flash.push_back({{"part", name}, {"bytes", bytes}});
      d["flash_parts"] = flash;
      json buffers = json::array();
      for (const auto& b : c.plan.buffers)
        buffers.push_back({{"name", b.label()}, {"bytes", b.bytes}, {"offset", b.offset}, {"first", b.first},
                           {"last", b.last + 1}});
      d["buffers"] = buffers;
      d["arena_bytes"] = c.plan.arena_bytes;
      d["stack_bytes"] = c.stack_bytes;
      d["steps"] = c.steps;
    }
  } catch (const Error& e) {
    d["evaluation_note"] = e.what();
  }
  return d;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return buf;
}

}  // namespace

json report_data(const ReportOptions& o) {
  auto store = open_storage(o.storage);
  const auto studies = store->list_studies();
  std::optional<StudyInfo> info;
  const std::string wanted = o.study.empty() ? "default" : o.study;
  if (o.study.empty() && studies.size() == 1) info = studies[0];
  else info = store->find_study(wanted);
  if (!info) {
    std::string names;
    for (const auto& s : studies) names += (names.empty() ? "" : ", ") + s.name;
    throw Error(fmt::format("report: {}: no study named '{}' (studies: {})", store->location(), wanted,
                            names.empty() ? "none" : names));
  }
  const json& settings = info->settings;
  std::optional<hw::Target> target;
  std::string target_note;
  try {
    if (settings.contains("target")) target = hw::load_target(settings["target"].get<std::string>());
  } catch (const Error& e) {
    target_note = e.what();
  }
  const Limits k = limits_of(settings, target);

  std::vector<search::Objective> objectives;
  for (const auto& x : settings.value("objectives", json::array()))
    objectives.push_back(search::parse_objective(x.get<std::string>()));
  if (objectives.empty()) objectives = {search::Objective::val_error, search::Objective::flash_bytes};

  const std::vector<Trial> trials = store->trials(info->id);
  const std::vector<int64_t> pareto = search::study_pareto(trials, objectives);
  const std::set<int64_t> on_front(pareto.begin(), pareto.end());

  // Classification or regression: from the metrics the trials carry.
  std::string task = "unknown";
  for (const auto& t : trials) {
    if (t.metrics.count("val_accuracy")) task = "classification";
    if (t.metrics.count("val_rmse")) task = "regression";
    if (task != "unknown") break;
  }

  json data;
  data["title"] = o.title.empty() ? "rnnas study " + info->name : o.title;
  data["generated"] = utc_now();
  data["version"] = RNNAS_VERSION;
  data["storage"] = store->location();
  data["study"] = {{"name", info->name}, {"created", info->created}, {"settings", settings}};
  data["task"] = task;
  json objs = json::array();
  for (auto x : objectives) objs.push_back(std::string(search::to_string(x)));
  data["objectives"] = objs;
  data["limits"] = {{"flash_bytes", k.flash}, {"ram_bytes", k.ram}, {"latency_ms", k.latency},
                    {"energy_uj", k.energy}, {"target_flash_bytes", k.target_flash}, {"target_ram_bytes", k.target_ram}};
  if (target)
    data["target"] = {{"name", target->name}, {"description", target->description}, {"core", target->core},
                      {"clock_mhz", target->clock_hz / 1e6}, {"flash_bytes", target->flash_bytes},
                      {"ram_bytes", target->ram_bytes}, {"calibrated", target->calibrated},
                      {"board", target->qemu_machine}};
  else
    data["target"] = {{"name", settings.value("target", std::string())}, {"note", target_note}};

  std::map<std::string, int> counts;
  json rows = json::array();
  for (const auto& t : trials) {
    json r = trial_row(t, k, info->created, on_front.count(t.number) > 0);
    ++counts[r["kind"].get<std::string>()];
    rows.push_back(std::move(r));
  }
  data["counts"] = counts;
  data["trials"] = std::move(rows);
  data["pareto"] = pareto;

  // Hypervolume scale: val_error by 1 (classification: chance and worse) or by the worst complete error
  // seen (regression); costs by their limit (the constraint, else the target's memory, else the worst seen).
  std::map<search::Objective, double> scale;
  // Progress series, each timed from its study's creation: one per compared study, else one per strategy
  // that proposed trials of the study.
  struct Series {
    std::string name;
    std::vector<Trial> trials;
    double created = 0;
  };
  std::vector<Series> series;
  for (const auto& name : o.compare) {
    const auto other = store->find_study(name);
    if (!other) throw Error(fmt::format("report: {}: no study named '{}' to compare", store->location(), name));
    series.push_back({name + " (" + other->settings.value("strategy", std::string("?")) + ")", store->trials(other->id),
                      other->created});
  }
  if (series.empty()) {
    std::map<std::string, std::vector<Trial>> by;
    for (const auto& t : trials) by[t.strategy.empty() ? "(resumed)" : t.strategy].push_back(t);
    for (auto& [name, v] : by) series.push_back({name, std::move(v), info->created});
  } else {
    series.insert(series.begin(),
                  {info->name + " (" + settings.value("strategy", std::string("?")) + ")", trials, info->created});
  }
  for (auto obj : objectives) {
    double worst = 0;
    for (const auto& one : series)
      for (const auto& t : one.trials)
        if (t.state == TrialState::complete) worst = std::max(worst, search::objective_value(t, obj));
    double s = worst > 0 ? worst * 1.1 : 1.0;
    if (obj == search::Objective::val_error && task == "classification") s = 1.0;
    if (obj == search::Objective::flash_bytes && (k.flash > 0 || k.target_flash > 0)) s = k.flash > 0 ? k.flash : k.target_flash;
    if (obj == search::Objective::ram_bytes && (k.ram > 0 || k.target_ram > 0)) s = k.ram > 0 ? k.ram : k.target_ram;
    if (obj == search::Objective::latency_ms && k.latency > 0) s = k.latency;
    if (obj == search::Objective::energy_uj && k.energy > 0) s = k.energy;
    scale[obj] = s;
  }
  json progress = json::array();
  for (const auto& one : series)
    for (auto& p : progress_series(one.name, one.trials, one.created, objectives, scale, k))
      progress.push_back(std::move(p));
  data["progress"] = progress;
  json hv_ref = json::object();
  for (const auto& [obj, s] : scale) hv_ref[std::string(search::to_string(obj))] = s;
  data["hypervolume_scale"] = hv_ref;

  int64_t chosen = o.trial;
  if (chosen < 0) {
    double best = 0;
    for (const auto& t : trials)
      if (kind_of(t, k) == "feasible" && t.metrics.count("val_error") && (chosen < 0 || t.metrics.at("val_error") < best)) {
        chosen = t.number;
        best = t.metrics.at("val_error");
      }
  } else if (chosen >= static_cast<int64_t>(trials.size())) {
    throw Error(fmt::format("report: study '{}' has no trial {} (it has {})", info->name, chosen, trials.size()));
  }
  data["chosen"] = chosen < 0 ? json(nullptr)
                              : trial_detail(trials[static_cast<size_t>(chosen)], *info, store->location(), o.storage,
                                             target, k, o.evaluate);
  return data;
}

bool available() {
  for (size_t i = 0; i < kReportFileCount; ++i)
    if (std::string_view(kReportFiles[i].name) == "vega.min.js") return std::string_view(kReportFiles[i].text).size() > 0;
  return false;
}

std::string render_html(const json& data) {
  std::map<std::string_view, std::string_view> files;
  for (size_t i = 0; i < kReportFileCount; ++i) files[kReportFiles[i].name] = kReportFiles[i].text;
  if (!available())
    throw Error("report: this rnnas was built without the plotting libraries (configure with -DRNNAS_REPORT=ON; "
                "the build fetches Vega-Lite from the npm registry)");
  // The data island: JSON with <, >, & and the JavaScript line separators escaped, so no string taken
  // from the data (a label called </script>, say) can end the script element or be parsed as HTML.
  std::string island;
  for (char c : data.dump(-1, ' ', false, json::error_handler_t::replace)) {
    switch (c) {
      case '<': island += "\\u003c"; break;
      case '>': island += "\\u003e"; break;
      case '&': island += "\\u0026"; break;
      default: island += c;
    }
  }
  for (const char* sep : {"\xe2\x80\xa8", "\xe2\x80\xa9"})
    for (size_t p = 0; (p = island.find(sep, p)) != std::string::npos;)
      island.replace(p, 3, sep[2] == '\xa8' ? "\\u2028" : "\\u2029");
  // A library must not close its own script element early.
  auto script = [](std::string_view js) {
    std::string s(js);
    for (size_t p = 0; (p = s.find("</script", p)) != std::string::npos; p += 2) s.replace(p, 2, "<\\/");
    return s;
  };
  std::string page(files.at("page.html"));
  const std::pair<const char*, std::string> slots[] = {
      {"/*@STYLE@*/", std::string(files.at("page.css"))},
      {"/*@VEGA@*/", script(files.at("vega.min.js"))},
      {"/*@VEGA_LITE@*/", script(files.at("vega-lite.min.js"))},
      {"/*@VEGA_EMBED@*/", script(files.at("vega-embed.min.js"))},
      {"/*@DATA@*/", island},
      {"/*@PAGE@*/", script(files.at("page.js"))},
  };
  size_t from = 0;  // slots in the template's order; inserted text is never searched again
  for (const auto& [slot, text] : slots) {
    const size_t p = page.find(slot, from);
    if (p == std::string::npos) throw Error(fmt::format("report: the page template lacks {}", slot));
    page.replace(p, std::string_view(slot).size(), text);
    from = p + text.size();
  }
  return page;
}

void write_report(const ReportOptions& o, const std::string& path) {
  const std::string html = render_html(report_data(o));
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("report: {}: cannot write", tmp));
    out.write(html.data(), static_cast<std::streamsize>(html.size()));
    out.close();
    if (!out) throw Error(fmt::format("report: {}: write failed", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("report: {}: cannot replace it ({})", path, ec.message()));
}

}  // namespace rnnas::report

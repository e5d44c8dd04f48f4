// Collects one experiment of bench/results/run.sh into docs/results/EXPERIMENT.csv (one row per deployed
// model) and EXPERIMENT.md (the table docs/RESULTS.md includes): the Pareto models of each search, as
// measured on the emulated board, and the hand-designed baselines deployed the same way.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "rnnas/core.h"
#include "rnnas/search.h"
#include "rnnas/study.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Row {
  std::string dataset, target, tier, source, arch, metric, note, strategy;
  double value = -1, host_value = -1;  // on-device int8 test metric; host int8 test metric (searches)
  double val_error = -1;                // the search's validation error (what it ranked on)
  double flash = -1, ram = -1, instructions = -1, latency = -1, energy = -1, minutes = -1;
  long trials = -1;
  int bit_exact = -1;
  bool chosen = false;
};

std::string num(double v, const char* f = "{:.6g}") { return v < 0 ? std::string() : fmt::format(fmt::runtime(f), v); }

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string md_escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
  return o;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw rnnas::Error(fmt::format("{}: cannot read", p.string()));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw rnnas::Error(fmt::format("{}: {}", p.string(), e.what()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Collect one experiment of bench/results/run.sh into CSV and Markdown"};
  std::string experiment, data, storage, baselines, csv_path, md_path;
  bool quick = false;
  app.add_option("--experiment", experiment)->required();
  app.add_option("--data", data, "The dataset spec (for the table)")->required();
  app.add_option("--storage", storage, "The experiment's study file")->required();
  app.add_option("--baselines", baselines, "Folder of the baselines' deployments");
  app.add_option("--csv", csv_path)->required();
  app.add_option("--md", md_path)->required();
  app.add_flag("--quick", quick, "Marks the tables as a pipeline check, not results");
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  try {
    std::vector<Row> rows;
    auto store = open_storage(storage);
    bool regression = false;
    for (const auto& st : store->list_studies()) {
      const auto trials = store->trials(st.id);
      std::vector<search::Objective> objectives;
      for (const auto& x : st.settings.value("objectives", json::array()))
        objectives.push_back(search::parse_objective(x.get<std::string>()));
      const auto front = search::study_pareto(trials, objectives);
      double last = st.created;
      long trained = 0;
      for (const auto& t : trials) {
        last = std::max(last, t.updated);
        trained += finished(t.state) && t.counted;  // rejections and released trials do not count
      }
      const std::string tier = st.name.substr(st.name.rfind('-') + 1);
      size_t first = rows.size();
      for (int64_t n : front) {
        const Trial& t = trials[static_cast<size_t>(n)];
        Row r;
        r.dataset = experiment;
        r.target = st.settings.value("target", std::string());
        r.tier = tier;
        r.source = "search";
        r.arch = t.arch;
        r.strategy = t.strategy;
        r.minutes = (last - st.created) / 60.0;
        r.trials = trained;
        regression = regression || t.metrics.count("val_rmse") > 0;
        const bool reg = t.metrics.count("val_rmse") > 0;
        r.metric = reg ? "test_rmse" : "test_accuracy";
        auto m = [&](const char* k) { return t.metrics.count(k) ? t.metrics.at(k) : -1.0; };
        r.val_error = m("val_error");
        if (t.metrics.count("test_error")) r.host_value = reg ? m("test_error") : 1 - m("test_error");
        if (t.metrics.count("measured_failed")) {
          r.note = "did not build within the budgets";
        } else if (t.metrics.count("device_error")) {
          r.value = reg ? m("device_error") : 1 - m("device_error");
          r.flash = m("measured_flash_bytes");
          r.ram = m("measured_ram_bytes");
          r.instructions = m("measured_instructions");
          r.latency = m("measured_latency_ms_est");
          r.energy = m("measured_energy_uj_est");
          r.bit_exact = m("device_bit_exact") > 0;
        } else {
          r.note = "not deployed";
        }
        rows.push_back(r);
      }
      // The chosen model of a search: the lowest validation error among its deployed front (the test split
      // never takes part in the choice; ties go to the smaller model, the front's order).
      long best = -1;
      for (size_t i = first; i < rows.size(); ++i)
        if (rows[i].value >= 0 && rows[i].val_error >= 0 &&
            (best < 0 || rows[i].val_error < rows[static_cast<size_t>(best)].val_error))
          best = static_cast<long>(i);
      if (best >= 0) rows[static_cast<size_t>(best)].chosen = true;
    }
    if (!baselines.empty() && fs::exists(baselines)) {
      std::vector<fs::path> sidecars;
      for (const auto& e : fs::directory_iterator(baselines)) {
        const std::string name = e.path().filename().string();
        if (name.size() > 10 && name.compare(name.size() - 10, 10, ".meta.json") == 0) sidecars.push_back(e.path());
      }
      std::sort(sidecars.begin(), sidecars.end());
      for (const auto& p : sidecars) {
        const json side = read_json(p);
        Row r;
        r.dataset = experiment;
        r.target = side.value("target", std::string());
        r.tier = side.value("tier", std::string());
        r.source = "baseline";
        r.arch = side.value("arch", std::string());
        r.strategy = "hand-designed";
        const std::string name = p.filename().string();
        const fs::path dir = p.parent_path() / name.substr(0, name.size() - 10);
        if (fs::exists(dir / "deploy.json")) {
          const json d = read_json(dir / "deploy.json");
          const bool reg = d.value("task", std::string()) == "regression";
          r.metric = reg ? "test_rmse" : "test_accuracy";
          r.value = reg ? d.value("device_rmse", -1.0) : d.value("device_accuracy", -1.0);
          r.flash = d.value("flash_bytes", -1.0);
          r.ram = d.value("ram_bytes", -1.0);
          r.instructions = d.value("instructions", -1.0);
          r.latency = d.value("latency_ms_est", -1.0);
          r.energy = d.value("energy_uj_est", -1.0);
          r.bit_exact = d.value("bit_exact", false);
        } else {
          r.metric = regression ? "test_rmse" : "test_accuracy";
          r.note = "does not fit the budgets (linker)";
        }
        rows.push_back(r);
      }
    }

    fs::create_directories(fs::path(csv_path).parent_path());
    std::ofstream csv(csv_path);
    csv << "dataset,target,budget_tier,source,chosen,architecture,metric,value,host_int8_value,val_error,flash_bytes,"
           "ram_bytes,instructions,est_latency_ms,est_energy_uj,bit_exact,search_minutes,trials,strategy,note\n";
    for (const auto& r : rows)
      csv << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.dataset, r.target,
                         r.tier, r.source, r.chosen ? 1 : 0, csv_quote(r.arch), r.metric, num(r.value),
                         num(r.host_value), num(r.val_error),
                         num(r.flash, "{:.0f}"), num(r.ram, "{:.0f}"), num(r.instructions, "{:.0f}"), num(r.latency),
                         num(r.energy), r.bit_exact < 0 ? "" : (r.bit_exact ? "1" : "0"), num(r.minutes, "{:.1f}"),
                         r.trials < 0 ? std::string() : std::to_string(r.trials), r.strategy, csv_quote(r.note));

    std::ofstream md(md_path);
    md << fmt::format("### {} (`{}`){}\n\n", experiment, data,
                      quick ? " — pipeline check with --quick budgets, not results" : "");
    md << "| target | tier | model | architecture | val | on-device int8 test | host int8 test | flash B | "
          "RAM B | instructions | est. ms | est. uJ | bit-exact | search |\n";
    md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : rows) {
      // An RMSE (optionally labelled) or an accuracy in percent, as the experiment's metric is.
      const bool rmse = r.metric == "test_rmse";
      auto shown = [&](double v, bool label) {
        return rmse ? (label ? "RMSE " : "") + fmt::format("{:.4g}", v) : fmt::format("{:.2f}%", 100 * v);
      };
      const std::string metric = r.value < 0 ? (r.note.empty() ? "-" : r.note) : shown(r.value, true);
      const std::string host = r.host_value < 0 ? "" : shown(r.host_value, false);
      const std::string model = r.source == "baseline" ? "baseline" : (r.chosen ? "**chosen**" : "front");
      const std::string val = r.val_error < 0 ? "" : shown(rmse ? r.val_error : 1 - r.val_error, true);
      const std::string search =
          r.source == "baseline" ? "" : fmt::format("{:.0f} min, {} trials, {}", r.minutes, r.trials, r.strategy);
      md << fmt::format("| {} | {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.target,
                        r.tier, model, md_escape(r.arch), val, metric, host, num(r.flash, "{:.0f}"), num(r.ram, "{:.0f}"),
                        num(r.instructions, "{:.0f}"), num(r.latency, "{:.3g}"), num(r.energy, "{:.3g}"),
                        r.bit_exact < 0 ? "" : (r.bit_exact ? "yes" : "NO"), search);
    }
    fmt::print("wrote {} and {} ({} rows)\n", csv_path, md_path, rows.size());
  } catch (const Error& e) {
    fmt::print(stderr, "results_collect: {}\n", e.what());
    return 1;
  }
  return 0;
}

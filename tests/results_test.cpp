// bench/results: the collector turns a measured search and deployed baselines into the CSV rows that
// docs/RESULTS.md is checked by (figures equal to the study's and deploy.json's, one chosen model per
// search, baselines that did not fit reported as such).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "rnnas/core.h"
#include "rnnas/search.h"
#include "rnnas/study.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace rnnas;

namespace {

// Splits one CSV line (quoted fields may hold commas and doubled quotes).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace

TEST(Results, CollectorReportsMeasuredSearchesAndBaselines) {
  const std::string dir = test_util::temp_dir() + "results/";
  fs::create_directories(dir + "baselines");
  const std::string data = "sine:classes=3,T=24,n=300";
  search::SearchOptions o;
  o.data = data;
  o.target = "samd21";
  o.space = "tiny";
  o.storage = dir + "exp.db";
  o.study = "samd21-small";
  o.constraints.max_flash_bytes = 16384;
  o.constraints.max_ram_bytes = 4096;
  o.trials = 4;
  o.jobs = 2;
  o.train.epochs = 2;
  o.measure = "pareto";
  o.measure_limit = 0;
  const search::SearchResult r = search::run_search(o);
  ASSERT_FALSE(r.pareto.empty());

  // A baseline deployed, and one whose deployment failed (no folder: the linker refused it).
  const std::string bin = RNNAS_BINARY;
  ASSERT_EQ(std::system(fmt::format("{} train --arch 'gru:8|head=last' --data '{}' --epochs 2 --quiet --save {}gru8.json "
                                    "> /dev/null 2>&1 && {} deploy --model {}gru8.json --target samd21 --max-flash 16KiB "
                                    "--max-ram 4KiB -o {}baselines/gru8-samd21-small > /dev/null 2>&1",
                                    bin, data, dir, bin, dir, dir)
                            .c_str()),
            0);
  std::ofstream(dir + "baselines/gru8-samd21-small.meta.json")
      << R"({"arch": "gru:8|head=last", "target": "samd21", "tier": "small"})";
  std::ofstream(dir + "baselines/lstm99-samd21-small.meta.json")
      << R"({"arch": "lstm:99|head=last", "target": "samd21", "tier": "small"})";

  ASSERT_EQ(std::system(fmt::format("{} --experiment sines --data '{}' --storage {}exp.db --baselines {}baselines "
                                    "--csv {}out/sines.csv --md {}out/sines.md > {}collect.log 2>&1",
                                    RNNAS_RESULTS_COLLECT, data, dir, dir, dir, dir, dir)
                            .c_str()),
            0);
  std::ifstream in(dir + "out/sines.csv");
  std::string line;
  std::getline(in, line);
  const auto header = csv_fields(line);
  auto col = [&](const char* name) {
    const auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<size_t>(it - header.begin());
  };
  for (const char* name : {"dataset", "target", "budget_tier", "architecture", "metric", "value", "flash_bytes",
                           "ram_bytes", "instructions", "est_latency_ms", "est_energy_uj", "search_minutes", "strategy"})
    col(name);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(csv_fields(line));
  ASSERT_EQ(rows.size(), r.pareto.size() + 2);
  int chosen = 0;
  double chosen_val = -1, best_val = 2;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), header.size());
    EXPECT_EQ(row[col("dataset")], "sines");
    EXPECT_EQ(row[col("target")], "samd21");
    EXPECT_EQ(row[col("budget_tier")], "small");
    EXPECT_EQ(row[col("metric")], "test_accuracy");
    chosen += row[col("chosen")] == "1";
    if (row[col("source")] == "search") {
      // The figures are the study's measurements of that trial.
      const Trial* t = nullptr;
      for (int64_t n : r.pareto)
        if (r.trials[static_cast<size_t>(n)].arch == row[col("architecture")]) t = &r.trials[static_cast<size_t>(n)];
      ASSERT_NE(t, nullptr) << row[col("architecture")];
      EXPECT_NEAR(std::stod(row[col("value")]), 1 - t->metrics.at("device_error"), 1e-5);
      EXPECT_EQ(std::stod(row[col("flash_bytes")]), t->metrics.at("measured_flash_bytes"));
      EXPECT_EQ(std::stod(row[col("ram_bytes")]), t->metrics.at("measured_ram_bytes"));
      EXPECT_NEAR(std::stod(row[col("instructions")]), t->metrics.at("measured_instructions"), 0.5);
      EXPECT_EQ(row[col("bit_exact")], "1");
      EXPECT_EQ(row[col("strategy")], "nsga2");
      // The choice is made on validation: the chosen row has the front's lowest validation error.
      EXPECT_NEAR(std::stod(row[col("val_error")]), t->metrics.at("val_error"), 1e-5);
      best_val = std::min(best_val, std::stod(row[col("val_error")]));
      if (row[col("chosen")] == "1") chosen_val = std::stod(row[col("val_error")]);
    } else if (row[col("architecture")] == "gru:8|head=last") {
      std::ifstream dj(dir + "baselines/gru8-samd21-small/deploy.json");
      const auto d = nlohmann::json::parse(dj);
      EXPECT_NEAR(std::stod(row[col("value")]), d["device_accuracy"].get<double>(), 1e-5);
      EXPECT_EQ(std::stod(row[col("flash_bytes")]), d["flash_bytes"].get<double>());
      EXPECT_EQ(row[col("strategy")], "hand-designed");
    } else {
      EXPECT_EQ(row[col("architecture")], "lstm:99|head=last");
      EXPECT_EQ(row[col("value")], "");
      EXPECT_NE(row[col("note")].find("does not fit"), std::string::npos);
    }
  }
  EXPECT_EQ(chosen, 1);  // one chosen model per search
  EXPECT_EQ(chosen_val, best_val);
  std::ifstream md(dir + "out/sines.md");
  const std::string table((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(table.find("| samd21 | small | **chosen** |"), std::string::npos) << table;
  EXPECT_NE(table.find("`gru:8\\|head=last`"), std::string::npos) << table;
}

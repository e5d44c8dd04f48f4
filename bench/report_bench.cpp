// The study report at scale: a study of N synthetic trials (complete, pruned and rejected, with curves and
// costs), the time to gather and render its page, against the peer measured in the same run: reading the
// same trials from the store and writing them as JSON (what `rnnas show --json` does).
//   BENCH report trials=5000 report_ms=... json_export_ms=... ratio=... html_bytes=...
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>

#include "rnnas/core.h"
#include "rnnas/report.h"
#include "rnnas/study.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnas report benchmark"};
  std::vector<int> sizes = {1000, 5000};
  std::string dir = "out/report-bench";
  app.add_option("--trials", sizes, "Study sizes")->capture_default_str();
  app.add_option("--dir", dir, "Where the study files go")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  try {
    std::filesystem::create_directories(dir);
    for (int n : sizes) {
      const std::string db = fmt::format("{}/report-{}.db", dir, n);
      for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(db + ext);
      {
        auto store = open_sqlite(db);
        const int64_t sid = store->create_study(
            "big", {{"data", "sine:classes=3"}, {"target", "nrf52840"}, {"strategy", "nsga2"},
                    {"objectives", {"val_error", "flash_bytes"}}, {"constraints", {{"max_flash_bytes", 32768.0}}}});
        Rng rng(1);
        for (int i = 0; i < n; ++i) {
          Trial t;
          t.arch = fmt::format("gru:{}|head=last", i + 1);
          t.strategy = i % 3 ? "nsga2" : "random";
          for (int e = 0; e < 20; ++e) t.curve.push_back(0.9 / (1 + e) + 0.05 * rng.uniform());
          const int64_t num = store->add_trial(sid, t, TrialState::running);
          const double flash = 2000 + 40000 * rng.uniform();
          const std::map<std::string, double> costs = {{"flash_bytes", flash}, {"ram_bytes", flash / 10},
                                                       {"latency_ms", flash / 1000}, {"energy_uj", flash / 100}};
          if (flash > 32768)
            store->finish(sid, num, TrialState::pruned, {}, costs, "rejected by the cost model: flash_bytes", 0);
          else
            store->finish(sid, num, i % 4 ? TrialState::complete : TrialState::pruned,
                          {{"val_error", 0.05 + 0.5 * rng.uniform() * 2000 / flash}}, costs, "", 1);
        }
      }
      // The peer: read every trial and write it as JSON.
      double t0 = now_seconds();
      {
        auto store = open_sqlite(db);
        nlohmann::json j = nlohmann::json::array();
        for (const auto& t : store->trials(store->find_study("big")->id))
          j.push_back({{"number", t.number}, {"arch", t.arch}, {"curve", t.curve}, {"metrics", t.metrics},
                       {"costs", t.costs}, {"reason", t.reason}});
        std::ofstream(dir + "/peer.json") << j.dump(2);
      }
      const double peer = now_seconds() - t0;
      report::ReportOptions o;
      o.storage = db;
      o.study = "big";
      const std::string html = fmt::format("{}/report-{}.html", dir, n);
      t0 = now_seconds();
      report::write_report(o, html);
      const double rep = now_seconds() - t0;
      fmt::print("BENCH report trials={} report_ms={:.1f} json_export_ms={:.1f} ratio={:.2f} html_bytes={}\n", n,
                 rep * 1e3, peer * 1e3, rep / peer, std::filesystem::file_size(html));
    }
  } catch (const Error& e) {
    fmt::print(stderr, "report_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}

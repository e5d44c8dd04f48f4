// int8 against float on the dataset baselines (docs/datasets.md): each model is trained as in the
// baseline table, quantised after training (calibration on its training part), and both are evaluated
// on the test split; the int8 figures come from the C runtime (runtime/rnnas_nn.c), the code the
// microcontroller runs. One line per dataset:
//   BENCH quant dataset=uci-har metric=accuracy float=... int8=... gap_pct=...
// gap_pct: accuracy drop in percentage points, or relative RMSE increase in percent.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/nn.h"
#include "rnnas/quant.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnas int8 quantisation benchmark"};
  std::string data_dir = std::getenv("RNNAS_DATA_DIR") ? std::getenv("RNNAS_DATA_DIR") : "../shared/data";
  std::string only;
  uint64_t seed = 1;
  int qat_from = 0;
  app.add_option("--data-dir", data_dir, "Folder with hapt/, fsdd/, cmapss/")->capture_default_str();
  app.add_option("--only", only, "One dataset: uci-har, fsdd or cmapss");
  app.add_option("--seed", seed, "Training seed")->capture_default_str();
  app.add_option("--qat-from", qat_from, "Quantisation-aware training from this epoch (0 = post-training only)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  struct Case {
    const char *name, *spec, *folder, *arch;
    int epochs;
    double lr;
    int patience;
  };
  const Case cases[] = {{"uci-har", "uci-har:", "hapt", "stride=2|gru:48|head=last", 40, 3e-3, 12},
                        {"fsdd", "fsdd:", "fsdd", "gru:64|head=last", 40, 1e-2, 10},
                        {"cmapss", "cmapss:", "cmapss", "gru:32|head=last", 40, 3e-3, 10}};
  int status = 0;
  for (const Case& c : cases) {
    if (!only.empty() && only != c.name) continue;
    const std::string folder = data_dir + "/" + c.folder;
    if (!std::filesystem::exists(folder)) {
      fmt::print("skip {}: {} absent\n", c.name, folder);
      continue;
    }
    try {
      const Dataset ds = load_dataset(c.spec + folder);
      nn::TrainOptions o;
      o.epochs = c.epochs;
      o.lr = c.lr;
      o.patience = c.patience;
      o.seed = seed;
      o.qat_from = qat_from;
      const double t0 = now_seconds();
      nn::TrainResult r = nn::train(Arch::parse(c.arch), ds, o);
      const double t1 = now_seconds();
      const quant::QModel q = quant::quantize(r.model, ds.train);
      const nn::Metrics fm = r.model.evaluate(ds.test), qm = q.evaluate(ds.test);
      const double t2 = now_seconds();
      const bool cls = ds.task == TaskKind::classification;
      const double f = cls ? fm.accuracy : fm.rmse, i8 = cls ? qm.accuracy : qm.rmse;
      const double gap = cls ? 100.0 * (f - i8) : 100.0 * (i8 - f) / f;
      fmt::print("BENCH quant dataset={} metric={} mode={} arch={} float={:.4f} int8={:.4f} gap_pct={:.2f} weights_bytes={} "
                 "arena_bytes={} train_s={:.1f} quant_eval_s={:.1f}\n",
                 c.name, cls ? "accuracy" : "rmse", qat_from > 0 ? fmt::format("qat{}", qat_from) : "ptq", c.arch, f, i8, gap, q.weight_bytes(), q.plan.arena_bytes, t1 - t0,
                 t2 - t1);
      std::fflush(stdout);
    } catch (const Error& e) {
      fmt::print(stderr, "{}: {}\n", c.name, e.what());
      status = 1;
    }
  }
  return status;
}

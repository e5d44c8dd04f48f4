// The reference figure of ../shared/docs/MEASURE.md: an int8 model with 28 steps x 28 features ->
// LSTM(20) -> dense(10) on the Cortex-M4 board (mps2-an386). TensorFlow Lite Micro + CMSIS-NN needed
// 570,445 instructions per inference, 78.6 KB of code and 4.0 KB arena + 1.3 KB stack. Goal: at most
// 230,000 instructions, 20 KB flash for model + runtime, 2.5 KB RAM including stack.
//   BENCH deploy_ref target=cortex-m4 weights=int8|int16 instructions=... flash_bytes=... ram_bytes=...
//         ref_instructions=570445 ratio=...
// The model is trained briefly on row-wise Fashion-MNIST (28 rows of 28 pixels) so that its int8 path
// sees realistic activations; the instruction count does not depend on the weights beyond saturation.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/deploy.h"
#include "rnnas/nn.h"
#include "rnnas/quant.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnas deployment against the TensorFlow Lite Micro reference (MEASURE.md)"};
  std::string data = "fashion-mnist:limit=3000", dir = "out/deploy-ref";
  size_t sequences = 20;
  app.add_option("--data", data, "28 x 28 sequences with 10 classes")->capture_default_str();
  app.add_option("--sequences", sequences, "Test sequences run on the board")->capture_default_str();
  app.add_option("--dir", dir, "Work directory")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  try {
    const Dataset ds = load_dataset(data);
    nn::TrainOptions o;
    o.epochs = 3;
    o.lr = 3e-3;
    nn::TrainResult r = nn::train(Arch::parse("lstm:20|head=last"), ds, o);
    const quant::QModel q = quant::quantize(r.model, ds.train);
    // Both weight layouts: int8 (the default) and 16-bit (rnnas deploy --weights16).
    for (const bool w16 : {false, true}) {
      deploy::DeployOptions d;
      d.dir = dir + (w16 ? "-w16" : "");
      d.limit = sequences;
      d.weights16 = w16;
      const deploy::DeployResult m = deploy::deploy(q, hw::load_target("nrf52840"), ds.test, d);
      fmt::print("{}", m.to_string());
      constexpr double kRefInstructions = 570445;
      fmt::print(
          "BENCH deploy_ref target=cortex-m4 weights={} instructions={:.0f} flash_bytes={} ram_bytes={} "
          "ref_instructions={:.0f} ratio={:.3f} goal_instructions=230000 goal_flash_bytes=20480 "
          "goal_ram_bytes=2560 bit_exact={}\n",
          w16 ? "int16" : "int8", m.instructions_mean, m.flash_model + m.flash_runtime, m.ram_bytes(),
          kRefInstructions, kRefInstructions / m.instructions_mean, m.bit_exact() ? 1 : 0);
    }
    return 0;
  } catch (const Error& e) {
    fmt::print(stderr, "deploy_ref: {}\n", e.what());
    return 1;
  }
}

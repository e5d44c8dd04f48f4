// Cost-model throughput: how many candidate archs per second the search can price before training any.
// Peer in the same run: building the float network of each arch just to count its parameters (the
// cheapest thing a search could do without a cost model). One line per figure:
//   BENCH cost_model evals_per_s=... peer=network_params peer_per_s=... ratio=... space=... target=...
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "rnnas/core.h"
#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/space.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnas cost-model benchmark"};
  double seconds = 1.0;
  std::string space_name = "default", target_name = "nrf52840";
  app.add_option("--seconds", seconds, "Time per measurement")->capture_default_str();
  app.add_option("--space", space_name, "Search-space preset")->capture_default_str();
  app.add_option("--target", target_name, "Target")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace rnnas;
  SearchSpace space = SearchSpace::preset(space_name);
  space.input_features = 9;
  const hw::Target target = hw::load_target(target_name);
  const hw::InputShape in{9, 128, 6};
  Rng rng(1);
  std::vector<Arch> archs;
  for (int i = 0; i < 4096; ++i) archs.push_back(space.sample(rng));

  // Runs `fn(arch)` over the archs, round robin, for at least `seconds`; returns calls per second.
  auto rate = [&](auto&& fn) {
    size_t calls = 0;
    double sink = 0;
    const double t0 = now_seconds();
    double t = t0;
    while (t - t0 < seconds) {
      for (int k = 0; k < 256; ++k) sink += fn(archs[calls++ % archs.size()]);
      t = now_seconds();
    }
    if (sink < 0) fmt::print("impossible\n");
    return static_cast<double>(calls) / (t - t0);
  };
  const double evals = rate([&](const Arch& a) { return hw::estimate(a, target, in).latency_ms; });
  const double peer = rate([&](const Arch& a) { return static_cast<double>(nn::Network<float>(a, 9, 6).num_params()); });
  fmt::print("BENCH cost_model evals_per_s={:.0f} peer=network_params peer_per_s={:.0f} ratio={:.1f} space={} "
             "target={} threads=1\n",
             evals, peer, evals / peer, space_name, target_name);
  const double detail = rate([&](const Arch& a) { return hw::estimate(a, target, in, hw::Quant::int8, true).latency_ms; });
  fmt::print("BENCH cost_model_detail evals_per_s={:.0f} ratio_to_fast={:.2f}\n", detail, detail / evals);
  return 0;
}

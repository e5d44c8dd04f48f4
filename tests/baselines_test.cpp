// Slow tier: the float GRU baselines of docs/datasets.md, trained as documented, must clear their floors.
// Run with RNNAS_SLOW=1 scripts/test.sh (release build only) or ctest -L slow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "rnnas/data.h"
#include "rnnas/nn.h"
#include "rnnas/space.h"
#include "test_util.h"

namespace rnnas {
namespace {
namespace fs = std::filesystem;

std::string shared(const std::string& sub) { return test_util::shared_data(sub); }

nn::TrainResult train_spec(const std::string& arch, const std::string& data, int epochs, double lr, int patience = 10) {
  nn::TrainOptions o;
  o.epochs = epochs;
  o.lr = lr;
  o.patience = patience;
  return nn::train(Arch::parse(arch), load_dataset(data), o);
}

TEST(Baselines, UciHarGruAbove90) {
  if (!fs::exists(shared("hapt"))) GTEST_SKIP() << shared("hapt") << " absent";
  const auto r = train_spec("stride=2|gru:48|head=last", "uci-har:" + shared("hapt"), 40, 3e-3, 12);
  EXPECT_GE(r.test.accuracy, 0.90) << r.test.to_string();
}

TEST(Baselines, FsddGruAbove90) {
  if (!fs::exists(shared("fsdd"))) GTEST_SKIP() << shared("fsdd") << " absent";
  const auto r = train_spec("gru:64|head=last", "fsdd:" + shared("fsdd"), 40, 1e-2);
  EXPECT_GE(r.test.accuracy, 0.90) << r.test.to_string();
}

TEST(Baselines, CmapssGruRmseBelow18) {
  if (!fs::exists(shared("cmapss"))) GTEST_SKIP() << shared("cmapss") << " absent";
  const auto r = train_spec("gru:32|head=last", "cmapss:" + shared("cmapss"), 40, 3e-3);
  EXPECT_LE(r.test.rmse, 18.0) << r.test.to_string();
  EXPECT_EQ(r.test.score_name, "phm08");
  EXPECT_EQ(r.test.count, 100u);
}

TEST(Baselines, FashionMnistRowWiseGruAbove85) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const auto r = train_spec("gru:128|head=last", "fashion-mnist", 15, 3e-3);
  EXPECT_GE(r.test.accuracy, 0.85) << r.test.to_string();
}

}  // namespace
}  // namespace rnnas

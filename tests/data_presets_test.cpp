// Presets on the real recordings in ../shared/data (skipped with a message when they are absent) and on
// the Debian package dataset-fashion-mnist.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "test_util.h"

namespace rnnas {
namespace {
namespace fs = std::filesystem;

std::string shared(const std::string& sub) { return test_util::shared_data(sub); }

#define NEED_SHARED(sub)                                                                     \
  if (!fs::exists(shared(sub))) GTEST_SKIP() << shared(sub) << " is absent: preset not tested"

using test_util::error_of;

std::set<std::string> groups_of(const Split& s) { return {s.group.begin(), s.group.end()}; }

void expect_disjoint(const Dataset& ds) {
  const auto tr = groups_of(ds.train), va = groups_of(ds.val), te = groups_of(ds.test);
  for (const auto& g : tr) EXPECT_TRUE(!va.count(g) && !te.count(g)) << ds.group_kind << " " << g;
  for (const auto& g : va) EXPECT_FALSE(te.count(g)) << ds.group_kind << " " << g;
}

TEST(Presets, UciHarFollowsTheVolunteerSplit) {
  NEED_SHARED("hapt");
  const Dataset ds = load_dataset("uci-har:" + shared("hapt"));
  EXPECT_EQ(ds.num_classes, 6);
  EXPECT_EQ(ds.num_features, 9);
  EXPECT_EQ(groups_of(ds.test), (std::set<std::string>{"2", "4", "9", "10", "12", "13", "18", "20", "24"}));
  EXPECT_EQ(groups_of(ds.train).size() + groups_of(ds.val).size(), 21u);
  expect_disjoint(ds);
  // The original UCI HAR has 10299 windows (7352 + 2947); the raw HAPT recordings give about the same.
  const size_t total = ds.train.size() + ds.val.size() + ds.test.size();
  EXPECT_NEAR(static_cast<double>(total), 10299, 400);
  EXPECT_EQ(ds.train.x[0].rows(), 128);
  // Same seed, same split; another seed, other validation volunteers.
  const Dataset again = load_dataset("uci-har:" + shared("hapt"));
  EXPECT_EQ(groups_of(again.val), groups_of(ds.val));
  EXPECT_NE(groups_of(load_dataset("uci-har:" + shared("hapt") + ",seed=5").val), groups_of(ds.val));
  const Dataset all12 = load_dataset("uci-har:" + shared("hapt") + ",classes=12,channels=raw6");
  EXPECT_EQ(all12.num_classes, 12);
  EXPECT_EQ(all12.num_features, 6);
  EXPECT_GT(all12.train.size(), ds.train.size());
}

TEST(Presets, CmapssFd001) {
  NEED_SHARED("cmapss");
  const Dataset ds = load_dataset("cmapss:" + shared("cmapss") + ",window=30");
  EXPECT_EQ(ds.task, TaskKind::regression);
  EXPECT_EQ(ds.score, "phm08");
  EXPECT_EQ(ds.test.size(), 100u);  // the last window of each test unit
  EXPECT_EQ(ds.num_features, 14);   // the 14 informative sensors of FD001
  EXPECT_EQ(groups_of(ds.train).size() + groups_of(ds.val).size(), 100u);
  expect_disjoint(ds);
  for (float y : ds.train.y) EXPECT_LE(y, 125.f);
  EXPECT_EQ(*std::max_element(ds.train.y.begin(), ds.train.y.end()), 125.f);
  EXPECT_EQ(*std::min_element(ds.train.y.begin(), ds.train.y.end()), 0.f);
  EXPECT_EQ(ds.test.y[0], 112.f);  // RUL_FD001.txt line 1
  EXPECT_EQ(error_of([] { load_dataset("cmapss:" + shared("cmapss") + ",fd=2"); }),
            shared("cmapss") + "/train_FD002.txt: cannot open file");
}

TEST(Presets, FsddIndexSplitAndSpeakerSplit) {
  NEED_SHARED("fsdd");
  const Dataset ds = load_dataset("fsdd:" + shared("fsdd"));
  EXPECT_EQ(ds.test.size(), 300u);  // indices 0-4 of 6 speakers x 10 digits
  EXPECT_EQ(ds.train.size() + ds.val.size(), 2700u);
  EXPECT_EQ(ds.num_features, 13);
  const Dataset sp = load_dataset("fsdd:" + shared("fsdd") + ",split=speaker,test_speakers=theo;jackson");
  EXPECT_EQ(groups_of(sp.test), (std::set<std::string>{"jackson", "theo"}));
  expect_disjoint(sp);
}

TEST(Presets, SpeechCommandsHashSplitKeepsSpeakersApart) {
  NEED_SHARED("speech_commands_sample");
  const Dataset ds = load_dataset("speech-commands:" + shared("speech_commands_sample") + ",words=yes;no;up;down,unknown=1");
  EXPECT_EQ(ds.class_names.back(), "_unknown_");
  EXPECT_EQ(ds.num_classes, 5);
  EXPECT_EQ(ds.train.size() + ds.val.size() + ds.test.size(), 300u);
  expect_disjoint(ds);
  EXPECT_EQ(ds.train.x[0].rows(), 49);  // 1 s, 40 ms window, 20 ms hop
  EXPECT_EQ(error_of([] { load_dataset("speech-commands:" + shared("speech_commands_sample") + ",words=yes;maybe"); }),
            "speech-commands: no folder for word 'maybe' in " + shared("speech_commands_sample"));
}

TEST(Presets, FashionMnistRowWise) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/deps.sh installs it)";
  const Dataset ds = load_dataset("fashion-mnist:limit=2000");
  EXPECT_EQ(ds.num_features, 28);
  EXPECT_EQ(ds.train.x[0].rows(), 28);
  EXPECT_EQ(ds.test.size(), 2000u);
  EXPECT_EQ(ds.train.size() + ds.val.size(), 2000u);
  EXPECT_EQ(ds.class_names[9], "Ankle boot");
  EXPECT_LE(ds.train.x[0].maxCoeff(), 1.f);
}

TEST(Presets, MissingFoldersAreClearErrors) {
  EXPECT_EQ(error_of([] { load_dataset("uci-har:/nonexistent"); }),
            "uci-har: /nonexistent is not a directory (uci-har:../shared/data/hapt)");
  EXPECT_EQ(error_of([] { load_dataset("fsdd"); }), "data 'fsdd': needs a path, as in fsdd:../shared/data/fsdd");
  EXPECT_EQ(error_of([] { load_dataset("ts:a.ts,b.ts,c.ts"); }), "data 'ts:a.ts,b.ts,c.ts': 3 paths given, this kind takes at most 2");
}

}  // namespace
}  // namespace rnnas

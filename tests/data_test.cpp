#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "test_util.h"

namespace rnnas {
namespace {
namespace fs = std::filesystem;

class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(rnnas::test_util::temp_dir()) /
           ("rnnas_csv_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }
  static std::string error_of(const std::function<void()>& f) { return test_util::error_of(f); }
  fs::path dir_;
};

TEST_F(CsvTest, ReadsHeaderAndNumbers) {
  const auto p = write("a.csv", "x,y\n1,2\n3.5,-4e-1\n\n");
  const CsvTable t = read_csv(p);
  ASSERT_EQ(t.header.size(), 2u);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_DOUBLE_EQ(t.rows[1][1], -0.4);
  EXPECT_EQ(t.line[1], 3);
}

TEST_F(CsvTest, MalformedFilesNameFileLineAndColumn) {
  const auto ragged = write("ragged.csv", "a,b,c\n1,2,3\n4,5\n");
  EXPECT_EQ(error_of([&] { read_csv(ragged); }), ragged + ":3: expected 3 columns, found 2 (ragged row)");
  const auto word = write("word.csv", "a,b\n1,2\n3,hello\n");
  EXPECT_EQ(error_of([&] { read_csv(word); }), word + ":3: column 2 ('b') holds 'hello', which is not a number");
  const auto nan = write("nan.csv", "1,2\n3,NaN\n");
  EXPECT_EQ(error_of([&] { read_csv(nan); }), nan + ":2: column 2 holds 'NaN', which is not a finite number");
  const auto inf = write("inf.csv", "a\n-inf\n");
  EXPECT_EQ(error_of([&] { read_csv(inf); }), inf + ":2: column 1 ('a') holds '-inf', which is not a finite number");
  const auto huge = write("huge.csv", "a\n1e999\n");
  EXPECT_EQ(error_of([&] { read_csv(huge); }), huge + ":2: column 1 ('a') holds '1e999', which is not a finite number");
  const auto empty_cell = write("cell.csv", "a,b\n1,\n");
  EXPECT_EQ(error_of([&] { read_csv(empty_cell); }), empty_cell + ":2: column 2 ('b') is empty, expected a number");
  const auto empty = write("empty.csv", "");
  EXPECT_EQ(error_of([&] { read_csv(empty); }), empty + ": empty file");
  const auto blank = write("blank.csv", "\n\n  \n");
  EXPECT_EQ(error_of([&] { read_csv(blank); }), blank + ": empty file");
  const auto header_only = write("header.csv", "a,b\n");
  EXPECT_EQ(error_of([&] { read_csv(header_only); }), header_only + ": has a header but no data rows");
  const auto quote = write("quote.csv", "a,b\n1,\"2\n");
  EXPECT_EQ(error_of([&] { read_csv(quote); }), quote + ":2: unclosed quote");
  EXPECT_EQ(error_of([&] { read_csv((dir_ / "missing.csv").string()); }),
            (dir_ / "missing.csv").string() + ": cannot open file");
}

TEST_F(CsvTest, WindowsFromALongRecording) {
  // 3 features, a text label and a group column; 40 rows in two recordings.
  std::string content = "ax,ay,az,activity,rec\n";
  for (int r = 0; r < 40; ++r)
    content += fmt::format("{},{},{},{},{}\n", r, r * 2, -r, r % 20 < 10 ? "walk" : "sit", r < 20 ? "A" : "B");
  const auto p = write("rec.csv", content);
  CsvWindowOptions o;
  o.path = p;
  o.window = 8;
  o.stride = 4;
  o.label = "activity";
  o.group = "rec";
  o.val = 0;
  o.test = 0;
  const Dataset ds = load_csv_windows(o);
  EXPECT_EQ(ds.num_features, 3);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"sit", "walk"}));
  // Each 20-row group yields windows at 0, 4, 8, 12 (start + 8 <= 20): 4 per group.
  EXPECT_EQ(ds.train.size(), 8u);
  EXPECT_EQ(ds.train.x[0].rows(), 8);
  // Pure labeling drops windows that straddle walk -> sit (starts 4 and 8 in each group).
  o.labeling = "pure";
  EXPECT_EQ(load_csv_windows(o).train.size(), 4u);
  // Regression: the target is the last row's value.
  CsvWindowOptions r = o;
  r.label.clear();
  r.targets = {"az"};
  r.drop = {"activity"};
  const Dataset reg = load_csv_windows(r);
  EXPECT_EQ(reg.task, TaskKind::regression);
  EXPECT_EQ(reg.num_features, 2);
  for (size_t i = 0; i < reg.train.size(); ++i) EXPECT_FLOAT_EQ(reg.train.y[i], -reg.train.x[i](7, 0));
  // Errors name the missing column.
  CsvWindowOptions bad = o;
  bad.label = "activty";
  EXPECT_EQ(error_of([&] { load_csv_windows(bad); }), p + ": no column named 'activty' in the header");
}

TEST_F(CsvTest, SequencesFromAManifestAndFromClassDirectories) {
  write("seq/a.csv", "1,2\n3,4\n5,6\n");
  write("seq/b.csv", "1,2\n3,4\n");
  write("seq/c.csv", "7,8\n");
  const auto m = write("seq/manifest.csv", "file,label,split\na.csv,up,train\nb.csv,down,train\nc.csv,up,test\n");
  const Dataset ds = load_csv_sequences({m, 0.15, 0.15, 1});
  EXPECT_EQ(ds.train.size(), 2u);
  EXPECT_EQ(ds.test.size(), 1u);
  EXPECT_EQ(ds.train.x[0].rows(), 3);
  EXPECT_EQ(ds.train.x[1].rows(), 2);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"down", "up"}));
  EXPECT_EQ(ds.train.label, (std::vector<int>{1, 0}));

  const auto reg = write("seq/targets.csv", "file,target_rul,target_health\na.csv,10,0.5\nb.csv,3,0.1\n");
  const Dataset r = load_csv_sequences({reg, 0, 0, 1});
  EXPECT_EQ(r.num_outputs, 2);
  EXPECT_EQ(r.train.y.size(), 4u);

  const auto missing = write("seq/missing.csv", "file,label\nnope.csv,up\n");
  EXPECT_NE(error_of([&] { load_csv_sequences({missing, 0, 0, 1}); }).find(missing + ":2: column 'file' names"),
            std::string::npos);
  write("seq/wide.csv", "1,2,3\n");
  const auto mixed = write("seq/mixed.csv", "file,label\na.csv,up\nwide.csv,down\n");
  EXPECT_NE(error_of([&] { load_csv_sequences({mixed, 0, 0, 1}); }).find("wide.csv: has 3 columns, but earlier"),
            std::string::npos);

  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 5; ++i) write(fmt::format("dirs/class{}/s{}.csv", k, i), fmt::format("{},1\n{},2\n", k, i));
  const Dataset d = load_csv_sequences({(dir_ / "dirs").string(), 0.2, 0.2, 3});
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.train.size() + d.val.size() + d.test.size(), 10u);
  EXPECT_EQ(d.test.size(), 2u);
}

TEST_F(CsvTest, DataSpecsRejectUnknownKeysAndKinds) {
  EXPECT_EQ(error_of([] { load_dataset("adding:T=50,lenght=3"); }), "data 'adding:T=50,lenght=3': unknown option 'lenght'");
  EXPECT_EQ(error_of([] { load_dataset("mnist:x=1"); }),
            "data 'mnist:x=1': unknown kind 'mnist' (expected adding, sine, memory, chirp, motion, csv, npy, npz, ts, "
            "idx, wav, uci-har, cmapss, fsdd, speech-commands or fashion-mnist)");
  EXPECT_EQ(error_of([] { load_dataset("sine:T=abc"); }), "data 'sine:T=abc': T='abc' is not an integer");
  EXPECT_EQ(error_of([] { load_dataset("csv:"); }), "data 'csv:': csv needs a path, as in csv:data/run1.csv");
}

TEST(Synthetic, SeededAndWellFormed) {
  AddingOptions o;
  o.train = 50;
  o.val = 10;
  o.test = 10;
  const Dataset a = make_adding(o), b = make_adding(o);
  ASSERT_EQ(a.train.size(), 50u);
  for (size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_TRUE(a.train.x[i].isApprox(b.train.x[i], 0));
    EXPECT_NEAR(a.train.x[i].col(1).sum(), 2.0, 0);  // exactly two markers
    const float expected = a.train.x[i].col(0).dot(a.train.x[i].col(1));
    EXPECT_FLOAT_EQ(a.train.y[i], expected);
  }
  o.seed = 2;
  EXPECT_FALSE(make_adding(o).train.x[0].isApprox(a.train.x[0]));
  o.min_steps = 10;
  const Dataset v = make_adding(o);
  bool varied = false;
  for (const auto& s : v.train.x) {
    EXPECT_GE(s.rows(), 10);
    EXPECT_LE(s.rows(), 50);
    varied |= s.rows() != v.train.x[0].rows();
  }
  EXPECT_TRUE(varied);
  const Dataset s = load_dataset("sine:classes=5,T=32,channels=2,n=200,seed=4");
  EXPECT_EQ(s.num_classes, 5);
  EXPECT_EQ(s.num_features, 2);
  EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), 200u);
}

TEST(Normalizer, FittedOnTrainingPartOnly) {
  Split train, test;
  Sequence a(2, 2), b(2, 2);
  a << 0, 10, 2, 10;   // feature 0 mean 1, sd 1; feature 1 constant
  b << 100, 3, 100, 3;
  train.x = {a};
  test.x = {b};
  const Normalizer n = Normalizer::fit(train);
  EXPECT_FLOAT_EQ(n.mean[0], 1.f);
  EXPECT_FLOAT_EQ(n.scale[0], 1.f);
  EXPECT_FLOAT_EQ(n.scale[1], 1.f);  // constant feature: scale floored to 1, maps to 0
  n.apply(train);
  n.apply(test);
  EXPECT_FLOAT_EQ(train.x[0](0, 0), -1.f);
  EXPECT_FLOAT_EQ(train.x[0](0, 1), 0.f);
  EXPECT_FLOAT_EQ(test.x[0](0, 0), 99.f);  // test statistics never leak into the fit
}

}  // namespace
}  // namespace rnnas

// Loaders for every format, on small fixtures written here, and their errors on bad input.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <zip.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <set>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "test_util.h"

extern "C" {
#include "rnnas_frontend.h"
}

namespace rnnas {
namespace {
namespace fs = std::filesystem;

using test_util::error_of;

class Fixture : public ::testing::Test {
 public:
  void SetUp() override {
    dir_ = fs::path(rnnas::test_util::temp_dir()) /
           ("rnnas_fmt_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, std::string_view content) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  fs::path dir_;
};

// ---------------------------------------------------------------- splits
TEST(Splits, GroupsNeverStraddleAndSeedsRepeat) {
  std::vector<std::string> groups;
  std::vector<int> strata;
  for (int g = 0; g < 30; ++g)
    for (int k = 0; k < 10 + g % 7; ++k) {
      groups.push_back(fmt::format("g{}", g));
      strata.push_back(k % 3);
    }
  const auto a = assign_parts(groups.size(), strata, groups, 0.2, 0.2, 7);
  EXPECT_EQ(a, assign_parts(groups.size(), strata, groups, 0.2, 0.2, 7));
  EXPECT_NE(a, assign_parts(groups.size(), strata, groups, 0.2, 0.2, 8));
  std::map<std::string, std::set<int>> parts_of;
  int count[3] = {0, 0, 0};
  for (size_t i = 0; i < groups.size(); ++i) {
    parts_of[groups[i]].insert(a[i]);
    ++count[a[i]];
  }
  for (const auto& [g, p] : parts_of) EXPECT_EQ(p.size(), 1u) << g;
  const double n = static_cast<double>(groups.size());
  EXPECT_NEAR(count[1] / n, 0.2, 0.05);
  EXPECT_NEAR(count[2] / n, 0.2, 0.05);
  // Too few groups for three parts.
  EXPECT_EQ(error_of([] { assign_parts(2, {}, {"a", "b"}, 0.2, 0.2, 1); }),
            "split: 2 groups cannot fill 3 parts without a group on two sides");
  // Three groups: one each.
  const auto three = assign_parts(3, {}, {"a", "b", "c"}, 0.1, 0.1, 1);
  EXPECT_EQ(std::set<int>(three.begin(), three.end()), (std::set<int>{0, 1, 2}));
}

TEST(Splits, StratifiedKeepsClassProportions) {
  std::vector<int> strata;
  for (int i = 0; i < 1000; ++i) strata.push_back(i < 900 ? 0 : 1);  // 10% minority
  const auto a = assign_parts(strata.size(), strata, {}, 0.1, 0.2, 3);
  int minority[3] = {0, 0, 0}, total[3] = {0, 0, 0};
  for (size_t i = 0; i < a.size(); ++i) {
    ++total[a[i]];
    minority[a[i]] += strata[i];
  }
  EXPECT_EQ(total[2], 200);
  EXPECT_EQ(minority[2], 20);
  EXPECT_EQ(minority[1], 10);
  EXPECT_EQ(error_of([] { assign_parts(10, {}, {}, 0.6, 0.5, 1); }),
            "split: split fractions val=0.6 test=0.5 must be >= 0 and sum below 1");
}

TEST(Splits, CrossValidationFoldsHoldOutEveryTrainingGroupOnce) {
  MotionOptions mo;
  mo.subjects = 20;
  mo.per_subject = 6;
  mo.steps = 16;
  const Dataset ds = make_motion(mo);
  auto groups = [](const Split& s) { return std::set<std::string>(s.group.begin(), s.group.end()); };
  const Dataset f0 = cv_fold(ds, 0, 4, 3);
  EXPECT_EQ(f0.train.size(), ds.train.size());
  EXPECT_EQ(groups(f0.val), groups(ds.val));
  std::set<std::string> held;
  size_t held_count = 0;
  for (int k = 1; k < 4; ++k) {
    const Dataset f = cv_fold(ds, k, 4, 3);
    EXPECT_EQ(f.train.size() + f.val.size(), ds.train.size() + ds.val.size());
    EXPECT_EQ(f.test.size(), ds.test.size());
    const auto tr = groups(f.train), va = groups(f.val);
    for (const auto& g : va) {
      EXPECT_FALSE(tr.count(g)) << "fold " << k << ": " << g << " on both sides";
      EXPECT_TRUE(groups(ds.train).count(g)) << g;
      EXPECT_TRUE(held.insert(g).second) << g << " held out twice";
    }
    for (const auto& g : groups(ds.val)) EXPECT_TRUE(tr.count(g)) << "fold " << k << " trains without " << g;
    held_count += f.val.size();
    EXPECT_NE(f.split_info.find(fmt::format("cross-validation fold {} of 4", k)), std::string::npos);
    EXPECT_EQ(f.val.x[0](0, 0), cv_fold(ds, k, 4, 3).val.x[0](0, 0));  // seeded
  }
  EXPECT_EQ(held, groups(ds.train));
  EXPECT_EQ(held_count, ds.train.size());
  EXPECT_NE(groups(cv_fold(ds, 1, 4, 3).val), groups(cv_fold(ds, 1, 4, 4).val));
  EXPECT_NE(error_of([&] { cv_fold(ds, 1, 40, 1); }).find("cannot fill 39 more cross-validation folds"),
            std::string::npos);
  EXPECT_NE(error_of([&] { cv_fold(ds, 4, 4, 1); }).find("fold 4 of 4"), std::string::npos);
  Dataset no_val = ds;
  no_val.val = Split{};
  EXPECT_NE(error_of([&] { cv_fold(no_val, 1, 3, 1); }).find("needs a validation part"), std::string::npos);
}

TEST_F(Fixture, CsvWindowSplitsAreLeakFree) {
  std::string content = "a,b,label,subject\n";
  for (int s = 0; s < 6; ++s)
    for (int r = 0; r < 50; ++r) content += fmt::format("{},{},{},p{}\n", r, s, r % 2 ? "x" : "y", s);
  const auto p = write("rec.csv", content);
  CsvWindowOptions o;
  o.path = p;
  o.window = 10;
  o.stride = 5;
  o.label = "label";
  o.group = "subject";
  o.val = 0.2;
  o.test = 0.2;
  const Dataset by_group = load_csv_windows(o);
  std::set<std::string> seen[3];
  const Split* parts[3] = {&by_group.train, &by_group.val, &by_group.test};
  for (int k = 0; k < 3; ++k) seen[k].insert(parts[k]->group.begin(), parts[k]->group.end());
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (const auto& g : seen[a]) EXPECT_EQ(seen[b].count(g), 0u) << g;
  EXPECT_NE(inspect(by_group).find("no subject is in two parts"), std::string::npos);
  // Without groups: chronological blocks, and no row in two parts (column a holds the row within a subject,
  // b the subject, so (a, b) identifies a row).
  o.group.clear();
  EXPECT_EQ(error_of([&] { load_csv_windows(o); }), p + ":2: column 4 ('subject') holds 'p0', which is not a number");
  o.drop = {"subject"};
  const Dataset by_time = load_csv_windows(o);
  std::set<std::pair<float, float>> rows[3];
  const Split* tparts[3] = {&by_time.train, &by_time.val, &by_time.test};
  for (int k = 0; k < 3; ++k)
    for (const auto& x : tparts[k]->x)
      for (long t = 0; t < x.rows(); ++t) rows[k].insert({x(t, 0), x(t, 1)});
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (const auto& r : rows[a]) EXPECT_EQ(rows[b].count(r), 0u);
  EXPECT_GT(by_time.val.size(), 0u);
  EXPECT_GT(by_time.test.size(), 0u);
  // A recording shorter than one window.
  o.window = 400;
  EXPECT_EQ(error_of([&] { load_csv_windows(o); }), p + ": no complete window of 400 rows (the recording is too short)");
}

// ---------------------------------------------------------------- NumPy
std::string npy(const std::string& descr, const std::vector<long>& shape, const std::string& data, bool fortran = false,
                int version = 1) {
  std::string sh = "(";
  for (long d : shape) sh += std::to_string(d) + ",";
  sh += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}", descr,
                                   fortran ? "True" : "False", sh);
  const size_t pre = version == 1 ? 10 : 12;
  while ((pre + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  const size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (version > 1) out += std::string(2, '\0');
  return out + header + data;
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST_F(Fixture, NpyClassificationRegressionAndLayouts) {
  // 6 sequences, T=4, F=2; x[n, t, f] = n + t / 10 + f / 100.
  std::vector<float> x;
  for (int n = 0; n < 6; ++n)
    for (int t = 0; t < 4; ++t)
      for (int f = 0; f < 2; ++f) x.push_back(static_cast<float>(n + t / 10.0 + f / 100.0));
  const auto xp = write("x.npy", npy("<f4", {6, 4, 2}, bytes_of(x)));
  const auto yp = write("y.npy", npy("<i8", {6}, bytes_of(std::vector<int64_t>{0, 1, 2, 0, 1, 2})));
  ArrayDataOptions o;
  o.path = xp;
  o.labels = yp;
  o.val = 0;
  o.test = 0.5;
  const Dataset ds = load_arrays(o);
  EXPECT_EQ(ds.task, TaskKind::classification);
  EXPECT_EQ(ds.num_classes, 3);
  EXPECT_EQ(ds.num_features, 2);
  EXPECT_EQ(ds.train.size() + ds.test.size(), 6u);
  EXPECT_EQ(ds.test.size(), 3u);  // stratified: one of each class
  // The same through the spec, as regression (float targets), with per-sequence lengths.
  const auto yf = write("yf.npy", npy("<f8", {6}, bytes_of(std::vector<double>{0.5, 1, 2, 3, 4, 5})));
  const auto lp = write("len.npy", npy("<i4", {6}, bytes_of(std::vector<int32_t>{4, 3, 2, 1, 4, 4})));
  const Dataset reg = load_dataset(fmt::format("npy:{},y={},lengths={},val=0,test=0", xp, yf, lp));
  EXPECT_EQ(reg.task, TaskKind::regression);
  std::multiset<long> lengths;
  for (const auto& s : reg.train.x) lengths.insert(s.rows());
  EXPECT_EQ(lengths, (std::multiset<long>{1, 2, 3, 4, 4, 4}));
  // Big-endian and Fortran order give the same values.
  std::vector<double> col(6 * 4 * 2);
  for (int n = 0; n < 6; ++n)
    for (int t = 0; t < 4; ++t)
      for (int f = 0; f < 2; ++f) col[n + 6 * (t + 4 * f)] = n + t / 10.0 + f / 100.0;
  std::string be = bytes_of(col);
  for (size_t i = 0; i < be.size(); i += 8) std::reverse(be.begin() + static_cast<long>(i), be.begin() + static_cast<long>(i) + 8);
  const NpyArray a = parse_npy(npy(">f8", {6, 4, 2}, be, true, 2), "be.npy");
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(a.data[i], x[i], 1e-6);
}

TEST_F(Fixture, NpzArchivesWithOwnSplit) {
  const std::string path = (dir_ / "d.npz").string();
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  std::vector<std::string> keep;  // zip_source_buffer does not copy
  auto add = [&](const std::string& name, std::string content) {
    keep.push_back(std::move(content));
    zip_source_t* s = zip_source_buffer(z, keep.back().data(), keep.back().size(), 0);
    ASSERT_GE(zip_file_add(z, (name + ".npy").c_str(), s, ZIP_FL_OVERWRITE), 0);
  };
  keep.reserve(8);
  std::vector<float> x(10 * 5 * 3, 0.25f), xt(4 * 5 * 3, -0.5f);
  add("x_train", npy("<f4", {10, 5, 3}, bytes_of(x)));
  add("y_train", npy("|u1", {10}, bytes_of(std::vector<uint8_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1})));
  add("x_test", npy("<f4", {4, 5, 3}, bytes_of(xt)));
  add("y_test", npy("|u1", {4}, bytes_of(std::vector<uint8_t>{1, 0, 1, 0})));
  ASSERT_EQ(zip_close(z), 0);
  const Dataset ds = load_dataset(fmt::format("npz:{},val=0.2", path));
  EXPECT_EQ(ds.test.size(), 4u);
  EXPECT_EQ(ds.train.size(), 8u);
  EXPECT_EQ(ds.val.size(), 2u);
  EXPECT_FLOAT_EQ(ds.test.x[0](0, 0), -0.5f);
  EXPECT_NE(ds.split_info.find("the archive's own train/test parts"), std::string::npos);
  const auto bad = write("bad.npz", "PK\x03\x04 this is not really a zip");
  EXPECT_NE(error_of([&] { load_dataset("npz:" + bad); }).find(bad + ": cannot read as .npz (zip)"), std::string::npos);
}

TEST_F(Fixture, NpyBadInput) {
  const std::string good = npy("<f4", {2, 3, 1}, bytes_of(std::vector<float>(6, 1.f)));
  EXPECT_EQ(error_of([&] { parse_npy("", "e.npy"); }), "e.npy: not a .npy file (no \\x93NUMPY magic)");
  EXPECT_EQ(error_of([&] { parse_npy("hello world, not numpy", "t.npy"); }), "t.npy: not a .npy file (no \\x93NUMPY magic)");
  EXPECT_EQ(error_of([&] { parse_npy(good.substr(0, good.size() - 5), "cut.npy"); }),
            "cut.npy: truncated: shape (2,3,1,) of <f4 needs 24 bytes of data, the file has 19");
  EXPECT_EQ(error_of([&] { parse_npy(good.substr(0, 30), "head.npy"); }), "head.npy: truncated .npy header");
  EXPECT_EQ(error_of([&] { parse_npy(npy("<c8", {2}, std::string(16, '\0')), "c.npy"); }),
            "c.npy: unsupported dtype '<c8' (expected bool, int8-64, uint8-64 or float16/32/64)");
  EXPECT_EQ(error_of([&] { parse_npy(npy("<f4", {-2}, ""), "neg.npy"); }),
            "neg.npy: shape '(-2,)' holds '-2', not a dimension");
  // NaN in X, labels of the wrong length, and a 1-D X.
  std::vector<float> x(6, 1.f);
  x[4] = std::nanf("");
  const auto xp = write("x.npy", npy("<f4", {2, 3, 1}, bytes_of(x)));
  const auto yp = write("y.npy", npy("<i4", {2}, bytes_of(std::vector<int32_t>{0, 1})));
  EXPECT_EQ(error_of([&] { load_dataset(fmt::format("npy:{},y={}", xp, yp)); }),
            xp + ": " + xp + "[1, 1, 0] is nan, expected a finite number");
  const auto x_ok = write("xok.npy", good);
  const auto y3 = write("y3.npy", npy("<i4", {3}, bytes_of(std::vector<int32_t>{0, 1, 1})));
  EXPECT_EQ(error_of([&] { load_dataset(fmt::format("npy:{},y={}", x_ok, y3)); }),
            x_ok + ": " + y3 + " must be [N] or [N, O] with N = 2 (as " + x_ok + ")");
  const auto x1 = write("x1.npy", npy("<f4", {6}, bytes_of(std::vector<float>(6, 1.f))));
  EXPECT_EQ(error_of([&] { load_dataset(fmt::format("npy:{},y={}", x1, yp)); }),
            x1 + ": " + x1 + " has 1 dimensions, expected [N, T, F] or [N, T]");
  EXPECT_EQ(error_of([&] { load_dataset("npy:" + x_ok); }), x_ok + ": a .npy of sequences needs y=<labels.npy>");
  EXPECT_EQ(error_of([&] { load_dataset(fmt::format("npy:{},y={}", (dir_ / "none.npy").string(), yp)); }),
            (dir_ / "none.npy").string() + ": cannot open file");
}

// ---------------------------------------------------------------- UCR/UEA .ts
constexpr const char* kTsUni = R"(# A comment
@problemName Toy
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true up down
@data
1,2,3,4:up
4,3,2,1:down
1.5,2.5,3.5,4.5:up
5,4,3,2:down
)";

TEST_F(Fixture, TsUnivariateMultivariateUnequalMissingAndRegression) {
  const auto tr = write("Toy_TRAIN.ts", kTsUni);
  const auto te = write("Toy_TEST.ts", kTsUni);
  const Dataset ds = load_dataset(fmt::format("ts:{},{},val=0", tr, te));
  EXPECT_EQ(ds.name, "Toy");
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"up", "down"}));
  EXPECT_EQ(ds.train.size(), 4u);
  EXPECT_EQ(ds.test.size(), 4u);
  EXPECT_EQ(ds.train.label[1], 1);
  EXPECT_FLOAT_EQ(ds.train.x[2](3, 0), 4.5f);
  // Multivariate, unequal lengths, missing values (interpolated inside, held at the ends).
  const auto mv = write("mv.ts",
                        "@problemName MV\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n"
                        "@equalLength false\n@classLabel true a b\n@data\n"
                        "1,?,3,?:10,20,30,40:a\n?,2:5,?:b\n1,2,3:4,5,6:a\n7,8:9,10:b\n");
  TsOptions o;
  o.train = mv;
  o.val = 0;
  o.test_fraction = 0;
  const Dataset m = load_ts(o);
  ASSERT_EQ(m.train.size(), 4u);
  EXPECT_EQ(m.num_features, 2);
  const Sequence* first = nullptr;
  const Sequence* second = nullptr;
  for (const auto& x : m.train.x) {
    if (x.rows() == 4) first = &x;
    if (x.rows() == 2 && x(1, 0) == 2.f) second = &x;
  }
  ASSERT_TRUE(first && second);
  EXPECT_FLOAT_EQ((*first)(1, 0), 2.f);   // interpolated between 1 and 3
  EXPECT_FLOAT_EQ((*first)(3, 0), 3.f);   // trailing missing repeats the last known value
  EXPECT_FLOAT_EQ((*second)(0, 0), 2.f);  // leading missing repeats the first known value
  EXPECT_FLOAT_EQ((*second)(1, 1), 5.f);
  o.missing = "zero";
  EXPECT_EQ(load_ts(o).num_features, 2);
  o.missing = "error";
  EXPECT_NE(error_of([&] { load_ts(o); }).find("has missing values (missing=error)"), std::string::npos);
  // Regression via @targetLabel.
  const auto rg = write("rg.ts", "@problemName R\n@univariate true\n@targetLabel true\n@data\n1,2,3:0.5\n3,2,1:-1.25\n"
                                 "1,1,1:2\n0,0,0:3\n");
  const Dataset r = load_dataset(fmt::format("ts:{},val=0,test=0", rg));
  EXPECT_EQ(r.task, TaskKind::regression);
  std::multiset<float> ys(r.train.y.begin(), r.train.y.end());
  EXPECT_EQ(ys, (std::multiset<float>{-1.25f, 0.5f, 2.f, 3.f}));
}

TEST_F(Fixture, TsBadInput) {
  const std::string head = "@problemName T\n@univariate true\n@classLabel true a b\n@data\n";
  EXPECT_EQ(error_of([] { parse_ts("", "e.ts"); }), "e.ts: empty file");
  EXPECT_EQ(error_of([] { parse_ts("@problemName T\n@classLabel true a b\n", "t.ts"); }),
            "t.ts: no @data section (truncated header?)");
  EXPECT_EQ(error_of([&] { parse_ts(head, "n.ts"); }), "n.ts: @data section holds no cases");
  EXPECT_EQ(error_of([&] { parse_ts(head + "1,2,3:c\n", "l.ts"); }),
            "l.ts:5: label 'c' is not among the @classLabel labels");
  EXPECT_EQ(error_of([&] { parse_ts(head + "1,x,3:a\n", "v.ts"); }), "v.ts:5: dimension 1 value 2 is 'x', not a finite number");
  EXPECT_EQ(error_of([&] { parse_ts(head + "1,inf,3:a\n", "i.ts"); }), "i.ts:5: dimension 1 value 2 is 'inf', not a finite number");
  EXPECT_EQ(error_of([&] { parse_ts(head + "1,2:a\n1,2:3,4:b\n", "d.ts"); }), "d.ts:6: 2 dimensions, earlier cases have 1");
  EXPECT_EQ(error_of([&] { parse_ts("@dimensions 2\n@classLabel true a b\n@data\n1,2:a\n", "dd.ts"); }),
            "dd.ts:4: 1 dimensions, the header declares 2");
  EXPECT_EQ(error_of([&] { parse_ts("@problemName T\n@missing false\n@classLabel true a b\n@data\n1,?:a\n", "m.ts"); }),
            "m.ts:5: dimension 1 value 2 is missing but the header says @missing false");
  EXPECT_EQ(error_of([] { parse_ts("@problemName T\n@data\n1:a\n", "h.ts"); }),
            "h.ts:2: @data before @classLabel or @targetLabel (which says what to predict)");
  EXPECT_EQ(error_of([] { parse_ts("@problemName T\n@timeStamps true\n@classLabel true a b\n@data\n", "s.ts"); }),
            "s.ts:4: @timeStamps true is not supported (resample to equal spacing first)");
  EXPECT_EQ(error_of([] { parse_ts("@bogus 1\n", "b.ts"); }), "b.ts:1: unknown tag '@bogus'");
  EXPECT_EQ(error_of([] { parse_ts("@problemName T\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n1,2:a\n", "q.ts"); }),
            "q.ts:6: a dimension has 2 values, but @equalLength true and the length is 3");
}

// ---------------------------------------------------------------- IDX
std::string idx(uint8_t type, const std::vector<uint32_t>& shape, const std::string& data) {
  std::string out(2, '\0');
  out += static_cast<char>(type);
  out += static_cast<char>(shape.size());
  for (uint32_t d : shape)
    for (int k = 3; k >= 0; --k) out += static_cast<char>((d >> (8 * k)) & 0xff);
  return out + data;
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(raw.size() + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST_F(Fixture, IdxImagesRowByRowAndGzip) {
  // 20 images of 3x4; pixel (r, c) of image n = n + 10 r + c.
  std::string pixels, labels;
  for (int n = 0; n < 20; ++n) {
    labels += static_cast<char>(n % 4);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) pixels += static_cast<char>(n + 10 * r + c);
  }
  const auto ip = write("img.idx3-ubyte.gz", gzip(idx(0x08, {20, 3, 4}, pixels)));
  const auto lp = write("lab.idx1-ubyte", idx(0x08, {20}, labels));
  const Dataset ds = load_dataset(fmt::format("idx:{},{},{},{},scale=1,val=0.25", ip, lp, ip, lp));
  EXPECT_EQ(ds.num_features, 4);
  EXPECT_EQ(ds.num_classes, 4);
  EXPECT_EQ(ds.test.size(), 20u);
  EXPECT_EQ(ds.train.size() + ds.val.size(), 20u);
  EXPECT_EQ(ds.val.size(), 4u);  // stratified: one per class (25% of 5)
  EXPECT_FLOAT_EQ(ds.test.x[7](2, 3), 7 + 20 + 3);
  EXPECT_EQ(ds.test.x[7].rows(), 3);
}

TEST_F(Fixture, IdxBadInput) {
  const std::string good = idx(0x08, {2, 2, 2}, std::string(8, '\1'));
  EXPECT_EQ(error_of([] { parse_idx("", "e"); }), "e: truncated IDX header (0 bytes)");
  EXPECT_EQ(error_of([] { parse_idx("PK\x03\x04xxxx", "z"); }), "z: not an IDX file (magic must start with two zero bytes)");
  EXPECT_EQ(error_of([&] { parse_idx(good.substr(0, good.size() - 3), "t"); }),
            "t: truncated: the header promises 8 bytes of data, the file has 5");
  EXPECT_EQ(error_of([&] { parse_idx(good + "xx", "x"); }), "x: 2 bytes after the data the header describes (wrong file?)");
  EXPECT_EQ(error_of([] { parse_idx(std::string("\0\0\x07\x01\0\0\0\1a", 9), "u"); }), "u: unknown IDX data type 0x07");
  const auto ip = write("i", idx(0x08, {3, 2, 2}, std::string(12, '\1')));
  const auto lp = write("l", idx(0x08, {2}, std::string(2, '\0')));
  EXPECT_EQ(error_of([&] { load_dataset(fmt::format("idx:{},{}", ip, lp)); }), lp + ": 2 labels for the 3 images of " + ip);
  const auto gz = write("c.gz", gzip(good).substr(0, 12));
  EXPECT_NE(error_of([&] { read_idx(gz); }).find(gz + ": gzip data is"), std::string::npos);
}

// ---------------------------------------------------------------- WAV and the front end
// Writes `pcm` (interleaved float samples in [-1, 1]) with libsndfile.
void write_wav(const std::string& path, int rate, int channels, int format, const std::vector<float>& pcm) {
  fs::create_directories(fs::path(path).parent_path());
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_writef_float(f, pcm.data(), static_cast<sf_count_t>(pcm.size() / channels));
  sf_close(f);
}

std::vector<float> tone(double hz, int rate, double seconds, double amp = 0.5, int channels = 1) {
  std::vector<float> v;
  const int n = static_cast<int>(seconds * rate);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c) v.push_back(static_cast<float>(amp * std::sin(2 * std::numbers::pi * hz * i / rate)));
  return v;
}

TEST(FrontEnd, MatchesADirectDoublePrecisionComputation) {
  rnnas_fe_config cfg = rnnas_fe_default_config(8000);
  cfg.num_mfcc = 0;  // log-mel first
  std::vector<unsigned char> buf(rnnas_fe_get_buffer_size(&cfg));
  rnnas_fe fe;
  ASSERT_EQ(rnnas_fe_init(&fe, &cfg, buf.data(), buf.size()), RNNAS_OK);
  std::vector<int16_t> pcm(cfg.window);
  Rng rng(3);
  for (auto& s : pcm) s = static_cast<int16_t>(rng.uniform(-8000, 8000));
  std::vector<float> out(40);
  ASSERT_EQ(rnnas_fe_compute_frame(&fe, pcm.data(), out.data()), RNNAS_OK);
  // Reference: direct DFT, the same triangles, natural log.
  const int N = fe.cfg.fft_size, bins = N / 2 + 1, M = cfg.num_mels;
  auto mel = [](double f) { return 2595 * std::log10(1 + f / 700); };
  auto hz = [](double m) { return 700 * (std::pow(10, m / 2595) - 1); };
  std::vector<double> pts(M + 2);
  for (int j = 0; j < M + 2; ++j) pts[j] = hz(mel(20) + (mel(4000) - mel(20)) * j / (M + 1));
  std::vector<double> E(M, 0);
  for (int k = 0; k < bins; ++k) {
    double re = 0, im = 0;
    for (int n = 0; n < cfg.window; ++n) {
      const double w = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * n / cfg.window);
      const double x = pcm[n] / 32768.0 * w;
      re += x * std::cos(2 * std::numbers::pi * k * n / N);
      im -= x * std::sin(2 * std::numbers::pi * k * n / N);
    }
    const double P = re * re + im * im, f = static_cast<double>(k) * 8000 / N;
    for (int b = 0; b < M; ++b) {
      if (f > pts[b] && f <= pts[b + 1]) E[b] += P * (f - pts[b]) / (pts[b + 1] - pts[b]);
      if (f > pts[b + 1] && f < pts[b + 2]) E[b] += P * (pts[b + 2] - f) / (pts[b + 2] - pts[b + 1]);
    }
  }
  for (int b = 0; b < M; ++b) EXPECT_NEAR(out[b], std::log(E[b] + 1e-6), 2e-3 * std::max(1.0, std::abs(static_cast<double>(out[b])))) << b;
  // MFCC = orthonormal DCT-II of those log-mel energies.
  rnnas_fe_config mc = cfg;
  mc.num_mfcc = 13;
  std::vector<unsigned char> buf2(rnnas_fe_get_buffer_size(&mc));
  ASSERT_EQ(rnnas_fe_init(&fe, &mc, buf2.data(), buf2.size()), RNNAS_OK);
  std::vector<float> cc(13);
  ASSERT_EQ(rnnas_fe_compute_frame(&fe, pcm.data(), cc.data()), RNNAS_OK);
  for (int c = 0; c < 13; ++c) {
    double ref = 0;
    for (int b = 0; b < M; ++b) ref += out[b] * std::cos(std::numbers::pi * c * (b + 0.5) / M);
    ref *= c == 0 ? std::sqrt(1.0 / M) : std::sqrt(2.0 / M);
    EXPECT_NEAR(cc[c], ref, 1e-3) << c;
  }
}

TEST(FrontEnd, ToneLandsInItsBandAndStatusCodesReportMisuse) {
  FrontEndOptions o;
  o.rate = 16000;
  o.mfcc = 0;
  const FrontEnd fe(o);
  Audio a;
  a.sample_rate = 16000;
  for (float v : tone(1000, 16000, 0.5)) a.pcm.push_back(static_cast<int16_t>(v * 32767));
  const Sequence s = fe.compute(a);
  EXPECT_EQ(s.rows(), 1 + (8000 - 640) / 320);
  Eigen::Index band;
  s.row(5).maxCoeff(&band);
  // Mel of 1 kHz = 1000; 40 bands from mel(20) to mel(8000): band centre spacing ~ (2840 - 31) / 41.
  const double m = 2595 * std::log10(1 + 1000.0 / 700), lo = 2595 * std::log10(1 + 20.0 / 700),
               hi = 2595 * std::log10(1 + 8000.0 / 700);
  EXPECT_NEAR(static_cast<double>(band), (m - lo) / ((hi - lo) / 41) - 1, 1.0);
  rnnas_fe_config bad = rnnas_fe_default_config(16000);
  bad.num_mels = 600;
  EXPECT_EQ(rnnas_fe_check_config(&bad), RNNAS_ERR_CONFIG);
  EXPECT_EQ(rnnas_fe_get_buffer_size(&bad), 0u);
  rnnas_fe_config good = rnnas_fe_default_config(16000);
  rnnas_fe f;
  std::vector<unsigned char> small(100);
  EXPECT_EQ(rnnas_fe_init(&f, &good, small.data(), small.size()), RNNAS_ERR_BUFFER_SIZE);
  EXPECT_EQ(rnnas_fe_init(nullptr, &good, small.data(), small.size()), RNNAS_ERR_NULL);
  EXPECT_EQ(rnnas_fe_num_frames(&good, 639), 0);
  EXPECT_EQ(rnnas_fe_num_frames(&good, 640), 1);
  EXPECT_EQ(error_of([] { FrontEndOptions b; b.mels = 300; FrontEnd x(b); }).find(
                "front end: invalid settings (rate=16000 Hz, window=640 samples, hop=320, fft=0, mels=300"), 0u);
  Audio tiny;
  tiny.sample_rate = 16000;
  tiny.pcm.assign(100, 0);
  EXPECT_EQ(error_of([&] { fe.compute(tiny); }),
            "recording of 100 samples is shorter than one front-end window (640 samples)");
}

TEST_F(Fixture, WavDecodingResamplingAndEncodings) {
  const auto p16 = (dir_ / "a.wav").string();
  write_wav(p16, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, tone(440, 8000, 0.25));
  const Audio a = read_wav(p16);
  EXPECT_EQ(a.sample_rate, 8000);
  EXPECT_EQ(a.pcm.size(), 2000u);
  EXPECT_NEAR(a.pcm[5], 0.5 * std::sin(2 * std::numbers::pi * 440 * 5 / 8000) * 32768, 2);
  const Audio up = resample(a, 16000);
  EXPECT_NEAR(static_cast<double>(up.pcm.size()), 4000, 2);
  // Stereo float: channels averaged; u-law decodes.
  const auto pf = (dir_ / "f.wav").string();
  write_wav(pf, 16000, 2, SF_FORMAT_WAV | SF_FORMAT_FLOAT, tone(300, 16000, 0.1, 0.5, 2));
  EXPECT_EQ(read_wav(pf).pcm.size(), 1600u);
  const auto pu = (dir_ / "u.wav").string();
  write_wav(pu, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_ULAW, tone(440, 8000, 0.1));
  EXPECT_EQ(read_wav(pu).pcm.size(), 800u);
}

TEST_F(Fixture, WavBadInput) {
  const auto good = (dir_ / "g.wav").string();
  write_wav(good, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, tone(440, 8000, 0.1));
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(error_of([&] { decode_wav(bytes.substr(0, bytes.size() - 100), "cut.wav"); }),
            "cut.wav: truncated: the data chunk declares 1600 bytes, the file holds 1500");
  EXPECT_EQ(error_of([] { decode_wav("", "e.wav"); }), "e.wav: empty file");
  EXPECT_NE(error_of([] { decode_wav("just some text, not audio at all.....", "t.wav"); }).find("t.wav: not a readable WAV file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { decode_wav(bytes.substr(0, 30), "h.wav"); }).find("h.wav: "), std::string::npos);
  // A compressed encoding (IMA ADPCM) and a non-WAV container (AIFF).
  const auto adpcm = (dir_ / "adpcm.wav").string();
  write_wav(adpcm, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, tone(440, 8000, 0.1));
  EXPECT_EQ(error_of([&] { read_wav(adpcm); }),
            adpcm + ": encoding 'IMA ADPCM' is not supported (expected PCM 8/16/24/32-bit, float, u-law or a-law)");
  const auto aiff = (dir_ / "x.wav").string();
  write_wav(aiff, 8000, 1, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, tone(440, 8000, 0.1));
  EXPECT_EQ(error_of([&] { read_wav(aiff); }), aiff + ": a AIFF (Apple/SGI) file, expected WAV");
}

TEST_F(Fixture, WavFoldersByFolderAndByName) {
  // Labels in names: {label}_{speaker}_{n}.wav, 3 speakers.
  for (const char* spk : {"ann", "bob", "cy"})
    for (int d = 0; d < 2; ++d)
      for (int n = 0; n < 3; ++n)
        write_wav((dir_ / "names" / fmt::format("{}_{}_{}.wav", d, spk, n)).string(), 8000, 1,
                  SF_FORMAT_WAV | SF_FORMAT_PCM_16, tone(300 + 400 * d, 8000, 0.3));
  const Dataset byname = load_dataset(fmt::format("wav:{},rate=8000,val=0.3,test=0.3", (dir_ / "names").string()));
  EXPECT_EQ(byname.group_kind, "speaker");
  EXPECT_EQ(byname.num_classes, 2);
  EXPECT_EQ(byname.num_features, 10);
  EXPECT_EQ(byname.train.size() + byname.val.size() + byname.test.size(), 18u);
  EXPECT_NE(inspect(byname).find("no speaker is in two parts"), std::string::npos);
  // One folder per label (Speech Commands layout) at 8 kHz, resampled to the 16 kHz front end.
  for (const char* word : {"yes", "no"})
    for (int s = 0; s < 4; ++s)
      write_wav((dir_ / "words" / word / fmt::format("spk{}_nohash_0.wav", s)).string(), 8000, 1,
                SF_FORMAT_WAV | SF_FORMAT_PCM_16, tone(500, 8000, 0.5));
  const Dataset byfolder = load_dataset(fmt::format("wav:{},seconds=1,val=0.25,test=0.25", (dir_ / "words").string()));
  EXPECT_EQ(byfolder.class_names, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(byfolder.train.x[0].rows(), 1 + (16000 - 640) / 320);
  // A file name that does not follow the pattern, and a clip shorter than one window.
  const auto odd = write("odd/x.wav", "");
  EXPECT_EQ(error_of([&] { load_dataset("wav:" + (dir_ / "odd").string() + ",labels=names"); }),
            odd + ": file name is not {label}_{speaker}_{n}.wav");
  write_wav((dir_ / "short" / "0_a_0.wav").string(), 8000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, tone(1, 8000, 0.01));
  write_wav((dir_ / "short" / "1_a_0.wav").string(), 8000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, tone(1, 8000, 0.5));
  EXPECT_EQ(error_of([&] { load_dataset("wav:" + (dir_ / "short").string() + ",rate=8000,val=0,test=0"); }),
            (dir_ / "short" / "0_a_0.wav").string() +
                ": recording of 80 samples is shorter than one front-end window (320 samples)");
}

// ---------------------------------------------------------------- presets on small fixtures
// A C-MAPSS-shaped folder: `units` training units of `len` cycles, 2 test units, sensors varying with time.
void write_cmapss(Fixture& f, int units, int len, const std::string& extra_train_line = "") {
  std::string train, test;
  auto row = [](int unit, int cycle) {
    std::string r = fmt::format("{} {} 0.001 -0.0002 100.0", unit, cycle);
    for (int s = 1; s <= 21; ++s) r += s % 5 == 0 ? " 1.0" : fmt::format(" {:.3f}", s * 10 + cycle * 0.01 * s + unit * 0.001);
    return r + "\n";
  };
  for (int u = 1; u <= units; ++u)
    for (int c = 1; c <= len; ++c) train += row(u, c);
  train += extra_train_line;
  for (int u = 1; u <= 2; ++u)
    for (int c = 1; c <= 5 + u; ++c) test += row(u, c);
  f.write("cm/train_FD001.txt", train);
  f.write("cm/test_FD001.txt", test);
  f.write("cm/RUL_FD001.txt", "30\n200\n");
}

TEST_F(Fixture, CmapssOnAFixture) {
  write_cmapss(*this, 5, 40);
  const Dataset ds = load_dataset("cmapss:" + (dir_ / "cm").string() + ",window=10,val=0.2");
  EXPECT_EQ(ds.test.size(), 2u);
  EXPECT_EQ(ds.test.y, (std::vector<float>{30.f, 125.f}));  // capped
  EXPECT_EQ(ds.num_features, 17);                           // settings and constant sensors dropped
  EXPECT_EQ(ds.train.size() + ds.val.size(), 5u * 31);      // windows ending at cycles 10..40
  EXPECT_EQ(ds.test.x[0].rows(), 10);                       // 6 cycles, padded with the first one
  EXPECT_EQ(ds.test.x[0].row(0), ds.test.x[0].row(4));
}

TEST_F(Fixture, CmapssAndHaptBadInput) {
  write_cmapss(*this, 3, 20, "4 1 0.1 0.2\n");
  const std::string train = (dir_ / "cm" / "train_FD001.txt").string();
  EXPECT_EQ(error_of([&] { load_dataset("cmapss:" + (dir_ / "cm").string()); }), train + ":61: 4 fields, expected 26");
  write_cmapss(*this, 3, 20, "4 1 0.1 0.2 x" + std::string(21 * 2, ' ') + "\n");
  EXPECT_EQ(error_of([&] { load_dataset("cmapss:" + (dir_ / "cm").string()); }),
            train + ":61: field 5 is 'x', not a finite number");
  write_cmapss(*this, 3, 20);
  write("cm/RUL_FD001.txt", "30\n");
  EXPECT_EQ(error_of([&] { load_dataset("cmapss:" + (dir_ / "cm").string()); }),
            (dir_ / "cm" / "RUL_FD001.txt").string() + ": 1 RUL values for 2 test units");
  write("cm/RUL_FD001.txt", "");
  EXPECT_EQ(error_of([&] { load_dataset("cmapss:" + (dir_ / "cm").string()); }),
            (dir_ / "cm" / "RUL_FD001.txt").string() + ": empty file");
  // HAPT: a labels.txt row with an unknown activity; recordings shorter than a window.
  write("hapt/activity_labels.txt", "1 WALKING\n2 WALKING_UPSTAIRS\n3 WALKING_DOWNSTAIRS\n4 SITTING\n5 STANDING\n6 LAYING\n");
  write("hapt/RawData/labels.txt", "1 1 9 1 50\n");
  EXPECT_EQ(error_of([&] { load_dataset("uci-har:" + (dir_ / "hapt").string()); }),
            (dir_ / "hapt" / "RawData" / "labels.txt").string() + ":1: bad segment (activity 9, rows 1-50)");
  write("hapt/RawData/labels.txt", "1 2 1 1 50\n");
  std::string acc;
  for (int r = 0; r < 50; ++r) acc += "1.0 0.0 0.1\n";
  write("hapt/RawData/acc_exp01_user02.txt", acc);
  write("hapt/RawData/gyro_exp01_user02.txt", acc);
  EXPECT_NE(error_of([&] { load_dataset("uci-har:" + (dir_ / "hapt").string()); }).find("the recordings are incomplete"),
            std::string::npos);
}

// ---------------------------------------------------------------- synthetic tasks
TEST(Synthetic, NewTasksAreSeededAndHaveADifficultyKnob) {
  const Dataset m1 = load_dataset("memory:delay=30,symbols=5,n=200,seed=4");
  const Dataset m2 = load_dataset("memory:delay=30,symbols=5,n=200,seed=4");
  EXPECT_EQ(m1.train.x[3].rows(), 32);
  EXPECT_TRUE(m1.train.x[3].isApprox(m2.train.x[3], 0));
  EXPECT_EQ(m1.train.label, m2.train.label);
  const Dataset c = load_dataset("chirp:T=64,noise=0.1,n=100");
  EXPECT_EQ(c.num_outputs, 2);
  EXPECT_EQ(c.train.y.size(), 2 * c.train.size());
  const Dataset easy = load_dataset("motion:difficulty=0,subjects=6,per_subject=20");
  const Dataset hard = load_dataset("motion:difficulty=1,subjects=6,per_subject=20");
  EXPECT_FALSE(easy.train.x[0].isApprox(hard.train.x[0]));
  EXPECT_EQ(easy.group_kind, "subject");
  EXPECT_NE(inspect(easy).find("no subject is in two parts"), std::string::npos);
  EXPECT_EQ(error_of([] { load_dataset("motion:difficulty=2"); }), "motion: difficulty=2 not in [0, 1]");
  EXPECT_EQ(error_of([] { load_dataset("memory:delay=0"); }), "memory: delay=0 not in [1, 10000]");
}

}  // namespace
}  // namespace rnnas

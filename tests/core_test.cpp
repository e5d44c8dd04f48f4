#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "rnnas/core.h"

namespace rnnas {
namespace {

TEST(Rng, SameSeedSameStreamAndForksAreIndependent) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
  }
  const Rng parent(7);
  Rng f1 = parent.fork(1), f1b = parent.fork(1), f2 = parent.fork(2);
  const uint64_t v = f1.next_u64();
  EXPECT_EQ(v, f1b.next_u64());
  EXPECT_NE(v, f2.next_u64());
}

TEST(Rng, KnownValuesAreStableAcrossPlatforms) {
  // xoshiro256** seeded with splitmix64(0): pinned so that a change of generator is noticed.
  Rng r(0);
  const uint64_t first = r.next_u64();
  Rng again(0);
  EXPECT_EQ(first, again.next_u64());
  EXPECT_EQ(first, 0x99EC5F36CB75F2B4ULL);
}

TEST(Rng, DistributionsHaveTheRightMoments) {
  Rng r(1);
  double sum = 0, sq = 0, usum = 0;
  constexpr int n = 200000;
  std::vector<int> counts(6, 0);
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    sum += z;
    sq += z * z;
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    usum += u;
    ++counts[r.below(6)];
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
  EXPECT_NEAR(usum / n, 0.5, 0.005);
  for (int c : counts) EXPECT_NEAR(c, n / 6.0, n * 0.01);
}

TEST(Parse, NumbersAreStrict) {
  double v = 0;
  EXPECT_TRUE(parse_number("3.5e-2", v));
  EXPECT_DOUBLE_EQ(v, 0.035);
  EXPECT_TRUE(parse_number("+2", v));
  EXPECT_DOUBLE_EQ(v, 2);
  EXPECT_TRUE(parse_number("-7", v));
  for (const char* bad : {"", " 1", "1 ", "1.2.3", "abc", "nan", "inf", "-inf", "1e999", "1,5"})
    EXPECT_FALSE(parse_number(bad, v)) << bad;
  long long i = 0;
  EXPECT_TRUE(parse_int("123", i));
  EXPECT_EQ(i, 123);
  EXPECT_FALSE(parse_int("12.5", i));
  EXPECT_FALSE(parse_int("", i));
}

TEST(ParallelFor, RunsEveryIndexOnceAndRethrows) {
  std::vector<std::atomic<int>> hits(100);
  parallel_for(hits.size(), 2, [&](size_t i) { ++hits[i]; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(parallel_for(10, 2,
                            [](size_t i) {
                              if (i == 7) throw Error("job 7 failed");
                            }),
               Error);
}

}  // namespace
}  // namespace rnnas

#include <gtest/gtest.h>

#include "rnnas/core.h"
#include "rnnas/space.h"

namespace rnnas {
namespace {

TEST(Arch, ParsesTheReadmeExamples) {
  const Arch a = Arch::parse("gru:32,gru:16|head=last");
  ASSERT_EQ(a.layers.size(), 2u);
  EXPECT_EQ(a.layers[0].cell, CellType::gru);
  EXPECT_EQ(a.layers[0].width, 32);
  EXPECT_EQ(a.layers[1].width, 16);
  EXPECT_EQ(a.head, HeadType::last);
  EXPECT_EQ(a.stride, 1);

  const Arch b = Arch::parse("stride=2|fastgrnn:32:wrank=4:urank=8,lstm:16|head=mean,dense=24");
  EXPECT_EQ(b.stride, 2);
  EXPECT_EQ(b.layers[0].cell, CellType::fastgrnn);
  EXPECT_EQ(b.layers[0].wrank, 4);
  EXPECT_EQ(b.layers[0].urank, 8);
  EXPECT_EQ(b.head, HeadType::mean);
  EXPECT_EQ(b.dense, 24);
}

TEST(Arch, CanonicalStringRoundTrips) {
  for (const char* spec : {"gru:32|head=last", "stride=4|rnn:8,fastrnn:8:urank=4|head=mean,dense=16",
                           "lstm:20:wrank=3|head=last", "fastgrnn:16:wrank=2:urank=4,gru:8,lstm:4,rnn:2|head=mean"}) {
    const Arch a = Arch::parse(spec);
    EXPECT_EQ(a.to_string(), spec);
    EXPECT_EQ(Arch::parse(a.to_string()), a);
  }
  // Non-canonical input (order of sections, defaults) maps to the canonical string.
  EXPECT_EQ(Arch::parse("head=mean|gru:8").to_string(), "gru:8|head=mean");
  EXPECT_EQ(Arch::parse("gru:8").to_string(), "gru:8|head=last");
  EXPECT_EQ(Arch::parse("stride=1|gru:8|dense=0").to_string(), "gru:8|head=last");
}

TEST(Arch, BadSpecsGiveClearErrors) {
  auto message = [](const char* spec) {
    try {
      Arch::parse(spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("transformer:8").find("unknown cell 'transformer'"), std::string::npos);
  EXPECT_NE(message("gru").find("needs a width"), std::string::npos);
  EXPECT_NE(message("gru:abc").find("'abc'"), std::string::npos);
  EXPECT_NE(message("gru:8|head=first").find("head must be"), std::string::npos);
  EXPECT_NE(message("gru:8|colour=red").find("unknown option 'colour'"), std::string::npos);
  EXPECT_NE(message("gru:8,gru:8,gru:8,gru:8,gru:8").find("expected 1 to 4"), std::string::npos);
  EXPECT_NE(message("gru:8:urank=8").find("below its width"), std::string::npos);
  EXPECT_NE(message("gru:8:rank=2").find("not wrank=R or urank=R"), std::string::npos);
  EXPECT_NE(message("stride=0|gru:8").find("positive"), std::string::npos);
  EXPECT_NE(message("head=last").find("no recurrent layers"), std::string::npos);
  EXPECT_NE(message("gru:8||head=last").find("empty section"), std::string::npos);
  EXPECT_NE(message("gru:8|gru:4").find("more than one layer section"), std::string::npos);
}

}  // namespace
}  // namespace rnnas

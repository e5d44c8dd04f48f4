#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "rnnas/core.h"
#include "rnnas/space.h"
#include "test_util.h"

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

TEST(Arch, FrontEndAndTrainingChoicesRoundTripInStringAndJson) {
  const Arch a = Arch::parse("gru:16|head=mean|fe=32/16/40/13|lr=0.003,wd=0.0001,batch=32");
  EXPECT_EQ(a.fe, (FrontEndChoice{32, 16, 40, 13}));
  EXPECT_EQ(a.train.lr, 0.003);
  EXPECT_EQ(a.train.weight_decay, 0.0001);
  EXPECT_EQ(a.train.batch, 32);
  EXPECT_EQ(a.to_string(), "gru:16|head=mean|fe=32/16/40/13|lr=0.003,wd=0.0001,batch=32");
  EXPECT_EQ(Arch::parse(a.to_string()), a);
  EXPECT_EQ(Arch::from_json(a.to_json()), a);
  EXPECT_EQ(Arch::from_json(nlohmann::json::parse(a.to_json().dump())), a);
  // Awkward doubles survive exactly.
  Arch b = a;
  b.train.lr = 0.1 + 0.2;
  b.fe.win_ms = 25.6;
  EXPECT_EQ(Arch::parse(b.to_string()), b);
  using test_util::error_of;
  EXPECT_EQ(error_of([] { Arch::parse("gru:8|fe=40/20/40"); }),
            "arch 'gru:8|fe=40/20/40': fe must be window/hop/mels/mfcc, as in fe=40/20/40/10, got '40/20/40'");
  EXPECT_EQ(error_of([] { Arch::parse("gru:8|fe=20/40/40/10"); }),
            "arch: front end window 20 ms and hop 40 ms: need 1 <= window <= 500 and 0 < hop <= window");
  EXPECT_EQ(error_of([] { Arch::parse("gru:8|lr=-1"); }), "arch 'gru:8|lr=-1': lr must be a non-negative number, got '-1'");
  EXPECT_EQ(error_of([] { Arch::from_json(nlohmann::json::parse(R"({"layers":[{"cell":"gru"}]})")); }),
            "arch JSON: layers[0] has no 'width'");
  EXPECT_EQ(error_of([] { Arch::from_json(nlohmann::json::parse(R"({"layers":[{"cell":"gru","width":"8"}]})")); }),
            "arch JSON: layers[0].width must be an integer");
  EXPECT_EQ(error_of([] { Arch::from_json(nlohmann::json::parse(R"({"layers":[]})")); }),
            "arch: 0 recurrent layers, expected 1 to 4");
}

// Property tests over thousands of sampled archs, in every preset.
TEST(SearchSpace, SampleMutateCrossoverStayInsideAndRoundTrip) {
  for (const auto& name : SearchSpace::preset_names()) {
    const SearchSpace s = SearchSpace::preset(name);
    Rng rng(11);
    Arch prev = s.sample(rng);
    for (int i = 0; i < 2000; ++i) {
      const Arch a = s.sample(rng);
      ASSERT_TRUE(s.contains(a)) << name << " " << a.to_string();
      ASSERT_NO_THROW(a.validate()) << a.to_string();
      ASSERT_EQ(Arch::parse(a.to_string()), a) << a.to_string();
      ASSERT_EQ(Arch::from_json(a.to_json()), a) << a.to_string();
      const Arch m = s.mutate(a, rng);
      ASSERT_TRUE(s.contains(m)) << name << " " << a.to_string() << " -> " << m.to_string();
      ASSERT_FALSE(m == a) << a.to_string();
      const Arch c = s.crossover(a, prev, rng);
      ASSERT_TRUE(s.contains(c)) << c.to_string();
      const auto v = s.encode(a);
      ASSERT_EQ(v.size(), s.encoding_size());
      for (double x : v) ASSERT_TRUE(x >= 0 && x <= 1) << name << " " << a.to_string();
      prev = a;
    }
  }
}

TEST(SearchSpace, MutationIsASmallStep) {
  const SearchSpace s = SearchSpace::preset("default");
  Rng rng(3);
  for (int i = 0; i < 1000; ++i) {
    const Arch a = s.sample(rng);
    const Arch m = s.mutate(a, rng);
    const auto va = s.encode(a), vm = s.encode(m);
    int changed = 0;
    for (size_t k = 0; k < va.size(); ++k) changed += va[k] != vm[k];
    // One choice: at most a layer added/removed (its 4 + cells entries and the layer count) changes.
    EXPECT_LE(changed, static_cast<int>(4 + s.cells.size() + 1)) << a.to_string() << " -> " << m.to_string();
    EXPECT_EQ(std::abs(static_cast<int>(a.layers.size()) - static_cast<int>(m.layers.size())) <= 1, true);
  }
}

TEST(SearchSpace, SizeCountsDistinctArchs) {
  // A small space, enumerated by sampling until no new arch appears.
  SearchSpace s;
  s.strides = {1, 2};
  s.min_layers = 1;
  s.max_layers = 2;
  s.cells = {CellType::gru, CellType::lstm};
  s.widths = {4, 8};
  s.wranks = {0};
  s.uranks = {0, 4};  // urank 4 only valid for width 8
  s.heads = {HeadType::last};
  s.validate();
  // Per layer: gru/lstm x (width 4: 1 rank, width 8: 2 ranks) = 6; L=1: 6, L=2: 36; x 2 strides = 84.
  EXPECT_EQ(s.size(), 84.0);
  std::set<std::string> seen;
  Rng rng(1);
  for (int i = 0; i < 20000; ++i) seen.insert(s.sample(rng).to_string());
  EXPECT_EQ(seen.size(), 84u);
  s.same_cell = true;
  // same_cell: L=1: 6; L=2: 2 cells x 3^2 = 18; x 2 = 48.
  EXPECT_EQ(s.size(), 48.0);
  EXPECT_GT(SearchSpace::preset("wide").size(), 1e9);
}

TEST(SearchSpace, InputRanksRespectTheInputSize) {
  SearchSpace s = SearchSpace::preset("wide");  // wranks 0, 8, 16
  s.input_features = 9;
  Rng rng(4);
  for (int i = 0; i < 3000; ++i) {
    const Arch a = s.sample(rng);
    ASSERT_NO_THROW(a.check_input(9)) << a.to_string();
    ASSERT_NO_THROW(s.mutate(a, rng).check_input(9));
  }
  // Counting: one layer of width 8 or 16 over 9 inputs (gru, 24 or 48 rows): wrank 0 or 8 (16 >= 9).
  SearchSpace t;
  t.strides = {1};
  t.min_layers = t.max_layers = 1;
  t.cells = {CellType::gru};
  t.widths = {8, 16};
  t.wranks = {0, 8, 16};
  t.uranks = {0};
  t.heads = {HeadType::last};
  t.input_features = 9;
  EXPECT_EQ(t.size(), 4.0);
  t.max_layers = 2;  // second layer's input is 8 or 16: wrank 16 needs input 16+ -> below 16 fails, 8 fails on 8
  // Layer 2 over width 8: wrank 0 (8 is not < 8): 1 choice per width; over 16: 0 or 8: 2 per width.
  EXPECT_EQ(t.size(), 4.0 + (2 * 1 * 2) + (2 * 2 * 2));
}

TEST(SearchSpace, JsonConfigAndErrors) {
  const auto j = nlohmann::json::parse(R"({"preset": "tiny", "cells": ["gru", "fastgrnn"], "layers": [1, 3],
      "lr": [0.003, 0.01], "frontend": {"win_ms": [30, 40], "hop_ms": [15, 20], "mels": [32], "mfcc": [10]}})");
  const SearchSpace s = SearchSpace::from_json(j);
  EXPECT_EQ(s.max_layers, 3);
  EXPECT_EQ(s.widths, SearchSpace::preset("tiny").widths);
  EXPECT_EQ(s.cells.size(), 2u);
  Rng rng(2);
  const Arch a = s.sample(rng);
  EXPECT_FALSE(a.fe.empty());
  EXPECT_EQ(SearchSpace::from_json(s.to_json()).to_json(), s.to_json());
  using test_util::error_of;
  EXPECT_EQ(error_of([] { SearchSpace::from_json(nlohmann::json::parse(R"({"widths": [16, 8]})")); }),
            "search space: widths must be listed in increasing order");
  EXPECT_EQ(error_of([] { SearchSpace::from_json(nlohmann::json::parse(R"({"colour": 1})")); }),
            "search space: unknown key 'colour'");
  EXPECT_EQ(error_of([] { SearchSpace::from_json(nlohmann::json::parse(R"({"layers": [0, 2]})")); }),
            "search space: layers [0, 2] must satisfy 1 <= min <= max <= 4");
  EXPECT_EQ(error_of([] { SearchSpace::from_json(nlohmann::json::parse(R"({"cells": ["gru", "transformer"]})")); })
                .find("unknown cell 'transformer'") != std::string::npos,
            true);
  EXPECT_EQ(error_of([] { SearchSpace::load("/nonexistent/space.json"); }),
            "search space '/nonexistent/space.json': not a preset (tiny, default, wide, audio) and no such file");
}

}  // namespace
}  // namespace rnnas

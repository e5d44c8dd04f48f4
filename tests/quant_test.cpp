// int8 quantisation, the C runtime and code generation: arithmetic against exact references, the float
// reference against the training engine, int8 against float on every cell kind, the planner against the
// generated arena, and generated C (host gcc and arm-none-eabi-gcc) byte for byte against the in-process
// int8 evaluation.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "rnnas/core.h"
#include "rnnas/data.h"
#include "rnnas/hw.h"
#include "rnnas/nn.h"
#include "rnnas/quant.h"
#include "rnnas_nn.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace rnnas;

namespace {

TEST(Int8Arithmetic, TanhAndSigmoidTablesAreWithinFourLsbOfTheExactFunctions) {
  int worst_t = 0, worst_s = 0;
  for (int32_t x = -40000; x <= 40000; x += 7) {
    const double v = x / 4096.0;
    const int t = rnnas_tanh_q15(x), s = rnnas_sigmoid_q15(x);
    worst_t = std::max(worst_t, std::abs(t - static_cast<int>(std::lround(std::tanh(v) * 32767))));
    worst_s = std::max(worst_s, std::abs(s - static_cast<int>(std::lround(std::min(32767.0, 32768.0 / (1 + std::exp(-v)))))));
  }
  EXPECT_LE(worst_t, 4);  // interpolation on a 1/32 grid: at most ~3 LSB, plus rounding
  EXPECT_LE(worst_s, 4);
  EXPECT_EQ(rnnas_tanh_q15(0), 0);
  EXPECT_EQ(rnnas_tanh_q15(1 << 30), 32767);
  EXPECT_EQ(rnnas_tanh_q15(-(1 << 30)), -32767);
  EXPECT_EQ(rnnas_tanh_q15(INT32_MIN), -32767);
  EXPECT_EQ(rnnas_sigmoid_q15(INT32_MAX), 32767);
  EXPECT_GE(rnnas_sigmoid_q15(INT32_MIN), 0);
  for (int32_t x = 1; x < 40000; x += 13) EXPECT_EQ(rnnas_tanh_q15(-x), -rnnas_tanh_q15(x));  // odd
}

TEST(Int8Arithmetic, RequantisationRoundsLikeTheExactProduct) {
  Rng rng(5);
  for (int i = 0; i < 20000; ++i) {
    const int32_t acc = static_cast<int32_t>(rng.below(1u << 24)) - (1 << 23);
    const int32_t mult = static_cast<int32_t>((1u << 30) + rng.below(1u << 30));
    const int32_t shift = 31 + static_cast<int32_t>(rng.below(32));  // results within int32
    const long double exact = std::floor(static_cast<long double>(acc) * mult / std::ldexp(1.0L, shift) + 0.5L);
    ASSERT_EQ(rnnas_requant(acc, mult, shift), static_cast<int32_t>(exact)) << acc << " " << mult << " " << shift;
  }
  EXPECT_EQ(rnnas_requant(INT32_MAX, INT32_MAX, 1), INT32_MAX);  // saturates
}

// A small task every cell learns something on, and one regression task.
const char* kMotion = "motion:difficulty=0.4,subjects=12,per_subject=30,T=48";
const char* kChirp = "chirp:T=40,noise=0.2,n=400";

struct Trained {
  Dataset data;
  nn::Model model;
};

Trained train(const std::string& arch, const std::string& spec, int epochs = 12) {
  Trained t{load_dataset(spec), {}};
  nn::TrainOptions o;
  o.epochs = epochs;
  o.lr = 1e-2;
  o.patience = 0;
  o.seed = 3;
  auto r = nn::train(Arch::parse(arch), t.data, o);
  t.model = std::move(r.model);
  return t;
}

// The float network's own outputs for one raw sequence (targets' units for regression).
std::vector<double> engine_outputs(nn::Model& m, const Sequence& raw) {
  Split p;
  p.x = {raw};
  p.label = {0};
  m.norm.apply(p);
  const auto b = nn::make_batch<float>(p, {0}, m.arch.stride, 0);
  const auto& out = m.net.forward(b.x, b.info);
  std::vector<double> v;
  for (long o = 0; o < out.rows(); ++o) {
    double y = out(o, 0);
    if (!m.target_scale.empty()) y = m.target_scale.invert(static_cast<float>(y), static_cast<int>(o));
    v.push_back(y);
  }
  return v;
}

class EveryCell : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryCell, FloatReferenceMatchesTheEngineAndInt8TracksFloat) {
  Trained t = train(GetParam(), kMotion);
  const quant::QModel q = quant::quantize(t.model, t.data.train);
  int agree = 0;
  const size_t n = t.data.test.size();
  for (size_t i = 0; i < n; ++i) {
    const Sequence& x = t.data.test.x[i];
    const auto ref = quant::float_reference(t.model, x);
    const auto eng = engine_outputs(t.model, x);
    ASSERT_EQ(ref.size(), eng.size());
    for (size_t o = 0; o < ref.size(); ++o) ASSERT_NEAR(ref[o], eng[o], 2e-3 * (1 + std::abs(eng[o]))) << "output " << o;
    const auto qi = q.run(x);
    const int qa = rnnas_argmax_s32(qi.data(), q.outputs);
    const int fa = static_cast<int>(std::max_element(ref.begin(), ref.end()) - ref.begin());
    agree += qa == fa;
  }
  // int8 predicts the float model's class on nearly every sequence.
  EXPECT_GE(agree, static_cast<int>(0.9 * static_cast<double>(n))) << agree << " of " << n;
  nn::Metrics fm = t.model.evaluate(t.data.test), qm = q.evaluate(t.data.test);
  EXPECT_NEAR(qm.accuracy, fm.accuracy, 0.06) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Quant, EveryCell,
                         ::testing::Values("fastgrnn:16|head=last", "fastrnn:16:urank=4|head=last", "gru:16|head=last", "lstm:12|head=mean", "rnn:16|head=last",
                                           "fastrnn:16|head=mean", "fastgrnn:16:urank=4|head=last",
                                           "stride=2|gru:12:wrank=4:urank=4,lstm:8|head=mean,dense=12",
                                           "fastgrnn:12,fastrnn:8:urank=2|head=last,dense=8"));

TEST(Quant, RegressionOutputsAreInTheTargetsUnits) {
  Trained t = train("gru:16|head=last", kChirp, 15);
  const quant::QModel q = quant::quantize(t.model, t.data.train);
  const nn::Metrics fm = t.model.evaluate(t.data.test), qm = q.evaluate(t.data.test);
  EXPECT_LT(qm.rmse, fm.rmse * 1.1 + 1e-3) << fm.rmse;
}

TEST(Quant, PlannerArenaAndWeightBytesEqualTheCostModel) {
  for (const char* arch : {"gru:16|head=last", "stride=2|gru:12:wrank=4:urank=4,lstm:8|head=mean,dense=12",
                           "fastgrnn:16:urank=4|head=last"}) {
    Trained t = train(arch, kMotion, 1);
    const quant::QModel q = quant::quantize(t.model, t.data.train);
    const hw::Cost c = hw::estimate(Arch::parse(arch), hw::load_target("nrf52840"), hw::shape_of(t.data),
                                    hw::Quant::int8);
    EXPECT_EQ(q.plan.arena_bytes, c.arena_bytes) << arch;
    EXPECT_EQ(q.weight_bytes(), c.flash_weights) << arch;
  }
}

// Quantisation-aware training: validation during QAT measures the fake-quantised network, which is what
// post-training quantisation of the result then runs in integers; the float weights keep receiving the
// updates (straight-through), so they are not left on the int8 grid.
TEST(Qat, ValidationDuringQatPredictsTheInt8ModelAndUpdatesGoToTheFloatWeights) {
  for (const char* arch : {"gru:8|head=last", "fastgrnn:8:urank=2,lstm:6|head=mean"}) {
    Dataset d = load_dataset(kMotion);
    nn::TrainOptions o;
    o.epochs = 10;
    o.lr = 1e-2;
    o.patience = 0;
    o.seed = 3;
    o.qat_from = 1;  // every epoch, so the best one is a QAT epoch
    auto r = nn::train(Arch::parse(arch), d, o);
    ASSERT_GT(r.best_epoch, 0);
    EXPECT_FALSE(r.model.net.fake_quant());
    const quant::QModel q = quant::quantize(r.model, d.train);
    const nn::Metrics qm = q.evaluate(d.val);
    EXPECT_NEAR(qm.accuracy, r.best_val.accuracy, 0.03) << arch;
    int off_grid = 0;
    for (const auto* p : r.model.net.params()) {
      if (!p->decay) continue;
      for (long row = 0; row < p->value.rows(); ++row) {
        const float s = p->value.row(row).cwiseAbs().maxCoeff() / 127.0f;
        for (long c = 0; c < p->value.cols(); ++c)
          off_grid += std::abs(p->value(row, c) / s - std::nearbyint(p->value(row, c) / s)) > 1e-3f;
      }
    }
    EXPECT_GT(off_grid, 0) << arch;
  }
  nn::TrainOptions bad;
  bad.qat_from = -1;
  EXPECT_NE(test_util::error_of([&] { nn::train(Arch::parse("gru:4|head=last"), load_dataset(kMotion), bad); })
                .find("qat_from"),
            std::string::npos);
}

TEST(Quant, RefusesWhatItCannotRepresent) {
  Trained t = train("gru:8|head=last", kMotion, 1);
  EXPECT_NE(test_util::error_of([&] { quant::quantize(t.model, Split{}); }).find("no calibration"), std::string::npos);
  Split wrong;
  wrong.x = {Sequence::Zero(5, 3)};
  wrong.label = {0};
  EXPECT_NE(test_util::error_of([&] { quant::quantize(t.model, wrong); }).find("features"), std::string::npos);
}

// ---- Generated code ----

std::string run_cmd(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  return rc == 0 ? std::string() : fmt::format("exit {}: {}\n{}", rc, cmd, out);
}

// A host program around the generated model: reads sequences, writes the int32 outputs.
const char* kHarness = R"(#include <stdio.h>
#include <stdlib.h>
#include "model.h"
int main(int argc, char **argv) {
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  int32_t n, steps, i, res[MODEL_OUTPUTS];
  if (argc != 3 || !in || !out || model_init() != RNNAS_OK || fread(&n, 4, 1, in) != 1) return 1;
  for (i = 0; i < n; ++i) {
    float *x;
    if (fread(&steps, 4, 1, in) != 1) return 2;
    x = (float *)malloc((size_t)steps * MODEL_FEATURES * sizeof(float));
    if (!x || fread(x, sizeof(float), (size_t)steps * MODEL_FEATURES, in) != (size_t)steps * MODEL_FEATURES) return 3;
    if (model_run(x, steps, res) != RNNAS_OK) return 4;
    fwrite(res, 4, MODEL_OUTPUTS, out);
    free(x);
  }
  fclose(out);
  return 0;
}
)";

// Exports q to DIR, compiles it with a host harness and returns its outputs on the test split.
std::vector<int32_t> run_exported(const quant::QModel& q, const Dataset& d, const std::string& name,
                                  bool weights16) {
  const fs::path dir = fs::path(rnnas::test_util::temp_dir()) / name;
  fs::remove_all(dir);
  quant::ExportOptions o{dir.string(), "model", "a test"};
  o.weights16 = weights16;
  quant::export_c(q, o);
  for (const char* f : {"model.h", "model.c", "model.json", "README.md", "rnnas_nn.c", "rnnas_nn.h", "rnnas_status.c",
                        "rnnas_status.h"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  std::ofstream(dir / "main.c") << kHarness;
  {
    std::ofstream in(dir / "in.bin", std::ios::binary);
    const auto n = static_cast<int32_t>(d.test.size());
    in.write(reinterpret_cast<const char*>(&n), 4);
    for (const auto& x : d.test.x) {
      const auto steps = static_cast<int32_t>(x.rows());
      in.write(reinterpret_cast<const char*>(&steps), 4);
      in.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * 4));
    }
  }
  const std::string err =
      run_cmd(fmt::format("cd {} && gcc -std=c99 -Wall -Wextra -Werror -pedantic -ffp-contract=off "
                          "-O2 main.c model.c rnnas_nn.c rnnas_status.c -o model_host && "
                          "./model_host in.bin out.bin",
                          dir.string()));
  EXPECT_EQ(err, "");
  std::ifstream f(dir / "out.bin", std::ios::binary);
  std::vector<int32_t> out(q.outputs * d.test.size());
  f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * 4));
  EXPECT_EQ(f.gcount(), static_cast<std::streamsize>(out.size() * 4));
  return out;
}

TEST(Export, GeneratedCodeMatchesTheInProcessInt8EvaluationByteForByte) {
  Trained t = train("stride=2|gru:12:wrank=4:urank=4,lstm:8|head=mean,dense=12", kMotion, 4);
  const quant::QModel q = quant::quantize(t.model, t.data.train);
  EXPECT_EQ(run_exported(q, t.data, "rnnas_export_host", false), q.run_all(t.data.test));
  // The arena the generated code declares is the planner's.
  std::ifstream h(fs::path(rnnas::test_util::temp_dir()) / "rnnas_export_host" / "model.h");
  const std::string header((std::istreambuf_iterator<char>(h)), {});
  EXPECT_NE(header.find(fmt::format("#define MODEL_ARENA_BYTES {}\n", q.plan.arena_bytes)), std::string::npos);
}

// The 16-bit blocked weight layout gives the same outputs through the runtime's portable path (the boards'
// DSP path: tests/deploy_test.cpp). Rows and columns that are not multiples of 4, low-rank factors, a GRU
// whose gate slices are 4-aligned (H = 6) and one whose are not (H = 5, kept int8), a dense layer and the
// head.
TEST(Export, SixteenBitWeightLayoutGivesTheSameOutputs) {
  Trained t = train("gru:6,lstm:5:urank=3,gru:5:wrank=3|head=mean,dense=7", kMotion, 2);
  const quant::QModel q = quant::quantize(t.model, t.data.train);
  EXPECT_EQ(run_exported(q, t.data, "rnnas_export_w16", true), q.run_all(t.data.test));
  std::ifstream c(fs::path(rnnas::test_util::temp_dir()) / "rnnas_export_w16" / "model.c");
  const std::string code((std::istreambuf_iterator<char>(c)), {});
  EXPECT_NE(code.find("static const int16_t l0_w["), std::string::npos);   // gru:6: blocked
  EXPECT_NE(code.find("static const int8_t l2_w1["), std::string::npos);   // gru:5: sliced at 10, int8
  EXPECT_NE(code.find("static const int16_t l2_w2["), std::string::npos);  // its W2 is not sliced
  // A row whose requantisation shift is below 25 cannot be scaled to the short path within 16 bits: that
  // matrix stays int8, the rest is w16, and the outputs are still the int8 evaluation's.
  quant::QModel q2 = q;
  q2.dense.shift[1] = 24;
  EXPECT_EQ(run_exported(q2, t.data, "rnnas_export_w16_mixed", true), q2.run_all(t.data.test));
  std::ifstream c2(fs::path(rnnas::test_util::temp_dir()) / "rnnas_export_w16_mixed" / "model.c");
  const std::string code2((std::istreambuf_iterator<char>(c2)), {});
  EXPECT_NE(code2.find("static const int8_t dense_w["), std::string::npos);
  EXPECT_NE(code2.find("static const int16_t out_w["), std::string::npos);
}

// Audio: two tones in noise at 8 kHz, through the rnnas front end; the generated code takes the PCM.
struct AudioTask {
  FrontEndOptions fe;
  Dataset data;
  std::vector<std::vector<int16_t>> test_pcm;
};

AudioTask audio_task() {
  AudioTask a;
  a.fe.rate = 8000;
  a.fe.win_ms = 32;
  a.fe.hop_ms = 16;
  a.fe.mels = 20;
  a.fe.mfcc = 10;
  const FrontEnd fe(a.fe);
  Dataset& d = a.data;
  d.name = "tones";
  d.task = TaskKind::classification;
  d.num_classes = 2;
  d.class_names = {"low", "high"};
  d.num_features = fe.num_features();
  d.audio = true;
  d.frontend = a.fe;
  Rng rng(11);
  for (int i = 0; i < 60; ++i) {
    const int label = i % 2;
    const double f0 = (label ? 1200.0 : 300.0) * (1 + 0.1 * rng.uniform(-1, 1));
    const int n = 3000 + static_cast<int>(rng.below(1000));  // unequal lengths
    std::vector<int16_t> pcm(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t)
      pcm[static_cast<size_t>(t)] = static_cast<int16_t>(
          std::lround(8000 * std::sin(2 * M_PI * f0 * t / 8000.0) + 2000 * rng.normal()));
    Split& part = i < 40 ? d.train : (i < 50 ? d.val : d.test);
    part.x.push_back(fe.compute({8000, pcm}));
    part.label.push_back(label);
    if (i >= 50) a.test_pcm.push_back(std::move(pcm));
  }
  return a;
}

const char* kPcmHarness = R"(#include <stdio.h>
#include <stdlib.h>
#include "model.h"
int main(int argc, char **argv) {
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  int32_t n, len, i, res[MODEL_OUTPUTS];
  if (argc != 3 || !in || !out || model_init() != RNNAS_OK || fread(&n, 4, 1, in) != 1) return 1;
  for (i = 0; i < n; ++i) {
    int16_t *pcm;
    if (fread(&len, 4, 1, in) != 1) return 2;
    pcm = (int16_t *)malloc((size_t)len * sizeof(int16_t));
    if (!pcm || fread(pcm, sizeof(int16_t), (size_t)len, in) != (size_t)len) return 3;
    if (model_run_pcm(pcm, len, res) != RNNAS_OK) return 4;
    fwrite(res, 4, MODEL_OUTPUTS, out);
    free(pcm);
  }
  fclose(out);
  return 0;
}
)";

TEST(Export, AudioModelsTakePcmAndMatchTheInProcessEvaluationByteForByte) {
  const fs::path dir = fs::path(rnnas::test_util::temp_dir()) / "rnnas_export_audio";
  fs::remove_all(dir);
  AudioTask a = audio_task();
  nn::TrainOptions o;
  o.epochs = 6;
  o.seed = 2;
  auto r = nn::train(Arch::parse("gru:8|head=mean"), a.data, o);
  quant::QModel q = quant::quantize(r.model, a.data.train);
  q.set_frontend(a.fe);
  // The front end's buffers are in the planned arena, as the cost model plans it for this dataset.
  EXPECT_EQ(q.plan.arena_bytes,
            hw::estimate(r.model.arch, hw::load_target("nrf52840"), hw::shape_of(a.data), hw::Quant::int8).arena_bytes);
  quant::export_c(q, {dir.string(), "model", "tones"});
  EXPECT_TRUE(fs::exists(dir / "rnnas_frontend.c"));
  std::ofstream(dir / "main.c") << kPcmHarness;
  {
    std::ofstream in(dir / "in.bin", std::ios::binary);
    const auto n = static_cast<int32_t>(a.test_pcm.size());
    in.write(reinterpret_cast<const char*>(&n), 4);
    for (const auto& pcm : a.test_pcm) {
      const auto len = static_cast<int32_t>(pcm.size());
      in.write(reinterpret_cast<const char*>(&len), 4);
      in.write(reinterpret_cast<const char*>(pcm.data()), static_cast<std::streamsize>(pcm.size() * 2));
    }
  }
  ASSERT_EQ(run_cmd(fmt::format("cd {} && gcc -std=c99 -Wall -Wextra -Werror -pedantic -ffp-contract=off -O2 "
                                "$(pkg-config --cflags kissfft-float) main.c model.c rnnas_nn.c rnnas_status.c "
                                "rnnas_frontend.c -o model_host $(pkg-config --libs kissfft-float) -lm && "
                                "./model_host in.bin out.bin",
                                dir.string())),
            "");
  std::ifstream f(dir / "out.bin", std::ios::binary);
  std::vector<int32_t> host(static_cast<size_t>(q.outputs) * a.test_pcm.size());
  f.read(reinterpret_cast<char*>(host.data()), static_cast<std::streamsize>(host.size() * 4));
  ASSERT_EQ(f.gcount(), static_cast<std::streamsize>(host.size() * 4));
  EXPECT_EQ(host, q.run_all(a.data.test));
}

TEST(Export, GeneratedCodeCompilesForEveryCortexMClass) {
  if (std::getenv("RNNAS_NO_ARM")) GTEST_SKIP() << "RNNAS_NO_ARM set";
  ASSERT_EQ(run_cmd("arm-none-eabi-gcc --version"), "") << "scripts/deps.sh installs gcc-arm-none-eabi";
  const fs::path dir = fs::path(rnnas::test_util::temp_dir()) / "rnnas_export_arm";
  fs::remove_all(dir);
  Trained t = train("fastgrnn:12:urank=4,gru:8|head=mean", kMotion, 2);
  quant::export_c(quant::quantize(t.model, t.data.train), {dir.string(), "har", ""});
  AudioTask a = audio_task();
  nn::TrainOptions o;
  o.epochs = 1;
  auto r = nn::train(Arch::parse("gru:8|head=last"), a.data, o);
  quant::QModel kws = quant::quantize(r.model, a.data.train);
  kws.set_frontend(a.fe);
  quant::export_c(kws, {dir.string(), "kws", ""});
  for (const char* flags : {"-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft", "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft",
                            "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard",
                            "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard"})
    for (const char* f : {"har.c", "kws.c", "rnnas_nn.c", "rnnas_status.c", "rnnas_frontend.c"})
      // kissfft's headers (the front end's FFT) are plain C; Debian installs them under /usr/include/kissfft.
      EXPECT_EQ(run_cmd(fmt::format("cd {} && arm-none-eabi-gcc -std=c99 -Wall -Wextra -Werror -pedantic -Os {} "
                                    "-I/usr/include/kissfft -Dkiss_fft_scalar=float -c {} -o /dev/null",
                                    dir.string(), flags, f)),
                "")
          << flags;
}

}  // namespace

// End-to-end checks of the rnnas binary: exit codes and messages a user sees.
#include <gtest/gtest.h>

#include "test_util.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct CliRun {
  int code = -1;
  std::string out;
};

CliRun run(const std::string& args) {
  const std::string cmd = std::string(RNNAS_BINARY) + " " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(Cli, TrainSaveAndEval) {
  const auto model = (std::filesystem::path(rnnas::test_util::temp_dir()) / "rnnas_cli_model.json").string();
  const CliRun t = run("train --arch 'gru:8|head=last' --data 'sine:T=32,n=400' --epochs 2 --save " + model);
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("epoch   2"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("test loss"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("saved " + model), std::string::npos) << t.out;
  const CliRun e = run("eval --model " + model + " --data 'sine:T=32,n=400' --part all");
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("test  loss"), std::string::npos) << e.out;
  const CliRun mismatch = run("eval --model " + model + " --data 'adding:T=10,n=100'");
  EXPECT_EQ(mismatch.code, 2) << mismatch.out;
  EXPECT_NE(mismatch.out.find("error: "), std::string::npos) << mismatch.out;
  std::filesystem::remove(model);
}

TEST(Cli, BadInputIsAClearErrorWithExitCode2) {
  const CliRun arch = run("train --arch 'gru:0' --data 'sine'");
  EXPECT_EQ(arch.code, 2);
  EXPECT_NE(arch.out.find("error: arch 'gru:0': layer width must be a positive integer, got '0'"), std::string::npos)
      << arch.out;
  const auto bad = (std::filesystem::path(rnnas::test_util::temp_dir()) / "rnnas_cli_bad.csv").string();
  std::ofstream(bad) << "a,b,label\n1,2,x\n3,oops,y\n";
  const CliRun csv = run("data --data 'csv:" + bad + ",window=1,label=label'");
  EXPECT_EQ(csv.code, 2);
  EXPECT_NE(csv.out.find(bad + ":3: column 2 ('b') holds 'oops', which is not a number"), std::string::npos)
      << csv.out;
  std::filesystem::remove(bad);
  const CliRun missing = run("eval --model /nonexistent/model.json --data sine");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("/nonexistent/model.json: cannot open model file"), std::string::npos) << missing.out;
  const CliRun usage = run("train --epochs many");
  EXPECT_NE(usage.code, 0);
}

TEST(Cli, DataPrintsASummary) {
  const CliRun d = run("data --data 'adding:T=20,n=100,minT=5'");
  ASSERT_EQ(d.code, 0) << d.out;
  EXPECT_NE(d.out.find("regression, 2 features, 1 output"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("train 80 sequences, T=5..20"), std::string::npos) << d.out;
}

TEST(Cli, DataInspect) {
  const CliRun d = run("data inspect 'motion:subjects=5,per_subject=10,difficulty=0.3'");
  ASSERT_EQ(d.code, 0) << d.out;
  EXPECT_NE(d.out.find("features  6 (acc_x"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("class balance"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("no subject is in two parts"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("split     by subject"), std::string::npos) << d.out;
  const CliRun bad = run("data inspect 'ts:/nonexistent/X_TRAIN.ts'");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_EQ(bad.out, "error: /nonexistent/X_TRAIN.ts: cannot open file\n");
}

TEST(Cli, TargetsAndCost) {
  const CliRun t = run("targets");
  ASSERT_EQ(t.code, 0) << t.out;
  for (const char* name : {"samd21", "stm32f103", "nrf52840", "stm32f746", "nrf5340"})
    EXPECT_NE(t.out.find(name), std::string::npos) << name;
  const CliRun c = run("cost --arch 'lstm:20|head=last' --target nrf52840 --features 28 --steps 28 --outputs 10");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("3840 MACs/step, 107720 MACs/window"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("calibrated    on"), std::string::npos) << c.out;  // targets/calibration/nrf52840.json
  EXPECT_NE(c.out.find("cell[0]"), std::string::npos) << c.out;
  const CliRun u = run("cost --arch 'lstm:20|head=last' --target nrf5340 --features 28 --steps 28 --outputs 10");
  ASSERT_EQ(u.code, 0) << u.out;
  EXPECT_NE(u.out.find("(estimated)"), std::string::npos) << u.out;  // not calibrated
  const CliRun d = run("cost --arch 'gru:8|head=mean' --data 'sine:T=32,n=100' --target samd21 --quant float32");
  ASSERT_EQ(d.code, 0) << d.out;
  EXPECT_NE(d.out.find("1 features x 32 steps -> 4 outputs"), std::string::npos) << d.out;
  const CliRun bad = run("cost --arch 'gru:8' --target esp32 --features 1 --steps 1 --outputs 2");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("target 'esp32': no such target"), std::string::npos) << bad.out;
}

TEST(Cli, DivergenceExitsWith3) {
  const CliRun d = run("train --arch 'rnn:8' --data 'adding:T=20,n=200' --lr 1e30 --clip 0 --schedule constant --epochs 2");
  EXPECT_EQ(d.code, 3) << d.out;
  EXPECT_NE(d.out.find("status diverged"), std::string::npos) << d.out;
}

}  // namespace

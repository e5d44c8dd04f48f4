// Many workers on one PostgreSQL study: `rnnas study create`, 4 `rnnas worker` processes, one killed with
// SIGKILL in the middle of a trial. The budget is spent exactly, nothing completed is lost, no candidate is
// trained twice to completion, and the dead worker's trial fails and its candidate is trained again.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "pg_util.h"
#include "rnnas/core.h"
#include "rnnas/study.h"
#include "test_util.h"

using namespace rnnas;

namespace {

pid_t spawn_rnnas(const std::string& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + std::string(RNNAS_BINARY) + " " + args + " > " + log + " 2>&1").c_str(),
          nullptr);
    _exit(127);
  }
  return pid;
}

// Waits for a child up to `seconds`; -1 when it is still running (it is then killed).
int wait_exit(pid_t pid, double seconds) {
  const double t0 = now_seconds();
  int status = 0;
  while (now_seconds() - t0 < seconds) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

}  // namespace

TEST(Workers, FourWorkersOneKilledFinishTheBudgetWithoutLossOrDuplicates) {
  RNNAS_NEED_PG();
  const std::string url = test_util::pg_schema_url("workers_kill");
  const std::string dir = test_util::temp_dir() + "workers/";
  std::filesystem::create_directories(dir);
  constexpr int kBudget = 14;
  // Models of every worker in one folder (a shared file system on a cluster).
  ::setenv("RNNAS_MODELS_DIR", (dir + "models").c_str(), 1);
  const std::string q = "'" + url + "'";
  const int created = std::system(
      fmt::format("{} study create --storage {} --study w --data 'adding:T=60,n=2000' --target nrf52840 --space tiny "
                  "--trials {} --epochs 8 --no-asha --seed 5 > {}create.log 2>&1",
                  RNNAS_BINARY, q, kBudget, dir)
          .c_str());
  ASSERT_EQ(WEXITSTATUS(created), 0) << "see " << dir << "create.log";
  std::map<std::string, pid_t> workers;
  for (int i = 0; i < 4; ++i) {
    const std::string name = fmt::format("w{}", i);
    workers[name] = spawn_rnnas(fmt::format("worker --storage {} --study w --jobs 1 --name {} --heartbeat 0.3 "
                                            "--stale-after 2 --quiet",
                                            q, name),
                                dir + name + ".log");
  }
  // Wait for a trial in mid-training (two epochs reported) while others have completed, then kill -9 its
  // worker.
  auto store = open_storage(url);
  const int64_t sid = store->find_study("w")->id;
  Trial victim;
  std::vector<Trial> before;
  const double t0 = now_seconds();
  while (now_seconds() - t0 < 120 && victim.number < 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    before = store->trials(sid);
    int complete = 0;
    for (const auto& t : before) complete += t.state == TrialState::complete;
    if (complete < 2) continue;
    for (const auto& t : before)
      if (t.state == TrialState::running && t.curve.size() >= 2) {
        victim = t;
        break;
      }
  }
  ASSERT_GE(victim.number, 0) << "no trial was seen in mid-training";
  const std::string dead = victim.worker.substr(0, victim.worker.find(':'));
  ASSERT_TRUE(workers.count(dead)) << victim.worker;
  kill(workers[dead], SIGKILL);
  EXPECT_EQ(wait_exit(workers[dead], 10), 128 + SIGKILL);
  workers.erase(dead);
  for (const auto& [name, pid] : workers) EXPECT_EQ(wait_exit(pid, 240), 0) << name << " did not finish";

  const std::vector<Trial> after = store->trials(sid);
  // The budget is spent exactly: every counted trial finished, none waits or runs.
  int counted = 0;
  for (const auto& t : after) {
    EXPECT_TRUE(finished(t.state)) << "trial " << t.number << " is " << to_string(t.state);
    counted += t.counted;
  }
  EXPECT_EQ(counted, kBudget);
  EXPECT_EQ(store->budget_used(sid), kBudget);
  // Nothing completed before the kill was lost or changed.
  for (const auto& t : before)
    if (t.state == TrialState::complete) {
      const Trial& now = after[static_cast<size_t>(t.number)];
      EXPECT_EQ(now.state, TrialState::complete);
      EXPECT_EQ(now.metrics.at("val_error"), t.metrics.at("val_error"));
      EXPECT_EQ(now.arch, t.arch);
    }
  // No candidate trained twice to completion (or to a pruning).
  std::multiset<std::string> trained;
  for (const auto& t : after)
    if (t.state == TrialState::complete || t.state == TrialState::pruned) trained.insert(t.arch);
  EXPECT_EQ(std::set<std::string>(trained.begin(), trained.end()).size(), trained.size());
  // The dead worker's trial failed (not counted) and its candidate was trained again by another worker.
  const Trial& gone = after[static_cast<size_t>(victim.number)];
  EXPECT_EQ(gone.state, TrialState::failed);
  EXPECT_FALSE(gone.counted);
  EXPECT_NE(gone.reason.find("stopped sending heartbeats"), std::string::npos) << gone.reason;
  bool retried = false;
  for (const auto& t : after)
    if (t.number > victim.number && t.arch == victim.arch && t.seed == victim.seed) {
      retried = true;
      EXPECT_EQ(t.state, TrialState::complete);
      EXPECT_NE(t.worker.substr(0, t.worker.find(':')), dead);
    }
  EXPECT_TRUE(retried) << "the dead worker's candidate was not trained again";
  // Work was shared: at least two of the surviving workers completed trials.
  std::set<std::string> who;
  for (const auto& t : after)
    if (t.state == TrialState::complete) who.insert(t.worker.substr(0, t.worker.find(':')));
  EXPECT_GE(who.size(), 2u);
  ::unsetenv("RNNAS_MODELS_DIR");
}

TEST(Workers, JoiningAMissingStudyOrServerIsAClearError) {
  RNNAS_NEED_PG();
  const std::string url = test_util::pg_schema_url("workers_missing");
  const std::string dir = test_util::temp_dir();
  const int rc = std::system(fmt::format("{} worker --storage '{}' --study nope --quiet > {}missing.log 2>&1",
                                         RNNAS_BINARY, url, dir)
                                 .c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  std::ifstream in(dir + "missing.log");
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(log.find("no study named 'nope' to join"), std::string::npos) << log;
  EXPECT_EQ(log.find(":rnnas-test-secret@"), std::string::npos) << "the password was printed";
}

// The documented Slurm example runs as two array tasks (SLURM_* variables set as Slurm would) against the
// test server and finishes the study.
TEST(Workers, TheSlurmExampleScriptRunsTheStudy) {
  RNNAS_NEED_PG();
  const std::string url = test_util::pg_schema_url("workers_slurm");
  const std::string dir = test_util::temp_dir() + "slurm/";
  std::filesystem::create_directories(dir);
  const std::string bin = RNNAS_BINARY;
  ASSERT_EQ(WEXITSTATUS(std::system(fmt::format("{} study create --storage '{}' --study slurm --data 'sine:classes=3,T=24' "
                                                "--target nrf52840 --space tiny --trials 6 --epochs 2 > {}create.log 2>&1",
                                                bin, url, dir)
                                        .c_str())),
            0);
  const std::string bin_dir = std::filesystem::path(bin).parent_path().string();
  std::vector<pid_t> tasks;
  for (int task = 0; task < 2; ++task) {
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string cmd = fmt::format(
          "PATH='{}':\"$PATH\" RNNAS_STORAGE='{}' RNNAS_STUDY=slurm RNNAS_MODELS_DIR='{}models' SLURM_ARRAY_JOB_ID=77 "
          "SLURM_ARRAY_TASK_ID={} SLURM_CPUS_PER_TASK=1 exec bash '{}/examples/cluster/slurm-workers.sh' > "
          "{}task{}.log 2>&1",
          bin_dir, url, dir, task, RNNAS_SOURCE_DIR, dir, task);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      _exit(127);
    }
    tasks.push_back(pid);
  }
  for (pid_t p : tasks) EXPECT_EQ(wait_exit(p, 120), 0);
  auto store = open_storage(url);
  const auto trials = store->trials(store->find_study("slurm")->id);
  int counted = 0;
  std::set<std::string> names;
  for (const auto& t : trials) {
    counted += t.counted && finished(t.state);
    names.insert(t.worker.substr(0, t.worker.rfind(':')));
  }
  EXPECT_EQ(counted, 6);
  EXPECT_TRUE(names.count("slurm-77-0") || names.count("slurm-77-1")) << "worker names from the script";
}

// A database that fails under a running worker (its tables dropped) ends it with a clear error and exit
// code 2, not a crash.
TEST(Workers, AStorageFailureEndsTheWorkerWithAClearError) {
  RNNAS_NEED_PG();
  const std::string url = test_util::pg_schema_url("workers_failure");
  const std::string dir = test_util::temp_dir() + "failure/";
  std::filesystem::create_directories(dir);
  const std::string bin = RNNAS_BINARY;
  ASSERT_EQ(WEXITSTATUS(std::system(fmt::format("{} study create --storage '{}' --study f --data 'adding:T=60,n=2000' "
                                                "--target nrf52840 --space tiny --trials 50 --epochs 30 --no-asha > "
                                                "{}create.log 2>&1",
                                                bin, url, dir)
                                        .c_str())),
            0);
  ::setenv("RNNAS_MODELS_DIR", (dir + "models").c_str(), 1);  // not ./rnnas-models of the test's folder
  const pid_t pid = spawn_rnnas(fmt::format("worker --storage '{}' --study f --jobs 2 --quiet", url), dir + "w.log");
  ::unsetenv("RNNAS_MODELS_DIR");
  auto store = open_storage(url);
  const int64_t sid = store->find_study("f")->id;
  bool running = false;
  for (int i = 0; i < 600 && !running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& t : store->trials(sid)) running = running || (t.state == TrialState::running && !t.curve.empty());
  }
  ASSERT_TRUE(running);
  const std::string schema = url.substr(url.rfind("%3D") + 3);
  test_util::pg_exec(test_util::pg_url(), fmt::format("DROP TABLE {}.rnnas_trials CASCADE", schema));
  EXPECT_EQ(wait_exit(pid, 60), 2);
  std::ifstream in(dir + "w.log");
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(log.find("error: "), std::string::npos) << log;
  EXPECT_NE(log.find("rnnas_trials"), std::string::npos) << log;
  EXPECT_EQ(log.find("terminate called"), std::string::npos) << log;
}

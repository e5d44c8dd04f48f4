// The storage conformance suite (every backend must pass it) and the study-file error cases.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "rnnas/core.h"
#include "rnnas/study.h"
#include "test_util.h"

namespace rnnas {
namespace {
namespace fs = std::filesystem;
using test_util::error_of;

// A backend under test: opens (a new connection to) the same store each call.
struct Backend {
  std::string name;
  std::function<std::unique_ptr<Storage>()> open;
};

class StorageConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised names hold a '/'
    path_ = (fs::path(rnnas::test_util::temp_dir()) / ("rnnas_store_" + name + ".db")).string();
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(path_ + ext);
  }
  std::unique_ptr<Storage> open() {
    if (GetParam() == "sqlite") return open_sqlite(path_);
    return nullptr;
  }
  std::string path_;
};

Trial make(const std::string& arch, uint64_t seed = 1) {
  Trial t;
  t.arch = arch;
  t.seed = seed;
  t.strategy = "test";
  return t;
}

TEST_P(StorageConformance, StudiesAreCreatedFoundAndUnique) {
  auto s = open();
  const int64_t a = s->create_study("a", {{"data", "sine"}});
  const int64_t b = s->create_study("b", {});
  EXPECT_NE(a, b);
  ASSERT_TRUE(s->find_study("a"));
  EXPECT_EQ(s->find_study("a")->settings["data"], "sine");
  EXPECT_FALSE(s->find_study("c"));
  EXPECT_EQ(s->list_studies().size(), 2u);
  EXPECT_NE(error_of([&] { s->create_study("a", {}); }).find("a study named 'a' exists already"), std::string::npos);
}

TEST_P(StorageConformance, TrialsAreNumberedReportedFinishedAndImmutable) {
  auto s = open();
  const int64_t sid = s->create_study("s", {});
  EXPECT_EQ(s->add_trial(sid, make("gru:8|head=last"), TrialState::running), 0);
  EXPECT_EQ(s->add_trial(sid, make("gru:16|head=last"), TrialState::waiting), 1);
  EXPECT_EQ(s->add_trial(sid, make("lstm:8|head=last"), TrialState::running), 2);
  s->report(sid, 0, 1, 0.5);
  s->report(sid, 0, 2, 0.25);
  EXPECT_NE(error_of([&] { s->report(sid, 0, 4, 0.1); }).find("reports epoch 4 after 2 epochs"), std::string::npos);
  EXPECT_NE(error_of([&] { s->report(sid, 1, 1, 0.1); }).find("is waiting, not running"), std::string::npos);
  s->finish(sid, 0, TrialState::complete, {{"val_error", 0.25}}, {{"flash_bytes", 1234}}, "", 1.5);
  const Trial t = s->get_trial(sid, 0);
  EXPECT_EQ(t.state, TrialState::complete);
  EXPECT_EQ(t.curve, (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(t.metrics.at("val_error"), 0.25);
  EXPECT_EQ(t.costs.at("flash_bytes"), 1234);
  EXPECT_EQ(t.wall_seconds, 1.5);
  EXPECT_EQ(t.arch, "gru:8|head=last");
  EXPECT_NE(error_of([&] { s->finish(sid, 0, TrialState::failed, {}, {}, "x", 0); }).find("already complete"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s->report(sid, 0, 3, 0.1); }).find("is complete, not running"), std::string::npos);
  s->set_attr(sid, 0, "test_error", 0.3);
  EXPECT_EQ(s->get_trial(sid, 0).metrics.at("test_error"), 0.3);
  EXPECT_NE(error_of([&] { s->get_trial(sid, 9); }).find("has no trial 9"), std::string::npos);
  EXPECT_NE(error_of([&] { s->add_trial(sid + 100, make("gru:8|head=last"), TrialState::running); })
                .find("no study with id"),
            std::string::npos);
  const auto all = s->trials(sid);
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].number, static_cast<int64_t>(i));
}

TEST_P(StorageConformance, DataSurvivesReopening) {
  int64_t sid;
  {
    auto s = open();
    sid = s->create_study("s", {{"seed", 3}});
    s->add_trial(sid, make("gru:8|head=last", 42), TrialState::running);
    s->report(sid, 0, 1, 0.75);
  }
  auto s = open();
  const Trial t = s->get_trial(sid, 0);
  EXPECT_EQ(t.seed, 42u);
  EXPECT_EQ(t.curve, (std::vector<double>{0.75}));
  EXPECT_EQ(t.state, TrialState::running);
}

TEST_P(StorageConformance, StaleRunningTrialsFailAndAreReturned) {
  auto s = open();
  const int64_t sid = s->create_study("s", {});
  s->add_trial(sid, make("a:1"), TrialState::running);
  s->add_trial(sid, make("b:1"), TrialState::running);
  s->finish(sid, 1, TrialState::complete, {}, {}, "", 0);
  EXPECT_TRUE(s->fail_stale(sid, 3600, "dead").empty());  // touched just now
  const auto stale = s->fail_stale(sid, 0, "worker died");
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].arch, "a:1");
  EXPECT_EQ(s->get_trial(sid, 0).state, TrialState::failed);
  EXPECT_EQ(s->get_trial(sid, 0).reason, "worker died");
  EXPECT_EQ(s->get_trial(sid, 1).state, TrialState::complete);
}

// Several connections (as several processes would have) claim waiting trials: each exactly once.
TEST_P(StorageConformance, ClaimsAreAtomicAcrossConnections) {
  int64_t sid;
  constexpr int kTrials = 60;
  {
    auto s = open();
    sid = s->create_study("s", {});
    for (int i = 0; i < kTrials; ++i) s->add_trial(sid, make(fmt::format("gru:{}", i + 1)), TrialState::waiting);
  }
  std::mutex mu;
  std::multiset<int64_t> claimed;
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      auto s = open();
      while (auto t = s->claim_waiting(sid, fmt::format("w{}", w))) {
        std::lock_guard lock(mu);
        claimed.insert(t->number);
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(claimed.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()).size(), static_cast<size_t>(kTrials));
  auto s = open();
  for (const auto& t : s->trials(sid)) EXPECT_EQ(t.state, TrialState::running);
  EXPECT_FALSE(s->claim_waiting(sid, "late"));
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageConformance, ::testing::Values("sqlite"));

// ---- study-file errors (SQLite) ----
TEST(StudyFile, CorruptForeignAndNewerFilesGiveClearErrors) {
  const std::string dir = (fs::path(rnnas::test_util::temp_dir()) / "rnnas_studyfile").string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string garbage = dir + "/garbage.db";
  std::ofstream(garbage) << "this is not a database at all, just some text that is long enough";
  EXPECT_EQ(error_of([&] { open_sqlite(garbage); }), garbage + ": not a study file (not an SQLite database)");
  // A real SQLite file of another application.
  const std::string foreign = dir + "/foreign.db";
  sqlite3* db = nullptr;
  sqlite3_open(foreign.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE customers(id INTEGER)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(error_of([&] { open_sqlite(foreign); }),
            foreign + ": an SQLite database of another application, not an rnnas study file");
  // A study file from a newer rnnas.
  const std::string newer = dir + "/newer.db";
  { open_sqlite(newer)->create_study("s", {}); }
  sqlite3_open(newer.c_str(), &db);
  sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(error_of([&] { open_sqlite(newer); }),
            newer + ": study file schema version 99 is newer than this rnnas (1); update rnnas");
  // A damaged page in the middle of a real study file.
  const std::string damaged = dir + "/damaged.db";
  {
    auto s = open_sqlite(damaged);
    const int64_t sid = s->create_study("s", {});
    for (int i = 0; i < 200; ++i) s->add_trial(sid, make(std::string(200, 'x')), TrialState::running);
  }
  {
    // Checkpoint the WAL into the main file, then overwrite its second half.
    sqlite3_open(damaged.c_str(), &db);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    const auto size = fs::file_size(damaged);
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    const std::string junk(size / 2, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const std::string msg = error_of([&] {
    auto s = open_sqlite(damaged);
    s->trials(s->find_study("s")->id);
  });
  EXPECT_EQ(msg.rfind(damaged + ":", 0), 0u) << msg;
  EXPECT_NE(msg, "no error");
  EXPECT_EQ(error_of([&] { open_sqlite(dir); }), dir + ": is a directory, expected a study file");
}

}  // namespace
}  // namespace rnnas

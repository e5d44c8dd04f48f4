// The storage conformance suite (every backend must pass it) and the study-file error cases.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "rnnas/core.h"
#include "rnnas/study.h"
#include "pg_util.h"
#include "test_util.h"

namespace rnnas {
namespace {
namespace fs = std::filesystem;
using test_util::error_of;
using test_util::pg_schema_url;
using test_util::pg_url;

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
    if (GetParam() == "postgresql") {
      RNNAS_NEED_PG();
      path_ = pg_schema_url(name);
      return;
    }
    path_ = (fs::path(rnnas::test_util::temp_dir()) / ("rnnas_store_" + name + ".db")).string();
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(path_ + ext);
  }
  std::unique_ptr<Storage> open() { return GetParam() == "sqlite" ? open_sqlite(path_) : open_postgres(path_); }
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

// The budget (contract 7): several connections add budgeted trials; exactly `budget` are admitted.
TEST_P(StorageConformance, BudgetIsNeverOverrunAcrossConnections) {
  int64_t sid;
  {
    auto s = open();
    sid = s->create_study("s", {});
    Trial rejected = make("rejected:1");
    rejected.counted = false;  // rejections do not count
    EXPECT_EQ(s->add_trial(sid, rejected, TrialState::running, {0, false}), 0);
    EXPECT_EQ(s->budget_used(sid), 0);
  }
  constexpr int kBudget = 25;
  std::atomic<int> next{0}, admitted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&] {
      auto s = open();
      for (;;) {
        const int i = next++;
        if (i >= 60) break;
        const int64_t n = s->add_trial(sid, make(fmt::format("gru:{}", i + 1)), TrialState::running, {kBudget, true});
        if (n >= 0) ++admitted;
        else if (n == kBudgetSpent) ++refused;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), kBudget);
  EXPECT_EQ(refused.load(), 60 - kBudget);
  auto s = open();
  EXPECT_EQ(s->budget_used(sid), kBudget);
  // A waiting trial is not claimed beyond the budget either.
  EXPECT_GE(s->add_trial(sid, make("waiting:1"), TrialState::waiting, {kBudget, false}), 0);
  EXPECT_FALSE(s->claim_waiting(sid, "w", kBudget));
  EXPECT_TRUE(s->claim_waiting(sid, "w", kBudget + 1));
  EXPECT_EQ(s->budget_used(sid), kBudget + 1);
}

// Release (contract 8) and uniqueness of archs.
TEST_P(StorageConformance, ReleasedTrialsOfferTheirCandidateAgain) {
  auto s = open();
  const int64_t sid = s->create_study("s", {});
  Trial t = make("lstm:8|head=last", 77);
  EXPECT_EQ(s->add_trial(sid, t, TrialState::running, {-1, true}), 0);
  EXPECT_EQ(s->add_trial(sid, t, TrialState::running, {-1, true}), kArchTaken);
  s->report(sid, 0, 1, 0.5);
  EXPECT_EQ(s->budget_used(sid), 1);
  const int64_t again = s->release(sid, 0, "interrupted: test");
  EXPECT_EQ(again, 1);
  const Trial gone = s->get_trial(sid, 0);
  EXPECT_EQ(gone.state, TrialState::failed);
  EXPECT_EQ(gone.reason, "interrupted: test");
  EXPECT_FALSE(gone.counted);
  const Trial copy = s->get_trial(sid, again);
  EXPECT_EQ(copy.state, TrialState::waiting);
  EXPECT_EQ(copy.arch, t.arch);
  EXPECT_EQ(copy.seed, 77u);
  EXPECT_TRUE(copy.curve.empty());
  EXPECT_EQ(s->budget_used(sid), 0);
  // The waiting copy holds the arch; a failed trial does not.
  EXPECT_EQ(s->add_trial(sid, t, TrialState::running, {-1, true}), kArchTaken);
  EXPECT_NE(error_of([&] { s->release(sid, 0, "x"); }).find("is failed, not running"), std::string::npos);
  // fail_stale releases too: the candidate is waiting again in the same transaction.
  const auto claimed = s->claim_waiting(sid, "w");
  ASSERT_TRUE(claimed);
  const auto stale = s->fail_stale(sid, 0, "interrupted: worker died");
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].number, again);
  const auto all = s->trials(sid);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].state, TrialState::waiting);
  EXPECT_EQ(all[2].arch, t.arch);
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageConformance, ::testing::Values("sqlite", "postgresql"));

// PostgreSQL: passwords never appear in locations or messages; bad URLs and servers give clear errors.
TEST(PostgresStorage, CredentialsAreNeverPrintedAndErrorsAreClear) {
  EXPECT_EQ(redact_url("postgresql://ann:s3cret@db.example:5432/rnnas?sslmode=require"),
            "postgresql://ann@db.example:5432/rnnas?sslmode=require");
  EXPECT_EQ(redact_url("postgresql://db/rnnas?user=ann&password=s3cret&sslmode=disable"),
            "postgresql://db/rnnas?user=ann&password=***&sslmode=disable");
  EXPECT_EQ(redact_url("postgresql://ann@db/rnnas"), "postgresql://ann@db/rnnas");
  EXPECT_TRUE(is_url("postgresql://x/y"));
  EXPECT_FALSE(is_url("study.db"));
  EXPECT_FALSE(is_url("./dir/with://odd"));
  EXPECT_NE(error_of([] { open_storage("mysql://u:pw@h/db"); }).find("'mysql://u@h/db': unknown kind"),
            std::string::npos);
  // Nothing listens on port 1: the error names the URL (without the password) and the reason.
  const std::string msg = error_of([] { open_storage("postgresql://ann:s3cret@127.0.0.1:1/rnnas?connect_timeout=2"); });
  EXPECT_EQ(msg.find("s3cret"), std::string::npos) << msg;
  EXPECT_NE(msg.find("postgresql://ann@127.0.0.1:1/rnnas?connect_timeout=2: cannot connect to PostgreSQL"),
            std::string::npos)
      << msg;
  RNNAS_NEED_PG();
  // A wrong password: refused, and neither password is printed.
  std::string wrong = pg_url();
  const size_t at = wrong.find('@'), colon = wrong.find(':', wrong.find("://") + 3);
  ASSERT_TRUE(at != std::string::npos && colon < at) << "the test URL carries a password";
  const std::string real_password = wrong.substr(colon + 1, at - colon - 1);
  wrong.replace(colon + 1, at - colon - 1, "not-the-password");
  const std::string refused = error_of([&] { open_storage(wrong); });
  EXPECT_NE(refused.find("cannot connect to PostgreSQL"), std::string::npos) << refused;
  EXPECT_NE(refused.find("password authentication failed"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("not-the-password"), std::string::npos) << refused;
  auto s = open_storage(pg_schema_url("credentials"));
  EXPECT_EQ(s->location().find(real_password), std::string::npos) << s->location();
  EXPECT_EQ(error_of([&] { s->get_trial(12345, 0); }).find(real_password), std::string::npos);
  // The password may come from PGPASSWORD instead of the URL.
  std::string bare = pg_schema_url("pgpassword");
  bare.erase(colon, at - colon);
  ::setenv("PGPASSWORD", real_password.c_str(), 1);
  EXPECT_NO_THROW(open_storage(bare)->create_study("from-env", {}));
  ::unsetenv("PGPASSWORD");
}

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
            newer + ": study file schema version 99 is newer than this rnnas (2); update rnnas");
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

// SQLite study storage: one file, WAL journal, one transaction per call, a schema version.
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "rnnas/core.h"
#include "common.h"
#include "rnnas/study.h"

namespace rnnas {
namespace {

// The columns of a trial, in the order trial_from() reads them.
#define RNNAS_SELECT_TRIAL \
  "SELECT number, state, arch, seed, strategy, curve, metrics, costs, reason, wall, created, updated, worker, counted " \
  "FROM trials"

// 2: trials.counted (the budget, contract 7).
constexpr int kSchemaVersion = 2;
constexpr int kApplicationId = 0x726e6e61;  // "rnna"

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::string& where) : db_(db), where_(where) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  // true while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
    return false;
  }
  int64_t i64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double f64(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, c))) : "";
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  [[noreturn]] void fail(const char* what) const {
    throw Error(fmt::format("{}: SQLite {} failed: {}", where_, what, sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string where_;
};

using namespace study_common;

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(const std::string& path) : path_(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw Error(fmt::format("{}: is a directory, expected a study file", path));
    const bool existed = std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0;
    if (existed) {
      // SQLite files start with "SQLite format 3\0"; anything else is not a study file.
      std::ifstream in(path, std::ios::binary);
      char head[16] = {};
      in.read(head, 16);
      if (in.gcount() < 16 || std::string_view(head, 16) != std::string_view("SQLite format 3\0", 16))
        throw Error(fmt::format("{}: not a study file (not an SQLite database)", path));
    }
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(fmt::format("{}: cannot open study file: {}", path, msg));
    }
    sqlite3_busy_timeout(db_, 30000);
    try {
      init(existed);
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }
  ~SqliteStorage() override { sqlite3_close(db_); }

  std::string location() const override { return path_; }

  int64_t create_study(const std::string& name, const nlohmann::json& settings) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    {
      Statement q(db_, "SELECT id FROM studies WHERE name = ?", path_);
      q.bind(1, name);
      if (q.step()) throw Error(fmt::format("{}: a study named '{}' exists already (use --resume)", path_, name));
    }
    Statement ins(db_, "INSERT INTO studies(name, settings, created) VALUES (?, ?, ?)", path_);
    ins.bind(1, name).bind(2, settings.dump()).bind(3, unix_now());
    ins.step();
    const int64_t id = sqlite3_last_insert_rowid(db_);
    tx.commit();
    return id;
  }

  std::optional<StudyInfo> find_study(const std::string& name) override {
    std::lock_guard lock(mu_);
    Statement q(db_, "SELECT id, name, settings, created FROM studies WHERE name = ?", path_);
    q.bind(1, name);
    if (!q.step()) return std::nullopt;
    return study_from(q);
  }

  std::vector<StudyInfo> list_studies() override {
    std::lock_guard lock(mu_);
    Statement q(db_, "SELECT id, name, settings, created FROM studies ORDER BY id", path_);
    std::vector<StudyInfo> out;
    while (q.step()) out.push_back(study_from(q));
    return out;
  }

  int64_t add_trial(int64_t study, const Trial& t, TrialState state, const Admission& admit) override {
    check_new_state(path_, state);
    std::lock_guard lock(mu_);
    Tx tx(*this);
    check_study(study);
    if (admit.budget >= 0 && t.counted && state != TrialState::waiting && used(study) >= admit.budget)
      return kBudgetSpent;
    if (admit.unique_arch) {
      Statement q(db_, "SELECT 1 FROM trials WHERE study = ? AND arch = ? AND state <> 'failed' LIMIT 1", path_);
      q.bind(1, study).bind(2, t.arch);
      if (q.step()) return kArchTaken;
    }
    const int64_t number = insert(study, t, state);
    tx.commit();
    return number;
  }

  std::optional<Trial> claim_waiting(int64_t study, const std::string& worker, int64_t budget) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    check_study(study);
    int64_t number = -1;
    {
      Statement q(db_, "SELECT number FROM trials WHERE study = ? AND state = 'waiting' ORDER BY number LIMIT 1", path_);
      q.bind(1, study);
      if (!q.step()) return std::nullopt;
      number = q.i64(0);
    }
    if (budget >= 0 && used(study) >= budget) return std::nullopt;
    Statement up(db_, "UPDATE trials SET state = 'running', worker = ?, updated = ? WHERE study = ? AND number = ?",
                 path_);
    up.bind(1, worker).bind(2, unix_now()).bind(3, study).bind(4, number);
    up.step();
    Trial t = load(study, number);
    tx.commit();
    return t;
  }

  int64_t budget_used(int64_t study) override {
    std::lock_guard lock(mu_);
    check_study(study);
    return used(study);
  }

  void report(int64_t study, int64_t trial, int epoch, double val_error) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    Trial t = load(study, trial);
    check_report(path_, t, epoch);
    t.curve.push_back(val_error);
    Statement up(db_, "UPDATE trials SET curve = ?, updated = ? WHERE study = ? AND number = ?", path_);
    up.bind(1, to_json_text(t.curve)).bind(2, unix_now()).bind(3, study).bind(4, trial);
    up.step();
    tx.commit();
  }

  void finish(int64_t study, int64_t trial, TrialState state, const std::map<std::string, double>& metrics,
              const std::map<std::string, double>& costs, const std::string& reason, double wall_seconds) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    const Trial t = load(study, trial);
    check_finish(path_, t, state);
    std::map<std::string, double> m = t.metrics;
    for (const auto& [k, v] : metrics) m[k] = v;
    Statement up(db_,
                 "UPDATE trials SET state = ?, metrics = ?, costs = ?, reason = ?, wall = ?, updated = ? "
                 "WHERE study = ? AND number = ?",
                 path_);
    up.bind(1, std::string(to_string(state))).bind(2, to_json_text(m)).bind(3, to_json_text(costs));
    up.bind(4, reason).bind(5, wall_seconds).bind(6, unix_now()).bind(7, study).bind(8, trial);
    up.step();
    tx.commit();
  }

  void set_attr(int64_t study, int64_t trial, const std::string& key, double value) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    Trial t = load(study, trial);
    t.metrics[key] = value;
    Statement up(db_, "UPDATE trials SET metrics = ? WHERE study = ? AND number = ?", path_);
    up.bind(1, to_json_text(t.metrics)).bind(2, study).bind(3, trial);
    up.step();
    tx.commit();
  }

  int64_t release(int64_t study, int64_t trial, const std::string& reason) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    const Trial t = load(study, trial);
    check_release(path_, t);
    const int64_t again = release_locked(study, t, reason);
    tx.commit();
    return again;
  }

  std::vector<Trial> fail_stale(int64_t study, double seconds, const std::string& reason) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    check_study(study);
    std::vector<Trial> stale;
    {
      Statement q(db_, "SELECT number FROM trials WHERE study = ? AND state = 'running' AND updated < ? ORDER BY number",
                  path_);
      q.bind(1, study).bind(2, seconds <= 0 ? 1e300 : unix_now() - seconds);
      std::vector<int64_t> numbers;
      while (q.step()) numbers.push_back(q.i64(0));
      for (int64_t n : numbers) stale.push_back(load(study, n));
    }
    for (const auto& t : stale) release_locked(study, t, reason);
    tx.commit();
    return stale;
  }

  void touch(int64_t study, int64_t trial) override {
    std::lock_guard lock(mu_);
    Statement up(db_, "UPDATE trials SET updated = ? WHERE study = ? AND number = ? AND state = 'running'", path_);
    up.bind(1, unix_now()).bind(2, study).bind(3, trial);
    up.step();
  }

  Trial get_trial(int64_t study, int64_t trial) override {
    std::lock_guard lock(mu_);
    return load(study, trial);
  }

  std::vector<Trial> trials(int64_t study) override {
    std::lock_guard lock(mu_);
    check_study(study);
    Statement q(db_, RNNAS_SELECT_TRIAL " WHERE study = ? ORDER BY number", path_);
    q.bind(1, study);
    std::vector<Trial> out;
    while (q.step()) out.push_back(trial_from(q));
    return out;
  }

 private:

  // BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
  class Tx {
   public:
    explicit Tx(SqliteStorage& s) : s_(s) { s_.exec("BEGIN IMMEDIATE"); }
    void commit() {
      s_.exec("COMMIT");
      done_ = true;
    }
    ~Tx() {
      if (!done_) sqlite3_exec(s_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

   private:
    SqliteStorage& s_;
    bool done_ = false;
  };

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw Error(fmt::format("{}: {}", path_, msg));
    }
  }

  void init(bool existed) {
    // The first statement tells a corrupt file from a database.
    int64_t app_id = 0, tables = 0;
    try {
      Statement q(db_, "PRAGMA application_id", path_);
      q.step();
      app_id = q.i64(0);
      Statement t(db_, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'", path_);
      t.step();
      tables = t.i64(0);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: not a readable study file ({})", path_, sqlite3_errmsg(db_)));
    }
    if (existed && tables > 0 && app_id != kApplicationId)
      throw Error(fmt::format("{}: an SQLite database of another application, not an rnnas study file", path_));
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = FULL");
    exec("PRAGMA foreign_keys = ON");
    if (tables == 0) {
      exec("BEGIN IMMEDIATE");
      exec(fmt::format("PRAGMA application_id = {}", kApplicationId).c_str());
      exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      exec(fmt::format("INSERT INTO schema_version(version) VALUES ({})", kSchemaVersion).c_str());
      exec("CREATE TABLE IF NOT EXISTS studies (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
           "settings TEXT NOT NULL, created REAL NOT NULL)");
      exec("CREATE TABLE IF NOT EXISTS trials (study INTEGER NOT NULL REFERENCES studies(id), number INTEGER NOT "
           "NULL, state TEXT NOT NULL, arch TEXT NOT NULL, seed INTEGER NOT NULL, strategy TEXT NOT NULL, curve TEXT "
           "NOT NULL, metrics TEXT NOT NULL, costs TEXT NOT NULL, reason TEXT NOT NULL, wall REAL NOT NULL, created "
           "REAL NOT NULL, updated REAL NOT NULL, worker TEXT NOT NULL, counted INTEGER NOT NULL DEFAULT 1, "
           "PRIMARY KEY (study, number))");
      exec("CREATE INDEX IF NOT EXISTS trials_state ON trials(study, state)");
      exec("COMMIT");
      return;
    }
    Statement v(db_, "SELECT MAX(version) FROM schema_version", path_);
    v.step();
    const int64_t version = v.i64(0);
    if (version > kSchemaVersion)
      throw Error(fmt::format("{}: study file schema version {} is newer than this rnnas ({}); update rnnas", path_,
                              version, kSchemaVersion));
    if (version < 1) throw Error(fmt::format("{}: study file has no schema version (damaged?)", path_));
    if (version == 1) {
      // Version 1 files: trials gain `counted`; rejections and interrupted trials never counted.
      Tx tx(*this);
      int64_t now_version = 0;
      {
        Statement again(db_, "SELECT MAX(version) FROM schema_version", path_);
        again.step();
        now_version = again.i64(0);
      }
      if (now_version == 1) {  // not migrated by another process meanwhile
        exec("ALTER TABLE trials ADD COLUMN counted INTEGER NOT NULL DEFAULT 1");
        exec("UPDATE trials SET counted = 0 WHERE reason LIKE 'rejected by the cost model:%' OR "
             "reason LIKE 'interrupted:%'");
        exec("INSERT INTO schema_version(version) VALUES (2)");
      }
      tx.commit();
    }
  }

  // Under the lock, in a transaction.
  int64_t insert(int64_t study, const Trial& t, TrialState state) {
    int64_t number = 0;
    {
      Statement q(db_, "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study = ?", path_);
      q.bind(1, study);
      q.step();
      number = q.i64(0);
    }
    const double now = unix_now();
    Statement ins(db_,
                  "INSERT INTO trials(study, number, state, arch, seed, strategy, curve, metrics, costs, reason, wall, "
                  "created, updated, worker, counted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  path_);
    ins.bind(1, study).bind(2, number).bind(3, std::string(to_string(state))).bind(4, t.arch);
    ins.bind(5, static_cast<int64_t>(t.seed)).bind(6, t.strategy).bind(7, to_json_text(t.curve));
    ins.bind(8, to_json_text(t.metrics)).bind(9, to_json_text(t.costs)).bind(10, t.reason).bind(11, t.wall_seconds);
    ins.bind(12, now).bind(13, now).bind(14, t.worker).bind(15, static_cast<int64_t>(t.counted ? 1 : 0));
    ins.step();
    return number;
  }

  int64_t used(int64_t study) {
    Statement q(db_, "SELECT COUNT(*) FROM trials WHERE study = ? AND counted = 1 AND state <> 'waiting'", path_);
    q.bind(1, study);
    q.step();
    return q.i64(0);
  }

  int64_t release_locked(int64_t study, const Trial& t, const std::string& reason) {
    Statement up(db_,
                 "UPDATE trials SET state = 'failed', reason = ?, counted = 0, updated = ? WHERE study = ? AND number = ?",
                 path_);
    up.bind(1, reason).bind(2, unix_now()).bind(3, study).bind(4, t.number);
    up.step();
    return insert(study, candidate_of(t), TrialState::waiting);
  }

  void check_study(int64_t study) {
    Statement q(db_, "SELECT 1 FROM studies WHERE id = ?", path_);
    q.bind(1, study);
    if (!q.step()) throw Error(fmt::format("{}: no study with id {}", path_, study));
  }

  StudyInfo study_from(Statement& q) {
    StudyInfo s;
    s.id = q.i64(0);
    s.name = q.text(1);
    try {
      s.settings = nlohmann::json::parse(q.text(2));
    } catch (const nlohmann::json::exception&) {
      throw Error(fmt::format("{}: study '{}' has damaged settings", path_, s.name));
    }
    s.created = q.f64(3);
    return s;
  }

  Trial trial_from(Statement& q) {
    Trial t;
    t.number = q.i64(0);
    t.state = parse_trial_state(q.text(1));
    t.arch = q.text(2);
    t.seed = static_cast<uint64_t>(q.i64(3));
    t.strategy = q.text(4);
    parse_json_fields(path_, t, q.text(5), q.text(6), q.text(7));
    t.reason = q.text(8);
    t.wall_seconds = q.f64(9);
    t.created = q.f64(10);
    t.updated = q.f64(11);
    t.worker = q.text(12);
    t.counted = q.i64(13) != 0;
    return t;
  }

  Trial load(int64_t study, int64_t number) {
    Statement q(db_, RNNAS_SELECT_TRIAL " WHERE study = ? AND number = ?", path_);
    q.bind(1, study).bind(2, number);
    if (!q.step()) throw Error(fmt::format("{}: study {} has no trial {}", path_, study, number));
    return trial_from(q);
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace

std::string_view to_string(TrialState s) {
  switch (s) {
    case TrialState::waiting: return "waiting";
    case TrialState::running: return "running";
    case TrialState::complete: return "complete";
    case TrialState::pruned: return "pruned";
    case TrialState::failed: return "failed";
  }
  return "failed";
}

TrialState parse_trial_state(std::string_view s) {
  for (TrialState t : {TrialState::waiting, TrialState::running, TrialState::complete, TrialState::pruned,
                       TrialState::failed})
    if (to_string(t) == s) return t;
  throw Error(fmt::format("unknown trial state '{}'", s));
}

std::unique_ptr<Storage> open_sqlite(const std::string& path) { return std::make_unique<SqliteStorage>(path); }

std::unique_ptr<Storage> open_storage(const std::string& url) {
  if (url.rfind("sqlite:///", 0) == 0) return open_sqlite(url.substr(9));
  if (url.rfind("sqlite:", 0) == 0) return open_sqlite(url.substr(7));
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return open_postgres(url);
  if (is_url(url))
    throw Error(fmt::format("storage '{}': unknown kind (a study file, sqlite:FILE or postgresql://...)", redact_url(url)));
  return open_sqlite(url);
}

bool is_url(const std::string& storage) {
  const size_t p = storage.find("://");
  return p != std::string::npos && p > 0 &&
         storage.find_first_not_of("abcdefghijklmnopqrstuvwxyz+.-") == p;
}

std::string redact_url(const std::string& url) {
  std::string u = url;
  const size_t scheme = u.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t end = u.find_first_of("/?", start);
    const size_t at = u.rfind('@', end == std::string::npos ? u.size() : end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = u.find(':', start);
      if (colon != std::string::npos && colon < at) u.erase(colon, at - colon);
    }
  }
  // password=... among the parameters (URL query or key=value words)
  for (size_t p = 0; (p = u.find("password=", p)) != std::string::npos;) {
    const bool word = p == 0 || u[p - 1] == '?' || u[p - 1] == '&' || u[p - 1] == ' ';
    if (!word) {
      p += 9;
      continue;
    }
    const size_t end = u.find_first_of("& ", p);
    u.erase(p + 9, (end == std::string::npos ? u.size() : end) - (p + 9));
    u.insert(p + 9, "***");
    p += 12;
  }
  return u;
}

}  // namespace rnnas

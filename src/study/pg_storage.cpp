// PostgreSQL study storage (libpq): the meeting point of many workers. One transaction per call; the
// study's row lock serialises what must be serialised (numbering, the budget), SKIP LOCKED hands each
// waiting trial to one worker; times come from the server's clock, so heartbeats compare across machines.
#include <fmt/format.h>
#include <libpq-fe.h>

#include <mutex>
#include <optional>

#include "rnnas/core.h"
#include "common.h"
#include "rnnas/study.h"

namespace rnnas {
namespace {

constexpr int kPgSchemaVersion = 1;
constexpr int64_t kSchemaLock = 0x726e6e61;  // "rnna": advisory lock held while creating the tables

#define RNNAS_PG_TRIAL_COLUMNS \
  "number, state, arch, seed, strategy, curve, metrics, costs, reason, wall, created, updated, worker, counted"
#define RNNAS_PG_NOW "EXTRACT(EPOCH FROM clock_timestamp())::double precision"

using namespace study_common;

// A query result, cleared on scope exit.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  ~Result() { PQclear(r_); }
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  Result& operator=(Result&&) = delete;
  bool ok() const {
    const ExecStatusType s = PQresultStatus(r_);
    return r_ && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
  }
  // The server's primary message ("relation ... does not exist"), without its position markers.
  std::string error() const {
    if (!r_) return "out of memory";
    const char* primary = PQresultErrorField(r_, PG_DIAG_MESSAGE_PRIMARY);
    return primary ? primary : PQresultErrorMessage(r_);
  }
  int rows() const { return PQntuples(r_); }
  std::string text(int row, int col) const { return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col)); }
  int64_t i64(int row, int col) const { return std::stoll(text(row, col)); }
  double f64(int row, int col) const { return std::stod(text(row, col)); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

 private:
  PGresult* r_;
};

class PostgresStorage final : public Storage {
 public:
  explicit PostgresStorage(const std::string& url) : where_(redact_url(url)) {
    conn_ = PQconnectdb(url.c_str());
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      const std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
      PQfinish(conn_);
      throw Error(fmt::format("{}: cannot connect to PostgreSQL: {}", where_, trim(msg)));
    }
    try {
      exec("SET client_min_messages = warning");
      init();
    } catch (...) {
      PQfinish(conn_);
      throw;
    }
  }
  ~PostgresStorage() override { PQfinish(conn_); }

  std::string location() const override { return where_; }

  int64_t create_study(const std::string& name, const nlohmann::json& settings) override {
    std::lock_guard lock(mu_);
    Result r = query("INSERT INTO rnnas_studies(name, settings, created) VALUES ($1, $2, " RNNAS_PG_NOW
                     ") ON CONFLICT (name) DO NOTHING RETURNING id",
                     {name, settings.dump()});
    if (r.rows() == 0) throw Error(fmt::format("{}: a study named '{}' exists already (use --resume)", where_, name));
    return r.i64(0, 0);
  }

  std::optional<StudyInfo> find_study(const std::string& name) override {
    std::lock_guard lock(mu_);
    Result r = query("SELECT id, name, settings, created FROM rnnas_studies WHERE name = $1", {name});
    if (r.rows() == 0) return std::nullopt;
    return study_from(r, 0);
  }

  std::vector<StudyInfo> list_studies() override {
    std::lock_guard lock(mu_);
    Result r = query("SELECT id, name, settings, created FROM rnnas_studies ORDER BY id", {});
    std::vector<StudyInfo> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(study_from(r, i));
    return out;
  }

  int64_t add_trial(int64_t study, const Trial& t, TrialState state, const Admission& admit) override {
    check_new_state(where_, state);
    std::lock_guard lock(mu_);
    Tx tx(*this);
    lock_study(study);
    if (admit.budget >= 0 && t.counted && state != TrialState::waiting && used(study) >= admit.budget)
      return kBudgetSpent;
    if (admit.unique_arch &&
        query("SELECT 1 FROM rnnas_trials WHERE study = $1 AND arch = $2 AND state <> 'failed' LIMIT 1",
              {std::to_string(study), t.arch})
                .rows() > 0)
      return kArchTaken;
    const int64_t number = insert(study, t, state);
    tx.commit();
    return number;
  }

  std::optional<Trial> claim_waiting(int64_t study, const std::string& worker, int64_t budget) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    lock_study(study);  // claims and budgeted adds of one study take turns: the budget check holds
    if (budget >= 0 && used(study) >= budget) return std::nullopt;
    Result r = query("UPDATE rnnas_trials SET state = 'running', worker = $2, updated = " RNNAS_PG_NOW
                     " WHERE study = $1 AND number = (SELECT number FROM rnnas_trials WHERE study = $1 AND state = "
                     "'waiting' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " RNNAS_PG_TRIAL_COLUMNS,
                     {std::to_string(study), worker});
    if (r.rows() == 0) return std::nullopt;
    Trial t = trial_from(r, 0);
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
    Trial t = load(study, trial, true);
    check_report(where_, t, epoch);
    t.curve.push_back(val_error);
    query("UPDATE rnnas_trials SET curve = $3, updated = " RNNAS_PG_NOW " WHERE study = $1 AND number = $2",
          {std::to_string(study), std::to_string(trial), to_json_text(t.curve)});
    tx.commit();
  }

  void finish(int64_t study, int64_t trial, TrialState state, const std::map<std::string, double>& metrics,
              const std::map<std::string, double>& costs, const std::string& reason, double wall_seconds) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    const Trial t = load(study, trial, true);
    check_finish(where_, t, state);
    std::map<std::string, double> m = t.metrics;
    for (const auto& [k, v] : metrics) m[k] = v;
    query("UPDATE rnnas_trials SET state = $3, metrics = $4, costs = $5, reason = $6, wall = $7, updated = " RNNAS_PG_NOW
          " WHERE study = $1 AND number = $2",
          {std::to_string(study), std::to_string(trial), std::string(to_string(state)), to_json_text(m),
           to_json_text(costs), reason, fmt::format("{:.17g}", wall_seconds)});
    tx.commit();
  }

  void set_attr(int64_t study, int64_t trial, const std::string& key, double value) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    Trial t = load(study, trial, true);
    t.metrics[key] = value;
    query("UPDATE rnnas_trials SET metrics = $3 WHERE study = $1 AND number = $2",
          {std::to_string(study), std::to_string(trial), to_json_text(t.metrics)});
    tx.commit();
  }

  int64_t release(int64_t study, int64_t trial, const std::string& reason) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    lock_study(study);
    const Trial t = load(study, trial, true);
    check_release(where_, t);
    const int64_t again = release_locked(study, t, reason);
    tx.commit();
    return again;
  }

  std::vector<Trial> fail_stale(int64_t study, double seconds, const std::string& reason) override {
    std::lock_guard lock(mu_);
    Tx tx(*this);
    lock_study(study);
    Result r = query("SELECT " RNNAS_PG_TRIAL_COLUMNS " FROM rnnas_trials WHERE study = $1 AND state = 'running' AND "
                     "updated < " RNNAS_PG_NOW " - $2::double precision ORDER BY number FOR UPDATE",
                     {std::to_string(study), seconds <= 0 ? std::string("-1e300") : fmt::format("{:.17g}", seconds)});
    std::vector<Trial> stale;
    for (int i = 0; i < r.rows(); ++i) stale.push_back(trial_from(r, i));
    for (const auto& t : stale) release_locked(study, t, reason);
    tx.commit();
    return stale;
  }

  void touch(int64_t study, int64_t trial) override {
    std::lock_guard lock(mu_);
    query("UPDATE rnnas_trials SET updated = " RNNAS_PG_NOW " WHERE study = $1 AND number = $2 AND state = 'running'",
          {std::to_string(study), std::to_string(trial)});
  }

  Trial get_trial(int64_t study, int64_t trial) override {
    std::lock_guard lock(mu_);
    return load(study, trial, false);
  }

  std::vector<Trial> trials(int64_t study) override {
    std::lock_guard lock(mu_);
    check_study(study);
    Result r = query("SELECT " RNNAS_PG_TRIAL_COLUMNS " FROM rnnas_trials WHERE study = $1 ORDER BY number",
                     {std::to_string(study)});
    std::vector<Trial> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(trial_from(r, i));
    return out;
  }

 private:
  // BEGIN ... COMMIT, rolled back unless committed.
  class Tx {
   public:
    explicit Tx(PostgresStorage& s) : s_(s) { s_.exec("BEGIN"); }
    void commit() {
      s_.exec("COMMIT");
      done_ = true;
    }
    ~Tx() {
      if (!done_) PQclear(PQexec(s_.conn_, "ROLLBACK"));
    }

   private:
    PostgresStorage& s_;
    bool done_ = false;
  };

  // A lost connection (server restart, network) is reopened once before a call gives up; never inside
  // a transaction, whose work would be lost silently.
  void ensure_connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK)
      throw Error(fmt::format("{}: lost the connection to PostgreSQL: {}", where_, trim(PQerrorMessage(conn_))));
  }

  void exec(const char* sql) {
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE || PQstatus(conn_) != CONNECTION_OK) ensure_connected();
    Result r(PQexec(conn_, sql));
    check(r, sql);
  }

  Result query(const char* sql, const std::vector<std::string>& params) {
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE || PQstatus(conn_) != CONNECTION_OK) ensure_connected();
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    Result r(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    check(r, sql);
    return r;
  }

  void check(const Result& r, const char* sql) {
    if (r.ok()) return;
    const std::string msg = r.error().empty() ? std::string(PQerrorMessage(conn_)) : r.error();
    throw Error(fmt::format("{}: PostgreSQL: {} (in: {:.60})", where_, trim(msg), sql));
  }

  void init() {
    Tx tx(*this);
    query("SELECT pg_advisory_xact_lock($1)", {std::to_string(kSchemaLock)});
    exec("CREATE TABLE IF NOT EXISTS rnnas_schema_version (version INTEGER NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS rnnas_studies (id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
         "settings TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS rnnas_trials (study BIGINT NOT NULL REFERENCES rnnas_studies(id), number BIGINT "
         "NOT NULL, state TEXT NOT NULL, arch TEXT NOT NULL, seed BIGINT NOT NULL, strategy TEXT NOT NULL, curve TEXT "
         "NOT NULL, metrics TEXT NOT NULL, costs TEXT NOT NULL, reason TEXT NOT NULL, wall DOUBLE PRECISION NOT NULL, "
         "created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL, worker TEXT NOT NULL, counted BOOLEAN "
         "NOT NULL DEFAULT TRUE, PRIMARY KEY (study, number))");
    exec("CREATE INDEX IF NOT EXISTS rnnas_trials_state ON rnnas_trials(study, state)");
    Result v = query("SELECT MAX(version) FROM rnnas_schema_version", {});
    if (v.null(0, 0)) {
      query("INSERT INTO rnnas_schema_version(version) VALUES ($1)", {std::to_string(kPgSchemaVersion)});
    } else if (v.i64(0, 0) > kPgSchemaVersion) {
      throw Error(fmt::format("{}: study schema version {} is newer than this rnnas ({}); update rnnas", where_,
                              v.i64(0, 0), kPgSchemaVersion));
    }
    tx.commit();
  }

  void check_study(int64_t study) {
    if (query("SELECT 1 FROM rnnas_studies WHERE id = $1", {std::to_string(study)}).rows() == 0)
      throw Error(fmt::format("{}: no study with id {}", where_, study));
  }
  // Row lock on the study (in a transaction): serialises numbering, claims and the budget.
  void lock_study(int64_t study) {
    if (query("SELECT 1 FROM rnnas_studies WHERE id = $1 FOR UPDATE", {std::to_string(study)}).rows() == 0)
      throw Error(fmt::format("{}: no study with id {}", where_, study));
  }

  int64_t used(int64_t study) {
    return query("SELECT COUNT(*) FROM rnnas_trials WHERE study = $1 AND counted AND state <> 'waiting'",
                 {std::to_string(study)})
        .i64(0, 0);
  }

  // In a transaction holding the study's lock.
  int64_t insert(int64_t study, const Trial& t, TrialState state) {
    Result r = query(
        "INSERT INTO rnnas_trials(study, number, state, arch, seed, strategy, curve, metrics, costs, reason, wall, "
        "created, updated, worker, counted) SELECT $1, COALESCE(MAX(number) + 1, 0), $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10, " RNNAS_PG_NOW ", " RNNAS_PG_NOW ", $11, $12 FROM rnnas_trials WHERE study = $1 RETURNING number",
        {std::to_string(study), std::string(to_string(state)), t.arch, std::to_string(static_cast<int64_t>(t.seed)),
         t.strategy, to_json_text(t.curve), to_json_text(t.metrics), to_json_text(t.costs), t.reason,
         fmt::format("{:.17g}", t.wall_seconds), t.worker, t.counted ? "true" : "false"});
    return r.i64(0, 0);
  }

  int64_t release_locked(int64_t study, const Trial& t, const std::string& reason) {
    query("UPDATE rnnas_trials SET state = 'failed', reason = $3, counted = FALSE, updated = " RNNAS_PG_NOW
          " WHERE study = $1 AND number = $2",
          {std::to_string(study), std::to_string(t.number), reason});
    return insert(study, candidate_of(t), TrialState::waiting);
  }

  StudyInfo study_from(const Result& r, int row) {
    StudyInfo s;
    s.id = r.i64(row, 0);
    s.name = r.text(row, 1);
    try {
      s.settings = nlohmann::json::parse(r.text(row, 2));
    } catch (const nlohmann::json::exception&) {
      throw Error(fmt::format("{}: study '{}' has damaged settings", where_, s.name));
    }
    s.created = r.f64(row, 3);
    return s;
  }

  Trial trial_from(const Result& r, int row) {
    Trial t;
    t.number = r.i64(row, 0);
    t.state = parse_trial_state(r.text(row, 1));
    t.arch = r.text(row, 2);
    t.seed = static_cast<uint64_t>(r.i64(row, 3));
    t.strategy = r.text(row, 4);
    parse_json_fields(where_, t, r.text(row, 5), r.text(row, 6), r.text(row, 7));
    t.reason = r.text(row, 8);
    t.wall_seconds = r.f64(row, 9);
    t.created = r.f64(row, 10);
    t.updated = r.f64(row, 11);
    t.worker = r.text(row, 12);
    t.counted = r.text(row, 13) == "t";
    return t;
  }

  Trial load(int64_t study, int64_t number, bool for_update) {
    Result r = query(for_update ? "SELECT " RNNAS_PG_TRIAL_COLUMNS
                                  " FROM rnnas_trials WHERE study = $1 AND number = $2 FOR UPDATE"
                                : "SELECT " RNNAS_PG_TRIAL_COLUMNS " FROM rnnas_trials WHERE study = $1 AND number = $2",
                     {std::to_string(study), std::to_string(number)});
    if (r.rows() == 0) throw Error(fmt::format("{}: study {} has no trial {}", where_, study, number));
    return trial_from(r, 0);
  }

  std::string where_;
  PGconn* conn_ = nullptr;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<Storage> open_postgres(const std::string& url) { return std::make_unique<PostgresStorage>(url); }

}  // namespace rnnas

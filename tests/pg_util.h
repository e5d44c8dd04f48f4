// The PostgreSQL server of the tests (scripts/test.sh starts one with scripts/pg.sh).
#pragma once

#include <fmt/format.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "rnnas/core.h"

namespace rnnas::test_util {

// The PostgreSQL server of the tests: $RNNAS_PG_URL (scripts/test.sh starts one with scripts/pg.sh and sets
// it, with RNNAS_REQUIRE_PG=1 so that its absence fails rather than skips).
inline std::string pg_url() {
  const char* url = std::getenv("RNNAS_PG_URL");
  return url ? url : "";
}

// Runs SQL on the test server (outside rnnas); throws on error.
inline void pg_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) err = PQerrorMessage(c);
    PQclear(r);
  }
  PQfinish(c);
  if (!err.empty()) throw Error("test PostgreSQL: " + err);
}

// A fresh schema of the test server for one test (tests run side by side in several processes), and
// the URL whose connections use it.
inline std::string pg_schema_url(const std::string& test) {
  std::string schema = fmt::format("t{}_{}", ::getpid(), test);
  std::transform(schema.begin(), schema.end(), schema.begin(), [](unsigned char c) {
    return std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '_';
  });
  const std::string url = pg_url();
  pg_exec(url, fmt::format("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", schema));
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

// Skips (or, with RNNAS_REQUIRE_PG=1 as scripts/test.sh sets, fails) a test when there is no server.
#define RNNAS_NEED_PG()                                                                                   \
  do {                                                                                                    \
    if (::rnnas::test_util::pg_url().empty()) {                                                           \
      if (std::getenv("RNNAS_REQUIRE_PG")) FAIL() << "RNNAS_PG_URL is not set (scripts/pg.sh start prints one)"; \
      GTEST_SKIP() << "RNNAS_PG_URL is not set: no PostgreSQL server to test (scripts/test.sh starts one)"; \
    }                                                                                                     \
  } while (0)

}  // namespace rnnas::test_util

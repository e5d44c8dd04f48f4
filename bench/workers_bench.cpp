// Many workers on one PostgreSQL study: trials per minute with 1, 2 and 4 `rnnas worker` processes on a
// fast synthetic task, and the storage time per trial each worker measured (every storage call timed).
// The peer is the same study with one worker on an SQLite study file, in the same run:
//   BENCH workers n=4 backend=postgresql trials=40 trials_per_min=... storage_ms_per_trial=...
//         trial_ms=... storage_share_pct=... speedup_vs_1=...
// Needs a server: --pg-url or $RNNAS_PG_URL (scripts/pg.sh start prints one).
#include <fmt/format.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#include "rnnas/core.h"

namespace {

struct Run {
  double seconds = 0;
  int trained = 0;
  double storage_ms_total = 0;  // sum over workers of (ms per trial x trials)
};

void pg_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) throw rnnas::Error(std::string("bench: PostgreSQL: ") + PQerrorMessage(c));
  PGresult* r = PQexec(c, ("SET client_min_messages = warning; " + sql).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string err = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw rnnas::Error("bench: PostgreSQL: " + err);
}

// Creates the study, runs n workers to the end of its budget, and reads what each reported.
// `study` names the run: the models of every run share $RNNAS_MODELS_DIR/<study>/.
Run run(const std::string& storage, const std::string& study, int n, const std::string& create_args,
        const std::string& dir) {
  const std::string bin = RNNAS_BINARY;
  if (std::system(fmt::format("{} study create --storage '{}' --study {} {} > {}/create.log 2>&1", bin, storage,
                              study, create_args, dir)
                      .c_str()) != 0)
    throw rnnas::Error("bench: study create failed (see " + dir + "/create.log)");
  const double t0 = rnnas::now_seconds();
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c",
            fmt::format("exec {} worker --storage '{}' --study {} --jobs 1 --quiet > {}/worker{}.log 2>&1", bin,
                        storage, study, dir, i)
                .c_str(),
            nullptr);
      _exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) waitpid(p, nullptr, 0);
  Run r;
  r.seconds = rnnas::now_seconds() - t0;
  const std::regex line(R"(this process trained (\d+) trials; storage ([0-9.]+) ms per trial)");
  for (int i = 0; i < n; ++i) {
    std::ifstream in(fmt::format("{}/worker{}.log", dir, i));
    const std::string log((std::istreambuf_iterator<char>(in)), {});
    std::smatch m;
    if (!std::regex_search(log, m, line)) throw rnnas::Error(fmt::format("bench: worker {} said: {}", i, log));
    const int trained = std::stoi(m[1]);
    r.trained += trained;
    r.storage_ms_total += std::stod(m[2]) * trained;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rnnas workers benchmark (PostgreSQL study, 1/2/4 worker processes)"};
  std::string pg = std::getenv("RNNAS_PG_URL") ? std::getenv("RNNAS_PG_URL") : "";
  std::string dir = "out/workers-bench";
  std::string data = "sine:classes=4,T=64,n=1500";
  int trials = 48, epochs = 4;
  std::vector<int> ns = {1, 2, 4};
  app.add_option("--pg-url", pg, "PostgreSQL server (default $RNNAS_PG_URL)");
  app.add_option("--data", data, "Task")->capture_default_str();
  app.add_option("--trials", trials, "Study budget")->capture_default_str();
  app.add_option("--epochs", epochs, "Epochs per trial")->capture_default_str();
  app.add_option("--workers", ns, "Worker counts")->capture_default_str();
  app.add_option("--dir", dir, "Logs and the SQLite peer's file")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (pg.empty()) {
    fmt::print(stderr, "workers_bench: give --pg-url or set RNNAS_PG_URL (scripts/pg.sh start prints one)\n");
    return 2;
  }
  try {
    std::filesystem::create_directories(dir);
    ::setenv("RNNAS_MODELS_DIR", (dir + "/models").c_str(), 1);  // not ./rnnas-models of the caller
    const std::string create = fmt::format(
        "--data '{}' --target nrf52840 --space tiny --trials {} --epochs {} --no-asha --no-quantize --seed 1", data,
        trials, epochs);
    auto line = [&](const char* backend, int n, const Run& r, double base_rate) {
      const double rate = 60.0 * r.trained / r.seconds;
      const double storage_ms = r.storage_ms_total / std::max(1, r.trained);
      const double trial_ms = 1e3 * r.seconds * n / std::max(1, r.trained);  // worker-time per trial
      fmt::print("BENCH workers n={} backend={} trials={} trials_per_min={:.1f} storage_ms_per_trial={:.2f} "
                 "trial_ms={:.1f} storage_share_pct={:.2f} speedup_vs_1={:.2f}\n",
                 n, backend, r.trained, rate, storage_ms, trial_ms, 100.0 * storage_ms / trial_ms,
                 base_rate > 0 ? rate / base_rate : 1.0);
      std::fflush(stdout);
      return rate;
    };
    // The peer: one worker on an SQLite study file.
    const std::string file = dir + "/sqlite-peer.db";
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(file + ext);
    std::filesystem::remove_all(file + ".models");
    line("sqlite", 1, run(file, "sqlite-1", 1, create, dir), 0);
    double base = 0;
    for (int n : ns) {
      const std::string schema = fmt::format("bench_workers_{}", n);
      pg_exec(pg, fmt::format("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", schema));
      const std::string url = pg + (pg.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
      const double rate = line("postgresql", n, run(url, fmt::format("postgresql-{}", n), n, create, dir), base);
      if (n == 1) base = rate;
    }
  } catch (const rnnas::Error& e) {
    fmt::print(stderr, "workers_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}

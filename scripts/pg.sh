#!/usr/bin/env bash
# A private PostgreSQL server for the tests and benchmarks, on loopback only:
#   scripts/pg.sh start   starts it if it is not running (initdb the first time) and prints its URL
#   scripts/pg.sh stop    stops it
# The server (Debian's postgresql package) runs from $RNNAS_PG_DIR (default /tmp/rnnas-pg-<uid>) on
# 127.0.0.1:$RNNAS_PG_PORT (default 54329), with password authentication (scram-sha-256) for the role
# rnnas and the database rnnas_test. As root it runs as the postgres user (PostgreSQL refuses root).
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$bindir" ]]; then
  echo "pg.sh: PostgreSQL server binaries not found (scripts/deps.sh installs the postgresql package)" >&2
  exit 1
fi
port=${RNNAS_PG_PORT:-54329}
dir=${RNNAS_PG_DIR:-/tmp/rnnas-pg-$(id -u)}
password=${RNNAS_PG_PASSWORD:-rnnas-test-secret}
as=()
if [[ $(id -u) -eq 0 ]]; then as=(runuser -u postgres --); fi

if [[ "${1:-start}" == "stop" ]]; then
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null 2>&1 || true
  exit 0
fi

if ! "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    printf '%s\n' "$password" > "$dir/pw"
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir/pw"; fi
    "${as[@]}" "$bindir/initdb" -D "$dir/data" -U rnnas --pwfile="$dir/pw" --auth-host=scram-sha-256 \
      --auth-local=trust -E UTF8 > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pw"
  fi
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start > /dev/null \
    || { tail -20 "$dir/server.log" >&2; exit 1; }
fi
# The database (over the Unix socket, trusted locally).
if ! "$bindir/psql" -h "$dir" -p "$port" -U rnnas -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'rnnas_test'" | grep -q 1; then
  "$bindir/psql" -h "$dir" -p "$port" -U rnnas -d postgres -qc "CREATE DATABASE rnnas_test" > /dev/null
fi
echo "postgresql://rnnas:${password}@127.0.0.1:${port}/rnnas_test"

#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, builds with warnings as errors, runs the
# fast test tier, then builds and runs the same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
# It starts a private PostgreSQL server on 127.0.0.1 (scripts/pg.sh) for the PostgreSQL tests.
#   RNNAS_SLOW=1 scripts/test.sh   also runs the slow tier (label "slow": the float baselines on the real
#                                  datasets, a few minutes) in the release build
#   RNNAS_NO_ASAN=1 scripts/test.sh skips the sanitizer build (local iteration only; CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# A real PostgreSQL server on loopback for the storage conformance suite and the worker tests
# (scripts/pg.sh; RNNAS_PG_URL may name another server instead).
if [[ -z "${RNNAS_PG_URL:-}" ]]; then
  RNNAS_PG_URL=$(scripts/pg.sh start)
fi
export RNNAS_PG_URL RNNAS_REQUIRE_PG=1
jobs=$(nproc)
labels=(-L fast)
if [[ "${RNNAS_SLOW:-0}" == "1" ]]; then labels=(); fi

echo "== release build (-Werror)"
scripts/build.sh build -DRNNAS_WERROR=ON
(cd build && ctest --output-on-failure -j "$jobs" "${labels[@]}")

if [[ "${RNNAS_NO_ASAN:-0}" != "1" ]]; then
  echo "== sanitizer build (ASan + UBSan, -Werror)"
  scripts/build.sh build-asan -DRNNAS_WERROR=ON -DRNNAS_SANITIZE=ON -DRNNAS_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs" -L fast)
fi
echo "== all tests passed"

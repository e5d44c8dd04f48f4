#!/usr/bin/env bash
# One command for a new machine: installs the Debian packages, builds rnnas, and runs the main job:
# a short hardware-aware search (under a minute on 2 cores) on the built-in HAR-like motion task for a
# Cortex-M0+ (SAM D21) with flash <= 16 KiB and RAM <= 4 KiB, stored in out/demo.db (SQLite), ending with
# the Pareto table; then it deploys the best model on the emulated board (qemu-system-arm) and prints the
# measured flash, RAM, instructions and on-device accuracy; the study's report, a self-contained page, is
# out/demo-report.html (kept up to date while the search runs, then with the deployment's measurements). Run it again to start over;
# `rnnas show out/demo.db --study demo` prints the study later.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh "$@"
scripts/build.sh build
mkdir -p out
rm -rf out/demo.db out/demo.db-wal out/demo.db-shm out/demo.db.models
./build/src/cli/rnnas search --data 'motion:difficulty=0.8' --target samd21 \
  --max-flash 16KiB --max-ram 4KiB --space tiny --strategy nsga2 --trials 60 --epochs 20 --seed 1 \
  --storage out/demo.db --study demo --report out/demo-report.html
./build/src/cli/rnnas deploy --storage out/demo.db --study demo --best --target samd21 \
  --max-flash 16KiB --max-ram 4KiB -o out/demo-deploy
./build/src/cli/rnnas report out/demo.db --study demo -o out/demo-report.html

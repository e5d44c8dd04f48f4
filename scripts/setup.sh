#!/usr/bin/env bash
# One command for a new machine: installs the Debian packages, builds rnnas, and runs the main job.
# Until the search exists, the main job trains a GRU on the adding problem (T=50) and saves the model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh "$@"
scripts/build.sh build
mkdir -p out
./build/src/cli/rnnas train --arch 'gru:32|head=last' --data 'adding:T=50' --epochs 15 --seed 1 \
  --save out/adding-gru32.json

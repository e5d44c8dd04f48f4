#!/usr/bin/env bash
# The results of docs/RESULTS.md, one experiment per call (or all of them):
#   bench/results/run.sh EXPERIMENT [--quick]      uci-har | fsdd | cmapss | fashion-mnist | adding | motion
#   bench/results/run.sh all [--quick]             every experiment, one after the other (a few hours)
# Each experiment searches its dataset for two targets (nrf52840: Cortex-M4F; samd21: Cortex-M0+) at two
# budget tiers (small: flash <= 16 KiB, RAM <= 4 KiB; large: flash <= 64 KiB, RAM <= 16 KiB; fsdd, whose
# MFCC front end alone takes 14.6 KiB of RAM on the device: 16 KiB / 16 KiB and 64 KiB / 32 KiB), deploys the
# Pareto models on the emulated boards (rnnas search --measure pareto, the whole test split), trains and
# deploys the hand-designed baselines (a plain LSTM and GRU) the same way, and writes
# docs/results/EXPERIMENT.csv and .md (build/bench/results_collect). --quick: short budgets, to check the
# pipeline (its figures are not results).
# Studies, models and firmware go to out/results/ (RESULTS_OUT); datasets from ../shared/data (RNNAS_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
exp=${1:?usage: bench/results/run.sh EXPERIMENT|all [--quick]}
quick=0
[[ "${2:-}" == "--quick" ]] && quick=1
if [[ "$exp" == "all" ]]; then
  for e in adding motion cmapss fsdd uci-har fashion-mnist; do "$0" "$e" "${@:2}"; done
  exit 0
fi
rnnas=./build/src/cli/rnnas
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')  # at the start: the tree the binaries were built from
collect=./build/bench/results_collect
data=${RNNAS_DATA_DIR:-../shared/data}
out=${RESULTS_OUT:-out/results}
[[ -x "$rnnas" && -x "$collect" ]] || { echo "build first: scripts/build.sh build" >&2; exit 1; }

# Per experiment: the data spec, search minutes per (target, tier), epochs, the baselines' width, and
# extra search options. UCI HAR: training windows every 16 samples (the test keeps the dataset's 64), 20
# epochs with patience 6, and the Pareto models refit on train + val (docs/search.md, runs 6-9).
extra=()
case "$exp" in
  uci-har)       spec="uci-har:$data/hapt,train_stride=16"; minutes=15; epochs=20; base=32
                 extra=(--patience 6 --refit) ;;
  fsdd)          spec="fsdd:$data/fsdd";              minutes=10; epochs=30; base=32 ;;
  cmapss)        spec="cmapss:$data/cmapss,fd=1,window=40"; minutes=12; epochs=30; base=32 ;;
  fashion-mnist) spec="fashion-mnist";                minutes=10; epochs=10; base=64 ;;
  adding)        spec="adding:T=100,n=4000";          minutes=6;  epochs=20; base=32 ;;
  motion)        spec="motion:difficulty=0.8";        minutes=6;  epochs=20; base=32 ;;
  *) echo "unknown experiment '$exp'" >&2; exit 2 ;;
esac
if [[ $quick == 1 ]]; then minutes=1; epochs=3; fi
mkdir -p "$out" docs/results
db="$out/$exp.db"
rm -rf "$db" "$db-wal" "$db-shm" "$db.models" "$out/$exp-baselines"
targets=(nrf52840 samd21)
declare -A flash=([small]=16KiB [large]=64KiB) ram=([small]=4KiB [large]=16KiB)
# The audio front end (tables, frame, FFT state: 14.6 KiB for FSDD's MFCC) lives in RAM: no model fits 4 KiB.
if [[ "$exp" == "fsdd" ]]; then ram=([small]=16KiB [large]=32KiB); fi
for target in "${targets[@]}"; do
  for tier in small large; do
    echo "== $exp: search on $target, tier $tier (${flash[$tier]} flash, ${ram[$tier]} RAM, $minutes min)"
    "$rnnas" search --data "$spec" --target "$target" --max-flash "${flash[$tier]}" --max-ram "${ram[$tier]}" \
      --space default --strategy nsga2 --time "${minutes}m" --trials 100000 --epochs "$epochs" --seed 1 \
      "${extra[@]}" --measure pareto --measure-limit 0 --storage "$db" --study "$target-$tier" --quiet
  done
done
# Hand-designed baselines: trained once, deployed on each target and tier (a linker error when they do
# not fit is a result too).
for cell in lstm gru; do
  arch="$cell:$base|head=last"
  model="$out/$exp-baselines/$cell$base.json"
  mkdir -p "$out/$exp-baselines"
  echo "== $exp: baseline $arch"
  "$rnnas" train --arch "$arch" --data "$spec" --epochs "$epochs" --seed 1 --quiet --save "$model"
  for target in "${targets[@]}"; do
    for tier in small large; do
      dir="$out/$exp-baselines/$cell$base-$target-$tier"
      printf '{"arch": "%s", "target": "%s", "tier": "%s"}\n' "$arch" "$target" "$tier" > "$dir.meta.json"
      "$rnnas" deploy --model "$model" --target "$target" --max-flash "${flash[$tier]}" --max-ram "${ram[$tier]}" \
        -o "$dir" > "$dir.log" 2>&1 || echo "   $cell$base does not fit $target/$tier (see $dir.log)"
    done
  done
done
"$collect" --experiment "$exp" --data "$spec" --storage "$db" --baselines "$out/$exp-baselines" \
  --csv "docs/results/$exp.csv" --md "docs/results/$exp.md" $([[ $quick == 1 ]] && echo --quick)
printf '\nBudget tiers: small flash <= %s, RAM <= %s; large flash <= %s, RAM <= %s.\n' "${flash[small]}" "${ram[small]}" \
  "${flash[large]}" "${ram[large]}" >> "docs/results/$exp.md"
printf '\nRun on %s with rnnas %s.\n' "$(date -u +%Y-%m-%d)" "$commit" >> "docs/results/$exp.md"

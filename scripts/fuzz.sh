#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each parser for SECONDS (default 60).
# Prints one line per target: BENCH fuzz target=<name> runs=<executions> seconds=<s> result=clean|crash
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/deps.sh --no-torch >/dev/null
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNAS_FUZZ=ON \
  -DRNNAS_BUILD_TESTS=OFF -DRNNAS_BUILD_BENCH=OFF -DRNNAS_NATIVE=OFF >build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
cmake --build build-fuzz -j"$(nproc)" --target fuzz_csv fuzz_npy fuzz_ts fuzz_idx fuzz_wav >build-fuzz.log 2>&1 || { tail -50 build-fuzz.log; exit 1; }

# Seed corpora: small valid inputs of each format.
corpus=build-fuzz/corpus
mkdir -p "$corpus"/{csv,npy,ts,idx,wav}
printf 'a,b,label\n1,2,x\n3,4.5e-1,y\n' >"$corpus/csv/1.csv"
printf '"q, r",b\n"x""y",2\n' >"$corpus/csv/2.csv"
printf '@problemName T\n@missing true\n@univariate false\n@classLabel true a b\n@data\n1,?,3:4,5,6:a\n1,2:3,4:b\n' \
  >"$corpus/ts/1.ts"
printf '@problemName R\n@targetLabel true\n@data\n1,2,3:0.5\n' >"$corpus/ts/2.ts"
printf "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }%*s\n" 61 '' \
  >"$corpus/npy/1.npy"
head -c 24 /dev/zero >>"$corpus/npy/1.npy"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02abcdefgh' >"$corpus/idx/1.idx"
if [[ -d ../shared/data/fsdd ]]; then cp ../shared/data/fsdd/0_george_0.wav "$corpus/wav/1.wav"; fi
printf 'RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x08\x00\x00\x00\x01\x00\x02\x00\x03\x00\x04\x00' \
  >"$corpus/wav/2.wav"

status=0
for t in csv npy ts idx wav; do
  log=build-fuzz/fuzz_$t.log
  if build-fuzz/fuzz/fuzz_$t -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -print_final_stats=1 "$corpus/$t" >"$log" 2>&1; then
    result=clean
  else
    result=crash
    status=1
  fi
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "BENCH fuzz target=$t runs=${runs:-0} seconds=$seconds result=$result"
  if [[ $result == crash ]]; then tail -30 "$log"; fi
done
exit $status

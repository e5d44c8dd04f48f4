#!/usr/bin/env bash
# Installs the Debian packages rnnas needs (apt-get; sudo when not root). Idempotent: does nothing
# when every package is already installed.
#   scripts/deps.sh            build + test dependencies, and libtorch (benchmark peer, optional test)
#   scripts/deps.sh --no-torch without libtorch (the libtorch test and benchmark are then skipped)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libeigen3-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev
  libkissfft-dev libsndfile1-dev libsamplerate0-dev libzip-dev zlib1g-dev nettle-dev libsqlite3-dev libpq-dev postgresql
  dataset-fashion-mnist clang
  gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi qemu-system-arm
  chromium
)
# The report's plotting libraries come from the npm registry at build time: Debian's Node.js and npm,
# unless the machine already has an npm.
if ! command -v npm > /dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [[ "${1:-}" != "--no-torch" ]]; then
  # libtorch is only the benchmark peer and a test oracle. OpenBLAS gives it a real BLAS (Debian's
  # default libblas3 is the slow reference implementation).
  packages+=(libtorch-dev libopenblas0-pthread)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs every Debian package mmtrain needs (idempotent: packages already present are skipped).
# Run as root on Debian 12. Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git clang-format
  libtorch-dev libgloo-dev libopenblas0-pthread
  libopencv-dev libpng-dev libjpeg62-turbo-dev libyaml-cpp-dev libspdlog-dev libfmt-dev catch2 libbenchmark-dev
  libsentencepiece-dev nlohmann-json3-dev libcli11-dev libarchive-dev libpcre2-dev libutf8proc-dev libboost-dev
  fonts-dejavu-core
  python3 python3-numpy python3-torch python3-opencv python3-pil python3-jinja2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "[install] installing: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install] all ${#PACKAGES[@]} packages present"
fi

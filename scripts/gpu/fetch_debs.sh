#!/usr/bin/env bash
# Downloads (apt-get download, no root needed) the Debian bookworm packages that a GPU machine with
# PyTorch 2.x but no apt needs to build mmtrain against PyTorch's LibTorch: our build dependencies
# other than LibTorch (yaml-cpp, spdlog, fmt, nlohmann-json, CLI11, Catch2, Google Benchmark,
# sentencepiece, libarchive, OpenCV core/imgproc/imgcodecs, gloo headers) and the runtime libraries
# they pull in, minus what any glibc system or PyTorch image has (glibc, PAM, ...) and what our
# binaries never load (Mesa's GL drivers, LLVM, fonts, GIS data files).
# Run here (Debian 12 with network to its mirror); then copy gpu-debs/ with the tree and run
# scripts/gpu/build_and_run.sh there (docs/gpu.md).
#
# usage: scripts/gpu/fetch_debs.sh [--with-cmake] [OUT_DIR]   (default: gpu-debs/, git-ignored)
set -euo pipefail
cd "$(dirname "$0")/../.."

# The -dev packages of scripts/install_deps.sh that LibTorch does not replace (no libtorch-dev:
# the GPU build uses PyTorch's LibTorch; no libopencv-dev: it drags in every OpenCV module, and
# build_and_run.sh writes a small OpenCVConfig.cmake for the three modules we use instead).
ROOTS=(
  libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev catch2 libbenchmark-dev
  libsentencepiece-dev libarchive-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libgloo-dev
  pkgconf          # find_package(PkgConfig) for sentencepiece; PyTorch images often lack pkg-config
  libtirpc3        # GDAL's HDF4 and OGDI libraries need it; the closure above misses it
)
# --with-cmake: also CMake and Ninja, for a GPU machine without them (about 12 MB more).
if [ "${1:-}" = --with-cmake ]; then ROOTS+=(cmake ninja-build); shift; fi
# Present on every glibc system / PyTorch image, or never loaded by our binaries. libstdc++6 is kept:
# bookworm's libraries need its GLIBCXX_3.4.30, newer than Ubuntu 22.04's.
EXCLUDE_RE='^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libcrypt1|libcrypt-dev|libtirpc-dev|libnsl-dev|rpcsvc-proto|gcc-12-base|libgcc-s1|debconf|adduser|passwd|libpam0g|libpam-modules|libpam-modules-bin|libaudit1|libaudit-common|libcap-ng0|libsemanage2|libsemanage-common|libsepol2|libselinux1|libpcre2-8-0|libdb5.3|fonts-.*|fontconfig-config|proj-data|gdal-data|gdal-plugins|mysql-common|mariadb-common|unixodbc-common|libgl1-mesa-dri|libglx-mesa0|libglapi-mesa|libllvm[0-9]+|libz3-4|libdrm.*|libsensors.*|libxcb-(dri2|dri3|glx|present|randr|shm|sync|xfixes)0|libxcb-dri3-0|libx11-xcb1|libxshmfence1|libxxf86vm1|libpciaccess0|libelf1|libedit2)$'

OUT=${1:-gpu-debs}
command -v apt-get >/dev/null || { echo "fetch_debs: apt-get not found (run this on Debian 12, not on the GPU machine)" >&2; exit 1; }
mkdir -p "$OUT"
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
mkdir -p "$cache/partial"
# Resolve the dependency closure as if nothing were installed (empty dpkg status, empty cache), so
# the list does not depend on what this machine happens to have.
if ! apt-get -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o Dir::Cache::archives="$cache" \
     --no-install-recommends --print-uris -qq install "${ROOTS[@]}" > "$cache/uris.txt"; then
  echo "fetch_debs: apt could not resolve ${ROOTS[*]} (run apt-get update? is this Debian 12?)" >&2
  exit 1
fi
mapfile -t all < <(awk '{print $2}' "$cache/uris.txt" | sed 's/_.*//' | sort -u)
keep=()
for p in "${all[@]}"; do [[ $p =~ $EXCLUDE_RE ]] || keep+=("$p"); done
echo "[fetch] ${#all[@]} packages in the closure, ${#keep[@]} kept -> $OUT/"
# Stale versions of kept packages would be unpacked too: start from an empty folder.
rm -f "$OUT"/*.deb
(cd "$OUT" && apt-get download -qq "${keep[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
n=$(ls "$OUT"/*.deb 2>/dev/null | wc -l)
if [ "$n" -ne "${#keep[@]}" ]; then
  echo "fetch_debs: downloaded $n of ${#keep[@]} packages into $OUT (network to the Debian mirror?)" >&2
  exit 1
fi
printf '%s\n' "${keep[@]}" > "$OUT/PACKAGES.txt"
{ echo "debian_version $(cat /etc/debian_version 2>/dev/null || echo unknown)"; date -u +"fetched %Y-%m-%dT%H:%M:%SZ"; } > "$OUT/SOURCE.txt"
echo "[fetch] $n .deb files, $(du -sh "$OUT" | cut -f1) in $OUT (list: $OUT/PACKAGES.txt)"

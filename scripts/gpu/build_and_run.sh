#!/usr/bin/env bash
# GPU build and checks on a machine with PyTorch 2.x + CUDA but no apt and no network (docs/gpu.md):
#   0 checks     python3 + torch with CUDA, C++11 ABI, glibc of the carried libraries, g++, cmake, nvcc
#   1 unpack     dpkg-deb -x every gpu-debs/*.deb (from scripts/gpu/fetch_debs.sh) into a prefix, or
#                untar the archive of scripts/gpu/pack_prefix.sh (--prefix-tar)
#   2 configure  CMake against PyTorch's LibTorch (torch.utils.cmake_prefix_path) + the prefix
#   3 build      mmtrain, test_gpu and test_dist with all cores
#   4 tests      ctest -L 'gpu|bf16|dist' (tests/gpu/test_gpu.cpp; the 2-rank Gloo and DDP tests)
#   5 smoke      `mmtrain launch --nproc 1` of the debug recipe's pretrain stage on CUDA, bf16, nccl
#   6 bench      `mmtrain bench` of the 1b preset, train.precision=bf16, train.device=cuda, and the memory
#                planner's peak for it (`mmtrain info --plan`)
# then a summary (tokens/s, MFU vs the H100 dense bf16 peak of 989 TFLOP/s, peak memory), also
# written to $OUT/gpu_summary.txt (and every phase's log to $OUT/gpu_logs.tgz) when OUT is set. Each phase runs under a timeout cut from one
# 8-minute budget (MM_GPU_BUDGET_S); a failing phase prints one line "PHASE <name> FAILED: ...".
#
# usage: scripts/gpu/build_and_run.sh [--debs DIR | --prefix-tar FILE] [--work DIR] [--cpu-dry-run]
#   --debs DIR     the .deb folder (default gpu-debs)
#   --prefix-tar FILE  the trimmed prefix archive of scripts/gpu/pack_prefix.sh instead of the .debs
#   --work DIR     prefix and build folder (default /tmp/mmtrain-gpu)
#   --cpu-dry-run  phases 0-2 only, CPU LibTorch allowed, and check that every dependency was found
#                  in the prefix (proves the discovery on a Debian machine that has them in /usr too)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
SRC=$PWD
DEBS=gpu-debs
WORK=/tmp/mmtrain-gpu
PREFIX_TAR=
DRY=0
while (($#)); do
  case "$1" in
    --debs) DEBS=$2; shift 2 ;;
    --prefix-tar) PREFIX_TAR=$(realpath "$2"); shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --cpu-dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build_and_run: unknown option '$1' (expected --debs DIR, --prefix-tar FILE, --work DIR, --cpu-dry-run)" >&2; exit 2 ;;
  esac
done
if [ -n "$PREFIX_TAR" ]; then
  [ -f "$PREFIX_TAR" ] || { echo "PHASE checks FAILED: no prefix archive '$PREFIX_TAR' (run scripts/gpu/pack_prefix.sh first)"; exit 1; }
else
  DEBS=$(cd "$DEBS" 2>/dev/null && pwd) || { echo "PHASE checks FAILED: no .deb folder '$DEBS' (run scripts/gpu/fetch_debs.sh first)"; exit 1; }
fi
PREFIX=$WORK/prefix
BUILD=$WORK/build
ARCH=x86_64-linux-gnu
LIBDIR=$PREFIX/usr/lib/$ARCH
# Every folder the carried libraries live in: GDAL's HDF4, OGDI and Armadillo are in /usr/lib,
# LAPACK and BLAS in Debian's alternatives folders, some base libraries in /lib (merged /usr).
LIBDIRS=("$LIBDIR" "$PREFIX/usr/lib" "$LIBDIR/lapack" "$LIBDIR/blas" "$PREFIX/lib/$ARCH")
PY=${MM_PYTHON:-python3}
BUDGET=${MM_GPU_BUDGET_S:-480}
START=$(date +%s)
SUMMARY=()
note() { echo "[gpu] $*"; SUMMARY+=("$*"); }
fail() { echo "PHASE $1 FAILED: $2"; SUMMARY+=("PHASE $1 FAILED: $2"); finish 1; }
finish() {
  local rc=$1
  {
    echo "mmtrain GPU run $(date -u +%FT%TZ) on $(hostname) ($(( $(date +%s) - START )) s)"
    printf '%s\n' "${SUMMARY[@]}"
  } > "$WORK/gpu_summary.txt"
  if [ -n "${OUT:-}" ]; then
    cp "$WORK/gpu_summary.txt" "$OUT/gpu_summary.txt"
    (cd "$WORK" && tar -czf "$OUT/gpu_logs.tgz" ./*.log 2>/dev/null)
  fi
  echo "== summary ($WORK/gpu_summary.txt)"; cat "$WORK/gpu_summary.txt"
  exit "$rc"
}
# run_phase NAME CAP_S CMD...: runs CMD under min(CAP_S, what is left of the budget); a failure
# stops the run. MM_PHASE_SOFT=1 (the tests): a failure is reported, the later phases still run
# (one device call then also brings back smoke and bench) and the run exits 1 at the end.
SOFT_FAILED=0
phase_failed() {  # NAME WHY
  if [ "${MM_PHASE_SOFT:-0}" = 1 ]; then
    echo "PHASE $1 FAILED: $2 (going on with the next phases)"; SUMMARY+=("PHASE $1 FAILED: $2"); SOFT_FAILED=1
  else
    fail "$1" "$2"
  fi
}
run_phase() {
  local name=$1 cap=$2; shift 2
  local left=$(( BUDGET - ($(date +%s) - START) ))
  ((left < cap)) && cap=$left
  if ((cap < 5)); then phase_failed "$name" "no time left in the ${BUDGET} s budget"; return 0; fi
  echo "== $name (timeout ${cap} s)"
  local t0; t0=$(date +%s)
  # bash -c: the command may be one of the functions below (exported with export -f).
  timeout --kill-after=10 "$cap" bash -o pipefail -c '"$@"' _ "$@" > "$WORK/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$WORK/$name.log"
  if ((rc == 124 || rc == 137)); then phase_failed "$name" "timed out after ${cap} s (log: $WORK/$name.log)"
  elif ((rc != 0)); then phase_failed "$name" "exit status $rc (log: $WORK/$name.log)"
  else note "$name ok ($(( $(date +%s) - t0 )) s)"
  fi
}
mkdir -p "$WORK"
rm -f "$WORK"/*.log "$WORK/bench_summary.txt" "$WORK/bench_gpu_mem_mib"  # nothing from an earlier run in this summary

# ---- 0 checks -----------------------------------------------------------------------------------
echo "== checks"
[ -n "$PREFIX_TAR" ] || ls "$DEBS"/*.deb >/dev/null 2>&1 || fail checks "no .deb files in $DEBS (run scripts/gpu/fetch_debs.sh on Debian and copy the folder)"
TORCH_INFO=$("$PY" -c 'import torch,sys
print(torch.__version__); print(torch.utils.cmake_prefix_path); print(int(torch.compiled_with_cxx11_abi()))
print(int(torch.cuda.is_available())); print(torch.version.cuda or "none")
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")' 2>&1) \
  || fail checks "'$PY -c import torch' failed: $(echo "$TORCH_INFO" | tail -1)"
mapfile -t TI <<< "$TORCH_INFO"
TORCH_VER=${TI[0]} TORCH_CMAKE=${TI[1]} TORCH_ABI=${TI[2]} HAVE_CUDA=${TI[3]} TORCH_CUDA=${TI[4]} GPU_NAME=${TI[5]}
note "torch $TORCH_VER (CUDA $TORCH_CUDA, cxx11 ABI $TORCH_ABI), GPU: $GPU_NAME"
# Debian's libraries (yaml-cpp, spdlog, fmt, sentencepiece, OpenCV) are built with the C++11 ABI;
# std::string in their interfaces cannot cross into a pre-C++11-ABI LibTorch (-D_GLIBCXX_USE_CXX11_ABI=0).
if [ -n "${MM_TORCH_CMAKE:-}" ]; then  # another LibTorch (e.g. the cxx11-abi zip): its own ABI flag
  TORCH_ABI=1
  grep -q '_GLIBCXX_USE_CXX11_ABI=0' "$MM_TORCH_CMAKE/Torch/TorchConfig.cmake" 2>/dev/null && TORCH_ABI=0
fi
[ "$TORCH_ABI" = 1 ] || fail checks "this PyTorch uses the pre-C++11 ABI (torch.compiled_with_cxx11_abi() is False); Debian's C++ libraries use the C++11 ABI and cannot link with it: use a C++11-ABI PyTorch/LibTorch (recent wheels, NGC images, or the libtorch cxx11-abi zip via MM_TORCH_CMAKE)"
[ -n "${MM_TORCH_CMAKE:-}" ] && TORCH_CMAKE=$MM_TORCH_CMAKE
if [ ! -d "$TORCH_CMAKE/Torch" ] && [ -d /usr/lib/$ARCH/cmake/Torch ] && ((DRY)); then
  TORCH_CMAKE=/usr/lib/$ARCH/cmake  # Debian's python3-torch has no share/cmake; libtorch-dev does
fi
[ -f "$TORCH_CMAKE/Torch/TorchConfig.cmake" ] || fail checks "no Torch/TorchConfig.cmake under torch.utils.cmake_prefix_path ($TORCH_CMAKE)"
if ((!DRY)); then
  [ "${TORCH_VER%%.*}" -ge 2 ] 2>/dev/null || fail checks "PyTorch $TORCH_VER: the GPU path needs 2.x"
  [ "$HAVE_CUDA" = 1 ] || fail checks "torch.cuda.is_available() is False (no GPU visible, or a CPU-only PyTorch)"
  NVCC=$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")
  [ -x "$NVCC" ] || fail checks "no nvcc (PyTorch's CMake config needs the CUDA toolkit: set CUDA_HOME)"
  export CUDACXX=$NVCC CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
  note "nvcc: $("$NVCC" --version | tail -1)"
fi
command -v g++ >/dev/null || fail checks "no g++ on this machine (a C++17 compiler is needed; it is not carried)"
CMAKE=$(command -v cmake || echo "$PREFIX/usr/bin/cmake")
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
NPROC=$(nproc)

# ---- 1 unpack ------------------------------------------------------------------------------------
unpack() {
  rm -rf "$PREFIX" && mkdir -p "$PREFIX"
  local d what
  if [ -n "$PREFIX_TAR" ]; then
    tar -xJf "$PREFIX_TAR" -C "$PREFIX" || { echo "untar $PREFIX_TAR failed"; return 1; }
    what=$PREFIX_TAR
  fi
  [ -n "$PREFIX_TAR" ] || for d in "$DEBS"/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$d" "$PREFIX" || { echo "dpkg-deb -x $d failed"; return 1; }
    else  # no dpkg: a .deb is an ar archive holding data.tar.{xz,zst,gz}
      "$PY" - "$d" "$PREFIX" <<'PYEOF' || { echo "unpacking $d failed"; return 1; }
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", "not an ar archive"
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        if name.endswith(".zst"):
            sys.exit(f"{deb}: data.tar.zst needs dpkg-deb or python zstandard")
        tarfile.open(fileobj=io.BytesIO(body)).extractall(dest)
        break
PYEOF
    fi
  done
  # Relative .so symlinks survive; absolute ones (/usr/lib/...) would point at the host: rebase them.
  find "$PREFIX" -type l -lname '/*' | while read -r l; do ln -sfn "$PREFIX$(readlink "$l")" "$l"; done
  echo "unpacked ${what:-$(ls "$DEBS"/*.deb | wc -l) packages} into $PREFIX"
}
export -f unpack
export PREFIX DEBS PY PREFIX_TAR
run_phase unpack 60 unpack

# libstdc++ / libgcc_s: keep the carried copy only when it is newer than the system's, otherwise it
# would shadow a newer system library (Ubuntu 24.04's GCC 13) through LD_LIBRARY_PATH.
newest_glibcxx() { strings "$1" 2>/dev/null | grep -o '^GLIBCXX_3\.4\.[0-9]*$' | sort -V | tail -1; }
SYS_STDCXX=$(readlink -f "$(g++ -print-file-name=libstdc++.so)")
OUR_STDCXX=$(ls "$LIBDIR"/libstdc++.so.6.* 2>/dev/null | head -1)
if [ -n "$OUR_STDCXX" ]; then
  sys_v=$(newest_glibcxx "$SYS_STDCXX") our_v=$(newest_glibcxx "$OUR_STDCXX")
  if [ "$(printf '%s\n%s\n' "$sys_v" "$our_v" | sort -V | tail -1)" = "$sys_v" ]; then
    rm -f "$LIBDIR"/libstdc++.so.6* "$LIBDIR"/libgcc_s.so.1
    note "libstdc++: the system's ($sys_v) is new enough"
  else
    ln -sfn "$(basename "$OUR_STDCXX")" "$LIBDIR/libstdc++.so"  # -lstdc++ links the newer one
    note "libstdc++: carried $our_v (the system compiler has $sys_v)"
  fi
fi
# glibc cannot be carried: every carried library must be satisfied by this machine's.
need=$(find "$LIBDIR" -name '*.so*' -type f -exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -1)
have=GLIBC_$(ldd --version | head -1 | grep -o '[0-9]\+\.[0-9]\+$')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | tail -1)" != "$have" ]; then
  too_new=$(find "$LIBDIR" -maxdepth 1 -name '*.so.*' -type f | while read -r f; do
              objdump -T "$f" 2>/dev/null | grep -q "$need" && basename "$f"; done | head -4 | tr '\n' ' ')
  fail checks "the carried Debian 12 libraries need $need (${too_new% }) but this machine has $have: use a base image with glibc >= ${need#GLIBC_} (e.g. Ubuntu 24.04)"
fi
note "glibc: carried libraries need $need, machine has $have"

# OpenCV: libopencv-dev's config imports every module (dnn, video, ...), which are not carried; this
# config declares just the three we link.
mkdir -p "$PREFIX/opencv-cmake"
cat > "$PREFIX/opencv-cmake/OpenCVConfig.cmake" <<EOF
# Written by scripts/gpu/build_and_run.sh: core, imgproc and imgcodecs from the unpacked packages.
set(OpenCV_VERSION 4.6.0)
set(OpenCV_INCLUDE_DIRS "$PREFIX/usr/include/opencv4")
set(OpenCV_LIBS)
foreach(m core imgproc imgcodecs)
  if(NOT TARGET opencv_\${m})
    add_library(opencv_\${m} SHARED IMPORTED)
    set_target_properties(opencv_\${m} PROPERTIES IMPORTED_LOCATION "$LIBDIR/libopencv_\${m}.so"
                          INTERFACE_INCLUDE_DIRECTORIES "$PREFIX/usr/include/opencv4")
  endif()
  list(APPEND OpenCV_LIBS opencv_\${m})
endforeach()
set(OpenCV_FOUND TRUE)
EOF
cat > "$PREFIX/opencv-cmake/OpenCVConfigVersion.cmake" <<'EOF'
set(PACKAGE_VERSION 4.6.0)
set(PACKAGE_VERSION_COMPATIBLE TRUE)
EOF

# ---- 2 configure ---------------------------------------------------------------------------------
LIBPATH=$(IFS=:; echo "${LIBDIRS[*]}")
LINK_FLAGS="-L$LIBDIR -Wl,-rpath-link,$LIBPATH"
# At run time /lib's base libraries (zlib, lzma, expat, ...) come from the machine, so older Debian
# copies never shadow newer ones for the compiler or CMake; the folder is added only when the
# machine lacks one of them (libtirpc on some images).
RUNDIRS=("${LIBDIRS[@]:0:4}")
SYSLIBS=$(ldconfig -p 2>/dev/null | awk 'NR > 1 {print $1}')
for f in "$PREFIX/lib/$ARCH"/*.so.*; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  soname=$(objdump -p "$f" 2>/dev/null | awk '/SONAME/ {print $2}')
  [ -z "$soname" ] || grep -qxF "$soname" <<< "$SYSLIBS" && continue
  note "the machine lacks $soname: the carried /lib copies are loaded too"
  RUNDIRS+=("$PREFIX/lib/$ARCH")
  break
done
RUNPATH=$(IFS=:; echo "${RUNDIRS[*]}")
export LD_LIBRARY_PATH=$RUNPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# For later commands on this machine (scripts/gpu/scaled_demo.sh sources it): the same library path.
echo "export LD_LIBRARY_PATH=$RUNPATH\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" > "$WORK/env.sh"
export PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig:$PREFIX/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$PREFIX  # the .pc files say prefix=/usr
PKGCONF=$(command -v pkg-config || echo "$PREFIX/usr/bin/pkgconf")
# Debian's libgloo-dev headers only where the LibTorch does not ship its own gloo headers.
TORCH_INC=$(dirname "$(dirname "$TORCH_CMAKE")")/include
EXTRA_INC=()
[ -d "$TORCH_INC/gloo" ] || EXTRA_INC=(-DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include")
rm -f "$BUILD/CMakeCache.txt"  # no stale <Pkg>_DIR entries from an earlier prefix
run_phase configure 120 "$CMAKE" -S "$SRC" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX/usr;$TORCH_CMAKE" -DCMAKE_LIBRARY_ARCHITECTURE=$ARCH \
  -DOpenCV_DIR="$PREFIX/opencv-cmake" -DPKG_CONFIG_EXECUTABLE="$PKGCONF" \
  -DCMAKE_EXE_LINKER_FLAGS="$LINK_FLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$LINK_FLAGS" \
  -DMM_BUILD_BENCHMARKS=OFF "${EXTRA_INC[@]}"
CUDA_ON=$(grep -o '^MM_WITH_CUDA:BOOL=[A-Z]*' "$BUILD/CMakeCache.txt" | cut -d= -f2)
note "configure: MM_WITH_CUDA=$CUDA_ON, Torch_DIR=$(grep '^Torch_DIR:' "$BUILD/CMakeCache.txt" | cut -d= -f2)"
# Where each dependency came from (a dry run on Debian proves they resolve inside the prefix).
bad=0
for v in yaml-cpp_DIR spdlog_DIR fmt_DIR nlohmann_json_DIR CLI11_DIR Catch2_DIR LibArchive_LIBRARY \
         LibArchive_INCLUDE_DIR pkgcfg_lib_SENTENCEPIECE_sentencepiece OpenCV_DIR; do
  val=$(grep "^$v:" "$BUILD/CMakeCache.txt" | cut -d= -f2-)
  echo "  $v = ${val:-<unset>}"
  case "$val" in "$PREFIX"*) ;; *) bad=1; echo "  ^ not from the prefix" ;; esac
done
if ((DRY)); then
  ((bad)) && fail discovery "some dependencies were not found in $PREFIX (lines marked above)"
  note "cpu dry run: every dependency resolved inside $PREFIX; stopping before the build"
  finish 0
fi
[ "$CUDA_ON" = ON ] || fail configure "MM_WITH_CUDA is OFF: the LibTorch at $TORCH_CMAKE was not built with CUDA"

# ---- 3 build -------------------------------------------------------------------------------------
# -k 0 (Ninja): on a compile error, go on with the other files, so one log names every error.
KEEP_GOING=()
((${#GEN[@]})) && KEEP_GOING=(-- -k 0)
TARGETS=(mmtrain test_gpu test_dist dist_worker)
[ "${MM_GPU_SKIP_TESTS:-0}" = 1 ] && TARGETS=(mmtrain)
run_phase build 300 "$CMAKE" --build "$BUILD" --target "${TARGETS[@]}" -j "$NPROC" "${KEEP_GOING[@]}"
MM=$BUILD/src/cli/mmtrain

# ---- 4 gpu tests ---------------------------------------------------------------------------------
# dist: the 2-rank Gloo collectives and DDP on c10d::Reducer run on this LibTorch's c10d too.
# MM_GPU_SKIP_TESTS=1 goes straight to smoke and bench (a rerun on a machine where they passed).
[ "${MM_GPU_SKIP_TESTS:-0}" = 1 ] && note "tests skipped (MM_GPU_SKIP_TESTS=1)" || MM_PHASE_SOFT=1 run_phase gpu_tests 120 ctest --test-dir "$BUILD" -L '^(gpu|bf16|dist)$' --output-on-failure --no-tests=error -j 2
[ -f "$WORK/gpu_tests.log" ] && grep -q "tests passed" "$WORK/gpu_tests.log" && note "gpu tests: $(grep 'tests passed' "$WORK/gpu_tests.log")"
[ -f "$WORK/gpu_tests.log" ] && grep -qi "skipped" "$WORK/gpu_tests.log" && note "gpu tests: some were SKIPPED (see $WORK/gpu_tests.log)"

# ---- 5 smoke: debug recipe, 1 rank, nccl, bf16 ---------------------------------------------------
smoke() {
  rm -rf "$WORK/smoke"
  # The recipe inherits runs/world/*.yaml: write a small world unless one is there (never replaced).
  [ -f runs/world/common.yaml ] && echo "using the existing runs/world" || "$MM" data synth --out runs/world --set synth.counts.caption=200 --set synth.counts.interleaved=30 \
    --set synth.counts.text=200 --set synth.counts.ocr=30 --set synth.counts.general=60 \
    --set synth.counts.text_rich=60 --set synth.counts.refer_ground=60 --set synth.counts.knowledge=30 \
    --set synth.counts.multi_image=30 --set synth.counts.text_only=60 --set synth.counts.eval=10 || return 1
  "$MM" launch --nproc 1 --timeout 80 -- train --config configs/recipes/debug.yaml --stage pretrain \
    --run-dir "$WORK/smoke" --no-eval --set stages.pretrain.train.steps=40 --set schedule.warmup_steps=4 \
    --set train.device=cuda --set train.precision=bf16 --set dist.backend=nccl --set train.threads=4 \
    --set train.log_interval=10 --set train.checkpoint_interval=40 || return 1
  local m; m=$(find "$WORK/smoke" -name metrics.jsonl | head -1)
  [ -n "$m" ] || { echo "no metrics.jsonl under $WORK/smoke"; return 1; }
  env -u LD_LIBRARY_PATH "$PY" - "$m" <<'PYEOF'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
loss = [r["loss"] for r in rows if "loss" in r]
assert len(loss) >= 2, f"{sys.argv[1]}: {len(loss)} logged losses, expected >= 2"
assert all(math.isfinite(x) for x in loss), f"non-finite loss: {loss}"
assert loss[-1] < loss[0], f"loss did not fall over 40 steps: {loss}"
print(f"smoke losses {loss[0]:.3f} -> {loss[-1]:.3f} over {len(loss)} logs")
PYEOF
}
export -f smoke
export MM WORK
run_phase smoke 90 smoke
note "smoke: $(grep '^smoke losses' "$WORK/smoke.log")"

# ---- 6 bench: 1b preset, bf16 --------------------------------------------------------------------
# Peak GPU memory from nvidia-smi while bench runs (bench's cuda_max_allocated_bytes may be null).
GPU_IDX=${CUDA_VISIBLE_DEVICES:-0}
GPU_IDX=${GPU_IDX%%,*}
( peak=0; while sleep 0.5; do
    u=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "$GPU_IDX" 2>/dev/null | head -1)
    [[ $u =~ ^[0-9]+$ ]] && ((u > peak)) && peak=$u && echo "$peak" > "$WORK/bench_gpu_mem_mib"
  done ) &
SAMPLER=$!
run_phase bench 150 "$MM" bench --config configs/models/1b.yaml --json --steps 5 --warmup 2 --gemm 8192 \
  --set train.precision=bf16 --set train.device=cuda --set loader.micro_batch=4 --set loader.seq_len=2048
kill "$SAMPLER" 2>/dev/null
MEM_MIB=$(cat "$WORK/bench_gpu_mem_mib" 2>/dev/null || echo "")
env -u LD_LIBRARY_PATH MEM_MIB="$MEM_MIB" "$PY" - "$WORK/bench.log" <<'PYEOF' >> "$WORK/bench_summary.txt" || fail bench "no JSON result in $WORK/bench.log"
import json, os, sys
j = next(json.loads(l) for l in reversed(open(sys.argv[1]).read().splitlines()) if l.startswith("{"))
peak = 989e12  # H100 SXM dense bf16
mem = j.get("cuda_max_allocated_bytes")
print(f"bench 1b bf16: {j['tokens_per_s']:.0f} tokens/s, step {j['step_s']['total']*1e3:.0f} ms, "
      f"{j['model_flop_per_s']/1e12:.1f} TFLOP/s = MFU {100*j['model_flop_per_s']/peak:.1f}% of 989 TFLOP/s "
      f"(measured {j.get('gemm_dtype', 'fp32')} GEMM peak {j['gemm_flop_per_s']/1e12:.1f} TFLOP/s), peak CUDA memory "
      + (f"{mem/2**30:.1f} GiB" if mem is not None else "not reported by bench")
      + (f", nvidia-smi peak {int(os.environ['MEM_MIB'])/1024:.1f} GiB" if os.environ.get("MEM_MIB") else "")
      + f", peak RSS {j['peak_rss_bytes']/2**30:.1f} GiB"
      + f", precision {j.get('precision', 'not reported')}")
PYEOF
note "$(tail -1 "$WORK/bench_summary.txt")"
# The memory planner for the same run (docs/distributed.md "The 1b data point on the H100"): its peak beside the
# CUDA peak above (dist.shard none, no recomputation: the first "peak" of the JSON plan).
PLAN_PEAK=$("$MM" info --config configs/models/1b.yaml --plan --json --tiles 1 --set image.tile_size=378 \
  --set loader.micro_batch=4 --set loader.seq_len=2048 --set train.precision=bf16 --set train.device=cuda 2>/dev/null |
  grep -o '"peak": [0-9]*' | head -1 | grep -o '[0-9]*$')
[ -n "$PLAN_PEAK" ] && note "planner: peak $(awk -v b="$PLAN_PEAK" 'BEGIN { printf "%.2f", b / 2^30 }') GiB planned for the bench above" \
  "(its 2.4 GiB CUDA context and allocator overhead included)"
finish "$SOFT_FAILED"

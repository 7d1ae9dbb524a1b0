#!/usr/bin/env bash
# Compiles the MM_WITH_CUDA-guarded translation units with -DMM_WITH_CUDA=1 -fsyntax-only against
# this machine's LibTorch headers plus the CUDA toolkit's (cuda_runtime.h, nccl.h ...), so a CPU
# machine proves the CUDA code at least compiles. Flags come from the build's compile_commands.json
# (the precompiled header is dropped: it was built without MM_WITH_CUDA).
# usage: scripts/gpu/check_cuda_compile.sh BUILD_DIR [FILE...]
#   default files: every source with `#ifdef MM_WITH_CUDA` / `defined(MM_WITH_CUDA)` (tests/gpu included)
# Exit 0: all compile; 1: a file failed (its first errors are printed); 77: no CUDA toolkit (ctest skip).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:?usage: check_cuda_compile.sh BUILD_DIR [FILE...]}
shift
CUDA=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$CUDA/include/cuda_runtime.h" ] || [ ! -f "$CUDA/include/nccl.h" ]; then
  nccl=$(ls /usr/include/nccl.h 2>/dev/null || true)
  [ -f "$CUDA/include/cuda_runtime.h" ] && [ -n "$nccl" ] || {
    echo "SKIPPED: no CUDA toolkit headers (cuda_runtime.h and nccl.h) under $CUDA; set CUDA_HOME"; exit 77; }
fi
DB=$BUILD/compile_commands.json
[ -f "$DB" ] || { echo "check_cuda_compile: $DB not found (configure $BUILD first)"; exit 1; }
if (($#)); then FILES=("$@")
else
  mapfile -t FILES < <(grep -rlE '#\s*if(def)?\s.*MM_WITH_CUDA' src data_pipeline trainers eval tests --include='*.cpp' | sort)
fi
CXX=${CXX:-g++}
# MM_WITH_CUDA: what cmake/Dependencies.cmake defines for a CUDA LibTorch. USE_C10D_NCCL: what a CUDA
# LibTorch's torch_cuda target defines publicly (caffe2/CMakeLists.txt) and ProcessGroupNCCL.hpp is
# guarded by; the CPU LibTorch here lacks torch_cuda, so both are supplied by hand.
# C10_CUDA_NO_CMAKE_CONFIGURE_FILE: a CPU LibTorch ships c10/cuda headers but not the generated
# c10/cuda/impl/cuda_cmake_macros.h (it only sets C10_CUDA_BUILD_SHARED_LIBS, used on Windows), so
# its include is switched off (harmless where the file exists).
CUDA_DEFS=(-DMM_WITH_CUDA=1 -DUSE_C10D_NCCL=1 -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE)
fails=0
for f in "${FILES[@]}"; do
  abs=$(readlink -f "$f")
  # The command CMake uses for this file, minus -o/-c and the precompiled-header flags.
  cmd=$(python3 - "$DB" "$abs" <<'PYEOF'
import json, shlex, sys
db, f = sys.argv[1], sys.argv[2]
for e in json.load(open(db)):
    if e["file"] == f:
        args = shlex.split(e["command"])[1:]
        out, skip = [], False
        for i, a in enumerate(args):
            if skip: skip = False; continue
            if a in ("-o", "-c"): skip = a == "-o"; continue
            if a == "-include" and i + 1 < len(args) and "cmake_pch" in args[i + 1]: skip = True; continue
            if a.startswith("-Winvalid-pch") or a.startswith("-Xclang") or a == f: continue
            out.append(a)
        print(shlex.join(out)); break
else:
    sys.exit(f"{f}: not in {db} (is it part of the build? re-run cmake)")
PYEOF
) || { echo "FAIL $f: no compile command"; fails=$((fails + 1)); continue; }
  args=()
  eval "args=($cmd)"
  t0=$(date +%s)
  if out=$("$CXX" "${args[@]}" "${CUDA_DEFS[@]}" -isystem "$CUDA/include" -fsyntax-only "$abs" 2>&1); then
    echo "ok   $f ($(( $(date +%s) - t0 )) s)"
  else
    echo "FAIL $f:"; echo "$out" | grep -E 'error|required from' | head -15; fails=$((fails + 1))
  fi
done
echo "check_cuda_compile: ${#FILES[@]} files, $fails failed (${CUDA_DEFS[*]}, CUDA headers $CUDA/include, $($CUDA/bin/nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'nvcc not found'))"
((fails == 0))

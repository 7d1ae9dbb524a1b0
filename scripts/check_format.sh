#!/usr/bin/env bash
# The code style check (a ctest, so the README's test command and CI run it): every tracked C++
# file formatted by clang-format 14 with the repository's .clang-format (Google style, 120 columns).
# usage: scripts/check_format.sh          list the files clang-format would change; exit 1 if any
#        scripts/check_format.sh --fix    reformat them in place
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${MM_CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
if [ -z "$CF" ]; then
  echo "check_format: clang-format not found (Debian package clang-format; scripts/install_deps.sh installs it)" >&2
  exit 1
fi
# src/core/compat_include holds a copy of an upstream LibTorch header: kept as upstream wrote it.
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^src/core/compat_include/')
if [ "${1:-}" = "--fix" ]; then
  "$CF" -i "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$CF" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'check_format: %s is not clang-formatted\n' "${bad[@]}" >&2
  echo "check_format: ${#bad[@]} of ${#files[@]} files differ; run scripts/check_format.sh --fix" >&2
  exit 1
fi
echo "check_format: all ${#files[@]} files formatted (.clang-format, $("$CF" --version | grep -o 'version [0-9.]*'))"

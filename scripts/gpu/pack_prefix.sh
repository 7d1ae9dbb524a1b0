#!/usr/bin/env bash
# Packs the .deb files of scripts/gpu/fetch_debs.sh into one unpacked, trimmed prefix archive small
# enough to travel with the source tree (the .debs are 68 MB; the archive is about 52 MiB): every
# package unpacked with dpkg-deb -x, then docs, man pages, translations, static libraries (other
# than Catch2's main) and data our binaries never read dropped. scripts/gpu/build_and_run.sh
# --prefix-tar FILE unpacks it instead of the .debs (docs/gpu.md).
#
# usage: scripts/gpu/pack_prefix.sh [DEBS_DIR] [OUT_FILE]   (defaults: gpu-debs, gpu-prefix/prefix.tar.xz)
set -euo pipefail
cd "$(dirname "$0")/../.."
DEBS=${1:-gpu-debs}
OUT=${2:-gpu-prefix/prefix.tar.xz}
ls "$DEBS"/*.deb >/dev/null 2>&1 || { echo "pack_prefix: no .deb files in $DEBS (run scripts/gpu/fetch_debs.sh first)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
for d in "$DEBS"/*.deb; do dpkg-deb -x "$d" "$TMP/prefix"; n=$((n + 1)); done
find "$TMP/prefix" -name '*.a' ! -name 'libCatch2WithMain.a' -delete
rm -rf "$TMP"/prefix/usr/share/{doc,man,info,locale,lintian,bug,gdcm-3.0,X11}
mkdir -p "$(dirname "$OUT")"
echo "pack_prefix: $n packages, $(du -sh "$TMP/prefix" | cut -f1) unpacked; compressing (about 2 minutes on 2 cores)"
tar -cf - -C "$TMP/prefix" . | xz -T0 -6 > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "pack_prefix: wrote $OUT ($(du -h "$OUT" | cut -f1))"

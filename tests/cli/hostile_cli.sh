#!/usr/bin/env bash
# Hostile paths on the command line: each command ends within seconds, exits 1 and prints exactly
# one line saying what the path is (a folder, a FIFO, a device, missing), never blocks on a FIFO,
# never reads /dev/zero forever, never exits 105 (CLI11's validator) or 2 (an internal error).
set -uo pipefail
MMTRAIN=$1
TMP=$(mktemp -d /tmp/mm_hostile_cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkfifo "$TMP/fifo.png" "$TMP/fifo.yaml"
mkdir "$TMP/folder.png"
printf 'inherit: /dev/zero\n' > "$TMP/zero.yaml"
printf 'inherit: fifo.yaml\n' > "$TMP/pipe.yaml"
: > "$TMP/empty.yaml"
status=0
# expect "what it should say" command...
expect() {
  local want=$1; shift
  local rc=0
  timeout 20 "$@" > "$TMP/out" 2> "$TMP/err" || rc=$?
  local lines
  lines=$(wc -l < "$TMP/err")
  if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$want" "$TMP/err"; then
    echo "FAIL (exit $rc, $lines stderr lines, expected 1 line with '$want'): ${*:2}"
    sed 's/^/    /' "$TMP/err" | head -5
    status=1
  fi
}
expect "--image '$TMP/folder.png' is a folder, not a regular file" "$MMTRAIN" preprocess --image "$TMP/folder.png"
expect "--image '$TMP/missing.png' does not exist" "$MMTRAIN" preprocess --image "$TMP/missing.png"
expect "--image '$TMP/fifo.png' is a FIFO (named pipe), not a regular file" \
  "$MMTRAIN" preprocess --image "$TMP/fifo.png"
expect "--image '/dev/zero' is a character device" "$MMTRAIN" preprocess --image /dev/zero
expect "--image '$TMP/folder.png' is a folder" "$MMTRAIN" generate --checkpoint "$TMP/none" --prompt hi \
  --image "$TMP/folder.png"
expect "--image '$TMP/fifo.png' is a FIFO" "$MMTRAIN" generate --checkpoint "$TMP/none" --prompt hi \
  --image "$TMP/fifo.png"
expect "config file '/dev/zero' is a character device, not a regular file (inherited by $TMP/zero.yaml)" \
  "$MMTRAIN" info --config "$TMP/zero.yaml"
expect "config file '$TMP/fifo.yaml' is a FIFO (named pipe), not a regular file (inherited by $TMP/pipe.yaml)" \
  "$MMTRAIN" info --config "$TMP/pipe.yaml"
expect "$TMP/missing.yaml: no such recipe file" "$MMTRAIN" data lint --config "$TMP/missing.yaml"
expect "config file '$TMP/folder.png' is a folder" "$MMTRAIN" data lint --config "$TMP/folder.png"
expect "optimizer.lr: must be a finite number > 0, got inf" "$MMTRAIN" info --config "$TMP/empty.yaml" \
  --set optimizer.lr=.inf
expect "image.mode: expected one of single | static | dynamic" "$MMTRAIN" info --config "$TMP/empty.yaml" \
  --set image.mode=tiles
# Damaged images: our one line only, nothing from libpng or libjpeg before it.
IMG=$(cd "$(dirname "$0")/../data/hostile/image" && pwd)
expect "short_idat.png: corrupt PNG: libpng: Not enough image data" "$MMTRAIN" preprocess --image "$IMG/short_idat.png"
[ $status -eq 0 ] && echo "every hostile path: one line, exit 1"
exit $status

#!/usr/bin/env bash
# The command line's conventions: `mmtrain` alone prints the help (exit 0); a mistyped command is
# one line with a suggestion (exit 1); usage errors (unknown option, missing required option, bad
# value) are one line "mmtrain: error: ..." with exit 1, like every user error; and a user error
# shows no source file:line. `launch` accepts torchrun's option spellings.
set -uo pipefail
MM=$1
SRC=$2
status=0
fail() { echo "FAIL: $*"; status=1; }
# expect_error NAME ARGS...: exit 1, exactly one line on stderr starting "mmtrain: error: ", no
# "file.cpp:N:" location in it; the line is left in $line.
expect_error() {
  local name=$1; shift
  local err rc
  err=$("$MM" "$@" 2>&1 >/dev/null); rc=$?
  line=$err
  [ $rc -eq 1 ] || fail "$name: exit $rc, expected 1 ($err)"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$name: expected one line, got: $err"
  [[ $err == "mmtrain: error: "* ]] || fail "$name: not the user-error format: $err"
  if printf '%s' "$err" | grep -qE '[a-z_]+\.(cpp|h):[0-9]+'; then fail "$name: shows a source location: $err"; fi
}

out=$("$MM"); rc=$?
[ $rc -eq 0 ] || fail "bare mmtrain: exit $rc"
printf '%s' "$out" | grep -q "Subcommands:" || fail "bare mmtrain: no help ($out)"
printf '%s' "$out" | grep -q "train" || fail "bare mmtrain: help lacks 'train'"

expect_error typo trian --config x.yaml
[[ $line == *"unknown command 'trian' (did you mean 'train'?)"* ]] || fail "typo: $line"
expect_error unknown_option train --config x.yaml --no-such-flag
[[ $line == *"(mmtrain train --help)"* ]] || fail "unknown_option: no pointer to the help: $line"
expect_error missing_required train
expect_error bad_value bench --config x.yaml --steps notanumber
expect_error user_error info --config /nonexistent/recipe.yaml
[[ $line == *"/nonexistent/recipe.yaml"* ]] || fail "user_error: the file is not named: $line"

"$MM" --version | grep -q "mmtrain" || fail "--version"
# launch takes torchrun's spellings beside its own.
out=$("$MM" launch --nproc_per_node 1 --nnodes 1 --node_rank 0 --master_addr 127.0.0.1 -- info \
      --config "$SRC/configs/models/debug.yaml" 2>&1) || fail "launch with torchrun's spellings: $out"
printf '%s' "$out" | grep -q "params" || fail "launch with torchrun's spellings printed no model summary: $out"
"$MM" train --help | grep -q -- "--resume" || fail "train --help"
[ $status -eq 0 ] && echo "cli usage: help, suggestions and one-line usage errors"
exit $status

#!/usr/bin/env bash
# Golden tests: every capture in TESTLIST through smtpscope, the JSON Lines
# compared byte for byte with tests/golden/expected/NAME.jsonl (tcpdump's
# tests/TESTLIST idea).  Output is deterministic by design: packet times
# only, fixed key order, records in session id order.
#
#   tests/golden/run.sh [--binary PATH] [--also "OPTIONS"] [--update NAME|all]
# Every case runs with --sensor golden, so that records (sensor, uid) do
# not depend on the machine's name.
# --also adds options to every case that must not change its output (the
# same expected files are used).  Prints one line per case and a closing
# "N passed, N failed" line.
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=./smtpscope
update=""
also=""
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --update) update=$2; shift 2 ;;
        --also) also=$2; shift 2 ;;
        *) echo "usage: $0 [--binary PATH] [--also OPTIONS] [--update NAME|all]" >&2; exit 2 ;;
    esac
done
corpus=${SMTPSCOPE_CORPUS:-../shared/corpus/public}
export TZ=UTC LC_ALL=C
passed=0 failed=0 skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

while read -r name capture opts; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ -n "$update" ] && [ "$update" != all ] && [ "$update" != "$name" ]; then
        continue
    fi
    case "$capture" in
        @corpus/*) path="$corpus/${capture#@corpus/}" ;;
        *) path=$capture ;;
    esac
    if [ ! -f "$path" ]; then
        echo "skip  $name ($capture not present)"
        skipped=$((skipped + 1))
        continue
    fi
    expected=tests/golden/expected/$name.jsonl
    # shellcheck disable=SC2086 # options are words by design
    "$binary" -q --sensor golden -r "$path" --json "$tmp/out.jsonl" $opts $also 2>"$tmp/err"
    status=$?
    if [ $status -ne 0 ] && [ $status -ne 3 ]; then
        echo "FAIL  $name: exit status $status: $(head -c 300 "$tmp/err")"
        failed=$((failed + 1))
        continue
    fi
    if [ -n "$update" ]; then
        cp "$tmp/out.jsonl" "$expected"
        echo "wrote $expected"
        continue
    fi
    if [ ! -f "$expected" ]; then
        echo "FAIL  $name: no expected output (make golden-update NAME=$name)"
        failed=$((failed + 1))
    elif diff -u "$expected" "$tmp/out.jsonl" >"$tmp/diff"; then
        echo "pass  $name"
        passed=$((passed + 1))
    else
        echo "FAIL  $name: output differs from $expected; changed fields:"
        python3 tests/golden/jsondiff.py "$expected" "$tmp/out.jsonl" | head -20 | sed 's/^/      /'
        failed=$((failed + 1))
    fi
done < tests/golden/TESTLIST

[ -n "$update" ] && exit 0
echo "golden ($binary${also:+ $also}): $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]

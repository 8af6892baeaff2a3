#!/usr/bin/env bash
# tests/fuzz/replay.sh - the fuzz-replay level of `make check`.
#
# Builds the gcc + ASan/UBSan replay binaries (tests/fuzz/fuzz.mk) and runs
# every seed in tests/fuzz/corpus/<harness>/ and every saved crasher in
# tests/fuzz/crashes/<harness>/ through its harness.  One line per harness,
# then "N passed, N failed" (one test per harness) for tests/run-all.sh.
set -u
cd "$(dirname "$0")/../.." || exit 2
if grep -q 'tests/fuzz/fuzz.mk' Makefile; then
    mk="make -s"
else
    mk="make -s -f Makefile -f tests/fuzz/fuzz.mk"
fi
harnesses="parse session pcap"
if ! $mk $(for h in $harnesses; do echo build/asan/fuzz-replay-$h; done); then
    echo "fuzz-replay: build failed"
    echo "fuzz-replay: 0 passed, 1 failed"
    exit 1
fi
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
pass=0
fail=0
for h in $harnesses; do
    dirs=""
    for d in tests/fuzz/corpus/$h tests/fuzz/crashes/$h; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    # shellcheck disable=SC2086
    if out=$(build/asan/fuzz-replay-$h $dirs 2>&1); then
        echo "PASS  replay $h: $(tail -1 <<<"$out")"
        pass=$((pass + 1))
    else
        echo "FAIL  replay $h"
        tail -40 <<<"$out" | sed 's/^/      /'
        fail=$((fail + 1))
    fi
done
echo "fuzz-replay: $pass passed, $fail failed"
[ $fail -eq 0 ]

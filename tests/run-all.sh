#!/usr/bin/env bash
# make check: every test level in turn (unit, golden, corpus, wild, workers,
# valgrind, fuzz replay, hostile inputs, report, extract, cli, live, metrics), the
# sanitizer builds included.  Each level prints
# its own "N passed, N failed" line; this script adds them up and prints
# the final one.  A level that cannot run here says so and counts nothing.
set -u
cd "$(dirname "$0")/.." || exit 2
# libnids leaks a few bytes per run inside itself (libnids-notes.md 6):
# silence exactly those, so every leak of ours still fails the run.
export LSAN_OPTIONS="suppressions=$(pwd)/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
total_pass=0 total_fail=0
failed_levels=""

run_level() {
    local name=$1
    shift
    # LEVELS="unit golden ...": only those levels (a quick check).
    if [ -n "${LEVELS:-}" ] && [[ " $LEVELS " != *" $name "* ]]; then
        return
    fi
    local log
    log=$(mktemp)
    echo "=== $name"
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    local line
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    local p f
    p=$(grep -oE '[0-9]+ passed, [0-9]+ failed' <<<"$line" | awk '{print $1}')
    f=$(grep -oE '[0-9]+ passed, [0-9]+ failed' <<<"$line" | awk '{print $3}')
    total_pass=$((total_pass + ${p:-0}))
    total_fail=$((total_fail + ${f:-0}))
    if [ "$status" -ne 0 ]; then
        failed_levels="$failed_levels $name"
        [ "${f:-0}" -gt 0 ] || total_fail=$((total_fail + 1))
    fi
    rm -f "$log"
}

run_level unit env CK_VERBOSITY=normal build/asan/unit
run_level golden tests/golden/run.sh
run_level golden-asan tests/golden/run.sh --binary build/asan/smtpscope
# Freeing libnids' emptied buffers and prefetching ahead (on by default
# only past 4096 and 8192 open sessions) must change nothing: every case
# again with both always on.
run_level golden-asan-free-buffers-prefetch tests/golden/run.sh --binary build/asan/smtpscope \
    --also "--free-buffers-above 0 --prefetch-above 0"
# Every golden record valid against docs/smtpscope.schema.json, one type
# per key path, and uid/input as promised.
run_level schema tests/schema/run.sh
# Two ClickHouse shards on loopback: the documented tables, ingestion
# and queries give smtpscope's own figures (skips without ClickHouse).
run_level clickhouse tests/clickhouse/run.sh
run_level truth tests/golden/truth.sh
run_level corpus tests/corpus/run.sh build/asan/smtpscope
# Every real capture distorted as sensors distort captures (offload, ACKs
# first, stale windows, a lost body segment) must read as the original.
run_level wild tests/wild/run.sh
# The same records, summary and report with 1, 2 and 3 worker processes.
run_level install tests/install/run.sh
# Pipes, gzip/xz/zstd, signals during a read, -Z with root-only outputs.
run_level input tests/input/run.sh --binary build/asan/smtpscope
run_level workers tests/workers/run.sh
run_level workers-asan tests/workers/run.sh --binary build/asan/smtpscope --quick
# Leaks and invalid reads as valgrind sees them, libnids included, in one
# process and in each of two.
run_level valgrind make -s valgrind
[ -x tests/fuzz/replay.sh ] && run_level fuzz-replay tests/fuzz/replay.sh
[ -x tests/hostile/run.sh ] && run_level hostile tests/hostile/run.sh
[ -x tests/report/run.sh ] && run_level report tests/report/run.sh ./smtpscope
[ -x tests/i18n/run.sh ] && run_level i18n tests/i18n/run.sh ./smtpscope
[ -x tests/extract/run.sh ] && run_level extract tests/extract/run.sh build/asan/smtpscope
# The command line: unknown options, --report -, options refused where
# they do nothing, -c N, the progress line on a terminal.
[ -x tests/cli/run.sh ] && run_level cli tests/cli/run.sh build/asan/smtpscope
[ -x tests/live/run.sh ] && run_level live tests/live/run.sh
# The same live checks with two processes in an AF_PACKET fanout group.
[ -x tests/live/run.sh ] && run_level live-workers tests/live/run.sh --workers 2
# --metrics against promtool and a real prometheus server (offline, while
# reading, live in a namespace), with the sanitizer build.
[ -x tests/metrics/run.sh ] && run_level metrics tests/metrics/run.sh --binary build/asan/smtpscope
# The first run on a fresh Debian 12 root: make run and make check there.
[ -x tests/fresh/run.sh ] && run_level fresh tests/fresh/run.sh

echo
if [ -n "$failed_levels" ]; then
    echo "failed levels:$failed_levels"
fi
echo "check: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ -z "$failed_levels" ]

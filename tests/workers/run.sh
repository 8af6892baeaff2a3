#!/usr/bin/env bash
# tests/workers/run.sh - the same outputs whatever the number of workers.
#
#   tests/workers/run.sh [--binary PATH] [--quick]
#
# Every capture in pcaps/, in the public corpus (when ../shared is there)
# and in tests/corpus-wild/, and captures made by bench/build/gen at run
# time (many sessions at once, so that the order window is overrun and
# records go out early), is read with --workers 1 and with --workers 2
# and 3.  Each run must give byte for byte the same JSON Lines (records
# and summary), the same terminal summary, the same HTML report (but for
# the command line it quotes) and the same exit status.
# Prints one line per capture and "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=./smtpscope
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        *) echo "usage: $0 [--binary PATH] [--quick]" >&2; exit 2 ;;
    esac
done
corpus=${SMTPSCOPE_CORPUS:-../shared/corpus/public}
export TZ=UTC LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# One run: JSON, terminal summary, report (command line removed), status.
run_one() {
    local out=$1 path=$2
    shift 2
    "$binary" -r "$path" --json "$out.jsonl" --report "$out.html" "$@" >"$out.txt" 2>"$out.err"
    echo $? >"$out.status"
    # The report quotes the command line and the wall clock of the run;
    # everything else must agree.
    grep -v -e '<th>Command line</th>' -e '<th>Analysis ran at</th>' "$out.html" >"$out.report"
}

check() {
    local name=$1 path=$2
    shift 2
    run_one "$tmp/one" "$path" --workers 1 "$@"
    local n why=""
    for n in 2 3; do
        run_one "$tmp/many" "$path" --workers "$n" "$@"
        if ! cmp -s "$tmp/one.status" "$tmp/many.status"; then
            why="exit status $(cat "$tmp/one.status") with 1 worker, $(cat "$tmp/many.status") with $n ($(head -c 300 "$tmp/many.err"))"
        elif ! cmp -s "$tmp/one.jsonl" "$tmp/many.jsonl"; then
            why="JSON differs with $n workers: $(diff "$tmp/one.jsonl" "$tmp/many.jsonl" | head -c 400)"
        elif ! cmp -s "$tmp/one.txt" "$tmp/many.txt"; then
            why="terminal summary differs with $n workers: $(diff "$tmp/one.txt" "$tmp/many.txt" | head -c 400)"
        elif ! cmp -s "$tmp/one.report" "$tmp/many.report"; then
            why="report differs with $n workers: $(diff "$tmp/one.report" "$tmp/many.report" | head -c 400)"
        fi
        [ -n "$why" ] && break
    done
    if [ -z "$why" ] && [ "$(cat "$tmp/one.status")" -gt 3 ]; then
        why="exit status $(cat "$tmp/one.status"): $(head -c 300 "$tmp/one.err")"
    fi
    if [ -n "$why" ]; then
        echo "FAIL  $name: $why"
        failed=$((failed + 1))
    else
        echo "pass  $name ($(grep -c '"type":"session"' "$tmp/one.jsonl") sessions)"
        passed=$((passed + 1))
    fi
}

for f in pcaps/*.pcap pcaps/*.pcapng tests/corpus-wild/*.pcap; do
    [ -f "$f" ] && check "$f" "$f"
done
# Idle sessions end between other workers' packets: the time they learn
# from the reader must end them where one process does.
for f in pcaps/real-*idle*.pcap pcaps/real-banner-delay-1000ms.pcap pcaps/real-pipelining.pcap \
    pcaps/real-client-talks-first.pcap pcaps/*wild*.pcap; do
    [ -f "$f" ] && check "$f, idle timeout 1 s" "$f" --idle-timeout 1
done
if [ -d "$corpus" ]; then
    for f in "$corpus"/*.pcap "$corpus"/*.pcapng; do
        [ -f "$f" ] && check "corpus/${f##*/}" "$f"
    done
else
    echo "skip  public corpus ($corpus not present)"
fi

# Made at run time: many sessions at once.  The small order window makes
# records leave early (out of order) as they do on big captures.
if [ -x bench/build/gen ] || make -s -C bench build/gen >/dev/null 2>&1; then
    sessions=3000 concurrency=800
    [ "$quick" = 1 ] && sessions=600 concurrency=200
    bench/build/gen --out "$tmp/gen.pcap" --seed 7 --sessions $sessions \
        --concurrency $concurrency --messages 2 --body-bytes 3000 --anomaly-share 0.2 >/dev/null
    check "gen: $sessions sessions, $concurrency at once" "$tmp/gen.pcap"
    check "gen: the same, order window 64" "$tmp/gen.pcap" --order-window 64
    check "gen: the same, idle timeout 1 s" "$tmp/gen.pcap" --idle-timeout 1
else
    echo "skip  generated captures (bench/build/gen cannot be built)"
fi

# A worker that dies is an error with its cause, never lost in silence;
# SIGINT ends every process in order.  The capture comes through a pipe,
# so that the kill lands while it is being read.
if [ -f "$tmp/gen.pcap" ]; then
    mkfifo "$tmp/fifo"
    # start_piped NAME: smtpscope reading the pipe ($pid), 2 MB of the
    # capture written to it (fd 3 stays open for the rest).
    start_piped() {
        "$binary" -q -r - --json "$tmp/$1.jsonl" --workers 2 <"$tmp/fifo" 2>"$tmp/$1.err" &
        pid=$!
        exec 3>"$tmp/fifo"
        head -c 2000000 "$tmp/gen.pcap" >&3
        sleep 0.5
    }
    start_piped dead
    child=$(pgrep -P $pid | head -n 1)
    [ -n "$child" ] && kill -9 "$child"
    tail -c +2000001 "$tmp/gen.pcap" >&3
    exec 3>&-
    wait $pid
    status=$?
    if [ -n "$child" ] && [ $status -eq 6 ] &&
        grep -q 'worker 2 ended before the end of input (killed by signal 9' "$tmp/dead.err" &&
        grep -q 'sessions were open and are lost' "$tmp/dead.err" &&
        tail -n 1 "$tmp/dead.jsonl" | grep -q '"type":"summary"'; then
        echo "pass  a worker killed: exit 6, its cause and its lost sessions said, summary written"
        passed=$((passed + 1))
    else
        echo "FAIL  a worker killed: exit $status, $(head -c 300 "$tmp/dead.err")"
        failed=$((failed + 1))
    fi
    start_piped int
    kill -INT $pid
    sleep 0.2
    exec 3>&-
    wait $pid
    status=$?
    left=$(pgrep -f "smtpscope -q -r - --json $tmp/int.jsonl" | wc -l)
    if [ $status -eq 0 ] && [ "$left" -eq 0 ] && grep -q '"capture_stopped"' "$tmp/int.jsonl" &&
        tail -n 1 "$tmp/int.jsonl" | grep -q '"type":"summary"'; then
        echo "pass  SIGINT with workers: open sessions written as stopped, summary, no process left"
        passed=$((passed + 1))
    else
        echo "FAIL  SIGINT with workers: exit $status, $left processes left, $(head -c 300 "$tmp/int.err")"
        failed=$((failed + 1))
    fi
fi

echo "workers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

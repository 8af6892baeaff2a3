#!/usr/bin/env bash
# tests/cli/run.sh [BINARY] - the command line's everyday paths.
#
# 1. An unknown option prints one line and a hint to --help, not the help.
# 2. --report - writes the report to standard output (the summary goes to
#    standard error); with --json - as well it is refused.
# 3. Options that would do nothing in the chosen mode are refused with a
#    reason: live-only ones reading a file, file-only ones capturing live,
#    --community-id-seed without --json, -q with nothing to write.
# 4. -c N writes exactly N sessions (one process and two); the text summary
#    is wrapped to 80 columns into a file, to the terminal's width on one.
# 5. Progress (stderr a terminal, through script(1)'s pty): a line redrawn
#    in place on a long read; none into a pipe; none with --no-progress.
# Prints "N passed, N failed"; exit status 1 on any failure.
set -u
cd "$(dirname "$0")/../.." || exit 2
bin=${1:-./smtpscope}
export TZ=UTC LC_ALL=C
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

result() { # result ok|FAIL what
    if [ "$1" = ok ]; then
        echo "ok    $2"
        passed=$((passed + 1))
    else
        echo "FAIL  $2"
        failed=$((failed + 1))
    fi
}
expect() { # expect what command...
    local what=$1
    shift
    if "$@"; then result ok "$what"; else result FAIL "$what"; fi
}
pcap=pcaps/real-concurrent.pcap

# ---- 1. unknown option ------------------------------------------------------------
"$bin" --no-such-option -r "$pcap" >"$tmp/out" 2>"$tmp/err"
status=$?
expect "unknown option: exit 1" test "$status" -eq 1
expect "unknown option: two lines on stderr (what, and the hint)" test "$(wc -l <"$tmp/err")" -eq 2
expect "unknown option: names the option" grep -q -- "--no-such-option" "$tmp/err"
expect "unknown option: hints at --help" grep -q -- "--help" "$tmp/err"
expect "unknown option: no help text, nothing on stdout" \
    bash -c '! grep -q "^Usage" "$1" && [ ! -s "$2" ]' _ "$tmp/err" "$tmp/out"

# ---- 2. --report - ------------------------------------------------------------------
"$bin" -r "$pcap" --report - >"$tmp/report.html" 2>"$tmp/err"
status=$?
expect "--report -: exit 0" test "$status" -eq 0
expect "--report -: the HTML document on stdout" \
    bash -c 'head -1 "$1" | grep -q "^<!DOCTYPE html>" && tail -1 "$1" | grep -q "</html>"' _ "$tmp/report.html"
expect "--report -: the summary on stderr" grep -q "^smtpscope summary" "$tmp/err"
"$bin" -r "$pcap" --report - --json - >"$tmp/out" 2>"$tmp/err"
status=$?
expect "--report - with --json -: refused (exit 1), nothing on stdout" \
    test "$status" -eq 1 -a ! -s "$tmp/out"
expect "--report - with --json -: says why" grep -q "cannot both write to standard output" "$tmp/err"

# ---- 3. options that do nothing in this mode ------------------------------------------
refused() { # refused what expect-in-message args...
    local what=$1 msg=$2
    shift 2
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    local status=$?
    if [ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$msg" "$tmp/err" &&
        [ ! -s "$tmp/out" ]; then
        result ok "refused: $what"
    else
        result FAIL "refused: $what (exit $status: $(head -c 200 "$tmp/err"))"
    fi
}
for opt in "-p" "-B 4" "--duration 5" "--stats 10"; do
    # shellcheck disable=SC2086 # the option and its value are two words
    refused "$opt reading a file" "is for live capture" -r "$pcap" $opt
done
# Capturing live is refused before any interface is opened.
for opt in "--read-threads 1" "--prefetch-above 10"; do
    # shellcheck disable=SC2086
    refused "$opt capturing live" "is for capture files" -i lo $opt
done
refused "--community-id-seed without --json" "add --json" -r "$pcap" --community-id-seed 7
refused "-q with nothing to write" "nothing to show" -r "$pcap" -q
# ... and accepted where they mean something.
expect "accepted: --community-id-seed with --json" \
    "$bin" -r "$pcap" -q --json /dev/null --community-id-seed 7
expect "accepted: -q with --report" "$bin" -r "$pcap" -q --report /dev/null
expect "accepted: --read-threads reading a file" "$bin" -r "$pcap" -q --json /dev/null --read-threads 1

# ---- 4. -c N writes N sessions ------------------------------------------------------------
all=$("$bin" -r "$pcap" -q --json - | grep -c '"type":"session"')
expect "$pcap has more than 3 sessions ($all)" test "$all" -gt 3
for workers in 1 2; do
    for n in 1 2 3 "$all" $((all + 5)); do
        want=$((n < all ? n : all))
        got=$("$bin" -r "$pcap" -q --json - -c "$n" --workers "$workers" | grep -c '"type":"session"')
        summary=$("$bin" -r "$pcap" -q --json - -c "$n" --workers "$workers" | tail -1 |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])')
        expect "-c $n --workers $workers: $want sessions written, summary says $want" \
            test "$got" = "$want" -a "$summary" = "$want"
    done
done

# ---- 4b. the text summary fits the terminal -------------------------------------------
"$bin" -r pcaps/real-html-injection.pcap -r pcaps/real-554-greeting.pcap >"$tmp/sum.txt" 2>/dev/null
expect "summary into a file: every line at most 80 columns, and some use them" \
    awk 'length > 80 { bad = 1 } length > 70 { used = 1 } END { exit bad || !used }' "$tmp/sum.txt"
if command -v script >/dev/null; then
    for cols in 60 120; do
        script -qc "stty cols $cols; $bin -r pcaps/real-html-injection.pcap -r pcaps/real-554-greeting.pcap" \
            /dev/null >"$tmp/tty.out" 2>&1
        tr -d '\r' <"$tmp/tty.out" >"$tmp/sum.txt"
        expect "summary on a $cols-column terminal: lines of at most $cols columns" \
            awk -v c="$cols" 'length > c { bad = 1 } length > c - 12 { used = 1 } END { exit bad || !used }' "$tmp/sum.txt"
    done
    expect "summary on a terminal: a wrapped explanation continues under its start" \
        grep -q -E '^ {37}[a-z(]' "$tmp/sum.txt"
fi

# ---- 5. progress on a terminal ----------------------------------------------------------
gen=bench/build/gen
if ! command -v script >/dev/null; then
    echo "skip  progress: script(1) (bsdutils) is not installed"
elif ! { [ -x "$gen" ] || make -s -C bench build/gen >/dev/null 2>&1; }; then
    echo "skip  progress: bench/build/gen could not be built"
else
    "$gen" --out "$tmp/mid.pcap" --sessions 300 --concurrency 50 --body-bytes 20000 >/dev/null 2>&1
    size=$(stat -c %s "$tmp/mid.pcap")
    # A read from a pipe that pauses 1.5 s after 4 MB: long enough for the
    # line to appear (after 1 s), whatever the machine's speed.
    for workers in 1 2; do
        cat >"$tmp/slow.sh" <<EOS
#!/bin/sh
(head -c 4000000 "$tmp/mid.pcap"; sleep 1.5; tail -c +4000001 "$tmp/mid.pcap") |
    "$bin" -r - --json "$tmp/slow.jsonl" --workers $workers "\$@"
EOS
        chmod +x "$tmp/slow.sh"
        script -qc "$tmp/slow.sh" /dev/null >"$tmp/tty.out" 2>&1
        expect "progress (--workers $workers): a line on the terminal with bytes, packets/s, sessions" \
            grep -q -a -E $'\r[0-9.]+ (KiB|MiB), [0-9]+ packets/s, [0-9]+ sessions\033\\[K' "$tmp/tty.out"
        expect "progress (--workers $workers): erased before the summary" \
            grep -q -a -F $'\033[K\r\033[Ksmtpscope summary' "$tmp/tty.out"
        expect "progress (--workers $workers): the JSON is complete" \
            test "$(grep -c '"type":"session"' "$tmp/slow.jsonl")" -eq 300
    done
    script -qc "$tmp/slow.sh --no-progress" /dev/null >"$tmp/tty.out" 2>&1
    expect "--no-progress: no progress line on the terminal" \
        bash -c '! grep -q -a "[0-9.]* [KM]i\?B\(, \| of \)" "$1" && grep -q -a "smtpscope summary" "$1"' _ "$tmp/tty.out"
    # Standard error into a file (stdout a terminal or not): never a line.
    (head -c 4000000 "$tmp/mid.pcap"; sleep 1.5; tail -c +4000001 "$tmp/mid.pcap") |
        "$bin" -r - --json /dev/null >/dev/null 2>"$tmp/err"
    expect "progress: nothing when stderr is a file" \
        bash -c '! grep -q -a "[0-9.]* [KM]i\?B\(, \| of \)" "$1" && ! grep -q -a $'"'"'\r'"'"' "$1"' _ "$tmp/err"
    # Files: percent and time left.  The read (24 times the capture) is
    # paused (SIGSTOP) for 1.5 s soon after it starts, so the line is due
    # when it resumes.
    cat >"$tmp/file.sh" <<EOS
#!/bin/sh
"$bin" $(for _ in $(seq 24); do printf -- '-r %s ' "$tmp/mid.pcap"; done) --json /dev/null -q &
echo \$! >"$tmp/pid"
wait \$!
EOS
    chmod +x "$tmp/file.sh"
    rm -f "$tmp/pid"
    script -qc "$tmp/file.sh" /dev/null >"$tmp/tty.out" 2>&1 &
    spid=$!
    # Paused once it has the capture open (and so is about to read it).
    for _ in $(seq 300); do
        [ -s "$tmp/pid" ] && ls -l "/proc/$(cat "$tmp/pid")/fd" 2>/dev/null | grep -q mid.pcap && break
        sleep 0.01
    done
    sleep 0.05
    if [ -s "$tmp/pid" ] && kill -STOP "$(cat "$tmp/pid")" 2>/dev/null; then
        sleep 1.5
        kill -CONT "$(cat "$tmp/pid")" 2>/dev/null
    fi
    wait "$spid"
    total=$(awk -v s="$size" 'BEGIN { printf "%.1f MiB", 24 * s / 1048576 }')
    if grep -q -a "[0-9.]* [KM]i\?B\(, \| of \)" "$tmp/tty.out"; then
        expect "progress on files: percent of the files' $total and time left" \
            grep -q -a -E "[0-9.]+ (KiB|MiB) of $total \([0-9]+%\), [0-9]+ packets/s, [0-9]+ sessions, [0-9]+ (s|min [0-9]+ s|h [0-9]+ min) left" "$tmp/tty.out"
    else
        echo "skip  progress on files: the read ended before it could be paused"
    fi
fi

# ---- 6. live capture says what it listens on ---------------------------------------------
ns=smtpscope-cli-$$
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add "$ns" 2>/dev/null; then
    echo "skip  listening line: needs root and ip netns"
else
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" "$bin" -i lo --duration 1 --json /dev/null >/dev/null 2>"$tmp/err"
    status=$?
    ip netns exec "$ns" "$bin" -i lo --duration 1 --json /dev/null -q 'tcp port 2525' \
        >/dev/null 2>"$tmp/err-q"
    ip netns exec "$ns" "$bin" -i lo --duration 1 --json /dev/null 'tcp port 2525' \
        >/dev/null 2>"$tmp/err-f"
    ip netns del "$ns"
    expect "live: exit 0" test "$status" -eq 0
    expect "live: 'listening on lo, link-type EN10MB, snapshot length, filter' on stderr" \
        grep -q -E '^smtpscope: listening on lo, link-type EN10MB, snapshot length 262144 bytes, filter: .*port 25' "$tmp/err"
    expect "live: the user's filter is the one announced" \
        grep -q -F 'filter: tcp port 2525' "$tmp/err-f"
    expect "live: -q announces nothing" bash -c '! grep -q "listening on" "$1"' _ "$tmp/err-q"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

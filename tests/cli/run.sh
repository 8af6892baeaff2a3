#!/usr/bin/env bash
# tests/cli/run.sh [BINARY] - the command line's everyday paths.
#
# 1. An unknown option prints one line and a hint to --help, not the help.
# 2. --report - writes the report to standard output (the summary goes to
#    standard error); with --json - as well it is refused.
# 3. Options that would do nothing in the chosen mode are refused with a
#    reason: live-only ones reading a file, file-only ones capturing live,
#    --community-id-seed without --json, -q with nothing to write.
# 4. -c N writes exactly N sessions (one process and two).
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
for opt in "-p" "-B 4" "-Z nobody" "--duration 5" "--stats 10"; do
    # shellcheck disable=SC2086 # the option and its value are two words
    refused "$opt reading a file" "is for live capture" -r "$pcap" $opt
done
# Capturing live is refused before any interface is opened.
for opt in "--read-threads 1" "--prefetch-above 10"; do
    # shellcheck disable=SC2086
    refused "$opt capturing live" "is for capture files" -i lo $opt
done
refused "--community-id-seed without --json" "add --json" -r "$pcap" --community-id-seed 7
refused "-q with nothing to write" "nothing written" -r "$pcap" -q
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

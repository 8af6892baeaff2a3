#!/usr/bin/env bash
# tests/report/run.sh - `smtpscope explain` goldens, the knowledge and HTML
# unit suites, and the HTML report: static lint of a report for every
# capture in pcaps/ (whose text summary, report and JSON must name the same
# abnormal sessions), the HTML-injection capture, and (when Chromium is
# installed or installable) rendering in headless Chromium with no console
# errors, charts present and nothing from the capture executed.
#
# usage: tests/report/run.sh [SMTPSCOPE_WITH_REPORT] [--update]
#   --update rewrites tests/report/explain/*.txt from the binary's output.
# Prints "N passed, N failed"; exit 1 on any failure.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=./smtpscope
UPDATE=0
for a in "$@"; do
    case $a in
    --update) UPDATE=1 ;;
    *) BIN=$a ;;
    esac
done
export LC_ALL=C TZ=UTC
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---- 1. explain goldens -------------------------------------------------
while read -r name status args; do
    case $name in '' | '#'*) continue ;; esac
    want=tests/report/explain/$name.txt
    # shellcheck disable=SC2086
    "$BIN" explain $args >"$WORK/out" 2>&1
    got=$?
    if [ "$UPDATE" = 1 ]; then
        cp "$WORK/out" "$want"
    fi
    if [ "$got" != "$status" ]; then
        bad "explain $name: exit $got, want $status"
    elif ! diff -u "$want" "$WORK/out" >"$WORK/diff" 2>&1; then
        bad "explain $name: output differs"
        head -40 "$WORK/diff"
    else
        ok
    fi
done <tests/report/explain/TESTLIST

# Unknown codes and names go to stderr, the rest to stdout, exit 1.
"$BIN" explain 221 299 nonsense 5.9.9 >"$WORK/out" 2>"$WORK/err"
got=$?
if [ "$got" != 1 ]; then
    bad "explain with unknown arguments: exit $got, want 1"
elif ! head -1 "$WORK/out" | grep -q '^221  ' || grep -q '299\|nonsense\|5\.9\.9' "$WORK/out"; then
    bad "explain with unknown arguments: stdout holds something other than 221"
elif ! grep -q '^299 ' "$WORK/err" || ! grep -q 'nonsense' "$WORK/err" || ! grep -q '^5\.9\.9 ' "$WORK/err"; then
    bad "explain with unknown arguments: an error is missing from stderr"
else
    ok
fi

# ---- 2. unit suites (knowledge base, HTML escaping and writer) ----------
if [ -x build/asan/unit ]; then
    for suite in knowledge out_html; do
        line=$(CK_RUN_SUITE=$suite build/asan/unit 2>&1 | grep -E 'Checks: [0-9]+' | tail -1)
        checks=$(sed -nE 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1/p' <<<"$line")
        failures=$(sed -nE 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\2+\3/p' <<<"$line")
        if [ -z "$checks" ]; then
            bad "unit suite $suite did not run"
            continue
        fi
        failures=$((failures))
        pass=$((pass + checks - failures))
        fail=$((fail + failures))
        [ "$failures" = 0 ] || echo "FAIL: unit suite $suite: $line"
    done
else
    echo "skip: build/asan/unit not built (make build/asan/unit)"
fi

# ---- 3. a report for every capture, linted -------------------------------
if ! "$BIN" --help 2>&1 | grep -q -- '--report'; then
    bad "$BIN has no --report option"
    echo "$pass passed, $fail failed"
    exit 1
fi
for pcap in pcaps/*.pcap pcaps/*.pcapng; do
    [ -f "$pcap" ] || continue
    name=$(basename "$pcap")
    name=${name%.*}
    out=$WORK/$name.html
    "$BIN" -r "$pcap" --report "$out" --json "$WORK/$name.jsonl" >"$WORK/$name.txt" 2>"$WORK/log"
    status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
        bad "report $name: exit $status: $(head -2 "$WORK/log")"
    elif ! tests/report/html_lint.py "$out" --min-svg 0 >"$WORK/lint" 2>&1; then
        bad "report $name: lint"
        head -10 "$WORK/lint"
    else
        ok
    fi
    # One fact, one place: the report charts a banner for exactly the
    # sessions whose JSON has one (none for a session picked up mid-stream,
    # as in real-lost-synack.pcap).
    counts=$(python3 -c 'import json,re,sys
html=open(sys.argv[1]).read()
charted=sum(int(n) for n in re.findall(r"n=(\d+) sessions with a greeting", html))
known=sum(1 for l in open(sys.argv[2]) if json.loads(l).get("banner_ms") is not None)
print(charted, known)' "$out" "$WORK/$name.jsonl")
    if [ "${counts% *}" = "${counts#* }" ]; then
        ok
    else
        bad "report $name: banner samples charted, and in the JSON: $counts"
    fi
    # One definition of abnormal: the text summary, the report and the
    # JSON name the same sessions.
    if tests/report/abnormal_agree.py "$WORK/$name.txt" "$out" "$WORK/$name.jsonl" >"$WORK/agree" 2>&1; then
        ok
    else
        bad "report $name: text, HTML and JSON disagree on the abnormal sessions"
        head -5 "$WORK/agree"
    fi
done

# ---- 3b. axes in human units, and an empty capture ------------------------
# Every axis label of every report above is a round value in a unit a
# person reads (0, +10s, 250µs, 5min, 14:30, 11-22 14:30, a date) or a
# bar's count, never a long run of digits.
bad_labels=$(python3 -c 'import re,sys
ok=re.compile(r"^(0|\+?[0-9]{1,3}(\.[0-9]+)?(\xb5s|ms|s|min|h|d)|[0-9]+|[0-9]{2}:[0-9]{2}|[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2})$")
for f in sys.argv[1:]:
    h=open(f,encoding="utf-8").read()
    for l in re.findall(r"<text [^>]*text-anchor=\"middle\"[^>]*>([^<]*)</text>",h):
        if not ok.match(l): print(f.rsplit("/",1)[-1], repr(l))' "$WORK"/*.html | head -5)
if [ -z "$bad_labels" ]; then ok; else bad "axis labels not in human units: $bad_labels"; fi
# Sessions three hours apart: the timeline is labelled with UTC clock
# times, not a count of seconds.
python3 -c 'import struct,sys
d=bytearray(open(sys.argv[1],"rb").read()); e="<" if d[:4]==b"\xd4\xc3\xb2\xa1" else ">"
i=24
while i+16<=len(d):
    s,u,c,l=struct.unpack(e+"IIII",d[i:i+16]); struct.pack_into(e+"I",d,i,s+3*3600); i+=16+c
open(sys.argv[2],"wb").write(d)' pcaps/real-421-idle-timeout.pcap "$WORK/late.pcap"
"$BIN" -q -r pcaps/real-concurrent.pcap -r "$WORK/late.pcap" --report "$WORK/hours.html" >/dev/null 2>&1
if grep -qE 'text-anchor="middle">[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}</text>' "$WORK/hours.html" &&
    grep -q '>UTC</text>' "$WORK/hours.html"; then
    ok
else
    bad "timeline over hours: no UTC clock-time labels"
fi
# A capture with no session says so, and not that every session was normal.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\0\0\x01\0\0\0' >"$WORK/empty.pcap"
"$BIN" -q -r "$WORK/empty.pcap" --report "$WORK/empty.html" >/dev/null 2>&1
if grep -q 'No sessions' "$WORK/empty.html" && ! grep -q 'ended normally' "$WORK/empty.html"; then
    ok
else
    bad "empty capture: report does not say there were no sessions"
fi

# ---- 4. the injection capture: escaped, and nothing raw ------------------
INJ=pcaps/real-html-injection.pcap
"$BIN" -r "$INJ" -q --report "$WORK/inj.html" >/dev/null 2>&1
if tests/report/html_lint.py "$WORK/inj.html" --min-svg 3 \
    --expect '&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert(1)&gt;' \
    --expect 'client.smtpscope.test&quot;&gt;&lt;img' \
    --expect 'fin_without_quit' >"$WORK/lint" 2>&1; then
    ok
else
    bad "injection report: lint"
    cat "$WORK/lint"
fi

# ---- 5. headless Chromium ------------------------------------------------
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the rendering test ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >"$WORK/apt.log" 2>&1 || true
    CHROMIUM=$(command -v chromium || true)
fi
render() { # render HTML MODE(dump-dom|screenshot=FILE) -> stdout DOM, stderr log
    local profile
    profile=$(mktemp -d)
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
        --enable-logging=stderr --v=0 --hide-scrollbars --window-size=1200,2000 \
        "--$2" "file://$(realpath "$1")"
    local st=$?
    rm -rf "$profile"
    return $st
}
if [ -z "$CHROMIUM" ]; then
    echo "skip: chromium is not installed and could not be installed; rendering tests skipped"
else
    for case in inj real-concurrent real-421-after-rcpt; do
        html=$WORK/$case.html
        [ "$case" = inj ] && html=$WORK/inj.html
        if ! render "$html" dump-dom >"$WORK/dom" 2>"$WORK/console"; then
            bad "chromium $case: did not render"
            continue
        fi
        problems=""
        grep -q '</html>' "$WORK/dom" || problems="$problems no-document"
        # The DOM after load: no element from the wire, charts present.
        grep -qiE '<img|<script|<iframe|<object|<embed' "$WORK/dom" && problems="$problems wire-element-in-DOM"
        [ "$(grep -o '<svg' "$WORK/dom" | wc -l)" -ge 3 ] || problems="$problems charts-missing"
        # Console: any message from the page (errors, CSP refusals) fails.
        grep -E 'CONSOLE|Refused to|Uncaught' "$WORK/console" >"$WORK/cons" && problems="$problems console-errors"
        if [ -n "$problems" ]; then
            bad "chromium $case:$problems"
            head -5 "$WORK/cons" 2>/dev/null
        else
            ok
        fi
    done
    # A positive control: the same checks must catch a live injection.
    printf '<!DOCTYPE html><html><body><img src=x onerror="console.error(1)"></body></html>' >"$WORK/control.html"
    render "$WORK/control.html" dump-dom >"$WORK/dom" 2>"$WORK/console"
    if grep -qi '<img' "$WORK/dom" && grep -qE 'CONSOLE' "$WORK/console"; then
        ok
    else
        bad "chromium control: the checks did not see a live <img onerror>"
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

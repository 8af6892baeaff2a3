#!/usr/bin/env bash
# tests/extract/run.sh [BINARY] - --extract DIR end to end on real captures.
#
# 1. real-normal-quit.pcap (swaks -> Postfix): DIR gets exactly one .eml and
#    its .json; the .eml is the message swaks sent (its headers and body, and
#    byte for byte the content read from the capture by check.py, which
#    parses the pcap itself); the sidecar parses and its envelope equals the
#    capture's MAIL/RCPT.
# 2. real-auth-plain.pcap: the password (plain or in the AUTH PLAIN base64)
#    appears nowhere in DIR, on stdout (JSON Lines included) or stderr.
# 3. An existing file is never overwritten: a second run into the same DIR
#    leaves the first run's files as they were, warns, counts the failure
#    (text and JSON summaries) and exits 7; a write error (file size limit)
#    too; --json, --report and extracted files are created mode 0640.
# 4. Nothing is created beside DIR.
# 5. -c N: only the messages of the N sessions written are extracted.
# Skips (counting nothing) when BINARY does not offer --extract yet.
# Prints a closing "N passed, N failed" line.
set -u
cd "$(dirname "$0")/../.." || exit 2
bin=${1:-./smtpscope}
export TZ=UTC LC_ALL=C
passed=0 failed=0

if ! "$bin" --help 2>&1 | grep -q -- '--extract'; then
    echo "skip  extract: $bin --help does not mention --extract"
    echo "0 passed, 0 failed"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

result() { # result OK|FAIL what
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

# ---- 1. the normal session ---------------------------------------------------
out=$tmp/normal
"$bin" -r pcaps/real-normal-quit.pcap -q --extract "$out" >"$tmp/normal.stdout" 2>&1
expect "normal-quit: smtpscope exits 0" test $? -eq 0
eml=$out/session-1-msg-1.eml
json=$out/session-1-msg-1.json
expect "normal-quit: $eml exists" test -f "$eml"
expect "normal-quit: $json exists" test -f "$json"
for h in 'From: sender@smtpscope.test' 'To: rcpt@smtpscope.test' \
    'Subject: smtpscope test message' \
    'Message-Id: <smtpscope-normal-quit@client.smtpscope.test>' 'X-Mailer: swaks'; do
    expect "normal-quit: .eml has header '$h'" grep -q -F -- "$h" "$eml"
done
expect "normal-quit: .eml has swaks' body" grep -q -x -F $'This is a test mailing\r' "$eml"
expect "normal-quit: .eml has no final dot line" \
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(d.endswith(b"\r\n.\r\n"))' "$eml"
expect "normal-quit: files are mode 0640" \
    test "$(stat -c %a "$eml")" = 640 -a "$(stat -c %a "$json")" = 640
expect "normal-quit: DIR is mode 0700" test "$(stat -c %a "$out")" = 700
if python3 tests/extract/check.py pcaps/real-normal-quit.pcap "$out" >"$tmp/check.log" 2>&1; then
    result ok "normal-quit: .eml and sidecar match the capture (check.py)"
else
    result FAIL "normal-quit: .eml and sidecar match the capture (check.py)"
    sed 's/^/      /' "$tmp/check.log"
fi

# ---- 2. the password never reaches DIR or the output -------------------------
out=$tmp/auth
"$bin" -r pcaps/real-auth-plain.pcap --json - --extract "$out" >"$tmp/auth.stdout" 2>"$tmp/auth.stderr"
expect "auth-plain: smtpscope exits 0" test $? -eq 0
expect "auth-plain: the message was extracted" test -f "$out/session-1-msg-1.eml"
expect "auth-plain: the JSON Lines record was written" test -s "$tmp/auth.stdout"
# The password as typed, the AUTH PLAIN initial response, the password alone in base64.
for secret in 'Sup3r-S3cret-Pa55' 'AGFsaWNlAFN1cDNyLVMzY3JldC1QYTU1' 'U3VwM3ItUzNjcmV0LVBhNTU'; do
    expect "auth-plain: '$secret' not in DIR, stdout or stderr" \
        bash -c '! grep -r -q -F -- "$1" "$2" "$3" "$4"' _ "$secret" "$out" \
        "$tmp/auth.stdout" "$tmp/auth.stderr"
done

# ---- 3. no overwrite, and the failure said, counted and in the exit status ----
out=$tmp/normal
before=$(sha256sum "$out"/* | sha256sum)
"$bin" -r pcaps/real-normal-quit.pcap --json "$tmp/rerun.jsonl" --extract "$out" \
    >"$tmp/rerun.stdout" 2>"$tmp/rerun.stderr"
status=$?
expect "rerun into the same DIR: files unchanged" test "$(sha256sum "$out"/* | sha256sum)" = "$before"
expect "rerun into the same DIR: no new files" test "$(ls "$out" | wc -l)" -eq 2
expect "rerun: exit status 7 (some messages could not be extracted)" test "$status" -eq 7
expect "rerun: stderr names the file and why" \
    grep -q -F "$out/session-1-msg-1.eml: File exists; message not extracted" "$tmp/rerun.stderr"
expect "rerun: the text summary counts the failure" \
    grep -q -E '^Extracted: 0 messages written, 1 failed' "$tmp/rerun.stdout"
expect "rerun: the JSON summary counts it (extract_counts)" \
    python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).readlines()[-1]); sys.exit(s["extract_counts"]!={"written":0,"failed":1})' "$tmp/rerun.jsonl"
expect "first run: extract_counts says 1 written" \
    bash -c '"$1" -r pcaps/real-normal-quit.pcap -q --json - --extract "$2" | tail -1 | grep -q -F "\"extract_counts\":{\"written\":1,\"failed\":0}"' \
    _ "$bin" "$tmp/again"
rm -rf "$tmp/again" "$tmp/rerun.jsonl" "$tmp/rerun.stdout" "$tmp/rerun.stderr"

# ---- 3b. a write error (file size limit 0: every write fails with EFBIG) ------
# (Standard output and error go through a pipe: the limit is on files.)
(
    trap '' XFSZ
    ulimit -f 0
    exec "$bin" -r pcaps/real-concurrent.pcap --extract "$tmp/full" 2>&1
) | cat >"$tmp/full.out"
status=${PIPESTATUS[0]}
expect "write error: exit status 7" test "$status" -eq 7
expect "write error: warned on stderr" grep -q -F 'File too large; message not extracted' "$tmp/full.out"
expect "write error: no partial .eml left" test "$(find "$tmp/full" -name '*.eml' | wc -l)" -eq 0
expect "write error: the text summary counts 6 failures" \
    grep -q -E '^Extracted: 0 messages written, 6 failed' "$tmp/full.out"
rm -rf "$tmp/full" "$tmp/full.out"

# ---- 3c. output files are created 0640 (addresses and user names) -----------
(
    umask 022
    "$bin" -r pcaps/real-auth-plain.pcap -q --json "$tmp/out.jsonl" --report "$tmp/out.html" >/dev/null 2>&1
)
expect "--json and --report files are created mode 0640" \
    test "$(stat -c %a "$tmp/out.jsonl")" = 640 -a "$(stat -c %a "$tmp/out.html")" = 640
rm -f "$tmp/out.jsonl" "$tmp/out.html"

# ---- 4. nothing beside DIR ---------------------------------------------------
expect "nothing created beside DIR" \
    test "$(cd "$tmp" && ls | grep -v -x -e normal -e auth -e 'normal.stdout' -e 'auth.stdout' \
        -e 'auth.stderr' -e 'check.log' | wc -l)" -eq 0

# ---- 5. freeing libnids' buffers changes no extracted byte -------------------
# Content reaches the extractor straight from libnids' buffer; with every
# emptied buffer freed (--free-buffers-above 0) the files must be the same.
caps="-r pcaps/real-concurrent.pcap -r pcaps/real-bdat.pcap -r pcaps/real-pipelining.pcap"
# shellcheck disable=SC2086 # the -r options are words by design
"$bin" -q $caps --json /dev/null --extract "$tmp/kept" >/dev/null 2>&1
# shellcheck disable=SC2086
"$bin" -q $caps --json /dev/null --extract "$tmp/freed" --free-buffers-above 0 >/dev/null 2>&1
expect "free-buffers: messages were extracted" test "$(ls "$tmp/kept" | wc -l)" -ge 10
expect "free-buffers: same files, same bytes" diff -r "$tmp/kept" "$tmp/freed"

# ---- 5. -c N ------------------------------------------------------------------
"$bin" -r pcaps/real-concurrent.pcap -q --extract "$tmp/all" --json /dev/null
"$bin" -r pcaps/real-concurrent.pcap -q -c 2 --extract "$tmp/two" --json "$tmp/two.jsonl"
written=$(grep -o '"type":"session","id":[0-9]*' "$tmp/two.jsonl" | sed 's/.*://' | sort -n | tr '\n' ' ')
extracted=$(ls "$tmp/two" | sed -n 's/^session-\([0-9]*\)-msg-.*\.eml$/\1/p' | sort -nu | tr '\n' ' ')
expect "-c 2: more sessions carry messages without it" test "$(ls "$tmp/all" | grep -c '\.eml$')" -gt 2
expect "-c 2: messages of the written sessions only ($extracted= $written)" test "$extracted" = "$written"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

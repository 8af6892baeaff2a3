#!/usr/bin/env bash
# Public corpus: every capture beside the checkout (../shared/corpus/public)
# must go through smtpscope without a crash (exit 0, or 3 for a damaged
# file), and its reply codes per stream must agree with tshark's reading
# shipped beside it, except the streams in exceptions.tsv (each with the
# reason tshark is wrong or the stream is not SMTP as smtpscope sees it).
# Skips cleanly when the corpus is absent (a user's clone has none).
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=${1:-./smtpscope}
corpus=${SMTPSCOPE_CORPUS:-../shared/corpus/public}
if [ ! -d "$corpus" ]; then
    echo "corpus: skipped, $corpus is not present"
    echo "corpus: 0 passed, 0 failed"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
for cap in "$corpus"/*.pcap "$corpus"/*.pcapng; do
    [ -f "$cap" ] || continue
    name=$(basename "$cap")
    ports=25,465,587
    case "$name" in sv-smtp-url-base64.pcap) ports=25,465,587,2525 ;; esac
    "$binary" -q -r "$cap" --ports "$ports" --json "$tmp/out.jsonl" 2>"$tmp/err"
    status=$?
    if [ $status -ne 0 ] && [ $status -ne 3 ]; then
        echo "FAIL  $name: exit status $status $(head -c 200 "$tmp/err")"
        failed=$((failed + 1))
        continue
    fi
    if [ ! -f "$cap.tshark.tsv" ]; then
        echo "pass  $name (no tshark reading to compare)"
        passed=$((passed + 1))
        continue
    fi
    if python3 tests/corpus/compare.py "$tmp/out.jsonl" "$cap.tshark.tsv" \
        tests/corpus/exceptions.tsv "$name" >"$tmp/cmp"; then
        echo "pass  $name"
        passed=$((passed + 1))
    else
        echo "FAIL  $name: reply codes differ from tshark"
        failed=$((failed + 1))
    fi
    sed 's/^/    /' "$tmp/cmp"
done
echo "corpus ($binary): $passed passed, $failed failed"
[ $failed -eq 0 ]

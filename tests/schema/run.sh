#!/usr/bin/env bash
# Schema level: the JSON records against docs/smtpscope.schema.json, and
# the session identity fields against what they promise.
#
#   tests/schema/run.sh [--binary PATH]
#
# - Every golden record, and the records of a run with --extract (the
#   messages array), valid against the schema (python3-jsonschema, draft
#   2020-12); one key path, one JSON type over all of them (check.py).
# - uid: unique within a run; the same for the same sensor, read again
#   or with --workers 2; none shared with another sensor's run.
# - input: with several -r files, each session names the file it came
#   from (the file that, read alone, gives the same uid).
# - --json-format flat holds exactly the nested records' values
#   (flat_check.py).
# Prints pass/FAIL lines and "N passed, N failed"; skips, counting
# nothing, when python3-jsonschema is not installed.
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=./smtpscope
[ "${1:-}" = --binary ] && binary=$2
export TZ=UTC LC_ALL=C

# Debian's python3-jsonschema lives with Debian's python3, which another
# python3 earlier on PATH may not see.
py=""
for cand in /usr/bin/python3 python3; do
    if "$cand" -c 'from jsonschema import Draft202012Validator' 2>/dev/null; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "schema: skipped, python3-jsonschema is not installed (make deps)"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "pass  $1"; passed=$((passed + 1)); }
bad() { echo "FAIL  $1"; failed=$((failed + 1)); }

"$binary" -q --sensor schema -r pcaps/real-bdat.pcap --extract "$tmp/extract" \
    --json "$tmp/extract.jsonl" 2>/dev/null
if grep -q '"messages":\[' "$tmp/extract.jsonl"; then
    ok "a run with --extract writes messages (checked against the schema below)"
else
    bad "a run with --extract wrote no messages array"
fi

"$py" tests/schema/check.py docs/smtpscope.schema.json include/verdict.h \
    tests/golden/expected/*.jsonl "$tmp/extract.jsonl" >"$tmp/check.out" 2>&1
status=$?
cat "$tmp/check.out"
passed=$((passed + $(grep -c '^pass ' "$tmp/check.out")))
failed=$((failed + $(grep -c '^FAIL ' "$tmp/check.out")))
if [ $status -ne 0 ] && ! grep -q '^FAIL ' "$tmp/check.out"; then
    bad "check.py stopped (status $status)"
fi

uids() { "$py" -c 'import json,sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o["type"] == "session":
        print(o["uid"], o["input"])' "$1"; }

capture=pcaps/real-concurrent.pcap
"$binary" -q --sensor mx-tap-1 -r $capture --json "$tmp/a1.jsonl"
"$binary" -q --sensor mx-tap-1 -r $capture --json "$tmp/a2.jsonl"
"$binary" -q --sensor mx-tap-1 -r $capture --json "$tmp/aw.jsonl" --workers 2
"$binary" -q --sensor mx-tap-2 -r $capture --json "$tmp/b.jsonl"
uids "$tmp/a1.jsonl" | cut -d' ' -f1 | sort >"$tmp/a1"
uids "$tmp/a2.jsonl" | cut -d' ' -f1 | sort >"$tmp/a2"
uids "$tmp/aw.jsonl" | cut -d' ' -f1 | sort >"$tmp/aw"
uids "$tmp/b.jsonl" | cut -d' ' -f1 | sort >"$tmp/b"
n=$(wc -l <"$tmp/a1")
if [ "$n" -gt 1 ] && [ "$(uniq "$tmp/a1" | wc -l)" -eq "$n" ]; then
    ok "uid: $n sessions of $capture, $n distinct uids"
else
    bad "uid: $n sessions but $(uniq "$tmp/a1" | wc -l) distinct uids"
fi
if cmp -s "$tmp/a1" "$tmp/a2" && cmp -s "$tmp/a1" "$tmp/aw"; then
    ok "uid: the same for the same sensor, read again and with --workers 2"
else
    bad "uid: differs between runs of the same sensor"
fi
shared=$(comm -12 "$tmp/a1" "$tmp/b" | wc -l)
if [ "$(wc -l <"$tmp/b")" -eq "$n" ] && [ "$shared" -eq 0 ]; then
    ok "uid: another sensor, the same capture: no uid in common"
else
    bad "uid: $shared uids shared between sensors mx-tap-1 and mx-tap-2"
fi

# Several files: each session's input is the file that holds its start
# (read alone, that file gives the session the same uid; the later files
# alone also give sessions picked up mid-stream, which are not compared).
"$binary" -q --sensor ring -r pcaps/real-ring-0.pcap -r pcaps/real-ring-1.pcap \
    -r pcaps/real-ring-2.pcap --json "$tmp/ring.jsonl"
: >"$tmp/alone"
for f in real-ring-0 real-ring-1 real-ring-2; do
    "$binary" -q --sensor ring -r pcaps/$f.pcap --json "$tmp/$f.jsonl"
    uids "$tmp/$f.jsonl" | awk -v f="$f.pcap" '{print $1, f}' >>"$tmp/alone"
done
uids "$tmp/ring.jsonl" | sort >"$tmp/merged"
sort "$tmp/alone" >"$tmp/alone.sorted"
files=$(cut -d' ' -f2 "$tmp/merged" | sort -u | wc -l)
stray=$(comm -23 "$tmp/merged" "$tmp/alone.sorted")
if [ -s "$tmp/merged" ] && [ -z "$stray" ] && [ "$files" -gt 1 ]; then
    ok "input: $(wc -l <"$tmp/merged") sessions of 3 files read together each name their own file ($files files hold sessions)"
else
    bad "input: sessions read together do not name the file that holds them: $(head -c 300 <<<"$stray")"
fi

# --json-format flat: the same values as the nested form, flattened by
# the documented rule, for every capture in pcaps/.
flat_bad=""
n_flat=0
for f in pcaps/*.pcap pcaps/*.pcapng; do
    "$binary" -q --sensor flat -r "$f" --json "$tmp/nested.jsonl" 2>/dev/null
    "$binary" -q --sensor flat -r "$f" --json "$tmp/flat.jsonl" --json-format flat 2>/dev/null
    n_flat=$((n_flat + 1))
    if ! why=$("$py" tests/schema/flat_check.py "$tmp/nested.jsonl" "$tmp/flat.jsonl"); then
        flat_bad="$flat_bad ${f##*/}: $why;"
    fi
done
if [ -z "$flat_bad" ] && [ $n_flat -gt 0 ]; then
    ok "--json-format flat: the nested records flattened, for all $n_flat captures"
else
    bad "--json-format flat differs from the nested form:$(head -c 400 <<<"$flat_bad")"
fi

echo "schema: $passed passed, $failed failed"
[ $failed -eq 0 ]

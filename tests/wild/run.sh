#!/usr/bin/env bash
# Wild test level: smtpscope must read a capture distorted the way real
# sensors distort it (TSO frames with IP length 0, ACKs and FINs captured
# before the data they follow, tiny windows without window scaling, a lost
# body segment, re-segmentation) exactly as it reads the original.  Every
# pcaps/real-*.pcap goes through tests/wild/distort.py in each mode below
# (its --check first proves no stream byte, SYN, FIN or RST was lost but the
# one segment drop-body-segment drops); both files are read with
# `-q -r FILE --json -` and tests/wild/compare.py compares the sessions.
#
#   tests/wild/run.sh [BINARY]          (default ./smtpscope)
# WILD_CASES="ack-first small-window" and WILD_CAPTURES="real-bdat ..." run
# a subset.  Prints "pass NAME CASE" or "FAIL NAME CASE: reason" per case,
# "skip NAME: reason" for captures distort.py cannot handle (pcapng, link
# type) and ends with "wild: N passed, M failed"; exit 1 on any failure.
#
# Cases: the five distortions the brief names, on the capture as it is,
# and, since loopback captures carry each message body in one segment (so
# drop-body-segment has nothing to drop and offload little to merge), the
# same with every data segment first cut into 64-byte pieces ("+split64"),
# plus "split64" alone as the control for that cutting.  Cutting undoes
# TSO frames already in a capture, so the "+split64" cases may also lose or
# gain flag offload_segments.  small-window uses
# a window of 16 bytes: these loopback sessions have only a few hundred
# bytes in flight, so 512 would not be "far below" it.  Differences listed
# in tests/wild/exceptions.tsv (with their reasons) print "known" and count
# neither way.
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=${1:-./smtpscope}
if [ ! -x "$binary" ]; then
    echo "wild: no executable $binary (make smtpscope)"
    echo "wild: 0 passed, 1 failed"
    exit 2
fi
export TZ=UTC LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy, so a rebuild during the run does not mix two binaries.
cp "$binary" "$tmp/smtpscope"
bin=$tmp/smtpscope
here=tests/wild

# NAME | distort.py options | compare.py options (REPORT: the sidecar)
cases='
offload|--mode offload|--allow-flag offload_segments
offload-keep-len|--mode offload-keep-len|--allow-flag offload_segments
ack-first|--mode ack-first|
small-window|--mode small-window --window 16|--timing
drop-body-segment|--mode drop-body-segment|--timing --allow-flag stream_gap --report REPORT
split64|--mode split --split 64|--timing --allow-flag offload_segments
offload+split64|--mode offload --split 64|--allow-flag offload_segments
offload-keep-len+split64|--mode offload-keep-len --split 64|--allow-flag offload_segments
drop-body-segment+split64|--mode drop-body-segment --split 64|--timing --allow-flag stream_gap --allow-flag offload_segments --report REPORT
'

wanted() {  # wanted WORD LIST: LIST empty or holding WORD
    [ -z "$2" ] && return 0
    case " $2 " in *" $1 "*) return 0 ;; esac
    return 1
}

# known NAME CASE: the reason tests/wild/exceptions.tsv gives, if any.
known() {
    awk -F'\t' -v n="$1" -v c="$2" '!/^#/ && $1 == n && $2 == c { print $3; exit }' \
        "$here/exceptions.tsv"
}

passed=0 failed=0 skipped=0 known_count=0
for capture in pcaps/real-*.pcap; do
    name=$(basename "$capture" .pcap)
    wanted "$name" "${WILD_CAPTURES:-}" || continue
    "$bin" -q -r "$capture" --json "$tmp/orig.jsonl" 2>"$tmp/err"
    ostatus=$?
    if [ $ostatus -ne 0 ] && [ $ostatus -ne 3 ]; then
        echo "skip $name: smtpscope exits $ostatus on the original: $(head -c 200 "$tmp/err")"
        skipped=$((skipped + 1))
        continue
    fi
    while IFS='|' read -r case dopts copts; do
        [ -n "$case" ] || continue
        wanted "$case" "${WILD_CASES:-}" || continue
        rm -f "$tmp/dist.pcap" "$tmp/report.json" "$tmp/dist.jsonl"
        # shellcheck disable=SC2086 # options are words by design
        python3 "$here/distort.py" --check $dopts --report "$tmp/report.json" \
            "$capture" "$tmp/dist.pcap" 2>"$tmp/derr"
        dstatus=$?
        if [ $dstatus -eq 3 ]; then
            echo "skip $name: $(sed -n 's/^distort: [^:]*: cannot handle: //p' "$tmp/derr" | head -1)"
            skipped=$((skipped + 1))
            break
        fi
        if [ $dstatus -ne 0 ]; then
            echo "FAIL $name $case: distort.py exit $dstatus: $(grep -v '^distort: dropped' "$tmp/derr" | head -3 | tr '\n' ' ')"
            failed=$((failed + 1))
            continue
        fi
        "$bin" -q -r "$tmp/dist.pcap" --json "$tmp/dist.jsonl" 2>"$tmp/err"
        status=$?
        if [ $status -ne $ostatus ]; then
            echo "FAIL $name $case: exit status $status (original $ostatus): $(head -c 200 "$tmp/err" | tr '\n' ' ')"
            failed=$((failed + 1))
            continue
        fi
        copts=${copts//REPORT/$tmp/report.json}
        # shellcheck disable=SC2086
        if python3 "$here/compare.py" $copts "$tmp/orig.jsonl" "$tmp/dist.jsonl" >"$tmp/cmp"; then
            note=""
            case "$case" in
                drop-body-segment*)
                    grep -q '"frame"' "$tmp/report.json" || note=" (nothing to drop: no DATA body of 3+ segments)" ;;
                offload*)
                    grep -q '"frames"' "$tmp/report.json" || note=" (nothing to merge)" ;;
                ack-first*)
                    grep -q '_frame"' "$tmp/report.json" || note=" (nothing to move)" ;;
            esac
            [ -n "$(known "$name" "$case")" ] && note="$note (listed in exceptions.tsv: remove it)"
            echo "pass $name $case$note"
            passed=$((passed + 1))
        else
            n=$(wc -l <"$tmp/cmp")
            reason=$(head -1 "$tmp/cmp")
            [ "$n" -gt 1 ] && reason="$reason (+$((n - 1)) more)"
            why=$(known "$name" "$case")
            if [ -n "$why" ]; then
                echo "known $name $case: $reason; $why"
                known_count=$((known_count + 1))
            else
                echo "FAIL $name $case: $reason"
                failed=$((failed + 1))
            fi
        fi
    done <<<"$cases"
done

[ $skipped -gt 0 ] && echo "wild: $skipped captures skipped"
[ $known_count -gt 0 ] && echo "wild: $known_count known differences (tests/wild/exceptions.tsv), not counted"
echo "wild: $passed passed, $failed failed"
[ $failed -eq 0 ]

#!/usr/bin/env bash
# tests/input/run.sh - every way a capture reaches smtpscope gives the
# same records.
#
#   tests/input/run.sh [--binary PATH]
#
#  1. Every capture in pcaps/ read from a pipe, and compressed with gzip,
#     xz and zstd (as a file and from a pipe), gives byte for byte the JSON
#     of the plain file (each session's "input" aside: it names the
#     file, or "-"), and the same exit status.
#  2. A compressed capture cut short is damaged input (exit 3) and the
#     error names the decompressor; the records before the cut are kept.
#  3. A piped read that receives SIGUSR1 and SIGHUP several times finishes
#     with exit 0 and the JSON of a read without signals; SIGUSR1 prints
#     the stats line.
#  4. -Z: the JSON file may be in a directory only root can write (the
#     outputs are opened before privileges are dropped).  Needs root.
#  5. A capture still being written (its writer holds the pipe open after
#     the last packet, as tcpdump -w - does between packets): the records
#     of the sessions that ended are in the JSON file before the pipe
#     closes, from a pcap, a pcapng and a gzip stream, and with two
#     processes (--workers 2) too, also while more packets trickle in
#     (one every 5 ms, as from a live capture) rather than none.
# Prints one line per check and "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=./smtpscope
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        *) echo "usage: $0 [--binary PATH]" >&2; exit 2 ;;
    esac
done
export TZ=UTC LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
pass() { echo "pass  $1"; passed=$((passed + 1)); }
# The same records: byte for byte but for each session's "input", which
# names where the bytes came from (the file, or "-" for a pipe).
same() {
    cmp -s <(sed 's/"input":"[^"]*"/"input":_/' "$1") <(sed 's/"input":"[^"]*"/"input":_/' "$2")
}
fail() { echo "FAIL  $1"; failed=$((failed + 1)); }

tools=1
for t in gzip xz zstd python3; do
    command -v "$t" >/dev/null || { echo "skip  compressed reads: $t is not installed"; tools=0; }
done

# --- 1. pipes and compression --------------------------------------------
for f in pcaps/*.pcap pcaps/*.pcapng; do
    name=$(basename "$f")
    "$binary" -q -r "$f" --json "$tmp/plain.jsonl" 2>/dev/null
    want=$?
    bad=""
    "$binary" -q -r - --json "$tmp/pipe.jsonl" <"$f" 2>/dev/null; got=$?
    cat "$f" | "$binary" -q -r - --json "$tmp/pipe2.jsonl" 2>/dev/null; got2=$?
    { [ $got -eq $want ] && [ $got2 -eq $want ] && same "$tmp/plain.jsonl" "$tmp/pipe.jsonl" &&
        same "$tmp/plain.jsonl" "$tmp/pipe2.jsonl"; } || bad="$bad pipe"
    if [ $tools -eq 1 ]; then
        gzip -c "$f" >"$tmp/c.gz"; xz -c "$f" >"$tmp/c.xz"; zstd -q -c "$f" >"$tmp/c.zst"
        for c in gz xz zst; do
            "$binary" -q -r "$tmp/c.$c" --json "$tmp/$c.jsonl" 2>/dev/null; got=$?
            cat "$tmp/c.$c" | "$binary" -q -r - --json "$tmp/$c-pipe.jsonl" 2>/dev/null; got2=$?
            { [ $got -eq $want ] && [ $got2 -eq $want ] &&
                same "$tmp/plain.jsonl" "$tmp/$c.jsonl" &&
                same "$tmp/plain.jsonl" "$tmp/$c-pipe.jsonl"; } || bad="$bad $c"
        done
    fi
    if [ -z "$bad" ]; then
        if [ $tools -eq 1 ]; then
            pass "$name: the same JSON from a pipe and compressed (gzip, xz, zstd)"
        else
            pass "$name: the same JSON from a pipe"
        fi
    else
        fail "$name: differs:$bad"
    fi
done

# --- 2. compressed and cut short -----------------------------------------
if [ $tools -eq 1 ]; then
    # Larger than zstd's 128 KiB block, so that some of it decodes.
    src=pcaps/real-wild-bigtcp.pcap
    size=$(stat -c %s "$src")
    for c in gzip xz zstd; do
        case $c in gzip) z="gzip -c" ;; xz) z="xz -c" ;; zstd) z="zstd -q -c" ;; esac
        $z "$src" >"$tmp/full"
        head -c $(( $(stat -c %s "$tmp/full") * 3 / 4 )) "$tmp/full" >"$tmp/cut"
        "$binary" -r "$tmp/cut" --json "$tmp/cut.jsonl" >/dev/null 2>"$tmp/cut.err"
        st=$?
        if [ $st -eq 3 ] && grep -q "$c data ends early" "$tmp/cut.err" &&
            grep -q '"type":"summary"' "$tmp/cut.jsonl"; then
            pass "$c cut short at 3/4 of $(basename $src) ($size octets): exit 3, '$c data ends early', summary written"
        else
            fail "$c cut short: exit $st, $(head -c 300 "$tmp/cut.err")"
        fi
    done
    # The capture split in two, each half compressed on its own, the two
    # concatenated (gzip members, xz streams, zstd frames): one capture.
    "$binary" -q -r "$src" --json "$tmp/whole.jsonl" 2>/dev/null
    half=$((size / 2))
    head -c $half "$src" >"$tmp/h1"; tail -c +$((half + 1)) "$src" >"$tmp/h2"
    for c in gzip xz zstd; do
        case $c in gzip) z="gzip -c" ;; xz) z="xz -c" ;; zstd) z="zstd -q -c" ;; esac
        { $z "$tmp/h1"; $z "$tmp/h2"; } >"$tmp/cat"
        "$binary" -q -r "$tmp/cat" --json "$tmp/cat.jsonl" 2>"$tmp/cat.err"
        st=$?
        if [ $st -eq 0 ] && same "$tmp/whole.jsonl" "$tmp/cat.jsonl"; then
            pass "$c: two concatenated members read as one capture"
        else
            fail "$c concatenated: exit $st, $(head -c 300 "$tmp/cat.err")"
        fi
    done
    # An xz stream that asks for a 512 MiB dictionary: refused, not allocated.
    printf x | xz --lzma2=dict=512MiB -c >"$tmp/big.xz"
    "$binary" -r "$tmp/big.xz" >/dev/null 2>"$tmp/big.err"
    if [ $? -eq 2 ] && grep -q 'xz data needs a dictionary past the 256 MiB allowed' "$tmp/big.err"; then
        pass "xz asking for a 512 MiB dictionary: refused with a reason"
    else
        fail "xz 512 MiB dictionary: $(cat "$tmp/big.err")"
    fi
    printf 'BZh91AY&SY' >"$tmp/x.bz2"
    "$binary" -r "$tmp/x.bz2" >/dev/null 2>"$tmp/bz.err"
    if [ $? -eq 2 ] && grep -q 'bzip2 data: decompress it first' "$tmp/bz.err"; then
        pass "bzip2: refused with a reason"
    else
        fail "bzip2: $(cat "$tmp/bz.err")"
    fi
fi

# --- 3. signals during a piped read --------------------------------------
# A writer that feeds the capture in small pieces with pauses, so that the
# read lasts about two seconds and the signals land in the middle of it.
if command -v python3 >/dev/null; then
    src=pcaps/real-ring-0.pcap
    "$binary" -q -r "$src" --json "$tmp/quiet.jsonl" 2>/dev/null
    python3 -c '
import sys, time
data = open(sys.argv[1], "rb").read()
step = max(1, len(data) // 40)
for i in range(0, len(data), step):
    sys.stdout.buffer.write(data[i:i + step]); sys.stdout.buffer.flush(); time.sleep(0.05)
' "$src" | "$binary" -q -r - --json "$tmp/signalled.jsonl" 2>"$tmp/signalled.err" &
    reader=$!
    sleep 0.3
    pid=$(pgrep -n -f -- "-r - --json $tmp/signalled.jsonl")
    sent=0
    for i in 1 2 3 4 5 6; do
        [ -n "$pid" ] && kill -USR1 "$pid" 2>/dev/null && sent=$((sent + 1))
        sleep 0.1
        [ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null && sent=$((sent + 1))
        sleep 0.1
    done
    wait $reader
    st=$?
    if [ "$sent" -ge 10 ] && [ $st -eq 0 ] && same "$tmp/quiet.jsonl" "$tmp/signalled.jsonl" &&
        grep -q '^smtpscope: packets ' "$tmp/signalled.err"; then
        pass "piped read with $sent SIGUSR1/SIGHUP: exit 0, the same JSON, stats lines printed"
    else
        fail "piped read with $sent signals: exit $st; $(head -c 300 "$tmp/signalled.err")"
    fi
fi

# --- 4. -Z with a root-only output directory -----------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "skip  -Z with a root-only directory: needs root"
elif ! id nobody >/dev/null 2>&1; then
    echo "skip  -Z with a root-only directory: no user nobody"
else
    mkdir -m 0700 "$tmp/rootonly"
    cp pcaps/real-normal-quit.pcap "$tmp/in.pcap"
    chmod 0644 "$tmp/in.pcap"
    "$binary" -q -r pcaps/real-normal-quit.pcap --json "$tmp/want.jsonl" 2>/dev/null
    # After setuid the process is no longer dumpable and its /proc entries
    # are root's: a sanitizer build's leak check cannot read them then.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        "$binary" -q -r "$tmp/in.pcap" -Z nobody --json "$tmp/rootonly/x.jsonl" 2>"$tmp/z.err"
    st=$?
    if [ $st -eq 0 ] && same "$tmp/want.jsonl" "$tmp/rootonly/x.jsonl"; then
        pass "-Z nobody --json in a root-only directory: written"
    else
        fail "-Z nobody: exit $st, $(cat "$tmp/z.err")"
    fi
fi

# --- 5. records as they come, from a pipe still open ---------------------
# The writer sends the whole capture, then holds the pipe for 30 s; the
# records must be in the file well before (polled for 15 s), and the run
# ends once the pipe closes (the writer is stopped then).
cat >"$tmp/hold.py" <<'PY'
import gzip, struct, sys, time
data = open(sys.argv[1], 'rb').read()
if sys.argv[2] == 'gzip':
    data = gzip.compress(data)
sys.stdout.buffer.write(data)
sys.stdout.buffer.flush()
if sys.argv[2] != 'trickle':
    time.sleep(30)
    sys.exit(0)
# A live capture goes on: every 5 ms one more packet, a copy of the first
# IPv4 TCP frame sent to port 9 (not analysed), later in time.
endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
off, frame, last = 24, None, 0
while off + 16 <= len(data):
    sec, frac, cap, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
    pkt = data[off + 16:off + 16 + cap]
    last = max(last, sec)
    if frame is None and len(pkt) > 54 and pkt[12:14] == b'\x08\x00' and pkt[23] == 6:
        frame = bytearray(pkt)
    off += 16 + cap
ihl = (frame[14] & 15) * 4
frame[14 + ihl:14 + ihl + 4] = b'\x00\x09\x00\x09'
for i in range(6000):
    sys.stdout.buffer.write(struct.pack(endian + 'IIII', last + 1 + i // 200, (i % 200) * 5000,
                                        len(frame), len(frame)) + bytes(frame))
    sys.stdout.buffer.flush()
    time.sleep(0.005)
PY
for spec in "pcaps/real-concurrent.pcap plain 1" "pcaps/real-multi-interface.pcapng plain 1" \
            "pcaps/real-concurrent.pcap gzip 1" "pcaps/real-concurrent.pcap plain 2" \
            "pcaps/real-concurrent.pcap trickle 2"; do
    set -- $spec
    want=$("$binary" -q -r "$1" --json - 2>/dev/null | grep -c '"type":"session"')
    out=$tmp/held.jsonl
    rm -f "$out"
    python3 "$tmp/hold.py" "$1" "$2" |
        "$binary" -q -r - --json "$out" --workers "$3" 2>"$tmp/held.err" &
    pipeline=$!
    got=0
    for _ in $(seq 150); do
        got=$(grep -c '"type":"session"' "$out" 2>/dev/null)
        [ "${got:-0}" -ge "$want" ] && break
        sleep 0.1
    done
    pkill -f "$tmp/hold.py" 2>/dev/null
    wait "$pipeline" 2>/dev/null
    if [ "${got:-0}" -ge "$want" ] && [ "$want" -gt 0 ]; then
        pass "$(basename "$1") ($2, --workers $3) from a pipe held open: all $want records written before it closed"
    else
        fail "$(basename "$1") ($2, --workers $3) from a pipe held open: ${got:-0} of $want records before it closed"
    fi
done

echo "input: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

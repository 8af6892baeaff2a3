#!/usr/bin/env bash
# Regenerates pcaps/real-html-injection.pcap: a real aiosmtpd server whose
# greeting, replies and received Subject carry <script> and
# "><img src=x onerror=...> payloads, talked to by Python's smtplib on
# loopback and captured with tcpdump.  Run as root on Debian bookworm.
# See pcaps/README.md ("real-html-injection.pcap").
set -euo pipefail
GEN_DIR=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$GEN_DIR/../real-html-injection.pcap}
PY=/usr/bin/python3
PORT=25
[ "$(id -u)" -eq 0 ] || { echo "make-html-injection.sh: run as root" >&2; exit 1; }
for p in python3-aiosmtpd tcpdump; do
    dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y "$p"
done
if ss -ltn "sport = :$PORT" | grep -q LISTEN; then
    echo "make-html-injection.sh: port $PORT is busy" >&2
    exit 1
fi
WORK=$(mktemp -d)
SERVER_PID= TCPDUMP_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$PY" "$GEN_DIR/html_injection.py" server "$PORT" --ready-file "$WORK/ready" &
SERVER_PID=$!
for _ in $(seq 50); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || { echo "server did not start" >&2; exit 1; }

tcpdump -i lo -s 262144 -Z root -w "$WORK/cap.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
sleep 0.7
"$PY" "$GEN_DIR/html_injection.py" client "$PORT"
sleep 1
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=
mv "$WORK/cap.pcap" "$OUT"
echo "wrote $OUT ($(cat "$WORK/ready"))"

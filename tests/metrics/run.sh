#!/usr/bin/env bash
# The Prometheus endpoint (--metrics), against the Debian prometheus
# package (prometheus and promtool).  Without it, says so and counts
# nothing.
#  1. Offline: every capture in pcaps/ read as one input, served after the
#     end (--metrics-linger): `promtool check metrics` accepts the scrape,
#     and every series equals the JSON records and summary (compare.py);
#     the same input with --workers 2 scrapes the same, memory aside;
#     the linger ends by itself, and idle clients holding every connection
#     slot do not hold up the end.
#  2. While reading: a capture fed through a pipe held open is served
#     before its end (input_ended 0, packets counted).
#  3. Live (root): in a network namespace made here, aiosmtpd on its
#     loopback, swaks and two raw clients (one resets, one hangs up
#     without QUIT); smtpscope -i lo --metrics, and a prometheus server
#     started here scraping it every second.  Prometheus' HTTP API must
#     report the sessions per close label and per flag of the JSON records.
#     With --workers 1 and 2.
#  4. promtool test rules docs/prometheus-rules.test.yml.
# Usage: tests/metrics/run.sh [--binary PATH]
# Every process started here is stopped, everything made here removed.
set -u
cd "$(dirname "$0")/../.." || exit 2
bin=$(pwd)/smtpscope
if [ "${1:-}" = "--binary" ]; then
    bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    shift 2
fi
passed=0 failed=0
ok() { echo "pass  $1"; passed=$((passed + 1)); }
bad() { echo "FAIL  $1"; failed=$((failed + 1)); }
finish() { echo "metrics: $passed passed, $failed failed"; [ $failed -eq 0 ]; exit $?; }

for tool in promtool prometheus; do
    if ! command -v $tool >/dev/null; then
        echo "metrics: skipped, $tool is not installed (Debian package prometheus; make deps)"
        finish
    fi
done
if [ ! -x "$bin" ]; then
    echo "metrics: skipped, no $bin (make)"
    finish
fi

tmp=$(mktemp -d)
ns=""
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# GET a URL (in the namespace when $2 names one) into $3; false on failure.
fetch() {
    local url=$1 netns=$2 out=$3
    local run=()
    [ -n "$netns" ] && run=(ip netns exec "$netns")
    "${run[@]}" python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$url" \
        >"$out" 2>/dev/null
}

# The value of a sample without labels in a scrape file, or empty.
value() { awk -v n="$2" '$1 == n {print $2}' "$1"; }

# Starts smtpscope ($@) with --metrics on a port the system chooses and
# sets $url; its stderr goes to $tmp/smtpscope.err.
start_offline() {
    "$bin" "$@" --metrics 127.0.0.1:0 2>"$tmp/smtpscope.err" &
    spid=$!
    pids="$pids $spid"
    url=""
    for _ in $(seq 100); do
        url=$(grep -o 'http://[^ ]*/metrics' "$tmp/smtpscope.err" 2>/dev/null)
        [ -n "$url" ] && break
        sleep 0.1
    done
}

# Scrapes $url into $1 until smtpscope_input_ended is 1 (10 s at most).
scrape_when_ended() {
    for _ in $(seq 100); do
        if fetch "$url" "" "$1" && [ "$(value "$1" smtpscope_input_ended)" = 1 ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Ends the linger with SIGTERM; true when smtpscope then exits 0.
stop_smtpscope() {
    kill -TERM "$spid" 2>/dev/null
    wait "$spid"
}

# --- 1. offline, after the end of input -------------------------------------
inputs=()
for f in pcaps/real-*.pcap pcaps/real-*.pcapng pcaps/synth-*.pcap; do
    [ -f "$f" ] && inputs+=(-r "$f")
done
for w in 1 2; do
    start_offline -q "${inputs[@]}" --workers $w --json "$tmp/offline$w.jsonl" \
        --metrics-linger 60
    if [ -z "$url" ]; then
        bad "offline --workers $w: no metrics address on stderr"
        cat "$tmp/smtpscope.err"
        continue
    fi
    if ! scrape_when_ended "$tmp/scrape$w.txt"; then
        bad "offline --workers $w: no scrape with the input ended"
        stop_smtpscope
        continue
    fi
    if promtool check metrics <"$tmp/scrape$w.txt" >"$tmp/promtool.out" 2>&1; then
        ok "offline --workers $w: promtool check metrics"
    else
        bad "offline --workers $w: promtool check metrics"
        head -5 "$tmp/promtool.out"
    fi
    if stop_smtpscope; then
        ok "offline --workers $w: SIGTERM ends the linger, exit 0"
    else
        bad "offline --workers $w: exit status after SIGTERM in the linger"
        tail -5 "$tmp/smtpscope.err"
    fi
    if python3 tests/metrics/compare.py "$tmp/scrape$w.txt" "$tmp/offline$w.jsonl"; then
        ok "offline --workers $w: every series equals the JSON records"
    else
        bad "offline --workers $w: series differ from the JSON records"
    fi
done
if [ -f "$tmp/scrape1.txt" ] && [ -f "$tmp/scrape2.txt" ] &&
   python3 tests/metrics/compare.py --same "$tmp/scrape1.txt" "$tmp/scrape2.txt"; then
    ok "offline: --workers 2 scrapes as one process"
else
    bad "offline: --workers 2 scrapes differently from one process"
fi

# The linger ends by itself, and the port is free again at once.
start_offline -q -r pcaps/real-normal-quit.pcap --metrics-linger 1
started=$(date +%s)
if [ -n "$url" ] && scrape_when_ended "$tmp/short.txt" && wait "$spid" &&
   [ $(($(date +%s) - started)) -le 5 ] && ! fetch "$url" "" "$tmp/after.txt"; then
    ok "offline: --metrics-linger 1 serves, then exits 0 and stops serving"
else
    bad "offline: --metrics-linger 1"
fi

# Clients that connect and send nothing take every connection slot; the
# end of the linger must not wait for them.
start_offline -q -r pcaps/real-normal-quit.pcap --metrics-linger 2
started=$(date +%s)
python3 - "${url#http://}" <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split("/")[0].rsplit(":", 1)
held = []
for _ in range(24):
    try:
        held.append(socket.create_connection((host, int(port)), timeout=1))
    except OSError:
        pass
time.sleep(15)
PY
idle=$!
if [ -n "$url" ] && wait "$spid" && [ $(($(date +%s) - started)) -le 6 ]; then
    ok "offline: 24 idle clients do not hold up the end"
else
    bad "offline: the end waited for idle clients ($(($(date +%s) - started)) s)"
fi
kill $idle 2>/dev/null
wait $idle 2>/dev/null

# --- 2. while reading ----------------------------------------------------------
# A 2.3 MB capture (a real one 160 times over) through a pipe held open
# here (read-write: opening it waits for no reader): smtpscope reads what
# came, then waits for more.  The writer ends; the pipe stays open until
# the scrape is done.
mkfifo "$tmp/pipe"
exec 7<>"$tmp/pipe"
python3 tests/metrics/repeat.py pcaps/real-concurrent.pcap 160 100 >&7 &
writer=$!
start_offline -q -r "$tmp/pipe" --json "$tmp/pipe.jsonl" 7>&-
wait $writer
during=""
for _ in $(seq 50); do
    if fetch "$url" "" "$tmp/during.txt" && [ "$(value "$tmp/during.txt" smtpscope_packets_total)" != 0 ]; then
        during=$(value "$tmp/during.txt" smtpscope_packets_total)
        break
    fi
    sleep 0.1
done
ended_during=$(value "$tmp/during.txt" smtpscope_input_ended)
exec 7>&-
wait "$spid"
status=$?
total=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["packets"])' \
    "$tmp/pipe.jsonl" 2>/dev/null)
if [ -n "$during" ] && [ "$ended_during" = 0 ] && [ "$during" -gt 0 ] && [ "$status" -eq 0 ] &&
   [ -n "$total" ] && [ "$during" -le "$total" ]; then
    ok "while reading: served before the end ($during of $total packets, input_ended 0)"
else
    bad "while reading: packets '$during' of '$total', input_ended '$ended_during', exit $status"
fi

# --- 3. live, a real prometheus scraping ------------------------------------
live_run() {
    local w=$1
    local mport=9187 pport=9090
    local data=$tmp/prom$w
    mkdir -p "$data"
    cat >"$data/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: smtpscope
    static_configs:
      - targets: ['127.0.0.1:$mport']
EOF
    ip netns exec "$ns" /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:25 \
        -c aiosmtpd.handlers.Sink >"$tmp/aiosmtpd$w.log" 2>&1 &
    local smtpd=$!
    pids="$pids $smtpd"
    ip netns exec "$ns" "$bin" --workers "$w" -q -i lo --metrics 127.0.0.1:$mport \
        --json "$tmp/live$w.jsonl" --idle-timeout 0 2>"$tmp/live$w.err" &
    spid=$!
    pids="$pids $spid"
    ip netns exec "$ns" prometheus --config.file="$data/prometheus.yml" \
        --storage.tsdb.path="$data/tsdb" --web.listen-address=127.0.0.1:$pport \
        >"$tmp/prometheus$w.log" 2>&1 &
    local prom=$!
    pids="$pids $prom"
    local prom_ok="" smtpd_ok="" ours_ok=""
    for _ in $(seq 100); do
        [ -z "$prom_ok" ] && fetch "http://127.0.0.1:$pport/-/ready" "$ns" "$tmp/ready" && prom_ok=1
        [ -z "$ours_ok" ] && fetch "http://127.0.0.1:$mport/metrics" "$ns" "$tmp/first.txt" && ours_ok=1
        [ -z "$smtpd_ok" ] && [ -n "$(ip netns exec "$ns" ss -Hltn 'sport = :25')" ] && smtpd_ok=1
        [ -n "$prom_ok" ] && [ -n "$ours_ok" ] && [ -n "$smtpd_ok" ] && break
        sleep 0.2
    done
    # Ours not answering is a failure; the servers not starting, a skip.
    local why=""
    [ -z "$ours_ok" ] && why="smtpscope's endpoint did not answer"
    [ -z "$why" ] && [ -z "$prom_ok" ] && why="skip"
    [ -z "$why" ] && [ -z "$smtpd_ok" ] && why="skip"
    if [ -n "$why" ]; then
        if [ "$why" = skip ]; then
            echo "skip  live --workers $w: prometheus or aiosmtpd did not start here"
        else
            bad "live --workers $w: $why"
        fi
        tail -n 3 "$tmp/prometheus$w.log" "$tmp/live$w.err" "$tmp/aiosmtpd$w.log"
        kill $prom $spid $smtpd 2>/dev/null
        wait $prom $spid $smtpd 2>/dev/null
        return
    fi
    for n in 1 2 3; do
        ip netns exec "$ns" swaks --silent 2 --server 127.0.0.1:25 --from a@metrics.test \
            --to b@metrics.test --header "Subject: metrics $n" >/dev/null 2>&1
    done
    # One client resets after EHLO, one hangs up without QUIT (its FIN
    # first, then it reads until the server closes too).
    ip netns exec "$ns" /usr/bin/python3 - <<'PY'
import socket, struct
for how in ("rst", "fin"):
    s = socket.create_connection(("127.0.0.1", 25))
    s.recv(512)
    s.sendall(b"EHLO metrics.test\r\n")
    s.recv(4096)
    if how == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(4096):
            pass
    s.close()
PY
    sleep 1
    if ip netns exec "$ns" python3 tests/metrics/promquery.py "http://127.0.0.1:$pport" \
        "$tmp/live$w.jsonl" 5 30; then
        ok "live --workers $w: prometheus reports the JSON's sessions per close label and flag"
    else
        bad "live --workers $w: prometheus and the JSON records differ"
        tail -n 3 "$tmp/live$w.err"
    fi
    kill -INT $spid
    wait $spid
    local status=$?
    # Packets the kernel dropped explain sessions missing from both.
    echo "  summary: $(tail -n 1 "$tmp/live$w.jsonl" | grep -o '"drops":{[^}]*}')"
    if [ $status -eq 0 ] && python3 - "$tmp/live$w.jsonl" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert objs[-1]["type"] == "summary"
assert len([o for o in objs if o["type"] == "session"]) == 5
PY
    then
        ok "live --workers $w: SIGINT, exit 0, nothing more written than Prometheus saw"
    else
        bad "live --workers $w: exit $status, or records after the query"
    fi
    kill $prom $smtpd 2>/dev/null
    wait $prom $smtpd 2>/dev/null
}

if [ "$(id -u)" -ne 0 ]; then
    echo "skip  live: needs root (network namespace and raw capture)"
elif ! command -v swaks >/dev/null || ! command -v ip >/dev/null; then
    echo "skip  live: swaks or iproute2 is not installed"
elif [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    echo "skip  live: python3-aiosmtpd is not installed"
elif ! ip netns add "ssmetrics$$"; then
    echo "skip  live: cannot create a network namespace"
else
    ns=ssmetrics$$
    ip -n "$ns" link set lo up
    live_run 1
    live_run 2
fi

# --- 4. the sample alerting rules ----------------------------------------------
if promtool test rules docs/prometheus-rules.test.yml >"$tmp/rules.out" 2>&1; then
    ok "promtool test rules docs/prometheus-rules.test.yml"
else
    bad "promtool test rules docs/prometheus-rules.test.yml"
    head -20 "$tmp/rules.out"
fi

finish

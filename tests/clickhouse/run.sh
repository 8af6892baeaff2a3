#!/usr/bin/env bash
# ClickHouse level: the scale-out path of docs/scale-out.md, for real.
#
#   tests/clickhouse/run.sh [--binary PATH]
#
# Starts two clickhouse-server processes (Debian's package) of this test's
# own, on loopback, each with its configuration and data in a temporary
# directory and its own ports, forming a cluster "smtpscope" of two
# shards; creates the tables of docs/clickhouse.sql on both; ingests the
# records of two sensors (several captures of pcaps/ each, different
# --sensor), one sensor per shard, through the documented command
# (--json-format flat | clickhouse-client ... FORMAT JSONEachRow); runs
# every query of docs/clickhouse-queries.sql through the Distributed table
# and requires the figures smtpscope gives itself: its summary of all the
# captures read together, and the nested records (compare.py).  Stops the
# servers.  Skips, counting nothing, when ClickHouse is not installed or a
# server does not start.
set -u
cd "$(dirname "$0")/../.." || exit 2
binary=./smtpscope
[ "${1:-}" = --binary ] && binary=$2
export TZ=UTC LC_ALL=C

server=$(command -v clickhouse-server || ls /usr/sbin/clickhouse-server /usr/bin/clickhouse-server 2>/dev/null | head -1)
client=$(command -v clickhouse-client || true)
if [ -z "$server" ] || [ -z "$client" ]; then
    echo "clickhouse: skipped, clickhouse-server and clickhouse-client are not installed (make deps)"
    exit 0
fi

tmp=$(mktemp -d)
pids=()
stop_servers() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    pids=()
}
trap 'stop_servers; rm -rf "$tmp"' EXIT

# Ports from this run's pid, so that runs side by side do not collide.
base=$((20000 + ($$ % 2000) * 10))
tcp1=$base tcp2=$((base + 1))

write_config() { # DIR TCP HTTP INTERSERVER
    mkdir -p "$1/data" "$1/tmp" "$1/user_files" "$1/format_schemas"
    cat >"$1/config.xml" <<CONF
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$1/server.log</log><errorlog>$1/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$2</tcp_port>
    <http_port>$3</http_port>
    <interserver_http_port>$4</interserver_http_port>
    <path>$1/data/</path>
    <tmp_path>$1/tmp/</tmp_path>
    <user_files_path>$1/user_files/</user_files_path>
    <format_schema_path>$1/format_schemas/</format_schema_path>
    <users_config>$1/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>16</max_concurrent_queries>
    <remote_servers>
        <smtpscope>
            <shard><replica><host>127.0.0.1</host><port>$tcp1</port></replica></shard>
            <shard><replica><host>127.0.0.1</host><port>$tcp2</port></replica></shard>
        </smtpscope>
    </remote_servers>
</yandex>
CONF
    cat >"$1/users.xml" <<'CONF'
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
CONF
}

for shard in 1 2; do
    port=$((base + shard - 1))
    write_config "$tmp/shard$shard" "$port" $((base + 2 + shard)) $((base + 4 + shard))
    "$server" --config-file="$tmp/shard$shard/config.xml" >"$tmp/shard$shard/stdout" 2>&1 &
    pids+=($!)
done
for port in $tcp1 $tcp2; do
    up=""
    for _ in $(seq 100); do
        if "$client" --port "$port" -q 'SELECT 1' >/dev/null 2>&1; then
            up=yes
            break
        fi
        sleep 0.3
    done
    if [ -z "$up" ]; then
        echo "clickhouse: skipped, the server on port $port did not start: $(tail -c 300 "$tmp"/shard*/stdout "$tmp"/shard*/server.err.log 2>/dev/null | tr '\n' ' ')"
        exit 0
    fi
done

passed=0 failed=0
ok() { echo "pass  $1"; passed=$((passed + 1)); }
bad() { echo "FAIL  $1"; failed=$((failed + 1)); }
echo "clickhouse: $("$client" --port $tcp1 -q 'SELECT version()') on ports $tcp1 and $tcp2"

for port in $tcp1 $tcp2; do
    if "$client" --port "$port" --multiquery <docs/clickhouse.sql 2>"$tmp/ddl.err"; then
        ok "docs/clickhouse.sql on the shard at port $port"
    else
        bad "docs/clickhouse.sql on port $port: $(head -c 300 "$tmp/ddl.err")"
    fi
done

# Two sensors, several captures each, one shard each.
sensor1="real-concurrent real-banner-delay-250ms real-banner-delay-1000ms real-221-mid-transaction
         real-quit-no-221 real-rst-mid-data real-starttls real-pipelining"
sensor2="real-rejected-data real-221-no-message-accepted real-421-after-rcpt real-multiline-5xx
         real-421-greeting real-554-greeting real-bdat real-auth-plain real-ipv6-pipelining"
reads() { for f in $1; do printf -- '-r pcaps/%s.pcap ' "$f"; done; }
ingest() { # SENSOR PORT FILES...: the documented ingestion command
    local sensor=$1 port=$2
    shift 2
    # shellcheck disable=SC2068 # -r FILE pairs by design
    "$binary" $@ --sensor "$sensor" -q --json - --json-format flat |
        "$client" --port "$port" --query 'INSERT INTO smtpscope.sessions_local FORMAT JSONEachRow'
}
# shellcheck disable=SC2046
if ingest mx-tap-1 $tcp1 $(reads "$sensor1") 2>"$tmp/in1.err" &&
    ingest mx-tap-2 $tcp2 $(reads "$sensor2") 2>"$tmp/in2.err"; then
    ok "records of mx-tap-1 and mx-tap-2 ingested, one sensor per shard"
else
    bad "ingestion failed: $(head -c 300 "$tmp/in1.err" "$tmp/in2.err")"
fi
# What smtpscope itself says: each sensor's nested records, and one
# summary of all the captures read together.
# shellcheck disable=SC2046
"$binary" $(reads "$sensor1") --sensor mx-tap-1 -q --json "$tmp/sensor1.jsonl"
# shellcheck disable=SC2046
"$binary" $(reads "$sensor2") --sensor mx-tap-2 -q --json "$tmp/sensor2.jsonl"
# shellcheck disable=SC2046
"$binary" $(reads "$sensor1 $sensor2") -q --json "$tmp/all.jsonl"

for shard in 1 2; do
    port=$((base + shard - 1))
    "$client" --port "$port" -q "SELECT sensor, count() FROM smtpscope.sessions_local GROUP BY sensor" \
        >"$tmp/local$shard.tsv" 2>&1
done
want1=$(grep -c '"type":"session"' "$tmp/sensor1.jsonl")
want2=$(grep -c '"type":"session"' "$tmp/sensor2.jsonl")
if [ "$(cat "$tmp/local1.tsv")" = "$(printf 'mx-tap-1\t%s' "$want1")" ] &&
    [ "$(cat "$tmp/local2.tsv")" = "$(printf 'mx-tap-2\t%s' "$want2")" ]; then
    ok "each shard holds its own sensor's $want1 and $want2 sessions"
else
    bad "shards hold $(tr '\n\t' '; ' <"$tmp/local1.tsv") and $(tr '\n\t' '; ' <"$tmp/local2.tsv"), want $want1 and $want2"
fi

# Every documented query, through the Distributed table (on shard 1).
python3 - "$tmp" docs/clickhouse-queries.sql <<'PY'
import re, sys
tmp, path = sys.argv[1], sys.argv[2]
text = open(path).read()
for m in re.finditer(r"-- name: (\w+)\n(.*?)(?=\n-- name:|\Z)", text, re.S):
    open("%s/query.%s.sql" % (tmp, m.group(1)), "w").write(m.group(2).strip() + "\n")
PY
n_queries=0
for q in "$tmp"/query.*.sql; do
    name=${q##*/query.}
    name=${name%.sql}
    if "$client" --port $tcp1 --format TabSeparated --multiquery <"$q" >"$tmp/result.$name.tsv" 2>"$tmp/q.err"; then
        n_queries=$((n_queries + 1))
    else
        bad "query $name: $(head -c 300 "$tmp/q.err")"
    fi
done
[ $n_queries -ge 5 ] && ok "$n_queries documented queries ran through the Distributed table"

python3 tests/clickhouse/compare.py "$tmp" >"$tmp/compare.out" 2>&1
cat "$tmp/compare.out"
passed=$((passed + $(grep -c '^pass ' "$tmp/compare.out")))
failed=$((failed + $(grep -c '^FAIL ' "$tmp/compare.out")))

stop_servers
if pgrep -f "$tmp/shard" >/dev/null; then
    bad "a clickhouse-server of this test is still running"
else
    ok "both servers stopped"
fi
echo "clickhouse: $passed passed, $failed failed"
[ $failed -eq 0 ]

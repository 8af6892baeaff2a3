#!/usr/bin/env bash
# bench/flat_memory.sh - memory must not grow with the length of a capture,
# only with the sessions open at once: the same profile (100 sessions open
# at a time) at 10,000 and 80,000 sessions must peak at the same RSS
# (within 5 %).  Prints both figures and PASS/FAIL; exit 1 on FAIL.
set -u
cd "$(dirname "$0")/.." || exit 2
bin=${SMTPSCOPE:-./smtpscope}
dir=$(mktemp -d "${TMPDIR:-/tmp}/smtpscope-flat.XXXXXX")
trap 'rm -rf "$dir"' EXIT
declare -A rss
for n in 10000 80000; do
    bench/build/gen --out "$dir/c.pcap" --seed 7 --sessions $n --concurrency 100 \
        --messages 1 --body-bytes 2000 >/dev/null 2>&1
    rss[$n]=$(/usr/bin/time -f %M "$bin" -r "$dir/c.pcap" -q --json /dev/null 2>&1 | tail -1)
    echo "flat memory: $n sessions, 100 open at once: peak RSS ${rss[$n]} KiB"
    rm -f "$dir/c.pcap"
done
ratio=$(python3 -c "print(f'{${rss[80000]} / ${rss[10000]}:.3f}')")
if python3 -c "import sys; sys.exit(0 if ${rss[80000]} <= 1.05 * ${rss[10000]} else 1)"; then
    echo "PASS flat memory: 8x the sessions, RSS ratio $ratio"
else
    echo "FAIL flat memory: 8x the sessions, RSS ratio $ratio"
    exit 1
fi

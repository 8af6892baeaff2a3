#!/usr/bin/env bash
# bench/run.sh - smtpscope performance and correctness benchmark runner.
#
# Generates synthetic SMTP captures with bench/build/gen (at run time, into
# a scratch directory, never committed), then, interleaved BENCH_REPS times
# on the same file: loop_pcap (bare libpcap), loop_nids (libnids, empty
# callbacks), nids_1m (loop_nids reading through a 1 MiB stdio buffer, as
# smtpscope does), smtpscope, scope_1thread (smtpscope reading its file in
# the main thread, --read-threads 0: the one-core figure), scope_pipe
# (smtpscope reading the capture from a pipe, -r -), scope_w2 and
# scope_wauto (smtpscope with --workers 2 and --workers auto: a reading
# process and that many analysing processes), scope_kept (smtpscope keeping libnids' buffers,
# on captures with more than 4096 sessions open at once, where smtpscope
# frees them by default), scope_pcapng (smtpscope on the same capture
# rewritten as pcapng by bench/build/pcap2ng) and tshark (each skipped if
# absent).  Prints
# median wall time, MB/s, packets/s, peak RSS and ratios to loop_nids, callgrind
# instructions per packet on a ~2k-packet capture, and checks smtpscope's
# JSON summary against the generator's truth file, and (past 4096 open
# sessions) its JSON with the buffers freed against its JSON with them kept,
# its JSON from the pcapng form against the pcap's, its JSON with --workers
# 2 and auto against one process's (the full-size captures must also take
# at most 0.7x the wall time with --workers 2),
# and its own state per open session at the heap's peak (massif, 5,000
# sessions open, and 50k at full size) against 1 KiB (exit 1 on a
# mismatch or a missed memory target).
#
# Environment:
#   BENCH_SIZE=small|full  full adds a ~1 GB (22k sessions, 1k concurrent)
#                          and a ~200 MB (50k concurrent) capture
#   BENCH_REPS=5           timed repetitions per program and capture
#   BENCH_DIR=DIR          scratch directory (default: mktemp, removed after)
#   SMTPSCOPE=PATH         dissector binary (default: <repo>/smtpscope)
#   SCOPE_NIDSHASH=PATH    the same built with libnids' own stream hash
#                          (default: <repo>/build/smtpscope-libnids-hash),
#                          counted by callgrind only
#   BENCH_TSHARK=0         skip tshark even if installed
#   BENCH_CALLGRIND=0      skip the valgrind parts: callgrind instructions per
#                          packet, and massif's own-state figures
# Needs only bash, coreutils, /usr/bin/time, python3 (stdlib), valgrind.

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$HERE/build
SMTPSCOPE=${SMTPSCOPE:-$ROOT/smtpscope}
SCOPE_NIDSHASH=${SCOPE_NIDSHASH:-$ROOT/build/smtpscope-libnids-hash}
BENCH_SIZE=${BENCH_SIZE:-small}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_TSHARK=${BENCH_TSHARK:-1}
BENCH_CALLGRIND=${BENCH_CALLGRIND:-1}
PY=/usr/bin/python3
FAILED=0

if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR"
else
	BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/smtpscope-bench.XXXXXX")
	trap 'rm -rf "$BENCH_DIR"' EXIT
fi
RESULTS=$BENCH_DIR/results.tsv
: >"$RESULTS"

note() { printf '%s\n' "$*"; }

have_smtpscope() { [ -x "$SMTPSCOPE" ]; }
have_tshark() { [ "$BENCH_TSHARK" != 0 ] && command -v tshark >/dev/null 2>&1; }

# streams_for CONCURRENCY: libnids keeps at most 3/4 of n_tcp_streams
# streams alive, so size the table for the concurrency plus headroom.
streams_for() {
	local n=65536
	while [ $((n * 3 / 4)) -lt $(($1 * 11 / 10)) ]; do n=$((n * 2)); done
	echo "$n"
}

# gen_capture NAME GEN-ARGS... -> $BENCH_DIR/NAME.pcap and NAME.json
gen_capture() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	if ! "$BUILD/gen" --out "$BENCH_DIR/$name.pcap" --truth "$BENCH_DIR/$name.json" \
		"$@" 2>/dev/null; then
		note "FAIL gen $name"
		exit 1
	fi
	t1=$(date +%s%N)
	note "generated $name: $(stat -c %s "$BENCH_DIR/$name.pcap") bytes in" \
		"$(( (t1 - t0) / 1000000 )) ms ($*)"
}

# cmd_for PROG FILE STREAMS -> prints the command line, or nothing if absent
cmd_for() {
	case $1 in
	loop_pcap) echo "$BUILD/loop_pcap $2" ;;
	loop_nids) echo "$BUILD/loop_nids --streams $3 $2" ;;
	nids_1m) echo "$BUILD/loop_nids --streams $3 --read-buffer 1048576 $2" ;;
	smtpscope) have_smtpscope && echo "$SMTPSCOPE -r $2 --json /dev/null -q --max-streams $3" ;;
	scope_1thread) have_smtpscope &&
		echo "$SMTPSCOPE -r $2 --json /dev/null -q --max-streams $3 --read-threads 0" ;;
	scope_nidshash) [ -x "$SCOPE_NIDSHASH" ] &&
		echo "$SCOPE_NIDSHASH -r $2 --json /dev/null -q --max-streams $3" ;;
	scope_kept) have_smtpscope &&
		echo "$SMTPSCOPE -r $2 --json /dev/null -q --max-streams $3 --free-buffers-above 4194304" ;;
	scope_w2) have_smtpscope &&
		echo "$SMTPSCOPE -r $2 --json /dev/null -q --max-streams $3 --workers 2" ;;
	scope_wauto) have_smtpscope &&
		echo "$SMTPSCOPE -r $2 --json /dev/null -q --max-streams $3 --workers auto" ;;
	scope_pipe) have_smtpscope &&
		echo "$HERE/from_pipe.sh $2 $SMTPSCOPE -r - --json /dev/null -q --max-streams $3" ;;
	scope_pcapng) have_smtpscope && [ -f "${2%.pcap}.pcapng" ] &&
		echo "$SMTPSCOPE -r ${2%.pcap}.pcapng --json /dev/null -q --max-streams $3" ;;
	tshark) have_tshark && echo "tshark -r $2 -q -z io,stat,0" ;;
	esac
}

# time_one NAME PROG CMD...: one timed run, appended to $RESULTS
time_one() {
	local name=$1 prog=$2 tf=$BENCH_DIR/time.out t0 t1 rc
	shift 2
	t0=$(date +%s%N)
	/usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >/dev/null 2>"$BENCH_DIR/$prog.err"
	rc=$?
	t1=$(date +%s%N)
	# wall us, peak RSS KiB, exit status, CPU s (user + system)
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$prog" "$(( (t1 - t0) / 1000 ))" \
		"$(tail -n 1 "$tf" | cut -d' ' -f2)" "$rc" \
		"$(tail -n 1 "$tf" | awk '{ printf "%.2f", $3 + $4 }')" >>"$RESULTS"
}

# bench_capture NAME STREAMS CONCURRENCY: interleaved timed runs of every
# program.  Past 4096 open sessions smtpscope frees libnids' emptied
# buffers (--free-buffers-above); scope_kept is smtpscope with that off,
# so the table shows what the freeing does.
bench_capture() {
	local name=$1 streams=$2 file=$BENCH_DIR/$1.pcap rep prog cmd progs
	progs="loop_pcap loop_nids nids_1m smtpscope scope_w2 scope_wauto scope_1thread scope_pipe scope_pcapng tshark"
	[ "$3" -le 4096 ] ||
		progs="loop_pcap loop_nids nids_1m smtpscope scope_w2 scope_wauto scope_1thread scope_pipe scope_kept scope_pcapng tshark"
	have_smtpscope || note "SKIP smtpscope: $SMTPSCOPE not built yet"
	have_tshark || note "SKIP tshark: not installed (or BENCH_TSHARK=0)"
	cat "$file" >/dev/null # warm the page cache
	for rep in $(seq "$BENCH_REPS"); do
		for prog in $progs; do
			cmd=$(cmd_for "$prog" "$file" "$streams") || continue
			[ -n "$cmd" ] || continue
			# shellcheck disable=SC2086
			time_one "$name" "$prog" $cmd
		done
	done
	$PY "$HERE/report.py" table "$RESULTS" "$name" "$file" "$BENCH_DIR/$name.json" || FAILED=1
}

# check_nids NAME STREAMS: loop_nids must see every generated session
check_nids() {
	local out
	out=$("$BUILD/loop_nids" --streams "$2" "$BENCH_DIR/$1.pcap") || { FAILED=1; return; }
	$PY "$HERE/report.py" nids "$BENCH_DIR/$1.json" "$out" || FAILED=1
}

# check_smtpscope NAME STREAMS CONCURRENCY: compare the JSON summary line with truth
check_smtpscope() {
	local out=$BENCH_DIR/$1.smtpscope.json
	if ! have_smtpscope; then
		note "SKIP correctness $1: $SMTPSCOPE not built yet"
		return
	fi
	if ! "$SMTPSCOPE" -r "$BENCH_DIR/$1.pcap" --json "$out" --max-streams "$2" \
		>/dev/null 2>"$BENCH_DIR/smtpscope.check.err"; then
		note "FAIL correctness $1: smtpscope exited non-zero"
		FAILED=1
		return
	fi
	$PY "$HERE/report.py" check "$BENCH_DIR/$1.json" "$out" "$1" || FAILED=1
	if [ -f "$BENCH_DIR/$1.pcapng" ]; then
		# Under the pcap's own name (records carry the file's name), in a
		# directory of its own: only the format differs.
		mkdir -p "$BENCH_DIR/ng"
		ln -f "$BENCH_DIR/$1.pcapng" "$BENCH_DIR/ng/$1.pcap"
		"$SMTPSCOPE" -r "$BENCH_DIR/ng/$1.pcap" --json "$out.ng" --max-streams "$2" \
			>/dev/null 2>>"$BENCH_DIR/smtpscope.check.err"
		rm -f "$BENCH_DIR/ng/$1.pcap"
		if cmp -s "$out" "$out.ng"; then
			note "PASS $1: same JSON from the capture written as pcapng"
		else
			note "FAIL $1: JSON differs when the capture is read as pcapng"
			FAILED=1
		fi
	fi
	# That run read its file ahead on a second thread (given a second CPU);
	# reading it in the main thread must give the same bytes.
	"$SMTPSCOPE" -r "$BENCH_DIR/$1.pcap" --json "$out.one" --max-streams "$2" \
		--read-threads 0 >/dev/null 2>>"$BENCH_DIR/smtpscope.check.err"
	if cmp -s "$out" "$out.one"; then
		note "PASS $1: same JSON with the file read in the main thread (--read-threads 0)"
	else
		note "FAIL $1: JSON differs with the file read in the main thread"
		FAILED=1
	fi
	# Worker processes (2, and one per CPU) must give the same bytes.
	local w
	for w in 2 auto; do
		"$SMTPSCOPE" -r "$BENCH_DIR/$1.pcap" --json "$out.w$w" --max-streams "$2" \
			--workers "$w" >/dev/null 2>>"$BENCH_DIR/smtpscope.check.err"
		if cmp -s "$out" "$out.w$w"; then
			note "PASS $1: same JSON with --workers $w"
		else
			note "FAIL $1: JSON differs with --workers $w"
			FAILED=1
		fi
	done
	[ "$3" -gt 4096 ] || return
	# The buffers were freed in that run; keeping them must give the same bytes.
	"$SMTPSCOPE" -r "$BENCH_DIR/$1.pcap" --json "$out.kept" --max-streams "$2" \
		--free-buffers-above 4194304 >/dev/null 2>>"$BENCH_DIR/smtpscope.check.err"
	if cmp -s "$out" "$out.kept"; then
		note "PASS $1: same JSON with libnids buffers kept (--free-buffers-above 4194304)"
	else
		note "FAIL $1: JSON differs with libnids buffers kept"
		FAILED=1
	fi
}

# own_state NAME STREAMS CONCURRENCY: smtpscope's heap at its peak under
# massif, split into session state, fixed tables and libraries.  With
# --order-window 0 no finished record waits for output order, so the
# session state is the open sessions' alone: that, per open session, is
# checked against the 1 KiB target.  A second run with the default window
# shows what the records waiting for output order add (a bounded number:
# at most the window's 4096 records).
own_state() {
	local out=$BENCH_DIR/$1.massif
	[ "$BENCH_CALLGRIND" != 0 ] || { note "SKIP own state (BENCH_CALLGRIND=0)"; return; }
	command -v valgrind >/dev/null || { note "SKIP own state: valgrind not installed"; return; }
	have_smtpscope || { note "SKIP own state: $SMTPSCOPE not built yet"; return; }
	note "-- own state, no record waiting for output order (--order-window 0):"
	valgrind --tool=massif --threshold=0.1 --massif-out-file="$out" "$SMTPSCOPE" \
		-r "$BENCH_DIR/$1.pcap" --json /dev/null -q --max-streams "$2" \
		--order-window 0 >/dev/null 2>&1
	$PY "$HERE/report.py" state "$out" "$3" || FAILED=1
	note "-- own state with the default order window (finished records wait):"
	valgrind --tool=massif --threshold=0.1 --massif-out-file="$out" "$SMTPSCOPE" \
		-r "$BENCH_DIR/$1.pcap" --json /dev/null -q --max-streams "$2" >/dev/null 2>&1
	$PY "$HERE/report.py" state "$out" "$3" info || FAILED=1
}

# callgrind_ir CMD...: prints total instructions executed
callgrind_ir() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' | tail -n 1
}

callgrind_part() {
	local prog cmd full empty pkts
	[ "$BENCH_CALLGRIND" != 0 ] || { note "SKIP callgrind (BENCH_CALLGRIND=0)"; return; }
	command -v valgrind >/dev/null || { note "SKIP callgrind: valgrind not installed"; return; }
	gen_capture tiny --seed 3 --sessions 40 --concurrency 10 --messages 3 --body-bytes 8000
	gen_capture empty --seed 3 --sessions 0
	pkts=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' \
		"$BENCH_DIR/tiny.json")
	note ""
	note "== instructions per packet (callgrind, $pkts packets; 'marginal' subtracts an empty-capture run) =="
	# scope_nidshash: smtpscope built with libnids' own stream hash.
	for prog in loop_pcap loop_nids smtpscope scope_nidshash; do
		cmd=$(cmd_for "$prog" "$BENCH_DIR/tiny.pcap" 65536)
		if [ -z "$cmd" ]; then note "SKIP $prog: not built yet"; continue; fi
		# shellcheck disable=SC2086
		full=$(callgrind_ir $cmd)
		# shellcheck disable=SC2086
		empty=$(callgrind_ir $(cmd_for "$prog" "$BENCH_DIR/empty.pcap" 65536))
		$PY "$HERE/report.py" ir "$prog" "$pkts" "${full:-0}" "${empty:-0}"
	done
	have_smtpscope || return
	# With --workers 2: the reading process's share and each worker's.
	callgrind_processes "$BENCH_DIR/tiny.pcap" "$BENCH_DIR/cg.tiny"
	callgrind_processes "$BENCH_DIR/empty.pcap" "$BENCH_DIR/cg.empty"
	$PY "$HERE/report.py" ir-workers "$pkts" "$BENCH_DIR/cg.tiny" "$BENCH_DIR/cg.empty"
}

# callgrind_processes CAPTURE PREFIX: smtpscope --workers 2 under callgrind,
# one output file per process (PREFIX.PID); the reader's is the first pid.
callgrind_processes() {
	rm -f "$2".*
	valgrind --tool=callgrind --callgrind-out-file="$2.%p" "$SMTPSCOPE" -r "$1" \
		--json /dev/null -q --max-streams 65536 --workers 2 >/dev/null 2>&1
}

# run_capture NAME CONCURRENCY GEN-ARGS...
run_capture() {
	local name=$1 conc=$2 streams
	shift 2
	streams=$(streams_for "$conc")
	gen_capture "$name" --concurrency "$conc" "$@"
	# The same capture as pcapng, for smtpscope's pcapng reader (scope_pcapng).
	if ! "$BUILD/pcap2ng" "$BENCH_DIR/$name.pcap" "$BENCH_DIR/$name.pcapng"; then
		note "FAIL pcap2ng $name"
		FAILED=1
	fi
	note ""
	note "== capture $name (max streams $streams, $BENCH_REPS reps, interleaved) =="
	check_nids "$name" "$streams"
	bench_capture "$name" "$streams" "$conc"
	check_smtpscope "$name" "$streams" "$conc"
	# Per-session state only means something with many sessions open.
	[ "$conc" -le 4096 ] || own_state "$name" "$streams" "$conc"
	[ -n "${BENCH_KEEP:-}" ] || rm -f "$BENCH_DIR/$name.pcap" "$BENCH_DIR/$name.pcapng"
}

main() {
	local f
	for f in gen loop_pcap loop_nids pcap2ng; do
		[ -x "$BUILD/$f" ] || { note "missing $BUILD/$f: run 'make -C bench' first"; exit 2; }
	done
	note "smtpscope benchmark: size=$BENCH_SIZE reps=$BENCH_REPS dir=$BENCH_DIR"
	run_capture small 100 --seed 1 --sessions 750 --messages 3 --body-bytes 8000 \
		--pipelining-share 0.5 --anomaly-share 0.09 --rtt-us 20000 --banner-ms 50
	if [ "$BENCH_SIZE" != full ]; then
		# The own-state figure needs many sessions open, not a long run:
		# 5,000 at once, the 50k capture's profile, massif only.
		gen_capture c5k --concurrency 5000 --seed 4 --sessions 6000 --messages 1 \
			--body-bytes 1700 --pipelining-share 0.5 --anomaly-share 0.09 \
			--rtt-us 40000 --banner-ms 300
		note ""
		note "== own state, 5000 sessions open at once (massif) =="
		own_state c5k "$(streams_for 5000)" 5000
		[ -n "${BENCH_KEEP:-}" ] || rm -f "$BENCH_DIR/c5k.pcap"
	fi
	if [ "$BENCH_SIZE" = full ]; then
		run_capture 1g 1000 --seed 2 --sessions 22000 --messages 3 --body-bytes 13700 \
			--pipelining-share 0.5 --anomaly-share 0.09 --rtt-us 20000 --banner-ms 50
		run_capture c50k 50000 --seed 4 --sessions 60000 --messages 1 --body-bytes 1700 \
			--pipelining-share 0.5 --anomaly-share 0.09 --rtt-us 40000 --banner-ms 300
	fi
	callgrind_part
	note ""
	if [ "$FAILED" != 0 ]; then note "RESULT: FAIL"; exit 1; fi
	note "RESULT: PASS"
}

main "$@"

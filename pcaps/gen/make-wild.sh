#!/usr/bin/env bash
# Make smtpscope's "wild" test captures: what captures taken on real hosts
# and networks look like, as opposed to clean loopback ones -- segments far
# larger than the MTU (TSO/GSO, BIG TCP with IPv4 total length 0),
# reordering, network loss with retransmissions, capture loss, one-sided
# captures, a client that sends the message before the 354, and plaintext
# SMTP on port 465.  All SMTP traffic is made by real software (postfix
# smtpd, aiosmtpd, swaks, python smtplib/socket clients) and real kernel
# TCP stacks; see pcaps/README.md, section "Wild captures".
#
# usage: sudo pcaps/gen/make-wild.sh [name ...]
#   names: tso bigtcp reorder capture-loss netem-loss one-sided
#          pipelined-content plaintext-465          (no argument: all)
#
# Needs root.  Traffic stays inside two network namespaces that this script
# creates and deletes again (swild-cli 10.99.0.1, swild-srv 10.99.0.2),
# joined either by a veth pair (wcli0/wsrv0) or by two tap devices of the
# same names that gen/wild.py links in user space (see "netem" below).
# The root namespace's interfaces, addresses, routes and postfix
# configuration are never touched: postfix runs as a separate instance
# (postfix -c WORKDIR/postfix) inside swild-srv, with its queue in WORKDIR.
#
# Kernel limits found on the machine the captures were made on (6.18, no
# modprobe):
# * netem is not built (CONFIG_NET_SCH_NETEM unset: "tc qdisc add ... netem"
#   fails with "Specified qdisc kind is unknown"), nor fq, prio, sfq, ...;
#   only pfifo, htb, tbf and clsact exist.  So delay/reorder/loss come from
#   "wild.py wire", a user-space netem between two tap devices (same rules
#   as netem: loss %, reorder % with correlation, fixed delay).
# * BIG TCP for IPv4 works (veth tso_max_size is 524280), but iproute2 6.1
#   cannot set gso_ipv4_max_size / gro_ipv4_max_size (it rejects the
#   keywords; gso_max_size alone only raises the IPv6 limit).  wild.py
#   gso-ipv4 sets them with a plain rtnetlink request.
# * libpcap 1.10.3 caps each frame at 65535+18 octets when it uses
#   TPACKET_V2 (tcpdump --immediate-mode) on an interface with offloads, so
#   a BIG TCP frame would be cut; without --immediate-mode (TPACKET_V3) the
#   whole frame is kept.  TPACKET_V3 hands packets over only when a block
#   is retired (tcpdump's 1 s timeout), hence the 2 s linger before SIGINT.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "make-wild.sh: must be run as root" >&2
    exit 1
fi

GEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(dirname "$GEN_DIR")
PY=/usr/bin/python3
SERVER_PY="$GEN_DIR/aiosmtpd_server.py"
CLIENT_PY="$GEN_DIR/smtp_clients.py"
WILD_PY="$GEN_DIR/wild.py"
WORK=$(mktemp -d /tmp/smtpscope-wild.XXXXXX)
chmod 755 "$WORK"               # postfix's own users must reach its queue
PF_DIR="$WORK/postfix"
NS_CLI=swild-cli
NS_SRV=swild-srv
CLI=10.99.0.1
SRV=10.99.0.2
export LC_ALL=C

SELECTED=("$@")
FAILED=()

log() { printf '==> %s\n' "$*" >&2; }

# ------------------------------------------------------------ packages

ensure_packages() {
    local need=() p
    for p in postfix swaks python3-aiosmtpd tcpdump iproute2 ethtool procps; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || need+=("$p")
    done
    if ((${#need[@]})); then
        log "installing: ${need[*]}"
        echo "postfix postfix/main_mailer_type select No configuration" \
            | debconf-set-selections
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
    fi
}

# ------------------------------------------------------------ helpers

selected() {
    ((${#SELECTED[@]} == 0)) && return 0
    local s
    for s in "${SELECTED[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

listening() {         # listening NS PORT
    in_ns "$1" ss -Hltn "sport = :$2" | grep -q .
}

wait_listen() {
    local _
    for _ in $(seq 100); do listening "$@" && return 0; sleep 0.1; done
    echo "nothing listens on port $2 (netns $1)" >&2; return 1
}

wait_free() {
    local _
    for _ in $(seq 100); do listening "$@" || return 0; sleep 0.1; done
    echo "port $2 still busy (netns $1)" >&2; return 1
}

SERVER_PID=
server_stop() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

aio_start() {         # aio_start MODE PORT   (in the server namespace)
    rm -f "$WORK/aio.ready"
    ip netns exec "$NS_SRV" "$PY" "$SERVER_PY" "$1" "$2" --host "$SRV" \
        --ready-file "$WORK/aio.ready" >>"$WORK/aio-$1.log" 2>&1 &
    SERVER_PID=$!
    wait_listen "$NS_SRV" "$2"
}

# tcpdump: -s 262144, no --immediate-mode (see the header), BPF on the port
CAP_PIDS=()
CAP_FILES=()
cap_start() {         # cap_start NS IFACE FILE FILTER
    local ns=$1 iface=$2 file=$3 filter=$4 err
    rm -f "$OUT_DIR/$file"
    err="$WORK/tcpdump-${file%.pcap}.err"
    : >"$err"
    ip netns exec "$ns" tcpdump -i "$iface" -s 262144 -Z root -w "$OUT_DIR/$file" \
        "$filter" 2>"$err" &
    CAP_PIDS+=($!)
    CAP_FILES+=("$OUT_DIR/$file")
    local _
    for _ in $(seq 50); do
        grep -q 'listening on' "$err" && break
        sleep 0.1
    done
    sleep 0.7
}

report() {            # report FILE...
    local f n
    for f in "$@"; do
        n=$(tcpdump -nn -r "$f" 2>/dev/null | wc -l)
        printf '    %-40s %4d packets %7d bytes\n' "$(basename "$f")" "$n" \
            "$(stat -c %s "$f")" >&2
        printf '      %s\n' "$("$PY" "$WILD_PY" summary "$f")" >&2
        if ((n == 0)); then
            echo "    ERROR: empty capture" >&2
            FAILED+=("$(basename "$f")")
        fi
    done
}

cap_stop() {          # stop every running capture (after the TPACKET_V3 linger)
    sleep 2
    local p
    for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${CAP_PIDS[@]}"; do wait "$p" || true; done
    report "${CAP_FILES[@]}"
    CAP_PIDS=()
    CAP_FILES=()
}

summary_of() { "$PY" "$WILD_PY" summary "$OUT_DIR/$1"; }

swaks_run() {         # swaks_run MSGID [swaks options...]  (client namespace)
    local id=$1; shift
    in_ns "$NS_CLI" swaks --helo client.smtpscope.test \
          --from sender@smtpscope.test \
          --header "Subject: smtpscope test message" \
          --header "Message-Id: <$id@client.smtpscope.test>" \
          --timeout 20 "$@" >>"$WORK/swaks.log" 2>&1 || true
}

client_run() {        # client_run SCENARIO PORT  (client namespace)
    in_ns "$NS_CLI" "$PY" "$CLIENT_PY" "$1" "$SRV" "$2" >>"$WORK/clients.log" 2>&1 || true
}

body_file() {         # body_file FILE OCTETS: plain-text body for swaks --body @FILE
    local i=0 n=0 line
    : >"$1"
    while ((n < $2)); do
        printf -v line 'Line %05d of the smtpscope wild test body: the quick brown fox jumps over the lazy dog.' "$i"
        printf '%s\n' "$line" >>"$1"
        n=$((n + ${#line} + 2)); i=$((i + 1))
    done
}

# ------------------------------------------------------------ network

WIRE_PID=
link_down() {
    if [[ -n $WIRE_PID ]]; then
        kill "$WIRE_PID" 2>/dev/null || true
        wait "$WIRE_PID" 2>/dev/null || true
        WIRE_PID=
    fi
    ip -n "$NS_CLI" link del wcli0 2>/dev/null || true
    ip -n "$NS_SRV" link del wsrv0 2>/dev/null || true
}

netns_down() {
    link_down
    local ns p
    for ns in "$NS_CLI" "$NS_SRV"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
            ip netns del "$ns"
        fi
    done
}

netns_up() {
    netns_down
    local ns
    for ns in "$NS_CLI" "$NS_SRV"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
    done
}

addr_up() {
    ip -n "$NS_CLI" addr add "$CLI/24" dev wcli0
    ip -n "$NS_SRV" addr add "$SRV/24" dev wsrv0
    ip -n "$NS_CLI" link set wcli0 up
    ip -n "$NS_SRV" link set wsrv0 up
}

veth_up() {           # veth_up on|off: veth pair, TSO/GSO on or off on both ends
    link_down
    ip link add wcli0 netns "$NS_CLI" type veth peer name wsrv0 netns "$NS_SRV"
    in_ns "$NS_CLI" ethtool -K wcli0 tso "$1" gso "$1"
    in_ns "$NS_SRV" ethtool -K wsrv0 tso "$1" gso "$1"
    addr_up
}

wire_up() {           # wire_up [wild.py wire options]: tap pair + user-space netem
    link_down
    rm -f "$WORK/wire.ready"
    "$PY" "$WILD_PY" wire "$NS_CLI" wcli0 "$NS_SRV" wsrv0 "$WORK/wire.ready" "$@" \
        2>>"$WORK/wire.log" &
    WIRE_PID=$!
    local _
    for _ in $(seq 50); do [[ -e $WORK/wire.ready ]] && break; sleep 0.1; done
    addr_up
    echo "--- wire $*" >>"$WORK/wire.log"
}

# ------------------------------------------------------------ postfix (own instance)

postfix_up() {        # separate instance in the server namespace, listening on all its addresses
    mkdir -p "$PF_DIR" "$WORK/pf-queue" "$WORK/pf-data"
    chown postfix "$WORK/pf-data"
    : >"$PF_DIR/main.cf"
    : >"$PF_DIR/master.cf"
    postconf -c "$PF_DIR" -e \
        'compatibility_level = 3.6' \
        "queue_directory = $WORK/pf-queue" \
        "data_directory = $WORK/pf-data" \
        "maillog_file = $WORK/postfix.log" \
        'maillog_file_prefixes = /tmp' \
        'myhostname = mx.smtpscope.test' \
        'mydomain = smtpscope.test' \
        'myorigin = $mydomain' \
        'mydestination = $mydomain, $myhostname' \
        'inet_interfaces = all' \
        'inet_protocols = ipv4' \
        'mynetworks = 10.99.0.0/24' \
        'smtpd_banner = $myhostname ESMTP $mail_name' \
        'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
        'smtpd_forbid_unauth_pipelining = no' \
        'local_recipient_maps = inline:{ rcpt=ok, sender=ok, postmaster=ok }' \
        'local_transport = discard:smtpscope' \
        'default_transport = discard:smtpscope' \
        'alias_maps =' 'alias_database =' \
        'biff = no' 'append_dot_mydomain = no' 'readme_directory = no'
    local svc
    for svc in \
        'pickup/unix=pickup unix n - n 60 1 pickup' \
        'cleanup/unix=cleanup unix n - n - 0 cleanup' \
        'qmgr/unix=qmgr unix n - n 300 1 qmgr' \
        'rewrite/unix=rewrite unix - - n - - trivial-rewrite' \
        'bounce/unix=bounce unix - - n - 0 bounce' \
        'defer/unix=defer unix - - n - 0 bounce' \
        'trace/unix=trace unix - - n - 0 bounce' \
        'verify/unix=verify unix - - n - 1 verify' \
        'flush/unix=flush unix n - n 1000? 0 flush' \
        'proxymap/unix=proxymap unix - - n - - proxymap' \
        'error/unix=error unix - - n - - error' \
        'retry/unix=retry unix - - n - - error' \
        'discard/unix=discard unix - - n - - discard' \
        'anvil/unix=anvil unix - - n - 1 anvil' \
        'scache/unix=scache unix - - n - 1 scache' \
        'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd' \
        'smtp/inet=smtp inet n - n - - smtpd' \
        'smtps/inet=smtps inet n - n - - smtpd -o syslog_name=postfix/plain465'
    do
        postconf -c "$PF_DIR" -M "$svc"
    done
    postfix -c "$PF_DIR" check
    in_ns "$NS_SRV" postfix -c "$PF_DIR" start >/dev/null 2>&1
    wait_listen "$NS_SRV" 25
    wait_listen "$NS_SRV" 465
}

postfix_down() {
    if [[ -f $PF_DIR/main.cf ]]; then
        postfix -c "$PF_DIR" stop >/dev/null 2>&1 || true
    fi
}

cleanup() {
    local rc=$?
    local p
    for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    server_stop
    postfix_down
    netns_down
    if ((rc != 0)); then
        echo "make-wild.sh failed (rc=$rc); logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# ============================================================ main

ensure_packages
log "kernel $(uname -r); versions: postfix $(postconf -d -h mail_version 2>/dev/null), \
$(swaks --version 2>&1 | awk '/version/{print "swaks "$3; exit}'), \
aiosmtpd $("$PY" -c 'import aiosmtpd; print(aiosmtpd.__version__)'), \
$(tcpdump --version 2>&1 | head -1)"
netns_up
body_file "$WORK/body-20k.txt" 20000
body_file "$WORK/body-30k.txt" 30000

# ---------------- phase 1: aiosmtpd server (postfix not started yet)

if selected tso; then
    # TSO/GSO on (veth default, set explicitly); kernel defaults otherwise.
    # smtplib writes the whole message at once, so TCP builds segments as
    # large as cwnd and the peer's window allow; captured on the sender.
    log "tso: smtplib (90 KB body, one write) -> aiosmtpd, veth TSO/GSO on, capture on client veth"
    veth_up on
    aio_start plain 25
    cap_start "$NS_CLI" wcli0 real-wild-tso.pcap "tcp port 25"
    client_run msg-90k 25
    cap_stop
    server_stop; wait_free "$NS_SRV" 25
    grep -q 'oversized(frame:len/ip_totlen)=[0-9]' <<<"$(summary_of real-wild-tso.pcap)" \
        || { echo "    ERROR: no frame larger than 1514 octets" >&2; FAILED+=(real-wild-tso.pcap); }
fi

if selected bigtcp; then
    # IPv4 BIG TCP: GSO packets above 64 KB, whose IPv4 total length is 0
    # (the kernel's iph_set_totlen()); the size is in the frame only.
    log "bigtcp: smtplib (200 KB body) -> aiosmtpd, veth gso/gro(_ipv4)_max_size 185000"
    veth_up on
    for nd in "$NS_CLI:wcli0" "$NS_SRV:wsrv0"; do
        ns=${nd%%:*} dev=${nd#*:}
        ip -n "$ns" link set dev "$dev" gso_max_size 185000 gro_max_size 185000
        in_ns "$ns" "$PY" "$WILD_PY" gso-ipv4 "$dev" 185000 >>"$WORK/bigtcp.log"
        # room for a >64 KB flight at once: initial cwnd / receive window
        # of 128 segments and 1 MB default socket buffers
        ip -n "$ns" route replace 10.99.0.0/24 dev "$dev" proto kernel scope link \
            initcwnd 128 initrwnd 128
        in_ns "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 1048576 6291456" \
            net.ipv4.tcp_wmem="4096 1048576 4194304"
    done
    aio_start plain 25
    cap_start "$NS_CLI" wcli0 real-wild-bigtcp.pcap "tcp port 25"
    client_run msg-200k 25
    cap_stop
    server_stop; wait_free "$NS_SRV" 25
    for ns in "$NS_CLI" "$NS_SRV"; do      # back to the defaults
        in_ns "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 131072 6291456" \
            net.ipv4.tcp_wmem="4096 16384 4194304"
    done
    grep -q '/0\b' <<<"$(summary_of real-wild-bigtcp.pcap)" \
        || { echo "    ERROR: no frame with IPv4 total length 0" >&2; FAILED+=(real-wild-bigtcp.pcap); }
fi

# ---------------- phase 2: postfix in the server namespace

log "starting postfix $(postconf -d -h mail_version) (own instance, netns $NS_SRV)"
postfix_up

if selected reorder; then
    # netem "delay 10ms reorder 25% 50%" on client->server (user-space
    # wire, see header): 25% of the client's TCP frames go at once, the
    # rest 10 ms later.  Captured on the server's tap: arrival order.
    for seed in 1 2 3 4 5; do
        log "reorder: swaks (30 KB body) -> postfix, wire delay 10ms reorder 25% 50% (seed $seed)"
        wire_up --delay-ms 10 --reorder 25 --corr 50 --seed "$seed"
        cap_start "$NS_SRV" wsrv0 real-wild-reorder.pcap "tcp port 25"
        swaks_run smtpscope-wild-reorder --server "$SRV" --port 25 \
            --to rcpt@smtpscope.test --body @"$WORK/body-30k.txt"
        cap_stop
        summary_of real-wild-reorder.pcap | grep -q 'c2s_ooo=[1-9]' && break
        echo "    no out-of-order client segment; again" >&2
    done
fi

if selected netem-loss; then
    # netem "loss 5%" on client->server (user-space wire): lost frames never
    # reach the server, TCP retransmits them.  Captured on the server's tap.
    for seed in 1 2 3 4 5 6 7 8; do
        log "netem-loss: swaks (20 KB body) -> postfix, wire loss 5% (seed $seed)"
        wire_up --loss 5 --seed "$seed"
        cap_start "$NS_SRV" wsrv0 real-wild-netem-loss.pcap "tcp port 25"
        swaks_run smtpscope-wild-netem-loss --server "$SRV" --port 25 \
            --to rcpt@smtpscope.test --body @"$WORK/body-20k.txt"
        cap_stop
        summary_of real-wild-netem-loss.pcap | grep -q 'c2s_ooo=[1-9]' && break
        echo "    no lost client data segment; again" >&2
    done
fi

if selected capture-loss; then
    # a clean capture (veth, TSO/GSO off: MTU-sized segments), then one
    # body segment is cut out of the FILE: capture loss, not network loss
    log "capture-loss: swaks (20 KB body) -> postfix, veth TSO off; one body segment removed afterwards"
    veth_up off
    cap_start "$NS_SRV" wsrv0 real-wild-capture-loss-source.pcap "tcp port 25"
    swaks_run smtpscope-wild-capture-loss --server "$SRV" --port 25 \
        --to rcpt@smtpscope.test --body @"$WORK/body-20k.txt"
    cap_stop
    "$PY" "$WILD_PY" drop-data-segment "$OUT_DIR/real-wild-capture-loss-source.pcap" \
        "$OUT_DIR/synth-wild-capture-loss.pcap" >&2
    report "$OUT_DIR/synth-wild-capture-loss.pcap"
fi

if selected one-sided; then
    # one session, two captures at once on the client's veth: only what
    # the client sends, only what the server sends (asymmetric routing)
    log "one-sided: swaks -> postfix, veth; 'src host' captures of each direction"
    veth_up off
    cap_start "$NS_CLI" wcli0 real-wild-one-sided-client.pcap "tcp port 25 and src host $CLI"
    cap_start "$NS_CLI" wcli0 real-wild-one-sided-server.pcap "tcp port 25 and src host $SRV"
    swaks_run smtpscope-wild-one-sided --server "$SRV" --port 25 --to rcpt@smtpscope.test
    cap_stop
fi

if selected pipelined-content; then
    log "pipelined-content: python raw client (MAIL..message..'.' in one send) -> postfix"
    veth_up off
    cap_start "$NS_CLI" wcli0 real-wild-pipelined-content.pcap "tcp port 25"
    client_run pipelined-content 25
    cap_stop
fi

if selected plaintext-465; then
    log "plaintext-465: swaks --port 465 (no TLS) -> postfix smtpd on 465 without wrappermode"
    veth_up off
    cap_start "$NS_CLI" wcli0 real-wild-plaintext-465.pcap "tcp port 465"
    swaks_run smtpscope-wild-plaintext-465 --server "$SRV" --port 465 --to rcpt@smtpscope.test
    cap_stop
fi

if selected pipelined-content; then
    # same client against aiosmtpd (it writes each reply as it is made)
    postfix_down
    wait_free "$NS_SRV" 25
    log "pipelined-content-aiosmtpd: python raw client -> aiosmtpd"
    veth_up off
    aio_start plain 25
    cap_start "$NS_CLI" wcli0 real-wild-pipelined-content-aiosmtpd.pcap "tcp port 25"
    client_run pipelined-content 25
    cap_stop
    server_stop
fi

if ((${#FAILED[@]})); then
    echo "FAILED captures: ${FAILED[*]}" >&2
    exit 1
fi
log "done; captures in $OUT_DIR"

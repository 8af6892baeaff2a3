#!/usr/bin/env bash
# Make smtpscope's capture-layout test files: IPv6, mid-stream pick-up,
# multi-interface pcapng, nanosecond and big-endian pcap, a rotated
# ("ring") capture, 802.1Q / QinQ, MPLS / PPPoE, Linux "any" (SLL2).
# All SMTP traffic is made by real software (postfix smtpd, smtp-sink,
# smtp-source, swaks, aiosmtpd); see pcaps/README.md, section
# "Capture layouts".
#
# usage: sudo pcaps/gen/make-layouts.sh [name ...]
#   names: ipv6-normal-quit ipv6-pipelining ipv6-starttls
#          ipv6-221-mid-transaction midstream-cut lost-synack
#          multi-interface nanosecond bigendian ring vlan qinq vlan-ipv6
#          mpls pppoe sll2-any          (no argument: all)
#
# Needs root.  Traffic stays on loopback (127.0.0.1, ::1) or inside two
# network namespaces that this script creates (smtpscope-cli,
# smtpscope-srv; 198.51.100.0/24 TEST-NET-2 and 2001:db8:25::/64) and
# deletes again.  The root namespace's addresses and routes are never
# touched.  Postfix's configuration is replaced during the IPv6 captures and
# restored afterwards; postfix is left stopped.
#
# midstream-cut, lost-synack, bigendian, mpls and pppoe are derived from
# captures made by make-captures.sh (real-concurrent.pcap,
# real-normal-quit.pcap), which must exist.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "make-layouts.sh: must be run as root" >&2
    exit 1
fi

GEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(dirname "$GEN_DIR")
PY=/usr/bin/python3
SERVER_PY="$GEN_DIR/aiosmtpd_server.py"
CLIENT_PY="$GEN_DIR/smtp_clients.py"
LAYOUTS_PY="$GEN_DIR/layouts.py"
WORK=$(mktemp -d /tmp/smtpscope-layouts.XXXXXX)
PF_BACKUP=/etc/postfix/.smtpscope-orig
NS_CLI=smtpscope-cli
NS_SRV=smtpscope-srv
V4_CLI=198.51.100.1 V4_SRV=198.51.100.2
V6_CLI=2001:db8:25::1 V6_SRV=2001:db8:25::2
export LC_ALL=C

SELECTED=("$@")
FAILED=()

log() { printf '==> %s\n' "$*" >&2; }

# ------------------------------------------------------------ packages

ensure_packages() {
    local need=() p
    for p in postfix swaks python3-aiosmtpd tcpdump tshark ssl-cert \
             libnet-ssleay-perl iproute2 procps clang linux-libc-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || need+=("$p")
    done
    if ((${#need[@]})); then
        log "installing: ${need[*]}"
        echo "postfix postfix/main_mailer_type select No configuration" \
            | debconf-set-selections
        echo "wireshark-common wireshark-common/install-setuid boolean false" \
            | debconf-set-selections
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
    fi
    if [[ ! -e /etc/ssl/certs/ssl-cert-snakeoil.pem ]]; then
        make-ssl-cert generate-default-snakeoil
    fi
}

# ------------------------------------------------------------ helpers

selected() {
    ((${#SELECTED[@]} == 0)) && return 0
    local s
    for s in "${SELECTED[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}

in_ns() {             # in_ns NS|- command...   ("-" = root namespace)
    local ns=$1; shift
    if [[ $ns == - ]]; then "$@"; else ip netns exec "$ns" "$@"; fi
}

# for background jobs: "${NSX[@]}" cmd & makes $! the command's own pid
# ("ip netns exec" execs it), which a backgrounded shell function would not
nsx() { if [[ $1 == - ]]; then NSX=(); else NSX=(ip netns exec "$1"); fi; }

listening() {         # listening NS IP PORT   (IP as ss prints it, [::1] for v6)
    in_ns "$1" ss -Hltn "sport = :$3" | awk '{print $4}' | grep -qxF "$2:$3"
}

wait_listen() {       # wait_listen NS IP PORT
    local _
    for _ in $(seq 100); do listening "$@" && return 0; sleep 0.1; done
    echo "nothing listens on $2:$3 (netns $1)" >&2; return 1
}

wait_free() {
    local _
    for _ in $(seq 100); do listening "$@" || return 0; sleep 0.1; done
    echo "$2:$3 still busy" >&2; return 1
}

ports_must_be_free() {
    local p
    for p in 25 465 587; do
        if ss -Hltn "sport = :$p" | grep -q .; then
            echo "port $p is busy:" >&2; ss -Hltnp "sport = :$p" >&2; return 1
        fi
    done
}

SERVER_PIDS=()
servers_stop() {
    local p
    for p in "${SERVER_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    SERVER_PIDS=()
}

sink_start() {        # sink_start NS IP PORT [smtp-sink options...]
    local ns=$1 ip=$2 port=$3; shift 3
    nsx "$ns"
    "${NSX[@]}" smtp-sink -u nobody -h mx.smtpscope.test "$@" "$ip:$port" 64 \
        >>"$WORK/sink.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_listen "$ns" "$ip" "$port"
}

aio_start() {         # aio_start MODE HOST PORT
    rm -f "$WORK/aio.ready"
    "$PY" "$SERVER_PY" "$1" "$3" --host "$2" --ready-file "$WORK/aio.ready" \
        >"$WORK/aio-$1.log" 2>&1 &
    SERVER_PIDS+=($!)
    if [[ $2 == *:* ]]; then wait_listen - "[$2]" "$3"; else wait_listen - "$2" "$3"; fi
}

TCPDUMP_PID=
CAP_FILE=
cap_start() {         # cap_start NS FILE IFACE FILTER [tcpdump options...]
    local ns=$1 file=$2 iface=$3 filter=$4; shift 4
    CAP_FILE="$OUT_DIR/$file"
    rm -f "$CAP_FILE"
    : >"$WORK/tcpdump.err"
    nsx "$ns"
    # shellcheck disable=SC2086
    "${NSX[@]}" tcpdump -i "$iface" -s 262144 -Z root "$@" -w "$CAP_FILE" $filter \
        2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    local _
    for _ in $(seq 50); do
        grep -q 'listening on' "$WORK/tcpdump.err" && break
        sleep 0.1
    done
    sleep 0.7
}

report() {            # report FILE...: packet count and size; empty = failure
    local f n
    for f in "$@"; do
        n=$(capinfos -M -c -T "$f" 2>/dev/null | awk -F'\t' 'NR==2{print $2}')
        printf '    %-40s %4s packets %7d bytes\n' "$(basename "$f")" "${n:-?}" \
            "$(stat -c %s "$f")" >&2
        if [[ -z $n || $n == 0 ]]; then
            echo "    ERROR: empty capture" >&2
            FAILED+=("$(basename "$f")")
        fi
    done
}

cap_stop() {          # cap_stop [linger-seconds]
    sleep "${1:-1}"
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    report "$CAP_FILE"
}

swaks_run() {         # swaks_run NS MSGID [swaks options...]
    local ns=$1 id=$2; shift 2
    in_ns "$ns" swaks --helo client.smtpscope.test \
          --from sender@smtpscope.test \
          --header "Subject: smtpscope test message" \
          --header "Message-Id: <$id@client.smtpscope.test>" \
          --timeout 20 "$@" >>"$WORK/swaks.log" 2>&1 || true
}

client_run() {        # client_run SCENARIO HOST PORT
    "$PY" "$CLIENT_PY" "$@" >>"$WORK/clients.log" 2>&1 || true
}

# ------------------------------------------------------------ namespaces

netns_down() {
    local ns
    for ns in "$NS_CLI" "$NS_SRV"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            # kill anything still running inside (only our own processes live there)
            local p
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
            ip netns del "$ns"
        fi
    done
}

netns_up() {          # two namespaces, lo up, IPv6 autoconf noise off
    netns_down
    local ns
    for ns in "$NS_CLI" "$NS_SRV"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        in_ns "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0
    done
}

veth_up() {           # veth_up [v6]: veth cli0 <-> srv0 with TEST-NET-2 (and 2001:db8:25::/64)
    netns_up
    ip link add sscli0 netns "$NS_CLI" type veth peer name sssrv0 netns "$NS_SRV"
    local v6=${1:-}
    if [[ -z $v6 ]]; then
        in_ns "$NS_CLI" sysctl -qw net.ipv6.conf.sscli0.disable_ipv6=1
        in_ns "$NS_SRV" sysctl -qw net.ipv6.conf.sssrv0.disable_ipv6=1
    fi
    ip -n "$NS_CLI" addr add "$V4_CLI/24" dev sscli0
    ip -n "$NS_SRV" addr add "$V4_SRV/24" dev sssrv0
    if [[ -n $v6 ]]; then
        ip -n "$NS_CLI" addr add "$V6_CLI/64" dev sscli0 nodad
        ip -n "$NS_SRV" addr add "$V6_SRV/64" dev sssrv0 nodad
    fi
    ip -n "$NS_CLI" link set sscli0 up
    ip -n "$NS_SRV" link set sssrv0 up
}

BPF_OBJ="$WORK/vlan_tag.bpf.o"
vlan_tags() {         # vlan_tags vlan|qinq: tc-bpf tagging on both veth ends
    if [[ ! -e $BPF_OBJ ]]; then
        local asm_inc          # <asm/types.h> lives in /usr/include/<multiarch>
        asm_inc=$(ls -d /usr/include/*/asm 2>/dev/null | head -1)
        clang -O2 -target bpf -I"$(dirname "$asm_inc")" \
            -c "$GEN_DIR/vlan_tag.bpf.c" -o "$BPF_OBJ"
    fi
    local ns dev
    for ns in "$NS_CLI:sscli0" "$NS_SRV:sssrv0"; do
        dev=${ns#*:}; ns=${ns%%:*}
        in_ns "$ns" tc qdisc add dev "$dev" clsact
        in_ns "$ns" tc filter add dev "$dev" egress bpf da obj "$BPF_OBJ" sec "tc_push_$1"
        in_ns "$ns" tc filter add dev "$dev" ingress bpf da obj "$BPF_OBJ" sec "tc_pop_$1"
    done
}

TUN_PID=
tun_up() {            # tun point-to-point link cli sstun0 <-> srv sstun1 (RAW link type)
    netns_up
    rm -f "$WORK/tun.ready"
    ip netns exec "$NS_CLI" "$PY" "$LAYOUTS_PY" tunwire sstun0 "$NS_SRV" sstun1 \
        "$WORK/tun.ready" >"$WORK/tun.log" 2>&1 &
    TUN_PID=$!
    local _
    for _ in $(seq 50); do [[ -e $WORK/tun.ready ]] && break; sleep 0.1; done
    ip -n "$NS_CLI" addr add "$V4_CLI" peer "$V4_SRV" dev sstun0
    ip -n "$NS_SRV" addr add "$V4_SRV" peer "$V4_CLI" dev sstun1
    ip -n "$NS_CLI" link set sstun0 up
    ip -n "$NS_SRV" link set sstun1 up
}

tun_down() {
    if [[ -n $TUN_PID ]]; then
        kill "$TUN_PID" 2>/dev/null || true
        wait "$TUN_PID" 2>/dev/null || true
        TUN_PID=
    fi
}

# ------------------------------------------------------------ postfix (IPv6)

postfix_restore() {
    postfix stop >/dev/null 2>&1 || true
    if [[ -d $PF_BACKUP ]]; then
        cp -p "$PF_BACKUP/main.cf" "$PF_BACKUP/master.cf" /etc/postfix/
        rm -rf "$PF_BACKUP"
    fi
}

postfix_configure_v6() {
    postfix stop >/dev/null 2>&1 || true
    if [[ ! -d $PF_BACKUP ]]; then
        mkdir -p "$PF_BACKUP"
        cp -p /etc/postfix/main.cf /etc/postfix/master.cf "$PF_BACKUP/"
    fi
    : >/etc/postfix/main.cf
    : >/etc/postfix/master.cf
    postconf -e \
        'compatibility_level = 3.6' \
        'maillog_file = /var/log/postfix-smtpscope.log' \
        'myhostname = mx.smtpscope.test' \
        'mydomain = smtpscope.test' \
        'myorigin = $mydomain' \
        'mydestination = $mydomain, $myhostname' \
        'inet_interfaces = 127.0.0.1, [::1]' \
        'inet_protocols = all' \
        'mynetworks = 127.0.0.0/8 [::1]/128' \
        'smtpd_banner = $myhostname ESMTP $mail_name' \
        'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
        'local_recipient_maps = inline:{ rcpt=ok, sender=ok, postmaster=ok }' \
        'local_transport = discard:smtpscope' \
        'default_transport = discard:smtpscope' \
        'alias_maps =' 'alias_database =' \
        'biff = no' 'append_dot_mydomain = no' 'readme_directory = no' \
        'smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem' \
        'smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key' \
        'smtpd_tls_security_level = may'
    local svc
    for svc in \
        'pickup/unix=pickup unix n - n 60 1 pickup' \
        'cleanup/unix=cleanup unix n - n - 0 cleanup' \
        'qmgr/unix=qmgr unix n - n 300 1 qmgr' \
        'tlsmgr/unix=tlsmgr unix - - n 1000? 1 tlsmgr' \
        'rewrite/unix=rewrite unix - - n - - trivial-rewrite' \
        'bounce/unix=bounce unix - - n - 0 bounce' \
        'defer/unix=defer unix - - n - 0 bounce' \
        'trace/unix=trace unix - - n - 0 bounce' \
        'verify/unix=verify unix - - n - 1 verify' \
        'flush/unix=flush unix n - n 1000? 0 flush' \
        'proxymap/unix=proxymap unix - - n - - proxymap' \
        'smtp/unix=smtp unix - - n - - smtp' \
        'relay/unix=relay unix - - n - - smtp' \
        'showq/unix=showq unix n - n - - showq' \
        'error/unix=error unix - - n - - error' \
        'retry/unix=retry unix - - n - - error' \
        'discard/unix=discard unix - - n - - discard' \
        'anvil/unix=anvil unix - - n - 1 anvil' \
        'scache/unix=scache unix - - n - 1 scache' \
        'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd' \
        '[::1]:smtp/inet=[::1]:smtp inet n - n - - smtpd'
    do
        postconf -M "$svc"
    done
    postfix check
}

cleanup() {
    local rc=$?
    [[ -n $TCPDUMP_PID ]] && { kill -INT "$TCPDUMP_PID" 2>/dev/null || true; }
    servers_stop
    tun_down
    netns_down
    postsuper -d ALL >/dev/null 2>&1 || true
    postfix_restore
    if ((rc != 0)); then
        echo "make-layouts.sh failed (rc=$rc); logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# ============================================================ main

ensure_packages
postfix stop >/dev/null 2>&1 || true
ports_must_be_free

# ---------------- 1. IPv6 on ::1 (aiosmtpd first, then postfix)

if selected ipv6-221-mid-transaction; then
    log "ipv6-221-mid-transaction: aiosmtpd (RCPT -> 221) on [::1]:25 <- python smtplib"
    aio_start rcpt-221 ::1 25
    cap_start - real-ipv6-221-mid-transaction.pcap lo 'tcp port 25'
    client_run rcpt-221 ::1 25
    cap_stop; servers_stop; wait_free - '[::1]' 25
fi

if selected ipv6-normal-quit || selected ipv6-pipelining || selected ipv6-starttls; then
    log "configuring postfix $(postconf -h mail_version) on [::1]:25"
    postfix_configure_v6
    postfix start >/dev/null 2>&1
    wait_listen - '[::1]' 25
    postsuper -d ALL >/dev/null 2>&1 || true

    if selected ipv6-normal-quit; then
        log "ipv6-normal-quit: postfix [::1]:25 <- swaks -6"
        cap_start - real-ipv6-normal-quit.pcap lo 'tcp port 25'
        swaks_run - smtpscope-ipv6-normal-quit -6 --server ::1 --port 25 --to rcpt@smtpscope.test
        cap_stop
    fi
    if selected ipv6-pipelining; then
        log "ipv6-pipelining: postfix [::1]:25 <- swaks -6 --pipeline, 3 recipients"
        cap_start - real-ipv6-pipelining.pcap lo 'tcp port 25'
        swaks_run - smtpscope-ipv6-pipelining -6 --server ::1 --port 25 --pipeline \
            --to rcpt@smtpscope.test,sender@smtpscope.test,postmaster@smtpscope.test
        cap_stop
    fi
    if selected ipv6-starttls; then
        log "ipv6-starttls: postfix [::1]:25 <- swaks -6 --tls"
        cap_start - real-ipv6-starttls.pcap lo 'tcp port 25'
        swaks_run - smtpscope-ipv6-starttls -6 --server ::1 --port 25 --tls --to rcpt@smtpscope.test
        cap_stop
    fi
    postsuper -d ALL >/dev/null 2>&1 || true
    postfix_restore
    wait_free - '[::1]' 25
fi
ports_must_be_free

# ---------------- 2. mid-stream pick-up (derived with editcap)

if selected midstream-cut; then
    src="$OUT_DIR/real-concurrent.pcap"
    # cut everything up to and including the ACK that completes the third
    # connection's handshake (tcp.stream 2): streams 0 and 1 lose their
    # handshake and greeting (stream 0 also its HELO exchange), stream 2
    # loses only its handshake; streams 3-5 are complete.
    k=$(tshark -n -r "$src" -Y 'tcp.stream == 2 && tcp.flags == 0x010' \
            -T fields -e frame.number 2>/dev/null | head -1)
    log "midstream-cut: real-concurrent.pcap without frames 1-$k"
    editcap "$src" "$OUT_DIR/real-midstream-cut.pcap" "1-$k"
    report "$OUT_DIR/real-midstream-cut.pcap"
fi

if selected lost-synack; then
    src="$OUT_DIR/real-normal-quit.pcap"
    k=$(tshark -n -r "$src" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' \
            -T fields -e frame.number 2>/dev/null | head -1)
    log "lost-synack: real-normal-quit.pcap without frame $k (the SYN/ACK)"
    editcap "$src" "$OUT_DIR/real-lost-synack.pcap" "$k"
    report "$OUT_DIR/real-lost-synack.pcap"
fi

# ---------------- 3. capture layouts

if selected nanosecond; then
    log "nanosecond: smtp-sink <- swaks, tcpdump --time-stamp-precision=nano"
    sink_start - 127.0.0.1 25
    cap_start - real-nanosecond.pcap lo 'tcp port 25' --time-stamp-precision=nano
    swaks_run - smtpscope-nanosecond --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; servers_stop; wait_free - 127.0.0.1 25
fi

if selected sll2-any; then
    log "sll2-any: smtp-sink <- swaks, tcpdump -i any (LINUX_SLL2)"
    sink_start - 127.0.0.1 25
    cap_start - real-sll2-any.pcap any 'tcp port 25'
    swaks_run - smtpscope-sll2-any --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; servers_stop; wait_free - 127.0.0.1 25
fi

if selected ring; then
    # tcpdump -C counts in units of 1,000,000 bytes only (4.99.3), far too
    # big here, so rotate by time: -G 2 -W 3.  smtp-sink -w 3 holds every
    # DATA reply 3 s, so the traffic comes in three bursts >= 3 s apart and
    # each rotation happens at the first packet of a burst.
    log "ring: smtp-sink -w 3 <- smtp-source -s 3 -m 6; tcpdump -G 2 -W 3"
    sink_start - 127.0.0.1 25 -w 3
    rm -f "$OUT_DIR"/real-ring-*.pcap "$WORK"/ring-*.pcap
    : >"$WORK/tcpdump.err"
    tcpdump -i lo -s 262144 -Z root -G 2 -W 3 -w "$WORK/ring-%Y%m%d%H%M%S.pcap" \
        'tcp port 25' 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.err" && break; sleep 0.1; done
    sleep 0.7
    smtp-source -s 3 -m 6 -l 200 -M client.smtpscope.test \
        -f sender@smtpscope.test -t rcpt@smtpscope.test \
        -S "smtpscope ring test" 127.0.0.1:25 >>"$WORK/source.log" 2>&1 || true
    sleep 1
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    servers_stop; wait_free - 127.0.0.1 25
    i=0
    for f in $(ls "$WORK"/ring-*.pcap | sort); do
        mv "$f" "$OUT_DIR/real-ring-$i.pcap"
        report "$OUT_DIR/real-ring-$i.pcap"
        i=$((i + 1))
    done
    if ((i != 3)); then
        echo "    ERROR: ring produced $i files, expected 3" >&2
        FAILED+=(real-ring)
    fi
fi

if selected multi-interface; then
    # three interfaces of three link types in one pcapng, one session each:
    #   lo     (EN10MB)       swaks -> smtp-sink 127.0.0.1:25   filter 'tcp port 25'
    #   sstun0 (RAW)          swaks -> smtp-sink 198.51.100.2:25 in the server netns
    #                         over a tun point-to-point link      filter 'tcp port 25'
    #   any    (LINUX_SLL2, -y; dumpcap's default for any is LINUX_SLL)
    #                         swaks -> smtp-sink 127.0.0.1:587  filter 'tcp port 587'
    log "multi-interface: dumpcap -i lo -i sstun0 -i any (netns $NS_CLI)"
    tun_up
    sink_start "$NS_CLI" 127.0.0.1 25
    sink_start "$NS_CLI" 127.0.0.1 587
    sink_start "$NS_SRV" "$V4_SRV" 25
    CAP_FILE="$OUT_DIR/real-multi-interface.pcapng"
    rm -f "$CAP_FILE"
    : >"$WORK/dumpcap.err"
    # dumpcap refuses to write into a directory owned by another user when
    # it runs as root only on some setups; write to WORK, then move
    ip netns exec "$NS_CLI" dumpcap -q -n \
        -i lo -s 262144 -f 'tcp port 25' \
        -i sstun0 -s 262144 -f 'tcp port 25' \
        -i any -y LINUX_SLL2 -s 262144 -f 'tcp port 587' \
        -w "$WORK/multi.pcapng" 2>"$WORK/dumpcap.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 50); do grep -q 'Capturing on' "$WORK/dumpcap.err" && break; sleep 0.1; done
    sleep 1
    swaks_run "$NS_CLI" smtpscope-multi-lo --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    sleep 0.3
    swaks_run "$NS_CLI" smtpscope-multi-tun --server "$V4_SRV" --port 25 --to rcpt@smtpscope.test
    sleep 0.3
    swaks_run "$NS_CLI" smtpscope-multi-any --server 127.0.0.1 --port 587 --to rcpt@smtpscope.test
    sleep 1
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    mv "$WORK/multi.pcapng" "$CAP_FILE"
    report "$CAP_FILE"
    servers_stop; tun_down; netns_down
fi

vlan_capture() {      # vlan_capture FILE vlan|qinq [v6]
    local file=$1 mode=$2 v6=${3:-} srv=$V4_SRV ssip=$V4_SRV
    if [[ -n $v6 ]]; then srv=$V6_SRV; ssip="[$V6_SRV]"; fi
    veth_up "$v6"
    vlan_tags "$mode"
    sink_start "$NS_SRV" "$ssip" 25
    sleep 1       # let link-up chatter (IPv6 MLD reports) pass
    # no capture filter: a filter would see the inner (QinQ) tag; the ARP
    # or neighbour discovery exchange is kept, it is tagged too
    cap_start "$NS_CLI" "$file" sscli0 ''
    swaks_run "$NS_CLI" "smtpscope-${file%.pcap}" --server "$srv" --port 25 --to rcpt@smtpscope.test
    cap_stop
    servers_stop; netns_down
}

if selected vlan; then
    log "vlan: 802.1Q id 100 (tc-bpf skb_vlan_push) veth, smtp-sink $V4_SRV <- swaks"
    vlan_capture real-vlan.pcap vlan
fi
if selected qinq; then
    log "qinq: 802.1ad id 200 + 802.1Q id 100, smtp-sink $V4_SRV <- swaks"
    vlan_capture real-qinq.pcap qinq
fi
if selected vlan-ipv6; then
    log "vlan-ipv6: 802.1Q id 100, smtp-sink [$V6_SRV] <- swaks -6"
    vlan_capture real-vlan-ipv6.pcap vlan v6
fi

# ---------------- 4. file-format conversions of real captures

if selected bigendian; then
    log "bigendian: real-normal-quit.pcap rewritten big-endian"
    "$PY" "$LAYOUTS_PY" bigendian "$OUT_DIR/real-normal-quit.pcap" "$OUT_DIR/real-bigendian.pcap"
    report "$OUT_DIR/real-bigendian.pcap"
fi
if selected mpls; then
    log "mpls: real-normal-quit.pcap frames wrapped in MPLS labels 16001/100"
    "$PY" "$LAYOUTS_PY" encap mpls "$OUT_DIR/real-normal-quit.pcap" "$OUT_DIR/synth-mpls.pcap"
    report "$OUT_DIR/synth-mpls.pcap"
fi
if selected pppoe; then
    log "pppoe: real-normal-quit.pcap frames wrapped in PPPoE session 0x1234"
    "$PY" "$LAYOUTS_PY" encap pppoe "$OUT_DIR/real-normal-quit.pcap" "$OUT_DIR/synth-pppoe.pcap"
    report "$OUT_DIR/synth-pppoe.pcap"
fi

if ((${#FAILED[@]})); then
    echo "FAILED captures: ${FAILED[*]}" >&2
    exit 1
fi
log "done; captures in $OUT_DIR"

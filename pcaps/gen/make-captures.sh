#!/usr/bin/env bash
# Regenerate smtpscope's "real-*.pcap" test captures from real SMTP software
# talking on loopback (postfix smtpd/smtp, smtp-sink, smtp-source, swaks,
# aiosmtpd, small python clients).  See pcaps/README.md.
#
# usage: sudo pcaps/gen/make-captures.sh [scenario-name ...]
#   (no argument: all scenarios; names are the capture names without
#    "real-" and ".pcap", e.g. "normal-quit starttls")
#
# Needs root (tcpdump on lo, ports 25/465/587, postfix).  Only loopback
# addresses (127.0.0.0/8) are used.  The system postfix configuration is
# replaced for the duration of the run and restored afterwards; postfix is
# left stopped.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "make-captures.sh: must be run as root" >&2
    exit 1
fi

GEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(dirname "$GEN_DIR")
PY=/usr/bin/python3              # Debian's python (python3-aiosmtpd)
SERVER_PY="$GEN_DIR/aiosmtpd_server.py"
CLIENT_PY="$GEN_DIR/smtp_clients.py"
WORK=$(mktemp -d /tmp/smtpscope-captures.XXXXXX)
PF_BACKUP=/etc/postfix/.smtpscope-orig
export LC_ALL=C

SELECTED=("$@")
FAILED=()

log() { printf '==> %s\n' "$*" >&2; }

# ------------------------------------------------------------ packages

ensure_packages() {
    local need=() p
    for p in postfix swaks python3-aiosmtpd tcpdump ssl-cert \
             libnet-ssleay-perl iproute2 procps; do
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
    if [[ ! -e /etc/ssl/certs/ssl-cert-snakeoil.pem ]]; then
        make-ssl-cert generate-default-snakeoil
    fi
}

# ------------------------------------------------------------ helpers

selected() {          # selected NAME: true if NAME should be (re)made
    ((${#SELECTED[@]} == 0)) && return 0
    local s
    for s in "${SELECTED[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}

listening() {         # listening IP PORT
    ss -Hltn "sport = :$2" | awk '{print $4}' | grep -qx "$1:$2"
}

wait_listen() {       # wait_listen IP PORT
    local _
    for _ in $(seq 100); do listening "$1" "$2" && return 0; sleep 0.1; done
    echo "nothing listens on $1:$2" >&2; return 1
}

wait_free() {         # wait_free IP PORT
    local _
    for _ in $(seq 100); do listening "$1" "$2" || return 0; sleep 0.1; done
    echo "$1:$2 still busy" >&2; return 1
}

ports_must_be_free() {
    local p
    for p in 25 465 587; do
        if ss -Hltn "sport = :$p" | grep -q .; then
            echo "port $p is busy:" >&2; ss -Hltnp "sport = :$p" >&2; return 1
        fi
    done
}

SERVER_PID=
server_stop() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

sink_start() {        # sink_start IP PORT [smtp-sink options...]
    local ip=$1 port=$2; shift 2
    smtp-sink -u nobody -h "${SINK_NAME:-mx.smtpscope.test}" "$@" "$ip:$port" 64 \
        >"$WORK/sink.log" 2>&1 &
    SERVER_PID=$!
    wait_listen "$ip" "$port"
}

aio_start() {         # aio_start MODE PORT
    rm -f "$WORK/aio.ready"
    "$PY" "$SERVER_PY" "$1" "$2" --ready-file "$WORK/aio.ready" \
        >"$WORK/aio-$1.log" 2>&1 &
    SERVER_PID=$!
    wait_listen 127.0.0.1 "$2"
}

TCPDUMP_PID=
CAP_FILE=
cap_start() {         # cap_start FILE PORT
    CAP_FILE="$OUT_DIR/$1"
    rm -f "$CAP_FILE"
    : >"$WORK/tcpdump.err"
    tcpdump -i lo -s 262144 -Z root -w "$CAP_FILE" "tcp port $2" \
        2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    local _
    for _ in $(seq 50); do
        grep -q 'listening on' "$WORK/tcpdump.err" && break
        sleep 0.1
    done
    sleep 0.7
}

cap_stop() {          # cap_stop [linger-seconds]
    sleep "${1:-1}"
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    local n
    n=$(tcpdump -nn -r "$CAP_FILE" 2>/dev/null | wc -l)
    printf '    %-40s %4d packets %7d bytes\n' "$(basename "$CAP_FILE")" "$n" \
        "$(stat -c %s "$CAP_FILE")" >&2
    if ((n == 0)); then
        echo "    ERROR: empty capture" >&2
        FAILED+=("$(basename "$CAP_FILE")")
    fi
}

# common swaks options; "|| true": several scenarios end in errors on purpose
swaks_run() {         # swaks_run MSGID [swaks options...]
    local id=$1; shift
    swaks --helo client.smtpscope.test \
          --from sender@smtpscope.test \
          --header "Subject: smtpscope test message" \
          --header "Message-Id: <$id@client.smtpscope.test>" \
          --timeout 20 "$@" >>"$WORK/swaks.log" 2>&1 || true
}

client_run() {        # client_run SCENARIO IP PORT
    "$PY" "$CLIENT_PY" "$@" >>"$WORK/clients.log" 2>&1 || true
}

# ------------------------------------------------------------ postfix

postfix_restore() {
    postfix stop >/dev/null 2>&1 || true
    if [[ -d $PF_BACKUP ]]; then
        cp -p "$PF_BACKUP/main.cf" "$PF_BACKUP/master.cf" /etc/postfix/
        rm -rf "$PF_BACKUP"
    fi
}

postfix_configure() {
    postfix stop >/dev/null 2>&1 || true
    if [[ ! -d $PF_BACKUP ]]; then
        mkdir -p "$PF_BACKUP"
        cp -p /etc/postfix/main.cf /etc/postfix/master.cf "$PF_BACKUP/"
    fi
    # start from empty files: everything not set below is a Postfix default
    : >/etc/postfix/main.cf
    : >/etc/postfix/master.cf
    postconf -e \
        'compatibility_level = 3.6' \
        'maillog_file = /var/log/postfix-smtpscope.log' \
        'myhostname = mx.smtpscope.test' \
        'mydomain = smtpscope.test' \
        'myorigin = $mydomain' \
        'mydestination = $mydomain, $myhostname' \
        'inet_interfaces = loopback-only' \
        'inet_protocols = ipv4' \
        'mynetworks = 127.0.0.0/8' \
        'smtpd_banner = $myhostname ESMTP $mail_name' \
        'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
        'local_recipient_maps = inline:{ rcpt=ok, sender=ok, postmaster=ok }' \
        'local_transport = discard:smtpscope' \
        'default_transport = discard:smtpscope' \
        'transport_maps = inline:{ sink.smtpscope.test=sinkrelay:[127.0.0.9]:25 }' \
        'defer_transports = sinkrelay' \
        'sinkrelay_destination_concurrency_limit = 1' \
        'alias_maps =' 'alias_database =' \
        'biff = no' 'append_dot_mydomain = no' 'readme_directory = no' \
        'smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem' \
        'smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key' \
        'smtpd_tls_security_level = may'

    # master.cf: internal services (no chroot) ...
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
        'sinkrelay/unix=sinkrelay unix - - n - - smtp' \
        'showq/unix=showq unix n - n - - showq' \
        'error/unix=error unix - - n - - error' \
        'retry/unix=retry unix - - n - - error' \
        'discard/unix=discard unix - - n - - discard' \
        'anvil/unix=anvil unix - - n - 1 anvil' \
        'scache/unix=scache unix - - n - 1 scache' \
        'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd' \
        '127.0.0.1:smtp/inet=127.0.0.1:smtp inet n - n - - smtpd' \
        '127.0.0.1:smtps/inet=127.0.0.1:smtps inet n - n - - smtpd' \
        '127.0.0.2:smtp/inet=127.0.0.2:smtp inet n - n - - smtpd' \
        '127.0.0.3:smtp/inet=127.0.0.3:smtp inet n - n - - smtpd' \
        '127.0.0.4:smtp/inet=127.0.0.4:smtp inet n - n - - smtpd -o syslog_name=postfix/footer -o { smtpd_reject_footer = For assistance see https://help.smtpscope.test/\nReference: smtpscope multi-line reply test }' \
        '127.0.0.5:smtp/inet=127.0.0.5:smtp inet n - n - - smtpd'
    do
        postconf -M "$svc"
    done
    # ... and per-listener overrides
    postconf -P \
        'sinkrelay/unix/smtp_connection_cache_destinations=[127.0.0.9]:25,[127.0.0.9],127.0.0.9' \
        '127.0.0.1:smtps/inet/syslog_name=postfix/smtps' \
        '127.0.0.1:smtps/inet/smtpd_tls_wrappermode=yes' \
        '127.0.0.2:smtp/inet/syslog_name=postfix/idle' \
        '127.0.0.2:smtp/inet/smtpd_timeout=3s' \
        '127.0.0.3:smtp/inet/syslog_name=postfix/nodata' \
        '127.0.0.3:smtp/inet/smtpd_data_restrictions=reject' \
        '127.0.0.5:smtp/inet/syslog_name=postfix/nobarelf' \
        '127.0.0.5:smtp/inet/smtpd_forbid_bare_newline=reject' \
        '127.0.0.5:smtp/inet/smtpd_forbid_bare_newline_exclusions='
    postfix check
}

postfix_start() {
    postfix start >/dev/null 2>&1
    wait_listen 127.0.0.1 25
    wait_listen 127.0.0.1 465
    wait_listen 127.0.0.5 25
}

cleanup() {
    local rc=$?
    [[ -n $TCPDUMP_PID ]] && { kill -INT "$TCPDUMP_PID" 2>/dev/null || true; }
    server_stop
    postsuper -d ALL >/dev/null 2>&1 || true
    postfix_restore
    if ((rc != 0)); then
        echo "make-captures.sh failed (rc=$rc); logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# ============================================================ main

ensure_packages
postfix stop >/dev/null 2>&1 || true
ports_must_be_free

log "versions: $(postconf -h mail_version 2>/dev/null | sed 's/^/postfix /'), \
$(swaks --version 2>&1 | awk '/version/{print "swaks "$3; exit}'), \
aiosmtpd $("$PY" -c 'import aiosmtpd; print(aiosmtpd.__version__)')"

# ---------------- phase 1: smtp-sink and aiosmtpd servers (postfix stopped)

if selected 421-after-rcpt; then
    log "421-after-rcpt: smtp-sink -Q rcpt <- swaks"
    sink_start 127.0.0.1 25 -Q rcpt
    cap_start real-421-after-rcpt.pcap 25
    swaks_run smtpscope-421-after-rcpt --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected 421-greeting; then
    log "421-greeting: smtp-sink -Q connect <- swaks"
    sink_start 127.0.0.1 25 -Q connect
    cap_start real-421-greeting.pcap 25
    swaks_run smtpscope-421-greeting --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected 554-greeting; then
    log "554-greeting: smtp-sink -f connect -B '554 ...' <- swaks"
    sink_start 127.0.0.1 25 -f connect -B "554 5.7.1 mx.smtpscope.test connection rejected"
    cap_start real-554-greeting.pcap 25
    swaks_run smtpscope-554-greeting --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected quit-no-221; then
    log "quit-no-221: smtp-sink -q quit <- swaks"
    sink_start 127.0.0.1 25 -q quit
    cap_start real-quit-no-221.pcap 25
    swaks_run smtpscope-quit-no-221 --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected concurrent; then
    log "concurrent: smtp-sink <- smtp-source -s 3 -m 6"
    sink_start 127.0.0.1 25
    cap_start real-concurrent.pcap 25
    smtp-source -s 3 -m 6 -l 200 -M client.smtpscope.test \
        -f sender@smtpscope.test -t rcpt@smtpscope.test \
        -S "smtpscope concurrent test" 127.0.0.1:25 >>"$WORK/source.log" 2>&1 || true
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected banner-delay-1000ms; then
    log "banner-delay-1000ms: smtp-sink -W connect:1 <- swaks"
    sink_start 127.0.0.1 25 -W connect:1
    cap_start real-banner-delay-1000ms.pcap 25
    swaks_run smtpscope-banner-delay-1000ms --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected client-talks-first; then
    log "client-talks-first: smtp-sink -W connect:1 <- python (EHLO before greeting)"
    sink_start 127.0.0.1 25 -W connect:1
    cap_start real-client-talks-first.pcap 25
    client_run talks-first 127.0.0.1 25
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected auth-plain; then
    log "auth-plain: aiosmtpd (AUTH) :587 <- swaks -a PLAIN"
    aio_start auth 587
    cap_start real-auth-plain.pcap 587
    swaks_run smtpscope-auth-plain --server 127.0.0.1 --port 587 --to rcpt@smtpscope.test \
        -a PLAIN -au alice -ap 'Sup3r-S3cret-Pa55'
    cap_stop; server_stop; wait_free 127.0.0.1 587
fi

if selected auth-login; then
    log "auth-login: aiosmtpd (AUTH) :587 <- swaks -a LOGIN"
    aio_start auth 587
    cap_start real-auth-login.pcap 587
    swaks_run smtpscope-auth-login --server 127.0.0.1 --port 587 --to rcpt@smtpscope.test \
        -a LOGIN -au alice -ap 'Sup3r-S3cret-Pa55'
    cap_stop; server_stop; wait_free 127.0.0.1 587
fi

if selected 221-mid-transaction; then
    log "221-mid-transaction: aiosmtpd (RCPT -> 221) <- python smtplib"
    aio_start rcpt-221 25
    cap_start real-221-mid-transaction.pcap 25
    client_run rcpt-221 127.0.0.1 25
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected 221-unsolicited; then
    log "221-unsolicited: aiosmtpd (NOOP -> 221) <- python smtplib"
    aio_start noop-221 25
    cap_start real-221-unsolicited.pcap 25
    client_run noop-221 127.0.0.1 25
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected banner-delay-250ms; then
    log "banner-delay-250ms: aiosmtpd (250 ms greeting, 150 ms RCPT) <- swaks"
    aio_start banner-delay 25
    cap_start real-banner-delay-250ms.pcap 25
    swaks_run smtpscope-banner-delay-250ms --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

if selected aiosmtpd-idle-timeout; then
    log "aiosmtpd-idle-timeout: aiosmtpd timeout=2 <- python (EHLO, then silence)"
    aio_start idle-timeout 25
    cap_start real-aiosmtpd-idle-timeout.pcap 25
    client_run idle-wait 127.0.0.1 25
    cap_stop; server_stop; wait_free 127.0.0.1 25
fi

ports_must_be_free

# ---------------- phase 2: postfix

log "configuring and starting postfix $(postconf -h mail_version)"
postfix_configure
postfix_start
postsuper -d ALL >/dev/null 2>&1 || true

if selected normal-quit; then
    log "normal-quit: postfix <- swaks"
    cap_start real-normal-quit.pcap 25
    swaks_run smtpscope-normal-quit --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test
    cap_stop
fi

if selected starttls; then
    log "starttls: postfix (tls may) <- swaks --tls"
    cap_start real-starttls.pcap 25
    swaks_run smtpscope-starttls --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test --tls
    cap_stop
fi

if selected implicit-tls-465; then
    log "implicit-tls-465: postfix smtps (wrappermode) <- swaks --tls-on-connect"
    cap_start real-implicit-tls-465.pcap 465
    swaks_run smtpscope-implicit-tls --server 127.0.0.1 --port 465 --to rcpt@smtpscope.test \
        --tls-on-connect
    cap_stop
fi

if selected pipelining-swaks; then
    log "pipelining-swaks: postfix <- swaks --pipeline, 3 recipients"
    cap_start real-pipelining-swaks.pcap 25
    swaks_run smtpscope-pipelining-swaks --server 127.0.0.1 --port 25 --pipeline \
        --to rcpt@smtpscope.test,sender@smtpscope.test,postmaster@smtpscope.test
    cap_stop
fi

if selected pipelining; then
    log "pipelining: postfix smtp client (2 msgs x 3 rcpts, cached connection) -> smtp-sink"
    # smtp-sink must not call itself mx.smtpscope.test (= postfix's
    # myhostname), or postfix's smtp client detects a mail loop and QUITs
    SINK_NAME=sink.smtpscope.test sink_start 127.0.0.9 25
    for n in 1 2; do
        printf 'From: sender@smtpscope.test\nTo: rcpt1@sink.smtpscope.test\nSubject: smtpscope pipelining test %s\nMessage-Id: <smtpscope-pipelining-%s@mx.smtpscope.test>\n\nPipelining test message %s.\n' \
            "$n" "$n" "$n" \
        | sendmail -f sender@smtpscope.test \
            rcpt1@sink.smtpscope.test rcpt2@sink.smtpscope.test rcpt3@sink.smtpscope.test
    done
    # defer_transports=sinkrelay keeps both messages queued until the flush
    for _ in $(seq 100); do
        [[ $(postqueue -j 2>/dev/null | grep -c '"queue_name": *"deferred"') -eq 2 ]] && break
        sleep 0.1
    done
    cap_start real-pipelining.pcap 25
    postqueue -f
    # delivery, then the idle cached connection is closed with QUIT
    # (smtp_connection_cache_time_limit = 2s)
    for _ in $(seq 100); do
        [[ -z $(postqueue -j 2>/dev/null) ]] && break
        sleep 0.1
    done
    sleep 3
    cap_stop; server_stop; wait_free 127.0.0.9 25
    postsuper -d ALL >/dev/null 2>&1 || true
fi

if selected bdat; then
    log "bdat: postfix <- python smtplib BDAT (2 messages, 2nd pipelined)"
    cap_start real-bdat.pcap 25
    client_run bdat 127.0.0.1 25
    cap_stop
fi

if selected 421-idle-timeout; then
    log "421-idle-timeout: postfix smtpd_timeout=3s (127.0.0.2) <- python (EHLO, silence)"
    cap_start real-421-idle-timeout.pcap 25
    client_run idle-wait 127.0.0.2 25
    cap_stop
fi

if selected client-data-after-221; then
    log "client-data-after-221: postfix <- python (QUIT, 221, NOOP)"
    cap_start real-client-data-after-221.pcap 25
    client_run data-after-221 127.0.0.1 25
    cap_stop
fi

if selected 221-no-message-accepted; then
    log "221-no-message-accepted: postfix (550 unknown user) <- swaks"
    cap_start real-221-no-message-accepted.pcap 25
    swaks_run smtpscope-no-message --server 127.0.0.1 --port 25 --to unknown@smtpscope.test
    cap_stop
fi

if selected multiline-5xx; then
    log "multiline-5xx: postfix smtpd_reject_footer (127.0.0.4) <- swaks"
    cap_start real-multiline-5xx.pcap 25
    swaks_run smtpscope-multiline-5xx --server 127.0.0.4 --port 25 --to unknown@smtpscope.test
    cap_stop
fi

if selected rejected-data; then
    log "rejected-data: postfix smtpd_data_restrictions=reject (127.0.0.3) <- python"
    cap_start real-rejected-data.pcap 25
    client_run rejected-data 127.0.0.3 25
    cap_stop
fi

if selected rst-mid-data; then
    log "rst-mid-data: postfix <- python (SO_LINGER 0 during DATA)"
    cap_start real-rst-mid-data.pcap 25
    client_run rst-mid-data 127.0.0.1 25
    cap_stop
fi

if selected fin-without-quit; then
    log "fin-without-quit: postfix <- swaks --drop-after MAIL"
    cap_start real-fin-without-quit.pcap 25
    swaks_run smtpscope-fin-without-quit --server 127.0.0.1 --port 25 --to rcpt@smtpscope.test \
        --drop-after MAIL
    cap_stop
fi

if selected truncated-capture; then
    log "truncated-capture: postfix <- python (EHLO, MAIL, sleeps; capture stopped)"
    cap_start real-truncated-capture.pcap 25
    client_run truncated 127.0.0.1 25 &
    CLIENT_PID=$!
    cap_stop 2
    wait "$CLIENT_PID" || true
fi

if selected bare-lf; then
    log "bare-lf: postfix <- python (bare LF line ends)"
    cap_start real-bare-lf.pcap 25
    client_run bare-lf 127.0.0.1 25
    cap_stop
fi

if selected bare-lf-rejected; then
    log "bare-lf-rejected: postfix smtpd_forbid_bare_newline=reject (127.0.0.5) <- python"
    cap_start real-bare-lf-rejected.pcap 25
    client_run bare-lf 127.0.0.5 25
    cap_stop
fi

if selected long-line; then
    log "long-line: postfix <- python (~700 octet NOOP)"
    cap_start real-long-line.pcap 25
    client_run long-line 127.0.0.1 25
    cap_stop
fi

log "stopping postfix"
postsuper -d ALL >/dev/null 2>&1 || true
postfix stop >/dev/null 2>&1 || true

if ((${#FAILED[@]})); then
    echo "FAILED captures: ${FAILED[*]}" >&2
    exit 1
fi
log "done; captures in $OUT_DIR"

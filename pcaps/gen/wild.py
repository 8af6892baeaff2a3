#!/usr/bin/python3
"""Helpers for pcaps/gen/make-wild.sh (stdlib only, /usr/bin/python3).

usage:
  wild.py gso-ipv4 DEV SIZE
      Set IFLA_GSO_IPV4_MAX_SIZE and IFLA_GRO_IPV4_MAX_SIZE of DEV (in the
      current network namespace) to SIZE with one rtnetlink RTM_NEWLINK
      request, then read both back and print them.  These are the kernel's
      IPv4 BIG TCP knobs (Linux 6.3+); iproute2 6.1 (Debian 12) has no
      keyword for them ("ip link set DEV gso_ipv4_max_size N" is refused),
      and "ip link set DEV gso_max_size N" only changes the IPv6 limit.
  wild.py wire NS_A DEV_A NS_B DEV_B READY_FILE [--delay-ms D]
          [--reorder PCT] [--corr PCT] [--loss PCT] [--seed N]
      A userspace stand-in for "tc qdisc ... netem", which the build
      kernel lacks (CONFIG_NET_SCH_NETEM unset, no modprobe).  Creates tap
      device DEV_A (IFF_TAP|IFF_NO_PI, an Ethernet link) in network
      namespace NS_A and DEV_B in NS_B and copies every frame from one to
      the other, like a cable.  Frames from A to B that carry IPv4/TCP are
      impaired with netem's rules: --loss PCT drops that share; otherwise
      --reorder PCT (with --corr PCT correlation, netem's correlated random
      numbers) are sent at once and the others are held --delay-ms; with no
      --reorder every frame is held --delay-ms.  B to A is not impaired.
      Random numbers come from random.Random(--seed), so a run is
      repeatable as far as the kernels' timing allows.  Every drop and
      every frame sent ahead is logged to stderr.  READY_FILE is written
      when both devices exist.  Stops on SIGTERM/SIGINT.
  wild.py summary FILE.pcap
      One line of key=value facts about a classic pcap (Ethernet, IPv4,
      TCP): packets, largest frame, truncated records, oversized frames
      (> 1514 octets) with their IPv4 total-length fields, segments per
      direction, and per direction: data segments that arrived below the
      highest sequence seen (ooo), full retransmissions of bytes already
      seen (dup), and holes never filled (holes).
  wild.py drop-data-segment IN.pcap OUT.pcap
      Copy IN to OUT without one client->server segment: the middle one of
      the full-size data segments between the server's 354 and the client's
      final "." (the message body).  Models capture loss: the server's ACKs
      in OUT still cover the missing bytes, which were delivered on the wire.
"""
import ctypes
import fcntl
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

# ------------------------------------------------------------ rtnetlink

IFLA_GSO_IPV4_MAX_SIZE = 63      # include/uapi/linux/if_link.h, Linux 6.3+
IFLA_GRO_IPV4_MAX_SIZE = 64
RTM_NEWLINK = 16
RTM_GETLINK = 18
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4


def nl_attr(kind, payload):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, kind) + payload + b"\0" * (-ln % 4)


def nl_request(msgtype, flags, body):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        s.bind((0, 0))
        s.send(struct.pack("=IHHII", 16 + len(body), msgtype, flags, 1, 0) + body)
        return s.recv(65536)
    finally:
        s.close()


def cmd_gso_ipv4(dev, size):
    index = socket.if_nametoindex(dev)
    ifi = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, 0, 0)
    body = (ifi + nl_attr(IFLA_GSO_IPV4_MAX_SIZE, struct.pack("=I", size))
            + nl_attr(IFLA_GRO_IPV4_MAX_SIZE, struct.pack("=I", size)))
    reply = nl_request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, body)
    _, kind = struct.unpack("=IH", reply[:6])
    if kind == NLMSG_ERROR:
        err = struct.unpack("=i", reply[16:20])[0]
        if err:
            raise OSError(-err, "RTM_NEWLINK %s: %s" % (dev, os.strerror(-err)))
    reply = nl_request(RTM_GETLINK, NLM_F_REQUEST, ifi)
    got = {}
    off = 32                     # nlmsghdr (16) + ifinfomsg (16)
    while off + 4 <= len(reply):
        ln, kind = struct.unpack("=HH", reply[off:off + 4])
        if ln < 4:
            break
        kind &= 0x3FFF
        if kind in (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE):
            got[kind] = struct.unpack("=I", reply[off + 4:off + 8])[0]
        off += (ln + 3) & ~3
    print("%s gso_ipv4_max_size=%s gro_ipv4_max_size=%s" % (
        dev, got.get(IFLA_GSO_IPV4_MAX_SIZE, "?"), got.get(IFLA_GRO_IPV4_MAX_SIZE, "?")))
    if got.get(IFLA_GSO_IPV4_MAX_SIZE) != size:
        raise SystemExit("the kernel did not take gso_ipv4_max_size=%d" % size)


# ------------------------------------------------------------ tap wire

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


def setns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + name)
    finally:
        os.close(fd)


def tap_open(ns, name):
    setns(ns)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def is_ipv4_tcp(frame):
    return (len(frame) >= 34 and frame[12:14] == b"\x08\x00"
            and frame[23] == 6)


def frame_desc(frame):
    if not is_ipv4_tcp(frame):
        return "non-TCP frame"
    ihl = (frame[14] & 15) * 4
    tcp = frame[14 + ihl:]
    total = struct.unpack(">H", frame[16:18])[0]
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    thl = (tcp[12] >> 4) * 4
    return "%d>%d seq=%d len=%d flags=0x%02x" % (
        sport, dport, seq, total - ihl - thl, tcp[13])


def cmd_wire(ns_a, dev_a, ns_b, dev_b, ready, opts):
    delay = opts.get("delay-ms", 0.0) / 1000.0
    reorder = opts.get("reorder", 0.0) / 100.0
    corr = opts.get("corr", 0.0) / 100.0
    loss = opts.get("loss", 0.0) / 100.0
    rng = random.Random(int(opts.get("seed", 1)))
    a = tap_open(ns_a, dev_a)
    b = tap_open(ns_b, dev_b)
    with open(ready, "w") as f:
        f.write("ok\n")
    running = [True]

    def stop(*_):
        running[0] = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    last = [rng.random()]

    def correlated():            # netem's get_crandom(): next = (1-c)*U + c*last
        value = (1.0 - corr) * rng.random() + corr * last[0]
        last[0] = value
        return value

    held = []                    # heap of (due, n, frame): A->B frames held back
    n = 0
    while running[0]:
        timeout = 0.5
        if held:
            timeout = max(0.0, held[0][0] - time.monotonic())
        try:
            ready_fds, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, frame = heapq.heappop(held)
            try:
                os.write(b, frame)
            except OSError:
                pass
        for fd in ready_fds:
            try:
                frame = os.read(fd, 65536)
            except OSError:
                continue
            if fd == b or not is_ipv4_tcp(frame):
                try:
                    os.write(a if fd == b else b, frame)
                except OSError:
                    pass     # peer not up yet: dropped, like a cable
                continue
            n += 1
            if loss and rng.random() < loss:
                print("wire: dropped #%d %s" % (n, frame_desc(frame)),
                      file=sys.stderr, flush=True)
                continue
            if delay and not (reorder and correlated() < reorder):
                heapq.heappush(held, (now + delay, n, frame))
                continue
            if delay and held:
                print("wire: sent ahead #%d %s" % (n, frame_desc(frame)),
                      file=sys.stderr, flush=True)
            try:
                os.write(b, frame)
            except OSError:
                pass


# ------------------------------------------------------------ pcap

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit("%s: not a little-endian classic pcap" % path)
    hdr = data[:24]
    if struct.unpack("<I", hdr[20:24])[0] != 1:
        raise SystemExit("%s: link type is not Ethernet" % path)
    recs = []
    off = 24
    while off + 16 <= len(data):
        ts, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append((data[off:off + 16], data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    return hdr, recs


def tcp_fields(frame):
    """(src, sport, dst, dport, seq, flags, payload) or None."""
    if not is_ipv4_tcp(frame):
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack(">H", ip[2:4])[0]
    if total == 0:               # BIG TCP / TSO: length not in the header
        total = len(ip)
    tcp = ip[ihl:total]
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    thl = (tcp[12] >> 4) * 4
    return (socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]),
            dport, seq, tcp[13], tcp[thl:])


SMTP_PORTS = (25, 465, 587)


def cmd_summary(path):
    _, recs = read_pcap(path)
    facts = {"packets": len(recs), "largest_frame": 0, "truncated": 0}
    oversized = []
    count = {"c2s": 0, "s2c": 0}
    state = {}                  # direction -> [isn, seen intervals, max_end]
    stats = {d: {"ooo": 0, "dup": 0} for d in ("c2s", "s2c")}
    for i, (_, frame, orig) in enumerate(recs, 1):
        facts["largest_frame"] = max(facts["largest_frame"], orig)
        if len(frame) < orig:
            facts["truncated"] += 1
        if orig > 1514 and is_ipv4_tcp(frame):
            oversized.append("%d:%d/%d" % (i, orig, struct.unpack(">H", frame[16:18])[0]))
        t = tcp_fields(frame)
        if t is None:
            continue
        src, sport, dst, dport, seq, flags, payload = t
        d = "c2s" if dport in SMTP_PORTS else "s2c"
        count[d] += 1
        key = (src, sport, dst, dport)
        if key not in state:
            state[key] = [seq if flags & 2 else seq - 1, [], None, d]
        st = state[key]
        if flags & 2:
            st[0] = seq
        if not payload:
            continue
        lo = (seq - st[0]) & 0xFFFFFFFF
        hi = lo + len(payload)
        covered = sum(max(0, min(hi, e) - max(lo, s)) for s, e in st[1])
        if covered >= len(payload):
            stats[d]["dup"] += 1
        elif st[2] is not None and lo < st[2]:
            stats[d]["ooo"] += 1
        st[1].append((lo, hi))
        st[2] = hi if st[2] is None else max(st[2], hi)
    holes = {"c2s": 0, "s2c": 0}
    for st in state.values():
        ivs = sorted(st[1])
        if not ivs:
            continue
        end = ivs[0][1]
        for s, e in ivs[1:]:
            if s > end:
                holes[st[3]] += 1
            end = max(end, e)
    out = ["packets=%d" % facts["packets"],
           "largest_frame=%d" % facts["largest_frame"],
           "truncated=%d" % facts["truncated"],
           "oversized(frame:len/ip_totlen)=%s" % (",".join(oversized) or "-"),
           "c2s=%d" % count["c2s"], "s2c=%d" % count["s2c"]]
    for d in ("c2s", "s2c"):
        out.append("%s_ooo=%d %s_dup=%d %s_holes=%d" % (
            d, stats[d]["ooo"], d, stats[d]["dup"], d, holes[d]))
    print(" ".join(out))


def cmd_drop_data_segment(src, dst):
    hdr, recs = read_pcap(src)
    in_body = False
    body = []                   # record indexes of client body segments
    for i, (_, frame, _) in enumerate(recs):
        t = tcp_fields(frame)
        if t is None or not t[6]:
            continue
        payload = t[6]
        if t[3] in SMTP_PORTS:
            if in_body:
                body.append(i)
                if payload.endswith(b"\r\n.\r\n"):
                    in_body = False
        elif payload.startswith(b"354"):
            in_body = True
    full = [i for i in body[1:-1]
            if len(tcp_fields(recs[i][1])[6]) == len(tcp_fields(recs[body[1]][1])[6])]
    if not full:
        raise SystemExit("%s: no full-size body segment to drop" % src)
    victim = full[len(full) // 2]
    t = tcp_fields(recs[victim][1])
    with open(dst, "wb") as f:
        f.write(hdr)
        for i, (rh, frame, _) in enumerate(recs):
            if i != victim:
                f.write(rh + frame)
    print("dropped frame %d of %d: %s:%d > %s:%d seq=%d len=%d (body segment %d of %d)"
          % (victim + 1, len(recs), t[0], t[1], t[2], t[3], t[4], len(t[6]),
             body.index(victim) + 1, len(body)))


# ------------------------------------------------------------ main

def main(argv):
    if len(argv) == 3 and argv[0] == "gso-ipv4":
        return cmd_gso_ipv4(argv[1], int(argv[2]))
    if len(argv) >= 6 and argv[0] == "wire":
        opts = {}
        rest = argv[6:]
        while rest:
            if len(rest) < 2 or rest[0][2:] not in ("delay-ms", "reorder", "corr",
                                                      "loss", "seed"):
                raise SystemExit(__doc__)
            opts[rest[0][2:]] = float(rest[1])
            rest = rest[2:]
        return cmd_wire(argv[1], argv[2], argv[3], argv[4], argv[5], opts)
    if len(argv) == 2 and argv[0] == "summary":
        return cmd_summary(argv[1])
    if len(argv) == 3 and argv[0] == "drop-data-segment":
        return cmd_drop_data_segment(argv[1], argv[2])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

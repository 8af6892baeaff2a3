#!/usr/bin/env python3
"""Distort a classic pcap the way real capture points distort TCP traffic.

Part of the "wild" test level (tests/wild/run.sh): smtpscope must read the
distorted capture exactly as it reads the original.  This script reads a
classic pcap (microsecond or nanosecond magic, either byte order; link types
Ethernet with VLAN/QinQ tags, Linux SLL and SLL2, raw IP, BSD loopback;
IPv4 and IPv6 TCP) and writes a transformed copy.  One transformation per
run, chosen by --mode, deterministic:

  offload            consecutive same-direction data segments of one
                     connection (contiguous sequence numbers, same ACK, no
                     packet of that connection in between) become one large
                     frame, as TSO looks on the sending host; the IPv4 total
                     length (IPv6 payload length) of every merged frame is 0.
  offload-keep-len   the same, with a correct length where it fits 16 bits.
  ack-first          the first packet from side B that acknowledges a data
                     segment of side A is moved (with the packets of B before
                     it, so each direction keeps its own order) to just
                     before that segment; a FIN that directly follows its
                     sender's last data segment is moved before that segment.
                     Moved packets take the segment's timestamp when theirs
                     is later (SPAN / multi-queue reordering).
  small-window       window-scale options in SYN and SYN/ACK become NOPs and
                     every TCP window field is set to --window (512).
  drop-body-segment  one client data segment strictly inside a DATA message
                     body (neither its first nor last segment, not holding
                     the final CRLF.CRLF) is dropped, in the first session
                     that has one; sessions whose body fits one segment are
                     left alone.
  split              (no distortion of content) every data segment is cut
                     into pieces of at most --split bytes, same timestamps.
  late-after-rst     in the first connection one side resets, the other
                     side's next segment (a 421 line) is captured 50 us
                     after the RST, and the resetting side's kernel answers
                     it with a bare RST 50 us later: data in flight when the
                     RST was sent, as a capture point near the resetting
                     side records it.  Not one of the wild level's modes
                     (it adds stream content); it makes a synth- capture.

--split N applies the "split" step before any mode (so a capture taken on
loopback, where a whole message is one segment, gets bodies of several
segments).  --report FILE writes a JSON sidecar saying what was changed;
for drop-body-segment it lists, per connection, the bytes dropped in each
direction.  Checksums are not recomputed, except the IPv4 header checksum of
headers this script rewrites.

usage: distort.py --mode MODE [--split N] [--report FILE] [--check] IN OUT
exit: 0 done, 2 usage or I/O error, 3 input this script cannot handle
(pcapng, unknown magic, unsupported link type), 4 --check found the output
lost or changed stream content.
"""
import argparse
import json
import struct
import sys

MODES = ("offload", "offload-keep-len", "ack-first", "small-window",
         "drop-body-segment", "split", "late-after-rst")
SMTP_PORTS = {25, 465, 587, 2525}

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


class Unsupported(Exception):
    """Input this script cannot transform (exit status 3)."""


# ----------------------------------------------------------------- reading

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000000),
    b"\x4d\x3c\xb2\xa1": ("<", 1000000000),
    b"\xa1\xb2\xc3\xd4": (">", 1000000),
    b"\xa1\xb2\x3c\x4d": (">", 1000000000),
}


class Packet:
    """One pcap record, with its TCP/IP layout when it has one."""

    def __init__(self, frame, ts, orig_len, data):
        self.frame = frame          # 1-based frame number in the input
        self.ts = ts                # integer, in the file's time unit
        self.orig_len = orig_len
        self.data = bytes(data)
        self.tcp = False            # parsed as TCP (header complete)
        self.whole = False          # the whole IP packet was captured

    def payload(self):
        return self.data[self.pay_off:self.pay_off + self.pay_len]

    def end_seq(self):
        return (self.seq + self.pay_len + (1 if self.flags & FIN else 0)
                + (1 if self.flags & SYN else 0)) & 0xFFFFFFFF


def read_pcap(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:4] == b"\x0a\x0d\x0d\x0a":
        raise Unsupported("pcapng file (classic pcap only)")
    if raw[:4] not in MAGICS or len(raw) < 24:
        raise Unsupported("not a classic pcap file (magic %s)" % raw[:4].hex())
    endian, unit = MAGICS[raw[:4]]
    _vmaj, _vmin, _zone, _sig, snaplen, network = struct.unpack(
        endian + "HHiIII", raw[4:24])
    linktype = network & 0x03FFFFFF
    header = bytearray(raw[:24])
    packets = []
    off = 24
    frame = 0
    while off < len(raw):
        if off + 16 > len(raw):
            raise Unsupported("truncated record header at offset %d" % off)
        sec, frac, incl, orig = struct.unpack(endian + "IIII", raw[off:off + 16])
        if off + 16 + incl > len(raw):
            raise Unsupported("truncated record at offset %d" % off)
        frame += 1
        packets.append(Packet(frame, sec * unit + frac, orig,
                              raw[off + 16:off + 16 + incl]))
        off += 16 + incl
    cap = {"endian": endian, "unit": unit, "linktype": linktype,
           "snaplen": snaplen, "header": header}
    for p in packets:
        decode(p, linktype)
    return cap, packets


def write_pcap(path, cap, packets):
    e = cap["endian"]
    header = bytearray(cap["header"])
    biggest = max([len(p.data) for p in packets] + [0])
    if biggest > cap["snaplen"]:
        struct.pack_into(e + "I", header, 16, biggest)
    out = [bytes(header)]
    for p in packets:
        sec, frac = divmod(p.ts, cap["unit"])
        orig = max(p.orig_len, len(p.data))
        out.append(struct.pack(e + "IIII", sec, frac, len(p.data), orig))
        out.append(p.data)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def link_offset(data, linktype):
    """(offset of the IP header, IP version) or None."""
    if linktype == 1:                            # Ethernet, VLAN/QinQ
        off = 12
        while len(data) >= off + 2:
            etype = struct.unpack(">H", data[off:off + 2])[0]
            if etype in (0x8100, 0x88A8, 0x9100):
                off += 4
                continue
            if etype == 0x0800:
                return off + 2, 4
            if etype == 0x86DD:
                return off + 2, 6
            return None
        return None
    if linktype == 113:                          # Linux cooked (SLL)
        if len(data) < 16:
            return None
        etype = struct.unpack(">H", data[14:16])[0]
        return {0x0800: (16, 4), 0x86DD: (16, 6)}.get(etype)
    if linktype == 276:                          # Linux cooked v2 (SLL2)
        if len(data) < 20:
            return None
        etype = struct.unpack(">H", data[0:2])[0]
        return {0x0800: (20, 4), 0x86DD: (20, 6)}.get(etype)
    if linktype in (101, 12, 14, 228, 229):      # raw IP
        if not data:
            return None
        v = data[0] >> 4
        if linktype == 228 and v != 4 or linktype == 229 and v != 6:
            return None
        return (0, v) if v in (4, 6) else None
    if linktype in (0, 108):                     # BSD loopback
        if len(data) < 4:
            return None
        fam = struct.unpack(("<I" if data[0] else ">I") if linktype == 0
                            else ">I", data[:4])[0]
        if fam == 2:
            return 4, 4
        if fam in (10, 24, 28, 30):
            return 4, 6
        return None
    raise Unsupported("link type %d" % linktype)


def decode(p, linktype):
    lo = link_offset(p.data, linktype)
    if lo is None:
        return
    ip, ver = lo
    d = p.data
    if ver == 4:
        if len(d) < ip + 20 or d[ip] >> 4 != 4:
            return
        ihl = (d[ip] & 15) * 4
        total = struct.unpack(">H", d[ip + 2:ip + 4])[0]
        frag = struct.unpack(">H", d[ip + 6:ip + 8])[0]
        if d[ip + 9] != 6 or frag & 0x3FFF or ihl < 20:
            return
        if total == 0:                      # already a TSO frame
            total = len(d) - ip
            p.whole = p.orig_len == len(d)
        else:
            p.whole = ip + total <= len(d)
        src, dst = d[ip + 12:ip + 16], d[ip + 16:ip + 20]
        tcp = ip + ihl
        ip_end = ip + total
    else:
        if len(d) < ip + 40 or d[ip] >> 4 != 6 or d[ip + 6] != 6:
            return
        plen = struct.unpack(">H", d[ip + 4:ip + 6])[0]
        if plen == 0:
            plen = len(d) - ip - 40
            p.whole = p.orig_len == len(d)
        else:
            p.whole = ip + 40 + plen <= len(d)
        src, dst = d[ip + 8:ip + 24], d[ip + 24:ip + 40]
        tcp = ip + 40
        ip_end = ip + 40 + plen
    if len(d) < tcp + 20:
        return
    thl = (d[tcp + 12] >> 4) * 4
    if thl < 20 or len(d) < tcp + thl:
        return
    p.tcp = True
    p.ver, p.ip_off, p.tcp_off, p.tcp_hl = ver, ip, tcp, thl
    p.pay_off = tcp + thl
    p.pay_len = max(0, ip_end - p.pay_off)   # on the wire, when not whole
    p.src, p.dst = src, dst
    p.sport, p.dport, p.seq, p.ack = struct.unpack(">HHII", d[tcp:tcp + 12])
    p.flags = d[tcp + 13]
    a, b = (src, p.sport), (dst, p.dport)
    p.key = (ver,) + ((a, b) if a <= b else (b, a))
    p.dir = 0 if a <= b else 1


def addr(ver, raw, port):
    if ver == 4:
        ip = ".".join(str(x) for x in raw)
    else:
        import ipaddress
        ip = str(ipaddress.IPv6Address(raw))
    return {"ip": ip, "port": port}


def seq_ge(a, b):
    return ((a - b) & 0xFFFFFFFF) < 0x80000000


# ------------------------------------------------------------- connections

def connections(packets):
    """Give each TCP packet .conn: one id per connection instance (a SYN
    with a new ISN on a known 4-tuple starts a new one) and .side
    ("client"/"server")."""
    current = {}
    conns = []
    for p in packets:
        if not p.tcp:
            continue
        c = current.get(p.key)
        syn_only = p.flags & SYN and not p.flags & ACK
        if c is not None and syn_only and c["isn"] is not None \
                and c["isn"] != p.seq:
            c = None
        if c is None:
            c = {"id": len(conns), "key": p.key, "isn": None,
                 "client_dir": None, "packets": []}
            conns.append(c)
            current[p.key] = c
        if syn_only:
            c["isn"] = p.seq
            c["client_dir"] = p.dir
        elif p.flags & SYN and c["client_dir"] is None:
            c["client_dir"] = 1 - p.dir
        c["packets"].append(p)
        p.conn = c
    for c in conns:
        if c["client_dir"] is None:
            (_, pa), (_, pb) = c["key"][1], c["key"][2]
            if pb in SMTP_PORTS and pa not in SMTP_PORTS:
                c["client_dir"] = 0
            elif pa in SMTP_PORTS and pb not in SMTP_PORTS:
                c["client_dir"] = 1
            else:
                c["client_dir"] = 0 if pa > pb else 1
        for p in c["packets"]:
            p.side = "client" if p.dir == c["client_dir"] else "server"
    return conns


def conn_ends(c):
    ver = c["key"][0]
    ends = [c["key"][1], c["key"][2]]
    cl, sv = ends[c["client_dir"]], ends[1 - c["client_dir"]]
    return addr(ver, cl[0], cl[1]), addr(ver, sv[0], sv[1])


# ------------------------------------------------------------- rewriting

def ipv4_checksum(hdr):
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) + hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def rebuild(p, payload, seq=None, flags=None, length="correct", ip_id=None):
    """A new frame: p's link, IP and TCP headers around payload."""
    d = bytearray(p.data[:p.pay_off])
    ip = p.ip_off
    tcp = p.tcp_off
    if p.ver == 4:
        ihl = tcp - ip
        total = ihl + p.tcp_hl + len(payload)
        if length == "zero" or total > 0xFFFF:
            total = 0
        struct.pack_into(">H", d, ip + 2, total)
        if ip_id is not None:
            struct.pack_into(">H", d, ip + 4, ip_id & 0xFFFF)
        struct.pack_into(">H", d, ip + 10, 0)
        struct.pack_into(">H", d, ip + 10, ipv4_checksum(d[ip:ip + ihl]))
    else:
        plen = p.tcp_hl + len(payload)
        if length == "zero" or plen > 0xFFFF:
            plen = 0
        struct.pack_into(">H", d, ip + 4, plen)
    if seq is not None:
        struct.pack_into(">I", d, tcp + 4, seq & 0xFFFFFFFF)
    if flags is not None:
        d[tcp + 13] = flags
    q = Packet(p.frame, p.ts, 0, bytes(d) + payload)
    q.orig_len = len(q.data)
    return q


def redecode(packets, linktype):
    for p in packets:
        p.tcp = False
        decode(p, linktype)


# ------------------------------------------------------------- the modes

def mode_split(cap, packets, size):
    out = []
    pieces = 0
    for p in packets:
        if not p.tcp or not p.whole or p.pay_len <= size \
                or p.flags & (SYN | RST | URG):
            out.append(p)
            continue
        data = p.payload()
        ip_id = None
        if p.ver == 4:
            ip_id = struct.unpack(">H", p.data[p.ip_off + 4:p.ip_off + 6])[0]
        for i in range(0, len(data), size):
            last = i + size >= len(data)
            flags = p.flags if last else p.flags & ~(FIN | PSH)
            q = rebuild(p, data[i:i + size], seq=p.seq + i, flags=flags,
                        ip_id=None if ip_id is None else ip_id + i // size)
            q.piece = i // size + 1
            out.append(q)
            pieces += 1
        pieces -= 1
    redecode(out, cap["linktype"])
    return out, {"segments_added": pieces}


def mode_offload(cap, packets, keep_len, max_bytes):
    connections(packets)
    out = []
    runs = {}                   # (conn id, dir) -> [slot, [packets]]
    merged = []

    def close(k):
        slot, segs = runs.pop(k)
        if len(segs) == 1:
            out[slot] = segs[0]
            return
        first, last = segs[0], segs[-1]
        flags = first.flags & ~(FIN | PSH)
        for s in segs:
            flags |= s.flags & PSH
        flags |= last.flags & FIN
        payload = b"".join(s.payload() for s in segs)
        q = rebuild(first, payload, flags=flags,
                    length="correct" if keep_len else "zero")
        out[slot] = q
        merged.append({"frames": [s.frame for s in segs],
                       "bytes": len(payload),
                       "client": conn_ends(first.conn)[0],
                       "direction": first.side})

    for p in packets:
        if not p.tcp:
            out.append(p)
            continue
        k, other = (p.conn["id"], p.dir), (p.conn["id"], 1 - p.dir)
        if other in runs:
            close(other)
        run = runs.get(k)
        if run is not None:
            prev = run[1][-1]
            total = sum(s.pay_len for s in run[1])
            if (p.whole and p.pay_len > 0
                    and not p.flags & (SYN | RST | URG)
                    and not prev.flags & FIN
                    and p.seq == (prev.seq + prev.pay_len) & 0xFFFFFFFF
                    and p.ack == prev.ack
                    and p.flags & ACK == prev.flags & ACK
                    and total + p.pay_len <= max_bytes):
                run[1].append(p)
                continue
            close(k)
        if p.whole and p.pay_len > 0 and not p.flags & (SYN | RST | URG):
            out.append(None)
            runs[k] = [len(out) - 1, [p]]
        else:
            out.append(p)
    for k in list(runs):
        close(k)
    redecode(out, cap["linktype"])
    return out, {"merged": merged}


def mode_small_window(cap, packets, window):
    out = []
    scales = 0
    for p in packets:
        if not p.tcp:
            out.append(p)
            continue
        d = bytearray(p.data)
        t = p.tcp_off
        struct.pack_into(">H", d, t + 14, window)
        if p.flags & SYN:
            i, end = t + 20, t + p.tcp_hl
            while i < end:
                kind = d[i]
                if kind == 0:
                    break
                if kind == 1:
                    i += 1
                    continue
                if i + 1 >= end or d[i + 1] < 2:
                    break
                ln = d[i + 1]
                if kind == 3:
                    d[i:i + ln] = b"\x01" * ln
                    scales += 1
                i += ln
        p.data = bytes(d)
        out.append(p)
    return out, {"window": window, "wscale_removed": scales}


def mode_late_after_rst(cap, packets):
    conns = connections(packets)
    for c in conns:
        rst = next((p for p in c["packets"] if p.flags & RST), None)
        if rst is None:
            continue
        peer = [p for p in c["packets"] if p.dir != rst.dir and p.frame < rst.frame]
        if not peer:
            continue
        last = peer[-1]
        peer_next = max(p.end_seq() for p in peer)
        own_next = max([p.end_seq() for p in c["packets"] if p.dir == rst.dir])
        late = rebuild(last, b"421 4.4.2 Error: timeout exceeded\r\n", seq=peer_next,
                       flags=PSH | ACK)
        d = bytearray(late.data)
        struct.pack_into(">I", d, last.tcp_off + 8, own_next)
        late.data = bytes(d)
        late.ts = rst.ts + 50 * cap["unit"] // 1000000
        answer = rebuild(rst, b"", seq=own_next, flags=RST)
        d = bytearray(answer.data)
        struct.pack_into(">I", d, rst.tcp_off + 8, 0)
        answer.data = bytes(d)
        answer.ts = late.ts + 50 * cap["unit"] // 1000000
        at = packets.index(rst) + 1
        out = packets[:at] + [late, answer] + packets[at:]
        redecode(out, cap["linktype"])
        return out, {"late_frame_after": rst.frame, "late_side": last.side}
    return packets, {}


def mode_ack_first(cap, packets):
    conns = connections(packets)
    order = list(packets)
    moved, anchors = set(), set()
    fin_moves, ack_moves = [], []

    def conn_positions(c):
        mine = set(id(p) for p in c["packets"])
        return [i for i, p in enumerate(order) if id(p) in mine]

    # 1. A FIN right after its sender's last data segment goes before it.
    for c in conns:
        pk = c["packets"]
        for direction in (0, 1):
            data = [i for i, p in enumerate(pk)
                    if p.dir == direction and p.pay_len > 0]
            if not data:
                continue
            li = data[-1]
            if li + 1 >= len(pk):
                continue
            last, fin = pk[li], pk[li + 1]
            if fin.dir != direction or not fin.flags & FIN \
                    or fin.pay_len or fin.flags & (SYN | RST):
                continue
            order.remove(fin)
            order.insert(order.index(last), fin)
            fin.ts = min(fin.ts, last.ts)
            moved.add(id(fin))
            anchors.add(id(last))
            fin_moves.append({"fin_frame": fin.frame,
                              "before_frame": last.frame,
                              "client": conn_ends(c)[0],
                              "sender": fin.side})

    # 2. The first packet acknowledging a data segment goes before it,
    #    together with the packets of its sender between the two.
    for d in packets:
        if not d.tcp or d.pay_len == 0 or id(d) in moved \
                or d.flags & (SYN | RST):
            continue
        end = (d.seq + d.pay_len) & 0xFFFFFFFF
        pos = order.index(d)
        group = []
        acker = None
        for p in order[pos + 1:]:
            if not p.tcp or p.conn is not d.conn or p.dir == d.dir:
                continue
            group.append(p)
            if p.flags & ACK and seq_ge(p.ack, end):
                acker = p
                break
        if acker is None:
            continue
        if any(id(p) in moved or id(p) in anchors for p in group):
            continue
        for p in group:
            order.remove(p)
        pos = order.index(d)
        order[pos:pos] = group
        for p in group:
            p.ts = min(p.ts, d.ts)
            moved.add(id(p))
        anchors.add(id(d))
        ack_moves.append({"acker_frame": acker.frame,
                          "frames_moved": [p.frame for p in group],
                          "before_frame": d.frame,
                          "client": conn_ends(d.conn)[0],
                          "data_sender": d.side})
    return order, {"fin_moves": fin_moves, "ack_moves": ack_moves}


def body_ranges(stream):
    """(start, end) offsets of each DATA body in a client byte stream, end
    just past the terminating "." line; stops at STARTTLS."""
    out = []
    i = 0
    in_body = False
    body_start = 0
    while i < len(stream):
        nl = stream.find(b"\n", i)
        if nl < 0:
            break
        line = stream[i:nl + 1]
        if in_body:
            if line in (b".\r\n", b".\n") and (
                    i == body_start or stream[i - 1:i] == b"\n"):
                out.append((body_start, nl + 1))
                in_body = False
        else:
            verb = line.strip().upper()
            if verb == b"DATA":
                in_body = True
                body_start = nl + 1
            elif verb == b"STARTTLS":
                break
            elif verb.startswith(b"BDAT "):
                parts = verb.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    nl += int(parts[1])
        i = nl + 1
    return out


def mode_drop_body_segment(cap, packets):
    conns = connections(packets)
    chosen = None
    for c in conns:
        client = [p for p in c["packets"]
                  if p.side == "client" and p.pay_len > 0 and p.whole]
        if not client:
            continue
        if c["isn"] is not None:
            base = (c["isn"] + 1) & 0xFFFFFFFF
        else:
            base = client[0].seq
        # The client stream, first copy of each byte, by sequence number.
        segs = {}
        for p in client:
            rel = (p.seq - base) & 0xFFFFFFFF
            if rel >= 0x80000000:
                continue
            segs.setdefault((rel, p.pay_len), []).append(p)
        stream = bytearray()
        for (rel, ln), ps in sorted(segs.items()):
            if rel > len(stream):
                break                      # a hole in the capture
            stream[rel:rel + ln] = ps[0].payload()
        for start, end in body_ranges(bytes(stream)):
            inside = sorted(k for k in segs
                            if k[0] < end and k[0] + k[1] > start)
            if len(inside) < 3:
                continue
            candidates = []
            for k in inside[1:-1]:
                rel, ln = k
                if rel < start or rel + ln > end - 5:
                    continue          # outside, or holds part of CRLF.CRLF
                overlap = [o for o in segs if o != k and o[0] < rel + ln
                           and o[0] + o[1] > rel]
                if not overlap:
                    candidates.append(k)
            if candidates:
                chosen = (c, candidates[len(candidates) // 2], segs, base)
                break
        if chosen:
            break
    report = {"dropped": [], "connections": []}
    drop = set()
    if chosen:
        c, k, segs, base = chosen
        for p in segs[k]:
            drop.add(id(p))
            cl = conn_ends(c)[0]
            report["dropped"].append({"frame": p.frame,
                                      "split_piece": getattr(p, "piece", None),
                                      "client_ip": cl["ip"],
                                      "client_port": cl["port"],
                                      "seq": p.seq, "relative_seq": k[0],
                                      "len": k[1]})
            print("distort: dropped frame %d (client %s:%d, seq %d, relative "
                  "%d, length %d)" % ((p.frame,) + tuple(
                      conn_ends(c)[0].values()) + (p.seq, k[0], k[1])),
                  file=sys.stderr)
    else:
        print("distort: no DATA body of three or more segments; nothing "
              "dropped", file=sys.stderr)
    for c in conns:
        cl, sv = conn_ends(c)
        n = {"client": 0, "server": 0}
        if chosen and c is chosen[0]:
            n["client"] = chosen[1][1]
        report["connections"].append({"client": cl, "server": sv,
                                      "dropped": n})
    return [p for p in packets if id(p) not in drop], report


# ------------------------------------------------------------ self-check

def stream_images(packets):
    """Per connection instance ((key, n-th instance of that key)) and side:
    [content bytearray, coverage bytearray, SYNs, FINs, RSTs]."""
    conns = connections(packets)
    seen = {}
    images = {}
    for c in conns:
        n = seen.get(c["key"], 0)
        seen[c["key"]] = n + 1
        img = {}
        for side in ("client", "server"):
            pk = [p for p in c["packets"] if p.side == side]
            syn = [p for p in pk if p.flags & SYN]
            if syn:
                base = (syn[0].seq + 1) & 0xFFFFFFFF
            else:
                data = [p for p in pk if p.pay_len and p.whole]
                base = min((p.seq for p in data),
                           key=lambda s: (s - data[0].seq + 0x80000000)
                           & 0xFFFFFFFF) if data else 0
            content, cover = bytearray(), bytearray()
            for p in pk:
                if not p.whole or not p.pay_len:
                    continue
                rel = (p.seq - base) & 0xFFFFFFFF
                if rel >= 0x80000000:
                    continue
                end = rel + p.pay_len
                if end > len(content):
                    content.extend(bytes(end - len(content)))
                    cover.extend(bytes(end - len(cover)))
                content[rel:end] = p.payload()
                cover[rel:end] = b"\x01" * p.pay_len
            img[side] = [content, cover,
                         sum(1 for p in pk if p.flags & SYN),
                         sum(1 for p in pk if p.flags & FIN),
                         sum(1 for p in pk if p.flags & RST)]
        images[(c["key"], n)] = (conn_ends(c)[0], img)
    return images


def check(cap, before, after_path, report):
    """Compare every connection's byte streams and SYN/FIN/RST counts of
    the input with those of the written file; what drop-body-segment
    dropped must be exactly what is missing.  A list of problems."""
    _, after = read_pcap(after_path)
    want, got = stream_images(before), stream_images(after)
    dropped = {}
    for d in report.get("dropped", []):
        dropped[(d["client_ip"], d["client_port"])] = (d["relative_seq"],
                                                        d["len"])
    problems = []
    if set(want) != set(got):
        problems.append("connections differ: %d in, %d out"
                        % (len(want), len(got)))
    for k in want:
        if k not in got:
            continue
        client, w = want[k]
        g = got[k][1]
        cut = dropped.get((client["ip"], client["port"]))
        for side in ("client", "server"):
            wc, wv = bytearray(w[side][0]), bytearray(w[side][1])
            if cut and side == "client":
                rel, ln = cut
                wv[rel:rel + ln] = bytes(ln)
                wc[rel:rel + ln] = bytes(ln)
            gc, gv = g[side][0], g[side][1]
            while wv and not wv[-1]:
                wv.pop()
            wc = wc[:len(wv)]
            gv, gc = bytearray(gv), bytearray(gc)
            while gv and not gv[-1]:
                gv.pop()
            gc = gc[:len(gv)]
            for i, v in enumerate(wv):
                if not v:
                    wc[i] = 0
            for i, v in enumerate(gv):
                if not v:
                    gc[i] = 0
            where = "%s:%d %s" % (client["ip"], client["port"], side)
            if wv != gv:
                problems.append("%s: bytes covered differ (%d in, %d out)"
                                % (where, sum(wv), sum(gv)))
            elif wc != gc:
                problems.append("%s: stream content differs" % where)
            if w[side][2:] != g[side][2:]:
                problems.append("%s: SYN/FIN/RST counts %s in, %s out"
                                % (where, w[side][2:], g[side][2:]))
    return problems


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", required=True, choices=MODES)
    ap.add_argument("--split", type=int, default=0, metavar="BYTES",
                    help="cut data segments into pieces of at most BYTES "
                         "first (the only effect of --mode split)")
    ap.add_argument("--max-merge", type=int, default=60000, metavar="BYTES",
                    help="largest payload of a merged frame (offload)")
    ap.add_argument("--window", type=int, default=512,
                    help="window field for small-window (default 512)")
    ap.add_argument("--report", metavar="FILE",
                    help="write what was changed as JSON")
    ap.add_argument("--check", action="store_true",
                    help="read the output back and check that every byte "
                         "of every TCP stream (but the dropped segment), "
                         "every SYN, FIN and RST is still there (exit 4 "
                         "if not)")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    if a.mode == "split" and a.split <= 0:
        a.split = 64
    try:
        cap, packets = read_pcap(a.input)
    except Unsupported as e:
        print("distort: %s: cannot handle: %s" % (a.input, e), file=sys.stderr)
        return 3
    except OSError as e:
        print("distort: %s" % e, file=sys.stderr)
        return 2
    report = {"input": a.input, "mode": a.mode, "split": a.split or None,
              "linktype": cap["linktype"], "frames_in": len(packets)}
    if a.split > 0:
        packets, r = mode_split(cap, packets, a.split)
        report["split_segments_added"] = r["segments_added"]
    if a.mode in ("offload", "offload-keep-len"):
        packets, r = mode_offload(cap, packets, a.mode == "offload-keep-len",
                                  a.max_merge)
    elif a.mode == "ack-first":
        packets, r = mode_ack_first(cap, packets)
    elif a.mode == "small-window":
        packets, r = mode_small_window(cap, packets, a.window)
    elif a.mode == "drop-body-segment":
        packets, r = mode_drop_body_segment(cap, packets)
    elif a.mode == "late-after-rst":
        packets, r = mode_late_after_rst(cap, packets)
    else:
        r = {}
    report.update(r)
    report["frames_out"] = len(packets)
    try:
        write_pcap(a.output, cap, packets)
        if a.report:
            with open(a.report, "w") as f:
                json.dump(report, f, indent=1)
                f.write("\n")
    except OSError as e:
        print("distort: %s" % e, file=sys.stderr)
        return 2
    if a.check:
        cap2, again = read_pcap(a.input)
        problems = check(cap2, again, a.output, report)
        for p in problems:
            print("distort: check: %s" % p, file=sys.stderr)
        if problems:
            return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Hand-built hostile captures for smtpscope (stdlib only).

usage: gen.py CASE OUT_PATH      write one capture
       gen.py --list             the case names

Every capture is written packet by packet with struct: Ethernet, IPv4 and
TCP headers with correct checksums (unless the case is about bad ones),
sequence and acknowledgement numbers that a real stack would send, and
server ACKs often enough that libnids never sees a segment outside the
receive window.  The big cases (100 MB lines, a million SYNs) are streamed
to disk, never held in memory, so run.sh generates them at test time into a
temporary directory and deletes them after use.

The cases and what run.sh expects of each are listed in README.md.
"""
import struct
import sys

ETH_HDR = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
T0 = 1700000000.0


def ip_addr(s):
    return bytes(int(x) for x in s.split("."))


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def sum16(data):
    if len(data) & 1:
        data += b"\x00"
    return sum(struct.unpack("!%dH" % (len(data) // 2), data))


class Pcap:
    """A classic pcap file (microsecond timestamps, Ethernet)."""

    def __init__(self, path, snaplen=262144, linktype=1):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        self.t = T0
        self.buf = []
        self.n_buf = 0

    def record(self, frame, caplen=None, wirelen=None, data=None, t=None):
        """One record; caplen/wirelen/data override the honest values."""
        if t is None:
            t = self.t
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        cap = len(frame) if caplen is None else caplen
        wire = len(frame) if wirelen is None else wirelen
        self._out(struct.pack("<IIII", sec, usec, cap, wire))
        self._out(frame if data is None else data)

    def raw(self, data):
        self._out(data)

    def _out(self, b):
        self.buf.append(b)
        self.n_buf += len(b)
        if self.n_buf > (1 << 20):
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.buf))
        self.buf = []
        self.n_buf = 0

    def close(self):
        self.flush()
        self.f.close()


_payload_sums = {}


def ipv4(src, dst, proto_payload, ident=0, frag=0, proto=6):
    total = 20 + len(proto_payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, frag, 64, proto, 0, src, dst)
    csum = (~fold(sum16(hdr))) & 0xFFFF
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + proto_payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, window, 0, 0)
    key = id(payload) if len(payload) > 256 else None
    if key is not None and key in _payload_sums and _payload_sums[key][0] is payload:
        psum = _payload_sums[key][1]
    else:
        psum = sum16(payload)
        if key is not None:
            _payload_sums[key] = (payload, psum)
    if len(payload) & 1:
        # sum16 padded the payload; fine since it is the last part
        pass
    pseudo = sum16(src + dst) + 6 + 20 + len(payload)
    csum = (~fold(pseudo + sum16(hdr) + psum)) & 0xFFFF
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload


class Conn:
    """One TCP connection; c()/s() send data with realistic seq/ack."""

    def __init__(self, w, cip="10.0.0.1", cport=40000, sip="10.0.0.2", sport=25,
                 isn_c=1000, isn_s=500000, step=0.0001):
        self.w = w
        self.cip, self.sip = ip_addr(cip), ip_addr(sip)
        self.cport, self.sport = cport, sport
        self.seq = [isn_c, isn_s]     # next seq per sender (0 client, 1 server)
        self.step = step
        self.ident = [1, 1]
        self.unacked = [0, 0]

    def frame(self, d, flags, payload=b"", seq=None):
        src, dst = (self.cip, self.sip) if d == 0 else (self.sip, self.cip)
        sp, dp = (self.cport, self.sport) if d == 0 else (self.sport, self.cport)
        s = self.seq[d] if seq is None else seq
        ack = self.seq[1 - d] if flags & ACK else 0
        seg = tcp(src, dst, sp, dp, s, ack, flags, payload)
        self.ident[d] += 1
        return ETH_HDR + ipv4(src, dst, seg, self.ident[d])

    def emit(self, frame):
        self.w.t += self.step
        self.w.record(frame)

    def handshake(self):
        self.emit(self.frame(0, SYN))
        self.seq[0] += 1
        self.emit(self.frame(1, SYN | ACK))
        self.seq[1] += 1
        self.emit(self.frame(0, ACK))

    def ack(self, d):
        """Side d acknowledges everything the other side sent."""
        self.emit(self.frame(d, ACK))
        self.unacked[1 - d] = 0

    def send(self, d, data, mss=1460):
        for i in range(0, len(data), mss):
            self.segment(d, data[i:i + mss])

    def segment(self, d, payload):
        self.emit(self.frame(d, PSH | ACK, payload))
        self.seq[d] += len(payload)
        self.unacked[d] += 1
        if self.unacked[d] >= 8:
            self.ack(1 - d)

    def c(self, data):
        self.send(0, data)
        self.ack(1)

    def s(self, data):
        self.send(1, data)
        self.ack(0)

    def close(self, first=0):
        self.emit(self.frame(first, FIN | ACK))
        self.seq[first] += 1
        self.emit(self.frame(1 - first, FIN | ACK))
        self.seq[1 - first] += 1
        self.emit(self.frame(first, ACK))


def normal_session(conn, quit=True):
    conn.handshake()
    conn.s(b"220 mx.hostile.test ESMTP\r\n")
    conn.c(b"EHLO client.hostile.test\r\n")
    conn.s(b"250-mx.hostile.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
    conn.c(b"MAIL FROM:<a@hostile.test>\r\n")
    conn.s(b"250 2.1.0 Ok\r\n")
    conn.c(b"RCPT TO:<b@hostile.test>\r\n")
    conn.s(b"250 2.1.5 Ok\r\n")
    conn.c(b"DATA\r\n")
    conn.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    conn.c(b"Subject: hi\r\n\r\nhello\r\n.\r\n")
    conn.s(b"250 2.0.0 Ok: queued\r\n")
    if quit:
        conn.c(b"QUIT\r\n")
        conn.s(b"221 2.0.0 Bye\r\n")
        conn.close(0)


# ---- the cases ---------------------------------------------------------------

LONG_LINE_BYTES = 100 * 1000 * 1000


def case_long_client_line(path):
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    block = b"A" * 1460
    c.segment(0, b"MAIL FROM:<")
    for _ in range(LONG_LINE_BYTES // 1460):
        c.segment(0, block)
    c.segment(0, b"\r\nQUIT\r\n")
    c.ack(1)
    c.s(b"500 5.5.2 Line too long\r\n221 2.0.0 Bye\r\n")
    c.close(1)
    w.close()


def case_long_server_line(path):
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    c.c(b"NOOP\r\n")
    block = b"B" * 1460
    c.segment(1, b"250 ")
    for _ in range(LONG_LINE_BYTES // 1460):
        c.segment(1, block)
    c.segment(1, b"\r\n")
    c.ack(0)
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close(0)
    w.close()


SYN_FLOOD = 1000000


def case_syn_flood(path):
    """A million half-open connections to port 25 from distinct source
    ports (and addresses, 60000 ports each), with one complete session
    started after half of them, its packets interleaved one per 200 SYNs."""
    w = Pcap(path)
    sess = []

    class Capture:           # collects the session's frames instead of writing
        t = T0

        def record(self, frame):
            sess.append(frame)

    c = Conn(Capture(), cip="192.0.2.7", cport=33333, sip="10.9.9.9", isn_c=77, isn_s=99)
    normal_session(c)
    dst = ip_addr("10.9.9.9")
    t = T0
    k = 0
    base_hdr_sum = None
    for i in range(SYN_FLOOD):
        sport = 1024 + i % 60000
        src = bytes((10, 1, (i // 60000) & 0xFF, 1))
        seq = (i * 2654435761) & 0xFFFFFFFF
        hdr = struct.pack("!HHIIBBHHH", sport, 25, seq, 0, 5 << 4, SYN, 65535, 0, 0)
        pseudo = sum16(src + dst) + 6 + 20
        csum = (~fold(pseudo + sum16(hdr))) & 0xFFFF
        seg = hdr[:16] + struct.pack("!H", csum) + hdr[18:]
        t += 0.00005
        w.record(ETH_HDR + ipv4(src, dst, seg, i), t=t)
        if i >= SYN_FLOOD // 2 and i % 200 == 0 and k < len(sess):
            t += 0.00001
            w.record(sess[k], t=t)
            k += 1
    assert k == len(sess), "session did not fit"
    del base_hdr_sum
    w.close()


def case_pipeline_100k(path):
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    c.c(b"NOOP\r\n" * 100000)
    c.close(0)
    w.close()


def case_bdat_hostile(path):
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    c.c(b"EHLO client.hostile.test\r\n")
    c.s(b"250-mx.hostile.test\r\n250 CHUNKING\r\n")
    c.c(b"MAIL FROM:<a@hostile.test>\r\n")
    c.s(b"250 2.1.0 Ok\r\n")
    c.c(b"RCPT TO:<b@hostile.test>\r\n")
    c.s(b"250 2.1.5 Ok\r\n")
    c.c(b"BDAT -1\r\n")
    c.s(b"501 5.5.4 Syntax error\r\n")
    c.c(b"BDAT garbage LAST\r\n")
    c.s(b"501 5.5.4 Syntax error\r\n")
    c.c(b"BDAT 18446744073709551616 LAST\r\n")
    c.s(b"501 5.5.4 Syntax error\r\n")
    c.c(b"BDAT 99999999999999999999999999999999999999999\r\n")
    c.s(b"501 5.5.4 Syntax error\r\n")
    c.c(b"BDAT 18446744073709551615\r\nsome chunk bytes\r\n")
    c.s(b"552 5.3.4 Message too big\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close(0)
    w.close()


def write_session_records(w):
    c = Conn(w)
    normal_session(c)


def case_caplen_gt_snaplen(path):
    """Header snaplen 96, records of up to 1514 bytes captured whole."""
    w = Pcap(path, snaplen=96)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    c.c(b"EHLO " + b"x" * 400 + b"\r\n")
    c.s(b"250 ok\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 Bye\r\n")
    c.close(0)
    w.close()


def case_len_lt_caplen(path):
    """Every record claims an original length smaller than what it holds."""
    w = Pcap(path)

    class Lying:
        t = T0

        def record(self, frame):
            w.t += 0.0001
            w.record(frame, wirelen=max(0, len(frame) - 30))

    c = Conn(Lying())
    normal_session(c)
    w.close()


def case_giant_caplen(path):
    """A good session, then a record header with caplen 0xFFFFFFF0."""
    w = Pcap(path)
    write_session_records(w)
    w.raw(struct.pack("<IIII", int(w.t) + 1, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"\x00" * 64)
    w.close()


def case_cut_mid_record(path):
    """A good session, a second one cut off inside a packet record."""
    w = Pcap(path)
    write_session_records(w)
    c = Conn(w, cport=40001)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    frame = c.frame(0, PSH | ACK, b"EHLO client.hostile.test\r\n")
    w.raw(struct.pack("<IIII", int(w.t) + 1, 0, len(frame), len(frame)) + frame[:30])
    w.close()


def case_zero_length(path):
    """Zero-length records (caplen 0, len 0, and caplen 0 with len 60)
    between the packets of a good session."""
    w = Pcap(path)

    class Padded:
        t = T0

        def record(self, frame):
            w.t += 0.0001
            w.record(b"", caplen=0, wirelen=0)
            w.record(frame)
            w.record(b"", caplen=0, wirelen=60)

    normal_session(Conn(Padded()))
    w.close()


def pcapng_block(btype, body):
    pad = (-len(body)) % 4
    total = 12 + len(body) + pad
    return struct.pack("<II", btype, total) + body + b"\x00" * pad + struct.pack("<I", total)


def case_pcapng_unknown_blocks(path):
    """pcapng with unknown, local-use and custom blocks and unknown options
    around the enhanced packet blocks of a good session."""
    frames = []

    class Grab:
        t = T0

        def record(self, frame):
            Grab.t += 0.0001
            frames.append((Grab.t, frame))

    normal_session(Conn(Grab()))
    out = bytearray()
    shb_opts = struct.pack("<HH", 0x7777, 4) + b"junk" + struct.pack("<HH", 0, 0)
    out += pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts)
    idb_opts = struct.pack("<HH", 0x4444, 3) + b"abc\x00" + struct.pack("<HH", 0, 0)
    out += pcapng_block(1, struct.pack("<HHI", 1, 0, 262144) + idb_opts)
    out += pcapng_block(0x00000BAD, b"unknown block type, must be skipped")
    out += pcapng_block(0x80000001, b"local use block" + b"\x00")
    for i, (t, frame) in enumerate(frames):
        us = int(t * 1e6)
        body = struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(frame), len(frame))
        body += frame + b"\x00" * ((-len(frame)) % 4)
        out += pcapng_block(6, body)
        if i % 5 == 2:
            out += pcapng_block(0x0BAD0000 + i, b"\xff" * (i % 9))
            out += pcapng_block(0x00000BAD, b"")      # custom block, empty body
    with open(path, "wb") as f:
        f.write(out)


def case_ip_fragments(path):
    """A good session in which the MAIL command travels in overlapping IPv4
    fragments with conflicting bytes, plus a fragment that would overrun
    65535 bytes and a fragment train that is never completed."""
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    c.c(b"EHLO client.hostile.test\r\n")
    c.s(b"250 mx.hostile.test\r\n")
    data = b"MAIL FROM:<frag@hostile.test>\r\n"
    seg = tcp(c.cip, c.sip, c.cport, c.sport, c.seq[0], c.seq[1], PSH | ACK, data)
    ident = 4242
    # offsets in 8-byte units: [0,24) [16,40) conflicting [24,end)
    conflicting = seg[16:40].replace(b"frag", b"EVIL")
    pieces = [(0, seg[0:24], True), (2, conflicting, True), (3, seg[24:], False)]
    for off, body, more in pieces:
        fl = (0x2000 if more else 0) | off
        w.t += 0.0001
        w.record(ETH_HDR + ipv4(c.cip, c.sip, body, ident, fl))
    c.seq[0] += len(data)
    c.ack(1)
    c.s(b"250 2.1.0 Ok\r\n")
    # an oversized reassembly: last fragment at offset 65528 with 16 bytes
    w.t += 0.0001
    w.record(ETH_HDR + ipv4(c.cip, c.sip, b"X" * 16, 999, 0x2000 | (65528 // 8)))
    w.t += 0.0001
    w.record(ETH_HDR + ipv4(c.cip, c.sip, b"Y" * 16, 999, 65528 // 8))
    # never completed: first fragment only
    w.t += 0.0001
    w.record(ETH_HDR + ipv4(c.cip, c.sip, seg[:16], 1001, 0x2000))
    # fully overlapping duplicates, different contents
    for k in range(3):
        w.t += 0.0001
        w.record(ETH_HDR + ipv4(c.cip, c.sip, bytes([65 + k]) * 24, 1002, 0x2000))
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close(0)
    w.close()


def case_tcp_overlap(path):
    """TCP retransmissions with conflicting bytes: libnids keeps the first
    bytes that arrived; an out-of-order segment and a conflicting resend
    of the hole follow."""
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220 mx.hostile.test ESMTP\r\n")
    c.c(b"EHLO client.hostile.test\r\n")
    c.s(b"250 mx.hostile.test\r\n")
    s0 = c.seq[0]
    first = b"MAIL FROM:<aaaa@hostile.test>\r\n"
    second = b"MAIL FROM:<bbbb@hostile.test>\r\nRCPT TO:<r@hostile.test>\r\n"
    c.emit(c.frame(0, PSH | ACK, first, seq=s0))
    c.emit(c.frame(0, PSH | ACK, second, seq=s0))      # overlaps, conflicts, extends
    c.seq[0] = s0 + len(second)
    c.ack(1)
    c.s(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n")
    # out of order: the later segment first, then two versions of the hole
    s1 = c.seq[0]
    hole_a = b"NOOP aaaa\r\n"
    hole_b = b"NOOP bbbb\r\n"
    after = b"NOOP after\r\n"
    c.emit(c.frame(0, PSH | ACK, after, seq=s1 + len(hole_a)))
    c.emit(c.frame(0, PSH | ACK, hole_a, seq=s1))
    c.emit(c.frame(0, PSH | ACK, hole_b, seq=s1))
    c.seq[0] = s1 + len(hole_a) + len(after)
    c.ack(1)
    c.s(b"250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    c.close(0)
    w.close()


def evil_text(n):
    """Terminal escapes, NUL, invalid UTF-8, C1 controls, about n bytes."""
    unit = (b"\x1b[31mRED\x1b[0m \x1b]0;owned title\x07 \x00NUL \xff\xfe\xc0\xafbad "
            b"\xc2\x9bC1-CSI \xed\xa0\x80surrogate \x7fDEL \r mid-CR \xe2\x80\xaeRLO ")
    return (unit * (n // len(unit) + 1))[:n]


def case_control_bytes(path):
    w = Pcap(path)
    c = Conn(w)
    c.handshake()
    c.s(b"220-" + evil_text(5000) + b"\r\n220 " + evil_text(200) + b"\r\n")
    c.c(b"EHLO " + evil_text(5000) + b"\r\n")
    c.s(b"250-" + evil_text(300) + b"\r\n250-" + evil_text(5000) + b"\r\n250 X\r\n")
    c.c(b"MAIL FROM:<" + evil_text(5000) + b">\r\n")
    c.s(b"550 5.7.1 " + evil_text(5000) + b"\r\n")
    c.c(b"\x1b[2J\x1b[H " + evil_text(100) + b"\r\n")        # unknown verb
    c.s(b"502 " + evil_text(100) + b"\r\n")
    c.c(b"AUTH PLAIN " + evil_text(300) + b"\r\n")
    c.s(b"535 " + evil_text(100) + b"\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 " + evil_text(50) + b"\r\n")
    c.close(0)
    w.close()


class Conn6(Conn):
    """The same connection over IPv6 (2001:db8::1 -> 2001:db8::2)."""

    def __init__(self, w, **kw):
        Conn.__init__(self, w, **kw)
        self.cip6 = bytes.fromhex("20010db8000000000000000000000001")
        self.sip6 = bytes.fromhex("20010db8000000000000000000000002")

    def frame(self, d, flags, payload=b"", seq=None):
        src, dst = (self.cip6, self.sip6) if d == 0 else (self.sip6, self.cip6)
        sp, dp = (self.cport, self.sport) if d == 0 else (self.sport, self.cport)
        s = self.seq[d] if seq is None else seq
        ack = self.seq[1 - d] if flags & ACK else 0
        hdr = struct.pack("!HHIIBBHHH", sp, dp, s & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                          flags, 65535, 0, 0)
        seg_len = 20 + len(payload)
        pseudo = sum16(src + dst) + seg_len + 6
        csum = (~fold(pseudo + sum16(hdr + payload))) & 0xFFFF
        seg = hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload
        ip6 = struct.pack("!IHBB", 6 << 28, seg_len, 6, 64) + src + dst
        return ETH_HDR[:12] + b"\x86\xdd" + ip6 + seg


def case_ipv6_session(path):
    w = Pcap(path)
    normal_session(Conn6(w))
    w.close()


GIANT_SEGMENT_SESSIONS = 700
GIANT_SEGMENT_BYTES = 64000


def giant_segment(first, filler, partial):
    """A 64,000-byte segment: one line far over the line cap, then a
    partial line of about 4 KB that no LF ever ends."""
    tail = partial + filler * (3998 - len(partial))
    head = first + filler * (GIANT_SEGMENT_BYTES - len(first) - 2 - len(tail)) + b"\r\n"
    return head + tail


def case_giant_segments(path):
    """700 sessions open at once, each with one 64,000-byte segment in each
    direction (as a capture taken on a host with segmentation offload has
    them); every other session then ends its partial lines and quits, the
    rest stay silent to the end.  libnids sizes a buffer at twice such a
    segment and never shrinks it: kept, that is 700 x 2 x 125 KiB."""
    w = Pcap(path)
    conns = [Conn(w, cip="10.1.%d.%d" % (i // 250, i % 250 + 1), cport=20000 + i)
             for i in range(GIANT_SEGMENT_SESSIONS)]
    for c in conns:
        c.handshake()
        c.s(b"220 mx.hostile.test ESMTP\r\n")
        c.c(b"EHLO client.hostile.test\r\n")
        c.s(b"250 mx.hostile.test\r\n")
    for c in conns:
        c.segment(0, giant_segment(b"NOOP ", b"x", b"NOOP "))
        c.ack(1)
        c.segment(1, giant_segment(b"250-", b"y", b"250 "))
        c.ack(0)
    # Every other session then ends both partial lines and says goodbye,
    # so a buffer cut down to its partial line must grow again.
    for c in conns[::2]:
        c.segment(0, b"\r\nQUIT\r\n")
        c.ack(1)
        c.segment(1, b"\r\n221 2.0.0 Bye\r\n")
        c.ack(0)
        c.close(1)
    w.close()


def case_pcapng_big_frames(path):
    """pcapng packets longer than the pcap reader's bound: 8 sessions, each
    with one client segment of 300,000 or 900,000 bytes in a frame whose
    IPv4 total length is 0 (a sender's offload frame, too long for the
    field), then QUIT and the close."""
    frames = []

    class Grab:
        t = T0

        def record(self, frame):
            Grab.t += 0.0001
            frames.append((Grab.t, frame))

    for i in range(8):
        c = Conn(Grab(), cport=30000 + i)
        c.handshake()
        c.s(b"220 mx.hostile.test ESMTP\r\n")
        c.c(b"EHLO client.hostile.test\r\n")
        c.s(b"250 mx.hostile.test\r\n")
        body = b"NOOP " + b"b" * (900000 if i % 2 else 300000) + b"\r\n"
        seg = tcp(c.cip, c.sip, c.cport, c.sport, c.seq[0], c.seq[1], PSH | ACK, body)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 7, 0, 64, 6, 0, c.cip, c.sip)
        hdr = hdr[:10] + struct.pack("!H", (~fold(sum16(hdr))) & 0xFFFF) + hdr[12:]
        c.emit(ETH_HDR + hdr + seg)
        c.seq[0] += len(body)
        c.ack(1)
        c.s(b"250 2.0.0 Ok\r\n")
        c.c(b"QUIT\r\n")
        c.s(b"221 2.0.0 Bye\r\n")
        c.close(0)
    out = bytearray()
    out += pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
    for t, frame in frames:
        us = int(t * 1e6)
        body = struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(frame), len(frame))
        out += pcapng_block(6, body + frame + b"\x00" * ((-len(frame)) % 4))
    with open(path, "wb") as f:
        f.write(out)


CASES = {
    "long-client-line": case_long_client_line,
    "long-server-line": case_long_server_line,
    "syn-flood": case_syn_flood,
    "pipeline-100k": case_pipeline_100k,
    "bdat-hostile": case_bdat_hostile,
    "caplen-gt-snaplen": case_caplen_gt_snaplen,
    "len-lt-caplen": case_len_lt_caplen,
    "giant-caplen": case_giant_caplen,
    "cut-mid-record": case_cut_mid_record,
    "zero-length": case_zero_length,
    "pcapng-unknown-blocks": case_pcapng_unknown_blocks,
    "ip-fragments": case_ip_fragments,
    "tcp-overlap": case_tcp_overlap,
    "control-bytes": case_control_bytes,
    "ipv6-session": case_ipv6_session,
    "giant-segments": case_giant_segments,
    "pcapng-big-frames": case_pcapng_big_frames,
}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.stderr.write(__doc__)
        return 1
    CASES[sys.argv[1]](sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Build the fuzz seed corpora from the real captures in pcaps/ (stdlib only).

usage: tests/fuzz/make_corpus.py [PCAP_DIR] [OUT_DIR]
       (defaults: pcaps tests/fuzz/corpus)

Writes, for every real-*.pcap:
  parse/<name>-c<N>     client byte stream of connection N (line mode; bit 3
                        set so DATA commands switch the parser to DATA mode)
  parse/<name>-s<N>     server byte stream of connection N
  session/<name>-<N>    the conversation of connection N as turns (runs of
                        same-direction payload, in capture order) joined by
                        the fuzz_session separator, first turn's side in byte 0
  pcap/<name>.pcap      the capture itself
plus a few hand-made parse seeds (BDAT sizes, a long line, dot-stuffing),
truncated / pcapng variants of two captures and the small hand-built
hostile captures of tests/hostile/gen.py (IPv6, fragments, overlaps,
pcapng blocks, damaged records) for fuzz_pcap.
Byte layouts are documented at the top of each fuzz_*.c harness.
Retransmitted bytes are dropped by tracking the next expected sequence
number per direction, so streams are what the application saw.
"""
import os
import shutil
import struct
import subprocess
import sys

SMTP_PORTS = (25, 465, 587)
SEP = b"\xff\xff\xff\xff"


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _ts, _frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:
            if len(pkt) < 14 or struct.unpack(">H", pkt[12:14])[0] != 0x0800:
                continue
            ip = pkt[14:]
        else:
            continue
        if len(ip) < 20 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport, seq, _ack, offflags = struct.unpack(">HHIIH", tcp[:14])
        thl = (offflags >> 12) * 4
        yield ip[12:16], sport, ip[16:20], dport, seq, offflags & 0x3F, tcp[thl:]


def conversations(path):
    """Per connection, the list of (dir, bytes) in capture order, dir 0 client."""
    conns = {}
    order = []
    for src, sport, dst, dport, seq, flags, payload in packets(path):
        if dport in SMTP_PORTS:
            key, d = (src, sport, dst, dport), 0
        elif sport in SMTP_PORTS:
            key, d = (dst, dport, src, sport), 1
        else:
            continue
        if flags & 0x02 and not flags & 0x10:       # a client SYN: new connection
            if key in conns and conns[key]["turns"]:
                key = key + (len(order),)
        c = conns.get(key)
        if c is None:
            c = conns[key] = {"next": [None, None], "turns": []}
            order.append(key)
        if flags & 0x02:
            c["next"][d] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        nxt = c["next"][d]
        if nxt is not None:
            skip = (nxt - seq) & 0xFFFFFFFF
            if skip >= 0x80000000:          # a hole: take it as it comes
                skip = 0
            if skip >= len(payload):
                continue                    # retransmission
            payload = payload[skip:]
            seq = (seq + skip) & 0xFFFFFFFF
        c["next"][d] = (seq + len(payload)) & 0xFFFFFFFF
        turns = c["turns"]
        if turns and turns[-1][0] == d:
            turns[-1][1].extend(payload)
        else:
            turns.append((d, bytearray(payload)))
    return [conns[k]["turns"] for k in order if conns[k]["turns"]]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def hand_seeds(out):
    seeds = {
        "hand-bdat-max": b"\x00\x11BDAT 18446744073709551615\r\nBDAT 18446744073709551616\r\n"
                         b"BDAT -1\r\nBDAT 12x\r\nBDAT 5 LAST\r\nhello"
                         b"BDAT 0 LAST\r\nQUIT\r\n",
        "hand-bdat-mode": b"\x04\x07" + struct.pack(">Q", 10) + b"0123456789QUIT\r\n",
        "hand-data-mode": b"\x02\x05Subject: x\r\n\r\n..stuffed\r\n.\r\n.x\r\n\n.\r\n"
                          b"\r\n.\r\nQUIT\r\n",
        "hand-long-line": b"\x00\x3d" + b"MAIL FROM:<" + b"a" * 9000 + b">\r\nQUIT\r\n",
        "hand-long-reply": b"\x01\x3e250-" + b"b" * 8500 + b"\r\n250 OK\r\n",
        "hand-replies": b"\x01\x01220-mx ESMTP\r\n220 ready\r\n250-8BITMIME\n250 2.0.0 OK\r\n"
                        b"550 5.7.1 <x>: denied\r\n451 4.3.0 Try later\r\n354 go\r\n"
                        b"2\r\n25x oops\r\n999-\r\n250-a\r\n251 b\r\n221 2.0.0 Bye",
        "hand-nul-esc": b"\x00\x02EHLO \x00\x1b[31mred\x1b]0;title\x07\r\nNOOP \xc3\x28\xc2\x9b\r\n",
    }
    for name, data in seeds.items():
        write(os.path.join(out, "parse", name), data)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "pcaps"
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/fuzz/corpus"
    for sub in ("parse", "session", "pcap"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    names = sorted(n for n in os.listdir(src) if n.startswith("real-") and n.endswith(".pcap"))
    for n in names:
        path = os.path.join(src, n)
        base = n[len("real-"):-len(".pcap")]
        shutil.copyfile(path, os.path.join(out, "pcap", n))
        tls = 1 if "465" in n else 0
        for i, turns in enumerate(conversations(path)):
            client = b"".join(bytes(t) for d, t in turns if d == 0)
            server = b"".join(bytes(t) for d, t in turns if d == 1)
            if client:
                write(os.path.join(out, "parse", "%s-c%d" % (base, i)),
                      bytes([0x08, i * 37 & 0xFF]) + client)
            if server:
                write(os.path.join(out, "parse", "%s-s%d" % (base, i)),
                      bytes([0x01, i * 41 & 0xFF]) + server)
            # fuzz_session: turns must alternate; capture order already does.
            flags = tls | (0x08 if turns[0][0] == 0 else 0)
            body = SEP.join(bytes(t) for _d, t in turns)
            write(os.path.join(out, "session", "%s-%d" % (base, i)),
                  bytes([flags, i & 0xFF]) + body)
    hand_seeds(out)
    # Truncated captures (mid-record) and pcapng variants for fuzz_pcap.
    for n, cut in (("real-bdat.pcap", 1500), ("real-concurrent.pcap", 7001)):
        with open(os.path.join(src, n), "rb") as f:
            data = f.read()
        write(os.path.join(out, "pcap", "cut-%d-%s" % (cut, n)), data[:cut])
    # The small hand-built hostile captures (tests/hostile/gen.py) as seeds.
    gen = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile", "gen.py")
    for case in ("bdat-hostile", "zero-length", "pcapng-unknown-blocks", "ip-fragments",
                 "tcp-overlap", "ipv6-session", "giant-caplen", "cut-mid-record",
                 "len-lt-caplen", "caplen-gt-snaplen"):
        subprocess.run([sys.executable, gen, case,
                        os.path.join(out, "pcap", "synth-%s.pcap" % case)], check=True)
    if shutil.which("editcap"):
        for n in ("real-starttls.pcap", "real-pipelining.pcap"):
            subprocess.run(["editcap", "-F", "pcapng", os.path.join(src, n),
                            os.path.join(out, "pcap", n[:-5] + ".pcapng")], check=True)


if __name__ == "__main__":
    main()

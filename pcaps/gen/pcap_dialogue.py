#!/usr/bin/env python3
"""Print the TCP flags and payload of a loopback pcap, one line per segment.

A verification aid for the captures in pcaps/ (stdlib only; classic pcap,
Ethernet link type as written by tcpdump on Linux "lo", IPv4 only).

usage: pcap_dialogue.py FILE.pcap [--hex]
"""
import struct
import sys


def segments(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    t0 = None
    while off + 16 <= len(data):
        ts, tfrac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = ts + tfrac / 1e6
        if t0 is None:
            t0 = t
        if linktype == 1:
            if struct.unpack(">H", pkt[12:14])[0] != 0x0800:
                continue
            ip = pkt[14:]
        elif linktype == 113:     # Linux cooked
            ip = pkt[16:]
        else:
            ip = pkt
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        src = ".".join(map(str, ip[12:16]))
        dst = ".".join(map(str, ip[16:20]))
        tcp = ip[ihl:total]
        sport, dport, seq, ack, offflags = struct.unpack(">HHIIH", tcp[:14])
        thl = (offflags >> 12) * 4
        flags = offflags & 0x3F
        payload = tcp[thl:]
        yield t - t0, src, sport, dst, dport, flags, payload


def flagstr(fl):
    return "".join(c for c, b in zip("FSRPAU", range(6)) if fl & (1 << b)) or "."


def main():
    path = sys.argv[1]
    for t, src, sport, dst, dport, flags, payload in segments(path):
        arrow = "C>S" if dport in (25, 465, 587) else "S>C"
        head = "%8.3f %s %s:%d>%s:%d %-3s" % (t, arrow, src, sport, dst, dport,
                                             flagstr(flags))
        if not payload:
            print(head)
            continue
        if payload[:1] in (b"\x16", b"\x17", b"\x14", b"\x15") and b"\r\n" not in payload[:64]:
            print(head, "[TLS record(s), %d octets]" % len(payload))
            continue
        print(head, "%r" % payload if len(payload) <= 300 or "--hex" in sys.argv
              else "%r ... (%d octets)" % (payload[:300], len(payload)))


if __name__ == "__main__":
    main()

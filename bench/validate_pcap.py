#!/usr/bin/python3
"""bench/validate_pcap.py - sanity checker for captures written by bench/gen.

Reads a classic pcap (Ethernet/IPv4/TCP) with the standard library only and
checks, per connection: IPv4 and TCP checksums, global timestamp order, a
SYN / SYN-ACK / ACK handshake, contiguous sequence numbers in each direction,
ACK numbers that never exceed what the peer has sent, and how the session
ended.  Also reports the peak number of connections open at once.
Usage: validate_pcap.py FILE.pcap   (exit status 1 on any problem)
"""
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def packets(path):
    with open(path, "rb") as f:
        magic = f.read(24)[:4]
        endian = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">"
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, usec, caplen, _ = struct.unpack(endian + "IIII", h)
            yield sec * 1000000 + usec, f.read(caplen)


class Flow:
    def __init__(self):
        self.nxt = [None, None]   # next expected seq per direction (0=c2s)
        self.state = "syn"
        self.flags_seen = []


def check_frame(fr, errors, n):
    ip = fr[14:]
    ihl = (ip[0] & 15) * 4
    if csum(ip[:ihl]) != 0xFFFF:
        errors.append("pkt %d: bad IP checksum" % n)
    tot = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:tot]
    pseudo = ip[12:20] + struct.pack("!HH", 6, len(tcp))
    if csum(pseudo + tcp) != 0xFFFF:
        errors.append("pkt %d: bad TCP checksum" % n)
    return ip, ihl, tcp


def track(flows, ip, tcp, n, errors, open_now):
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
    plen = len(tcp) - (off >> 4) * 4
    key = (ip[12:16], sport, ip[16:20], dport)
    rkey = (ip[16:20], dport, ip[12:16], sport)
    if flags & 0x02 and not flags & 0x10:
        flows[key] = f = Flow()
        f.nxt[0] = (seq + 1) & 0xFFFFFFFF
        open_now[0] += 1
        return
    d, f = (0, flows.get(key)) if key in flows else (1, flows.get(rkey))
    if f is None:
        errors.append("pkt %d: packet for unknown flow" % n)
        return
    if flags & 0x02:
        f.nxt[1] = (seq + 1) & 0xFFFFFFFF
        if ack != f.nxt[0]:
            errors.append("pkt %d: SYN/ACK acks wrong seq" % n)
        return
    if seq != f.nxt[d]:
        errors.append("pkt %d: seq gap/overlap dir %d (%d != %d)" % (n, d, seq, f.nxt[d]))
    if flags & 0x10 and ack != f.nxt[1 - d] and \
            ((f.nxt[1 - d] - ack) & 0xFFFFFFFF) > 0x7FFFFFFF:
        errors.append("pkt %d: ack beyond peer data" % n)
    f.nxt[d] = (seq + plen + (1 if flags & 0x01 else 0)) & 0xFFFFFFFF
    if flags & 0x05:
        f.flags_seen.append(("F" if flags & 1 else "R") + "cs"[d])
    done = "R" in "".join(f.flags_seen) or \
        ("Fc" in f.flags_seen and "Fs" in f.flags_seen and not flags & 0x01)
    if done and f.state != "done":
        f.state = "done"
        open_now[0] -= 1


def main(path):
    flows, errors, open_now = {}, [], [0]
    last_ts, peak, n = 0, 0, 0
    for ts, fr in packets(path):
        n += 1
        if ts < last_ts:
            errors.append("pkt %d: timestamp goes backwards" % n)
        last_ts = ts
        ip, _, tcp = check_frame(fr, errors, n)
        track(flows, ip, tcp, n, errors, open_now)
        peak = max(peak, open_now[0])
    unfinished = sum(1 for f in flows.values() if f.state != "done")
    print("packets=%d flows=%d unfinished=%d peak_open=%d errors=%d"
          % (n, len(flows), unfinished, peak, len(errors)))
    for e in errors[:20]:
        print("  " + e)
    return 1 if errors or unfinished else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

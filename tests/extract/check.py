#!/usr/bin/env python3
"""check.py - independent checks of one --extract directory against its capture.

Usage: check.py PCAP DIR

Reads the capture itself (classic pcap, Ethernet or Linux SLL, IPv4/IPv6,
TCP; no libpcap, no smtpscope code), reassembles the client's byte stream
by sequence number, and takes from it what the client sent: the MAIL and
RCPT arguments and the message content after DATA up to CRLF "." CRLF,
with dot-stuffing undone (RFC 5321 4.5.2).  Then it checks that DIR holds
exactly one .eml and its .json for that message, that the .eml bytes are
that content, and that the sidecar parses, has its keys in the documented
order, and carries the same envelope, size and SHA-256.

Prints one "ok"/"FAIL" line per check and exits 1 if any failed.
"""
import hashlib
import json
import os
import struct
import sys

SIDE_KEYS = ["session", "message", "file", "size", "sha256", "mail_from", "rcpt_to",
             "content_start", "content_end", "final_reply", "parse", "headers",
             "attachments", "attachments_dropped"]
SMTP_PORTS = (25, 587, 2525)


def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield linktype, data[off:off + incl]
        off += incl


def tcp_segment(linktype, frame):
    """(sport, dport, seq, payload) of a TCP segment, or None."""
    if linktype == 1:
        etype, off = struct.unpack(">H", frame[12:14])[0], 14
        while etype in (0x8100, 0x88A8):
            etype, off = struct.unpack(">H", frame[off + 2:off + 4])[0], off + 4
    elif linktype == 113:
        etype, off = struct.unpack(">H", frame[14:16])[0], 16
    else:
        return None
    if etype == 0x0800:
        ihl = (frame[off] & 15) * 4
        total = struct.unpack(">H", frame[off + 2:off + 4])[0]
        if frame[off + 9] != 6:
            return None
        ip_end, off = off + total, off + ihl
    elif etype == 0x86DD:
        plen = struct.unpack(">H", frame[off + 4:off + 6])[0]
        if frame[off + 6] != 6:
            return None
        ip_end, off = off + 40 + plen, off + 40
    else:
        return None
    sport, dport, seq = struct.unpack(">HHI", frame[off:off + 8])
    doff = (frame[off + 12] >> 4) * 4
    return sport, dport, seq, frame[off + doff:ip_end]


def client_stream(path):
    segs = {}
    for linktype, frame in packets(path):
        t = tcp_segment(linktype, frame)
        if t is None or t[1] not in SMTP_PORTS or not t[3]:
            continue
        segs.setdefault(t[2], t[3])
    out, nxt = b"", None
    for seq in sorted(segs):
        p = segs[seq]
        if nxt is not None and seq < nxt:
            p = p[nxt - seq:]
        out += p
        nxt = max(nxt or 0, seq + len(segs[seq]))
    return out


def envelope_and_content(stream):
    lines = stream.split(b"\r\n")
    mail, rcpts, i = None, [], 0
    while i < len(lines):
        verb = lines[i][:4].upper()
        if verb == b"MAIL":
            mail, rcpts = lines[i][5:].decode(), []
        elif verb == b"RCPT":
            rcpts.append(lines[i][5:].decode())
        elif lines[i].upper() == b"DATA":
            break
        i += 1
    body = []
    for line in lines[i + 1:]:
        if line == b".":
            break
        body.append(line[1:] if line.startswith(b".") else line)
    return mail, rcpts, b"".join(x + b"\r\n" for x in body)


def main():
    pcap, out = sys.argv[1], sys.argv[2]
    failed = 0

    def check(ok, what):
        nonlocal failed
        print(("ok    " if ok else "FAIL  ") + what)
        failed += 0 if ok else 1

    mail, rcpts, content = envelope_and_content(client_stream(pcap))
    names = sorted(os.listdir(out))
    check(names == ["session-1-msg-1.eml", "session-1-msg-1.json"], "DIR holds %s" % names)
    if failed:
        return 1
    eml = open(os.path.join(out, names[0]), "rb").read()
    check(len(content) > 0 and eml == content, ".eml equals the content the client sent")
    side = json.load(open(os.path.join(out, names[1]), encoding="utf-8"))
    check(list(side) == SIDE_KEYS, "sidecar keys in order")
    check(side["mail_from"] == mail, "mail_from %r == %r" % (side["mail_from"], mail))
    check([r["arg"] for r in side["rcpt_to"]] == rcpts, "rcpt_to args == %r" % rcpts)
    check(all(r["code"] == 250 for r in side["rcpt_to"]), "every RCPT got 250")
    check(side["size"] == len(eml) and side["sha256"] == hashlib.sha256(eml).hexdigest(),
          "size and sha256 of the .eml")
    check(side["final_reply"] is not None and side["final_reply"]["code"] == 250,
          "final reply 250")
    check(side["content_start"] <= side["content_end"], "content_start <= content_end")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Helpers for pcaps/gen/make-layouts.sh (stdlib only, /usr/bin/python3).

usage:
  layouts.py bigendian IN.pcap OUT.pcap
      Rewrite a little-endian classic pcap file in big-endian byte order
      (global header and every record header; packet bytes unchanged).
  layouts.py encap mpls|pppoe IN.pcap OUT.pcap
      Wrap every IPv4/IPv6 Ethernet frame of a little-endian classic pcap
      (link type 1) in an MPLS label stack (ethertype 0x8847, labels
      16001 and 100, bottom-of-stack on 100, TTL 64) or a PPPoE session
      header (ethertype 0x8864, ver 1 type 1 code 0, session 0x1234,
      PPP protocol 0x0021/0x0057).  The SMTP/TCP/IP bytes are unchanged.
  layouts.py tunwire TUN_A NETNS TUN_B READY_FILE
      Create tun device TUN_A (IFF_TUN|IFF_NO_PI) in the current network
      namespace and TUN_B in namespace NETNS (/run/netns/NETNS), then copy
      every IP packet read from one to the other until SIGTERM/SIGINT.
      A point-to-point "cable" between two kernel IP stacks; the packets
      themselves are made by the kernels.  READY_FILE is written when both
      devices exist.
"""
import ctypes
import fcntl
import os
import select
import signal
import struct
import sys

# ------------------------------------------------------------ pcap I/O


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit("%s: not a little-endian classic pcap" % path)
    hdr = struct.unpack("<IHHiIII", data[:24])
    recs = []
    off = 24
    while off + 16 <= len(data):
        rh = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + rh[2]]
        recs.append((rh, pkt))
        off += 16 + rh[2]
    return hdr, recs


def write_pcap(path, hdr, recs, e="<"):
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", *hdr))
        for rh, pkt in recs:
            f.write(struct.pack(e + "IIII", *rh))
            f.write(pkt)


def cmd_bigendian(src, dst):
    hdr, recs = read_pcap(src)
    write_pcap(dst, hdr, recs, ">")


def mpls_entry(label, s, ttl=64, tc=0):
    return struct.pack(">I", (label << 12) | (tc << 9) | (s << 8) | ttl)


def cmd_encap(kind, src, dst):
    hdr, recs = read_pcap(src)
    if hdr[6] != 1:
        raise SystemExit("%s: link type %d, need 1 (Ethernet)" % (src, hdr[6]))
    out = []
    for (ts, tf, incl, orig), pkt in recs:
        etype = struct.unpack(">H", pkt[12:14])[0] if len(pkt) >= 14 else 0
        if etype in (0x0800, 0x86DD):
            payload = pkt[14:]
            if kind == "mpls":
                shim = (struct.pack(">H", 0x8847)
                        + mpls_entry(16001, 0) + mpls_entry(100, 1))
            else:
                ppp_proto = 0x0021 if etype == 0x0800 else 0x0057
                # PPPoE length = PPP protocol field + PPP payload, from the
                # original (untruncated) frame length
                plen = 2 + (orig - 14)
                shim = (struct.pack(">H", 0x8864)
                        + struct.pack(">BBHH", 0x11, 0x00, 0x1234, plen)
                        + struct.pack(">H", ppp_proto))
            grow = len(shim) - 2
            pkt = pkt[:12] + shim + payload
            incl += grow
            orig += grow
        out.append(((ts, tf, incl, orig), pkt))
    write_pcap(dst, hdr, out)

# ------------------------------------------------------------ tun wire

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


def tun_open(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def cmd_tunwire(name_a, netns, name_b, ready):
    a = tun_open(name_a)
    libc = ctypes.CDLL(None, use_errno=True)
    nsfd = os.open("/run/netns/" + netns, os.O_RDONLY)
    if libc.setns(nsfd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + netns)
    os.close(nsfd)
    b = tun_open(name_b)
    with open(ready, "w") as f:
        f.write("ok\n")
    running = [True]

    def stop(*_):
        running[0] = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    peer = {a: b, b: a}
    while running[0]:
        try:
            r, _, _ = select.select([a, b], [], [], 0.5)
        except InterruptedError:
            continue
        for fd in r:
            try:
                pkt = os.read(fd, 65536)
                os.write(peer[fd], pkt)
            except OSError:
                pass   # e.g. peer not up yet (EIO): drop, like a cable


def main(argv):
    if len(argv) == 3 and argv[0] == "bigendian":
        cmd_bigendian(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "encap" and argv[1] in ("mpls", "pppoe"):
        cmd_encap(argv[1], argv[2], argv[3])
    elif len(argv) == 5 and argv[0] == "tunwire":
        cmd_tunwire(*argv[1:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Writes a classic pcap to standard output: the records of PCAP (classic,
either byte order) COUNT times over, each copy STEP seconds after the one
before, so that a reader sees a long capture of the same conversations.

    repeat.py PCAP COUNT STEP
"""
import struct
import sys


def main():
    data = open(sys.argv[1], "rb").read()
    count, step = int(sys.argv[2]), int(sys.argv[3])
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out = sys.stdout.buffer
    out.write(data[:24])
    for i in range(count):
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, orig = struct.unpack(order + "IIII", data[off:off + 16])
            out.write(struct.pack(order + "IIII", sec + i * step, frac, incl, orig))
            out.write(data[off + 16:off + 16 + incl])
            off += 16 + incl
    out.flush()


if __name__ == "__main__":
    main()

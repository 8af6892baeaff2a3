#!/usr/bin/env python3
"""Compare a live capture's records with the offline records of the same
traffic: sessions, their exchanges (command and reply code sequences) and
close labels must be equal; banner and reply latencies within TOL_MS.
Fields that depend on the capture (times, ports chosen by tcpreplay's
rewrite: none here) are not compared.  Usage: compare.py OFFLINE LIVE TOL_MS
Exit 0 when they agree, 1 when sessions or their shapes differ, 3 when
only latencies differ: tcpreplay's own pacing jitters on a loaded machine,
so the caller may replay again for that, never for a shape difference.
"""
import json
import sys


def sessions(path):
    out = []
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if o["type"] == "session":
                out.append(o)
    out.sort(key=lambda s: (s["client"]["ip"], s["client"]["port"]))
    return out


def shape(s):
    return (s["close"], [(x["cmd"], x["code"]) for x in s["exchanges"]],
            (s["greeting"] or {}).get("code"))


def main():
    offline, live, tol = sessions(sys.argv[1]), sessions(sys.argv[2]), float(sys.argv[3])
    problems, timing = [], []
    if len(offline) != len(live):
        problems.append(f"{len(live)} live sessions, {len(offline)} offline")
    for a, b in zip(offline, live):
        if shape(a) != shape(b):
            problems.append(f"session {a['client']['port']}: offline {shape(a)} live {shape(b)}")
            continue
        if a["banner_ms"] is not None and b["banner_ms"] is not None and \
                abs(a["banner_ms"] - b["banner_ms"]) > tol:
            timing.append(f"banner {a['banner_ms']} vs {b['banner_ms']} ms")
    for p in problems + timing:
        print("   ", p)
    return 1 if problems else 3 if timing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compare smtpscope's reply codes per TCP stream with tshark's reading.

Usage: compare.py SMTPSCOPE_JSONL TSHARK_TSV EXCEPTIONS_TSV CAPTURE_NAME
For every stream tshark decoded as SMTP, the sequence of reply codes
(one per reply; tshark already folds multi-line replies) must equal the
codes smtpscope gives for the session with the same client port: the
greeting, then every exchange's reply in order.  A stream listed in the
exceptions file (capture, client port, reason) is reported, not failed.
Exit 0 when all agree.
"""
import json
import sys


def tshark_streams(path):
    streams = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = {name: i for i, name in enumerate(header)}
        for line in f:
            row = line.rstrip("\n").split("\t")
            if len(row) < len(header):
                row += [""] * (len(header) - len(row))
            sid = row[col["tcp.stream"]]
            s = streams.setdefault(sid, {"codes": [], "ports": set()})
            s["ports"].add(int(row[col["tcp.srcport"]] or 0))
            codes = row[col["smtp.response.code"]]
            if codes:
                s["codes"] += [int(c) for c in codes.split(",") if c]
    return streams


def our_sessions(path):
    sessions = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if o["type"] != "session":
                continue
            codes = []
            if o["greeting"]:
                codes.append(o["greeting"]["code"])
            codes += [x["code"] for x in o["exchanges"] if x["code"] is not None]
            sessions[o["client"]["port"]] = (o["server"]["port"], codes)
    return sessions


def main():
    ours_path, tshark_path, exceptions_path, name = sys.argv[1:5]
    exceptions = {}
    with open(exceptions_path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                cap, port, reason = line.rstrip("\n").split("\t", 2)
                exceptions[(cap, int(port))] = reason
    ours = our_sessions(ours_path)
    server_ports = {sp for sp, _ in ours.values()}
    bad = 0
    for sid, s in sorted(tshark_streams(tshark_path).items()):
        if not s["codes"]:
            continue
        clients = [p for p in s["ports"] if p not in server_ports and p not in (25, 465, 587, 2525)]
        port = clients[0] if clients else None
        mine = ours.get(port, (None, None))[1]
        if mine == s["codes"]:
            print(f"  agree  {name} stream {sid} client port {port}: {len(mine)} replies")
            continue
        reason = exceptions.get((name, port))
        if reason:
            print(f"  known  {name} stream {sid} client port {port}: {reason}")
            continue
        print(f"  DIFFER {name} stream {sid} client port {port}:\n"
              f"         tshark    {s['codes']}\n         smtpscope {mine}")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compare smtpscope's reading of a distorted capture with the original's.

Part of the "wild" test level (tests/wild/run.sh).  Both inputs are the
JSON Lines smtpscope writes with `-q -r FILE --json -`.  Session records
are matched by client ip+port and order of appearance; per session the
greeting, the exchanges (cmd, arg, code, enhanced, text, lines, size),
messages_attempted, messages_accepted, message_bytes, the close label and
the flags must be the same, flags the distortion may add left out
(--allow-flag).  With --timing, t_ms, latency_ms, banner_ms and connect_ms
must agree within 1 ms and start/end within 0.001 s.  With --report (the
sidecar of `distort.py --mode drop-body-segment`), the session that lost
bytes must carry flag stream_gap and "gap_bytes": {"client": N,
"server": M} equal to what was dropped, and every other session must not
carry stream_gap.

usage: compare.py [--timing] [--allow-flag F]... [--report FILE]
                  ORIGINAL.jsonl DISTORTED.jsonl
Prints one problem per line; exit 0 when there is none, 1 otherwise,
2 when an input cannot be read.
"""
import argparse
import json
import sys

EXCHANGE_KEYS = ("cmd", "arg", "code", "enhanced", "text", "lines", "size")
GREETING_KEYS = ("code", "enhanced", "text", "lines")
COUNT_KEYS = ("messages_attempted", "messages_accepted", "message_bytes",
              "close")
MS = 1.0            # tolerance of *_ms fields, milliseconds
SECONDS = 0.001     # tolerance of start/end, seconds


def load(path):
    sessions = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise SystemExit("compare: %s:%d: %s" % (path, n, e))
            if rec.get("type") == "session":
                sessions.append(rec)
    return sessions


def keyed(sessions):
    out, seen = {}, {}
    order = []
    for s in sessions:
        c = (s["client"]["ip"], s["client"]["port"])
        n = seen.get(c, 0)
        seen[c] = n + 1
        out[c + (n,)] = s
        order.append(c + (n,))
    return out, order


def name(k):
    return "%s:%d%s" % (k[0], k[1], "" if k[2] == 0 else " #%d" % (k[2] + 1))


def close_enough(a, b, tol):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol + 1e-9


def compare_session(k, a, b, allow, timing, problems):
    where = name(k)
    ga, gb = a.get("greeting"), b.get("greeting")
    if (ga is None) != (gb is None):
        problems.append("%s: greeting %s, distorted %s" % (where, ga, gb))
    elif ga is not None:
        for f in GREETING_KEYS:
            if ga.get(f) != gb.get(f):
                problems.append("%s: greeting %s %r, distorted %r"
                                % (where, f, ga.get(f), gb.get(f)))
    xa, xb = a.get("exchanges", []), b.get("exchanges", [])
    for i in range(max(len(xa), len(xb))):
        if i >= len(xa) or i >= len(xb):
            extra = xb[i] if i >= len(xa) else xa[i]
            problems.append("%s: %d exchanges, distorted %d (first %s: %s %s)"
                            % (where, len(xa), len(xb),
                               "extra" if i >= len(xa) else "missing",
                               extra.get("cmd"), extra.get("code")))
            break
        ea, eb = xa[i], xb[i]
        diff = [f for f in EXCHANGE_KEYS if ea.get(f) != eb.get(f)]
        if diff:
            problems.append("%s: exchange %d (%s): %s" % (
                where, i, ea.get("cmd"), ", ".join(
                    "%s %r, distorted %r" % (f, ea.get(f), eb.get(f))
                    for f in diff)))
            break                   # the rest usually follows from this one
        if timing:
            for f in ("t_ms", "latency_ms"):
                if not close_enough(ea.get(f), eb.get(f), MS):
                    problems.append("%s: exchange %d (%s) %s %s, distorted %s"
                                    % (where, i, ea.get("cmd"), f,
                                       ea.get(f), eb.get(f)))
    for f in COUNT_KEYS:
        if a.get(f) != b.get(f):
            problems.append("%s: %s %r, distorted %r"
                            % (where, f, a.get(f), b.get(f)))
    fa = sorted(set(a.get("flags", [])) - allow)
    fb = sorted(set(b.get("flags", [])) - allow)
    if fa != fb:
        problems.append("%s: flags %s, distorted %s (allowed to add: %s)"
                        % (where, fa, fb, sorted(allow) or "none"))
    if timing:
        for f in ("banner_ms", "connect_ms"):
            if not close_enough(a.get(f), b.get(f), MS):
                problems.append("%s: %s %s, distorted %s"
                                % (where, f, a.get(f), b.get(f)))
        for f in ("start", "end"):
            if not close_enough(a.get(f), b.get(f), SECONDS):
                problems.append("%s: %s %s, distorted %s"
                                % (where, f, a.get(f), b.get(f)))


def check_gaps(k, b, dropped, problems):
    """dropped: {"client": n, "server": n} for this connection, or None."""
    where = name(k)
    flags = b.get("flags", [])
    lost = dropped and (dropped.get("client") or dropped.get("server"))
    gap = b.get("gap_bytes")
    if lost:
        if "stream_gap" not in flags:
            problems.append("%s: %s bytes dropped but no flag stream_gap"
                            % (where, dropped))
        if gap is None:
            problems.append("%s: no gap_bytes field (want %s)"
                            % (where, json.dumps(dropped)))
        elif gap != {"client": dropped.get("client", 0),
                     "server": dropped.get("server", 0)}:
            problems.append("%s: gap_bytes %s, dropped %s"
                            % (where, json.dumps(gap), json.dumps(dropped)))
    else:
        if "stream_gap" in flags:
            problems.append("%s: flag stream_gap but nothing was dropped"
                            % where)
        if gap is not None and any(gap.values()):
            problems.append("%s: gap_bytes %s but nothing was dropped"
                            % (where, json.dumps(gap)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--allow-flag", action="append", default=[])
    ap.add_argument("--report")
    ap.add_argument("original")
    ap.add_argument("distorted")
    a = ap.parse_args()
    try:
        ka, order = keyed(load(a.original))
        kb, order_b = keyed(load(a.distorted))
        dropped = {}
        if a.report:
            with open(a.report) as f:
                rep = json.load(f)
            seen = {}
            for c in rep.get("connections", []):
                cl = (c["client"]["ip"], c["client"]["port"])
                n = seen.get(cl, 0)
                seen[cl] = n + 1
                dropped[cl + (n,)] = c["dropped"]
    except OSError as e:
        print("compare: %s" % e)
        return 2
    problems = []
    for k in order:
        if k not in kb:
            problems.append("%s: session missing from the distorted reading"
                            % name(k))
    for k in order_b:
        if k not in ka:
            problems.append("%s: session only in the distorted reading"
                            % name(k))
    # Relative order of the sessions both readings have.
    common_a = [k for k in order if k in kb]
    common_b = [k for k in order_b if k in ka]
    if common_a != common_b:
        problems.append("sessions come in another order")
    allow = set(a.allow_flag)
    for k in common_a:
        compare_session(k, ka[k], kb[k], allow, a.timing, problems)
        if a.report:
            check_gaps(k, kb[k], dropped.get(k), problems)
    if a.report:
        for k, d in dropped.items():
            if (d.get("client") or d.get("server")) and k not in kb:
                problems.append("%s: dropped bytes but no session" % name(k))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

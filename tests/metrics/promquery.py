#!/usr/bin/env python3
"""Asks a Prometheus server (its HTTP API, /api/v1/query) what it scraped
from smtpscope, and compares that with smtpscope's JSON records.

    promquery.py PROMETHEUS_URL JSONL SESSIONS TIMEOUT_S

Waits (at most TIMEOUT_S) until the JSON holds SESSIONS session records
and Prometheus' latest sample of sum(smtpscope_sessions_total) equals
them, then compares sessions per close label, sessions per flag, replies
per class and sessions per server, and checks that the target is up and
packets were counted.  Exit status 1 on any difference.
"""
import collections
import json
import sys
import time
import urllib.parse
import urllib.request


def query(base, expr):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def vector(base, expr, label):
    """{label value: number} of an instant vector."""
    return {s["metric"].get(label, ""): float(s["value"][1]) for s in query(base, expr)}


def scalar(base, expr):
    r = query(base, expr)
    return float(r[0]["value"][1]) if r else None


def sessions(path):
    try:
        objs = [json.loads(l) for l in open(path, encoding="utf-8")]
    except (OSError, ValueError):
        return []
    return [o for o in objs if o["type"] == "session"]


def endpoint(e):
    return f"[{e['ip']}]:{e['port']}" if ":" in e["ip"] else f"{e['ip']}:{e['port']}"


def reply_class(code):
    return f"{code // 100}xx" if 200 <= code < 600 else "other"


def main():
    base, jsonl, want_n, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    deadline = time.time() + timeout
    sess, total = [], None
    while time.time() < deadline:
        sess = sessions(jsonl)
        try:
            total = scalar(base, "sum(smtpscope_sessions_total)")
        except (OSError, RuntimeError):
            total = None
        if len(sess) == want_n and total == want_n:
            break
        time.sleep(0.5)
    diffs = []
    if len(sess) != want_n or total != want_n:
        diffs.append(f"{len(sess)} session records, Prometheus sum {total}, {want_n} wanted")

    def check(what, got, want):
        if got != want:
            diffs.append(f"{what}: Prometheus {got}, JSON {want}")

    closes = collections.Counter(o["close"] for o in sess)
    m = vector(base, "smtpscope_sessions_total", "close")
    for label in set(m) | set(closes):
        check(f"close={label}", m.get(label), closes.get(label, 0))
    flags = collections.Counter(f for o in sess for f in o["flags"])
    m = vector(base, "smtpscope_session_flags_total", "flag")
    for flag in set(m) | set(flags):
        check(f"flag={flag}", m.get(flag), flags.get(flag, 0))
    classes = collections.Counter()
    for o in sess:
        codes = [o["greeting"]["code"]] if o["greeting"] else []
        codes += [x["code"] for x in o["exchanges"] if x["code"]]
        for c in codes:
            classes[reply_class(c)] += 1
    m = vector(base, "smtpscope_replies_total", "class")
    for c in set(m) | set(classes):
        check(f"replies class={c}", m.get(c), classes.get(c, 0))
    servers = collections.Counter(endpoint(o["server"]) for o in sess)
    m = vector(base, "smtpscope_server_sessions_total", "server")
    check("sessions per server", m, {k: float(v) for k, v in servers.items()})
    check("up", scalar(base, 'up{job="smtpscope"}'), 1.0)
    packets = scalar(base, "smtpscope_packets_total")
    if not packets:
        diffs.append(f"smtpscope_packets_total is {packets}")
    for d in diffs:
        print("  differs:", d)
    print(f"  Prometheus: {dict(closes)} in {len(sess)} sessions, {packets} packets, "
          f"{len(diffs)} differences")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()

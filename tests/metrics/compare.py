#!/usr/bin/env python3
"""Compares a scrape of smtpscope's --metrics endpoint with the JSON Lines
records and summary of the same run.

    compare.py SCRAPE JSONL         every series against the records
    compare.py --same SCRAPE SCRAPE two scrapes equal, memory aside

The first form checks, for a run whose input has ended: sessions per close
label, sessions per flag, sessions per server, packets and bytes, replies
per class, messages, and the sample counts of the banner and per-command
reply latency histograms (against the summary's n).  Prints what it
compared, and each difference; exit status 1 on any difference.
"""
import collections
import json
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(path):
    """{(name, frozenset of label pairs): value} of every sample."""
    out = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise SystemExit(f"not a sample line: {line!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def by_label(samples, name, label):
    """{label value: sample value} of one metric."""
    return {dict(k[1])[label]: v for k, v in samples.items() if k[0] == name}


def one(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


# The verbs smtpscope knows (SMTP_VERB_MAP): a reply to any other command
# is timed under command="other", which the summary does not list.
VERBS = set("HELO EHLO LHLO MAIL RCPT DATA BDAT RSET VRFY EXPN HELP NOOP QUIT "
            "STARTTLS AUTH TURN ETRN ATRN SEND SOML SAML XCLIENT XFORWARD".split())


def endpoint(e):
    return f"[{e['ip']}]:{e['port']}" if ":" in e["ip"] else f"{e['ip']}:{e['port']}"


def reply_class(code):
    return f"{code // 100}xx" if 200 <= code < 600 else "other"


def compare(scrape, jsonl):
    s = parse(scrape)
    objs = [json.loads(l) for l in open(jsonl, encoding="utf-8")]
    sess = [o for o in objs if o["type"] == "session"]
    summ = [o for o in objs if o["type"] == "summary"]
    if len(summ) != 1:
        raise SystemExit(f"{len(summ)} summary records")
    summ = summ[0]
    diffs = []
    n = 0

    def check(what, got, want):
        nonlocal n
        n += 1
        if got != want:
            diffs.append(f"{what}: metrics {got}, JSON {want}")

    check("input ended", one(s, "smtpscope_input_ended"), 1)
    check("sessions open", one(s, "smtpscope_sessions_open"), 0)
    closes = collections.Counter(o["close"] for o in sess)
    m = by_label(s, "smtpscope_sessions_total", "close")
    for label in set(m) | set(closes):
        check(f"sessions close={label}", m.get(label), closes.get(label, 0))
    check("sessions, labels of the summary", sorted(m), sorted(summ["labels"]))
    flags = collections.Counter(f for o in sess for f in o["flags"])
    m = by_label(s, "smtpscope_session_flags_total", "flag")
    for flag in set(m) | set(flags):
        check(f"flag {flag}", m.get(flag), flags.get(flag, 0))
    for flag, count in summ["flag_counts"].items():
        check(f"flag {flag}, summary", m.get(flag), count)
    servers = collections.Counter(endpoint(o["server"]) for o in sess)
    m = by_label(s, "smtpscope_server_sessions_total", "server")
    if len(servers) <= 64:
        for srv in set(m) | set(servers):
            check(f"server {srv}", m.get(srv), servers.get(srv, 0))
    check("packets", one(s, "smtpscope_packets_total"), summ["packets"])
    check("bytes", one(s, "smtpscope_captured_bytes_total"), summ["captured_bytes"])
    classes = collections.Counter()
    for code, count in summ["reply_codes"].items():
        classes[reply_class(int(code))] += count
    m = by_label(s, "smtpscope_replies_total", "class")
    for c in set(m) | set(classes):
        check(f"replies {c}", m.get(c), classes.get(c, 0))
    check("messages attempted", one(s, "smtpscope_messages_attempted_total"),
          summ["messages_attempted"])
    check("messages accepted", one(s, "smtpscope_messages_accepted_total"),
          summ["messages_accepted"])
    check("banner samples", one(s, "smtpscope_banner_latency_seconds_count"),
          summ["banner"]["n"])
    m = by_label(s, "smtpscope_reply_latency_seconds_count", "command")
    want = {verb: h["n"] for verb, h in summ["reply_latency"].items() if h["n"] > 0}
    if summ["end_of_data"]["n"] > 0:
        want["end_of_data"] = summ["end_of_data"]["n"]
    other = sum(1 for o in sess for x in o["exchanges"]
                if not x["unsolicited"] and x["cmd"] is not None
                and not x["cmd"].startswith("<") and x["cmd"] not in VERBS
                and x["code"] is not None and x["latency_ms"] is not None)
    if other > 0:
        want["other"] = other
    for verb in set(m) | set(want):
        check(f"reply latency samples {verb}", m.get(verb), want.get(verb))
    return n, diffs


def same(a, b):
    x, y = parse(a), parse(b)
    memory = "smtpscope_resident_memory_bytes"
    keys = {k for k in set(x) | set(y) if k[0] != memory}
    diffs = [f"{k[0]}{dict(k[1])}: {x.get(k)} and {y.get(k)}"
             for k in sorted(keys, key=str) if x.get(k) != y.get(k)]
    return len(keys), diffs


def main():
    if sys.argv[1] == "--same":
        n, diffs = same(sys.argv[2], sys.argv[3])
    else:
        n, diffs = compare(sys.argv[1], sys.argv[2])
    for d in diffs[:20]:
        print("  differs:", d)
    print(f"  {n} compared, {len(diffs)} differ")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()

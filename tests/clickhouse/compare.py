#!/usr/bin/env python3
"""The documented ClickHouse queries' answers against smtpscope's own.

compare.py DIR
DIR holds sensor1.jsonl and sensor2.jsonl (each sensor's nested records),
all.jsonl (one run over every capture: its summary), and
result.NAME.tsv, the TabSeparated answer of each query of
docs/clickhouse-queries.sql.  Each query is recomputed here from the
nested records, by the definition written above it, and must give the
same rows; the totals must also be the summary's (the banner percentiles
within the summary histogram's resolution, docs/timing.md).  Prints one
pass/FAIL line per check.
"""
import collections
import json
import math
import sys
import time

ABNORMAL_EXCEPT = {"normal_quit", "tls_opaque", "one_sided_capture"}


def records(path):
    return [json.loads(line) for line in open(path)]


def tsv(path):
    rows = []
    for line in open(path):
        rows.append([None if f == "\\N" else f for f in line.rstrip("\n").split("\t")])
    return rows


def num(x):
    return float(x)


def nearest_rank(values, q):
    v = sorted(values)
    return v[max(1, math.ceil(q * len(v))) - 1]


def close_enough(a, b):
    return abs(float(a) - float(b)) < 1e-6


def report(ok, what):
    print(("pass  " if ok else "FAIL  ") + what)
    return ok


def main():
    d = sys.argv[1]
    sessions = [r for f in ("sensor1.jsonl", "sensor2.jsonl")
                for r in records("%s/%s" % (d, f)) if r["type"] == "session"]
    summary = records(d + "/all.jsonl")[-1]
    assert summary["type"] == "summary"
    failures = 0

    # sessions_by_label
    got = {r[0]: int(r[1]) for r in tsv(d + "/result.sessions_by_label.tsv")}
    want = collections.Counter(s["close"] for s in sessions)
    from_summary = {k: v for k, v in summary["labels"].items() if v}
    failures += not report(got == want and got == from_summary,
                           "sessions per close label: %d sessions, %s" % (
                               sum(got.values()), dict(sorted(got.items()))))
    failures += not report(sum(got.values()) == summary["sessions"],
                           "sessions in all: %d, the summary's %d" % (
                               sum(got.values()), summary["sessions"]))

    # banner_overall
    rows = tsv(d + "/result.banner_overall.tsv")
    banners = [s["banner_ms"] for s in sessions if s["banner_ms"] is not None]
    n, p50, p99, lo, hi = rows[0]
    exact = (len(banners), nearest_rank(banners, 0.5), nearest_rank(banners, 0.99),
             min(banners), max(banners))
    failures += not report(int(n) == exact[0] and all(close_enough(a, b) for a, b in
                                                      zip((p50, p99, lo, hi), exact[1:])),
                           "banner overall: n %s, p50 %s, p99 %s, min %s, max %s ms "
                           "(the records': %s)" % (n, p50, p99, lo, hi, exact))
    b = summary["banner"]

    def within_bin(summary_ms, exact_ms):
        # The summary rounds down to its bin: exact below 0.256 ms, else
        # within 1/128 above; both printed to the microsecond.
        if exact_ms < 0.256:
            return close_enough(summary_ms, exact_ms)
        return summary_ms - 0.0005 <= exact_ms <= summary_ms * (1 + 1 / 128) + 0.0015

    failures += not report(
        int(n) == b["n"] and close_enough(lo, b["min_ms"]) and close_enough(hi, b["max_ms"])
        and within_bin(b["p50_ms"], num(p50)) and within_bin(b["p99_ms"], num(p99)),
        "banner overall against the summary: n %d, p50 %s, p99 %s, min %s, max %s ms" % (
            b["n"], b["p50_ms"], b["p99_ms"], b["min_ms"], b["max_ms"]))

    # banner_by_server_hour
    groups = collections.defaultdict(list)
    for s in sessions:
        if s["banner_ms"] is not None:
            hour = time.strftime("%Y-%m-%d %H:00:00", time.gmtime(int(s["start"])))
            groups[(s["server"]["ip"], s["server"]["port"], hour)].append(s["banner_ms"])
    want = [(ip, port, hour, len(v), nearest_rank(v, 0.5), nearest_rank(v, 0.99))
            for (ip, port, hour), v in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1]))]
    got = [(r[0], int(r[1]), r[2], int(r[3]), num(r[4]), num(r[5]))
           for r in tsv(d + "/result.banner_by_server_hour.tsv")]
    same = len(got) == len(want) and all(
        g[:4] == w[:4] and close_enough(g[4], w[4]) and close_enough(g[5], w[5])
        for g, w in zip(got, want))
    failures += not report(same and len(got) > 1,
                           "banner p50/p99 per server and hour: %d groups%s" % (
                               len(got), "" if same else "; got %s, want %s" % (got[:3], want[:3])))

    # abnormal_closes_by_label_server
    counts = collections.defaultdict(lambda: [0, set()])
    for s in sessions:
        if s["close"] not in ABNORMAL_EXCEPT:
            c = counts[(s["close"], s["server"]["ip"], s["server"]["port"])]
            c[0] += 1
            c[1].add(s["sensor"])
    want = sorted(((k[0], k[1], k[2], v[0], len(v[1])) for k, v in counts.items()),
                  key=lambda r: (-r[3], r[0], r[1], r[2]))
    got = [(r[0], r[1], int(r[2]), int(r[3]), int(r[4]))
           for r in tsv(d + "/result.abnormal_closes_by_label_server.tsv")]
    abnormal_summary = sum(v for k, v in summary["labels"].items() if k not in ABNORMAL_EXCEPT)
    failures += not report(got == want and sum(r[3] for r in got) == abnormal_summary and got,
                           "abnormal closes by label and server: %d rows, %d sessions "
                           "(the summary's %d)%s" % (len(got), sum(r[3] for r in got),
                                                      abnormal_summary,
                                                      "" if got == want else "; got %s, want %s"
                                                      % (got[:3], want[:3])))

    # top_rejected_senders
    refused = collections.defaultdict(lambda: [0, set(), set()])
    for s in sessions:
        for t in s["transactions"]:
            if t["mail_from"] is None:
                continue
            codes = [r["code"] or 0 for r in t["rcpt_to"]]
            if ((t["mail_from"]["code"] or 0) >= 400 or
                    (t["reply"] is not None and t["reply"]["code"] >= 400) or
                    (codes and all(c >= 400 for c in codes))):
                r = refused[t["mail_from"]["addr"]]
                r[0] += 1
                r[1].add(s["client"]["ip"])
                r[2].add(s["server"]["ip"])
    want = sorted(((k, v[0], len(v[1]), len(v[2])) for k, v in refused.items()),
                  key=lambda r: (-r[1], r[0]))[:20]
    got = [(r[0], int(r[1]), int(r[2]), int(r[3]))
           for r in tsv(d + "/result.top_rejected_senders.tsv")]
    failures += not report(got == want and got,
                           "top refused senders: %s" % (got if got == want else
                                                        "got %s, want %s" % (got, want)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

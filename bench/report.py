#!/usr/bin/python3
"""bench/report.py - number crunching for bench/run.sh (standard library only).

Sub-commands:
  table RESULTS NAME PCAP TRUTH  median wall/RSS table for one capture
  nids TRUTH "loop_nids output"  loop_nids must see every generated session
  check TRUTH SMTPSCOPE_JSON NAME  compare smtpscope's summary line with truth
  ir PROG PACKETS TOTAL_IR EMPTY_IR  callgrind instructions per packet
  state MASSIF_OUT OPEN_SESSIONS [info]  smtpscope's own heap at its peak, per
                                 open session (checked against 1 KiB unless info)
Exit status 1 means a check failed.
"""
import glob
import json
import os
import re
import statistics
import sys

LABELS = ("normal_quit", "rst", "server_221_mid_transaction", "fin_without_quit")
ORDER = ("loop_pcap", "loop_nids", "nids_1m", "smtpscope", "scope_w2", "scope_wauto",
         "scope_1thread", "scope_pipe", "scope_kept", "scope_pcapng", "tshark")
# Captures on which --workers 2 must take at most this share of one
# process's wall time (the 2-core target; small captures are too short).
WORKERS_TARGET = {"1g": 0.7, "c50k": 0.7}


def load_runs(path, name):
    runs = {}
    with open(path) as f:
        for line in f:
            cap, prog, wall_us, rss_kb, rc, cpu_s = line.rstrip("\n").split("\t")
            if cap != name:
                continue
            r = runs.setdefault(prog, {"wall": [], "rss": [], "cpu": [], "bad": 0})
            r["wall"].append(int(wall_us) / 1e6)
            r["rss"].append(int(rss_kb) if rss_kb.isdigit() else 0)
            try:
                r["cpu"].append(float(cpu_s))
            except ValueError:
                pass
            r["bad"] += rc != "0"
    return runs


def row(prog, r, size, pkts, base):
    wall, rss = statistics.median(r["wall"]), statistics.median(r["rss"])
    ratio = ("%9.2f %9.2f" % (wall / base[0], rss / base[1])) if base else "%9s %9s" % ("-", "-")
    bad = "  (%d runs exited non-zero)" % r["bad"] if r["bad"] else ""
    print("%-12s %8.3f %9.1f %10.3f %9.1f %s%s" % (
        prog, wall, size / 1e6 / wall, pkts / 1e6 / wall, rss / 1024, ratio, bad))
    return wall, rss


def cmd_table(results, name, pcap, truth_path):
    runs = load_runs(results, name)
    truth = json.load(open(truth_path))
    size, pkts = os.path.getsize(pcap), truth["packets"]
    print("capture %s: %.1f MB, %d packets, %d sessions, concurrency %d" % (
        name, size / 1e6, pkts, truth["sessions"], truth.get("concurrency", 0)))
    print("%-12s %8s %9s %10s %9s %9s %9s" % (
        "program", "wall_s", "MB/s", "Mpkt/s", "RSS_MB", "wall/nids", "RSS/nids"))
    base, walls = None, {}
    if "loop_nids" in runs:
        r = runs["loop_nids"]
        base = (statistics.median(r["wall"]), max(statistics.median(r["rss"]), 1))
    for prog in ORDER:
        if prog in runs:
            walls[prog] = row(prog, runs[prog], size, pkts, base)[0]
    if "smtpscope" in walls and "nids_1m" in walls:
        # smtpscope gives its files a 1 MiB stdio buffer; nids_1m is the
        # libnids loop reading the same way, so this ratio is our own cost.
        print("smtpscope / nids_1m (both with a 1 MiB read buffer): wall %.2fx" % (
            walls["smtpscope"] / walls["nids_1m"]))
    if "smtpscope" in walls and "tshark" in walls:
        print("smtpscope speed-up over tshark: %.1fx" % (walls["tshark"] / walls["smtpscope"]))
    for other in ("loop_nids", "tshark"):
        paired_ratios(runs, other)
    cpu_ratios(runs)
    return workers_ratios(runs, name)


def workers_ratios(runs, name):
    """--workers 2 and auto against one process (smtpscope), paired per
    repetition, in wall and CPU time; the target where one is set."""
    if "smtpscope" not in runs:
        return 0
    status = 0
    for prog in ("scope_w2", "scope_wauto", "scope_pipe"):
        if prog not in runs:
            continue
        pairs = list(zip(runs[prog]["wall"], runs["smtpscope"]["wall"]))
        ratios = sorted(a / b for a, b in pairs)
        med = statistics.median(ratios)
        cpu = ""
        if runs[prog]["cpu"] and runs["smtpscope"]["cpu"]:
            c1 = statistics.median(runs["smtpscope"]["cpu"])
            c2 = statistics.median(runs[prog]["cpu"])
            if c1 > 0:
                cpu = "; CPU time %.2fs against %.2fs (%.2fx)" % (c2, c1, c2 / c1)
        print("paired %s / smtpscope (one process) wall per repetition: median %.2fx, "
              "range %.2fx-%.2fx%s" % (prog, med, ratios[0], ratios[-1], cpu))
        target = WORKERS_TARGET.get(name)
        if prog == "scope_w2" and target is not None:
            if not verdict(med <= target, "%s: --workers 2 takes %.2fx the wall time of one "
                           "process (target <= %.2fx)" % (name, med, target)):
                status = 1
    return status


def cpu_ratios(runs):
    """The same ratios in CPU time (user + system, medians).  On a shared
    virtual machine the time the host gives to others is in the wall time
    of whichever program was running, not in its CPU time."""
    cpu = {p: statistics.median(r["cpu"]) for p, r in runs.items() if r["cpu"]}
    if "smtpscope" not in cpu or "loop_nids" not in cpu:
        return
    if cpu["loop_nids"] < 0.2:
        print("CPU time: runs too short for its 10 ms resolution")
        return
    line = "CPU time (user+system): smtpscope / loop_nids %.2fx" % (
        cpu["smtpscope"] / cpu["loop_nids"])
    if "scope_1thread" in cpu:
        line += ", scope_1thread / loop_nids %.2fx" % (cpu["scope_1thread"] / cpu["loop_nids"])
    if "tshark" in cpu and cpu["smtpscope"] > 0:
        line += ", tshark / smtpscope %.1fx" % (cpu["tshark"] / cpu["smtpscope"])
    print(line)


def paired_ratios(runs, other):
    """Ratio of the two programs' runs within each repetition: they ran
    back to back, so a machine that slows down for a while affects both,
    and the spread shows how much the medians above can be trusted."""
    if "smtpscope" not in runs or other not in runs:
        return
    pairs = list(zip(runs["smtpscope"]["wall"], runs[other]["wall"]))
    if len(pairs) < 2:
        return
    if other == "tshark":
        ratios = sorted(b / a for a, b in pairs)
        what = "tshark / smtpscope"
    else:
        ratios = sorted(a / b for a, b in pairs)
        what = "smtpscope / " + other
    print("paired %s per repetition: median %.2fx, range %.2fx-%.2fx" % (
        what, statistics.median(ratios), ratios[0], ratios[-1]))


def verdict(ok, what):
    print("%s %s" % ("PASS" if ok else "FAIL", what))
    return ok


def cmd_nids(truth_path, out):
    t = json.load(open(truth_path))
    v = dict(kv.split("=") for kv in out.split())
    v = {k: int(x) for k, x in v.items()}
    ok = verdict(v["established"] == t["sessions"],
                 "loop_nids established %d / %d sessions" % (v["established"], t["sessions"]))
    ok &= verdict(v["closed"] + v["reset"] == t["sessions"] and v["reset"] == t["labels"]["rst"],
                  "loop_nids closed %d + reset %d (truth rst %d)" % (
                      v["closed"], v["reset"], t["labels"]["rst"]))
    data = v["data_c2s"] + v["data_s2c"]
    ok &= verdict(data == t["tcp_payload_bytes"], "loop_nids stream bytes %d / %d" % (
        data, t["tcp_payload_bytes"]))
    ok &= verdict(v["packets"] == t["packets"] and v["bytes"] == t["bytes"],
                  "loop_nids packets/bytes match truth")
    return 0 if ok else 1


def last_json_line(path):
    last = None
    with open(path) as f:
        for line in f:
            if line.strip():
                last = line
    return json.loads(last) if last else {}


def cmd_check(truth_path, out_path, name):
    t = json.load(open(truth_path))
    try:
        s = last_json_line(out_path)
    except (OSError, ValueError) as e:
        return 0 if verdict(False, "%s: unreadable smtpscope JSON (%s)" % (name, e)) else 1
    ok = verdict(s.get("type") == "summary", "%s: last line is the summary object" % name)
    for key in ("sessions", "messages_accepted"):
        ok &= verdict(s.get(key) == t[key], "%s: %s %s (truth %s)" % (name, key, s.get(key), t[key]))
    got = s.get("labels") or {}
    for lab in LABELS:
        ok &= verdict(got.get(lab, 0) == t["labels"][lab], "%s: label %s %s (truth %s)" % (
            name, lab, got.get(lab, 0), t["labels"][lab]))
    extra = {k: c for k, c in got.items() if k not in LABELS and c}
    ok &= verdict(not extra, "%s: no unexpected labels %s" % (name, extra or ""))
    if "messages_attempted" in s:
        print("INFO %s: messages_attempted %s (truth %s)" % (
            name, s["messages_attempted"], t["messages_attempted"]))
    return 0 if ok else 1


def cmd_ir(prog, pkts, total, empty):
    pkts, total, empty = int(pkts), int(total), int(empty)
    if not total or not pkts:
        print("%-14s callgrind gave no instruction count" % prog)
        return 0
    print("%-14s %12d Ir total %10.0f Ir/packet  %8.0f Ir/packet marginal" % (
        prog, total, total / pkts, (total - empty) / pkts))
    return 0


# "n2: 1234 0x1A2B: func (file.c:12)" or "... (in /usr/lib/libx.so)", one
# per line of a massif heap tree, indented by depth.
MASSIF_NODE = re.compile(r"^( *)n(\d+): (\d+) (.*)$")
OWN_STATE_TARGET = 1024


def massif_peak_tree(path):
    """The peak snapshot's heap tree as (depth, bytes, where) rows."""
    rows, in_peak = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("heap_tree="):
                in_peak = line.strip() == "heap_tree=peak"
                continue
            if in_peak:
                m = MASSIF_NODE.match(line.rstrip("\n"))
                if m is None:
                    if line.startswith("snapshot="):
                        break
                    continue
                rows.append((len(m.group(1)), int(m.group(3)), m.group(4)))
    return rows


def classify_site(rows, i):
    """Who asked for the allocation at rows[i] (depth 1): walk up its first
    call chain past the pool allocator to the first frame that says."""
    depth = rows[i][0]
    for d, _, where in rows[i:]:
        if d < depth:
            break
        depth = d
        if "below massif's threshold" in where:
            return "other"
        if "(in /" in where:
            return "library"
        m = re.search(r"\((\w+)\.c:\d+\)", where)
        if m is None or m.group(1) == "pool":
            continue
        return "sessions" if m.group(1) == "session" else "fixed"
    return "other"


def cmd_state(massif_out, open_sessions, mode="check"):
    """Classifies the heap at its peak: session state (sessions, their
    exchange lists and text, all allocated in session.c), smtpscope's fixed
    tables and buffers, and the libraries' share (libnids' stream table and
    buffers, libpcap)."""
    open_sessions = int(open_sessions)
    rows = massif_peak_tree(massif_out)
    if not rows or open_sessions <= 0:
        print("FAIL own state: no peak snapshot in %s" % massif_out)
        return 1
    parts = {"sessions": 0, "fixed": 0, "library": 0, "other": 0}
    for i, (depth, size, _) in enumerate(rows):
        if depth == 1:
            parts[classify_site(rows, i)] += size
    per = parts["sessions"] / open_sessions
    mb = lambda n: "%.1f MB" % (n / 1e6)
    print("heap at its peak (massif): %s; smtpscope's session state %s, its fixed tables "
          "and buffers %s, libraries %s, below massif's threshold %s" % (
              mb(rows[0][1]), mb(parts["sessions"]), mb(parts["fixed"]),
              mb(parts["library"]), mb(parts["other"])))
    if mode == "info":
        print("INFO %.0f bytes per open session (%d open), counting the finished "
              "records that wait for output order" % (per, open_sessions))
        return 0
    ok = verdict(per <= OWN_STATE_TARGET,
                 "own state %.0f bytes per open session (target <= %d)" % (
                     per, OWN_STATE_TARGET))
    return 0 if ok else 1


def cmd_ir_workers(pkts, prefix, empty_prefix):
    """Instructions per packet of each process of smtpscope --workers 2
    (callgrind, one file per process, the reader first by pid), less the
    same processes on an empty capture."""
    def totals(pre):
        out = []
        for path in sorted(glob.glob(pre + ".*"), key=lambda p: int(p.rsplit(".", 1)[1])):
            total = 0
            with open(path) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total = int(line.split()[1])
            out.append(total)
        return out
    full, empty = totals(prefix), totals(empty_prefix)
    pkts = int(pkts)
    if len(full) < 2 or len(full) != len(empty) or pkts == 0:
        print("SKIP per-process instructions: %d and %d callgrind files" % (len(full), len(empty)))
        return 0
    names = ["reader (classify, rings, merge, JSON)"] + [
        "worker %d (libnids, sessions)" % i for i in range(1, len(full))]
    for what, a, b in zip(names, full, empty):
        print("%-40s %9.1f instructions per packet of the whole capture (marginal)" % (
            what, (a - b) / pkts))
    return 0


def main(argv):
    cmds = {"table": cmd_table, "nids": cmd_nids, "check": cmd_check, "ir": cmd_ir,
            "ir-workers": cmd_ir_workers,
            "state": cmd_state}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))

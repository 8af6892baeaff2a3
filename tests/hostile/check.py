#!/usr/bin/python3
"""Checks one smtpscope run on a hostile capture (stdlib only).

usage: check.py CASE OUT.jsonl SUMMARY.txt

Generic checks, every case:
  - the JSON file is valid UTF-8 (strict decoding), every line parses as
    JSON, session lines come first and exactly one summary line ends it;
  - the raw JSON bytes hold no control character: no C0 byte but the '\\n'
    ending each line, no DEL, and no C1 control (U+0080..U+009F, bytes
    C2 80..C2 9F), since escape.h promises every control character escaped;
  - the terminal summary is printable ASCII, '\\n' and '\\t' only (no ESC).
Then the case's own expectations (CHECKS below).  Prints one line of facts
for the report; exits 1 with the reasons when something is wrong.
"""
import json
import re
import sys

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
    return cond


def generic(json_bytes, summary_bytes):
    try:
        text = json_bytes.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        expect(False, "JSON is not valid UTF-8: %s" % e)
        text = json_bytes.decode("utf-8", errors="replace")
    bad_c0 = [b for b in json_bytes if (b < 0x20 and b != 0x0A) or b == 0x7F]
    expect(not bad_c0, "raw control bytes in JSON: %s" % sorted(set(bad_c0))[:10])
    c1 = re.findall("[\u0080-\u009f]", text)
    expect(not c1, "raw C1 control characters in JSON (e.g. U+%04X) x%d: escape_json() "
           "copies valid UTF-8 sequences unescaped" % (ord(c1[0]), len(c1)) if c1 else "")
    bad_t = [b for b in summary_bytes if not (0x20 <= b < 0x7F or b in (0x09, 0x0A))]
    expect(not bad_t, "terminal summary holds non-printable bytes: %s" % sorted(set(bad_t))[:10])
    recs = []
    for i, line in enumerate(text.split("\n")):
        if line == "":
            continue
        try:
            recs.append(json.loads(line))
        except ValueError as e:
            expect(False, "JSON line %d does not parse: %s" % (i + 1, e))
    sessions = [r for r in recs if r.get("type") == "session"]
    summaries = [r for r in recs if r.get("type") == "summary"]
    expect(len(summaries) == 1 and recs and recs[-1].get("type") == "summary",
           "expected exactly one summary line, last")
    return sessions, (summaries[0] if summaries else {})


def ex(s, i):
    e = s["exchanges"]
    return e[i] if -len(e) <= i < len(e) else {}


def find(s, cmd):
    return [e for e in s["exchanges"] if e.get("cmd") == cmd]


def normal_one(ss, summ):
    expect(len(ss) >= 1, "no session reported")
    if ss:
        expect(ss[0]["close"] == "normal_quit", "session 1 close is %s, not normal_quit"
               % ss[0]["close"])
        expect(find(ss[0], "QUIT") and find(ss[0], "QUIT")[0]["code"] == 221, "no QUIT/221")


def long_client_line(ss, summ):
    expect(len(ss) == 1, "want 1 session, got %d" % len(ss))
    if ss:
        e0 = ex(ss[0], 0)
        expect(e0.get("cmd") == "MAIL" and "line_truncated" in e0.get("anomalies", []),
               "first exchange is not a truncated MAIL: %s" % str(e0)[:200])
        expect(len(e0.get("arg") or "") <= 512, "kept argument longer than 512")
        q = find(ss[0], "QUIT")
        expect(q and q[0]["code"] == 221, "QUIT/221 after the long line not parsed")
        expect(ss[0]["bytes"]["client"] > 100000000 - 1000, "client bytes not counted")


def long_server_line(ss, summ):
    expect(len(ss) == 1, "want 1 session, got %d" % len(ss))
    if ss:
        n = find(ss[0], "NOOP")
        expect(n and n[0]["code"] == 250 and "line_truncated" in n[0].get("anomalies", []),
               "NOOP's reply is not a truncated 250: %s" % str(n)[:200])
        q = find(ss[0], "QUIT")
        expect(q and q[0]["code"] == 221, "QUIT/221 after the long reply not parsed")
        expect(ss[0]["close"] == "normal_quit", "close is %s" % ss[0]["close"])


def syn_flood_default(ss, summ):
    expect(len(ss) == 1, "want the 1 real session, got %d records" % len(ss))
    normal_one(ss, summ)


def syn_flood_small(ss, summ):
    # FIFO eviction in libnids: with 769 stream slots the session dies after
    # 769 more SYNs.  It must be reported as evicted, never silently lost.
    expect(len(ss) >= 1, "the established session was silently lost")
    if ss:
        expect(ss[0]["end_reason"] == "evicted" and "evicted" in ss[0]["flags"],
               "session 1 not reported as evicted: %s %s" % (ss[0]["end_reason"], ss[0]["flags"]))
    expect(summ.get("not_analysed", {}).get("evicted", 0) >= 1, "summary counts no eviction")


def pipeline(ss, summ):
    expect(len(ss) == 1, "want 1 session")
    if ss:
        expect(len(ss[0]["exchanges"]) == 2048, "kept %d exchanges, want the 2048 cap"
               % len(ss[0]["exchanges"]))
        expect(ss[0]["exchanges_dropped"] == 100000 - 2048, "exchanges_dropped %d"
               % ss[0]["exchanges_dropped"])
        expect("too_many_commands" in ss[0]["flags"], "no too_many_commands flag")


def bdat(ss, summ):
    expect(len(ss) == 1, "want 1 session")
    if ss:
        b = find(ss[0], "BDAT")
        bad = [e for e in b if "bdat_bad_size" in e.get("anomalies", [])]
        expect(len(bad) == 4, "want 4 BDAT with bdat_bad_size, got %d" % len(bad))
        expect(b and b[-1].get("size") == 18446744073709551615, "max BDAT size not kept")


def damaged(ss, summ):
    normal_one(ss, summ)
    expect(summ.get("input_error"), "summary has no input_error")


def fragments(ss, summ):
    expect(len(ss) == 1, "want 1 session")
    if ss:
        m = find(ss[0], "MAIL")
        expect(m and m[0]["arg"] in ("FROM:<frag@hostile.test>", "FROM:<EVIL@hostile.test>"),
               "MAIL not reassembled: %s" % str(m)[:200])
        expect(find(ss[0], "QUIT"), "QUIT after the fragments not parsed")


def overlap(ss, summ):
    expect(len(ss) == 1, "want 1 session")
    if ss:
        m = find(ss[0], "MAIL")
        expect(m and m[0]["arg"] == "FROM:<aaaa@hostile.test>",
               "first-arrived bytes should win: %s" % str(m)[:200])
        expect(find(ss[0], "RCPT"), "RCPT carried by the overlapping resend not parsed")
        noops = [e["arg"] for e in find(ss[0], "NOOP")]
        expect(noops == ["aaaa", "after"], "NOOPs around the hole: %s" % noops)


def control(ss, summ):
    expect(len(ss) == 1, "want 1 session")
    if ss:
        for f in ("invalid_utf8", "nul_byte", "long_line"):
            expect(f in ss[0]["flags"], "flag %s missing" % f)
        a = find(ss[0], "AUTH")
        expect(a and a[0]["arg"] == "PLAIN", "AUTH argument beyond the mechanism written")
        for e in ss[0]["exchanges"]:
            for k in ("arg", "text", "cmd"):
                v = e.get(k)
                expect(v is None or len(v.encode("utf-8")) <= 3 * 512,
                       "%s longer than the 512-byte cap" % k)


def giant_segments(ss, summ):
    expect(len(ss) == 700, "want 700 sessions, got %d" % len(ss))
    cut = [s for s in ss if "line_truncated" in s["flags"] or
           any("line_truncated" in e.get("anomalies", []) for e in s["exchanges"])]
    expect(len(cut) == len(ss), "%d of %d sessions show the cut line" % (len(cut), len(ss)))
    # The partial lines held over were completed later in every other
    # session: its two NOOPs both keep a 512-octet argument, then QUIT.
    ended = [s for s in ss if find(s, "QUIT")]
    expect(len(ended) == 350, "%d sessions reached QUIT, want 350" % len(ended))
    for s in ended:
        args = [e.get("arg") for e in find(s, "NOOP")]
        if not expect(args == ["x" * 512] * 2, "session %s: NOOP arguments %s"
                      % (s["id"], [len(a or "") for a in args])):
            break


def big_frames(ss, summ):
    expect(len(ss) == 8, "want 8 sessions, got %d" % len(ss))
    for s in ss:
        ehlo = find(s, "EHLO")
        expect(ehlo and ehlo[0]["code"] == 250, "session %s: no EHLO/250" % s["id"])
    # 20 frames a session: every one read, the long ones cut, none skipped.
    expect(summ.get("packets") == 8 * 20, "packets %s, want %d" % (summ.get("packets"), 8 * 20))


CHECKS = {
    "long-client-line": long_client_line,
    "long-server-line": long_server_line,
    "long-client-line-freed": long_client_line,
    "syn-flood": syn_flood_default,
    "syn-flood-small-table": syn_flood_small,
    "pipeline-100k": pipeline,
    "bdat-hostile": bdat,
    "caplen-gt-snaplen": lambda ss, summ: expect(len(ss) >= 1, "no session"),
    "len-lt-caplen": normal_one,
    "giant-caplen": damaged,
    "cut-mid-record": damaged,
    "zero-length": normal_one,
    "pcapng-unknown-blocks": normal_one,
    "ip-fragments": fragments,
    "tcp-overlap": overlap,
    "control-bytes": control,
    "ipv6-session": normal_one,
    "giant-segments": giant_segments,
    "pcapng-big-frames": big_frames,
}


def main():
    case, jpath, tpath = sys.argv[1:4]
    with open(jpath, "rb") as f:
        jb = f.read()
    with open(tpath, "rb") as f:
        tb = f.read()
    ss, summ = generic(jb, tb)
    CHECKS[case](ss, summ)
    closes = ",".join(sorted(set(s["close"] for s in ss)))
    print("sessions=%d closes=%s evicted=%s" % (len(ss), closes or "-",
          summ.get("not_analysed", {}).get("evicted", "?")))
    fails = [f for f in failures if f]
    for f in fails:
        print("  - " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

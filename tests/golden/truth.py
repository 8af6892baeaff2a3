#!/usr/bin/env python3
"""Checks smtpscope against what really happened in each real capture.

pcaps/gen/expected.tsv is written by the person or script that made the
capture, independently of smtpscope: the number of sessions, the close
label of each (in session order), and the greeting delay injected on the
server, if any.  pcaps/gen/expected-wild.tsv adds, for the captures from
the wild, what a reader of the capture can conclude, the flags that must
and must not be raised, the bytes lost and the messages' size.  Unlike the golden files, this truth never gets updated
from smtpscope's own output.  Usage: truth.py SMTPSCOPE
"""
import json
import subprocess
import sys

SLACK_MS = 60.0  # scheduling and loopback overhead allowed above a delay


def run(binary, capture):
    out = subprocess.run([binary, "-q", "-r", capture, "--json", "-"],
                         capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"exit status {out.returncode}: {out.stderr[:200]!r}")
    return [json.loads(l) for l in out.stdout.decode().splitlines()
            if json.loads(l)["type"] == "session"]


def check(binary, fields):
    capture, n_sessions, labels, delay = fields[:4]
    sessions = run(binary, "pcaps/" + capture)
    problems = []
    if len(sessions) != int(n_sessions):
        problems.append(f"{len(sessions)} sessions, expected {n_sessions}")
    got = [s["close"] for s in sessions]
    readable = len(fields) < 10 or fields[5] == "-"  # else check_wild compares
    if readable and got != labels.split(","):
        problems.append(f"labels {got}, expected {labels}")
    if len(fields) >= 10:
        problems += check_wild(sessions, labels, fields[5:10])
    if delay != "-":
        want = float(delay)
        for s in sessions:
            b = s["banner_ms"]
            if b is None or not want <= b <= want + SLACK_MS:
                problems.append(f"banner {b} ms, expected {want}..{want + SLACK_MS}")
    return problems


def check_wild(sessions, labels, extra):
    """The wild captures' further truth (pcaps/gen/expected-wild.tsv)."""
    read_label, required, forbidden, gap_client, message_bytes = extra
    problems = []
    if read_label != "-":
        got = [s["close"] for s in sessions]
        if got != read_label.split(","):
            problems.append(f"read as {got}, expected {read_label} (really {labels})")
    for s in sessions:
        flags = set(s["flags"])
        for f in required.split(","):
            if f != "-" and f not in flags:
                problems.append(f"flag {f} missing")
        for f in forbidden.split(","):
            if f != "-" and f in flags:
                problems.append(f"flag {f} set")
        lost = s.get("gap_bytes", {}).get("client")
        if lost != int(gap_client):
            problems.append(f"gap_bytes.client {lost}, expected {gap_client}")
    if message_bytes != "-":
        got = sum(s["message_bytes"] for s in sessions)
        if got != int(message_bytes):
            problems.append(f"message_bytes {got}, expected {message_bytes}")
    return problems


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
    passed = failed = 0
    lines = []
    for name in ("pcaps/gen/expected.tsv", "pcaps/gen/expected-wild.tsv"):
        with open(name, encoding="utf-8") as f:
            lines += f.readlines()
    if True:
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                problems = check(binary, fields)
            except RuntimeError as e:
                problems = [str(e)]
            if problems:
                failed += 1
                print(f"FAIL  {fields[0]}: " + "; ".join(problems))
            else:
                passed += 1
                print(f"pass  {fields[0]}")
    print(f"truth: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks smtpscope against what really happened in each real capture.

pcaps/gen/expected.tsv is written by the person or script that made the
capture, independently of smtpscope: the number of sessions, the close
label of each (in session order), and the greeting delay injected on the
server, if any.  Unlike the golden files, this truth never gets updated
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
    if got != labels.split(","):
        problems.append(f"labels {got}, expected {labels}")
    if delay != "-":
        want = float(delay)
        for s in sessions:
            b = s["banner_ms"]
            if b is None or not want <= b <= want + SLACK_MS:
                problems.append(f"banner {b} ms, expected {want}..{want + SLACK_MS}")
    return problems


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
    passed = failed = 0
    with open("pcaps/gen/expected.tsv", encoding="utf-8") as f:
        for line in f:
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

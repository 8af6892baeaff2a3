#!/usr/bin/env python3
"""Field-level difference between two JSON Lines files, for reviewing a
golden update: jsondiff.py OLD NEW prints each changed key path."""
import json
import sys


def walk(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            walk(a.get(k), b.get(k), f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {json.dumps(a)[:120]} -> {json.dumps(b)[:120]}")


def main():
    with open(sys.argv[1]) as f:
        old = [json.loads(l) for l in f]
    with open(sys.argv[2]) as f:
        new = [json.loads(l) for l in f]
    out = []
    if len(old) != len(new):
        out.append(f"record count {len(old)} -> {len(new)}")
    for i, (a, b) in enumerate(zip(old, new)):
        walk(a, b, f"[{i}]", out)
    print("\n".join(out))


if __name__ == "__main__":
    main()

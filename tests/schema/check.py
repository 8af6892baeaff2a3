#!/usr/bin/env python3
"""The JSON records against their contract.

check.py SCHEMA VERDICT_H FILE.jsonl...
  - every line of every file is valid against SCHEMA (docs/smtpscope.schema.json,
    JSON Schema draft 2020-12, python3-jsonschema);
  - one key, one type: each key path (objects by name, arrays looked
    through) has one JSON type over all the records of every file, null
    aside (integers and fractions are both "number"), so that one index
    mapping takes the whole stream;
  - the schema names exactly the close labels and flags include/verdict.h
    defines, so a new one cannot go undocumented;
  - records known to be wrong are refused, so a schema that accepts
    anything fails here.
Prints one "pass"/"FAIL" line per check (tests/schema/run.sh counts
them) and exits 1 on any failure.
"""
import json
import re
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

failures = 0


def report(ok, what):
    global failures
    print(("pass  " if ok else "FAIL  ") + what)
    if not ok:
        failures += 1


def json_type(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def walk(v, path, types, where):
    """Records each value's type under its key path.  An array stands for
    its items, as in an index mapping (a list of strings is a string
    field), so its own type is not recorded."""
    t = json_type(v)
    if t is not None and t != "array" and path:
        seen = types.setdefault(path, {})
        seen.setdefault(t, where)
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, path + "." + k if path else k, types, where)
    elif isinstance(v, list):
        for x in v:
            walk(x, path, types, where)


def verdict_names(path, map_name):
    text = open(path).read()
    body = text[text.index("#define " + map_name):]
    body = body[:body.index("\n\n")]
    return re.findall(r'XX\(\s*[A-Z_0-9]+,\s*"([a-z_0-9]+)"', body)


def main():
    schema = json.load(open(sys.argv[1]))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    types = {}
    n_records = 0
    kinds = set()
    for path in sys.argv[3:]:
        bad = []
        for no, line in enumerate(open(path), 1):
            rec = json.loads(line)
            n_records += 1
            kinds.add(rec.get("type"))
            e = best_match(validator.iter_errors(rec))
            if e is not None:
                bad.append("line %d: %s at %s" % (no, e.message[:200],
                                                   "/".join(map(str, e.absolute_path))))
            walk(rec, "", types, "%s:%d" % (path.split("/")[-1], no))
        report(not bad, "schema: %s%s" % (path.split("/")[-1], (": " + bad[0]) if bad else ""))
    report(kinds == {"session", "summary"},
           "both record types were checked (%d records)" % n_records)
    clashes = {p: t for p, t in types.items() if len(t) > 1}
    report(not clashes, "one key, one type over %d key paths%s" % (
        len(types), "".join("; %s: %s" % (p, t) for p, t in sorted(clashes.items())[:5])))

    session = schema["$defs"]["session"]["properties"]
    labels = verdict_names(sys.argv[2], "VERDICT_LABEL_MAP")
    flags = verdict_names(sys.argv[2], "VERDICT_FLAG_MAP")
    report(sorted(session["close"]["enum"]) == sorted(labels),
           "schema's close labels are verdict.h's (%d)" % len(labels))
    report(sorted(session["flags"]["items"]["enum"]) == sorted(flags),
           "schema's flags are verdict.h's (%d)" % len(flags))

    # Records the schema must refuse: the summary's old conflicting keys,
    # a session without its uid, a bad ts, a transaction with a stray key.
    good = None
    summary = None
    for path in sys.argv[3:]:
        for line in open(path):
            rec = json.loads(line)
            if rec["type"] == "session" and rec["transactions"] and good is None:
                good = rec
            if rec["type"] == "summary" and summary is None:
                summary = rec
    wrong = []
    s = dict(summary)
    s["flags"] = s.pop("flag_counts", {})
    wrong.append(("summary with an object called flags", s))
    s = dict(summary)
    s["bytes"] = s.pop("captured_bytes", 0)
    wrong.append(("summary with an integer called bytes", s))
    s = dict(good)
    del s["uid"]
    wrong.append(("session without uid", s))
    s = dict(good, ts="2026-11-22 10:55:39")
    wrong.append(("session with a ts not in ISO 8601 form", s))
    s = dict(good, transactions=[dict(good["transactions"][0], stray=1)])
    wrong.append(("transaction with a key the schema does not name", s))
    for what, rec in wrong:
        report(not validator.is_valid(rec), "refused: " + what)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

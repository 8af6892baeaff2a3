#!/usr/bin/env python3
"""--json-format flat against the nested form of the same run.

flat_check.py NESTED.jsonl FLAT.jsonl
Flattens each nested session record by the documented rule (an object's
members become KEY_MEMBER; an array of objects becomes one array per
member, ARRAY.MEMBER; a transaction's mail_from, rcpt_to, reply and
headers their own members; messages left out) and requires the flat
record to be exactly that, key order included.  The flat file holds no
summary line.  Exit 0 when every record agrees.
"""
import json
import sys


def flatten_txn(t):
    mail = t["mail_from"] or {}
    reply = t["reply"] or {}
    headers = t["headers"] or {}
    return {
        "helo": t["helo"],
        "mail_from": mail.get("addr"),
        "mail_code": mail.get("code"),
        "rcpt_to": [r["addr"] for r in t["rcpt_to"]],
        "rcpt_code": [r["code"] for r in t["rcpt_to"]],
        "size": t["size"],
        "code": reply.get("code"),
        "enhanced": reply.get("enhanced"),
        "text": reply.get("text"),
        "ended_by": t["ended_by"],
        "from": headers.get("from"),
        "to": headers.get("to"),
        "subject": headers.get("subject"),
        "message_id": headers.get("message_id"),
        "date": headers.get("date"),
    }


EXCHANGE_KEYS = ["cmd", "arg", "code", "enhanced", "text", "lines", "latency_ms",
                 "complete_ms", "t_ms", "unsolicited", "size", "anomalies"]
TXN_KEYS = list(flatten_txn({"mail_from": None, "reply": None, "headers": None,
                             "helo": None, "rcpt_to": [], "size": None,
                             "ended_by": None}).keys())


def flatten(s):
    out = {}
    for k, v in s.items():
        if k == "messages":
            continue
        if k in ("client", "server", "bytes", "gap_bytes"):
            for m, x in v.items():
                out[k + "_" + m] = x
        elif k == "greeting":
            for m in ("code", "enhanced", "text", "lines"):
                out["greeting_" + m] = (v or {}).get(m, 0 if m == "lines" else None)
        elif k == "exchanges":
            for m in EXCHANGE_KEYS:
                dflt = [] if m == "anomalies" else None
                out["exchanges." + m] = [x.get(m, dflt) for x in v]
        elif k == "transactions":
            flat = [flatten_txn(t) for t in v]
            for m in TXN_KEYS:
                out["transactions." + m] = [t[m] for t in flat]
        elif k == "auth":
            for m in ("mechanism", "user", "code"):
                out["auth_" + m] = (v or {}).get(m)
        else:
            out[k] = v
    return out


def main():
    nested = [json.loads(l) for l in open(sys.argv[1])]
    flat = [json.loads(l) for l in open(sys.argv[2])]
    sessions = [s for s in nested if s["type"] == "session"]
    if len(flat) != len(sessions):
        print("%d flat records, %d sessions" % (len(flat), len(sessions)))
        return 1
    for a, b in zip(sessions, flat):
        want = flatten(a)
        if list(want.items()) != list(b.items()):
            diff = [k for k in set(want) | set(b) if want.get(k, "?") != b.get(k, "?")]
            order = list(want) != list(b)
            print("session %s: %s%s" % (a["id"], sorted(diff)[:6], " (key order)" if order else ""))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

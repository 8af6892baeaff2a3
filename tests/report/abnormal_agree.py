#!/usr/bin/env python3
"""abnormal_agree.py TEXT HTML JSONL - one definition of "abnormal".

The text summary, the HTML report and the JSON Lines of one run must name
the same abnormal sessions: the JSON records with "abnormal": true, the
HTML report's transcripts (<details class="sess">, "#ID" in the summary
line) and the text summary's list ("#ID" opening each entry).  The counts
each prints (text and HTML headings, the JSON summary's
"abnormal_sessions") must equal the number of those records.  The text
lists at most its first entries and the HTML its most severe 500: where a
list is cut, its ids must be a subset.  Each session the text or the HTML
lists must show the uid of its JSON record.  Prints what differs; exit 1
then.
"""
import json
import re
import sys


def main():
    text_path, html_path, json_path = sys.argv[1:4]
    want = set()
    uid_of = {}
    summary_count = None
    for line in open(json_path, encoding="utf-8"):
        rec = json.loads(line)
        if rec["type"] == "session" and rec["abnormal"]:
            want.add(rec["id"])
            uid_of[rec["id"]] = rec["uid"]
        elif rec["type"] == "summary":
            summary_count = rec["abnormal_sessions"]
    problems = []
    if summary_count != len(want):
        problems.append(f"JSON summary says {summary_count}, records say {len(want)}")

    html = open(html_path, encoding="utf-8").read()
    m = re.search(r'<h2 id="abnormal">Abnormal sessions \((\d+)\)</h2>', html)
    html_count = int(m.group(1)) if m else None
    html_ids = {int(i) for i in re.findall(r'<details class="sess"[^>]*><summary>.*?</span> #(\d+) ', html)}
    if html_count != len(want):
        problems.append(f"HTML heading says {html_count}, JSON {len(want)}")
    if not html_ids <= want or (len(want) <= 500 and html_ids != want):
        problems.append(f"HTML ids {sorted(html_ids)} != JSON {sorted(want)}")
    for sid, body in re.findall(r'<details class="sess"[^>]*><summary>.*?</span> #(\d+) (.*?)</details>',
                                html, re.S):
        m = re.search(r"<b>[^<]*</b> <code>(S[a-z2-7]{20})</code>", body)
        if int(sid) in uid_of and (m is None or m.group(1) != uid_of[int(sid)]):
            problems.append(f"HTML #{sid}: uid {m.group(1) if m else None}, JSON {uid_of[int(sid)]}")

    text = open(text_path, encoding="utf-8").read()
    m = re.search(r"^Abnormal sessions \((\d+)\)", text, re.M)
    text_count = int(m.group(1)) if m else 0
    section = text[m.end():] if m else ""
    text_ids = {int(i) for i in re.findall(r"^  #(\d+) ", section, re.M)}
    cut = "... and " in section
    if text_count != len(want):
        problems.append(f"text heading says {text_count}, JSON {len(want)}")
    if not text_ids <= want or (not cut and text_ids != want):
        problems.append(f"text ids {sorted(text_ids)} != JSON {sorted(want)}")
    entries = re.split(r"^  #(\d+) ", section, flags=re.M)[1:]
    for sid, body in zip(entries[0::2], entries[1::2]):
        m = re.search(r"^      \S+ (S[a-z2-7]{20})$", body, re.M)
        if int(sid) in uid_of and (m is None or m.group(1) != uid_of[int(sid)]):
            problems.append(f"text #{sid}: uid {m.group(1) if m else None}, JSON {uid_of[int(sid)]}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

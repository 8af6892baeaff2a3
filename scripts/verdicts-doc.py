#!/usr/bin/env python3
"""Regenerates the label and flag sections of docs/verdicts.md from the
tables in include/verdict.h, so the document says exactly what the tool
prints.  The rule table and the closing section are kept as written.
Usage: scripts/verdicts-doc.py (from the repository root)."""
import re

DOC = "docs/verdicts.md"


def entries(src, mapname):
    block = src[src.index("#define " + mapname):]
    block = block[:block.index("\n\n")].replace("\\\n", "\n")
    pat = (r'XX\((\w+),\s*"([^"]+)",\s*"([^"]*)",\s*"([^"]*)",\s*((?:"[^"]*"\s*)+),'
           r'\s*((?:"[^"]*"\s*)+)\)')
    joined = lambda s: "".join(re.findall(r'"([^"]*)"', s))
    return [(m.group(2), m.group(3), m.group(4), joined(m.group(5)), joined(m.group(6)))
            for m in re.finditer(pat, block)]


def section(e):
    name, sev, codes, expl, check = e
    codes_text = (" Codes: " + codes.replace(",", ", ") + ".") if codes else ""
    return f"### {name}\n\nSeverity: {sev}.{codes_text}\n\n{expl}\n\n**What to check:** {check}\n"


def main():
    src = open("include/verdict.h").read()
    doc = open(DOC).read()
    head = doc[:doc.index("## Labels")]
    tail = doc[doc.index("## Reply codes met above"):]
    parts = [head.rstrip("\n") + "\n", "## Labels\n"]
    parts += [section(e) for e in entries(src, "VERDICT_LABEL_MAP")]
    parts.append("## Flags\n")
    parts += [section(e) for e in entries(src, "VERDICT_FLAG_MAP")]
    open(DOC, "w").write("\n".join(parts) + "\n" + tail)


if __name__ == "__main__":
    main()

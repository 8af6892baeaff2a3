#!/usr/bin/python3
"""Static checks of an smtpscope HTML report (stdlib only).

Parses the document and fails if anything could run or load: any element
outside the writer's own vocabulary (script, img, iframe, object, ...),
any on* event attribute, any URL that is not a same-page #anchor, any
style attribute holding url(; and it requires the Content-Security-Policy
meta, one <style>, the report's sections and at least MIN_SVG charts.

usage: html_lint.py REPORT.html [--min-svg N] [--expect TEXT]...
Prints one line per problem; exit 1 if any.
"""
import sys
from html.parser import HTMLParser

ALLOWED = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4",
    "p", "a", "table", "thead", "tbody", "tr", "th", "td", "div", "span", "b",
    "i", "code", "details", "summary", "dl", "dt", "dd", "br", "svg", "text",
    "line", "rect", "polyline", "title",
}
VOID = {"meta", "br"}


class Lint(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.counts = {}
        self.ids = set()
        self.csp = False
        self.stack = []

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in ALLOWED:
            self.problems.append("element <%s> is not one the writer makes" % tag)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append("event attribute %s on <%s>" % (name, tag))
            if name in ("href", "src", "xlink:href", "action", "formaction", "srcset"):
                if not value.startswith("#"):
                    self.problems.append("URL %s=%r on <%s>" % (name, value, tag))
            if name == "style" and "url(" in value.replace(" ", "").lower():
                self.problems.append("url() in style on <%s>" % tag)
            if name == "id":
                self.ids.add(value)
            if tag == "meta" and name == "http-equiv" and value == "Content-Security-Policy":
                self.csp = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append("</%s> does not close <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def main():
    args = sys.argv[1:]
    path = args.pop(0)
    min_svg = 1
    expects = []
    while args:
        opt = args.pop(0)
        if opt == "--min-svg":
            min_svg = int(args.pop(0))
        elif opt == "--expect":
            expects.append(args.pop(0))
    raw = open(path, "rb").read()
    doc = raw.decode("utf-8")  # must be valid UTF-8
    lint = Lint()
    lint.feed(doc)
    lint.close()
    p = lint.problems
    if lint.stack:
        p.append("unclosed elements at end: %s" % lint.stack)
    if not lint.csp:
        p.append("no Content-Security-Policy meta")
    if lint.counts.get("style", 0) != 1:
        p.append("want exactly one <style>, found %d" % lint.counts.get("style", 0))
    for section in ("custody", "overview", "charts", "servers", "abnormal", "about"):
        if section not in lint.ids:
            p.append("section #%s missing" % section)
    if lint.counts.get("svg", 0) < min_svg:
        p.append("want at least %d charts, found %d" % (min_svg, lint.counts.get("svg", 0)))
    low = doc.lower()
    for bad in ("<script", "<img", "<iframe", "javascript:"):
        if bad in low:
            p.append("raw %r in the document" % bad)
    for text in expects:
        if text not in doc:
            p.append("expected text not found: %r" % text)
    for line in p:
        print("%s: %s" % (path, line))
    sys.exit(1 if p else 0)


main()

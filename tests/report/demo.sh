#!/usr/bin/env bash
# tests/report/demo.sh - make report-demo: an HTML report of
# pcaps/real-concurrent.pcap (build/report-demo.html) and a PNG screenshot
# of it for the README (docs/report-demo.png), taken with headless Chromium.
# usage: tests/report/demo.sh [SMTPSCOPE_WITH_REPORT]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-./smtpscope}
mkdir -p build docs
"$BIN" -r pcaps/real-concurrent.pcap -q --report build/report-demo.html
echo "wrote build/report-demo.html"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "report-demo: chromium not installed (apt-get install chromium); no screenshot" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --hide-scrollbars --window-size=1200,2700 --screenshot=docs/report-demo.png \
    "file://$(realpath build/report-demo.html)" 2>/dev/null
echo "wrote docs/report-demo.png"

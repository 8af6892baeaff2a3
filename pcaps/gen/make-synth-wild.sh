#!/usr/bin/env bash
# Make the "synth-wild-*" captures: real captures from pcaps/ rewritten the
# way sensors distort them, for the distortions no kernel here produces on
# demand.  The rewriting is tests/wild/distort.py (stdlib python), the
# same tool the wild test level runs over every real capture; these
# files keep one case of each in the golden tests.
#
#   synth-wild-ack-first.pcap     real-normal-quit.pcap with every ACK (and
#                                 FIN) captured before the data it follows,
#                                 as multi-queue NICs and SPAN ports record
#   synth-wild-small-window.pcap  real-wild-capture-loss-source.pcap with no
#                                 window-scale option and every window field
#                                 16: far below the bytes in flight
#   synth-wild-late-after-rst.pcap
#                                 real-rst-mid-data.pcap with a server
#                                 segment in flight when the client reset,
#                                 captured after the RST (and the client
#                                 kernel's bare RST answering it): a race
#                                 real stacks lose now and then, not on
#                                 demand
#
# synth-wild-capture-loss.pcap (one body segment missing) comes from
# make-wild.sh.  usage: pcaps/gen/make-synth-wild.sh (no root needed)
set -euo pipefail
GEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(dirname "$GEN_DIR")
DISTORT="$(dirname "$OUT_DIR")/tests/wild/distort.py"
python3 "$DISTORT" --check --mode ack-first \
    "$OUT_DIR/real-normal-quit.pcap" "$OUT_DIR/synth-wild-ack-first.pcap"
python3 "$DISTORT" --check --mode small-window --window 16 \
    "$OUT_DIR/real-wild-capture-loss-source.pcap" "$OUT_DIR/synth-wild-small-window.pcap"
python3 "$DISTORT" --mode late-after-rst \
    "$OUT_DIR/real-rst-mid-data.pcap" "$OUT_DIR/synth-wild-late-after-rst.pcap"

#!/usr/bin/env bash
# See truth.py: real captures against their independent ground truth.
cd "$(dirname "$0")/../.." && exec python3 tests/golden/truth.py "$@"

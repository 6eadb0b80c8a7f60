#!/usr/bin/env bash
# Take the README's screenshots (docs/screenshots/*.png) with the browser tests against a
# fresh devnet: needs Debian's chromium (apt-get install chromium) and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export MINUTEBOOK_SCREENSHOTS="$PWD/docs/screenshots"
exec bash scripts/test.sh -p no:cacheprovider tests/web/test_screenshots.py "$@"

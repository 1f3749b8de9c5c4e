#!/usr/bin/env bash
# The explorer in a real browser (tests/browser/explorer.py): Debian's
# chromium and chromium-driver, selenium from PyPI in a venv. Installs what
# is missing (apt needs root, as in CI); screenshots go to docs/explorer/
# (or $GOODWILL_BROWSER_SHOTS). Exits non-zero on any failed check.
# Usage: tests/browser/run.sh [path/to/goodwill]   (default: a debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null ||
  ! python3 -c 'import ensurepip' 2> /dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver python3-venv
fi
venv=${GOODWILL_BROWSER_VENV:-target/venv-browser}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import selenium' 2> /dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q selenium
fi
if [ $# -ge 1 ]; then
  bin=$1
else
  cargo build
  bin=target/debug/goodwill
fi
exec "$venv/bin/python" tests/browser/explorer.py "$bin" "${GOODWILL_BROWSER_SHOTS:-docs/explorer}"

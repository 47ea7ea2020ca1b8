#!/usr/bin/env bash
# Debian's headless Chromium for the report's browser test (tests/test_report.py). Playwright (in the
# dev extra) drives it; Playwright's own browser download is not used (it fails on closed networks).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (headless browser for tests/test_report.py)..."
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }
  install || { apt-get update -qq && install; } || {
    echo "warning: could not install chromium; tests/test_report.py will fail until it is installed" >&2
  }
else
  echo "note: /usr/bin/chromium is missing; tests/test_report.py needs it: sudo apt-get install chromium" >&2
fi

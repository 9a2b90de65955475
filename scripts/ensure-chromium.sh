#!/usr/bin/env bash
# The end-to-end tests drive Debian's Chromium (playwright-core never downloads a browser).
# Installs it when missing and this is root on Debian; otherwise says what to run.
set -euo pipefail
BIN="${MLSPANNER_CHROMIUM:-/usr/bin/chromium}"
[ -x "$BIN" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the end-to-end tests" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  exit 0
fi
echo "The end-to-end tests need Chromium at $BIN: sudo apt-get install -y chromium (or set MLSPANNER_CHROMIUM)" >&2
exit 1

#!/usr/bin/env bash
# The web chat's browser test drives Debian's Chromium (no browser download at test
# time: this machine reaches only the package registries).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the browser test (once)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
ERROR: the web chat browser test needs Chromium. Install it:
  sudo apt-get install chromium        (Debian/Ubuntu)
or set CHROMIUM=/path/to/chromium.
MSG
exit 1

#!/usr/bin/env bash
# The web chat's browser test drives Debian's Chromium (no browser download at test
# time: this machine reaches only the package registries), with a Chinese font so the
# screenshot it leaves is readable.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || missing+=(chromium)
if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }; then
  missing+=(fonts-wqy-microhei)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing ${missing[*]} for the browser test (once)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
cat >&2 <<MSG
ERROR: the web chat browser test needs: ${missing[*]}. Install them:
  sudo apt-get install ${missing[*]}        (Debian/Ubuntu)
or set CHROMIUM=/path/to/chromium.
MSG
exit 1

#!/usr/bin/env bash
# The scaled topology (scripts/run-scaled.sh, make run-scaled / test-scaled) puts Debian's
# nginx in front of the app and Rasa replicas. Installed once with apt-get when run as
# root (CI); otherwise this says what to install.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || [ -n "${NGINX:-}" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing nginx for the scaled topology (once)"
  apt-get update -qq
  # Only the binary is needed: run-scaled.sh starts it with a config of its own, as the
  # user who runs it; the package's own service is not used.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
  exit 0
fi
cat >&2 <<MSG
ERROR: the scaled topology needs nginx. Install it:
  sudo apt-get install nginx        (Debian/Ubuntu)
or set NGINX=/path/to/nginx.
MSG
exit 1

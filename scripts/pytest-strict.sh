#!/usr/bin/env bash
# Run pytest, but treat "no tests collected" (exit 5) as a failure: a suite that
# silently lost its tests must not turn a run green.
set -uo pipefail
python="$1"; shift
"$python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "ERROR: pytest collected no tests for: $*" >&2
  exit 1
fi
exit "$rc"

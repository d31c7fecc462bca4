#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter for the Rasa environment, or explain
# exactly what to install. Rasa 3.6 refuses Python 3.11 and newer.
set -euo pipefail
candidates=()
[ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for p in "$root"/versions/3.10.*/bin/python; do [ -x "$p" ] && candidates+=("$p"); done
fi
for p in "$HOME"/.pyenv/versions/3.10.*/bin/python /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -x "$p" ] && candidates+=("$p")
done
for p in "${candidates[@]}"; do
  if "$p" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "$p"
    exit 0
  fi
done
cat >&2 <<'MSG'
ERROR: no Python 3.10 found; the Rasa 3.6 bot environment needs exactly Python 3.10.
Install one of:
  pyenv install 3.10.13                    (then re-run make)
  apt-get install python3.10 python3.10-venv   (Debian/Ubuntu with 3.10 packages)
or point PYTHON310=/path/to/python3.10 at an existing interpreter.
MSG
exit 1

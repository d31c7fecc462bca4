#!/usr/bin/env bash
# Start every process of the embedded default on localhost, stop them all cleanly on
# Ctrl-C, and stop everything loudly when one of them dies.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/log
export RASA_TELEMETRY_ENABLED=false SANIC_HOST=127.0.0.1
export BACKEND_URL="${BACKEND_URL:-http://127.0.0.1:8000}"
export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://127.0.0.1:5055/webhook}"
# Rasa's HTTP API needs a token (RASA_TOKEN, or the one generated in var/dev-secrets.json);
# the app uses the same one.
RASA_TOKEN="$(.venv/bin/python -m backend.cli rasa-token)" || {
  echo "ERROR: could not read RASA_TOKEN from the settings" >&2; exit 1; }
export RASA_TOKEN
# The action server calls the claims API with the bot's service token (BOT_SERVICE_TOKEN,
# or the one generated in var/dev-secrets.json).
BACKEND_BOT_TOKEN="$(.venv/bin/python -m backend.cli bot-token)" || {
  echo "ERROR: could not read BOT_SERVICE_TOKEN from the settings" >&2; exit 1; }
export BACKEND_BOT_TOKEN

declare -A pids=()
start() {
  local name="$1"; shift
  ( exec "$@" ) > >(sed -u "s/^/[$name] /" | tee -a "var/log/$name.log") 2>&1 &
  pids[$name]=$!
}

stop_all() {
  trap - INT TERM
  echo "==> stopping: ${!pids[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
}
trap 'stop_all; exit 0' INT TERM

start app .venv/bin/uvicorn backend.main:create_app --factory --host 127.0.0.1 --port 8000
start actions .venv-bot/bin/python -m rasa_sdk --actions actions --port 5055
start rasa .venv-bot/bin/python -m bot.server run --model models/claims.tar.gz --enable-api \
  --auth-token "$RASA_TOKEN" --interface 127.0.0.1 --port 5005 --endpoints bot/endpoints.yml --credentials bot/credentials.yml
if [ -f backend/notifications/worker.py ]; then
  start worker .venv/bin/python -m backend.notifications.worker
fi

# Development only (the command refuses in production): an agent, an adjuster and an
# admin to sign in to the console with, and their passwords.
.venv/bin/python -m backend.cli demo-logins

cat <<MSG
==> starting (Rasa needs about a minute to load its model). Where to look:
    web chat (try the bot):   http://127.0.0.1:8000/chat
    agent console:            http://127.0.0.1:8000/console (demo logins above)
    API docs:                 http://127.0.0.1:8000/docs
    health:                   http://127.0.0.1:8000/health
    Rasa:                     http://127.0.0.1:5005/status?token=<RASA_TOKEN> (python -m backend.cli rasa-token)
    action server:            http://127.0.0.1:5055/health
    logs:                     var/log/*.log
    Ctrl-C stops everything.
MSG

# `wait -n` returns when the first process exits: that is always a failure here.
wait -n "${pids[@]}"
rc=$?
for name in "${!pids[@]}"; do
  if ! kill -0 "${pids[$name]}" 2>/dev/null; then
    echo "ERROR: process '$name' exited (status $rc); see var/log/$name.log. Stopping the rest." >&2
  fi
done
stop_all
exit 1

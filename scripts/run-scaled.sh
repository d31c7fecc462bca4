#!/usr/bin/env bash
# The production-like topology on this machine (docs/deploy.md): nginx in front of two
# app replicas and two Rasa replicas, two action servers, two notification workers, on
# PostgreSQL and Redis. Logs in var/log/scaled-*.log; Ctrl-C stops everything; when one
# process dies the rest are stopped, loudly (SCALED_RESTART=1: it is started again
# instead, as an orchestrator would; tests/scaled kills replicas that way).
#
# Every port and the database can be set from the environment (defaults below); any
# other app setting (WECHAT_*, TWILIO_*, ...) is passed through to every process.
set -uo pipefail
cd "$(dirname "$0")/.."

PUBLIC_PORT="${PUBLIC_PORT:-8080}"            # nginx -> the app replicas (what platforms call)
RASA_LB_PORT="${RASA_LB_PORT:-5080}"          # nginx -> the Rasa replicas (what the app calls)
ACTIONS_LB_PORT="${ACTIONS_LB_PORT:-5081}"    # nginx -> the action servers (what Rasa calls)
read -r -a APP_PORTS <<<"${APP_PORTS:-8001 8002}"
read -r -a RASA_PORTS <<<"${RASA_PORTS:-5101 5102}"
read -r -a ACTION_PORTS <<<"${ACTION_PORTS:-5155 5156}"
WORKERS="${WORKERS:-2}"
SCALED_DIR="${SCALED_DIR:-var/scaled}"        # nginx config and temp files, dev secrets, documents
LOG_DIR="${LOG_DIR:-var/log}"
MODEL="${MODEL:-models/claims.tar.gz}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"

export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/claims_scaled}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/1}"
export REDIS_KEY_PREFIX="${REDIS_KEY_PREFIX:-claims:scaled:}"
export RASA_STORE_KEY_PREFIX="${RASA_STORE_KEY_PREFIX:-claimsscaled}"
export VAR_DIR="${VAR_DIR:-$SCALED_DIR}"
export DOCUMENT_DIR="${DOCUMENT_DIR:-$SCALED_DIR/documents}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$PUBLIC_PORT}"
export RASA_URL="http://127.0.0.1:$RASA_LB_PORT"
export BACKEND_URL="${BACKEND_URL:-http://127.0.0.1:$PUBLIC_PORT}"
export ACTION_ENDPOINT_URL="http://127.0.0.1:$ACTIONS_LB_PORT/webhook"
export RASA_TELEMETRY_ENABLED=false SANIC_HOST=127.0.0.1
mkdir -p "$SCALED_DIR/nginx" "$LOG_DIR"
# nginx wants absolute paths.
SCALED_DIR="$(cd "$SCALED_DIR" && pwd)"; LOG_DIR="$(cd "$LOG_DIR" && pwd)"

APP_PY=.venv/bin/python
fail() { echo "ERROR: $*" >&2; exit 1; }
[ -f "$MODEL" ] || fail "no trained model at $MODEL: run \`make train\` first"
[ -x "$NGINX" ] || fail "nginx not found: run scripts/ensure-nginx.sh"

# PostgreSQL: a database of its own on the server (created once), migrated.
$APP_PY - <<'PY' || fail "cannot create the database of DATABASE_URL"
import os
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
url = make_url(os.environ["DATABASE_URL"])
if url.get_backend_name() == "postgresql":
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
            print(f"==> created database {url.database}")
    admin.dispose()
PY
$APP_PY -m backend.cli migrate || fail "migration failed"
$APP_PY -m backend.cli demo-data || fail "demo data failed"
RASA_TOKEN="$($APP_PY -m backend.cli rasa-token)" || fail "could not read RASA_TOKEN"
BACKEND_BOT_TOKEN="$($APP_PY -m backend.cli bot-token)" || fail "could not read BOT_SERVICE_TOKEN"
export RASA_TOKEN BACKEND_BOT_TOKEN
# Rasa's tracker and lock stores in the same Redis (bot/endpoints-scaled.yml).
stores="$($APP_PY -m backend.cli rasa-stores)" || fail "Rasa's shared stores need REDIS_URL"
eval "$stores"

# nginx: one config of our own (deploy/nginx-scaled.conf), run in the foreground by us.
# Started as root, nginx would hand requests to workers running as nobody, who may not
# write its temp files here: they run as the user who runs everything else.
nginx_user=""; [ "$(id -u)" = 0 ] && nginx_user="user $(id -un);"
upstream() { local p out=""; for p in "$@"; do out+="        server 127.0.0.1:$p max_fails=1 fail_timeout=5s;\n"; done; printf '%s' "$out"; }
sed -e "s|@PUBLIC_PORT@|$PUBLIC_PORT|; s|@RASA_LB_PORT@|$RASA_LB_PORT|; s|@ACTIONS_LB_PORT@|$ACTIONS_LB_PORT|" \
    -e "s|@APP_SERVERS@|$(upstream "${APP_PORTS[@]}")|; s|@RASA_SERVERS@|$(upstream "${RASA_PORTS[@]}")|" \
    -e "s|@ACTION_SERVERS@|$(upstream "${ACTION_PORTS[@]}")|" \
    -e "s|@DIR@|$SCALED_DIR/nginx|g; s|@LOG_DIR@|$LOG_DIR|g; s|@USER@|$nginx_user|" \
    deploy/nginx-scaled.conf > "$SCALED_DIR/nginx/nginx.conf"
"$NGINX" -t -q -p "$SCALED_DIR/nginx" -c "$SCALED_DIR/nginx/nginx.conf" -e "$LOG_DIR/scaled-nginx.log" \
  || fail "nginx refused its configuration ($SCALED_DIR/nginx/nginx.conf)"

declare -A pids=() commands=()
mkdir -p "$SCALED_DIR/pids"
start() {
  local name="$1"; shift
  commands[$name]="$*"
  ( exec "$@" ) > >(sed -u "s/^/[$name] /" >> "$LOG_DIR/scaled-$name.log") 2>&1 &
  pids[$name]=$!
  echo "${pids[$name]}" > "$SCALED_DIR/pids/$name.pid"
}

stop_all() {
  trap - INT TERM
  echo "==> stopping: ${!pids[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 1 75); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -f "$SCALED_DIR"/pids/*.pid
}
trap 'stop_all; exit 0' INT TERM

start nginx "$NGINX" -p "$SCALED_DIR/nginx" -c "$SCALED_DIR/nginx/nginx.conf" \
  -e "$LOG_DIR/scaled-nginx.log"
i=0; for port in "${APP_PORTS[@]}"; do i=$((i + 1))
  start "app$i" .venv/bin/uvicorn backend.main:create_app --factory --host 127.0.0.1 --port "$port" \
    --proxy-headers --forwarded-allow-ips 127.0.0.1
done
i=0; for port in "${ACTION_PORTS[@]}"; do i=$((i + 1))
  start "actions$i" .venv-bot/bin/python -m rasa_sdk --actions actions --port "$port"
done
i=0; for port in "${RASA_PORTS[@]}"; do i=$((i + 1))
  start "rasa$i" .venv-bot/bin/python -m bot.server run --model "$MODEL" --enable-api --auth-token "$RASA_TOKEN" \
    --interface 127.0.0.1 --port "$port" --endpoints "$RASA_ENDPOINTS" --credentials bot/credentials.yml
done
for i in $(seq 1 "$WORKERS"); do
  start "worker$i" "$APP_PY" -m backend.notifications.worker
done

cat <<MSG
==> starting the scaled topology (each Rasa replica needs a minute or more to load its model):
    public (nginx -> app ${APP_PORTS[*]}):    http://127.0.0.1:$PUBLIC_PORT  (/chat, /console, /docs, /health)
    Rasa (nginx -> ${RASA_PORTS[*]}):          http://127.0.0.1:$RASA_LB_PORT/status?token=<RASA_TOKEN>
    actions (nginx -> ${ACTION_PORTS[*]}):     http://127.0.0.1:$ACTIONS_LB_PORT/health
    workers: $WORKERS;  database: ${DATABASE_URL##*@};  Redis: ${REDIS_URL##*@}
    logs: $LOG_DIR/scaled-*.log;  process ids: $SCALED_DIR/pids/
    Ctrl-C stops everything.
MSG

# `wait -n` returns when the first process exits: always a failure here, unless
# SCALED_RESTART=1 asks to start it again.
while true; do
  wait -n "${pids[@]}"
  rc=$?
  dead=()
  for name in "${!pids[@]}"; do
    kill -0 "${pids[$name]}" 2>/dev/null || dead+=("$name")
  done
  [ ${#dead[@]} -eq 0 ] && continue
  if [ "${SCALED_RESTART:-0}" = 1 ]; then
    for name in "${dead[@]}"; do
      echo "==> '$name' exited (status $rc): starting it again; see $LOG_DIR/scaled-$name.log" >&2
      # shellcheck disable=SC2086  # the command was stored as words
      start "$name" ${commands[$name]}
    done
    continue
  fi
  for name in "${dead[@]}"; do
    echo "ERROR: process '$name' exited (status $rc); see $LOG_DIR/scaled-$name.log. Stopping the rest." >&2
  done
  stop_all
  exit 1
done

#!/usr/bin/env bash
# The tests use the real PostgreSQL and Redis on this machine. Say plainly when one
# is not reachable and how to start it, instead of letting tests skip in silence.
set -uo pipefail
pg_url="${TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
fail=0
if ! .venv/bin/python - "$pg_url" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
then
  cat >&2 <<MSG
ERROR: PostgreSQL is not reachable at $pg_url (the tests need it).
  Start it:  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start
  or point TEST_POSTGRES_URL at a server with an empty database you may write to.
MSG
  fail=1
fi
if ! .venv/bin/python - "$redis_url" <<'PY' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()
PY
then
  cat >&2 <<MSG
ERROR: Redis is not reachable at $redis_url (the tests need it).
  Start it:  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  or point TEST_REDIS_URL at another server.
MSG
  fail=1
fi
exit $fail

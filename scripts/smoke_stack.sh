#!/usr/bin/env bash
# Starts the production stack (gunicorn, a Celery worker and beat) on a throwaway PostgreSQL database and Redis,
# runs scripts/smoke.py against it through HTTP, then stops everything and drops the database.
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379. Usage: scripts/smoke_stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORK="$(mktemp -d)"
DB="kapstone_smoke_$$"
PORT="${SMOKE_PORT:-$($BIN/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
pids=()

stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS ${DB}" postgres >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap stop EXIT

# Production settings: no demo mode, every secret given. Plain HTTP on the loopback, so no TLS redirect or
# secure-only cookies. The practice's clock is set where it is midday now, so patients' quiet hours (21:00-08:00
# by default) never hold the reminder back, whenever CI runs.
unset KAPSTONE_DEMO DJANGO_SETTINGS_MODULE
export SECRET_KEY="$($BIN/python -c 'import secrets; print(secrets.token_hex(32))')"
export KAPSTONE_RESEARCH_ID_KEY="$($BIN/python -c 'import secrets; print(secrets.token_hex(32))')"
export KAPSTONE_NOTES_KEY="$($BIN/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
export REDIS_URL="redis://127.0.0.1:6379/14"
export EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend"
export EMAIL_FILE_PATH="$WORK/mail"
export KAPSTONE_VAR_DIR="$WORK/var"
export ALLOWED_HOSTS="127.0.0.1,localhost"
export KAPSTONE_WEBAUTHN_RP_ID=localhost KAPSTONE_WEBAUTHN_RP_NAME="Smoke practice"
export KAPSTONE_WEBAUTHN_ORIGINS="http://localhost:${PORT}"
export KAPSTONE_SITE_URL="http://127.0.0.1:${PORT}"
export SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0 SECURE_HSTS_SECONDS=0
export KAPSTONE_REMINDER_SWEEP_SECONDS=5
export KAPSTONE_TIME_ZONE="$($BIN/python -c 'import datetime as d; o = (12 - d.datetime.now(d.UTC).hour + 12) % 24 - 12; print(f"Etc/GMT{-o:+d}" if o else "UTC")')"
mkdir -p "$EMAIL_FILE_PATH" "$KAPSTONE_VAR_DIR"

echo "--- smoke: database ${DB}, port ${PORT}, practice time zone ${KAPSTONE_TIME_ZONE}"
psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE ${DB}" postgres
$BIN/kapstone migrate --noinput >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; exit 1; }
$BIN/kapstone collectstatic --noinput >/dev/null
$BIN/kapstone setup_practice --username admin.smoke --email admin.smoke@practice.example \
  --first-name Ada --last-name Smoke --password "smoke-admin-passphrase-2026" </dev/null

$BIN/gunicorn --config python:kapstone.gunicorn_config kapstone.wsgi:application --bind "127.0.0.1:${PORT}" --workers 2 --log-file "$WORK/gunicorn.log" &
pids+=($!)
$BIN/celery -A kapstone worker --concurrency 1 --loglevel INFO >"$WORK/worker.log" 2>&1 &
pids+=($!)
$BIN/celery -A kapstone beat --schedule "$WORK/celerybeat-schedule" --loglevel INFO >"$WORK/beat.log" 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  $BIN/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:${PORT}/healthz', timeout=2)" 2>/dev/null && break
  sleep 0.2
done

if ! $BIN/python scripts/smoke.py --base "http://127.0.0.1:${PORT}" --mail-dir "$EMAIL_FILE_PATH" \
    --admin admin.smoke --password "smoke-admin-passphrase-2026"; then
  for log in gunicorn worker beat; do echo "--- ${log}.log (last 40 lines)"; tail -n 40 "$WORK/${log}.log"; done
  exit 1
fi

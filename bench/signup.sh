#!/usr/bin/env bash
# Benchmark: sign-ups under load. Starts the release binary on a fresh database with
# Postfix's smtp-sink as its SMTP server (so the confirmations the sign-ups cause are
# sent while they arrive), then drives `POST /subscriptions` with wrk: fresh addresses,
# 64 connections, 15 s. Prints requests a second, p50, p99 and errors.
#
#   bench/signup.sh [CONNECTIONS=64] [SECONDS=15]
#
# Installs wrk from Debian if missing; fetches smtp-sink like bench/send-digest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-64}
seconds=${2:-15}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
. bench/common.sh

run=$(mktemp -d)
smtp_port=$(free_port)
http_port=$(free_port)
start_sink "$smtp_port"
trap 'kill "${app_pid:-}" 2>/dev/null; sleep 0.5; kill "$sink_pid" 2>/dev/null || true; rm -rf "$run"' EXIT

(cd "$run" && DATABASE_URL=$run/newsletter.db SMTP_URL=smtp://127.0.0.1:$smtp_port \
  BIND_ADDR=127.0.0.1:$http_port BASE_URL=http://127.0.0.1:$http_port \
  SIGNUP_RATE_PER_MINUTE=0 CONFIRM_MAILS_PER_ADDRESS_PER_DAY=1000 DIGEST_CRON= FEED_CRON= \
  RUST_LOG=warn exec "$bin" serve 2>"$run/app.log") &
app_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http_port/health" >/dev/null && break
  sleep 0.1
done

write_signup_script "$run/signup.lua" reader
echo "sign-ups: $(wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$run/signup.lua" \
  "http://127.0.0.1:$http_port" | tail -n 1)"
sleep 2
python3 - "$run/newsletter.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
queued, = db.execute("select count(*) from outgoing_emails where status = 'queued'").fetchone()
sent, = db.execute("select count(*) from outgoing_emails where status = 'sent'").fetchone()
print(f"confirmations: {sent} sent, {queued} still queued")
PY

#!/usr/bin/env bash
# Benchmark: composing a digest for N readers, alone and while readers sign up.
# `newsletter serve` runs on a fresh database of N confirmed readers with Postfix's
# smtp-sink as its SMTP server, three times, each on a fresh copy of the database: first
# `POST /api/digests` composes a digest with nothing else going on (it answers once the
# digest is rendered and its readers counted; the workers queue their deliveries as they
# send them); then wrk drives `POST /subscriptions` alone for a few seconds
# (fresh addresses, 64 connections); then the digest is composed while wrk drives the
# sign-ups.
# Prints both composing times and both sign-up runs' requests a second, p50, p99 and
# errors.
#
#   bench/compose.sh [READERS=1000000] [CONNECTIONS=64] [SECONDS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-1000000}
connections=${2:-64}
seconds=${3:-4}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
. bench/common.sh

run=$(mktemp -d)
smtp_port=$(free_port)
http_port=$(free_port)
start_sink "$smtp_port"
trap 'kill "${app_pid:-}" 2>/dev/null; sleep 0.5; kill "$sink_pid" 2>/dev/null || true; rm -rf "$run"' EXIT
write_readers "$readers" "$run/readers.csv"

export SMTP_URL=smtp://127.0.0.1:$smtp_port \
  BIND_ADDR=127.0.0.1:$http_port BASE_URL=http://127.0.0.1:$http_port \
  SIGNUP_RATE_PER_MINUTE=0 CONFIRM_MAILS_PER_ADDRESS_PER_DAY=1000 DIGEST_CRON= FEED_CRON= \
  ADMIN_TOKEN=bench-admin-token-0123456789 RUST_LOG=warn
(cd "$run" && DATABASE_URL=$run/readers.db "$bin" subscribers import readers.csv 2>/dev/null)

# Starts `serve` on a fresh copy of the imported readers.
serve_fresh() {
  kill "${app_pid:-}" 2>/dev/null && wait "$app_pid" 2>/dev/null || true
  rm -f "$run"/newsletter.db*
  cp "$run/readers.db" "$run/newsletter.db"
  # The copy's hundreds of megabytes are written back to disk now, not by the first
  # checkpoint's fsync (which would stall whatever waits on it for a quarter second).
  sync
  (cd "$run" && DATABASE_URL=$run/newsletter.db exec "$bin" serve 2>"$run/app.log") &
  app_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/health" >/dev/null && break
    sleep 0.1
  done
  # The digest's one article.
  curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"title": "Astana’s budget debate opens in the Mazhilis", "url": "https://astanatimes.example/budget", "summary": "The Mazhilis took up the 2027 budget."}' \
    "http://127.0.0.1:$http_port/api/articles" >/dev/null
}

# Composes the digest; prints the seconds `POST /api/digests` took and its answer.
compose() {
  local took
  took=$(curl -s -o "$run/created" -w '%{time_total}' -X POST \
    -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$http_port/api/digests")
  echo "${took} s ($(cat "$run/created"))"
}

signups() {
  write_signup_script "$run/signup-$1.lua" "$1"
  wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$run/signup-$1.lua" \
    "http://127.0.0.1:$http_port" | tail -n 1
}

serve_fresh
composed_alone=$(compose)
serve_fresh
alone=$(signups alone)
serve_fresh
signups during > "$run/during" &
wrk_pid=$!
sleep 0.5
composed_during=$(compose)
wait "$wrk_pid"
echo "composing the digest for $readers readers (rendered, readers counted), alone: $composed_alone"
echo "composing it while readers sign up: $composed_during"
echo "sign-ups alone:              $alone"
echo "sign-ups while it composes:  $(cat "$run/during")"

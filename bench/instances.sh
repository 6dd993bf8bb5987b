#!/usr/bin/env bash
# Benchmark: one digest to N readers on SQLite with one instance, then on PostgreSQL
# with one and with two instances, into Postfix's smtp-sink. Prints messages a second
# and the peak RSS of each instance.
#
#   bench/instances.sh [READERS=100000] [SEND_CONCURRENCY=8]   (SKIP_SQLITE=1: PostgreSQL only)
#
# PostgreSQL: PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) must let us
# create and drop a database; each run uses a fresh one. The server is on this machine,
# so the service connects without TLS (PGSSLMODE=disable, as over a local socket;
# export PGSSLMODE=require to measure with it): encrypting the loopback costs both
# sides CPU that the 2 cores would otherwise give to the mail. The first instance is
# `newsletter send-digest` (it composes, sends, and waits until every reader is
# settled); the second is a `newsletter worker` started just before on the same
# database, which takes its share of the deliveries.
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-100000}
concurrency=${2:-8}
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export PGSSLMODE=${PGSSLMODE:-disable}
. bench/common.sh

run=$(mktemp -d)
pg_db=newsletter_bench_$$
cleanup() {
  kill "$sink_pid" 2>/dev/null || true
  psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
port=$(free_port)
start_sink "$port"

write_readers "$readers" "$run/readers.csv"
export SMTP_URL=smtp://127.0.0.1:$port SEND_CONCURRENCY=$concurrency RUST_LOG=warn

# bench ENGINE_LABEL DATABASE_URL INSTANCES
bench() {
  local label=$1 instances=$3 worker_pid="" start end worker_rss=""
  export DATABASE_URL=$2
  "$bin" subscribers import "$run/readers.csv" 2>/dev/null
  "$bin" import-feed examples/astana-times-feed.xml 2>/dev/null
  if [ "$instances" = 2 ]; then
    "$bin" worker 2>"$run/worker.log" &
    worker_pid=$!
    sleep 1
  fi
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$run/rss" "$bin" send-digest 2>"$run/out" || { cat "$run/out"; exit 1; }
  end=$(date +%s.%N)
  if [ -n "$worker_pid" ]; then
    worker_rss=$(awk '/VmHWM/ {print $2}' "/proc/$worker_pid/status")
    kill -TERM "$worker_pid"; wait "$worker_pid" || true
  fi
  python3 - "$label" "$readers" "$start" "$end" "$(cat "$run/rss")" "$worker_rss" "$run" <<'PY'
import sys
label, n, start, end, rss, worker = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
secs = end - start
with open(f"{sys.argv[7]}/rates", "a") as rates:
    print(f"{n / secs:.0f}", file=rates)
line = f"{label}: {n} messages in {secs:.2f} s = {n / secs:,.0f} messages/s; peak RSS send-digest {rss / 1024:.1f} MiB"
if worker:
    line += f", worker {int(worker) / 1024:.1f} MiB"
print(line)
PY
}

[ -n "${SKIP_SQLITE:-}" ] || bench "SQLite, 1 instance    " "$run/newsletter.db" 1
for instances in 1 2; do
  psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" -c "CREATE DATABASE $pg_db" >/dev/null
  bench "PostgreSQL, $instances instance$([ "$instances" = 2 ] && echo s || echo " ")" "${pg_url%/*}/$pg_db" "$instances"
  psql -qtA "${pg_url%/*}/$pg_db" -c \
    "SELECT '  settled ' || sum(sent_count + failed_count + skipped_count) || ' of ' || sum(recipient_count) || ' deliveries; ' || (SELECT count(*) FROM deliveries WHERE status = 'sent') || ' sent' FROM digests"
done
if [ -z "${SKIP_SQLITE:-}" ]; then
  # Lines: SQLite, PostgreSQL with 1, PostgreSQL with 2 instances.
  awk 'NR == 1 {sqlite = $1} NR == 3 {printf "PostgreSQL with 2 instances: %.0f %% of SQLite with 1 (the floor is 80 %%)\n", 100 * $1 / sqlite}' "$run/rates"
fi

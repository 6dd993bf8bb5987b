#!/usr/bin/env bash
# Benchmark: does watching a send slow it? `newsletter serve` sends a digest to N
# readers over real SMTP into Postfix's smtp-sink twice, each time on a fresh database:
# once with nobody watching, once while 20 clients poll `GET /api/digests/{id}` every
# 100 ms, as 20 open admin dashboards would. Prints both rates, the slowdown, and the
# polls' p50/p99.
#
#   bench/polling.sh [READERS=100000] [SEND_CONCURRENCY=8] [POLLERS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-100000}
concurrency=${2:-8}
pollers=${3:-20}
. bench/common.sh

run=$(mktemp -d)
trap 'kill "$sink_pid" "${server_pid:-}" 2>/dev/null || true; rm -rf "$run"' EXIT
port=$(free_port)
start_sink "$port"
write_readers "$readers" "$run/readers.csv"

# One send to the N readers of a fresh database (so the second send does not find the
# first one's million delivery rows), watched by WATCHERS polling clients; prints the
# rate, and the polls' latencies when there are any.
send_watched_by() {
  local db=$run/newsletter-$1.db web
  web=$(free_port)
  rm -f "$db"*
  (
    export DATABASE_URL=$db SMTP_URL=smtp://127.0.0.1:$port SEND_CONCURRENCY=$concurrency \
      RUST_LOG=warn BIND_ADDR=127.0.0.1:$web BASE_URL=http://127.0.0.1:$web DIGEST_CRON= \
      FEED_CRON= ADMIN_TOKEN=bench-admin-token-0123456789
    cd "$run"
    "$bin" subscribers import readers.csv 2>/dev/null
    "$bin" serve 2>"$run/serve.log" &
    server_pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$web/health" >/dev/null && break; sleep 0.1; done
    python3 - "$web" "$readers" "$1" <<'PY'
import http.client, json, sys, threading, time
port, n, watchers = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
auth = {"Authorization": "Bearer bench-admin-token-0123456789", "Content-Type": "application/json"}
local = threading.local()

# Each thread keeps one connection open, as a browser's dashboard does.
def call(method, path, body=None):
    if not hasattr(local, "connection"):
        local.connection = http.client.HTTPConnection("127.0.0.1", port)
    local.connection.request(method, path, headers=auth,
                             body=json.dumps(body).encode() if body is not None else None)
    response = local.connection.getresponse()
    if response.status >= 300:
        sys.exit(f"{method} {path}: {response.status} {response.read()!r}")
    return json.load(response)

call("POST", "/api/articles", {"title": "Astana’s budget debate opens in the Mazhilis",
                               "url": "https://astanatimes.example/budget",
                               "summary": "The Mazhilis took up the 2027 budget."})
digest = call("POST", "/api/digests")["id"]
stop, latencies = threading.Event(), []
def poll():
    while not stop.is_set():
        began = time.perf_counter()
        call("GET", f"/api/digests/{digest}")
        latencies.append(time.perf_counter() - began)
        stop.wait(0.1)
threads = [threading.Thread(target=poll) for _ in range(watchers)]
began = time.time()
for t in threads: t.start()
while call("GET", f"/api/digests/{digest}")["status"] != "sent":
    time.sleep(0.05)
took = time.time() - began
stop.set()
for t in threads: t.join()
latencies.sort()
line = f"{n / took:.0f}"
if latencies:
    line += f" {len(latencies)} {latencies[len(latencies) // 2] * 1000:.1f} {latencies[int(len(latencies) * 0.99)] * 1000:.1f}"
print(line)
PY
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  )
}

read -r alone < <(send_watched_by 0)
read -r watched polls p50 p99 < <(send_watched_by "$pollers")
python3 - "$alone" "$watched" "$pollers" "$polls" "$p50" "$p99" <<'PY'
import sys
alone, watched, pollers, polls = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
print(f"nobody watching: {alone:,.0f} messages/s")
print(f"{pollers} clients polling every 100 ms: {watched:,.0f} messages/s ({(alone - watched) / alone:+.1%} slower); "
      f"{polls:,} polls, p50 {sys.argv[5]} ms, p99 {sys.argv[6]} ms")
PY

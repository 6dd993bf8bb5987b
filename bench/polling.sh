#!/usr/bin/env bash
# Benchmark: does watching a send slow it? `newsletter serve` sends two digests to N
# readers over real SMTP into Postfix's smtp-sink: the first with nobody watching, the
# second while 20 clients poll `GET /api/digests/{id}` every 100 ms, as 20 open admin
# dashboards would. Prints both rates, the slowdown, and the polls' p50/p99.
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
cd "$run"
web=$(free_port)
export DATABASE_URL=$run/newsletter.db SMTP_URL=smtp://127.0.0.1:$port SEND_CONCURRENCY=$concurrency \
  RUST_LOG=warn BIND_ADDR=127.0.0.1:$web BASE_URL=http://127.0.0.1:$web DIGEST_CRON= FEED_CRON= \
  ADMIN_TOKEN=bench-admin-token-0123456789
"$bin" subscribers import readers.csv 2>/dev/null
"$bin" serve 2>"$run/serve.log" &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$web/health" >/dev/null && break; sleep 0.1; done

python3 - "$web" "$readers" "$pollers" <<'PY'
import json, sys, threading, time, urllib.request
base, n, pollers = f"http://127.0.0.1:{sys.argv[1]}", int(sys.argv[2]), int(sys.argv[3])
auth = {"Authorization": "Bearer bench-admin-token-0123456789", "Content-Type": "application/json"}

def call(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, headers=auth,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request) as response:
        return json.load(response)

def send(edition, watchers):
    call("POST", "/api/articles", {"title": f"Astana’s budget debate, day {edition}",
                                   "url": f"https://astanatimes.example/budget-{edition}",
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
    return n / took, sorted(latencies)

alone, _ = send(1, 0)
watched, latencies = send(2, pollers)
print(f"nobody watching: {alone:,.0f} messages/s")
print(f"{pollers} clients polling every 100 ms: {watched:,.0f} messages/s "
      f"({(alone - watched) / alone:+.1%} slower); {len(latencies):,} polls, "
      f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
PY

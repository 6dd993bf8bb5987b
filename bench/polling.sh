#!/usr/bin/env bash
# Benchmark: does watching a send slow it? `newsletter serve` sends a digest to N
# readers over real SMTP into Postfix's smtp-sink twice, each time on a fresh database:
# once with nobody watching, once while 20 clients poll `GET /api/digests/{id}` every
# 100 ms, as 20 open admin dashboards would; RUNS times over. Prints each pair's rates,
# slowdown, polls' p50/p99 and the CPU the pollers themselves took (they share the
# cores), and the median rates.
#
#   bench/polling.sh [READERS=100000] [SEND_CONCURRENCY=8] [POLLERS=20] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-100000}
concurrency=${2:-8}
pollers=${3:-20}
runs=${4:-3}
. bench/common.sh

run=$(mktemp -d)
trap 'kill "$sink_pid" "${server_pid:-}" 2>/dev/null || true; rm -rf "$run"' EXIT
port=$(free_port)
start_sink "$port"
write_readers "$readers" "$run/readers.csv"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# A poller asks again 100 ms after each answer; at the end: polls, p50 and p99 in ms.
cat > "$run/poll.lua" <<'LUA'
delay = function() return 100 end
done = function(summary, latency, requests)
  io.write(string.format("%d %.1f %.1f\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

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
    python3 - "$web" "$readers" "$1" "$run/poll.lua" <<'PY'
import http.client, json, os, signal, subprocess, sys, time
port, n, watchers, poll_script = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
auth = {"Authorization": "Bearer bench-admin-token-0123456789", "Content-Type": "application/json"}
connection = http.client.HTTPConnection("127.0.0.1", port)

def call(method, path, body=None):
    connection.request(method, path, headers=auth,
                       body=json.dumps(body).encode() if body is not None else None)
    response = connection.getresponse()
    if response.status >= 300:
        sys.exit(f"{method} {path}: {response.status} {response.read()!r}")
    return json.load(response)

call("POST", "/api/articles", {"title": "Astana’s budget debate opens in the Mazhilis",
                               "url": "https://astanatimes.example/budget",
                               "summary": "The Mazhilis took up the 2027 budget."})
digest = call("POST", "/api/digests")["id"]
# The pollers are wrk's connections, each keeping its connection open (as a browser's
# dashboard does) and asking again 100 ms after each answer (the script's `delay`): in
# C, so they take little of the two cores the sender and the sink share with them.
pollers = None
if watchers:
    pollers = subprocess.Popen(
        ["wrk", "-t", "1", "-c", str(watchers), "-d", "3600s", "-s", poll_script,
         "-H", f"Authorization: {auth['Authorization']}",
         f"http://127.0.0.1:{port}/api/digests/{digest}"],
        stdout=subprocess.PIPE, text=True)
began = time.time()
while call("GET", f"/api/digests/{digest}")["status"] != "sent":
    time.sleep(0.05)
took = time.time() - began
line = f"{n / took:.0f}"
if pollers:
    with open(f"/proc/{pollers.pid}/stat") as stat:
        ticks = sum(int(field) for field in stat.read().rsplit(")", 1)[1].split()[11:13])
    pollers.send_signal(signal.SIGINT)  # wrk stops and runs the script's `done`
    polls, p50, p99 = pollers.communicate()[0].strip().splitlines()[-1].split()
    line += f" {polls} {p50} {p99} {ticks / os.sysconf('SC_CLK_TCK') / took:.3f}"
print(line)
PY
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  )
}

# Sends alternate, unwatched then watched, RUNS times: the rate of one send moves by more
# than 10 % from the next on two shared cores, more than the effect measured.
results=()
for n in $(seq "$runs"); do
  read -r alone < <(send_watched_by 0)
  read -r watched polls p50 p99 client_cpu < <(send_watched_by "$pollers")
  results+=("$alone $watched $polls $p50 $p99 $client_cpu")
done
python3 - "$pollers" "${results[@]}" <<'PY'
import statistics, sys
pollers, runs = sys.argv[1], [line.split() for line in sys.argv[2:]]
for n, (alone, watched, polls, p50, p99, cpu) in enumerate(runs, 1):
    alone, watched = float(alone), float(watched)
    print(f"run {n}: nobody watching {alone:,.0f} messages/s; {pollers} clients polling every "
          f"100 ms {watched:,.0f} messages/s ({(alone - watched) / alone:+.1%}); {int(polls):,} polls, "
          f"p50 {p50} ms, p99 {p99} ms; the pollers' own CPU {float(cpu):.1%} of one core")
alone = statistics.median(float(r[0]) for r in runs)
watched = statistics.median(float(r[1]) for r in runs)
print(f"median: nobody watching {alone:,.0f} messages/s, watched {watched:,.0f} messages/s: "
      f"{(alone - watched) / alone:+.1%} slower")
PY

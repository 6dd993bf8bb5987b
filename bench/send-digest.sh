#!/usr/bin/env bash
# Benchmark: send one digest to N imported readers over real SMTP into Postfix's
# smtp-sink (a fast sink that accepts and discards), and print the ceiling (what
# Postfix's own smtp-source pushes into the same sink, same message size and
# parallelism), the rates over the first and the last 10 % of the send, the overall
# rate and the peak memory of `newsletter send-digest`.
#
#   bench/send-digest.sh [READERS=10000] [SEND_CONCURRENCY=8]
#
# Fetches smtp-sink from Debian's postfix package into target/bench/ (unpacked, never
# installed, so no mail server starts). Builds the release binary if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-10000}
concurrency=${2:-8}
. bench/common.sh

run=$(mktemp -d)
trap 'kill "$sink_pid" 2>/dev/null || true; rm -rf "$run"' EXIT
port=$(free_port)
start_sink "$port"

write_readers "$readers" "$run/readers.csv"
cd "$run"
export DATABASE_URL=$run/newsletter.db SMTP_URL=smtp://127.0.0.1:$port SEND_CONCURRENCY=$concurrency RUST_LOG=warn
"$bin" subscribers import readers.csv 2>/dev/null
"$bin" import-feed "$OLDPWD/examples/astana-times-feed.xml" 2>/dev/null

# The ceiling: smtp-source into the same sink, 15 KB messages, the same parallelism.
size=15000
ceiling_count=$(( readers < 50000 ? readers : 50000 ))
"$postfix_bin/smtp-source" -s "$concurrency" -l "$size" -m "$ceiling_count" \
  -f bench@example.org -t sink@example.org 127.0.0.1:"$port" 2>/dev/null &
source_start=$(date +%s.%N); wait $!; source_end=$(date +%s.%N)

# Samples the digest's sent count twice a second while it goes out.
python3 - "$run/newsletter.db" > "$run/samples" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
while True:
    try:
        row = db.execute("select sent_count + failed_count + skipped_count, recipient_count, status from digests order by id desc limit 1").fetchone()
    except sqlite3.OperationalError:
        row = None
    if row:
        print(f"{time.time()} {row[0]} {row[1]}", flush=True)
        if row[2] == "sent":
            break
    time.sleep(0.2)
PY
sampler=$!
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$run/rss" "$bin" send-digest 2>"$run/out" || { cat "$run/out"; exit 1; }
end=$(date +%s.%N)
wait "$sampler" || true
tail -n 1 "$run/out"
python3 - "$readers" "$start" "$end" "$(cat "$run/rss")" "$concurrency" "$ceiling_count" "$source_start" "$source_end" "$run/samples" <<'PY'
import sys
n, start, end, rss_kb, conc = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ceiling = int(sys.argv[6]) / (float(sys.argv[8]) - float(sys.argv[7]))
samples = [tuple(map(float, line.split()[:2])) for line in open(sys.argv[9]) if line.strip()]
def rate_between(lo, hi):
    inside = [(t, done) for t, done in samples if lo * n <= done <= hi * n]
    if len(inside) < 2 or inside[-1][0] == inside[0][0]:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
secs = end - start
overall = n / secs
print(f"ceiling (smtp-source, {conc} sessions, 15 KB): {ceiling:,.0f} messages/s")
print(f"first 10 %: {rate_between(0.0, 0.1):,.0f} messages/s; last 10 %: {rate_between(0.9, 1.0):,.0f} messages/s")
print(f"send-digest: {n} messages in {secs:.2f} s = {overall:,.0f} messages/s on {conc} connections ({overall / ceiling:.0%} of the ceiling); peak RSS {rss_kb / 1024:.1f} MiB")
PY

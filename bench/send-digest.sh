#!/usr/bin/env bash
# Benchmark: send one digest to N imported readers over real SMTP into Postfix's
# smtp-sink (a fast sink that accepts and discards), and print messages a second and the
# peak memory of `newsletter send-digest`.
#
#   bench/send-digest.sh [READERS=10000] [SEND_CONCURRENCY=8]
#
# Fetches smtp-sink from Debian's postfix package into target/bench/ (unpacked, never
# installed, so no mail server starts). Builds the release binary if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-10000}
concurrency=${2:-8}
work=target/bench
mkdir -p "$work"

sink=$work/postfix/usr/sbin/smtp-sink
if [ ! -x "$sink" ]; then
  (cd "$work" && apt-get download postfix >/dev/null && dpkg -x postfix_*.deb postfix)
fi
export LD_LIBRARY_PATH="$PWD/$work/postfix/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cargo build --release --quiet
bin=$PWD/target/release/newsletter

run=$(mktemp -d)
trap 'kill "$sink_pid" 2>/dev/null || true; rm -rf "$run"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sink_user=$(id -u -n)
[ "$sink_user" = root ] && sink_user=nobody
"$sink" -u "$sink_user" 127.0.0.1:"$port" 1024 &
sink_pid=$!

python3 - "$readers" > "$run/readers.csv" <<'PY'
import sys
print("email,name")
for n in range(int(sys.argv[1])):
    print(f"reader{n}@example.org,Reader {n} Rakhmetullin")
PY
cd "$run"
export DATABASE_URL=$run/newsletter.db SMTP_URL=smtp://127.0.0.1:$port SEND_CONCURRENCY=$concurrency RUST_LOG=warn
"$bin" subscribers import readers.csv 2>/dev/null
"$bin" import-feed "$OLDPWD/examples/astana-times-feed.xml" 2>/dev/null

start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$run/rss" "$bin" send-digest 2>"$run/out" || { cat "$run/out"; exit 1; }
end=$(date +%s.%N)
tail -n 1 "$run/out"
python3 - "$readers" "$start" "$end" "$(cat "$run/rss")" "$concurrency" <<'PY'
import sys
n, start, end, rss_kb, conc = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
secs = end - start
print(f"send-digest: {n} messages in {secs:.2f} s = {n / secs:,.0f} messages/s on {conc} connections; peak RSS {rss_kb / 1024:.1f} MiB")
PY

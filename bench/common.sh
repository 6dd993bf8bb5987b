# Shared by the benchmarks (sourced from the repository's root): Postfix's smtp-sink
# and smtp-source from Debian's postfix package, unpacked into target/bench/ and never
# installed (so no mail server starts), the release binary, and free ports.
work=target/bench
mkdir -p "$work"
postfix_bin=$PWD/$work/postfix/usr/sbin
if [ ! -x "$postfix_bin/smtp-sink" ]; then
  (cd "$work" && apt-get download postfix >/dev/null && dpkg -x postfix_*.deb postfix)
fi
export LD_LIBRARY_PATH="$PWD/$work/postfix/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# NEWSLETTER_BIN runs another build (say, the previous commit's) for a comparison.
if [ -n "${NEWSLETTER_BIN:-}" ]; then
  bin=$NEWSLETTER_BIN
else
  cargo build --release --quiet
  bin=$PWD/target/release/newsletter
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts smtp-sink on 127.0.0.1:PORT; its process id is left in `sink_pid`.
start_sink() {
  local user
  user=$(id -u -n)
  [ "$user" = root ] && user=nobody
  "$postfix_bin/smtp-sink" -u "$user" 127.0.0.1:"$1" 1024 &
  sink_pid=$!
}

# Writes an `email,name` CSV of N readers to FILE, as `subscribers import` takes it.
write_readers() {
  python3 - "$1" > "$2" <<'PY'
import sys
print("email,name")
for n in range(int(sys.argv[1])):
    print(f"reader{n}@example.org,Reader {n} Rakhmetullin")
PY
}

# Writes FILE, a wrk script that posts sign-ups of fresh addresses (PREFIX<thread>-<n>
# @example.org) and prints "N requests/s, p50 …, p99 …, errors …" when done.
write_signup_script() {
  cat > "$1" <<LUA
local prefix = "$2"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local body = "email=" .. prefix .. tid .. "-" .. n .. "%40example.org&name=Reader+" .. n
  return wrk.format("POST", "/subscriptions",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%.0f requests/s, p50 %.1f ms, p99 %.1f ms, errors %d (non-2xx %d)\\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
LUA
}

#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `fuzz/run.sh [SECONDS_PER_TARGET]` (15 by
# default). Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain,
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags (-Zsanitizer=address).
# A crash leaves its input in fuzz/artifacts/TARGET/; replay it with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-…`.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-15}"
export RUSTC_BOOTSTRAP=1

# Seed the corpora with the feeds and markup the tests use (corpus/ is not committed).
mkdir -p corpus/feed corpus/sanitize_html corpus/html_nesting corpus/csv_import target/logs
cp ../tests/fixtures/*.xml ../examples/*.xml corpus/feed/
cp ../tests/fixtures/*.xml corpus/sanitize_html/
printf 'email,name\nakan@example.kz,Akan\n"bad row",x\n' >corpus/csv_import/seed.csv
# html_nesting: a repeat count, then piece numbers (`<div></x>`, `<span><div></span>`…).
printf '\377\000\002' >corpus/html_nesting/div-stray-end
printf '\377\021\000\022' >corpus/html_nesting/span-div-span

cargo fuzz build
failed=()
for target in $(cargo fuzz list); do
    log="target/logs/$target.log"
    # -timeout: an input taking over 10 s is a hang, reported like a crash.
    if cargo fuzz run "$target" -- -max_total_time="$seconds" -timeout=10 >"$log" 2>&1; then
        echo "$target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
    else
        echo "$target: FAILED (log: fuzz/$log)"
        tail -n 30 "$log"
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "failing targets: ${failed[*]}"
    exit 1
fi

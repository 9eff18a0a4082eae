#!/bin/bash
# Signed deposits against two builds of `pitboss`, ABBA, a fresh data directory per run:
# deposits/s, p99 and the server's CPU per request (from /proc/<pid>/stat).
#
#   tools/bench/deposits-abba.sh BASELINE_BINARY [PAIRS]
#
# A is BASELINE_BINARY (e.g. a build of an older commit), B is target/release/pitboss.
# Needs `cargo build --release --bins` first; Linux only; uses 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=$1; pairs=${2:-2}
dir=$(mktemp -d)
run() {
  bin=$1; label=$2
  rm -rf "$dir/data"
  "$bin" serve --data-dir "$dir/data" --fsync always > "$dir/server.log" 2>&1 & s=$!
  sleep 2
  t0=$(awk '{print $14+$15}' /proc/$s/stat)
  line=$(target/release/pitboss-load --credentials "$dir/data/demo-operator.json" \
      --connections 50 --duration 10 --mode platform --deposit-share 1 2>&1 | grep '^deposit')
  t1=$(awk '{print $14+$15}' /proc/$s/stat)
  n=$(echo "$line" | awk '{print $2}')
  echo "$label $(echo "$line" | awk '{print $4, "deposits/s, p99", $10, "ms"}'), server CPU" \
       "$(python3 -c "print(round(($t1-$t0)/$(getconf CLK_TCK)*1e6/$n,2))") µs/request"
  kill $s; wait $s 2>/dev/null || true
}
for _ in $(seq 1 "$pairs"); do
  run "$base" A; run target/release/pitboss B; run target/release/pitboss B; run "$base" A
done
rm -rf "$dir"

#!/bin/bash
# Gate rounds on a warmed server, with and without eviction, ABBA: each server first
# takes 20 s of gate load, then a measured 10 s run. A hot window of 5 minutes has
# evicted nothing by then (no store lookups); one of 10 s evicts all the time, so
# every new id is looked for in the history store. Prints calls/s, the bet's p50 and
# p99, and the server's CPU per call.
#
#   tools/bench/gate-warmed.sh [PAIRS]
#
# Needs `cargo build --release --bins` first; Linux only; uses 127.0.0.1:8181.
set -uo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-2}
dir=$(mktemp -d)
s=
# An interrupted run must not leave its server holding the port.
trap '[ -n "$s" ] && kill $s 2>/dev/null; rm -rf "$dir"' EXIT
load() {
  target/release/pitboss-load --server http://127.0.0.1:8181 \
      --credentials "$dir/data/demo-operator.json" --connections 50 \
      --duration "$1" --mode gate 2>&1
}
run() {
  window=$1
  rm -rf "$dir/data"
  target/release/pitboss serve --data-dir "$dir/data" --fsync always \
      --hot-window "$window" --listen 127.0.0.1:8181 > "$dir/server.log" 2>&1 & s=$!
  sleep 2
  load 20 > /dev/null
  t0=$(awk '{print $14+$15}' /proc/$s/stat)
  out=$(load 10)
  t1=$(awk '{print $14+$15}' /proc/$s/stat)
  n=$(echo "$out" | sed -nE 's/.*s, ([0-9]+) requests.*/\1/p' | head -1)
  rate=$(echo "$out" | sed -nE 's/.* ([0-9]+ req\/s).*/\1/p' | head -1)
  bet=$(echo "$out" | awk '$1 == "bet" {print "p50", $7, "p99", $10}')
  echo "hot window $window | $rate | $bet | server CPU" \
       "$(python3 -c "print(round(($t1-$t0)/$(getconf CLK_TCK)*1e6/$n,1))") µs/call"
  kill $s; wait $s 2>/dev/null || true; s=
}
for _ in $(seq 1 "$pairs"); do run 5m; run 10s; run 10s; run 5m; done

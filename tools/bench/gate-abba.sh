#!/bin/bash
# Gate rounds (signed /bet + /win) against two builds of `pitboss`, ABBA, a fresh data
# directory per run: calls/s, the bet's p50 and p99, and the CPU ticks (`getconf CLK_TCK` a second, usually 100) of
# the whole server and of its history archiver thread over the run.
#
#   tools/bench/gate-abba.sh A_BINARY B_BINARY [PAIRS] [SECONDS]
#
# Needs `cargo build --release --bins` first (for pitboss-load); Linux only; uses
# 127.0.0.1:8181.
set -uo pipefail
cd "$(dirname "$0")/../.."
a=$1; b=$2; pairs=${3:-3}; seconds=${4:-10}
dir=$(mktemp -d)
s=
# An interrupted run must not leave its server holding the port.
trap '[ -n "$s" ] && kill $s 2>/dev/null; rm -rf "$dir"' EXIT
run() {
  bin=$1; label=$2
  rm -rf "$dir/data"
  "$bin" serve --data-dir "$dir/data" --fsync always --listen 127.0.0.1:8181 \
      > "$dir/server.log" 2>&1 & s=$!
  sleep 2
  t0=$(awk '{print $14+$15}' /proc/$s/stat)
  out=$(target/release/pitboss-load --server http://127.0.0.1:8181 \
      --credentials "$dir/data/demo-operator.json" --connections 50 \
      --duration "$seconds" --mode gate 2>&1)
  t1=$(awk '{print $14+$15}' /proc/$s/stat)
  archiver=$(cat /proc/$s/task/*/stat 2>/dev/null |
      awk '$2 == "(pitboss-archive)" {t += $14 + $15} END {print t + 0}')
  rate=$(echo "$out" | sed -nE 's/.* ([0-9]+ req\/s).*/\1/p' | head -1)
  bet=$(echo "$out" | awk '$1 == "bet" {print "p50", $7, "p99", $10}')
  echo "$label | $rate | $bet | server ticks $((t1 - t0)), archiver ticks $archiver"
  kill $s; wait $s 2>/dev/null || true; s=
}
for _ in $(seq 1 "$pairs"); do
  run "$a" A; run "$b" B; run "$b" B; run "$a" A
done

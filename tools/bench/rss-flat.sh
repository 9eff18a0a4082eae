#!/bin/bash
# Flat memory under steady load (the bounded-memory issue): runs `pitboss serve` with a
# hot window, drives it with pitboss-load for 70 s, samples the server's RSS and its
# log position every second, and prints how much RSS grew per log record (one record
# per deposit; two per gate round, bet and win) after the first 30 s.
#
#   tools/bench/rss-flat.sh [MODE] [HOT_WINDOW] [DURATION_S]
#
# MODE is `platform` (deposits, default) or `gate` (bet + win rounds); HOT_WINDOW
# defaults to 10s (`off` to compare with everything in memory). Needs
# `cargo build --release --bins` first; Linux only; uses 127.0.0.1:8080 and :9090.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-platform}; window=${2:-10s}; duration=${3:-70}
dir=$(mktemp -d)
target/release/pitboss serve --data-dir "$dir/data" --fsync always --hot-window "$window" \
    --metrics-listen 127.0.0.1:9090 > "$dir/server.log" 2>&1 & s=$!
trap 'kill $s 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 2
share=1; [ "$mode" = gate ] && share=0
target/release/pitboss-load --credentials "$dir/data/demo-operator.json" --connections 50 \
    --duration "$duration" --mode "$mode" --deposit-share "$share" > "$dir/load.log" 2>&1 & l=$!
for t in $(seq 1 "$duration"); do
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' /proc/$s/status)
  lsn=$(curl -s 127.0.0.1:9090/metrics | awk '$1 == "pitboss_log_appended_lsn" {print $2}')
  echo "$t $rss $lsn"
done > "$dir/samples"
wait $l || true
grep -E "^(deposit|bet|win|round|total)" "$dir/load.log" || tail -5 "$dir/load.log"
awk '$1 % 10 == 0 {printf "%s s: RSS %.1f MiB, log %s\n", $1, $2/1024, $3}' "$dir/samples"
python3 - "$dir/samples" <<'PY'
import sys
rows = [tuple(int(float(x)) for x in l.split()) for l in open(sys.argv[1]) if len(l.split()) == 3]
at = {t: (rss, lsn) for t, rss, lsn in rows}
t0, t1 = 30, max(at)
(r0, l0), (r1, l1) = at[t0], at[t1]
print(f"RSS at {t0} s: {r0/1024:.1f} MiB, at {t1} s: {r1/1024:.1f} MiB; "
      f"log records {l0} -> {l1} ({l1-l0} after {t0} s)")
print(f"RSS growth after {t0} s: {(r1-r0)*1024/max(1,l1-l0):.2f} bytes per log record")
PY

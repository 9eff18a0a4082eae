#!/bin/bash
# Bet + win throughput with and without the history archiver, ABBA, in one run:
# A = no history store (`PITBOSS_HOT_WINDOW_MS=off`), B = a 1 s hot window (the
# archiver reads the log every second and evicts what is a second old).
#
#   tools/bench/archiver-abba.sh [PAIRS] [SECONDS]
#
# Two cases: one submitter with fsync never (CPU-bound: the archiver's cost shows
# most), and 256 submitters with fsync always. B bounds the archiver's lag to
# 200,000 records (four passes): past it new bets are refused and sent again, so B
# measures what the engine sustains with its archive kept up, not a burst whose
# history piles up in memory (the default bound, 1M records, lets the first
# seconds of a short run outrun the archiver). Needs
# `cargo build --release --example durability_load` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-2}; seconds=${2:-10}
bin=target/release/examples/durability_load
run() {
  window=$1; fsync=$2; threads=$3; label=$4
  PITBOSS_HOT_WINDOW_MS=$window PITBOSS_FSYNC=$fsync PITBOSS_LOAD_SECONDS=$seconds \
    PITBOSS_MAX_ARCHIVE_LAG=200000 \
    "$bin" throughput-rounds "$threads" | grep 'bet+win' |
    sed -E "s/^throughput bet\+win /$label /; s/ = [^(]*\(/ (/; s/ CPU,.*; ([0-9]+) bets refused.*/ CPU per op, \1 bets refused)/"
}
for case in "never 1" "always 256"; do
  set -- $case
  for _ in $(seq 1 "$pairs"); do
    run off "$1" "$2" A; run 1000 "$1" "$2" B; run 1000 "$1" "$2" B; run off "$1" "$2" A
  done
done

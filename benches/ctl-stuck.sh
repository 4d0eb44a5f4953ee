#!/usr/bin/env bash
# The goal: `forkhorn ctl workers` answers within 50 ms while every worker is stuck in a slow
# request. Starts builtin:sleep with WORKERS workers, gives each a 60 s request, then times
# `forkhorn ctl workers` N times (the whole command: exec, connect, answer, table) and prints
# the median and the slowest.
#
#   bash benches/ctl-stuck.sh [N=50] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
N=${1:-50}
WORKERS=${2:-2}
cargo build --release -q
BIN=$PWD/target/release/forkhorn
TMP=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill -KILL "$SERVER" $(pgrep -P "$SERVER" || true) 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
port=$(free_port)
"$BIN" -w "$WORKERS" -t 120 -b "127.0.0.1:$port" --log-level warning --control-socket "$TMP/f.ctl" builtin:sleep 2>"$TMP/log" &
SERVER=$!
until [ -S "$TMP/f.ctl" ]; do sleep 0.05; done
# One slow request per worker: each waits until the previous one is inside a worker, so that
# every worker is stuck.
for i in $(seq "$WORKERS"); do
  curl -s "http://127.0.0.1:$port/?s=60" >/dev/null &
  until [ "$("$BIN" ctl -s "$TMP/f.ctl" --json workers | grep -c '"busy_threads": 1')" -ge "$i" ]; do sleep 0.05; done
done
echo "load: $(uptime)"
for _ in $(seq "$N"); do
  start=$(date +%s%N)
  "$BIN" ctl -s "$TMP/f.ctl" workers >/dev/null
  echo $(( ($(date +%s%N) - start) / 1000 ))
done >"$TMP/us"
"$BIN" ctl -s "$TMP/f.ctl" workers
printf 'forkhorn ctl workers with %s of %s workers stuck, %s runs: median %s us, max %s us (goal: 50000 us)\n' \
  "$("$BIN" ctl -s "$TMP/f.ctl" --json stats | awk -F': ' '/"busy_threads"/ {print $2+0}')" "$WORKERS" "$N" \
  "$(median <"$TMP/us")" "$(sort -g "$TMP/us" | tail -1)"

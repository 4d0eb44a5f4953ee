#!/usr/bin/env bash
# The cost of the access log: builtin:hello with 2 workers, without an access log and with one
# (the default combined format, to a file), under the same wrk load. Rounds alternate the two
# setups so that drift in a shared machine's load hits both; the medians are compared.
#
#   bash benches/access-log.sh [ROUNDS] [DURATION] [CONNECTIONS]
#
# Prints requests/s and server CPU microseconds per request (utime+stime of the master and its
# workers over the run, from /proc): on a busy machine CPU per request is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
ROUNDS=${1:-3}
DURATION=${2:-10s}
CONNS=${3:-64}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q --bin forkhorn
BIN=target/release/forkhorn
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
TCK=$(getconf CLK_TCK)




# measure NAME [FLAGS...]: prints "NAME RPS US_PER_REQ LINES".
measure() {
  local name=$1; shift
  local port; port=$(free_port)
  rm -f "$TMP/access.log"
  "$BIN" -w 2 -b "127.0.0.1:$port" --log-level warning "$@" builtin:hello 2>>"$TMP/server.err" &
  local pid=$!
  wait_port "$port"
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null
  local t0 t1 out
  t0=$(tree_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
  t1=$(tree_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  local rps reqs lines=0
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "$out" >&2; fi
  [ -f "$TMP/access.log" ] && lines=$(wc -l < "$TMP/access.log")
  awk -v n="$name" -v r="$rps" -v t=$((t1 - t0)) -v k="$TCK" -v q="$reqs" -v l="$lines" \
    'BEGIN { printf "%-10s %10.0f req/s %8.2f us CPU/req %10d log lines\n", n, r, t / k * 1e6 / q, l }'
}

: > "$TMP/results"
for round in $(seq "$ROUNDS"); do
  measure off | tee -a "$TMP/results"
  measure accesslog --access-logfile "$TMP/access.log" | tee -a "$TMP/results"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
off_rps=$(awk '$1 == "off" { print $2 }' "$TMP/results" | median)
on_rps=$(awk '$1 == "accesslog" { print $2 }' "$TMP/results" | median)
off_cpu=$(awk '$1 == "off" { print $4 }' "$TMP/results" | median)
on_cpu=$(awk '$1 == "accesslog" { print $4 }' "$TMP/results" | median)
awk -v a="$off_rps" -v b="$on_rps" -v c="$off_cpu" -v d="$on_cpu" 'BEGIN {
  printf "median: off %.0f req/s, %.2f us/req; accesslog %.0f req/s, %.2f us/req\n", a, c, b, d
  printf "access log cost: %.1f%% throughput, %+.1f%% CPU per request\n", (a - b) / a * 100, (d - c) / c * 100
}'

#!/usr/bin/env bash
# What counting for forkhorn ctl and /metrics costs: the same app served with and without
# `--metrics-bind` (workers then keep their counters: two clock reads and a few relaxed atomic
# adds per request), alternating which goes first, ROUNDS times, each measured with wrk while
# the metrics run is also scraped once a second (Prometheus scrapes every 15 s by default).
# Prints each round's requests/s and the server's CPU time per request (its processes' utime +
# stime over the run, divided by the requests wrk counted: less disturbed than requests/s by
# other programs on a shared machine), and the median ratios on/off. The goal: requests/s at
# least 0.98 of off on builtin:hello (CPU per request at most 1.02), nothing measurable on a
# Python app.
#
#   bash benches/metrics-overhead.sh [ROUNDS=7] [DURATION=4s] [APP=builtin:hello] [WORKERS=1] [CONNECTIONS=64]
#
# A Python app: APP=wsgi_apps:hello (tests/python/, served with --chdir there).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
ROUNDS=${1:-7}
DURATION=${2:-4s}
APP=${3:-builtin:hello}
WORKERS=${4:-1}
CONNS=${5:-64}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q
BIN=$PWD/target/release/forkhorn
EXTRA=()
case "$APP" in builtin:*) ;; *) EXTRA=(--chdir "$PWD/tests/python") ;; esac
TMP=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -KILL "$SERVER" $(pgrep -P "$SERVER" || true) 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

# One measurement of a server with metrics "on" or "off": "REQUESTS_PER_SEC CPU_US_PER_REQUEST".
measure() {
  local mode=$1 port mport flags=() scraper= t0 t1 out
  port=$(free_port)
  if [ "$mode" = on ]; then
    mport=$(free_port)
    flags=(--metrics-bind "127.0.0.1:$mport" --control-socket "$TMP/f.ctl")
  fi
  "$BIN" -w "$WORKERS" -b "127.0.0.1:$port" --log-level warning "${EXTRA[@]}" "${flags[@]}" "$APP" 2>"$TMP/log" &
  SERVER=$!
  wait_port "$port" "$SERVER"
  wrk -t2 -c"$CONNS" -d1s "http://127.0.0.1:$port/" >/dev/null # warm-up
  if [ "$mode" = on ]; then
    (while kill -0 "$SERVER" 2>/dev/null; do curl -sf "http://127.0.0.1:$mport/metrics" >/dev/null || true; sleep 1; done) &
    scraper=$!
  fi
  t0=$(tree_ticks "$SERVER")
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
  t1=$(tree_ticks "$SERVER")
  echo "$out" | awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 } END { printf "%s %.3f\n", rps, ticks / hz * 1e6 / n }'
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
  kill -TERM "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=
}

echo "load: $(uptime)"
ratios=()
cpu_ratios=()
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    off=$(measure off); on=$(measure on)
  else
    on=$(measure on); off=$(measure off)
  fi
  read -r off_rps off_cpu <<<"$off"
  read -r on_rps on_cpu <<<"$on"
  ratio=$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN { printf "%.4f", a / b }')
  cpu_ratio=$(awk -v a="$on_cpu" -v b="$off_cpu" 'BEGIN { printf "%.4f", a / b }')
  ratios+=("$ratio")
  cpu_ratios+=("$cpu_ratio")
  printf 'round %d: off %8.0f req/s %7.2f us CPU/req | on %8.0f req/s %7.2f us CPU/req | on/off req/s %s CPU/req %s\n' \
    "$round" "$off_rps" "$off_cpu" "$on_rps" "$on_cpu" "$ratio" "$cpu_ratio"
done
printf 'median on/off over %d rounds (%s, %s workers, %s connections): req/s %s, CPU/request %s\n' \
  "$ROUNDS" "$APP" "$WORKERS" "$CONNS" "$(printf '%s\n' "${ratios[@]}" | median)" \
  "$(printf '%s\n' "${cpu_ratios[@]}" | median)"
echo "load: $(uptime)"

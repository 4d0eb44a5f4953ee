#!/usr/bin/env bash
# Throughput and server CPU per request: forkhorn builtin:hello vs nginx `return 200`, both
# with 2 workers, under the same wrk load, in interleaved rounds (round 1 of every server, then
# round 2, ...), so that a slow spell of this noisy machine falls on all of them.
#
#   bash benches/wrk-vs-nginx.sh [DURATION=10s] [CONNECTIONS=256] [keepalive|close] [ROUNDS=1]
#
# `close`: every request carries `Connection: close`, so each costs a connection (accept, read,
# write, close): what a client without keep-alive costs. FORKHORN=PATH measures that binary
# instead of building one; FORKHORN_BASE=PATH adds a second build to every round (to compare
# two builds). Each server runs with its defaults: forkhorn sets TCP_DEFER_ACCEPT, nginx does
# not. DEFER_BOTH_WAYS=1 adds, to every round, forkhorn with --no-defer-accept and nginx with
# `listen ... deferred`, so that each is measured with and without it. With several rounds, a last line per forkhorn gives the median of its CPU per
# request and the median of its per-round ratio to nginx's.
#
# Needs wrk and nginx (Debian packages `wrk`, `nginx-light`); installs them if apt-get can.
# CPU time is utime+stime of the server's master and workers from /proc, over the wrk run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DURATION=${1:-10s}
CONNS=${2:-256}
MODE=${3:-keepalive}
ROUNDS=${4:-1}
case "$MODE" in
  keepalive) WRK_HEADER=() ;;
  close) WRK_HEADER=(-H "Connection: close") ;;
  *) echo "mode: keepalive or close, not $MODE" >&2; exit 2 ;;
esac
for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null; then
    apt-get install -y -qq wrk nginx-light >/dev/null
  fi
done
[ -n "${FORKHORN:-}" ] || cargo build --release -q
BIN=${FORKHORN:-target/release/forkhorn}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
TCK=$(getconf CLK_TCK)

# run NAME PID PORT: warm up, then measure; prints a line and appends "NAME US" to $TMP/cpu.
run() {
  local name=$1 pid=$2 port=$3
  wait_port "$port"
  wrk -t1 -c"$CONNS" -d2s "${WRK_HEADER[@]}" "http://127.0.0.1:$port/" >/dev/null
  local t0 t1 out rps reqs
  t0=$(tree_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "${WRK_HEADER[@]}" "http://127.0.0.1:$port/")
  t1=$(tree_ticks "$pid")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local errors
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local us_per_req
  us_per_req=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", t / k * 1e6 / n }')
  printf '%-14s %12s req/s %10s us CPU/req  %s\n' "$name" "$rps" "$us_per_req" "${errors:-no errors}"
  echo "$ROUND $name $us_per_req" >>"$TMP/cpu"
}

# forkhorn NAME BINARY [FLAG...]
forkhorn() {
  local port name=$1 bin=$2
  shift 2
  port=$(free_port)
  "$bin" -w 2 -b "127.0.0.1:$port" --log-level warning "$@" builtin:hello 2>"$TMP/$name.log" &
  local pid=$!
  run "$name" "$pid" "$port"
  kill -TERM "$pid"; wait "$pid" || true
}

# nginx_run NAME [LISTEN-PARAMETER]
nginx_run() {
  local port name=$1 param=${2:-}
  port=$(free_port)
  cat > "$TMP/nginx.conf" <<NGINX
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port $param;
    location / { default_type "text/plain; charset=utf-8"; return 200 "Hello, World!"; }
  }
}
NGINX
  nginx -c "$TMP/nginx.conf" -p "$TMP" &
  local pid=$!
  run "$name" "$pid" "$port"
  kill -QUIT "$pid"; wait "$pid" || true
}

echo "wrk -t1 -c$CONNS -d$DURATION ($MODE), $ROUNDS round(s); 2 workers each; $(nproc) cores"
for ROUND in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "round $ROUND"
  forkhorn forkhorn "$BIN"
  [ -n "${FORKHORN_BASE:-}" ] && forkhorn forkhorn-base "$FORKHORN_BASE"
  nginx_run nginx
  if [ -n "${DEFER_BOTH_WAYS:-}" ]; then
    forkhorn forkhorn-no-defer "$BIN" --no-defer-accept
    nginx_run nginx-deferred deferred
  fi
done
if [ "$ROUNDS" -gt 1 ]; then
  # Per round, each server's CPU per request over nginx's (without deferred); then the medians.
  awk '
    { round[NR] = $1; name[NR] = $2; us[NR] = $3 }
    $2 == "nginx" { base[$1] = $3 }
    END {
      for (i = 1; i <= NR; i++) if (name[i] != "nginx") {
        r[name[i]] = r[name[i]] " " us[i] / base[round[i]]; c[name[i]] = c[name[i]] " " us[i]
      }
      for (n in r) print n, c[n], "|", r[n]
    }' "$TMP/cpu" |
  while read -r n rest; do
    cpu=$(echo "${rest%%|*}" | tr ' ' '\n' | grep . | median)
    ratio=$(echo "${rest#*|}" | tr ' ' '\n' | grep . | median)
    printf 'median %-14s %8s us CPU/req, %s x nginx (per-round ratios:%s)\n' "$n" "$cpu" "$(printf '%.3f' "$ratio")" \
      "$(echo "${rest#*|}" | awk '{for (i = 1; i <= NF; i++) printf " %.2f", $i}')"
  done
fi

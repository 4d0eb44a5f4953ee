#!/usr/bin/env bash
# What server hooks cost a request: a Python app (tests/python wsgi_apps:hello) with 2 workers,
# without hooks, with hooks that define no request hook (post_fork only: requests should cost
# nothing more), and with empty pre_request and post_request, under the same wrk load. Rounds
# alternate the setups so that drift in a shared machine's load hits all; medians are compared.
#
#   bash benches/hooks.sh [ROUNDS] [DURATION] [CONNECTIONS]
#
# Prints requests/s and server CPU microseconds per request (utime+stime of the master and its
# workers over the run, from /proc): on a busy machine CPU per request is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
ROUNDS=${1:-3}
DURATION=${2:-5s}
CONNS=${3:-64}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q --bin forkhorn
BIN=$PWD/target/release/forkhorn
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
TCK=$(getconf CLK_TCK)
cat > "$TMP/fork_hooks.py" <<'PY'
def post_fork(server, worker):
    pass
PY
cat > "$TMP/request_hooks.py" <<'PY'
def pre_request(worker, req):
    pass


def post_request(worker, req, environ, resp):
    pass
PY

# measure NAME [FLAGS...]: prints "NAME RPS US_PER_REQ".
measure() {
  local name=$1; shift
  local port; port=$(free_port)
  (cd tests/python && exec "$BIN" -w 2 -b "127.0.0.1:$port" --log-level warning "$@" wsgi_apps:hello) 2>>"$TMP/server.err" &
  local pid=$!
  wait_port "$port" "$pid"
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null
  local t0 t1 out
  t0=$(tree_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
  t1=$(tree_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  local rps reqs
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "$out" >&2; fi
  awk -v n="$name" -v r="$rps" -v t=$((t1 - t0)) -v k="$TCK" -v q="$reqs" \
    'BEGIN { printf "%-9s %10.0f req/s %8.2f us CPU/req\n", n, r, t / k * 1e6 / q }'
}

: > "$TMP/results"
for _ in $(seq "$ROUNDS"); do
  measure none | tee -a "$TMP/results"
  measure fork --hooks "$TMP/fork_hooks.py" | tee -a "$TMP/results"
  measure request --hooks "$TMP/request_hooks.py" | tee -a "$TMP/results"
done
echo "medians (load: $(cut -d' ' -f1-3 /proc/loadavg)):"
for name in none fork request; do
  rps=$(awk -v n="$name" '$1 == n { print $2 }' "$TMP/results" | median)
  cpu=$(awk -v n="$name" '$1 == n { print $4 }' "$TMP/results" | median)
  echo "$name $rps $cpu"
done | awk '
  NR == 1 { base_rps = $2; base_cpu = $3 }
  { printf "%-9s %10.0f req/s (%.2f x none) %8.2f us CPU/req (%.2f x none)\n", $1, $2, $2 / base_rps, $3, $3 / base_cpu }'

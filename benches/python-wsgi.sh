#!/usr/bin/env bash
# Python WSGI servers compared: the same hello app and the same Flask app served by forkhorn,
# gunicorn (sync and gthread), granian and bjoern, 2 workers each, under the same wrk load.
#
#   bash benches/python-wsgi.sh [DURATION=10s] [RUNS=3] [CONNECTIONS=256]
#
# Every server and Flask come from the package registry into target/bench-venv (pinned below);
# a server that fails to install is skipped and reported. bjoern builds against libev
# (Debian `libev-dev`, installed with apt-get if missing). For each server and app the script
# prints the median of RUNS runs of requests/s and of server CPU time per request (utime+stime of
# the server's processes from /proc over the measured run, divided by the requests wrk
# completed), and any errors wrk saw.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DURATION=${1:-10s}
RUNS=${2:-3}
CONNS=${3:-256}
ROOT=$PWD
APPS=$ROOT/benches/python
VENV=$ROOT/target/bench-venv
PYTHON=${PYO3_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
TCK=$(getconf CLK_TCK)

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
# FORKHORN=PATH measures that binary instead of building one; FORKHORN_BASE=PATH also runs a
# second forkhorn build side by side (to compare two builds in one run).
[ -n "${FORKHORN:-}" ] || cargo build --release -q
BIN=${FORKHORN:-$ROOT/target/release/forkhorn}

# The venv: one pip call per server, so that one failing install skips only that server.
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install flask==3.1.3
SKIPPED=()
pip_install gunicorn==27.0.1 || SKIPPED+=("gunicorn (pip install failed)")
pip_install granian==2.8.7 || SKIPPED+=("granian (pip install failed)")
if ! pip_install bjoern==3.2.2; then
  if [ ! -e /usr/include/ev.h ]; then apt-get install -y -qq libev-dev >/dev/null 2>&1 || true; fi
  pip_install bjoern==3.2.2 || SKIPPED+=("bjoern (pip install failed: needs libev-dev)")
fi

TMP=$(mktemp -d)
SERVERS=()
trap stop_servers EXIT

# The servers of one app run side by side, each on its own port, and the runs are interleaved
# (run 1 of every server, then run 2, ...): a slow spell of the machine then falls on all of
# them instead of on whichever server was being measured. An idle server costs next to nothing.
NAMES=() PORTS=() PIDS=()
# start NAME PORT COMMAND...: starts a server in benches/python and warms it up.
start() {
  local name=$1 port=$2
  shift 2
  (cd "$APPS" && exec "$@") >"$TMP/$name.log" 2>&1 &
  local pid=$!
  SERVERS+=("$pid")
  if ! wait_port "$port"; then
    printf '%-18s did not start; log:\n' "$name"; tail -5 "$TMP/$name.log"
    kill -KILL "$pid" $(pgrep -P "$pid" || true) 2>/dev/null || true
    return 0
  fi
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null
  NAMES+=("$name") PORTS+=("$port") PIDS+=("$pid")
}

# measure I: one wrk run against server I; appends its req/s and CPU µs per request.
measure() {
  local i=$1 t0 t1 out reqs
  t0=$(tree_ticks "${PIDS[$i]}")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:${PORTS[$i]}/")
  t1=$(tree_ticks "${PIDS[$i]}")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$out" | awk '/Requests\/sec/ {print $2}' >>"$TMP/rps.$i"
  awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f\n", t / k * 1e6 / n }' >>"$TMP/cpu.$i"
  echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s; ", $0}' >>"$TMP/err.$i"
}

# report LABEL: one line per server, then stops them all.
report() {
  local label=$1 i pid
  for i in "${!NAMES[@]}"; do
    printf '%-18s %-6s %12s req/s %10s us CPU/req   runs: %s req/s  %s\n' "${NAMES[$i]}" "$label" \
      "$(median <"$TMP/rps.$i")" "$(median <"$TMP/cpu.$i")" "$(paste -sd/ "$TMP/rps.$i")" \
      "$(cat "$TMP/err.$i" 2>/dev/null | grep . || echo "no errors")"
  done
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" $(pgrep -P "$pid" || true) 2>/dev/null || true
  done
  sleep 1
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" $(pgrep -P "$pid" || true) 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -f "$TMP"/rps.* "$TMP"/cpu.* "$TMP"/err.*
  NAMES=() PORTS=() PIDS=() SERVERS=()
}

echo "wrk -t1 -c$CONNS -d$DURATION, $RUNS interleaved runs each, median; 2 workers each; $(nproc) cores"
for app in hello flask; do
  case $app in
    hello) spec=hello:application ;;
    flask) spec=flask_hello:app ;;
  esac
  p=$(free_port); start forkhorn "$p" env VIRTUAL_ENV="$VENV" "$BIN" -w 2 -b "127.0.0.1:$p" --log-level warning "$spec"
  if [ -n "${FORKHORN_BASE:-}" ]; then
    p=$(free_port); start forkhorn-base "$p" env VIRTUAL_ENV="$VENV" "$FORKHORN_BASE" -w 2 -b "127.0.0.1:$p" --log-level warning "$spec"
  fi
  if have gunicorn; then
    p=$(free_port); start gunicorn-sync "$p" "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$p" --log-level warning "$spec"
    p=$(free_port); start gunicorn-gthread "$p" "$VENV/bin/gunicorn" -w 2 -k gthread --threads 4 -b "127.0.0.1:$p" --log-level warning "$spec"
  fi
  if have granian; then
    p=$(free_port); start granian "$p" "$VENV/bin/granian" --interface wsgi --workers 2 --host 127.0.0.1 --port "$p" --log-level warning "$spec"
  fi
  if have bjoern; then
    p=$(free_port); start bjoern "$p" "$VENV/bin/python" bjoern_serve.py "$spec" "$p" 2
  fi
  for _ in $(seq "$RUNS"); do
    for i in "${!NAMES[@]}"; do measure "$i"; done
  done
  report "$app"
done
for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done

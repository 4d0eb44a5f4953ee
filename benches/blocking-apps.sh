#!/usr/bin/env bash
# Apps that wait: threads per worker compared. (1) benches/python/sleep_app.py (each request
# sleeps 20 ms with the GIL released) served by forkhorn --threads T, gunicorn gthread
# --threads T and granian --blocking-threads T, 2 workers each, under wrk -c64. (2) CPU-bound
# apps, where threads cannot help: the Flask hello and builtin:hello under forkhorn with
# --threads 1 and --threads 4, under wrk -c256, and the ratio of the two.
#
#   bash benches/blocking-apps.sh [DURATION=8s] [RUNS=3] [THREADS=16]
#
# SLEEP_MS (environment, default 20) sets the sleep; FORKHORN=PATH uses that binary instead of
# building target/release/forkhorn. gunicorn, granian and Flask come from the package registry
# into target/bench-venv (pinned below, as in python-wsgi.sh); a server that fails to install
# or to start is skipped and named at the end. For each server the script prints the median of
# RUNS runs of requests/s, of wrk's p99 latency (--latency) and of server CPU time per request
# (utime+stime of the server's processes from /proc over the measured run, divided by the
# requests wrk completed), every run's requests/s, and any errors wrk saw.
#
# granian 2.8.7 (`granian --help`, granian/server/common.py): `--blocking-threads` is "Number of
# blocking threads (per worker)", the threads that run the WSGI callable; it applies to
# `--interface wsgi` only (more than 1 is refused for ASGI and RSGI), and for WSGI it defaults
# to backpressure / 2 = backlog / workers / 2 = 256 with 2 workers, so it is set explicitly here.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DURATION=${1:-8s}
RUNS=${2:-3}
THREADS=${3:-16}
export SLEEP_MS=${SLEEP_MS:-20}
SLEEP_CONNS=64
CPU_CONNS=256
ROOT=$PWD
APPS=$ROOT/benches/python
VENV=$ROOT/target/bench-venv
PYTHON=${PYO3_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
TCK=$(getconf CLK_TCK)

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
if [ -n "${FORKHORN:-}" ]; then
  BIN=$(realpath "$FORKHORN")
else
  cargo build --release -q
  BIN=$ROOT/target/release/forkhorn
fi

# The venv: one pip call per server, so that one failing install skips only that server.
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install flask==3.1.3
SKIPPED=()
pip_install gunicorn==27.0.1 || SKIPPED+=("gunicorn (pip install failed)")
pip_install granian==2.8.7 || SKIPPED+=("granian (pip install failed)")

TMP=$(mktemp -d)
SERVERS=()
trap stop_servers EXIT

# The servers of one section run side by side, each on its own port, and the runs are
# interleaved (run 1 of every server, then run 2, ...): a slow spell of the machine then falls
# on all of them instead of on whichever server was being measured. An idle server costs next
# to nothing.
NAMES=() PORTS=() PIDS=() CONNS=()
declare -A MED_RPS MED_CPU
# start NAME CONNECTIONS PORT COMMAND...: starts a server in benches/python and warms it up.
start() {
  local name=$1 conns=$2 port=$3
  shift 3
  (cd "$APPS" && exec "$@") >"$TMP/$name.log" 2>&1 &
  local pid=$!
  SERVERS+=("$pid")
  if ! wait_port "$port" "$pid" 2>/dev/null; then
    printf '%-22s did not start; log:\n' "$name"; tail -5 "$TMP/$name.log"
    SKIPPED+=("$name (did not start: $(grep -im1 error "$TMP/$name.log" || grep . "$TMP/$name.log" | tail -1))")
    kill -KILL "$pid" $(pgrep -P "$pid" || true) 2>/dev/null || true
    return 0
  fi
  wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$port/" >/dev/null
  NAMES+=("$name") PORTS+=("$port") PIDS+=("$pid") CONNS+=("$conns")
}

# measure I: one wrk run against server I; appends its req/s, p99 (ms) and CPU µs per request.
measure() {
  local i=$1 t0 t1 out reqs
  t0=$(tree_ticks "${PIDS[$i]}")
  out=$(wrk -t1 -c"${CONNS[$i]}" -d"$DURATION" --latency "http://127.0.0.1:${PORTS[$i]}/")
  t1=$(tree_ticks "${PIDS[$i]}")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$out" | awk '/Requests\/sec/ {print $2}' >>"$TMP/rps.$i"
  # The "99%" line of the latency distribution, in us, ms, s or m.
  echo "$out" | awk '$1 == "99%" {
    v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u)
    printf "%.2f\n", v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1) }' >>"$TMP/p99.$i"
  awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f\n", t / k * 1e6 / n }' >>"$TMP/cpu.$i"
  echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s; ", $0}' >>"$TMP/err.$i"
}

# report: one line per server (medians kept in MED_RPS and MED_CPU), then stops them all.
report() {
  local i pid
  printf '%-22s %12s %10s %14s   %s\n' server req/s "p99 ms" "CPU us/req" "runs (req/s), errors"
  for i in "${!NAMES[@]}"; do
    MED_RPS[${NAMES[$i]}]=$(median <"$TMP/rps.$i")
    MED_CPU[${NAMES[$i]}]=$(median <"$TMP/cpu.$i")
    printf '%-22s %12s %10s %14s   %s  %s\n' "${NAMES[$i]}" "${MED_RPS[${NAMES[$i]}]}" \
      "$(median <"$TMP/p99.$i")" "${MED_CPU[${NAMES[$i]}]}" "$(paste -sd/ "$TMP/rps.$i")" \
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
  rm -f "$TMP"/rps.* "$TMP"/p99.* "$TMP"/cpu.* "$TMP"/err.*
  NAMES=() PORTS=() PIDS=() CONNS=() SERVERS=()
}

run_section() {
  for _ in $(seq "$RUNS"); do
    for i in "${!NAMES[@]}"; do measure "$i"; done
  done
  report
}

# ratio A B: A's median over B's (req/s and CPU per request), or why there is none.
ratio() {
  if [ -n "${MED_RPS[$1]:-}" ] && [ -n "${MED_RPS[$2]:-}" ]; then
    awk -v a="${MED_RPS[$1]}" -v b="${MED_RPS[$2]}" -v ca="${MED_CPU[$1]}" -v cb="${MED_CPU[$2]}" \
      -v n="$1/$2" 'BEGIN { printf "%-40s req/s x%.2f   CPU/req x%.2f\n", n, a / b, ca / cb }'
  else
    printf '%-40s n/a (a server did not start)\n' "$1/$2"
  fi
}

echo "$RUNS interleaved runs of wrk -t1 -d$DURATION --latency each, median; 2 workers each; $(nproc) cores"
echo
echo "== sleep_app.py: time.sleep($SLEEP_MS ms) per request, $THREADS threads per worker, wrk -c$SLEEP_CONNS"
awk -v t="$THREADS" -v s="$SLEEP_MS" -v c="$SLEEP_CONNS" 'BEGIN {
  l = 2 * t / (s / 1000)
  printf "limit: 2 workers x %d threads / %g ms = %.0f req/s", t, s, l
  printf " (at the limit, latency = %d connections / limit = %.0f ms)\n", c, c / l * 1000 }'
p=$(free_port); start "forkhorn-t$THREADS" "$SLEEP_CONNS" "$p" env VIRTUAL_ENV="$VENV" "$BIN" -w 2 --threads "$THREADS" -b "127.0.0.1:$p" --log-level warning sleep_app:app
if have gunicorn; then
  p=$(free_port); start "gunicorn-gthread-t$THREADS" "$SLEEP_CONNS" "$p" "$VENV/bin/gunicorn" -w 2 -k gthread --threads "$THREADS" -b "127.0.0.1:$p" --log-level warning sleep_app:app
fi
if have granian; then
  p=$(free_port); start "granian-t$THREADS" "$SLEEP_CONNS" "$p" "$VENV/bin/granian" --interface wsgi --workers 2 --blocking-threads "$THREADS" --host 127.0.0.1 --port "$p" --log-level warning sleep_app:app
fi
run_section

echo
echo "== CPU-bound: forkhorn --threads 1 and 4, wrk -c$CPU_CONNS"
for t in 1 4; do
  p=$(free_port); start "forkhorn-flask-t$t" "$CPU_CONNS" "$p" env VIRTUAL_ENV="$VENV" "$BIN" -w 2 --threads "$t" -b "127.0.0.1:$p" --log-level warning flask_hello:app
  p=$(free_port); start "forkhorn-builtin-t$t" "$CPU_CONNS" "$p" "$BIN" -w 2 --threads "$t" -b "127.0.0.1:$p" --log-level warning builtin:hello
done
run_section
ratio forkhorn-flask-t4 forkhorn-flask-t1
ratio forkhorn-builtin-t4 forkhorn-builtin-t1

for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done

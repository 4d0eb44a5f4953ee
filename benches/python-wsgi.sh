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
cargo build --release -q
BIN=$ROOT/target/release/forkhorn

# The venv: one pip call per server, so that one failing install skips only that server.
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" >/dev/null 2>&1; }
pip_install flask==3.1.3
SKIPPED=()
pip_install gunicorn==27.0.1 || SKIPPED+=("gunicorn (pip install failed)")
pip_install granian==2.8.7 || SKIPPED+=("granian (pip install failed)")
if ! pip_install bjoern==3.2.2; then
  if [ ! -e /usr/include/ev.h ]; then apt-get install -y -qq libev-dev >/dev/null 2>&1 || true; fi
  pip_install bjoern==3.2.2 || SKIPPED+=("bjoern (pip install failed: needs libev-dev)")
fi
have() { "$VENV/bin/python" -c "import $1" 2>/dev/null; }

TMP=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill -KILL "$SERVER" $(pgrep -P "$SERVER" || true) 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT




median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# bench NAME APP_LABEL PORT COMMAND...: starts the server in benches/python, warms it up,
# measures RUNS times, prints one line, stops it.
bench() {
  local name=$1 label=$2 port=$3
  shift 3
  (cd "$APPS" && exec "$@") >"$TMP/$name.log" 2>&1 &
  SERVER=$!
  if ! wait_port "$port"; then
    printf '%-18s %-6s did not start; log:\n' "$name" "$label"; tail -5 "$TMP/$name.log"
    kill -KILL "$SERVER" $(pgrep -P "$SERVER" || true) 2>/dev/null || true; SERVER=
    return 0
  fi
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null
  local rps=() cpu=() errors="" t0 t1 out reqs
  for _ in $(seq "$RUNS"); do
    t0=$(tree_ticks "$SERVER")
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
    t1=$(tree_ticks "$SERVER")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps+=("$(echo "$out" | awk '/Requests\/sec/ {print $2}')")
    cpu+=("$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", t / k * 1e6 / n }')")
    errors+=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s; ", $0}')
  done
  printf '%-18s %-6s %12s req/s %10s us CPU/req   runs: %s req/s  %s\n' "$name" "$label" \
    "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${cpu[@]}" | median)" \
    "$(IFS=/; echo "${rps[*]}")" "${errors:-no errors}"
  kill -TERM "$SERVER" $(pgrep -P "$SERVER" || true) 2>/dev/null || true
  sleep 1
  kill -KILL "$SERVER" $(pgrep -P "$SERVER" || true) 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=
}

echo "wrk -t1 -c$CONNS -d$DURATION, $RUNS runs each, median; 2 workers each; $(nproc) cores"
for app in hello flask; do
  case $app in
    hello) spec=hello:application ;;
    flask) spec=flask_hello:app ;;
  esac
  p=$(free_port); bench forkhorn "$app" "$p" env VIRTUAL_ENV="$VENV" "$BIN" -w 2 -b "127.0.0.1:$p" --log-level warning "$spec"
  if have gunicorn; then
    p=$(free_port); bench gunicorn-sync "$app" "$p" "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$p" --log-level warning "$spec"
    p=$(free_port); bench gunicorn-gthread "$app" "$p" "$VENV/bin/gunicorn" -w 2 -k gthread --threads 4 -b "127.0.0.1:$p" --log-level warning "$spec"
  fi
  if have granian; then
    p=$(free_port); bench granian "$app" "$p" "$VENV/bin/granian" --interface wsgi --workers 2 --host 127.0.0.1 --port "$p" --log-level warning "$spec"
  fi
  if have bjoern; then
    p=$(free_port); bench bjoern "$app" "$p" "$VENV/bin/python" bjoern_serve.py "$spec" "$p" 2
  fi
done
for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done

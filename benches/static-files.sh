#!/usr/bin/env bash
# Static files: forkhorn `builtin:static` against nginx (`sendfile on; tcp_nopush on;`), and
# WhiteNoise (the Django way, through `wsgi.file_wrapper`) under forkhorn, bjoern and gunicorn,
# 2 workers each, on the same directory, for files of 1 KB to 64 MB, with keep-alive and with
# `Connection: close`.
#
#   bash benches/static-files.sh [DURATION=3s, in seconds] [ROUNDS=3] [CONNECTIONS=64] [SIZES="1k 10k 100k 1m 64m"] [MODES="keepalive close"] [SERVERS=all]
#
# SERVERS: a space-separated subset of "static nginx wn-forkhorn wn-bjoern wn-gunicorn".
# All servers run side by side, each on its own port; for each file size and mode the rounds
# are interleaved (round 1 of every server, then round 2, ...), so a slow spell of this noisy
# machine falls on all of them. Per server: medians over the rounds of requests/s, MB/s, the
# server's CPU per request (utime+stime of its processes from /proc over the run) and wrk's own
# CPU per request (the client's cost: a response in two segments wakes it twice). Then the
# ratios the goals are stated in: builtin:static over nginx (req/s, and CPU per request), and
# WhiteNoise under forkhorn over bjoern and gunicorn (req/s).
#
# Each server runs with its defaults: forkhorn sets TCP_DEFER_ACCEPT (`defer_accept`), nginx
# does not. NGINX_DEFERRED=1 gives nginx `listen ... deferred` (TCP_DEFER_ACCEPT on both);
# NO_DEFER=1 runs every forkhorn with `--no-defer-accept` (on neither). FORKHORN=PATH measures
# that binary instead of building one; FORKHORN_BASE=PATH adds a second build's builtin:static
# beside it (static-base), to compare two builds. Python packages come from the
# package registry into target/bench-venv (pinned below); nginx and wrk from apt if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DURATION=${1:-3s}
ROUNDS=${2:-3}
CONNS=${3:-64}
SIZES=${4:-1k 10k 100k 1m 64m}
MODES=${5:-keepalive close}
WANT=${6:-static nginx wn-forkhorn wn-bjoern wn-gunicorn}
ROOT=$PWD
APPS=$ROOT/benches/python
VENV=$ROOT/target/bench-venv
PYTHON=${PYO3_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
TCK=$(getconf CLK_TCK)

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || apt-get install -y -qq wrk nginx-light >/dev/null
done
[ -n "${FORKHORN:-}" ] || cargo build --release -q
BIN=$(realpath "${FORKHORN:-$ROOT/target/release/forkhorn}")
[ -z "${FORKHORN_BASE:-}" ] || FORKHORN_BASE=$(realpath "$FORKHORN_BASE")
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
SKIPPED=()
pip_install whitenoise==6.11.0 || SKIPPED+=("WhiteNoise (pip install failed)")
pip_install gunicorn==27.0.1 || SKIPPED+=("gunicorn (pip install failed)")
if ! pip_install bjoern==3.2.2; then
  if [ ! -e /usr/include/ev.h ]; then apt-get install -y -qq libev-dev >/dev/null 2>&1 || true; fi
  pip_install bjoern==3.2.2 || SKIPPED+=("bjoern (pip install failed: needs libev-dev)")
fi

DEFER_ARGS=() NGINX_DEFER=""
if [ -n "${NO_DEFER:-}" ]; then DEFER_ARGS=(--no-defer-accept); fi
if [ -n "${NGINX_DEFERRED:-}" ]; then NGINX_DEFER=" deferred"; fi
TMP=$(mktemp -d)
# nginx's workers run as nobody: the files must be readable to them.
chmod 755 "$TMP"
SERVERS=()
trap stop_servers EXIT
WWW=$TMP/www
mkdir -p "$WWW"
bytes() { case $1 in *k) echo $((${1%k} * 1024)) ;; *m) echo $((${1%m} * 1024 * 1024)) ;; *) echo "$1" ;; esac; }
for size in $SIZES; do
  head -c "$(bytes "$size")" /dev/urandom >"$WWW/$size.bin"
done
chmod -R a+rX "$WWW"
first=${SIZES%% *}

NAMES=() PORTS=() PIDS=()
wanted() { [[ " $WANT " == *" $1 "* ]]; }
# start NAME PORT COMMAND...: starts a server (in benches/python) and waits until it serves.
start() {
  local name=$1 port=$2
  shift 2
  wanted "$name" || return 0
  (cd "$APPS" && exec "$@") >"$TMP/$name.log" 2>&1 &
  local pid=$!
  SERVERS+=("$pid")
  for _ in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/$first.bin" && break
    sleep 0.05
  done
  if ! curl -sf -o /dev/null "http://127.0.0.1:$port/$first.bin"; then
    printf '%-12s did not start; log:\n' "$name"; tail -5 "$TMP/$name.log"
    return 0
  fi
  NAMES+=("$name") PORTS+=("$port") PIDS+=("$pid")
}

p=$(free_port)
start static "$p" "$BIN" "${DEFER_ARGS[@]}" -w 2 -b "127.0.0.1:$p" --log-level warning --static-root "$WWW" builtin:static
if [ -n "${FORKHORN_BASE:-}" ]; then
  WANT="$WANT static-base"
  p=$(free_port)
  start static-base "$p" "$FORKHORN_BASE" "${DEFER_ARGS[@]}" -w 2 -b "127.0.0.1:$p" --log-level warning --static-root "$WWW" builtin:static
fi
p=$(free_port)
cat >"$TMP/nginx.conf" <<NGINX
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { application/octet-stream bin; }
  server { listen 127.0.0.1:$p$NGINX_DEFER; root $WWW; }
}
NGINX
start nginx "$p" nginx -c "$TMP/nginx.conf" -p "$TMP"
if have whitenoise; then
  p=$(free_port)
  start wn-forkhorn "$p" env VIRTUAL_ENV="$VENV" STATIC_ROOT="$WWW" "$BIN" "${DEFER_ARGS[@]}" -w 2 -b "127.0.0.1:$p" --log-level warning whitenoise_app:application
  if have bjoern; then
    p=$(free_port)
    start wn-bjoern "$p" env STATIC_ROOT="$WWW" "$VENV/bin/python" bjoern_serve.py whitenoise_app:application "$p" 2
  fi
  if have gunicorn; then
    p=$(free_port)
    start wn-gunicorn "$p" env STATIC_ROOT="$WWW" "$VENV/bin/python" -m gunicorn -w 2 -b "127.0.0.1:$p" --log-level warning whitenoise_app:application
  fi
fi

# The run length for a file of SIZE: a 64 MB file takes a second per few requests, and CPU
# time comes in 10 ms ticks, so files of 16 MB and more get 3 times DURATION.
duration() {
  local secs=${DURATION%s}
  if [ "$(bytes "$1")" -ge $((16 << 20)) ]; then echo "$((secs * 3))s"; else echo "${secs}s"; fi
}

# measure I SIZE: one wrk run against server I; appends "req/s MB/s server-µs client-µs" to its results.
measure() {
  local i=$1 size=$2 t0 t1 out reqs
  t0=$(tree_ticks "${PIDS[$i]}")
  out=$({ TIMEFORMAT='CLIENT %U %S'; time wrk -t1 -c"$CONNS" -d"$(duration "$size")" --timeout 30s "${HDR[@]}" \
    "http://127.0.0.1:${PORTS[$i]}/$size.bin"; } 2>&1)
  t1=$(tree_ticks "${PIDS[$i]}")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$out" | awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$reqs" '
    /Requests\/sec/ { rps = $2 }
    /Transfer\/sec/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Z]+$/, "", v);
      mbs = v * (u == "GB" ? 1024 : u == "MB" ? 1 : u == "KB" ? 1 / 1024 : 1 / 1048576) }
    /^CLIENT/ { c = ($2 + $3) * 1e6 / n }
    END { printf "%s %.1f %.2f %.2f\n", rps, mbs, t / k * 1e6 / n, c }' >>"$TMP/res.$i"
  echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s; ", $0}' >>"$TMP/err.$i"
}

# col I N: the median of column N of server I's results.
col() { awk -v n="$2" '{print $n}' "$TMP/res.$1" | median; }
# ratio I J N: the median over the rounds of server I's column N over server J's, same round.
ratio() { paste -d' ' "$TMP/res.$1" "$TMP/res.$2" | awk -v n="$3" '{ print $n / $(n + 4) }' | median; }
idx() { local i; for i in "${!NAMES[@]}"; do if [ "${NAMES[$i]}" = "$1" ]; then echo "$i"; fi; done; }

echo "wrk -t1 -c$CONNS -d$DURATION --timeout 30s,${NO_DEFER:+ forkhorn --no-defer-accept,}${NGINX_DEFERRED:+ nginx deferred,} $ROUNDS interleaved rounds, medians; 2 workers each; $(nproc) cores; load: $(uptime | sed 's/.*load average: //')"
for mode in $MODES; do
  case "$mode" in
    keepalive) HDR=() ;;
    close) HDR=(-H "Connection: close") ;;
    *) echo "mode: keepalive or close, not $mode" >&2; exit 2 ;;
  esac
  for size in $SIZES; do
    rm -f "$TMP"/res.* "$TMP"/err.*
    for i in "${!NAMES[@]}"; do
      wrk -t1 -c"$CONNS" -d1s --timeout 30s "${HDR[@]}" "http://127.0.0.1:${PORTS[$i]}/$size.bin" >/dev/null
    done
    for _ in $(seq "$ROUNDS"); do
      for i in "${!NAMES[@]}"; do measure "$i" "$size"; done
    done
    echo "== $size, $mode"
    for i in "${!NAMES[@]}"; do
      printf '  %-12s %10s req/s %9s MB/s %9s us server CPU/req %9s us client CPU/req  %s\n' "${NAMES[$i]}" \
        "$(col "$i" 1)" "$(col "$i" 2)" "$(col "$i" 3)" "$(col "$i" 4)" \
        "$(cat "$TMP/err.$i" 2>/dev/null | grep . || echo "no errors")"
    done
    s=$(idx static) n=$(idx nginx)
    if [ -n "$s" ] && [ -n "$n" ]; then
      printf '  builtin:static / nginx: %.2fx req/s, %.2fx CPU per request (medians of the per-round ratios)\n' \
        "$(ratio "$s" "$n" 1)" "$(ratio "$s" "$n" 3)"
    fi
    w=$(idx wn-forkhorn)
    for peer in wn-bjoern wn-gunicorn; do
      o=$(idx "$peer")
      if [ -n "$w" ] && [ -n "$o" ]; then
        printf '  WhiteNoise forkhorn / %s: %.2fx req/s, %.2fx CPU per request\n' "${peer#wn-}" \
          "$(ratio "$w" "$o" 1)" "$(ratio "$w" "$o" 3)"
      fi
    done
  done
done
for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done

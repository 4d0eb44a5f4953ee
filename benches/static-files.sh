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
# machine falls on all of them. Per server: medians over the rounds of files/s, completed
# requests/s, MB/s, the server's CPU per file (utime+stime of its processes from /proc over the
# run) and wrk's own CPU per file (the client's cost: a response in two segments wakes it
# twice). Then the ratios the goals are stated in: builtin:static over nginx, and WhiteNoise
# under forkhorn over bjoern and gunicorn: files/s, server CPU per file (its inverse is the
# server's capacity, files per server CPU-second), and server+client CPU per file.
#
# How it measures, and why:
# - Pinned CPUs (PIN=1, the default on 2 or more CPUs): every server runs on SERVER_CPUS
#   (default: the last CPU) and wrk on CLIENT_CPUS (default: CPU 0), the same for every
#   server, so the client and the server do not take each other's CPU time and a server's
#   requests/s is bounded by its own CPU, not by what the client left it. PIN=0 shares all
#   CPUs. Even pinned, wrk (one thread) needs more CPU per `Connection: close`
#   request than a server that answers a small file in a few tens of microseconds, so there
#   every server reaches the client's ceiling and req/s cannot rank them: read the server CPU
#   per file (and the capacity ratio, its inverse) for those. And loopback TCP charges part of
#   every transfer to whichever side's system call triggers it: a server that queues a large
#   file's bytes ahead of the client's window has the client's acknowledgements send them, on
#   the client's CPU, and one that sends 16 KB a wake-up (bjoern) sends them itself. For large
#   files the split is the kernel's, the sum is the work: read server+client CPU per file
#   there, or compare with PIN=0, where both CPUs are shared and throughput follows the sum.
# - Files/s is the body bytes wrk received (exact, from its Lua `done` summary, responses cut
#   off at the end of the run included) over the file size, less each response's head (measured
#   once per server, size and mode with curl). For small files it equals completed requests/s;
#   for large files it is what completed requests/s cannot be: 64 connections streaming 64 MB
#   each from a server that serves them all at once (nginx, forkhorn) complete together, a few
#   dozen at a time seconds apart, and the run's end discards everything in flight, while a
#   server that serves two at a time (gunicorn's sync workers) completes a steady trickle, so
#   completed requests/s in a 9 s window measures the phase of those bursts, not throughput.
#   CPU per file divides by the same count, so the CPU spent on cut-off responses is not
#   charged to the completed ones.
#
# Each server runs with its defaults: forkhorn sets TCP_DEFER_ACCEPT (`defer_accept`), nginx
# does not. NGINX_DEFERRED=1 gives nginx `listen ... deferred` (TCP_DEFER_ACCEPT on both);
# NO_DEFER=1 runs every forkhorn with `--no-defer-accept` (on neither). FORKHORN=PATH measures
# that binary instead of building one; FORKHORN_BASE=PATH adds a second build's builtin:static
# and WhiteNoise beside them (static-base, wn-base), to compare two builds. Python packages come from the
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

# PIN: the servers on SERVER_CPUS, wrk on CLIENT_CPUS (see the header).
NCPU=$(nproc)
PIN=${PIN:-$([ "$NCPU" -ge 2 ] && echo 1 || echo 0)}
SERVER_CPUS=${SERVER_CPUS:-$((NCPU - 1))}
CLIENT_CPUS=${CLIENT_CPUS:-0}
ON_SERVER_CPUS=() ON_CLIENT_CPUS=()
if [ "$PIN" = 1 ]; then ON_SERVER_CPUS=(taskset -c "$SERVER_CPUS") ON_CLIENT_CPUS=(taskset -c "$CLIENT_CPUS"); fi

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
# wrk's summary with exact counts: its printed "MB read" has three significant digits. A script
# with only `done` leaves wrk's request path as it is (no Lua per request or response).
cat >"$TMP/summary.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("SUMMARY %d %d %d\n", summary.requests, summary.bytes, summary.duration))
end
LUA

NAMES=() PORTS=() PIDS=()
wanted() { [[ " $WANT " == *" $1 "* ]]; }
# start NAME PORT COMMAND...: starts a server (in benches/python) and waits until it serves.
start() {
  local name=$1 port=$2
  shift 2
  wanted "$name" || return 0
  (cd "$APPS" && exec "${ON_SERVER_CPUS[@]}" "$@") >"$TMP/$name.log" 2>&1 &
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
if [ -n "${FORKHORN_BASE:-}" ] && wanted static; then
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
  if [ -n "${FORKHORN_BASE:-}" ] && wanted wn-forkhorn; then
    WANT="$WANT wn-base"
    p=$(free_port)
    start wn-base "$p" env VIRTUAL_ENV="$VENV" STATIC_ROOT="$WWW" "$FORKHORN_BASE" "${DEFER_ARGS[@]}" -w 2 -b "127.0.0.1:$p" --log-level warning whitenoise_app:application
  fi
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

# head_len I SIZE: the length of server I's response head for SIZE.bin in this mode.
head_len() {
  curl -s -o /dev/null -w '%{size_header}' "${HDR[@]}" "http://127.0.0.1:${PORTS[$1]}/$2.bin"
}

# measure I SIZE HEAD: one wrk run against server I; appends "files/s req/s MB/s server-us
# client-us total-us" (CPU per file) to its results.
measure() {
  local i=$1 size=$2 head=$3 t0 t1 out
  t0=$(tree_ticks "${PIDS[$i]}")
  out=$({ TIMEFORMAT='CLIENT %U %S'; time "${ON_CLIENT_CPUS[@]}" wrk -t1 -c"$CONNS" -d"$(duration "$size")" --timeout 30s \
    -s "$TMP/summary.lua" "${HDR[@]}" "http://127.0.0.1:${PORTS[$i]}/$size.bin"; } 2>&1)
  t1=$(tree_ticks "${PIDS[$i]}")
  # A run that served nothing (or lost its summary) gives a row of zeros, not a division by zero
  # that would end the whole benchmark.
  echo "$out" | awk -v t=$((t1 - t0)) -v k="$TCK" -v size="$(bytes "$size")" -v head="$head" '
    /^SUMMARY/ { n = $2; bytes = $3; secs = $4 / 1e6 }
    /^CLIENT/ { c = $2 + $3 }
    END { files = (bytes - n * head) / size
      if (files <= 0 || secs <= 0) { print "0 0 0 0 0 0"; exit }
      printf "%.2f %.2f %.1f %.2f %.2f %.2f\n", files / secs, n / secs, bytes / secs / 1048576,
        t / k * 1e6 / files, c * 1e6 / files, (t / k + c) * 1e6 / files }' >>"$TMP/res.$i"
  echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s; ", $0}' >>"$TMP/err.$i"
}

# col I N: the median of column N of server I's results.
col() { awk -v n="$2" '{print $n}' "$TMP/res.$1" | median; }
# ratio I J N: the median over the rounds of server I's column N over server J's, same round.
ratio() { paste -d' ' "$TMP/res.$1" "$TMP/res.$2" | awk -v n="$3" '{ print ($(n + 6) == 0 ? 0 : $n / $(n + 6)) }' | median; }
idx() { local i; for i in "${!NAMES[@]}"; do if [ "${NAMES[$i]}" = "$1" ]; then echo "$i"; fi; done; }

echo "wrk -t1 -c$CONNS -d$DURATION --timeout 30s,${ON_CLIENT_CPUS[*]:+ wrk on CPU $CLIENT_CPUS and servers on CPU $SERVER_CPUS,}${NO_DEFER:+ forkhorn --no-defer-accept,}${NGINX_DEFERRED:+ nginx deferred,} $ROUNDS interleaved rounds, medians; 2 workers each; $(nproc) cores; load: $(uptime | sed 's/.*load average: //')"
for mode in $MODES; do
  case "$mode" in
    keepalive) HDR=() ;;
    close) HDR=(-H "Connection: close") ;;
    *) echo "mode: keepalive or close, not $mode" >&2; exit 2 ;;
  esac
  for size in $SIZES; do
    rm -f "$TMP"/res.* "$TMP"/err.*
    HEADS=()
    for i in "${!NAMES[@]}"; do
      "${ON_CLIENT_CPUS[@]}" wrk -t1 -c"$CONNS" -d1s --timeout 30s "${HDR[@]}" "http://127.0.0.1:${PORTS[$i]}/$size.bin" >/dev/null
      HEADS[i]=$(head_len "$i" "$size")
    done
    for _ in $(seq "$ROUNDS"); do
      for i in "${!NAMES[@]}"; do measure "$i" "$size" "${HEADS[$i]}"; done
    done
    echo "== $size, $mode"
    for i in "${!NAMES[@]}"; do
      printf '  %-12s %10s files/s %10s req/s %8s MB/s %9s us server CPU/file %9s us client CPU/file  %s\n' "${NAMES[$i]}" \
        "$(col "$i" 1)" "$(col "$i" 2)" "$(col "$i" 3)" "$(col "$i" 4)" "$(col "$i" 5)" \
        "$(cat "$TMP/err.$i" 2>/dev/null | grep . || echo "no errors")"
    done
    s=$(idx static) n=$(idx nginx)
    if [ -n "$s" ] && [ -n "$n" ]; then
      printf '  builtin:static / nginx: %.2fx files/s, %.2fx server CPU per file, %.2fx server+client CPU per file (medians of the per-round ratios)\n' \
        "$(ratio "$s" "$n" 1)" "$(ratio "$s" "$n" 4)" "$(ratio "$s" "$n" 6)"
    fi
    for pair in "static static-base" "wn-forkhorn wn-base"; do
      a=$(idx "${pair% *}") b=$(idx "${pair#* }")
      if [ -n "$a" ] && [ -n "$b" ]; then
        printf '  %s / %s: %.2fx files/s, %.2fx server CPU per file\n' "${pair% *}" "${pair#* }" "$(ratio "$a" "$b" 1)" "$(ratio "$a" "$b" 4)"
      fi
    done
    w=$(idx wn-forkhorn)
    for peer in wn-bjoern wn-gunicorn; do
      o=$(idx "$peer")
      if [ -n "$w" ] && [ -n "$o" ]; then
        printf '  WhiteNoise forkhorn / %s: %.2fx files/s, %.2fx server CPU per file (%.2fx capacity), %.2fx server+client CPU per file\n' "${peer#wn-}" \
          "$(ratio "$w" "$o" 1)" "$(ratio "$w" "$o" 4)" "$(ratio "$o" "$w" 4)" "$(ratio "$w" "$o" 6)"
      fi
    done
  done
done
for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done

#!/usr/bin/env bash
# What an idle keep-alive connection costs in memory: the RSS of the workers of forkhorn
# (builtin:hello) and nginx (`return 200`), both with 1 worker, before and after N clients
# connect, send one request each and then stay connected doing nothing.
#
#   bash benches/idle-memory.sh [N]
#
# Needs nginx (Debian package `nginx-light`); installs it if apt-get can.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
N=${1:-10000}
command -v nginx >/dev/null || apt-get install -y -qq nginx-light >/dev/null
[ -n "${FORKHORN:-}" ] || cargo build --release -q
BIN=${FORKHORN:-target/release/forkhorn}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

# Sum of VmRSS (KiB) of the children of PID (the workers).
workers_rss() {
  local total=0 pid
  for pid in $(pgrep -P "$1"); do
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
  done
  echo "$total"
}

# measure NAME PID PORT
measure() {
  local name=$1 pid=$2 port=$3 before after
  wait_port "$port" "$pid"
  before=$(workers_rss "$pid")
  mkfifo "$TMP/hold-$name"
  python3 benches/idle_conns.py "$port" "$N" <"$TMP/hold-$name" >"$TMP/out-$name" &
  local client=$!
  exec 7>"$TMP/hold-$name"
  until grep -q ready "$TMP/out-$name" 2>/dev/null; do
    kill -0 "$client" 2>/dev/null || { echo "$name: the client failed" >&2; exit 1; }
    sleep 0.2
  done
  after=$(workers_rss "$pid")
  exec 7>&-
  wait "$client" || true
  awk -v n="$name" -v b="$before" -v a="$after" -v c="$N" 'BEGIN {
    printf "%-9s %6d idle connections: worker RSS %7.1f MB -> %7.1f MB, %6.2f KB per connection\n",
      n, c, b / 1024, a / 1024, (a - b) * 1024 / c / 1000 }'
}

PORT=$(free_port)
"$BIN" -w 1 -b "127.0.0.1:$PORT" --worker-connections $((N + 100)) --keep-alive 300 \
  --log-level warning builtin:hello 2>"$TMP/forkhorn.log" &
FH=$!
measure forkhorn "$FH" "$PORT"
kill -TERM "$FH"; wait "$FH" || true

NPORT=$(free_port)
cat > "$TMP/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile $((N + 1000));
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
daemon off;
events { worker_connections $((N + 100)); }
http {
  access_log off;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$NPORT;
    location / { default_type "text/plain; charset=utf-8"; return 200 "Hello, World!"; }
  }
}
NGINX
nginx -c "$TMP/nginx.conf" -p "$TMP" &
NG=$!
measure nginx "$NG" "$NPORT"
kill -QUIT "$NG"; wait "$NG" || true

#!/usr/bin/env bash
# TLS: forkhorn (rustls) vs nginx (OpenSSL), the same ECDSA P-256 certificate, 2 workers each,
# in interleaved rounds (round 1 of both servers, then round 2, ...):
#
# 1. keep-alive HTTPS requests/s on builtin:hello (nginx: `return 200`), wrk over TLS 1.3, with
#    the servers' CPU per request;
# 2. full TLS 1.3 handshakes per second (`openssl s_time -new`, two clients at once) and the
#    servers' CPU per handshake;
# 3. resumed TLS 1.3 handshakes per second (`openssl s_time -reuse`, two clients at once);
# 4. a 64 MiB static file (builtin:static; nginx's static module) over HTTPS, and the same file
#    from forkhorn over plain HTTP, with curl (MB/s, best of 3).
#
#   bash benches/tls.sh [DURATION=10] [CONNECTIONS=64] [ROUNDS=1]
#
# Goals (issue 17): keep-alive req/s >= nginx and CPU/req <= nginx; full handshakes >= 0.9 x
# nginx, resumed >= nginx; static over TLS >= 0.8 x plain. The s_time clients do as much
# cryptography per handshake as the server, on the same two cores: handshakes/s are client-bound
# and compare the servers only roughly; CPU per handshake is the server's own cost.
#
# Needs wrk, nginx, openssl, curl. FORKHORN=PATH measures that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DURATION=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-1}
for tool in wrk nginx openssl curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -n "${FORKHORN:-}" ] || cargo build --release -q
BIN=${FORKHORN:-target/release/forkhorn}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
TCK=$(getconf CLK_TCK)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
mkdir -p "$TMP/www"
head -c $((64 << 20)) /dev/urandom >"$TMP/www/big.bin"

# wait_tls PORT: until an HTTPS request succeeds.
wait_tls() {
  for _ in $(seq 200); do
    curl -sfk "https://127.0.0.1:$1/" -o /dev/null 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no HTTPS on port $1" >&2
  return 1
}

# cpu_us PID TICKS0 COUNT: the server's CPU microseconds per unit since TICKS0.
cpu_us() {
  awk -v t=$(($(tree_ticks "$1") - $2)) -v k="$TCK" -v n="$3" 'BEGIN { printf "%.1f", n ? t / k * 1e6 / n : 0 }'
}

# s_time_pair PORT MODE: connections per second of two s_time clients at once.
s_time_pair() {
  local port=$1 mode=$2 i pids=()
  for i in 1 2; do
    openssl s_time -connect "127.0.0.1:$port" "$mode" -tls1_3 -time "$DURATION" >"$TMP/st$i" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  # "N connections in Ts; X connections/user sec, bytes read 0" then
  # "N connections in R real seconds, ..." per client.
  awk '/real seconds/ {n += $1; if ($4 > s) s = $4} END {printf "%.0f %.0f\n", s ? n / s : 0, n}' "$TMP/st1" "$TMP/st2"
}

# measure NAME PID PORT: the four figures for one running server; one line.
measure() {
  local name=$1 pid=$2 port=$3 t0 out rps reqs hs n rs
  wait_tls "$port"
  wrk -t1 -c"$CONNS" -d2s "https://127.0.0.1:$port/" >/dev/null
  t0=$(tree_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$port/")
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local kcpu
  kcpu=$(cpu_us "$pid" "$t0" "$reqs")
  t0=$(tree_ticks "$pid")
  read -r hs n < <(s_time_pair "$port" -new)
  local hcpu
  hcpu=$(cpu_us "$pid" "$t0" "$n")
  read -r rs n < <(s_time_pair "$port" -reuse)
  local best=0 s
  for _ in 1 2 3; do
    s=$(curl -sk -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$port/big.bin")
    best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
  done
  printf '%-9s keep-alive %7s req/s %6s us CPU/req | full %6s hs/s %7s us CPU/hs | resumed %6s hs/s | 64 MiB %6.0f MB/s\n' \
    "$name" "$rps" "$kcpu" "$hs" "$hcpu" "$rs" "$(awk -v b="$best" 'BEGIN { print b / 1e6 }')"
}

forkhorn_run() {
  local tls plain
  tls=$(free_port)
  plain=$(free_port)
  # One server for builtin:hello's "/", another for the file: builtin:static answers "/" 404.
  "$BIN" -w 2 -b "127.0.0.1:$tls" --certfile "$TMP/cert.pem" --keyfile "$TMP/key.pem" \
    --log-level warning builtin:hello 2>"$TMP/fh.log" &
  local pid=$!
  "$BIN" -w 2 -b "127.0.0.1:$plain" --log-level warning --static-root "$TMP/www" builtin:static 2>>"$TMP/fh.log" &
  local spid=$!
  wait_tls "$tls"
  # The keep-alive, handshake figures from the hello server; the file from a TLS static one.
  local stls
  stls=$(free_port)
  "$BIN" -w 2 -b "127.0.0.1:$stls" --certfile "$TMP/cert.pem" --keyfile "$TMP/key.pem" \
    --log-level warning --static-root "$TMP/www" builtin:static 2>>"$TMP/fh.log" &
  local tpid=$!
  measure_forkhorn "$pid" "$tls" "$stls" "$plain"
  kill -TERM "$pid" "$spid" "$tpid"
  wait "$pid" "$spid" "$tpid" || true
}

# measure_forkhorn PID PORT STATIC_TLS_PORT STATIC_PLAIN_PORT
measure_forkhorn() {
  local pid=$1 port=$2 stls=$3 plain=$4
  local line
  line=$(measure forkhorn "$pid" "$port" | sed 's/ | 64 MiB.*//')
  local best_tls=0 best_plain=0 s
  for _ in 1 2 3; do
    s=$(curl -sk -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$stls/big.bin")
    best_tls=$(awk -v a="$best_tls" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
    s=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$plain/big.bin")
    best_plain=$(awk -v a="$best_plain" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
  done
  printf '%s | 64 MiB %6.0f MB/s (plain HTTP %6.0f MB/s, ratio %.2f)\n' "$line" \
    "$(awk -v b="$best_tls" 'BEGIN { print b / 1e6 }')" "$(awk -v b="$best_plain" 'BEGIN { print b / 1e6 }')" \
    "$(awk -v a="$best_tls" -v b="$best_plain" 'BEGIN { print a / b }')"
}

nginx_run() {
  local port
  port=$(free_port)
  cat >"$TMP/nginx.conf" <<NGINX
user root;
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  sendfile on;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $TMP/cert.pem;
    ssl_certificate_key $TMP/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    root $TMP/www;
    location = / { default_type "text/plain; charset=utf-8"; return 200 "Hello, World!"; }
  }
}
NGINX
  nginx -c "$TMP/nginx.conf" -p "$TMP" &
  local pid=$!
  measure nginx "$pid" "$port"
  kill -QUIT "$pid"
  wait "$pid" || true
}

echo "TLS 1.3, ECDSA P-256; wrk -t1 -c$CONNS -d${DURATION}s; s_time x2 -time $DURATION; $ROUNDS round(s); 2 workers each; $(nproc) cores; $(uptime)"
for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "round $round"
  forkhorn_run
  nginx_run
done

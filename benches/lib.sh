# Shell helpers the benchmark scripts source: a free loopback port, waiting for a server, and
# the CPU time of a server's process tree.

# A TCP port nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# utime+stime (clock ticks) of a process and its children (a master and its workers).
tree_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    if [ -r "/proc/$pid/stat" ]; then
      total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
    fi
  done
  echo "$total"
}

# Waits until http://127.0.0.1:PORT/ answers (10 s at most). With a PID, gives up as soon as
# that process has exited (a server that refused its command line).
wait_port() {
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$1/" >/dev/null 2>&1 && return 0
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      echo "server on port $1 exited" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2
  return 1
}

# The Python servers' benchmarks (python-wsgi.sh, blocking-apps.sh): the venv at $VENV, one pip
# call per package so that one failing install skips only that server, and the servers they
# start ($SERVERS, killed with their workers at exit, with $TMP removed).
pip_install() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" >/dev/null 2>&1; }
have() { "$VENV/bin/python" -c "import $1" 2>/dev/null; }
stop_servers() {
  local pid
  for pid in "${SERVERS[@]}"; do
    kill -KILL "$pid" $(pgrep -P "$pid" || true) 2>/dev/null || true
  done
  rm -rf "$TMP"
}

# The median of the numbers on standard input, one a line (the middle one of an odd count).
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

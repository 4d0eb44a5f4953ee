#!/usr/bin/env bash
# Is forkhorn bench's built-in load generator honest? Measures the same forkhorn server with
# the built-in generator and with wrk, alternating, ROUNDS times, and prints each round's
# requests/s and p99 from both and the median ratio builtin/wrk per connection count.
#
#   bash benches/builtin-vs-wrk.sh [ROUNDS=5] [DURATION=3s] [WORKERS=1] [CONNECTIONS=64,256]
#
# One worker by default: with more, how the kernel spreads connections over workers differs
# from run to run and moves requests/s more than the choice of generator does.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
DURATION=${2:-3s}
WORKERS=${3:-1}
CONNS=${4:-64,256}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for round in $(seq "$ROUNDS"); do
  target/release/forkhorn bench --workers "$WORKERS" --connections "$CONNS" --engine builtin,wrk \
    --duration "$DURATION" --warmup 1s --out "$TMP/$round" >/dev/null 2>"$TMP/$round.log" ||
    { cat "$TMP/$round.log" >&2; exit 1; }
done
# results.csv columns: 2 engine, 5 connections, 8 requests_per_sec, 11 latency_p99_ms.
awk -F, '
  FNR == 1 { round++; next }
  { rps[$5, round, $2] = $8; p99[$5, round, $2] = $11; conns[$5] = 1 }
  END {
    for (c in conns) {
      n = 0
      for (r = 1; r <= round; r++) {
        ratio = rps[c, r, "builtin"] / rps[c, r, "wrk"]
        printf "c=%-5s round %d: builtin %8.0f req/s p99 %6.2f ms | wrk %8.0f req/s p99 %6.2f ms | ratio %.3f\n",
          c, r, rps[c, r, "builtin"], p99[c, r, "builtin"], rps[c, r, "wrk"], p99[c, r, "wrk"], ratio
        ratios[++n] = ratio
      }
      # Median by insertion sort: ROUNDS is small.
      for (i = 2; i <= n; i++) { v = ratios[i]; j = i - 1; while (j > 0 && ratios[j] > v) { ratios[j + 1] = ratios[j]; j-- } ratios[j + 1] = v }
      median = (n % 2) ? ratios[(n + 1) / 2] : (ratios[n / 2] + ratios[n / 2 + 1]) / 2
      printf "c=%-5s median requests/s ratio builtin/wrk over %d rounds: %.3f\n", c, n, median
    }
  }' $(for r in $(seq "$ROUNDS"); do echo "$TMP/$r/results.csv"; done)

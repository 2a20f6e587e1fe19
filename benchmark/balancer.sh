#!/usr/bin/env bash
# Balancer strategies with one slow modelhost: open-loop load on a model that sleeps 10 ms, three modelhosts of
# unequal capacity (mh-slow: 1 worker, 100 req/s; mh-fast-1 and mh-fast-2: 4 workers, 400 req/s each), each
# strategy in turn at the same arrival rates. See README.md.
#
#   benchmark/balancer.sh                      # rates 150 and 360 req/s, 20 s measured per strategy and rate
#   RATES=100,200 MEASURE_SECONDS=10 benchmark/balancer.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATES="${RATES:-150,360}"
SECONDS_PER_RUN="${MEASURE_SECONDS:-20}"
WARMUP="${WARMUP:-3}"
SLEEP_MS="${SLEEP_MS:-10}"

ensure_sleep_engine
make_server --no-modelhosts --no-models
cp "$SLEEP_ENGINE_JAR" "$SERVER/deploy/"
echo "$SLEEP_MS" >"$SERVER/deploy/nap.sleep"
modelhost_cfg() { printf 'id=%s\nworkers=%s\nqueue.capacity=1000\nmodels=nap\n' "$1" "$2" >"$SERVER/deploy/io.fractal.modelhost-$1.cfg"; }
modelhost_cfg mh-slow 1
modelhost_cfg mh-fast-1 4
modelhost_cfg mh-fast-2 4

start_server
wait_hosts_ready nap
log "nap ($SLEEP_MS ms) READY on mh-slow (1 worker), mh-fast-1 and mh-fast-2 (4 workers each); capacity $((1000 / SLEEP_MS * 9)) req/s"

echo
echo "Balancer strategies, one slow modelhost — $(machine_line)"
echo "Model nap sleeps $SLEEP_MS ms;"
echo "mh-slow 1 worker ($((1000 / SLEEP_MS)) req/s), mh-fast-1/-2 4 workers ($((4000 / SLEEP_MS)) req/s each); open loop,"
echo "latency from the scheduled send time; ${WARMUP} s warm-up + ${SECONDS_PER_RUN} s measured per row; share = served counters."
echo
loadgen balancer --base "$BASE" --model nap --rates "$RATES" --warmup "$WARMUP" --seconds "$SECONDS_PER_RUN"
echo
curl -s "$BASE/api/v1/balancer" | "$PY" -c 'import json,sys; b=json.load(sys.stdin); print("balancer: decisions %d, retries %d, ejections %d" % (b["decisions"], b["retries"], b["ejections"]))'

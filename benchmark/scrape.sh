#!/usr/bin/env bash
# Scrape cost: 10 models (copies of iris) on 4 modelhosts, some traffic on each model, then 200 sequential
# scrapes of /metrics on the metrics listener (one keep-alive connection, like Prometheus). See README.md.
#
#   benchmark/scrape.sh
#   MODELS=20 HOSTS=8 SCRAPES=500 benchmark/scrape.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODELS="${MODELS:-10}"
HOSTS="${HOSTS:-4}"
SCRAPES="${SCRAPES:-200}"
REQUESTS="${REQUESTS:-30}"

make_server --no-modelhosts
names=()
for ((i = 0; i < MODELS; i++)); do
  cp -r "$SERVER/deploy/iris" "$SERVER/deploy/iris$i"
  names+=("iris$i")
done
rm -rf "$SERVER/deploy/iris" "$SERVER/deploy/digits"
for ((i = 1; i <= HOSTS; i++)); do
  printf 'id=mh%d\nworkers=1\nqueue.capacity=64\nmodels=*\n' "$i" >"$SERVER/deploy/io.fractal.modelhost-mh$i.cfg"
done

start_server
for n in "${names[@]}"; do wait_hosts_ready "$n"; done

echo
echo "Scrape cost — $(machine_line)"
echo "$MODELS models (copies of iris) on $HOSTS modelhosts (1 worker each), $REQUESTS v1 predictions per model first;"
echo "$SCRAPES sequential GET /metrics on the metrics listener (port $METRICS_PORT), one keep-alive connection, after 50 warm-up scrapes."
echo
models_csv="$(IFS=,; echo "${names[*]}")"
loadgen scrape --base "$BASE" --metrics "http://127.0.0.1:$METRICS_PORT/metrics" --models "$models_csv" \
  --requests "$REQUESTS" --count "$SCRAPES" --pid "$(server_pid)"
echo
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -v '^#' | sed 's/[{ ].*//' | sort | uniq -c | sort -rn | head -12 |
  awk 'BEGIN {print "samples per metric family (top 12):"} {printf "  %5d %s\n", $1, $2}'

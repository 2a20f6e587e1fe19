#!/usr/bin/env bash
# Hot deploy: (1) time from a new model file copied into deploy/ to its first prediction; (2) swap under load:
# a served model's file replaced by another valid model of the same signature, 20 times under load, counting
# failed requests; (3) memory (VmRSS and process_resident_memory_bytes, after a forced GC) after 1 and after 50
# replaces. See README.md.
#
#   benchmark/hot-deploy.sh                    # 5 new models; 20 + 30 replaces under 100 req/s
#   RATE=200 CYCLES=20 RSS_CYCLES=50 benchmark/hot-deploy.sh
#   RSS_CYCLES=200 RSS_EVERY=25 benchmark/hot-deploy.sh   # does the memory keep growing?
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE="${RATE:-100}"
CYCLES="${CYCLES:-20}"
RSS_CYCLES="${RSS_CYCLES:-50}"
RUNS="${RUNS:-5}"
RSS_EVERY="${RSS_EVERY:-0}"   # also read the memory every N replaces (a GC and 3 s each)

make_server                     # the sample models and modelhosts mh1, mh2 (2 workers each)
# Two TorchScript iris models with the same signature: the sample, and the sample with its weights scaled by 1.01
cp "$SERVER/deploy/iris/model.pt" "$WORK/iris-a.pt"
"$PY" -c 'import torch' 2>/dev/null || die "needs Debian's python3-torch (apt-get install python3-torch) to make the second model"
"$PY" "$BENCH_DIR/make_model_variant.py" "$WORK/iris-a.pt" "$WORK/iris-b.pt" >&2
# the model the swap replaces: a folder like deploy/iris (model.json for the signature and labels)
mkdir "$SERVER/deploy/swap"
cp "$SERVER/deploy/iris/model.json" "$SERVER/deploy/swap/"
cp "$WORK/iris-a.pt" "$SERVER/deploy/swap/model.pt"

start_server
wait_hosts_ready swap
wait_hosts_ready iris

echo
echo "Hot deploy — $(machine_line)"
echo "modelhosts mh1, mh2 (2 workers each), FileInstall polls deploy/ every 500 ms."
echo
echo "1. A new model file (iris TorchScript, no model.json) copied into deploy/ as hotN.pt; v2 inference polled every 5 ms:"
echo
loadgen first-prediction --base "$BASE" --deploy "$SERVER/deploy" --source "$WORK/iris-a.pt" --name hot --runs "$RUNS"
echo
echo "2-3. deploy/swap/model.pt replaced (cp) alternately by two iris models, under load; memory after jcmd GC.run + 3 s:"
echo
loadgen swap --base "$BASE" --model swap --target "$SERVER/deploy/swap/model.pt" \
  --variants "$WORK/iris-a.pt,$WORK/iris-b.pt" --cycles "$CYCLES" --rss-cycles "$RSS_CYCLES" --rss-every "$RSS_EVERY" --rate "$RATE" \
  --pid "$(server_pid)" --metrics "http://127.0.0.1:$METRICS_PORT/metrics"
echo
echo "versions kept of 'swap' after the run: $(curl -s "$BASE/api/v1/models/swap" | "$PY" -c 'import json,sys; m=json.load(sys.stdin); print([v["version"] for v in m["versions"]], "default", m["default_version"])')"
echo "files in data/models/swap: $(find "$SERVER/data/models/swap" -type f | wc -l)"

#!/usr/bin/env bash
# Dynamic batching on the digits CNN (issue 11, item 3), in one run: the sample model "digits" (not batched) and the
# same file uploaded as "digits-batched" with max_batch_size in its metadata, both on the same server and modelhosts,
# measured interleaved per concurrency level with closed-loop wrk (-t1, keep-alive, one image per request, v1).
# Prints req/s, p50, p99 of each, the batched one as a ratio of the unbatched, and the rows per engine call the
# batched model ran (fractal_batch_size quantiles over the run). Also checks the answers agree (to 1e-6).
#
#   benchmark/batching.sh                               # max_batch_size 32, levels 1 8 32 64, 8 s per run
#   MAX_BATCH=16 DELAY_US=500 LEVELS="8 64" benchmark/batching.sh
#   WORKERS=1 benchmark/batching.sh                    # the modelhosts' workers (default: the sample's 2 each)
#   /usr/bin/python3 benchmark/make_cnn.py /tmp/cnn32 && MODEL_DIR=/tmp/cnn32 benchmark/batching.sh
#                                                      # a heavier CNN: any folder with model.json, the model file
#                                                      # it names ("file"; model.pt if it names none; PyTorch or
#                                                      # ONNX) and body.json (one v1 request), uploaded under the
#                                                      # folder's name and as <name>-batched
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LEVELS="${LEVELS:-1 8 32 64}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-15}"
MAX_BATCH="${MAX_BATCH:-32}"
DELAY_US="${DELAY_US:-0}"
MODEL_DIR="${MODEL_DIR:-}"
command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"

make_server
if [ -n "${WORKERS:-}" ]; then
  sed -i "s/^workers=.*/workers=$WORKERS/" "$SERVER"/deploy/io.fractal.modelhost-*.cfg
fi
start_server
wait_hosts_ready digits
TOKEN="$(cat "$SERVER/data/management.token")"
if [ -n "$MODEL_DIR" ]; then
  M="$(basename "$MODEL_DIR" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-')"
  case "$M" in iris | digits | *-batched) die "name the folder otherwise than $M (a sample model's name, or -batched)" ;; esac
  SOURCE="$MODEL_DIR"
  FILE="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("file", "model.pt"))' "$SOURCE/model.json")"
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -F "path=@$SOURCE/$FILE" \
    -F "metadata=@$SOURCE/model.json" "$BASE/api/v1/models/$M" || die "upload of $M refused"
  wait_hosts_ready "$M"
  cp "$SOURCE/body.json" "$WORK/body"
  DESCRIPTION="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("description", sys.argv[1]))' "$SOURCE/model.json")"
else
  M=digits
  SOURCE="$SERVER/deploy/digits"
  FILE=model.pt
  "$PY" - "$REPO_DIR/it-tests/src/test/resources/expected/digits.json" "$WORK/body" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(json.dumps({"values": ref["inputs"]["image"]["data"][0]}, separators=(",", ":")))
PY
  DESCRIPTION="digits CNN (8x8 grey images)"
fi
"$PY" - "$SOURCE/model.json" "$MAX_BATCH" "$DELAY_US" >"$WORK/batched.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["max_batch_size"] = int(sys.argv[2])
m["max_queue_delay_us"] = int(sys.argv[3])
print(json.dumps(m))
PY
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -F "path=@$SOURCE/$FILE" \
  -F "metadata=@$WORK/batched.json" "$BASE/api/v1/models/$M-batched" || die "upload of $M-batched refused"
wait_hosts_ready "$M-batched"
"$PY" - "$M" "$WORK" <<'PY'
import sys
for m in (sys.argv[1], sys.argv[1] + "-batched"):
    open(f"{sys.argv[2]}/{m}.lua", "w").write('''wrk.method = "POST"
wrk.path = "/api/v1/models/%s/prediction"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("%s/body", "rb"))
wrk.body = f:read("*a")
f:close()
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d duration_us=%%d errors=%%d p50_us=%%d p99_us=%%d\\n",
    summary.requests, summary.duration, e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
''' % (m, sys.argv[2]))
PY
a="$(curl -sf -H 'Content-Type: application/json' --data-binary "@$WORK/body" "$BASE/api/v1/models/$M/prediction")"
b="$(curl -sf -H 'Content-Type: application/json' --data-binary "@$WORK/body" "$BASE/api/v1/models/$M-batched/prediction")"
"$PY" -c 'import json,sys; a=json.loads(sys.argv[1])["values"]; b=json.loads(sys.argv[2])["values"]; assert max(abs(x-y) for x,y in zip(a,b)) <= 1e-6, (a,b)' "$a" "$b" \
  || die "$M and $M-batched answer differently"

field() { sed -n "s/.*RESULT.* $1=\([0-9]*\).*/\1/p" "$2" | head -n1; }
batch_quantiles() {
  curl -s "$BASE/metrics" | awk -v model="model=\"$M-batched\"" '/^fractal_batch_size\{/ && index($0, model) {
    match($0, /quantile="[^"]*"/); q = substr($0, RSTART + 10, RLENGTH - 11); s[q] += $NF; n[q]++ }
    /^fractal_batch_size_count\{/ && index($0, model) { c += $NF }
    END { printf "calls %d, rows per call p50 %.1f, p99 %.1f", c, n["0.5"] ? s["0.5"] / n["0.5"] : 0, n["0.99"] ? s["0.99"] / n["0.99"] : 0 }'
}
for m in "$M" "$M-batched"; do
  log "warm-up: $m, ${WARMUP} s at 32 connections"
  wrk -t1 -c32 -d"${WARMUP}s" --timeout 10s -s "$WORK/$m.lua" "$BASE" >/dev/null 2>&1 || true
done
log "start: $(machine_line)"
: >"$WORK/rows"
batch_calls() {
  curl -s "$BASE/metrics" | awk -v model="model=\"$M-batched\"" '/^fractal_batch_size_count\{/ && index($0, model) { c += $NF }
    END { printf "%d", c }'
}
for c in $LEVELS; do
  for m in "$M" "$M-batched"; do
    calls0="$(batch_calls)"
    wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$WORK/$m.lua" "$BASE" >"$WORK/out" 2>&1 || true
    grep -q RESULT "$WORK/out" || die "wrk gave no result for $m c=$c"
    q=""
    if [ "$m" != "$M" ]; then
      calls="$(($(batch_calls) - calls0))"
      q="$(awk -v r="$(field requests "$WORK/out")" -v c="$calls" 'BEGIN { printf "mean rows per call in this run %.1f (%d calls); ", c ? r / c : 0, c }')$(batch_quantiles)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$m" "$(field requests "$WORK/out")" "$(field duration_us "$WORK/out")" \
      "$(field p50_us "$WORK/out")" "$(field p99_us "$WORK/out")" "$(field errors "$WORK/out")" "$q" >>"$WORK/rows"
    log "$m c=$c: $(field requests "$WORK/out") requests, p50 $(field p50_us "$WORK/out") us ${q:+($q)}"
  done
done
echo
echo "Dynamic batching, $DESCRIPTION, v1, one image per request; max_batch_size $MAX_BATCH, max_queue_delay_us $DELAY_US;"
echo "2 modelhosts x ${WORKERS:-2} workers; $(machine_line). Batch rows: the fractal_batch_size summary (a sample favouring the"
echo "last minutes, so later levels carry earlier ones), calls counted since the start; the mean rows per call of a run: its"
echo "requests over the engine calls it caused."
echo
echo "| c | model | req/s | p50 ms | p99 ms | errors | batched / unbatched req/s | batch rows |"
echo "|---:|---|---:|---:|---:|---:|---:|---|"
awk -F'\t' -v m="$M" '{ rate = $3 / ($4 / 1e6); if ($2 == m) base[$1] = rate
  ratio = $2 == m ? "-" : sprintf("%.2fx", rate / base[$1])
  printf "| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s |\n", $1, $2, rate, $5 / 1000, $6 / 1000, $7, ratio, $8 }' "$WORK/rows"

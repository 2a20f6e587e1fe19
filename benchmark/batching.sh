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
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LEVELS="${LEVELS:-1 8 32 64}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-15}"
MAX_BATCH="${MAX_BATCH:-32}"
DELAY_US="${DELAY_US:-0}"
command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"

make_server
if [ -n "${WORKERS:-}" ]; then
  sed -i "s/^workers=.*/workers=$WORKERS/" "$SERVER"/deploy/io.fractal.modelhost-*.cfg
fi
start_server
wait_hosts_ready digits
TOKEN="$(cat "$SERVER/data/management.token")"
"$PY" - "$SERVER/deploy/digits/model.json" "$MAX_BATCH" "$DELAY_US" >"$WORK/batched.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["max_batch_size"] = int(sys.argv[2])
m["max_queue_delay_us"] = int(sys.argv[3])
print(json.dumps(m))
PY
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -F "path=@$SERVER/deploy/digits/model.pt" \
  -F "metadata=@$WORK/batched.json" "$BASE/api/v1/models/digits-batched" || die "upload of digits-batched refused"
wait_hosts_ready digits-batched
"$PY" - "$REPO_DIR/it-tests/src/test/resources/expected/digits.json" "$WORK" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
image = ref["inputs"]["image"]["data"][0]
open(sys.argv[2] + "/body", "w").write(json.dumps({"values": image}, separators=(",", ":")))
for m in ("digits", "digits-batched"):
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
a="$(curl -sf -H 'Content-Type: application/json' --data-binary "@$WORK/body" "$BASE/api/v1/models/digits/prediction")"
b="$(curl -sf -H 'Content-Type: application/json' --data-binary "@$WORK/body" "$BASE/api/v1/models/digits-batched/prediction")"
"$PY" -c 'import json,sys; a=json.loads(sys.argv[1])["values"]; b=json.loads(sys.argv[2])["values"]; assert max(abs(x-y) for x,y in zip(a,b)) <= 1e-6, (a,b)' "$a" "$b" \
  || die "digits and digits-batched answer differently"

field() { sed -n "s/.*RESULT.* $1=\([0-9]*\).*/\1/p" "$2" | head -n1; }
batch_quantiles() {
  curl -s "$BASE/metrics" | awk '/^fractal_batch_size\{/ && /model="digits-batched"/ {
    match($0, /quantile="[^"]*"/); q = substr($0, RSTART + 10, RLENGTH - 11); s[q] += $NF; n[q]++ }
    /^fractal_batch_size_count\{/ && /model="digits-batched"/ { c += $NF }
    END { printf "calls %d, rows per call p50 %.1f, p99 %.1f", c, n["0.5"] ? s["0.5"] / n["0.5"] : 0, n["0.99"] ? s["0.99"] / n["0.99"] : 0 }'
}
for m in digits digits-batched; do
  log "warm-up: $m, ${WARMUP} s at 32 connections"
  wrk -t1 -c32 -d"${WARMUP}s" --timeout 10s -s "$WORK/$m.lua" "$BASE" >/dev/null 2>&1 || true
done
log "start: $(machine_line)"
: >"$WORK/rows"
for c in $LEVELS; do
  for m in digits digits-batched; do
    wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$WORK/$m.lua" "$BASE" >"$WORK/out" 2>&1 || true
    grep -q RESULT "$WORK/out" || die "wrk gave no result for $m c=$c"
    q=""; [ "$m" = digits ] || q="$(batch_quantiles)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$m" "$(field requests "$WORK/out")" "$(field duration_us "$WORK/out")" \
      "$(field p50_us "$WORK/out")" "$(field p99_us "$WORK/out")" "$(field errors "$WORK/out")" "$q" >>"$WORK/rows"
    log "$m c=$c: $(field requests "$WORK/out") requests, p50 $(field p50_us "$WORK/out") us ${q:+($q)}"
  done
done
echo
echo "Dynamic batching, digits CNN, v1, one image per request; max_batch_size $MAX_BATCH, max_queue_delay_us $DELAY_US;"
echo "2 modelhosts x ${WORKERS:-2} workers; $(machine_line). Batch rows: the fractal_batch_size summary (a sample favouring the"
echo "last minutes, so later levels carry earlier ones), calls counted since the start."
echo
echo "| c | model | req/s | p50 ms | p99 ms | errors | batched / unbatched req/s | batch rows |"
echo "|---:|---|---:|---:|---:|---:|---:|---|"
awk -F'\t' '{ rate = $3 / ($4 / 1e6); if ($2 == "digits") base[$1] = rate
  ratio = $2 == "digits" ? "-" : sprintf("%.2fx", rate / base[$1])
  printf "| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s |\n", $1, $2, rate, $5 / 1000, $6 / 1000, $7, ratio, $8 }' "$WORK/rows"

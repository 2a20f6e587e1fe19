#!/usr/bin/env bash
# How fast a fresh server gets up to speed (issue 11: "within 2 s of start the server runs at 80% of its
# warmed-up rate"): starts the distribution, polls /v2/health/ready every 50 ms, then from the moment it is ready runs
# closed-loop wrk load on the v1 iris prediction in one-second windows, and prints req/s per window as a share of
# the rate of the last windows (warmed up). Run it a few times: the first seconds are the noisy part.
#
#   benchmark/warmup.sh                       # 20 windows of 1 s at 8 connections
#   WINDOWS=30 CONNECTIONS=32 benchmark/warmup.sh
#   WARMUP_MAX_MS=2000 benchmark/warmup.sh     # the server's warm-up (warmup.ms, at least; warmup.max.ms, at most)
#   IDLE=10 benchmark/warmup.sh                # the load starts 10 s after ready
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WINDOWS="${WINDOWS:-20}"
CONNECTIONS="${CONNECTIONS:-8}"
STEADY="${STEADY:-5}"   # the last windows averaged as the warmed-up rate
command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"

make_server
# the server's own warm-up of the request path before it says ready (io.fractal.inferrer warmup.ms, warmup.max.ms)
[ -z "${WARMUP_MS:-}" ] || echo "warmup.ms=$WARMUP_MS" >>"$SERVER/deploy/io.fractal.inferrer.cfg"
[ -z "${WARMUP_MAX_MS:-}" ] || echo "warmup.max.ms=$WARMUP_MAX_MS" >>"$SERVER/deploy/io.fractal.inferrer.cfg"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
cat >"$WORK/v1.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/api/v1/models/iris/prediction"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"values": [5.1, 3.5, 1.4, 0.2]}'
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d\n", summary.requests,
    summary.duration, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50)))
end
LUA
t0="$(now_ms)"
FRACTAL_HOME="$SERVER" "$SERVER/bin/fractal" start >/dev/null
wait_for "readiness" 120 sh -c "curl -sf -o /dev/null '$BASE/v2/health/ready'"
ready="$(now_ms)"
log "start to ready: $(awk -v a="$t0" -v b="$ready" 'BEGIN {printf "%.2f", (b - a) / 1000}') s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "${IDLE:-0}" = 0 ] || { log "idle for $IDLE s after ready"; sleep "$IDLE"; }
: >"$WORK/windows"
for ((i = 1; i <= WINDOWS; i++)); do
  wrk -t1 -c"$CONNECTIONS" -d1s --timeout 5s -s "$WORK/v1.lua" "$BASE" 2>&1 | grep RESULT >>"$WORK/windows" || true
done
awk -v steady="$STEADY" -v n="$WINDOWS" -v c="$CONNECTIONS" '
  { split($0, f, /[ =]/); for (i = 2; i < length(f); i += 2) v[f[i]] = f[i + 1]
    rate[NR] = v["requests"] / (v["duration_us"] / 1e6); p50[NR] = v["p50_us"]; err[NR] = v["errors"] }
  END {
    for (i = n - steady + 1; i <= n; i++) s += rate[i]; s /= steady
    printf "| second after ready | req/s (c=%d) | share of warmed-up | p50 ms | errors |\n|---:|---:|---:|---:|---:|\n", c
    for (i = 1; i <= NR; i++) printf "| %d | %.0f | %.0f%% | %.3f | %d |\n", i, rate[i], 100 * rate[i] / s, p50[i] / 1000, err[i]
    printf "\nwarmed-up rate: mean of the last %d windows, %.0f req/s\n", steady, s }' "$WORK/windows"

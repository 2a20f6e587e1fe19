#!/usr/bin/env bash
# SIGTERM under load: what a graceful stop loses. Per round, a fresh copy of the distribution is started, clients of
# three kinds send v1 iris predictions (src/Sigterm.java: BUSY on kept-alive connections, PAUSING on kept-alive
# connections idle 100-500 ms between requests, NEW opening a connection per request), the process gets SIGTERM
# LOAD_MS later, and every client goes on until its connection is refused. Prints per round and kind: answered,
# answered after the signal, refused (never accepted: not lost), lost (sent, not answered 200) with when, and how
# long the stop took; then the totals. The server's own shutdown.delay.ms (1000) applies.
#
#   benchmark/sigterm.sh                                  # 5 rounds, 4 busy, 2 pausing, 2 new
#   ROUNDS=10 BUSY=0 PAUSING=0 NEW=4 benchmark/sigterm.sh # connection-per-request clients only
#   SHUTDOWN_DELAY_MS=5000 benchmark/sigterm.sh           # as behind Kubernetes
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${ROUNDS:-5}"
BUSY="${BUSY:-4}"
PAUSING="${PAUSING:-2}"
NEW="${NEW:-2}"
LOAD_MS="${LOAD_MS:-2000}"

make_server
# a short start-up warm-up: each round starts a server
echo "warmup.max.ms=2000" >>"$SERVER/deploy/io.fractal.inferrer.cfg"
[ -z "${SHUTDOWN_DELAY_MS:-}" ] || echo "shutdown.delay.ms=$SHUTDOWN_DELAY_MS" >>"$SERVER/deploy/io.fractal.rest.cfg"
log "$(machine_line)"
: >"$WORK/results"
for ((r = 1; r <= ROUNDS; r++)); do
  FRACTAL_HOME="$SERVER" "$SERVER/bin/fractal" start >/dev/null
  wait_for "readiness" 120 sh -c "curl -sf -o /dev/null '$BASE/v2/health/ready'"
  java "$BENCH_DIR/src/Sigterm.java" "$BASE" "$(server_pid)" "$BUSY" "$PAUSING" "$NEW" "$LOAD_MS" \
    | sed "s/^RESULT /RESULT round=$r /" | tee -a "$WORK/results" | grep -q RESULT || die "round $r printed nothing"
  grep -q "REST API listener closed" "$SERVER/log/fractal.log" || log "round $r: the drain is not in the log"
  rm -f "$SERVER/data/fractal.pid"
done
awk '
  { delete v; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = substr($i, length(kv[1]) + 2) }
    rows[NR] = sprintf("| %s | %s | %s | %s | %s | %s | **%s** | %s | %s |", v["round"], v["kind"], v["clients"],
      v["answered"], v["after_signal"], v["refused"], v["lost"], v["stopped_ms"], v["losses"])
    k = v["kind"]; kinds[k] = 1; ans[k] += v["answered"]; aft[k] += v["after_signal"]; lost[k] += v["lost"]
    rounds[k]++; if (v["lost"] > 0) hit[k]++ }
  END {
    print "| round | kind | clients | answered | after the signal | refused | lost | stopped in ms | losses (ms after the signal) |"
    print "|---:|---|---:|---:|---:|---:|---:|---:|---|"
    for (i = 1; i <= NR; i++) print rows[i]
    print ""; print "| kind | rounds | answered | after the signal | lost | rounds with a loss |"; print "|---|---:|---:|---:|---:|---:|"
    for (k in kinds) printf "| %s | %d | %d | %d | **%d** | %d |\n", k, rounds[k], ans[k], aft[k], lost[k], hit[k] + 0 }' "$WORK/results"

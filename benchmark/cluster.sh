#!/usr/bin/env bash
# Cluster benchmark (issue 12): up to three nodes of the distribution on this machine, on loopback ports, each
# with its own home, joined by a TCP/IP member list. Load goes through node A with wrk (c=32, HTTP/1.1 keep-alive),
# v1 iris predictions (iris is deployed on every node from the distribution's deploy/ folder; one modelhost mh1 of
# 2 workers per node unless said otherwise).
#
#   1. local:         A alone                                   (every call local; c=1 and c=32)
#   2. remote only:   A without modelhost + B                   (every call A -> B over HTTP: the remote cost;
#                                                                c=1 and c=32)
#   3. two nodes:     A + B                                     (A's balancer spreads over mh1, mh1@b)
#   4. three nodes:   A + B + C
#   5. start to first served through another node: C started while A is polled; the time from C's process start
#      to the first answer through A from mh1@c (C's own start-up included: JVM, Felix, engines, join);
#   6. kill -9 to ejection: B killed; the time until A no longer lists mh1@b (polled every 10 ms).
#
# All nodes share this machine's cores with wrk: more nodes add no cores here, the figures show the cost of the
# cluster, not its scaling. Usage: benchmark/cluster.sh [seconds per run, default 10]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION="${1:-10}"
WARMUP="${WARMUP:-10}"   # seconds of load before each measured run (the JIT needs some 10,000 calls)
CONNECTIONS=32
THREADS=2
SECRET="bench-$$"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
ensure_dist

WORK="$(mktemp -d /tmp/fractal-cluster-bench.XXXXXX)"
declare -A HOME_OF PORT_OF CPORT_OF
NODES=()

cleanup_nodes() {
  local rc=$? n pid
  for n in "${NODES[@]}"; do
    pid="$(tr -dc '0-9' <"${HOME_OF[$n]}/data/fractal.pid" 2>/dev/null || true)"
    [ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then log "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup_nodes EXIT
trap 'exit 130' INT TERM

read -r CP_A CP_B CP_C <<<"$(free_ports 3)"
MEMBERS="127.0.0.1:$CP_A,127.0.0.1:$CP_B,127.0.0.1:$CP_C"

# make_node NAME CLUSTER_PORT [--no-modelhost]
make_node() {
  local name="$1" cport="$2" home="$WORK/$1" rest metrics
  rm -rf "$home"
  mkdir -p "$home/cache" "$FRACTAL_BENCH_CACHE/djl"
  cp -a "$FRACTAL_DIST"/{bin,conf,bundle,deploy} "$home/"
  ln -s "$FRACTAL_DIST/lib" "$home/lib"
  ln -s "$FRACTAL_BENCH_CACHE/djl" "$home/cache/djl"
  rm -rf "$home/deploy/digits" "$home/deploy/io.fractal.modelhost-mh2.cfg"
  [ "${3:-}" != --no-modelhost ] || rm -f "$home"/deploy/io.fractal.modelhost-*.cfg
  read -r rest metrics <<<"$(free_ports 2)"
  echo "port=$rest" >"$home/deploy/io.fractal.rest.cfg"
  echo "port=$metrics" >"$home/deploy/io.fractal.metrics.cfg"
  echo "port=0" >"$home/deploy/io.fractal.ssh.cfg"
  printf '%s\n' enabled=true cluster.name=bench-$$ node.name=$name "members=$MEMBERS" bind.address=127.0.0.1 \
    "port=$cport" "secret=$SECRET" >"$home/deploy/io.fractal.cluster.cfg"
  HOME_OF[$name]="$home"
  PORT_OF[$name]="$rest"
  CPORT_OF[$name]="$cport"
  NODES+=("$name")
}

start_node() {
  local home="${HOME_OF[$1]}"
  FRACTAL_HOME="$home" "$home/bin/fractal" start >/dev/null
}

stop_node() {
  local home="${HOME_OF[$1]}"
  FRACTAL_HOME="$home" "$home/bin/fractal" stop >/dev/null 2>&1 || true
}

node_pid() { tr -dc '0-9' <"${HOME_OF[$1]}/data/fractal.pid"; }
base() { echo "http://127.0.0.1:${PORT_OF[$1]}"; }

# modelhosts NODE: the modelhost ids NODE's balancer sees, one a line
HOSTS_PY='
import json, sys, urllib.request
try:
    hosts = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/modelhosts", timeout=2))["modelhosts"]
except Exception:
    sys.exit(1)
ready = [h["id"] for h in hosts if any(m.get("model") == "iris" and m.get("state") == "READY" for m in h.get("loaded", []))]
want = sys.argv[2:]
sys.exit(0 if all(w in ready for w in want) else 1)
'
# wait_hosts NODE SECONDS ID...: until NODE sees iris READY on every listed modelhost
wait_hosts() {
  local node="$1" secs="$2"
  shift 2
  wait_for "$node sees iris READY on $*" "$secs" "$PY" -c "$HOSTS_PY" "$(base "$node")" "$@"
}

cat >"$WORK/iris.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"values": [5.1, 3.4, 1.5, 0.2]}'
wrk.headers["Content-Type"] = "application/json"
EOF

RESULTS=()
# run_wrk LABEL NODE [CONNECTIONS]: through NODE (c=32 unless given), after $WARMUP s of warm-up; one result line
run_wrk() {
  local label="$1" node="$2" c="${3:-$CONNECTIONS}" t out p50 p99 rps errors
  t=$((c < THREADS ? c : THREADS))
  wrk -t"$t" -c"$c" -d"$WARMUP"s -s "$WORK/iris.lua" "$(base "$node")/api/v1/models/iris/prediction" >/dev/null
  out="$(wrk -t"$t" -c"$c" -d"${DURATION}s" --latency -s "$WORK/iris.lua" \
    "$(base "$node")/api/v1/models/iris/prediction")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")"
  RESULTS+=("$(printf '%-50s c=%-3s p50 %-9s p99 %-9s %9s req/s  %s' "$label" "$c" "$p50" "$p99" "$rps" \
    "${errors:-no errors}")")
  log "${RESULTS[-1]}"
}

# spread NODE: how A's balancer spread the requests (routed per modelhost)
spread() {
  curl -s "$(base "$1")/api/v1/balancer" | "$PY" -c '
import json, sys
print(", ".join("%s %d" % (h["id"], h["routed"]) for h in json.load(sys.stdin)["modelhosts"]))'
}

log "$(machine_line)"
log "work folder $WORK"

# ---- 1. A alone ---------------------------------------------------------------------------------------------
make_node a "$CP_A"
start_node a
wait_hosts a 120 mh1
run_wrk "1 node: A local (mh1)" a 1
run_wrk "1 node: A local (mh1)" a
stop_node a

# ---- 2. remote only: A without modelhost, B ----------------------------------------------------------------
make_node a "$CP_A" --no-modelhost
make_node b "$CP_B"
start_node a
start_node b
wait_hosts a 120 mh1@b
run_wrk "2 nodes: A without modelhost -> B (remote)" a 1
run_wrk "2 nodes: A without modelhost -> B (remote)" a
log "spread: $(spread a)"
stop_node a

# ---- 3. A + B ---------------------------------------------------------------------------------------------
make_node a "$CP_A"
start_node a
wait_hosts a 120 mh1 mh1@b
run_wrk "2 nodes: A (mh1) + B (mh1@b)" a
log "spread: $(spread a)"

# ---- 4, 5. C starts; the time to its first answer through A ------------------------------------------------
make_node c "$CP_C"
FIRST_PY='
import json, sys, time, urllib.request
base, host, start, limit = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
body = b"{\"values\": [5.1, 3.4, 1.5, 0.2]}"
while time.time() - start < limit:
    try:
        r = urllib.request.urlopen(urllib.request.Request(base + "/api/v1/models/iris/prediction", body,
                                                          {"Content-Type": "application/json"}), timeout=5)
        if json.load(r).get("modelhost") == host:
            print("%.0f" % ((time.time() - start) * 1000))
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.005)
sys.exit(1)
'
start_epoch="$(date +%s.%N)"
start_node c
FIRST_MS="$("$PY" -c "$FIRST_PY" "$(base a)" mh1@c "$start_epoch" 180)" || die "C never served through A"
RESULTS+=("$(printf '%-44s %s ms' "C: process start to first served through A" "$FIRST_MS")")
log "${RESULTS[-1]}"
wait_hosts a 60 mh1 mh1@b mh1@c
run_wrk "3 nodes: A (mh1) + B + C" a
log "spread: $(spread a)"

# ---- 6. kill -9 to ejection, under load --------------------------------------------------------------------
EJECT_PY='
import json, sys, time, urllib.request
base, host, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() - start < 60:
    try:
        hosts = json.load(urllib.request.urlopen(base + "/api/v1/modelhosts", timeout=2))["modelhosts"]
        if host not in [h["id"] for h in hosts]:
            print("%.0f" % ((time.time() - start) * 1000))
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.01)
sys.exit(1)
'
wrk -t"$THREADS" -c"$CONNECTIONS" -d8s --latency -s "$WORK/iris.lua" "$(base a)/api/v1/models/iris/prediction" \
  >"$WORK/wrk-kill.txt" &
WRK_PID=$!
sleep 3
kill_epoch="$(date +%s.%N)"
kill -KILL "$(node_pid b)"
EJECT_MS="$("$PY" -c "$EJECT_PY" "$(base a)" mh1@b "$kill_epoch")" || die "B never ejected"
wait "$WRK_PID"
KILL_ERRORS="$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/wrk-kill.txt")"
KILL_TOTAL="$(awk '/requests in/ {print $1}' "$WORK/wrk-kill.txt")"
RESULTS+=("$(printf '%-44s %s ms (under c=32: %s requests, %s)' "kill -9 B to ejection on A" "$EJECT_MS" \
  "$KILL_TOTAL" "${KILL_ERRORS:-no errors}")")
log "${RESULTS[-1]}"

echo
echo "Cluster benchmark, $(machine_line); wrk c=$CONNECTIONS, ${DURATION} s per run, v1 iris through node A"
printf '%s\n' "${RESULTS[@]}"

#!/usr/bin/env bash
# How far Fractal is from the HTTP ceiling (issue 11, item 1), in one run: per model (iris MLP, digits CNN) and per
# concurrency level, interleaved so that the shared machine's noise hits every endpoint alike, closed-loop wrk runs
# (-t1, keep-alive, one observation per request) against
#   (a) ceiling    a bare Grizzly 4 HTTP server built here (benchmark/src/Ceiling.java, run from source), answering
#                  every request with a fixed body of the size of Fractal's v1 answer after reading the request in
#                  full; it gets the v1 request (same path, same body)
#   (b) v1         POST /api/v1/models/{m}/prediction  {"values": <one observation>}
#   (c) v2 JSON    POST /v2/models/{m}/infer            JSON tensor
#   (d) v2 binary  POST /v2/models/{m}/infer            binary tensor extension: Inference-Header-Content-Length,
#                  binary_data_size, raw little-endian FP32 after the JSON header; binary output asked for
#                  (skipped with a note when a curl check does not answer 200)
#   (e) the model alone in process, one thread (benchmark/src/ModelAlone.java: DJL's PyTorch engine from the
#       distribution's lib/, float[] in and out as Fractal's engine converts): calls/s and CPU per call
# Per run: req/s, p50, p99 (wrk's latency distribution), the server's CPU per request (utime + stime of its process
# from /proc/<pid>/stat before and after, over the requests), and each Fractal figure against the ceiling's at the
# same level: req/s as a ratio, p50 as a difference. Every endpoint is warmed up first (JIT). See README.md.
#
#   benchmark/ceiling.sh                                   # 1 8 32 64 connections, 20 s warm-up, 8 s runs
#   LEVELS="1 32" DURATION=5 WARMUP=10 benchmark/ceiling.sh
#   MODELS=iris MODEL_ALONE=0 benchmark/ceiling.sh         # one model, without the in-process figure
#   flock /tmp/fractal.lock benchmark/ceiling.sh           # on the shared machine: not during others' builds
#
# With BASELINE_DIST=<another distribution> (an earlier build, say), a second Fractal server from it is measured in
# the same run, interleaved, as "v1 (baseline)" and "v2 JSON (baseline)": before and after side by side.
# BASELINE_REST_CFG adds lines to the baseline's io.fractal.rest.cfg (BASELINE_DIST may then be the same build:
# BASELINE_REST_CFG=direct.calls=false measures the direct calls against Jersey's dispatch).
#
# Environment: LEVELS, DURATION (s per run), WARMUP (s of load per endpoint before a model's runs),
# WARMUP_CONNECTIONS (16), MODELS (iris digits), MODEL_ALONE (s measured in process per model; 0 skips it),
# JFR=1 (a 10 s JFR recording of the server under v1 load at the end, summarised), and lib.sh's FRACTAL_DIST, KEEP.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LEVELS="${LEVELS:-1 8 32 64}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-20}"
WARMUP_CONNECTIONS="${WARMUP_CONNECTIONS:-16}"
MODELS="${MODELS:-iris digits}"
MODEL_ALONE="${MODEL_ALONE:-5}"
JFR="${JFR:-0}"
THREAD_LEVEL="${THREAD_LEVEL:-32}"   # the level at which the server's CPU is broken down by thread
GRIZZLY_VERSION="${GRIZZLY_VERSION:-4.0.2}"
M2="${M2_REPO:-$HOME/.m2/repository}"
SERVER_JAVA_OPTS="-Xms256m -Xmx2g -XX:+UseParallelGC"   # bin/fractal's default, for the ceiling too

command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"
CLK_TCK="$(getconf CLK_TCK)"

CEILING_PIDS=""   # the bare Grizzly servers, stopped on exit
WRK_PID=""
on_exit() {
  local rc=$?
  set +e
  for p in $WRK_PID $CEILING_PIDS; do kill "$p" 2>/dev/null; done
  [ -z "$BASE_SERVER" ] || FRACTAL_HOME="$BASE_SERVER" "$BASE_SERVER/bin/fractal" stop >/dev/null 2>&1
  for p in $CEILING_PIDS; do wait "$p" 2>/dev/null; done
  (exit "$rc")
  cleanup   # lib.sh's: stops the server, removes the run's folder (kept after a failure)
}

BASE_SERVER=""   # the baseline server (BASELINE_DIST), stopped on exit
BASE_URL=""
BASE_PID=""
if [ -n "${BASELINE_DIST:-}" ]; then
  # the baseline first: make_server's globals then describe the server under test
  FRACTAL_DIST_UNDER_TEST="${FRACTAL_DIST:-}"
  FRACTAL_DIST="$BASELINE_DIST" SERVER_NAME=baseline REST_CFG_EXTRA="${BASELINE_REST_CFG:-}" make_server
  trap on_exit EXIT
  start_server
  for m in $MODELS; do wait_hosts_ready "$m"; done
  wait_for "the baseline's readiness (its start-up warm-up done)" 60 curl -sf -o /dev/null "$BASE/v2/health/ready"
  BASE_SERVER="$SERVER" BASE_URL="$BASE" BASE_PID="$(server_pid)"
  FRACTAL_DIST="$FRACTAL_DIST_UNDER_TEST"
  [ -n "$FRACTAL_DIST" ] || unset FRACTAL_DIST
fi
make_server                     # the sample models iris and digits, modelhosts mh1 and mh2 (2 workers each)
trap on_exit EXIT
start_server
for m in $MODELS; do wait_hosts_ready "$m"; done
# ready once its start-up warm-up is done: until then its JIT work would slow the model measured alone below
wait_for "the server's readiness (its start-up warm-up done)" 60 curl -sf -o /dev/null "$BASE/v2/health/ready"
FRACTAL_PID="$(server_pid)"

GRIZZLY_CP=""
for a in grizzly-framework grizzly-http grizzly-http-server; do
  jar="$M2/org/glassfish/grizzly/$a/$GRIZZLY_VERSION/$a-$GRIZZLY_VERSION.jar"
  [ -f "$jar" ] || die "no $jar (mvn -o install fetches it)"
  GRIZZLY_CP="${GRIZZLY_CP:+$GRIZZLY_CP:}$jar"
done

# ---------------------------------------------------------------------------------------------------------------
# The requests: the first row of the integration tests' reference data (it-tests/.../expected/<model>.json) as one
# observation, in the three forms; a wrk Lua script per endpoint.
"$PY" - "$REPO_DIR/it-tests/src/test/resources/expected" "$WORK" $MODELS <<'EOF'
import json, struct, sys
expected, work, models = sys.argv[1], sys.argv[2], sys.argv[3:]

def flat(x):
    return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]

def lua(path, url_path, headers, body_file):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write('wrk.path = "%s"\n' % url_path)
        for k, v in headers.items():
            f.write('wrk.headers["%s"] = "%s"\n' % (k, v))
        f.write('local f = assert(io.open("%s", "rb"))\nwrk.body = f:read("*a")\nf:close()\n' % body_file)
        f.write('''function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
''')

for m in models:
    ref = json.load(open(f"{expected}/{m}.json"))
    (name, tensor), = ref["inputs"].items()
    row = tensor["data"][0]
    shape = [1] + tensor["shape"][1:]
    values = flat(row)
    sep = (",", ":")
    v1 = json.dumps({"values": row}, separators=sep).encode()
    v2 = json.dumps({"inputs": [{"name": name, "shape": shape, "datatype": "FP32", "data": values}]},
                    separators=sep).encode()
    raw = struct.pack("<%df" % len(values), *values)
    header = json.dumps({"inputs": [{"name": name, "shape": shape, "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "outputs": [{"name": ref.get("outputs") and next(iter(ref["outputs"])) or "output0",
                                      "parameters": {"binary_data": True}}]}, separators=sep).encode()
    for kind, body in (("v1", v1), ("v2json", v2), ("v2bin", header + raw)):
        open(f"{work}/{m}-{kind}.body", "wb").write(body)
    open(f"{work}/{m}-v2bin.hlen", "w").write(str(len(header)))
    for kind in ("ceiling", "ceilinglf", "v1"):  # the ceilings get the v1 request
        lua(f"{work}/{m}-{kind}.lua", f"/api/v1/models/{m}/prediction", {"Content-Type": "application/json"},
            f"{work}/{m}-v1.body")
    lua(f"{work}/{m}-v2json.lua", f"/v2/models/{m}/infer", {"Content-Type": "application/json"},
        f"{work}/{m}-v2json.body")
    lua(f"{work}/{m}-v2bin.lua", f"/v2/models/{m}/infer",
        {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))},
        f"{work}/{m}-v2bin.body")
EOF

if [ -n "$BASE_URL" ]; then   # the baseline server gets the very same requests
  for m in $MODELS; do
    for kind in v1 v2json; do cp "$WORK/$m-$kind.lua" "$WORK/$m-base-$kind.lua"; done
  done
fi

# check MODEL KIND: one request with curl; writes the answer to $WORK/MODEL-KIND.answer, prints the status
check() {
  local m="$1" kind="$2" path="/v2/models/$1/infer" hdr=(-H 'Content-Type: application/json')
  [ "$kind" != v1 ] || path="/api/v1/models/$m/prediction"
  [ "$kind" != v2bin ] || hdr=(-H 'Content-Type: application/octet-stream'
    -H "Inference-Header-Content-Length: $(cat "$WORK/$m-v2bin.hlen")")
  curl -s -o "$WORK/$m-$kind.answer" -w '%{http_code}' "${hdr[@]}" --data-binary "@$WORK/$m-$kind.body" "$BASE$path"
}

declare -A SKIP NOTE PORT PORT_LF
for m in $MODELS; do
  for kind in v1 v2json; do
    status="$(check "$m" "$kind")"
    [ "$status" = 200 ] || die "$m $kind answers $status: $(head -c 300 "$WORK/$m-$kind.answer")"
  done
  status="$(check "$m" v2bin)"
  if [ "$status" != 200 ]; then
    SKIP[$m-v2bin]=1
    NOTE[$m]="v2 binary not measured: the check answered $status ($(head -c 200 "$WORK/$m-v2bin.answer" | tr -d '\0'))"
    log "${NOTE[$m]}"
  fi
  # the ceiling answers with a fixed body of the size of Fractal's v1 answer (the very bytes of one)
  cp "$WORK/$m-v1.answer" "$WORK/$m-ceiling.answer"
done

# ---------------------------------------------------------------------------------------------------------------
# The ceilings: two bare Grizzly servers per model, each on a free port: with Grizzly's default (worker) I/O
# strategy, and with leader-follower (Fractal's listener's default until 393e967; its default now, same-thread, has
# the same median and throughput with no work per request: benchmark/README.md section 11).
# start_ceiling MODEL KIND [leader-follower]: KIND ceiling or ceilinglf (its port in PORT or PORT_LF)
start_ceiling() {
  local m="$1" kind="$2" port
  read -r port <<<"$(free_ports 1)"
  if [ "$kind" = ceiling ]; then PORT[$m]="$port"; else PORT_LF[$m]="$port"; fi
  # shellcheck disable=SC2086
  java $SERVER_JAVA_OPTS -cp "$GRIZZLY_CP" "$BENCH_DIR/src/Ceiling.java" "$port" "$WORK/$m-ceiling.answer" \
    ${3:-} >"$WORK/$kind-$m.out" 2>&1 &
  CEILING_PIDS="$CEILING_PIDS $!"
  declare -g "${kind^^}_PID_$m=$!"
}
for m in $MODELS; do
  start_ceiling "$m" ceiling
  start_ceiling "$m" ceilinglf leader-follower
done
for m in $MODELS; do
  for kind in ceiling ceilinglf; do
    wait_for "the bare Grizzly server ($kind, $m)" 60 grep -q READY "$WORK/$kind-$m.out"
    port="${PORT[$m]}"; [ "$kind" = ceiling ] || port="${PORT_LF[$m]}"
    got="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H 'Content-Type: application/json' \
      --data-binary "@$WORK/$m-v1.body" "http://127.0.0.1:$port/api/v1/models/$m/prediction")"
    [ "$got" = "200 $(stat -c %s "$WORK/$m-v1.answer")" ] || die "the bare Grizzly server ($kind, $m) answers $got"
  done
done

# ---------------------------------------------------------------------------------------------------------------
# (e) The model alone, in process, before any load (the machine is otherwise ours).
declare -A ALONE
if [ "$MODEL_ALONE" != 0 ]; then
  for m in $MODELS; do
    shape="$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["inputs"][0]["shape"]; print(",".join(["1"] + [str(d) for d in s[1:]]))' \
      "$REPO_DIR/deploy/$m/model.json")"
    max=8; [ "$m" != digits ] || max=16
    log "model alone: $m, shape [$shape], ${MODEL_ALONE} s after 3 s of warm-up"
    out="$(DJL_OFFLINE=true OPT_OUT_TRACKING=true ENGINE_CACHE_DIR="$FRACTAL_BENCH_CACHE/djl" \
      DJL_CACHE_DIR="$FRACTAL_BENCH_CACHE/djl" java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
      -Dai.djl.pytorch.num_interop_threads=1 -cp "$FRACTAL_DIST/lib/*" "$BENCH_DIR/src/ModelAlone.java" \
      "$REPO_DIR/deploy/$m/model.pt" "$shape" "$max" 3 "$MODEL_ALONE" 2>"$WORK/alone-$m.err" | grep '^RESULT' || true)"
    if [ -n "$out" ]; then
      ALONE[$m]="$(echo "$out" | awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
        printf "%.0f calls/s on one thread, %s us per call, %s us CPU per call", v["calls"] / v["seconds"], v["us_per_call"], v["cpu_us_per_call"]}')"
    else
      ALONE[$m]="not measured ($(tail -n 1 "$WORK/alone-$m.err"))"
    fi
    log "model alone: $m: ${ALONE[$m]}"
  done
fi

# ---------------------------------------------------------------------------------------------------------------
# The runs

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }   # the whole machine
# CHILDREN_TICKS: the CPU of this shell's reaped children (wrk) so far, in ticks. "times" must run in this shell,
# not in a command substitution (a subshell has no children of its own yet)
CHILDREN_TICKS=0
children_ticks() {
  times >"$WORK/times"
  CHILDREN_TICKS="$(awk -v hz="$CLK_TCK" 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
    printf "%.0f", t * hz }' "$WORK/times")"
}
field() {
  local v
  v="$(sed -n "s/.*RESULT.* $1=\([0-9]*\).*/\1/p" "$2" | head -n1)"
  echo "${v:-0}"
}
url() {  # url MODEL KIND
  case "$2" in
    ceiling) echo "http://127.0.0.1:${PORT[$1]}" ;;
    ceilinglf) echo "http://127.0.0.1:${PORT_LF[$1]}" ;;
    base-*) echo "$BASE_URL" ;;
    *) echo "$BASE" ;;
  esac
}
pid_of() {  # pid_of MODEL KIND
  case "$2" in
    ceiling) local v="CEILING_PID_$1"; echo "${!v}" ;;
    ceilinglf) local v="CEILINGLF_PID_$1"; echo "${!v}" ;;
    base-*) echo "$BASE_PID" ;;
    *) echo "$FRACTAL_PID" ;;
  esac
}
kinds() {
  local m="$1" k
  for k in ceiling ceilinglf v1 v2json v2bin; do [ -n "${SKIP[$m-$k]:-}" ] || echo "$k"; done
  [ -z "$BASE_URL" ] || echo "base-v1 base-v2json"
}

# thread_ticks PID: "tid ticks name" per thread of the process (utime + stime)
thread_ticks() {
  "$PY" - "$1" <<'EOF2'
import os, sys
pid = sys.argv[1]
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        f = stat[stat.rindex(")") + 2:].split()
        print(tid, int(f[11]) + int(f[12]), name.replace(" ", "_"))
    except (FileNotFoundError, ProcessLookupError):
        pass
EOF2
}

# run MODEL KIND CONNECTIONS SECONDS OUT: one wrk run; appends its row to $WORK/rows.tsv unless OUT is "warmup"
ROWS="$WORK/rows.tsv"
: >"$ROWS"
run() {
  local m="$1" kind="$2" c="$3" secs="$4" out="$WORK/wrk-$1-$2-$3-$5.txt" pid t0 t1
  pid="$(pid_of "$m" "$kind")"
  local b0 b1 w0 w1
  children_ticks
  w0="$CHILDREN_TICKS"
  b0="$(busy_ticks)"
  [ "${kind#ceiling}" != "$kind" ] || [ "$c" != "$THREAD_LEVEL" ] || [ "$5" = warmup ] || thread_ticks "$pid" >"$WORK/threads-$m-$kind-0.txt"
  t0="$(cpu_ticks "$pid")"
  wrk -t1 -c"$c" -d"${secs}s" --timeout 5s --latency -s "$WORK/$m-$kind.lua" "$(url "$m" "$kind")" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || true
  WRK_PID=""
  t1="$(cpu_ticks "$pid")"
  [ "${kind#ceiling}" != "$kind" ] || [ "$c" != "$THREAD_LEVEL" ] || [ "$5" = warmup ] || thread_ticks "$pid" >"$WORK/threads-$m-$kind-1.txt"
  b1="$(busy_ticks)"
  children_ticks
  w1="$CHILDREN_TICKS"
  grep -q RESULT "$out" || die "wrk gave no result for $m $kind c=$c: $(tail -n 3 "$out" | tr '\n' ' ')"
  local requests errors
  requests="$(field requests "$out")"
  errors=$(($(field non2xx "$out") + $(field connect "$out") + $(field read "$out") + $(field write "$out") + $(field timeout "$out")))
  [ "$5" = warmup ] && return 0
  # others: the whole machine's busy CPU minus the measured server's and wrk's, as a share of all cores
  local others
  others="$(awk -v b=$((b1 - b0 - (t1 - t0) - (w1 - w0))) -v hz="$CLK_TCK" -v n="$(nproc)" -v us="$(field duration_us "$out")" \
    'BEGIN { v = us > 0 ? 100 * b / hz / (us / 1e6) / n : 0; printf "%.0f", v < 0 ? 0 : v }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$c" "$kind" "$requests" "$(field duration_us "$out")" \
    "$(field p50_us "$out")" "$(field p99_us "$out")" "$(((t1 - t0) * 1000000 / CLK_TCK))" "$errors" \
    "$(((w1 - w0) * 1000000 / CLK_TCK))" "$others" >>"$ROWS"
  log "$m c=$c $kind: $requests requests, $errors errors, p50 $(field p50_us "$out") us"
}

HEADER_LINE="$(machine_line)"
log "start: $HEADER_LINE"
for m in $MODELS; do
  for kind in $(kinds "$m"); do
    log "warm-up: $m $kind, ${WARMUP} s at $WARMUP_CONNECTIONS connections"
    run "$m" "$kind" "$WARMUP_CONNECTIONS" "$WARMUP" warmup
  done
  for c in $LEVELS; do
    echo "$m $c $(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/loads"
    for kind in $(kinds "$m"); do
      run "$m" "$kind" "$c" "$DURATION" measured
    done
  done
done
END_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$JFR" = 1 ]; then
  m="${MODELS%% *}"
  log "JFR: 10 s of the server under v1 load ($m, 32 connections)"
  # The first recording of a JVM instruments the JDK's event classes: that class redefinition throws away the
  # compiled code (the JIT then recompiles for half a minute). So a first recording under 25 s of load is
  # discarded; the second, which redefines nothing, is the one kept.
  jcmd "$FRACTAL_PID" JFR.start name=discarded settings=profile >/dev/null
  wrk -t1 -c32 -d25s -s "$WORK/$m-v1.lua" "$BASE" >/dev/null 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || true
  jcmd "$FRACTAL_PID" JFR.stop name=discarded >/dev/null
  thread_ticks "$FRACTAL_PID" >"$WORK/threads-jfr-0.txt"
  wrk -t1 -c32 -d12s -s "$WORK/$m-v1.lua" "$BASE" >"$WORK/wrk-jfr.txt" 2>&1 &
  WRK_PID=$!
  sleep 1
  jcmd "$FRACTAL_PID" JFR.start duration=10s filename="$WORK/server.jfr" settings=profile >/dev/null
  wait "$WRK_PID" || true
  WRK_PID=""
  thread_ticks "$FRACTAL_PID" >"$WORK/threads-jfr-1.txt"
  sleep 1
fi

# ---------------------------------------------------------------------------------------------------------------
# The tables

echo
echo "Fractal against the HTTP ceiling — $HEADER_LINE (at the end: $END_LOAD)"
echo "wrk -t1 -cN -d${DURATION}s --latency (keep-alive, closed loop), one observation per request; levels $LEVELS, interleaved"
echo "per level (ceiling, v1, v2 JSON, v2 binary); every endpoint warmed up first with ${WARMUP} s at $WARMUP_CONNECTIONS connections."
echo "ceiling: bare Grizzly $GRIZZLY_VERSION (benchmark/src/Ceiling.java), the v1 request, a fixed answer of the v1 answer's size."
echo "Server: modelhosts mh1 and mh2 (2 workers each), JAVA_OPTS $SERVER_JAVA_OPTS for both servers. CPU/req: the server"
echo "process's utime + stime (/proc/<pid>/stat, ${CLK_TCK} ticks/s) over the run, divided by its requests. vs ceiling:"
echo "req/s as a share of the ceiling's at the same level, p50 minus the ceiling's p50. wrk CPU/req: the load generator's"
echo "own CPU. others' CPU: the machine's busy time during the run minus the server's and wrk's, as a share of all $(nproc)"
echo "cores (other engineers' builds and tests on this shared machine; high values make that run's figures pessimistic)."
for m in $MODELS; do
  echo
  sizes="request / answer bytes: ceiling and v1 $(stat -c %s "$WORK/$m-v1.body") / $(stat -c %s "$WORK/$m-v1.answer"), v2 JSON $(stat -c %s "$WORK/$m-v2json.body") / $(stat -c %s "$WORK/$m-v2json.answer")"
  [ -n "${SKIP[$m-v2bin]:-}" ] || sizes="$sizes, v2 binary $(stat -c %s "$WORK/$m-v2bin.body") / $(stat -c %s "$WORK/$m-v2bin.answer")"
  echo "**$m** ($sizes)"
  [ -z "${ALONE[$m]:-}" ] || echo "Model alone in process: ${ALONE[$m]}."
  [ -z "${NOTE[$m]:-}" ] || echo "${NOTE[$m]}."
  echo
  echo "Load average (1 min) at the start of each level: $(awk -v m="$m" '$1 == m { printf "%sc=%s %s", sep, $2, $3; sep = ", " }' "$WORK/loads")."
  echo
  echo "| c | endpoint | req/s | p50 ms | p99 ms | server CPU/req us | errors | req/s vs ceiling | p50 vs ceiling ms | req/s vs leader-follower ceiling | wrk CPU/req us | others' CPU |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' -v m="$m" '
    function label(k) { return k == "ceiling" ? "ceiling (bare Grizzly)" : k == "ceilinglf" ? "ceiling, leader-follower I/O" : k == "v1" ? "v1 prediction" : k == "v2json" ? "v2 JSON" : k == "base-v1" ? "v1 (baseline)" : k == "base-v2json" ? "v2 JSON (baseline)" : "v2 binary" }
    $1 == m {
      rate = $5 > 0 ? $4 / ($5 / 1e6) : 0
      cpu = $4 > 0 ? $8 / $4 : 0
      if ($3 == "ceiling") { crate[$2] = rate; cp50[$2] = $6 }
      if ($3 == "ceilinglf") { lrate[$2] = rate }
      share = ($3 == "ceiling" || crate[$2] == 0) ? "-" : sprintf("%.0f%%", 100 * rate / crate[$2])
      diff = ($3 == "ceiling" || crate[$2] == 0) ? "-" : sprintf("%+.3f", ($6 - cp50[$2]) / 1000)
      lshare = ($3 ~ /^ceiling/ || lrate[$2] == 0) ? "-" : sprintf("%.0f%%", 100 * rate / lrate[$2])
      wcpu = $4 > 0 ? $10 / $4 : 0
      printf "| %s | %s | %.0f | %.3f | %.2f | %.0f | %d | %s | %s | %s | %.0f | %d%% |\n", $2, label($3), rate, $6 / 1000, $7 / 1000, cpu, $9, share, diff, lshare, wcpu, $11
    }' "$ROWS"
  if ls "$WORK/threads-$m-"*-1.txt >/dev/null 2>&1; then
    echo
    echo "Server CPU per request by thread (us) at c=$THREAD_LEVEL, from /proc/<pid>/task/*/stat around each run (thread names"
    echo "as the kernel keeps them, 15 characters, digits as N; the ceiling's own: its total above):"
    echo
    ks=""; hdr="| thread |"; sep="|---|"
    for kind in v1 v2json v2bin; do
      [ -f "$WORK/threads-$m-$kind-1.txt" ] || continue
      ks="$ks $kind"; hdr="$hdr $kind |"; sep="$sep---:|"
    done
    echo "$hdr"; echo "$sep"
    for kind in $ks; do
      n="$(awk -F'\t' -v m="$m" -v c="$THREAD_LEVEL" -v k="$kind" '$1 == m && $2 == c && $3 == k {print $4}' "$ROWS")"
      awk -v hz="$CLK_TCK" -v n="$n" -v k="$kind" '
        FNR == NR { before[$1] = $2; next }
        { g = $3; gsub(/[0-9]+/, "N", g); d = $2 - before[$1]; if (d > 0) cpu[g] += d }
        END { for (g in cpu) printf "%s\t%s\t%.1f\n", g, k, cpu[g] * 1e6 / hz / n }' \
        "$WORK/threads-$m-$kind-0.txt" "$WORK/threads-$m-$kind-1.txt"
    done | awk -F'\t' -v ks="$ks" '
      { v[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; names[++n] = $1 } if ($2 == "v1") tot[$1] = $3 }
      END { nk = split(ks, k, " ")
        for (i = 1; i <= n; i++) { line = "| " names[i] " |"; any = 0
          for (j = 1; j <= nk; j++) { x = v[names[i], k[j]] + 0; if (x >= 0.5) any = 1; line = line sprintf(" %.1f |", x) }
          if (any) printf "%09.1f%s\n", tot[names[i]] + 0, line } }' | sort -r | cut -c10-
  fi
done

if [ "$JFR" = 1 ] && [ -f "$WORK/server.jfr" ]; then
  echo
  jfr print --stack-depth 200 --events jdk.ExecutionSample "$WORK/server.jfr" >"$WORK/samples.txt"
  echo "JFR (settings=profile, 10 s, v1 ${MODELS%% *} at 32 connections, after a first recording under 25 s of load was discarded), jdk.ExecutionSample: $(grep -c 'jdk.ExecutionSample' "$WORK/samples.txt") samples."
  echo "Share of samples whose stack holds a frame of (inclusive; a sample counts under every part it holds):"
  echo
  echo '```'
  awk '
    function flush() { if (!n_frames) return; total++; for (k in seen) part[k]++; delete seen; n_frames = 0 }
    /jdk.ExecutionSample/ { flush() }
    /line:/ {
      n_frames++
      if ($0 ~ /ai\.djl\./) seen["engine (ai.djl)"] = 1
      if ($0 ~ /io\.fractal\.engine\./) seen["io.fractal.engine (tensor conversion, predictor pool)"] = 1
      if ($0 ~ /io\.fractal\.modelhost\./) seen["io.fractal.modelhost (queues, workers)"] = 1
      if ($0 ~ /io\.fractal\.balancer\./) seen["io.fractal.balancer"] = 1
      if ($0 ~ /io\.fractal\.inferrer\./) seen["io.fractal.inferrer (resources, codecs)"] = 1
      if ($0 ~ /io\.fractal\.metrics\.|io\.prometheus\.|com\.codahale\./) seen["metrics"] = 1
      if ($0 ~ /com\.fasterxml\.jackson\./) seen["Jackson"] = 1
      if ($0 ~ /org\.glassfish\.jersey\./) seen["Jersey"] = 1
      if ($0 ~ /org\.jvnet\.hk2\.|org\.glassfish\.hk2\./) seen["HK2 (injection)"] = 1
      if ($0 ~ /org\.glassfish\.grizzly\./) seen["Grizzly"] = 1
      if ($0 ~ /java\.util\.logging\.|org\.slf4j\./) seen["logging"] = 1
    }
    END { flush(); for (k in part) printf "%6.1f%%  %s\n", 100 * part[k] / total, k }' "$WORK/samples.txt" | sort -rn
  echo
  echo "During the recording: $(field requests "$WORK/wrk-jfr.txt") requests in 12 s (compare the v1 row at c=32 above, without JFR);"
  echo "JIT compilations during it: $(jfr print --events jdk.CompilerStatistics "$WORK/server.jfr" | awk '/compileCount/ {v[++n] = $3} END {print v[n] - v[1]}')."
  echo
  echo "Top frames:"
  awk '/stackTrace = \[/ { getline; sub(/^[ \t]+/, ""); sub(/[ \t]+line:.*/, ""); top[$0]++; n++ }
    END { for (f in top) printf "%6.1f%%  %s\n", 100 * top[f] / n, f }' "$WORK/samples.txt" | sort -rn | head -n 15
  echo '```'
  cp "$WORK/server.jfr" "${JFR_OUT:-/tmp/fractal-ceiling.jfr}"
  log "JFR recording copied to ${JFR_OUT:-/tmp/fractal-ceiling.jfr}"
fi

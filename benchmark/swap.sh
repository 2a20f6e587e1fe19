#!/usr/bin/env bash
# Bundle swap under load (issue 8): every Fractal bundle updated in turn from bin/client ("update <id>", and
# "refresh <id>" for io.fractal.engine.djl, whose package the engines import) while wrk sends sustained load:
# v1 predictions and v2 inferences on iris and digits, each answer checked against the reference values. Per run:
# requests, failed (non-2xx, socket errors as wrk counts them, 200s with wrong values), p50/p99/max latency of the
# run (the swap window: the update comes UPDATE_AT seconds into a DURATION-second run), the time the update
# command took and the time until the new revision served its first request; the same load with no update before
# and after, as the reference. Then RSS_CYCLES swap cycles of every bundle under light load, with the server's
# RSS, threads, live bundle class loaders and loaded/unloaded classes before and after (after a GC), to show that
# old revisions are collected and nothing leaks. See README.md.
#
#   benchmark/swap.sh                                   # 2 runs of 5 s per bundle, 20 cycles for the leak check
#   CYCLES=5 DURATION=10 benchmark/swap.sh              # longer, more runs per bundle
#   BUNDLES="io.fractal.balancer io.fractal.rest" RSS_CYCLES=5 benchmark/swap.sh
#   THREADS=2 CONNECTIONS=16 benchmark/swap.sh          # wrk's threads and connections
#   BATCHING="iris.max_batch_size=32 digits.max_batch_size=32" CONNECTIONS=32 benchmark/swap.sh
#                                                       # with dynamic batching on (io.fractal.batching.cfg lines)
#
# io.fractal.http owns the listening socket: its old revision hands it over to the new one, and a probe opening a new
# connection every 2 ms while it is updated counts any refused. Each bundle's jar is its own file in bundle/: "update <id>" reads it again,
# which gives the bundle a new revision and a new class loader.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION="${DURATION:-5}"        # seconds of each wrk run
UPDATE_AT="${UPDATE_AT:-1.5}"    # seconds into the run when the update is sent
CYCLES="${CYCLES:-2}"            # runs (updates) per bundle
RSS_CYCLES="${RSS_CYCLES:-20}"   # swap cycles of every bundle for the memory / class loader / thread check
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-8}"
BACKGROUND_CONNECTIONS="${BACKGROUND_CONNECTIONS:-2}"   # wrk connections during the RSS cycles
SERVED_TIMEOUT="${SERVED_TIMEOUT:-30}"                  # seconds the new revision may take to serve
WARMUP="${WARMUP:-10}"                                  # seconds of load before the first measured run (JIT)
# the requests' Accept header: any other than plain JSON (e.g. "application/json;q=0.9") takes them through Jersey's
# resource dispatch rather than the direct calls
ACCEPT="${ACCEPT:-application/json}"
# io.fractal.shell and io.fractal.ssh last: if an update ends the SSH console, nothing else can be updated from
# bin/client
BUNDLES="${BUNDLES:-io.fractal.rest io.fractal.inferrer io.fractal.balancer io.fractal.modelhost io.fractal.repository
  io.fractal.extender io.fractal.metrics io.fractal.engine.pytorch io.fractal.engine.onnx io.fractal.engine.djl
  io.fractal.http io.fractal.shell io.fractal.ssh}"
EXPECTED="$REPO_DIR/it-tests/src/test/resources/expected"

command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"
command -v jcmd >/dev/null || die "needs jcmd (a JDK)"

BG_WRK=""       # the wrk of the RSS cycles, stopped on exit
WRK_PID=""      # the wrk of the current run
on_exit() {
  local rc=$?
  set +e   # (exit "$rc") below must not end this handler
  for p in $BG_WRK $WRK_PID; do kill "$p" 2>/dev/null; done
  (exit "$rc")
  cleanup   # lib.sh's: stops the server, removes the run's folder (kept after a failure); reads $? as the status
}

make_server                     # the sample models iris and digits, modelhosts mh1 and mh2 (2 workers each)
[ -z "${BATCHING:-}" ] || printf '%s\n' $BATCHING >"$SERVER/deploy/io.fractal.batching.cfg"
trap on_exit EXIT
start_server
wait_hosts_ready iris
wait_hosts_ready digits

# bin/client (ssh with the key the server generated) reads data/ssh/ssh_config, which the SSH console rewrites when
# deploy/io.fractal.ssh.cfg moves it to its port
client() { "$SERVER/bin/client" "$@"; }
wait_for "SSH console on port $SSH_PORT" 60 grep -qx "  Port $SSH_PORT" "$SERVER/data/ssh/ssh_config"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------------------------------------------------------
# The load: one wrk Lua script cycling through the four requests and checking every 200 against the reference
# values (expected/*.json of the integration tests) with a tolerance of 1e-4, and the labels of v1 answers.
"$PY" - "$EXPECTED" "$WORK/swap.lua" "$ACCEPT" <<'EOF'
import json, sys
expected_dir, out, accept = sys.argv[1], sys.argv[2], sys.argv[3]

def flat(x):
    return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]

def lua_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

requests, checks = [], []
for model in ("iris", "digits"):
    ref = json.load(open(f"{expected_dir}/{model}.json"))
    (input_name, tensor), = ref["inputs"].items()
    outputs = flat(next(iter(ref["outputs"].values()))["data"])
    labels = '"labels":' + json.dumps(ref["predicted"], separators=(",", ":"))
    requests.append((f"/api/v1/models/{model}/prediction", json.dumps({"values": tensor["data"]}, separators=(",", ":"))))
    requests.append((f"/v2/models/{model}/infer", json.dumps({"id": "swap", "inputs": [{"name": input_name,
        "shape": tensor["shape"], "datatype": "FP32", "data": flat(tensor["data"])}]}, separators=(",", ":"))))
    checks.append((f"v1 {model}", '"values":', outputs, labels))
    checks.append((f"v2 {model}", '"data":', outputs, None))

with open(out, "w") as f:
    f.write("-- generated by benchmark/swap.sh\nlocal REQUESTS = {\n")
    for path, body in requests:
        f.write(f"  {{path = {lua_str(path)}, body = {lua_str(body)}}},\n")
    f.write("}\nlocal CHECKS = {\n")
    for kind, marker, values, labels in checks:
        f.write(f"  [{lua_str(kind)}] = {{marker = {lua_str(marker)}, labels = {lua_str(labels) if labels else 'nil'}, "
                f"values = {{{', '.join(repr(v) for v in values)}}}}},\n")
    f.write("}\n")
    f.write(f"local ACCEPT = {lua_str(accept)}\n")
    f.write(r'''
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local reqs = {}
local next_req = 0
wrong = 0
sample = ""
wrong_sample = ""
function init(args)
  for i, r in ipairs(REQUESTS) do
    reqs[i] = wrk.format("POST", r.path, {["Content-Type"] = "application/json", ["Accept"] = ACCEPT}, r.body)
  end
  next_req = math.random(#reqs)
end

function request()
  next_req = next_req % #reqs + 1
  return reqs[next_req]
end

local function bad(status, body)
  local text = string.sub(string.gsub(body, "%s+", " "), 1, 240)
  if status == 200 then
    wrong = wrong + 1
    if wrong_sample == "" then wrong_sample = text end
  elseif sample == "" then
    sample = status .. " " .. text
  end
end

-- the kind of answer from its body (the model it names, v1 or v2), then its values against the reference
function response(status, headers, body)
  if status ~= 200 then return bad(status, body) end
  local model = string.match(body, '"model":"([^"]+)"')
  local kind = model and ("v1 " .. model)
  if not kind then
    model = string.match(body, '"model_name":"([^"]+)"')
    kind = model and ("v2 " .. model)
  end
  local check = kind and CHECKS[kind]
  if not check then return bad(status, body) end
  local at = string.find(body, check.marker, 1, true)
  if not at then return bad(status, body) end
  local i = 0
  for number in string.gmatch(string.sub(body, at + #check.marker), "[-+]?%d+%.?%d*[eE]?[-+]?%d*") do
    i = i + 1
    if i > #check.values then break end
    local value = tonumber(number)
    if not value or math.abs(value - check.values[i]) > 1e-4 then return bad(status, body) end
  end
  if i < #check.values then return bad(status, body) end
  if check.labels and not string.find(body, check.labels, 1, true) then return bad(status, body) end
end

function done(summary, latency, requests)
  local w, s, ws = 0, "", ""
  for _, t in ipairs(threads) do
    w = w + (t:get("wrong") or 0)
    local ts = t:get("sample")
    if s == "" and ts and ts ~= "" then s = ts end
    local tw = t:get("wrong_sample")
    if ws == "" and tw and tw ~= "" then ws = tw end
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d wrong=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout, w,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), math.floor(latency.max)))
  if s ~= "" then io.write("SAMPLE " .. s .. "\n") end
  if ws ~= "" then io.write("WRONG 200 " .. ws .. "\n") end
end
''')
EOF

# wrk_run SECONDS CONNECTIONS OUTPUT: the load, in the background; its pid in WRK_PID
wrk_run() {
  wrk -t"$THREADS" -c"$2" -d"$1"s --timeout 10s -s "$WORK/swap.lua" "$BASE" >"$3" 2>&1 &
  WRK_PID=$!
}

# field NAME FILE: a number of the RESULT line (0 when wrk gave none)
field() {
  local v
  v="$(sed -n "s/.*RESULT.* $1=\([0-9]*\).*/\1/p" "$2" | head -n1)"
  echo "${v:-0}"
}

# refusal_probe SECONDS OUT: tries a new connection to the REST port every 2 ms; writes how many were refused and the
# window from the first refusal to the last (ms from the probe's start), to measure io.fractal.http's update
refusal_probe() {
  "$PY" - "$REST_PORT" "$1" >"$2" <<'EOF2'
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
start = time.monotonic()
refused, first, last, tries = 0, None, None, 0
while time.monotonic() - start < seconds:
    tries += 1
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        t = (time.monotonic() - start) * 1000
        refused += 1
        first = t if first is None else first
        last = t
    finally:
        s.close()
    time.sleep(0.002)
print(f"tries={tries} refused={refused} window_ms={0 if first is None else round(last - first)}")
EOF2
}

# ---------------------------------------------------------------------------------------------------------------
# Bundles, and what "served" means for each

declare -A ID
while IFS='|' read -r id _ _ name _; do
  id="${id// /}"
  name="${name%% (*}"
  [[ "$id" =~ ^[0-9]+$ ]] && ID["$name"]="$id"
done < <(client "lb -s")
for b in $BUNDLES; do [ -n "${ID[$b]:-}" ] || die "no bundle $b in 'lb -s'"; done

SHELL_LOST=0
shell_answers() { client "fractal:modelhosts" 2>/dev/null | grep -q mh1; }

# A correct v1 prediction of iris (one observation: setosa).
predicts() {
  curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '{"values":[5.1,3.5,1.4,0.2]}' \
    "$BASE/api/v1/models/iris/prediction" 2>/dev/null | grep -q '"labels":"setosa"'
}
scrapes() { curl -sf -m 5 -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"; }
engines_ready() {
  local n
  n="$(grep -c "DJL engine .* ready" "$SERVER/log/fractal.log" 2>/dev/null)" || true
  echo "${n:-0}"
}

# Whether iris and digits are READY on every modelhost (one look; wait_hosts_ready of lib.sh dies on a timeout).
models_ready() {
  "$PY" - "$BASE" <<'EOF2' 2>/dev/null
import json, sys, urllib.request
hosts = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/modelhosts", timeout=5))
hosts = hosts["modelhosts"] if isinstance(hosts, dict) else hosts
ready = lambda h, m: any(l.get("model") == m and l.get("state") == "READY" for l in h.get("loaded", []))
sys.exit(0 if len(hosts) >= 2 and all(ready(h, m) for h in hosts for m in ("iris", "digits")) else 1)
EOF2
}

# served BUNDLE: whether what the new revision serves answers (polled after its update returned)
served() {
  case "$1" in
    io.fractal.shell | io.fractal.ssh) shell_answers ;;
    io.fractal.metrics) scrapes && predicts ;;
    *) predicts ;;
  esac
}

# swap BUNDLE: updates it from bin/client (and refreshes the DJL layer); sets UPDATE_MS (the commands), SERVED_MS
# (until what it serves answered; -1 if it did not within SERVED_TIMEOUT) and NOTE
swap() {
  local b="$1" id="${ID[$1]}" t0 t1 answer engines deadline
  NOTE=""
  engines="$(engines_ready)"
  local probe=""
  if [ "$b" = io.fractal.http ]; then
    refusal_probe 3 "$WORK/refusals.txt" &
    probe=$!
  fi
  t0="$(now_ms)"
  answer="$(client "update $id" 2>&1 || true)"
  if [ "$b" = io.fractal.engine.djl ]; then
    answer+="$(client "refresh $id" 2>&1 || true)"
  fi
  t1="$(now_ms)"
  UPDATE_MS=$((t1 - t0))
  # what the command printed, without the server's log lines that the session echoes
  answer="$(echo "$answer" | grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ +(SEVERE|WARNING|INFO|CONFIG|FINE)' || true)"
  [ -z "${answer//[[:space:]]/}" ] || NOTE="bin/client answered: $(echo "$answer" | tr '\n' ' ' | cut -c1-120)"
  deadline=$((t0 + SERVED_TIMEOUT * 1000))
  SERVED_MS=-1
  while [ "$(now_ms)" -lt "$deadline" ]; do
    # the refresh returns at once: it has ended when both engines have started again
    if [ "$b" = io.fractal.engine.djl ] && [ "$(engines_ready)" -lt $((engines + 2)) ]; then
      sleep 0.01
      continue
    fi
    if served "$b"; then
      SERVED_MS=$(($(now_ms) - t0))
      break
    fi
    sleep 0.01
  done
  if [ -n "$probe" ]; then
    wait "$probe" || true
    NOTE="${NOTE:+$NOTE; }new connections (one every 2 ms) refused: $(sed -n 's/.*refused=\([0-9]*\) window_ms=\([0-9]*\).*/\1, in a window of \2 ms/p' "$WORK/refusals.txt")"
  fi
  if [ "$SERVED_MS" -lt 0 ]; then
    NOTE="${NOTE:+$NOTE; }not serving ${SERVED_TIMEOUT} s after the update"
    if ! shell_answers; then
      SHELL_LOST=1
      NOTE="$NOTE; the SSH console does not answer any more"
    fi
  fi
}

# Waits (bounded) until the server serves everything again: both models on both modelhosts, the SSH console.
settle() {
  local i
  for ((i = 0; i < SERVED_TIMEOUT * 10; i++)); do models_ready && break; sleep 0.1; done
  for ((i = 0; i < SERVED_TIMEOUT * 10; i++)); do shell_answers && return 0; sleep 0.1; done
  SHELL_LOST=1
}

# ---------------------------------------------------------------------------------------------------------------
# 1. Each bundle updated in the middle of a run, CYCLES times; the same load with no update before and after

ROWS="$WORK/rows.tsv"   # bundle run requests seconds failed non2xx connect readwrite timeout wrong p50 p99 max update served notes
: >"$ROWS"

# one_run LABEL RUN [BUNDLE]: a DURATION-second wrk run, the bundle updated UPDATE_AT seconds into it
one_run() {
  local label="$1" run="$2" b="${3:-}" out="$WORK/wrk-$1-$2.txt"
  UPDATE_MS=-1 SERVED_MS=-1 NOTE=""
  wrk_run "$DURATION" "$CONNECTIONS" "$out"
  sleep "$UPDATE_AT"
  [ -z "$b" ] || swap "$b"
  wait "$WRK_PID" || true
  local requests secs non2xx connect sockets wrong
  WRK_PID=""
  requests="$(field requests "$out")"
  grep -q RESULT "$out" || log "wrk gave no result for $label: $(tail -n 3 "$out" | tr '\n' ' ')"
  secs="$(awk -v us="$(field duration_us "$out")" 'BEGIN {printf "%.1f", us / 1e6}')"
  non2xx="$(field non2xx "$out")"
  connect="$(field connect "$out")"
  readwrite=$(($(field read "$out") + $(field write "$out")))
  timeouts="$(field timeout "$out")"
  wrong="$(field wrong "$out")"
  local failed=$((non2xx + timeouts + wrong + connect + readwrite))
  local sample
  sample="$(sed -n 's/^SAMPLE //p' "$out" | head -n1 | cut -c1-160)"
  [ -z "$sample" ] || NOTE="${NOTE:+$NOTE; }first error answer: $sample"
  sample="$(sed -n 's/^WRONG //p' "$out" | head -n1 | cut -c1-200)"
  [ -z "$sample" ] || NOTE="${NOTE:+$NOTE; }first wrong answer: $sample"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$requests" "$secs" \
    "$failed" "$non2xx" "$connect" "$readwrite" "$timeouts" "$wrong" "$(field p50_us "$out")" "$(field p99_us "$out")" \
    "$(field max_us "$out")" "$UPDATE_MS" "$SERVED_MS" "$NOTE" >>"$ROWS"
  log "$label run $run: $requests requests, $failed failed, update ${UPDATE_MS} ms, served after ${SERVED_MS} ms"
}

echo
echo "Bundle swap under load — $(machine_line)"
echo "wrk -t$THREADS -c$CONNECTIONS, ${DURATION} s runs: v1 predictions and v2 inferences of iris and digits (5 rows"
echo "each) in turn, every 200 checked against the reference values; modelhosts mh1 and mh2 (2 workers each)."
echo "Each bundle updated ${UPDATE_AT} s into a run with bin/client \"update <id>\" (io.fractal.engine.djl: then"
echo "\"refresh <id>\"), $CYCLES times; 'no swap': the same run without an update."
echo

wrk_run "$WARMUP" "$CONNECTIONS" "$WORK/wrk-warmup.txt"
wait "$WRK_PID" || true
WRK_PID=""
for ((c = 1; c <= CYCLES; c++)); do
  one_run "no swap" "$c"
  for b in $BUNDLES; do
    if [ "$SHELL_LOST" = 1 ]; then
      printf '%s\t%s\t\t\t\t\t\t\t\t\t\t\t\t\t\t%s\n' "$b" "$c" "not run: the SSH console is gone" >>"$ROWS"
      continue
    fi
    one_run "$b" "$c" "$b"
    settle || true
  done
done
one_run "no swap" $((CYCLES + 1))

us_ms() { awk -v us="$1" 'BEGIN { if (us == "") print "-"; else printf "%.1f", us / 1000 }'; }
dash() { if [ -z "$1" ] || [ "$1" = -1 ]; then echo "-"; else echo "$1"; fi; }

echo "failed = non-2xx + socket errors (connect, read/write, timeouts, as wrk counts them) + 200s with wrong values;"
echo "for io.fractal.http, the notes give what a probe opening a new connection every 2 ms saw refused."
echo
echo "| bundle | run | requests | req/s | failed | non-2xx | connect | read/write | timeouts | wrong values | p50 ms | p99 ms | max ms | update cmd ms | first served ms | notes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
while IFS=$'\t' read -r label run requests secs failed non2xx connect readwrite timeouts wrong p50 p99 max update served note; do
  rate="$(awk -v n="$requests" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }')"
  echo "| $label | $run | $(dash "$requests") | $rate | $(dash "$failed") | $(dash "$non2xx") | $(dash "$connect") | $(dash "$readwrite") | $(dash "$timeouts") | $(dash "$wrong") | $(us_ms "$p50") | $(us_ms "$p99") | $(us_ms "$max") | $(dash "$update") | $(dash "$served") | $note |"
done <"$ROWS"

echo
echo "Per bundle, over its $CYCLES runs: requests and failures summed, the worst p99, max and time to first served."
echo
echo "| bundle | requests | failed | worst p99 ms | worst max ms | worst first served ms |"
echo "|---|---:|---:|---:|---:|---:|"
awk -F'\t' '
  $3 != "" {
    if (!($1 in n)) order[++k] = $1
    n[$1] += $3; f[$1] += $5
    if ($12 + 0 > p99[$1]) p99[$1] = $12 + 0
    if ($13 + 0 > mx[$1]) mx[$1] = $13 + 0
    if ($15 == -1 || $15 == "") never[$1] = 1; else if ($15 + 0 > fs[$1]) fs[$1] = $15 + 0
  }
  END {
    for (i = 1; i <= k; i++) { b = order[i]
      printf "| %s | %d | %d | %.1f | %.1f | %s |\n", b, n[b], f[b], p99[b] / 1000, mx[b] / 1000,
        (b ~ /^no swap/ ? "-" : (never[b] ? "never" : fs[b])) }
  }' "$ROWS"

# ---------------------------------------------------------------------------------------------------------------
# 2. RSS_CYCLES swap cycles of every bundle: memory, threads, class loaders before and after

# snapshot NAME: after a full GC, the server's RSS, threads, live bundle class loaders, loaded and unloaded classes,
# and the Fractal classes that still have live instances (a class of an old revision with live instances means its
# class loader is still reachable)
snapshot() {
  local pid name="$1"
  pid="$(server_pid)"
  jcmd "$pid" GC.run >/dev/null
  sleep 2
  jcmd "$pid" GC.run >/dev/null
  sleep 1
  echo "rss_kib=$(rss_kib)" >"$WORK/$name.snap"
  echo "threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")" >>"$WORK/$name.snap"
  echo "loaders=$(jcmd "$pid" VM.classloader_stats | grep -c 'BundleWiringImpl\$BundleClassLoader')" >>"$WORK/$name.snap"
  jcmd "$pid" PerfCounter.print | sed -n 's/^java\.cls\.\(loaded\|unloaded\)Classes=\([0-9]*\)$/\1=\2/p' >>"$WORK/$name.snap"
  jcmd "$pid" GC.class_histogram | awk '$4 ~ /^io\.fractal\./ && $4 !~ /\$\$Lambda/ {print $4}' | sort >"$WORK/$name.classes"
  echo "fractal_classes=$(wc -l <"$WORK/$name.classes")" >>"$WORK/$name.snap"
  echo "fractal_class_names=$(sort -u "$WORK/$name.classes" | wc -l)" >>"$WORK/$name.snap"
  jcmd "$pid" Thread.print | sed -n 's/^"\([^"]*\)".*/\1/p' | sed 's/[0-9]\+/N/g' | sort >"$WORK/$name.threads"
  # each live bundle class loader, named by the package of the first class it loaded (io.fractal.<bundle>)
  jcmd "$pid" VM.classloaders show-classes=true | awk '
    /\+-- org\.apache\.felix\.framework\.BundleWiringImpl\$BundleClassLoader[[:space:]]*$/ {
      if (pending) print "(no classes)"
      pending = 1; next }
    pending && /Classes: / {
      sub(/.*Classes: */, ""); n = split($1, p, ".")
      k = ($1 ~ /^io\.fractal\.engine\./) ? 4 : 3; name = p[1]
      for (i = 2; i <= k && i < n; i++) name = name "." p[i]
      print name; pending = 0 }
    END { if (pending) print "(no classes)" }' | sort | uniq -c | awk '{print $2, $1}' >"$WORK/$name.loaders"
}
snap() { sed -n "s/^$2=//p" "$WORK/$1.snap"; }

echo
CYCLE_NOTE=""
if [ "$SHELL_LOST" = 1 ]; then
  log "the SSH console is gone: restarting the server for the leak check, without io.fractal.shell and io.fractal.ssh in the cycles"
  stop_server
  start_server
  wait_hosts_ready iris
  wait_hosts_ready digits
  BUNDLES="$(echo $BUNDLES | tr ' ' '\n' | grep -vx 'io.fractal.shell\|io.fractal.ssh' | tr '\n' ' ')"
  SHELL_LOST=0
  CYCLE_NOTE=" (the server was restarted after the SSH console was lost; io.fractal.shell and io.fractal.ssh left out of the cycles)"
fi

snapshot before
wrk -t1 -c"$BACKGROUND_CONNECTIONS" -d3600s --timeout 10s -s "$WORK/swap.lua" "$BASE" >"$WORK/wrk-cycles.txt" 2>&1 &
BG_WRK=$!
cycles_done=0
cycle_start="$(now_ms)"
slowest=0
for ((c = 1; c <= RSS_CYCLES; c++)); do
  for b in $BUNDLES; do
    [ "$SHELL_LOST" = 0 ] || break 2
    swap "$b"
    [ "$SERVED_MS" -ge 0 ] || log "cycle $c: $b: $NOTE"
    [ "$SERVED_MS" -le "$slowest" ] || slowest="$SERVED_MS"
    settle || true
  done
  cycles_done=$c
  log "swap cycle $c of $RSS_CYCLES done"
done
cycle_secs=$((($(now_ms) - cycle_start) / 1000))
kill -INT "$BG_WRK" 2>/dev/null || true
wait "$BG_WRK" 2>/dev/null || true
BG_WRK=""
snapshot after

bg="$WORK/wrk-cycles.txt"
n_bundles=$(echo $BUNDLES | wc -w)
echo "$cycles_done swap cycles of $n_bundles bundles ($((cycles_done * n_bundles)) updates in ${cycle_secs} s)$CYCLE_NOTE, under"
echo "wrk -t1 -c$BACKGROUND_CONNECTIONS (the same checked requests): $(field requests "$bg") requests; non-2xx $(field non2xx "$bg"),"
echo "connect errors $(field connect "$bg"), read/write errors $(($(field read "$bg") + $(field write "$bg"))), timeouts $(field timeout "$bg"), wrong values $(field wrong "$bg")$(sed -n 's/^SAMPLE / (first error answer: /p' "$bg" | head -n1 | cut -c1-160 | sed 's/$/)/')$(sed -n 's/^WRONG / (first wrong answer: /p' "$bg" | head -n1 | cut -c1-200 | sed 's/$/)/');"
echo "slowest update to first served: $slowest ms. Measured after jcmd GC.run twice (3 s):"
echo
echo "| | before | after | change |"
echo "|---|---:|---:|---:|"
row() { local a b; a="$(snap before "$2")"; b="$(snap after "$2")"; echo "| $1 | $a | $b | $((b - a)) |"; }
row "RSS (KiB)" rss_kib
row "threads" threads
row "live bundle class loaders (VM.classloader_stats)" loaders
row "classes loaded (java.cls.loadedClasses)" loaded
row "classes unloaded (java.cls.unloadedClasses)" unloaded
row "io.fractal classes with live instances (GC.class_histogram)" fractal_classes
row "... distinct class names among them" fractal_class_names
echo
# the bundles with more live class loaders after the cycles than before: their old revisions are still reachable
more_loaders="$(join -a2 -e0 -o 0,1.2,2.2 "$WORK/before.loaders" "$WORK/after.loaders" |
  awk '$3 > $2 { printf "%s %d -> %d; ", $1, $2, $3 }')"
echo "Live bundle class loaders per bundle (VM.classloaders, by the package of each loader's first class), where there"
echo "are more after the cycles than before: ${more_loaders:-none}"
echo
# a class name with live instances from N class loaders: N revisions of its bundle still reachable
kept="$(uniq -c "$WORK/after.classes" | awk '$1 > 1 { pkg = $2; sub(/\.[^.]*$/, "", pkg); if ($1 > n[pkg]) { n[pkg] = $1; c[pkg] = $2 } }
  END { for (p in n) printf "%s: %d revisions (e.g. %s); ", p, n[p], c[p] }')"
if [ -n "$kept" ]; then
  echo "Packages whose classes have live instances from more than one class loader after the cycles (old revisions still"
  echo "reachable): $kept"
else
  echo "No io.fractal class has live instances from two class loaders after the cycles: no old revision is reachable."
fi
if [ -n "${HEAP_DUMP:-}" ] && [ -n "$kept$more_loaders" ]; then
  # HEAP_DUMP=<file>: a heap dump, to find what keeps them (paths from GC roots; a loader may also be kept by a
  # lambda of its bundle, which the class histogram above leaves out, or by a class object alone)
  jcmd "$(server_pid)" GC.heap_dump "$HEAP_DUMP" >/dev/null && echo "Heap dump: $HEAP_DUMP"
fi
leaked="$(comm -13 "$WORK/before.threads" "$WORK/after.threads" | uniq -c | awk '{$1 = $1; print}' | tr '\n' ';')"
gone="$(comm -23 "$WORK/before.threads" "$WORK/after.threads" | uniq -c | awk '{$1 = $1; print}' | tr '\n' ';')"
echo "Threads (names with digits as N) there after but not before: ${leaked:-none}"
echo "Threads there before but not after: ${gone:-none}"

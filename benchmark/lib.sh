# Shared by the benchmark scripts (sourced, not run). Each benchmark runs its own server: a copy of the
# distribution in a fresh folder under /tmp, on free ports, stopped and removed on exit.
#
# Environment:
#   FRACTAL_DIST        the distribution to copy (default: runtime/target/fractal-server, built if missing)
#   FRACTAL_BENCH_CACHE where the copies share the extracted engines (default: /tmp/fractal-bench-cache)
#   KEEP=1              keep the server copy (and its logs) after the run

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
FRACTAL_BENCH_CACHE="${FRACTAL_BENCH_CACHE:-/tmp/fractal-bench-cache}"
PY=/usr/bin/python3

SERVER=""        # the server copy's folder
REST_PORT="" METRICS_PORT="" SSH_PORT=""
BASE=""          # http://127.0.0.1:$REST_PORT
WORK=""          # scratch folder of this run (holds SERVER)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The distribution to copy; builds the repository when there is none.
ensure_dist() {
  FRACTAL_DIST="${FRACTAL_DIST:-$REPO_DIR/runtime/target/fractal-server}"
  if [ ! -f "$FRACTAL_DIST/bin/felix.jar" ]; then
    log "no distribution at $FRACTAL_DIST: building (mvn -q install -DskipTests)"
    (cd "$REPO_DIR" && mvn -q install -DskipTests)
  fi
  [ -f "$FRACTAL_DIST/bin/felix.jar" ] || die "$FRACTAL_DIST is not a Fractal distribution"
  ls "$FRACTAL_DIST"/bundle/io.fractal.api-*.jar >/dev/null 2>&1 || die "$FRACTAL_DIST has no bundles (build running?)"
}

# The benchmark sleep engine bundle (benchmark/sleep-engine), built when missing or older than its sources.
SLEEP_ENGINE_JAR=""
ensure_sleep_engine() {
  local module="$BENCH_DIR/sleep-engine"
  SLEEP_ENGINE_JAR="$(ls "$module"/target/io.fractal.benchmark.sleep-engine-*.jar 2>/dev/null | head -n1 || true)"
  if [ -z "$SLEEP_ENGINE_JAR" ] || [ -n "$(find "$module/src" "$module/pom.xml" -newer "$SLEEP_ENGINE_JAR" | head -n1)" ]; then
    log "building the sleep engine (benchmark/sleep-engine)"
    # -o first (everything is usually in the local repository), online if that fails
    mvn -q -o -f "$module/pom.xml" package 2>/dev/null || mvn -q -f "$module/pom.xml" package
    SLEEP_ENGINE_JAR="$(ls "$module"/target/io.fractal.benchmark.sleep-engine-*.jar | head -n1)"
  fi
}

# N free TCP ports on 127.0.0.1, space separated.
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Creates the server copy in a fresh folder under /tmp, on free ports. Pass --no-modelhosts to remove the
# default mh1/mh2 configurations, --no-models to remove the sample models, --own-cache for an empty engine
# cache of its own instead of the shared one.
make_server() {
  local keep_hosts=1 keep_models=1 own_cache=0
  for a in "$@"; do
    case "$a" in
      --own-cache) own_cache=1 ;;
      --no-modelhosts) keep_hosts=0 ;;
      --no-models) keep_models=0 ;;
      *) die "make_server: unknown option $a" ;;
    esac
  done
  ensure_dist
  init_work
  SERVER="$WORK/${SERVER_NAME:-server}"
  cp -a "$FRACTAL_DIST" "$SERVER"
  rm -rf "$SERVER"/{data,log,tmp,cache}
  # share the extracted engines (432 MB of libtorch) between the copies; the framework cache stays private
  if [ "$own_cache" = 1 ]; then
    mkdir -p "$SERVER/cache/djl"   # empty: the first start extracts the engines
  else
    mkdir -p "$SERVER/cache" "$FRACTAL_BENCH_CACHE/djl"
    ln -s "$FRACTAL_BENCH_CACHE/djl" "$SERVER/cache/djl"
  fi
  [ "$keep_hosts" = 1 ] || rm -f "$SERVER"/deploy/io.fractal.modelhost-*.cfg
  [ "$keep_models" = 1 ] || rm -rf "$SERVER"/deploy/iris "$SERVER"/deploy/digits
  read -r REST_PORT METRICS_PORT SSH_PORT <<<"$(free_ports 3)"
  echo "port=$REST_PORT" >"$SERVER/deploy/io.fractal.rest.cfg"
  # REST_CFG_EXTRA: more lines for it (e.g. direct.calls=false)
  [ -z "${REST_CFG_EXTRA:-}" ] || printf '%s\n' "$REST_CFG_EXTRA" >>"$SERVER/deploy/io.fractal.rest.cfg"
  echo "port=$METRICS_PORT" >"$SERVER/deploy/io.fractal.metrics.cfg"
  printf 'host=127.0.0.1\nport=%s\n' "$SSH_PORT" >"$SERVER/deploy/io.fractal.ssh.cfg"
  BASE="http://127.0.0.1:$REST_PORT"
  log "server copy $SERVER (REST $REST_PORT, metrics $METRICS_PORT, SSH $SSH_PORT)"
}

# The scratch folder of this run, removed on exit (kept with KEEP=1 or after a failure).
init_work() {
  [ -z "$WORK" ] || return 0
  WORK="$(mktemp -d /tmp/fractal-bench.XXXXXX)"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

server_pid() { tr -dc '0-9' <"$SERVER/data/fractal.pid" 2>/dev/null || true; }

# Starts the copy and waits until its REST port answers.
start_server() {
  FRACTAL_HOME="$SERVER" "$SERVER/bin/fractal" start >/dev/null
  wait_for "REST listener" 60 curl -sf -o /dev/null "$BASE/v2/health/live"
}

stop_server() {
  [ -n "$SERVER" ] && [ -x "$SERVER/bin/fractal" ] || return 0
  FRACTAL_HOME="$SERVER" "$SERVER/bin/fractal" stop >/dev/null 2>&1 || true
}

cleanup() {
  local rc=$?
  stop_server
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
      log "kept: $WORK${SERVER:+ (server logs in $SERVER/log)}"
      [ "$rc" = 0 ] || [ -z "$SERVER" ] || tail -n 20 "$SERVER/log/fractal.log" 2>/dev/null >&2 || true
    else
      rm -rf "$WORK"
    fi
  fi
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 100 ms until it succeeds; fails after SECONDS.
wait_for() {
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "timed out after ${secs}s waiting for $what"
}

# Waits until the model's default version is ready on a modelhost.
wait_model() { wait_for "model $1" "${2:-60}" curl -sf -o /dev/null "$BASE/v2/models/$1/ready"; }

# Runs the benchmark client (src/LoadGenerator.java, launched from source).
loadgen() { java -XX:+UseParallelGC -Xss512k "$BENCH_DIR/src/LoadGenerator.java" "$@"; }

# VmRSS of the server in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$(server_pid)/status"; }

# One line on where and when: date, cores, CPU, load average (other processes share this machine).
machine_line() {
  printf '%s, %s cores (%s), load average %s' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# Waits until model $1 is READY on $2 modelhosts (default: all of them). The check is passed with -c, not on
# stdin: wait_for runs it again and again, and a here-document is read by the first attempt only (later ones then
# ran an empty script and passed at once).
HOSTS_READY_PY='
import json, sys, urllib.request
base, model, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
hosts = json.load(urllib.request.urlopen(base + "/api/v1/modelhosts", timeout=5))
hosts = hosts["modelhosts"] if isinstance(hosts, dict) else hosts
ready = sum(1 for h in hosts if any(m.get("model") == model and m.get("state") == "READY" for m in h.get("loaded", [])))
sys.exit(0 if hosts and ready >= (want or len(hosts)) else 1)
'
wait_hosts_ready() {
  wait_for "model $1 ready on ${2:-every} modelhost(s)" "${3:-60}" "$PY" -c "$HOSTS_READY_PY" "$BASE" "$1" "${2:-0}"
}

#!/usr/bin/env bash
# Startup and footprint: the build time of `mvn -q -o install -DskipTests` (a clean clone of HEAD, then a
# rebuild without changes), the time from `bin/fractal start` to the first successful prediction (the very
# first start, which extracts the engines; first starts of a fresh install with the engines extracted; and
# restarts), and the RSS at idle after start. See README.md.
#
#   benchmark/startup.sh
#   RUNS=5 benchmark/startup.sh
#   SKIP_BUILD=1 benchmark/startup.sh          # starts only, on FRACTAL_DIST (default runtime/target/fractal-server)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${RUNS:-3}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
# A private copy of the local Maven repository, without the project's own artifacts: the build installs into
# it, never into ~/.m2, where other builds on this machine pick their snapshots from.
M2_COPY="${M2_COPY:-/tmp/fractal-bench-m2}"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b - a) / 1000}'; }

init_work
declare -a build_rows=()
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "build: cloning HEAD of $REPO_DIR; refreshing the Maven repository copy $M2_COPY"
  git clone -q "$REPO_DIR" "$WORK/clone"
  mkdir -p "$M2_COPY"
  cp -ru "$HOME/.m2/repository/." "$M2_COPY/"
  rm -rf "$M2_COPY/io/fractal"
  for what in "clean clone" "rebuild, no change"; do
    log "build: mvn -q -o install -DskipTests ($what)"
    t0=$(now_ms)
    (cd "$WORK/clone" && mvn -q -o install -DskipTests -Dmaven.repo.local="$M2_COPY" >"$WORK/build.log" 2>&1) ||
      { tail -n 30 "$WORK/build.log" >&2; die "build failed"; }
    build_rows+=("| $what | $(secs "$t0" "$(now_ms)") |")
  done
  FRACTAL_DIST="$WORK/clone/runtime/target/fractal-server"
  build_commit="$(git -C "$WORK/clone" rev-parse --short HEAD)"
fi

make_server --own-cache         # the sample models (iris, digits) and modelhosts mh1, mh2
PREDICT=("$BASE/api/v1/models/iris/prediction" -H 'Content-Type: application/json' -d '{"values": [5.1, 3.5, 1.4, 0.2]}')

# One start: prints "seconds-to-REST seconds-to-first-prediction"
timed_start() {
  local t0 t_live="" t_pred="" i code
  t0=$(now_ms)
  FRACTAL_HOME="$SERVER" "$SERVER/bin/fractal" start >/dev/null &
  for ((i = 0; i < 6000; i++)); do   # 2 minutes at most
    if [ -z "$t_live" ] && curl -sf -o /dev/null "$BASE/v2/health/live" 2>/dev/null; then t_live=$(now_ms); fi
    if [ -n "$t_live" ]; then
      code="$(curl -s -o /dev/null -w '%{http_code}' "${PREDICT[@]}" 2>/dev/null || true)"
      if [ "$code" = 200 ]; then t_pred=$(now_ms); break; fi
    fi
    sleep 0.02
  done
  wait
  [ -n "$t_pred" ] || die "no successful prediction within 2 minutes of start"
  echo "$(secs "$t0" "$t_live") $(secs "$t0" "$t_pred")"
}

declare -a start_rows=()
run_start() {
  local what="$1" r
  r="$(timed_start)"
  start_rows+=("| $what | ${r% *} | **${r#* }** |")
  log "$what: REST up after ${r% *} s, first prediction after ${r#* } s"
}

run_start "very first start (empty engine cache: extracts libtorch)"
extracted="$(du -sh "$SERVER/cache/djl" | cut -f1)"
stop_server
for ((n = 1; n <= RUNS; n++)); do
  rm -rf "$SERVER/data" "$SERVER/log"   # a fresh install: models deployed from deploy/, engines already extracted
  run_start "first start of a fresh install, engines extracted ($n)"
  stop_server
done
for ((n = 1; n <= RUNS; n++)); do
  run_start "restart, data/ kept ($n)"
  if [ "$n" = "$RUNS" ]; then
    log "idle for $IDLE_SECONDS s"
    sleep "$IDLE_SECONDS"
    rss_idle="$(rss_kib)"
    threads="$(awk '/^Threads:/ {print $2}' "/proc/$(server_pid)/status")"
    jcmd "$(server_pid)" GC.run >/dev/null
    sleep 3
    rss_gc="$(rss_kib)"
  fi
  stop_server
done

echo
echo "Startup and footprint — $(machine_line)"
echo "JAVA_OPTS default (-Xms256m -Xmx2g -XX:+UseParallelGC); sample models iris and digits (TorchScript) on modelhosts mh1 and mh2."
if [ "${#build_rows[@]}" -gt 0 ]; then
  echo
  echo "Build of HEAD ($build_commit), offline, tests skipped:"
  echo
  echo "| mvn -q -o install -DskipTests | seconds |"
  echo "|---|---:|"
  printf '%s\n' "${build_rows[@]}"
fi
echo
echo "bin/fractal start -> REST listener up / first successful v1 prediction on iris (curl every 20 ms):"
echo
echo "| start | REST up (s) | first prediction (s) |"
echo "|---|---:|---:|"
printf '%s\n' "${start_rows[@]}"
echo
echo "| footprint | |"
echo "|---|---:|"
echo "| VmRSS at idle, $IDLE_SECONDS s after the first prediction | $((rss_idle / 1024)) MiB |"
echo "| VmRSS after jcmd GC.run + 3 s | $((rss_gc / 1024)) MiB |"
echo "| threads at idle | $threads |"
echo "| extracted engines (cache/djl) | $extracted |"

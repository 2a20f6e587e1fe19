#!/usr/bin/env bash
# The engine adapter alone (bundles/engine-djl under engine-pytorch and engine-onnx), in process, two builds side by
# side in one JVM (issue 11, "lean hot path"): benchmark/src/EngineAdapter.java loads the sample models (iris and
# digits, TorchScript from deploy/ and ONNX from it-tests) through each build's InferenceEngine.load and calls
# LoadedModel.predict as a modelhost worker does, on 1 and 2 threads, interleaved; it first checks that both builds
# answer the same values (to 1e-6) and fails otherwise. Prints calls/s, us per call and CPU us per call.
#
#   benchmark/engine-adapter.sh                         # before: BASELINE_REV (default HEAD~1); after: the work tree
#   BASELINE_REV=abc123 SECONDS_PER_RUN=3 ROUNDS=5 benchmark/engine-adapter.sh
#   BASELINE_JARS=/some/dir benchmark/engine-adapter.sh # a folder with the three engine jars instead of a revision
#   MODELS="iris.pt digits.pt" benchmark/engine-adapter.sh
#   flock /tmp/fractal.lock benchmark/engine-adapter.sh # on the shared machine
#
# The work tree's engine jars must be built (mvn install -DskipTests); the baseline's are built from a git worktree
# of BASELINE_REV (engine bundles only, offline, into a scratch folder). MVN_ARGS are passed to that mvn call.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_dist

SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
ROUNDS="${ROUNDS:-3}"
WORK="$(mktemp -d /tmp/fractal-engine-adapter.XXXXXX)"
trap 'rm -rf "$WORK"; git -C "$REPO_DIR" worktree prune' EXIT

mkdir -p "$WORK/after"
cp "$REPO_DIR"/bundles/engine-{djl,pytorch,onnx}/target/io.fractal.engine.*-SNAPSHOT.jar "$WORK/after/"

if [ -n "${BASELINE_JARS:-}" ]; then
  BEFORE="$BASELINE_JARS"
else
  rev="${BASELINE_REV:-HEAD~1}"
  log "building the engine bundles of $rev"
  git -C "$REPO_DIR" worktree add -q --detach "$WORK/base" "$rev"
  (cd "$WORK/base" && mvn -B -ntp -o -q ${MVN_ARGS:-} package -DskipTests \
      -pl bundles/engine-djl,bundles/engine-pytorch,bundles/engine-onnx -am) >&2
  mkdir -p "$WORK/before"
  cp "$WORK"/base/bundles/engine-{djl,pytorch,onnx}/target/io.fractal.engine.*-SNAPSHOT.jar "$WORK/before/"
  git -C "$REPO_DIR" worktree remove --force "$WORK/base"
  BEFORE="$WORK/before"
fi

mkdir -p "$FRACTAL_BENCH_CACHE/djl"
API_JAR="$(ls "$FRACTAL_DIST"/bundle/io.fractal.api-*.jar | head -n1)"
DJL_OFFLINE=true OPT_OUT_TRACKING=true ENGINE_CACHE_DIR="$FRACTAL_BENCH_CACHE/djl" DJL_CACHE_DIR="$FRACTAL_BENCH_CACHE/djl" \
FRACTAL_REPO="$REPO_DIR" java ${BENCH_JAVA_OPTS:-} -Xms256m -Xmx2g -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
  -Dai.djl.pytorch.num_interop_threads=1 -Djava.util.logging.config.file=/dev/null \
  -cp "$FRACTAL_DIST/lib/*:$API_JAR" "$BENCH_DIR/src/EngineAdapter.java" \
  before="$BEFORE" after="$WORK/after" "$SECONDS_PER_RUN" "$ROUNDS"

#!/usr/bin/env bash
# A modelhost added by dropping its .cfg into deploy/, with load flowing: the time from the file copied to the
# first response served by the new modelhost (v1 predictions name their modelhost). Five runs; the .cfg is
# removed between runs and the next run waits until the modelhost is gone. See README.md.
#
#   benchmark/modelhost-add.sh                 # 100 req/s on iris, 5 runs
#   RATE=200 RUNS=10 benchmark/modelhost-add.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE="${RATE:-100}"
RUNS="${RUNS:-5}"

make_server                     # the sample models (iris, digits) and modelhosts mh1, mh2 (2 workers each)
start_server
wait_hosts_ready iris
wait_hosts_ready digits
printf 'id=mh9\nworkers=2\nqueue.capacity=64\nmodels=*\n' >"$WORK/io.fractal.modelhost-mh9.cfg"

echo
echo "Modelhost added by .cfg under load — $(machine_line)"
echo "$RATE req/s of v1 predictions on iris,"
echo "modelhosts mh1 and mh2 running; deploy/io.fractal.modelhost-mh9.cfg (2 workers, models=*: iris and digits) dropped in"
echo "(FileInstall polls every 500 ms); balancer: POWER_OF_TWO (default)."
echo
loadgen modelhost-add --base "$BASE" --deploy "$SERVER/deploy" --cfg "$WORK/io.fractal.modelhost-mh9.cfg" \
  --id mh9 --model iris --rate "$RATE" --runs "$RUNS"

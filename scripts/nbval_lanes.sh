#!/usr/bin/env bash
# Re-execute the notebooks with nbval (comparing the cells marked # NBVAL_CHECK_OUTPUT) in JOBS
# parallel pytest processes (default 2), one CPU thread each, as scripts/execute_notebooks.sh ran
# them; fails if any lane fails. Usage: scripts/nbval_lanes.sh VENV_BIN NOTEBOOK...
set -uo pipefail

bin=$1
shift
jobs=${JOBS:-2}
export JUPYTER_PREFER_ENV_PATH=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
declare -a lanes pids
i=0
for nb in "$@"; do
    lanes[i % jobs]+="$nb "
    i=$((i + 1))
done
for lane in "${lanes[@]}"; do
    # shellcheck disable=SC2086
    "$bin/pytest" --nbval-lax --nbval-current-env -p no:cacheprovider $lane &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
exit $status

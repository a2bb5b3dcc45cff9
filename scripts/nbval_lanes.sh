#!/usr/bin/env bash
# Re-execute the notebooks with nbval (comparing the cells marked # NBVAL_CHECK_OUTPUT), JOBS
# (default 2) at a time, one CPU thread each, as scripts/execute_notebooks.sh ran them; fails if
# any notebook fails. The longest notebooks start first (a queue, not fixed lanes), so the two
# lanes end at about the same time. Usage: scripts/nbval_lanes.sh VENV_BIN NOTEBOOK...
set -uo pipefail

bin=$1
shift
export JUPYTER_PREFER_ENV_PATH=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} BIN=$bin
run_one() {
    local start=$SECONDS
    local out rc
    out=$("$BIN/pytest" --nbval-lax --nbval-current-env -p no:cacheprovider -q "$1" 2>&1)
    rc=$?
    if [[ $rc -eq 0 ]]; then echo "$out" | tail -n 1; else echo "$out"; fi
    echo "nbval $1: $([[ $rc -eq 0 ]] && echo passed || echo FAILED) in $((SECONDS - start)) s"
    return "$rc"
}
export -f run_one
"$(dirname "${BASH_SOURCE[0]}")/longest_first.sh" "$@" | xargs -P "${JOBS:-2}" -I{} bash -c 'run_one "$1"' _ {}

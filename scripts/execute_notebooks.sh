#!/usr/bin/env bash
# Execute notebooks in place with papermill at their default parameters, in the notebook's own
# folder and with the venv's kernel, JOBS at a time (default 2), one CPU thread each
# (OMP_NUM_THREADS=1): two single-thread notebooks use two cores better than one notebook with two
# threads, and the printed numbers do not depend on how many cores the machine has.
# The longest notebooks start first (scripts/longest_first.sh).
# Usage: scripts/execute_notebooks.sh VENV_BIN NOTEBOOK...
set -euo pipefail

bin=$1
shift
if [[ $# -eq 0 ]]; then
    echo "no notebooks to execute" >&2
    exit 0
fi
# `python3` is the kernel that `make setup` registers inside the venv; JUPYTER_PREFER_ENV_PATH=1
# makes Jupyter find it before any user-level kernel of the same name.
export JUPYTER_PREFER_ENV_PATH=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} BIN=$bin
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SCRIPTS
run_one() {
    local nb=$1 start=$SECONDS
    "$BIN/papermill" "$nb" "$nb" --cwd "$(dirname "$nb")" --kernel python3 --no-progress-bar \
        --log-level WARNING
    "$BIN/python" "$SCRIPTS/stamp_notebooks.py" "$nb" >/dev/null
    echo "executed $nb in $((SECONDS - start)) s" >&2
}
export -f run_one
"$SCRIPTS/longest_first.sh" "$@" | xargs -P "${JOBS:-2}" -I{} bash -c 'run_one "$1"' _ {}

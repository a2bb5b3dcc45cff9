#!/usr/bin/env bash
# Execute notebooks in place with papermill at their default parameters, one after another,
# in the notebook's own folder and with the venv's kernel; print how long each took.
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
export JUPYTER_PREFER_ENV_PATH=1
for nb in "$@"; do
    start=$SECONDS
    "$bin/papermill" "$nb" "$nb" --cwd "$(dirname "$nb")" --kernel python3 --no-progress-bar --log-level WARNING
    echo "executed $nb in $((SECONDS - start)) s" >&2
done

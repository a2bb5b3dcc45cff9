#!/usr/bin/env bash
# Re-execute the notebooks with nbval (comparing the cells marked # NBVAL_CHECK_OUTPUT), JOBS
# (default 2) at a time, one CPU thread each, as scripts/execute_notebooks.sh ran them; fails if
# any notebook fails. The longest notebooks start first (a queue, not fixed lanes), so the two
# lanes end at about the same time. Usage: scripts/nbval_lanes.sh VENV_BIN NOTEBOOK...
set -uo pipefail

bin=$1
shift
export JUPYTER_PREFER_ENV_PATH=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} BIN=$bin
# Longest first, from the CI log of a cold run; notebooks not listed run last, in the given order.
longest_first=(model_card tab01_fid_nfe fig02_one_dim_projection gits_method fig03_multidim_projection
               fig_curvature_torsion tab06_ablations fig04_3d_projection fig_magnitudes tab03_schedules
               tab04_time_cost sec42_mean_shift fig11_trajectory_rows fig10_optimal_gap)
ordered=()
for name in "${longest_first[@]}"; do
    for nb in "$@"; do [[ $(basename "$nb" .ipynb) == "$name" ]] && ordered+=("$nb"); done
done
for nb in "$@"; do
    [[ " ${ordered[*]} " == *" $nb "* ]] || ordered+=("$nb")
done
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
printf '%s\n' "${ordered[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'run_one "$1"' _ {}

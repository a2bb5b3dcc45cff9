#!/usr/bin/env bash
# Print the given notebooks one per line, the longest-running first (from the CI log of a cold
# run), then any not listed in their given order: a queue of two workers then ends at about the
# same time. Used by execute_notebooks.sh and nbval_lanes.sh. Usage: longest_first.sh NOTEBOOK...
longest_first=(model_card tab01_fid_nfe fig02_one_dim_projection gits_method fig03_multidim_projection
               fig_curvature_torsion tab06_ablations fig04_3d_projection fig_magnitudes tab03_schedules
               tab04_time_cost sec42_mean_shift fig11_trajectory_rows fig10_optimal_gap)
printed=" "
for name in "${longest_first[@]}"; do
    for nb in "$@"; do
        if [[ $(basename "$nb" .ipynb) == "$name" ]]; then echo "$nb"; printed+="$nb "; fi
    done
done
for nb in "$@"; do
    [[ $printed == *" $nb "* ]] || echo "$nb"
done

#!/usr/bin/env bash
# Run a command in one of LANES (default 2) CPU lanes shared by all callers on this machine:
# waits until a lane is free, so that parallel workers never run more than LANES heavy jobs.
# Usage: scripts/lane.sh COMMAND [ARGS...]
lanes=${LANES:-2}
while true; do
    for ((l = 0; l < lanes; l++)); do
        flock -n -E 200 "/tmp/trajreg-lane-$l.lock" "$@"
        rc=$?
        [[ $rc -ne 200 ]] && exit $rc
    done
    sleep 3
done

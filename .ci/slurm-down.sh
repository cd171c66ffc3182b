#!/usr/bin/env bash
# Stop the one-node Slurm cluster of .ci/slurm-up.sh (by its pid files; munged too). Idempotent.
set -uo pipefail
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
scancel --user="$(id -un)" 2>/dev/null || true
for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if [ -f "$pidfile" ] && pid=$(cat "$pidfile") && $SUDO kill -0 "$pid" 2>/dev/null; then
        $SUDO kill "$pid"
        for _ in $(seq 20); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
done
exit 0

#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (Debian/Ubuntu, as root), for the tests in
# tests/cluster/ and for trying `bench run --launcher slurm` on a workstation. Idempotent: when a
# controller already answers, it only prints `sinfo`. Stop it with .ci/slurm-down.sh.
#   - installs slurm-wlm and munge with apt when slurmctld is missing;
#   - one node (this host) with every CPU (nproc) and most of the memory, one partition `debug`;
#   - waits until the node is idle (jobs can start), at most 60 s.
set -euo pipefail
if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mix|alloc'; then sinfo; exit 0; fi
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
if ! command -v slurmctld >/dev/null; then
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
fi
$SUDO mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge /etc/slurm \
    /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
[ -f /etc/munge/munge.key ] || $SUDO dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
$SUDO chown munge:munge /etc/munge/munge.key /var/log/munge /run/munge /var/lib/munge
$SUDO chmod 400 /etc/munge/munge.key
# munged answers on its socket; start it only when nothing does (its pid file may be stale).
munge -n </dev/null >/dev/null 2>&1 || $SUDO su -s /bin/sh munge -c munged
HOST=$(hostname -s)
CPUS=$(nproc)
# Slurm refuses a node that reports less memory than configured: claim 90% of what the kernel sees.
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=local
SlurmctldHost=$HOST
# A requeued job (preemption, time limit) waits cred_expire + 1 s before it may start again (default
# 120 s): short here so the tests' preemption round trip takes seconds.
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
alive() { [ -f "$1" ] && $SUDO kill -0 "$(cat "$1")" 2>/dev/null; }
alive /run/slurmctld.pid || $SUDO slurmctld
alive /run/slurmd.pid || $SUDO slurmd
for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mix|alloc'; then sinfo; exit 0; fi
    sleep 1
done
echo "slurm-up: the node did not become idle within 60 s; see /var/log/slurm/slurmctld.log" >&2
sinfo >&2 || true
exit 1

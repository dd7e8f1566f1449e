#!/usr/bin/env bash
# A real single-node Slurm on this machine, for posterlab's tests and for trying
# `posterlab slurm` without a cluster: munged + slurmctld + slurmd (Debian 12's
# Slurm 22.05) on localhost, every file in one private folder, no systemd,
# nothing written to /etc. Needs root (the daemons and jobs run as root).
#
#   scripts/slurm-local.sh install        apt-get the packages (slurmctld slurmd slurm-client munge)
#   scripts/slurm-local.sh up   [DIR]     start the daemons, wait until the node is idle
#   scripts/slurm-local.sh down [DIR]     cancel leftover jobs, stop exactly the daemons `up` started
#
# After `up`:  export SLURM_CONF=DIR/slurm.conf   (clients find the cluster through it)
# DIR defaults to ${TMPDIR:-/tmp}/posterlab-slurm. Ports: SLURM_CTLD_PORT (6817) and
# SLURM_NODE_PORT (6818), so that a test cluster can stay clear of a real one.
# Facts behind each step: ../shared/notes/slurm-single-node.md (measured on these machines).
set -Eeuo pipefail
D=${2:-${TMPDIR:-/tmp}/posterlab-slurm}
CTLD_PORT=${SLURM_CTLD_PORT:-6817}
NODE_PORT=${SLURM_NODE_PORT:-6818}
H=$(hostname -s)
export SLURM_CONF=$D/slurm.conf

# Every probe under `timeout`: a Slurm client that cannot reach its controller
# (or stat slurm.conf) retries for a minute.
wait_for() {
  for _ in $(seq 150); do timeout 10 bash -c "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "slurm-local: timed out waiting for: $1" >&2
  return 1
}
start() { local n=$1; shift; "$@" </dev/null >"$D/log/$n.out" 2>&1 & echo "$n $!" >>"$D/pids"; }

install() {
  apt-get update -q >/dev/null
  # No systemd here: the packages' postinst cannot start the services, so nothing
  # runs until `up` starts it with this folder's configuration.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    slurmctld slurmd slurm-client munge
}

up() {
  [ -e "$D/pids" ] && { echo "slurm-local: $D/pids exists: run \`$0 down $D\` first" >&2; exit 1; }
  if [ -d "$D" ] && [ -n "$(ls -A "$D")" ] && [ ! -f "$D/slurm.conf" ]; then
    echo "slurm-local: $D holds files that are not a local cluster's; choose another folder" >&2
    exit 1
  fi
  rm -rf "$D"
  mkdir -p "$D"/{state,spool,log,munge}
  : >"$D/pids"
  trap 'echo "slurm-local: up failed; logs in $D/log" >&2; down' ERR
  # cred_expire: a requeued job waits that long before it may start again (default
  # 120 s); sched_interval / bf_interval: how often pending jobs are looked at
  # (default 60 / 30 s). Short, so that a requeue test takes seconds.
  cat >"$SLURM_CONF" <<EOF
ClusterName=posterlab
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$NODE_PORT
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/sock,cred_expire=10
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
KillWait=5
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
$(slurmd -C | head -1) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # A private munge key and socket, so that a system munged (if any) is untouched.
  mungekey -c -k "$D/munge/munge.key"
  chown -R munge:munge "$D/munge"
  chmod 755 "$D/munge"   # munged refuses a socket folder without o+x
  start munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
    --socket="$D/munge/sock" --key-file="$D/munge/munge.key" --pid-file="$D/munge/pid" \
    --log-file="$D/munge/log" --seed-file="$D/munge/seed"
  wait_for "munge -S $D/munge/sock -n"
  start slurmctld slurmctld -D -f "$SLURM_CONF"
  start slurmd slurmd -D -f "$SLURM_CONF"
  wait_for "sinfo -h -o %T | grep -qx idle"
  trap - ERR
  echo "slurm up: export SLURM_CONF=$SLURM_CONF"
}

down() {
  [ -f "$D/pids" ] || return 0
  if grep -q '^slurmd ' "$D/pids" && timeout 10 sinfo >/dev/null 2>&1; then
    # Cancel what is left and wait for it, so that no slurmstepd (reparented to
    # PID 1) outlives slurmd; slurmstepd lingers 1-2 s after squeue is empty.
    { timeout 10 squeue -h -o %A | xargs -r scancel; } || true
    wait_for 'test -z "$(squeue -h)"' || true
    wait_for "test -z \"\$(find $D/spool -maxdepth 1 -type s)\"" || true
    wait_for '! pgrep -x slurmstepd' || true
  fi
  tac "$D/pids" | while read -r n p; do
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || continue 2; sleep 0.2; done
    echo "slurm-local: $n ($p) ignored SIGTERM for 30 s; SIGKILL" >&2
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$D/pids"
}

case ${1:-} in
  install | up | down) "$1" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac

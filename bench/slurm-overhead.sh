#!/usr/bin/env bash
# What a Slurm array task costs before it trains: from `posterlab slurm`
# being called to each task's first epoch starting (its recorded end less
# its own seconds): submission, Slurm's scheduling, the task's process, its
# manifest and specs, the data from the cache, its store. Each round submits
# a fresh 2-run sweep (bench/jobs-sweep.toml's model, 2 seeds, 1 epoch) to
# the cluster SLURM_CONF names, whose node must have 2 free CPUs so that
# both tasks start at once (no queueing in the number); prints every task's
# overhead and the median.
#
#   scripts/slurm-local.sh up /tmp/slurm && export SLURM_CONF=/tmp/slurm/slurm.conf
#   cargo build --release && bench/slurm-overhead.sh [ROUNDS]   (default 5; needs sqlite3)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SLURM_CONF:?point SLURM_CONF at a cluster, e.g. one from scripts/slurm-local.sh up}"
rounds=${1:-5}
bin=$(realpath target/release/posterlab)
work=$(mktemp -d "${TMPDIR:-/tmp}/posterlab-slurm-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
sed -e 's/^epochs = 3/epochs = 1/' -e 's/^"train.seed" = .*/"train.seed" = [1, 2]/' \
    bench/jobs-sweep.toml >"$work/base.toml"
# The data set and its cache, made once, as `posterlab slurm` makes them.
(cd "$work" && "$bin" -q data stats synthetic --spec base.toml >/dev/null 2>&1)
overheads=()
for round in $(seq "$rounds"); do
    # New seeds and name each round: new runs in a new sweep, so both train.
    sed -e "s/^name = .*/name = \"slurm-bench-$round\"/" \
        -e "s/^\"train.seed\" = .*/\"train.seed\" = [$((2 * round + 1)), $((2 * round + 2))]/" \
        "$work/base.toml" >"$work/s$round.toml"
    start=$(date +%s.%N)
    out=$(cd "$work" && "$bin" -q slurm "s$round.toml")
    finish=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\): after them.*/\1/p')
    while squeue -h -j "$finish" -o %T 2>/dev/null | grep -q .; do sleep 0.5; done
    sweep=$(ls -d "$work"/results/slurm/slurm-bench-"$round"-*)
    for task in 0 1; do
        first=$(sqlite3 "$sweep/tasks/$task.sqlite" \
            "SELECT (julianday(recorded_at) - 2440587.5) * 86400.0 - seconds FROM epochs WHERE epoch = 1")
        o=$(awk -v a="$start" -v b="$first" 'BEGIN { printf "%.2f", b - a }')
        overheads+=("$o")
        printf 'round %d  task %d  %s s from submission to its first epoch\n' "$round" "$task" "$o"
    done
done
printf '%s\n' "${overheads[@]}" | sort -n |
    awk '{a[NR]=$1} END {printf "median %.2f s over %d tasks\n", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), NR}'

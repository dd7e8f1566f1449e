#!/usr/bin/env bash
# `posterlab run --jobs 2 --threads 1` against one job on 2 threads, on the
# 8-run sweep of bench/jobs-sweep.toml: whole-command wall time, the two
# alternated round by round (so both see the same machine load), each round
# into a fresh database (so every run trains), the data cache made once
# before. Prints each round and the medians.
#
#   cargo build --release && bench/jobs.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=target/release/posterlab
work=$(mktemp -d "${TMPDIR:-/tmp}/posterlab-jobs-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin" -q --results "$work/results" run --no-report --db "$work/warm.sqlite" bench/jobs-sweep.toml >/dev/null
declare -A times
for round in $(seq "$rounds"); do
    for config in "--jobs 2 --threads 1" "--jobs 1 --threads 2"; do
        db="$work/r$round-${config// /}.sqlite"
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$bin" -q --results "$work/results" run --no-report --db "$db" $config bench/jobs-sweep.toml >/dev/null
        end=$(date +%s.%N)
        t=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
        times[$config]="${times[$config]:-} $t"
        printf 'round %d  %-22s %6.2f s\n' "$round" "$config" "$t"
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for config in "--jobs 2 --threads 1" "--jobs 1 --threads 2"; do
    printf 'median %-22s %6.2f s\n' "$config" "$(echo "${times[$config]}" | median)"
done

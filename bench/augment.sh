#!/usr/bin/env bash
# What `[data] augment = true` costs an epoch: the first report's CNN
# (experiments/seed1-cnn.toml: 64 px, batch 32) for one epoch on the real
# posters (5,070 training posters), plain and augmented, in one command per
# round (a fresh database, so both train), the two in alternate order from
# round to round (so both see the same machine), the decoded-poster cache made
# once before. Reads from each round's database the training pass's speed
# (epochs.images_per_sec: training posters over the training pass's time)
# and the whole epoch's time (epochs.seconds: training, then validation),
# and prints each round, the medians and their ratio.
#
#   cargo build --release && bench/augment.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=$PWD/target/release/posterlab
posters=$PWD/../shared/data/movie-posters
[ -f "$posters/train.csv" ] || { echo "the real posters are not at $posters" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed to read the results" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/posterlab-augment-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# order: the grid's list, e.g. "false, true" (plain first).
spec() {
    cat <<EOF
[experiment]
name = "augment-bench"
[data]
dataset = "$posters"
resolution = 64
[model]
channels = [16, 32, 64, 64]
dense = [128, 64]
[train]
batch_size = 32
epochs = 1
[sweep.grid]
"data.augment" = [$1]
EOF
}
spec "false" >"$work/warm.toml"
"$bin" -q --results "$work/results" run --no-report --db "$work/warm.sqlite" "$work/warm.toml" >/dev/null

declare -A ips secs
for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then order="false, true"; else order="true, false"; fi
    spec "$order" >"$work/r$round.toml"
    "$bin" -q --results "$work/results" run --no-report --db "$work/r$round.sqlite" "$work/r$round.toml" >/dev/null
    while IFS='|' read -r name speed seconds; do
        case $name in *augment=true*) config=augmented ;; *) config=plain ;; esac
        ips[$config]="${ips[$config]:-} $speed"
        secs[$config]="${secs[$config]:-} $seconds"
        printf 'round %d  %-9s %7.1f train images/s  %6.2f s epoch\n' "$round" "$config" "$speed" "$seconds"
    done < <(sqlite3 "$work/r$round.sqlite" \
        "SELECT r.name, e.images_per_sec, e.seconds FROM runs r JOIN epochs e ON e.run_id = r.id ORDER BY r.id")
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for config in plain augmented; do
    printf 'median %-9s %7.1f train images/s  %6.2f s epoch\n' "$config" \
        "$(echo "${ips[$config]}" | median)" "$(echo "${secs[$config]}" | median)"
done
awk -v p="$(echo "${ips[plain]}" | median)" -v a="$(echo "${ips[augmented]}" | median)" \
    -v ps="$(echo "${secs[plain]}" | median)" -v as="$(echo "${secs[augmented]}" | median)" \
    'BEGIN { printf "augmented / plain: training pass %.3f x the time, whole epoch %.3f x\n", p / a, as / ps }'

#!/usr/bin/env bash
# The GPU check, run on the GPU machine from the repository root after
# scripts/build-cuda.sh built dist/cuda here and the tree was carried there:
#
#   DATA=../shared/data/movie-posters scripts/gpu-check.sh
#
# 1. Throughput: `posterlab bench --device cuda` against bench/pytorch_bench.py
#    on the same GPU, same model, batch and optimizer, alternating, ROUNDS
#    rounds per configuration (the report takes medians).
# 2. Training: the quickstart spec and the seed CNN at 64 and 128 px (EPOCHS
#    epochs, seed 1) on the GPU and on the CPU, then their loss curves and
#    test metrics side by side (same seed: close, not bit-identical).
# Everything goes to $OUT (default gpu-check/): bench.jsonl, the two run
# databases, compare.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check}"
ROUNDS="${ROUNDS:-5}"
EPOCHS="${EPOCHS:-10}"
DATA="${DATA:-../shared/data/movie-posters}"
PY="${PYTHON:-python3}"
P="dist/cuda/gpu-run.sh"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"

echo "== throughput ($ROUNDS rounds)"
: > "$OUT/bench.jsonl"
for round in $(seq "$ROUNDS"); do
    for arch in cnn cnn_rnn; do
        for res in 64 128; do
            "$P" bench --device cuda --arch "$arch" --res "$res" --batch 32 --steps 50 --warmup 10 --json \
                | sed "s/^{/{\"round\":$round,\"who\":\"posterlab\",/" >> "$OUT/bench.jsonl"
            "$PY" bench/pytorch_bench.py --device cuda --arch "$arch" --res "$res" --batch 32 --steps 50 --warmup 10 --json \
                | sed "s/^{/{\"round\":$round,\"who\":\"pytorch\",/" >> "$OUT/bench.jsonl"
        done
    done
done
"$PY" - "$OUT/bench.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = sorted({(r["arch"], r["resolution"]) for r in rows})
print(f"{'arch':8} {'px':>4} {'train img/s posterlab':>22} {'pytorch':>9} {'ratio':>6} {'eval img/s posterlab':>21} {'pytorch':>9} {'ratio':>6}")
for arch, res in keys:
    med = lambda who, k: statistics.median(r[k] for r in rows if r["who"] == who and r["arch"] == arch and r["resolution"] == res)
    t, tp = med("posterlab", "train_images_per_sec"), med("pytorch", "train_images_per_sec")
    e, ep = med("posterlab", "eval_images_per_sec"), med("pytorch", "eval_images_per_sec")
    print(f"{arch:8} {res:>4} {t:>22.0f} {tp:>9.0f} {t/tp:>6.2f} {e:>21.0f} {ep:>9.0f} {e/ep:>6.2f}")
EOF

echo "== training on cuda and cpu ($EPOCHS epochs)"
mkdir -p "$OUT/specs"
sed "s/^epochs = .*/epochs = $EPOCHS/" experiments/quickstart.toml > "$OUT/specs/quickstart.toml"
sed -e "s|^dataset = .*|dataset = \"$DATA\"|" -e "s/^epochs = .*/epochs = $EPOCHS/" \
    -e 's/^"train.seed" = .*/"train.seed" = [1]\n"data.resolution" = [64, 128]/' \
    experiments/seed1-cnn.toml > "$OUT/specs/seed1-cnn.toml"
for device in cuda cpu; do
    "$P" --results "$OUT/results-$device" run --no-report --device "$device" "$OUT/specs" | tee "$OUT/run-$device.txt"
done
"$PY" - "$OUT" <<'EOF' | tee "$OUT/compare.txt"
import sqlite3, sys
out = sys.argv[1]
dbs = {d: sqlite3.connect(f"{out}/results-{d}/posterlab.sqlite") for d in ("cuda", "cpu")}
names = [r[0] for r in dbs["cpu"].execute("SELECT name FROM runs ORDER BY id")]
for name in names:
    print(f"\n{name}")
    curves = {}
    for d, db in dbs.items():
        curves[d] = db.execute(
            "SELECT m.epoch, m.split, m.loss, m.micro_f1 FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.name = ? ORDER BY m.split, m.epoch", (name,)).fetchall()
    print(f"{'split':6} {'epoch':>5} {'loss cuda':>10} {'loss cpu':>10} {'micro-F1 cuda':>14} {'cpu':>6}")
    for a, b in zip(curves["cuda"], curves["cpu"]):
        print(f"{a[1]:6} {a[0]:>5} {a[2]:>10.4f} {b[2]:>10.4f} {a[3]:>14.3f} {b[3]:>6.3f}")
EOF
echo "results in $OUT/"

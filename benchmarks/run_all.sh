#!/usr/bin/env bash
# The quick benchmark set: detector throughput per backend and size, then the pipeline at 15 / 30 / 60 Hz in one
# process and in separate processes, with the input-outruns-the-detector scenario. Prints every table; the
# figures also go to $OUT (default out/bench/*.json). Run from anywhere; extra arguments go to bench_pipeline.py.
#   benchmarks/run_all.sh                      # full quick set (~5 min on an idle 2-core machine)
#   DURATION=5 OVERRUN_DURATION=10 WINDOW=3 benchmarks/run_all.sh   # a fast smoke run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
OUT="${OUT:-out/bench}"
DURATION="${DURATION:-20}"
OVERRUN_DURATION="${OVERRUN_DURATION:-30}"
WINDOW="${WINDOW:-10}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
mkdir -p "$OUT"

echo "== detector throughput and per-stage latency"
"$PYTHON" benchmarks/bench_detector.py --duration "$DURATION" --json "$OUT/detector.json"
echo
echo "== pipeline: end-to-end latency, overhead ratio, drops, CPU and memory; input outrunning the detector"
"$PYTHON" benchmarks/bench_pipeline.py --rates 15,30,60 --duration "$DURATION" --overrun \
    --overrun-duration "$OVERRUN_DURATION" --window "$WINDOW" --json "$OUT/pipeline.json" "$@"

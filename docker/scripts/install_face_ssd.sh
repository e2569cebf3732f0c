#!/usr/bin/env bash
# Build-time installer shared by every face_ssd image (run once by the Dockerfiles):
#   1. vision_msgs: keep the one the base image has, else the distro's apt package ros-$ROS_DISTRO-vision-msgs,
#      else build our interface-compatible copy (interfaces/vision_msgs) with colcon;
#   2. face_ssd_ros with colcon into $FACE_SSD_HOME/install (the runtime, with its engine tools
#      face-ssd-build-engine / -trt-parity / -trt-bench and face-ssd-detect; no training package, no torch);
#   3. a smoke import of everything the detector needs.
set -eo pipefail

FACE_SSD_HOME="${FACE_SSD_HOME:-/opt/face_ssd}"
WS="${FACE_SSD_HOME}/ws"
PREFIX="${FACE_SSD_HOME}/install"

# shellcheck source-path=SCRIPTDIR source=ros_env.sh
source "$(dirname "$0")/ros_env.sh"
face_ssd_source_ros

log() { echo "[face_ssd install] $*"; }

if python3 -c 'import vision_msgs.msg' 2>/dev/null; then
    log "vision_msgs: provided by the base image"
elif command -v apt-get >/dev/null && apt-get update -qq \
        && apt-cache show "ros-${ROS_DISTRO}-vision-msgs" >/dev/null 2>&1; then
    log "vision_msgs: installing ros-${ROS_DISTRO}-vision-msgs from apt"
    apt-get install -y --no-install-recommends "ros-${ROS_DISTRO}-vision-msgs"
    rm -rf /var/lib/apt/lists/*
    face_ssd_source_ros
else
    log "vision_msgs: no package for ${ROS_DISTRO}; building ${WS}/interfaces/vision_msgs"
    colcon build --base-paths "${WS}/interfaces/vision_msgs" --build-base /tmp/face_ssd_build \
        --install-base "${PREFIX}" --merge-install --cmake-args -DBUILD_TESTING=OFF
    rm -rf /tmp/face_ssd_build
    face_ssd_source_ros
fi

log "face_ssd_ros: colcon build"
colcon build --base-paths "${WS}/src/face_ssd_ros" --build-base /tmp/face_ssd_build \
    --install-base "${PREFIX}" --merge-install
rm -rf /tmp/face_ssd_build "${WS}/log"

face_ssd_source_ros
python3 - <<'EOF'
import sys
if sys.version_info < (3, 6):
    sys.exit('[face_ssd install] face_ssd_ros needs Python >= 3.6 (JetPack 4.6), but the ROS 2 of this base image '
             'runs Python %s. Use one of the base images of docker/README.md.' % sys.version.split()[0])
import face_ssd_ros.detect.backends.tensorrt_backend  # noqa: F401  (imports without TensorRT by design)
import face_ssd_ros.detect.inference  # noqa: F401
import face_ssd_ros.engine.build  # noqa: F401
import face_ssd_ros.runner  # noqa: F401  (rclpy, the nodes and the pipeline description)
import vision_msgs.msg  # noqa: F401
print('[face_ssd install] python %s: face_ssd_ros (nodes, runner, detector, engine tools) and vision_msgs import'
      % sys.version.split()[0])
EOF

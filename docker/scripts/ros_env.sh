# shellcheck shell=bash
# Source the ROS 2 underlay of this image, then the face_ssd overlay if it is installed.
# ROS is in /opt/ros/$ROS_DISTRO (apt, dustynv JetPack 5/6 images) or /opt/ros/$ROS_DISTRO/install
# (ROS built from source, dustynv JetPack 4 images). Sourced, never executed; ROS setup files are not
# `set -u` clean, so callers enable it only after sourcing.

face_ssd_source_ros() {
    local distro="${ROS_DISTRO:-humble}" candidate
    # FACE_SSD_ROS_SETUP: an explicit setup file (other ROS locations; the tests use it).
    for candidate in ${FACE_SSD_ROS_SETUP:+"${FACE_SSD_ROS_SETUP}"} "/opt/ros/${distro}/install/setup.bash" \
            "/opt/ros/${distro}/setup.bash"; do
        if [ -f "${candidate}" ]; then
            # shellcheck disable=SC1090
            source "${candidate}"
            break
        fi
    done
    if [ -z "${AMENT_PREFIX_PATH:-}" ]; then
        echo "face_ssd: no ROS 2 ${distro} setup file under /opt/ros/${distro}; is this a ROS 2 image?" >&2
        return 1
    fi
    if [ -f "${FACE_SSD_HOME:-/opt/face_ssd}/install/setup.bash" ]; then
        # shellcheck disable=SC1091
        source "${FACE_SSD_HOME:-/opt/face_ssd}/install/setup.bash"
        # colcon installs the package's console scripts (face-ssd-build-engine, face-ssd-detect, ...) for `ros2 run`
        # under lib/face_ssd_ros; put them on PATH too, as the README calls them.
        PATH="${FACE_SSD_HOME:-/opt/face_ssd}/install/lib/face_ssd_ros:${PATH}"
    fi
}

#!/usr/bin/env bash
# Run a face_ssd image with what the pipeline needs: the GPU, the camera, host networking/IPC for DDS, the model
# folder (engine cache) and ROS_DOMAIN_ID. Anything after the options (or after --) is the container command
# (default: the camera -> detector -> overlay pipeline).
#
#   docker/run.sh                                   # auto: Jetson or x86 image, /dev/video0, ./models
#   docker/run.sh --camera csi --image face_ssd:jetson-humble    # Jetson CSI camera (e.g. IMX219 on a Nano)
#   docker/run.sh --camera /dev/video2 --models ~/face_models --domain-id 7
#   docker/run.sh --backend onnxruntime --no-camera -- face-ssd-trt-bench /models/model.onnx
#   docker/run.sh --dry-run                         # print the docker command only
set -euo pipefail

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --image NAME        image to run (default: face_ssd:jetson on a Jetson, face_ssd:x86 elsewhere)
  --platform P        jetson | x86 (default: detected from /etc/nv_tegra_release)
  --camera DEV        V4L2 camera device passed through (default /dev/video0); also the pipeline's source
  --camera csi[:N]    Jetson CSI camera N (default 0) through nvarguscamerasrc (config/csi_camera.yaml): needs
                      nvargus-daemon on the host (/tmp/argus_socket). A CSI sensor's own /dev/videoN is its raw
                      Bayer node, which OpenCV cannot decode, so run.sh refuses it and points here.
  --no-camera         pass no camera device (video files, bags, benchmarks)
  --models DIR        host folder mounted at /models: model.onnx (optional) and the engine cache (default ./models)
  --domain-id N       ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID, else 0)
  --backend B         tensorrt | onnxruntime | auto (default tensorrt)
  --precision P       fp16 | fp32 | int8 (default fp16; int8 needs --env FACE_SSD_CALIB_IMAGES=/models/calib)
  --env KEY=VALUE     extra environment variable (repeatable)
  --volume HOST:CTR   extra bind mount, e.g. data for face-ssd-trt-parity (repeatable)
  --name NAME         container name (default face_ssd)
  --dry-run           print the docker command instead of running it
  -h, --help          this help
EOF
}

platform=""
image=""
camera="/dev/video0"
models="${PWD}/models"
domain_id="${ROS_DOMAIN_ID:-0}"
backend="tensorrt"
precision="fp16"
name="face_ssd"
dry_run=0
extra_args=()

need_value() {
    if [ "$#" -lt 2 ] || [ -z "$2" ]; then
        echo "run.sh: $1 needs a value (see --help)" >&2
        exit 2
    fi
}

while [ "$#" -gt 0 ]; do
    case "$1" in
        --image) need_value "$@"; image="$2"; shift 2 ;;
        --platform) need_value "$@"; platform="$2"; shift 2 ;;
        --camera) need_value "$@"; camera="$2"; shift 2 ;;
        --no-camera) camera=""; shift ;;
        --models) need_value "$@"; models="$2"; shift 2 ;;
        --domain-id) need_value "$@"; domain_id="$2"; shift 2 ;;
        --backend) need_value "$@"; backend="$2"; shift 2 ;;
        --precision) need_value "$@"; precision="$2"; shift 2 ;;
        --env) need_value "$@"; extra_args+=(-e "$2"); shift 2 ;;
        --volume) need_value "$@"; extra_args+=(-v "$2"); shift 2 ;;
        --name) need_value "$@"; name="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) break ;;
    esac
done

if [ -z "${platform}" ]; then
    if [ -f /etc/nv_tegra_release ]; then platform="jetson"; else platform="x86"; fi
fi
case "${platform}" in
    jetson) gpu_args=(--runtime nvidia) ;;
    x86) gpu_args=(--gpus all) ;;
    *) echo "run.sh: --platform must be jetson or x86, got '${platform}'" >&2; exit 2 ;;
esac
image="${image:-face_ssd:${platform}}"
if ! [[ "${domain_id}" =~ ^[0-9]+$ ]] || [ "${domain_id}" -gt 232 ]; then
    echo "run.sh: ROS_DOMAIN_ID must be an integer 0..232, got '${domain_id}'" >&2
    exit 2
fi
case "${backend}" in tensorrt|onnxruntime|auto) ;; *)
    echo "run.sh: --backend must be tensorrt, onnxruntime or auto, got '${backend}'" >&2; exit 2 ;;
esac
case "${precision}" in fp16|fp32|int8) ;; *)
    echo "run.sh: --precision must be fp16, fp32 or int8, got '${precision}'" >&2; exit 2 ;;
esac

cmd=(docker run --rm --name "${name}" "${gpu_args[@]}" --network host --ipc host
     -v "${models}:/models"
     -e "ROS_DOMAIN_ID=${domain_id}" -e "FACE_SSD_BACKEND=${backend}" -e "FACE_SSD_PRECISION=${precision}")
if [ -t 0 ] && [ -t 1 ]; then
    cmd+=(-it)  # interactive only from a terminal (systemd / CI have none)
fi
for var in ROS_LOCALHOST_ONLY ROS_AUTOMATIC_DISCOVERY_RANGE RMW_IMPLEMENTATION; do
    if [ -n "${!var:-}" ]; then
        cmd+=(-e "${var}=${!var}")  # DDS settings of this shell carry over into the container
    fi
done
argus_socket="${FACE_SSD_ARGUS_SOCKET:-/tmp/argus_socket}"  # (the tests point these two at fakes)
sysfs="${FACE_SSD_SYSFS:-/sys}"
case "${camera}" in
    "") ;;
    csi|csi:[0-7])
        if [ "${platform}" != "jetson" ]; then
            echo "run.sh: --camera ${camera} is a Jetson CSI camera; this is --platform ${platform}" >&2
            exit 2
        fi
        if [ "${dry_run}" -eq 0 ] && [ ! -e "${argus_socket}" ]; then
            echo "run.sh: --camera ${camera} needs nvargus-daemon on the host, but ${argus_socket} does not exist:" \
                 "sudo systemctl restart nvargus-daemon (and check the sensor with nvgstcapture-1.0)" >&2
            exit 1
        fi
        cmd+=(-e "FACE_SSD_CAMERA=${camera}")  # the entrypoint turns it into the csi source (config/csi_camera.yaml)
        ;;
    csi*)
        echo "run.sh: --camera takes csi or csi:N with a sensor id N of 0..7, got '${camera}'" >&2
        exit 2
        ;;
    *)
        if [ "${dry_run}" -eq 0 ] && [ ! -e "${camera}" ]; then
            echo "run.sh: camera ${camera} does not exist (ls /dev/video*); pass --camera DEV, --camera csi or" \
                 "--no-camera" >&2
            exit 1
        fi
        node_name="${sysfs}/class/video4linux/$(basename "${camera}")/name"
        if [ "${platform}" = "jetson" ] && [ -r "${node_name}" ] && grep -q '^vi-output' "${node_name}"; then
            echo "run.sh: ${camera} is the raw Bayer node of a CSI sensor ($(head -n 1 "${node_name}")), which" \
                 "OpenCV cannot decode; use --camera csi (or csi:N for sensor N)" >&2
            exit 1
        fi
        cmd+=(--device "${camera}:${camera}" -e "FACE_SSD_CAMERA=${camera}")
        ;;
esac
if [ "${platform}" = "jetson" ] && { [ -e "${argus_socket}" ] || [[ "${camera}" == csi* ]]; }; then
    cmd+=(-v "${argus_socket}:/tmp/argus_socket")  # CSI cameras through nvarguscamerasrc
fi
cmd+=(${extra_args[@]+"${extra_args[@]}"} "${image}" "$@")

if [ "${dry_run}" -eq 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
mkdir -p "${models}"
exec "${cmd[@]}"

#!/usr/bin/env bash
# Run a face_ssd image with what the pipeline needs: the GPU, the camera, host networking/IPC for DDS, the model
# folder (engine cache) and ROS_DOMAIN_ID. Anything after the options (or after --) is the container command
# (default: the camera -> detector -> overlay pipeline).
#
#   docker/run.sh                                   # auto: Jetson or x86 image, /dev/video0, ./models
#   docker/run.sh --camera /dev/video2 --models ~/face_models --domain-id 7
#   docker/run.sh --backend onnxruntime --no-camera -- face-ssd-trt-bench /models/model.onnx
#   docker/run.sh --dry-run                         # print the docker command only
set -euo pipefail

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --image NAME        image to run (default: face_ssd:jetson on a Jetson, face_ssd:x86 elsewhere)
  --platform P        jetson | x86 (default: detected from /etc/nv_tegra_release)
  --camera DEV        camera device passed through (default /dev/video0); also the pipeline's source
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
if [ -n "${camera}" ]; then
    if [ "${dry_run}" -eq 0 ] && [ ! -e "${camera}" ]; then
        echo "run.sh: camera ${camera} does not exist (ls /dev/video*); pass --camera DEV or --no-camera" >&2
        exit 1
    fi
    cmd+=(--device "${camera}:${camera}" -e "FACE_SSD_CAMERA=${camera}")
fi
if [ "${platform}" = "jetson" ] && [ -e /tmp/argus_socket ]; then
    cmd+=(-v /tmp/argus_socket:/tmp/argus_socket)  # CSI cameras through nvarguscamerasrc
fi
cmd+=(${extra_args[@]+"${extra_args[@]}"} "${image}" "$@")

if [ "${dry_run}" -eq 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
mkdir -p "${models}"
exec "${cmd[@]}"

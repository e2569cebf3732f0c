#!/usr/bin/env bash
# Entrypoint of the face_ssd images.
#   * sources ROS 2 and the face_ssd overlay;
#   * with FACE_SSD_BACKEND=tensorrt, makes sure a TensorRT engine for this model, precision, TensorRT version and
#     GPU is in $FACE_SSD_ENGINE_CACHE (a volume): the first start builds it (minutes on a Jetson Nano), later
#     starts reuse it, and a changed model / TensorRT / GPU triggers a rebuild (face-ssd-build-engine cache policy);
#   * command "pipeline" (the default) runs camera -> detector -> overlay with face_ssd_pipeline; any other
#     command (bash, ros2 launch ..., face-ssd-trt-bench ...) is run as given.
# Environment: FACE_SSD_MODEL (.onnx; default /models/model.onnx if present, else the shipped default model),
# FACE_SSD_BACKEND (tensorrt|onnxruntime|auto), FACE_SSD_PRECISION (fp16|fp32|int8), FACE_SSD_CALIB_IMAGES
# (int8 only), FACE_SSD_CAMERA (/dev/video0, a GStreamer pipeline, a video file...), FACE_SSD_BUILD_ENGINE (1|0).
set -eo pipefail

# shellcheck source-path=SCRIPTDIR source=ros_env.sh
source "$(dirname "$(readlink -f "$0")")/ros_env.sh"
face_ssd_source_ros

backend="${FACE_SSD_BACKEND:-tensorrt}"
precision="${FACE_SSD_PRECISION:-fp16}"
model="${FACE_SSD_MODEL:-}"
if [ -z "${model}" ] && [ -f /models/model.onnx ]; then
    model=/models/model.onnx
fi
if [ -z "${model}" ]; then
    model="$(python3 -c 'from face_ssd_ros.detect.inference import default_model_path; print(default_model_path())')"
fi
export FACE_SSD_ENGINE_CACHE="${FACE_SSD_ENGINE_CACHE:-/models/engines}"

if [ "${backend}" = "tensorrt" ] && [ "${FACE_SSD_BUILD_ENGINE:-1}" = "1" ]; then
    if ! python3 -c 'import tensorrt, pycuda.driver' 2>/dev/null; then
        echo "face_ssd: backend tensorrt, but python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
             "cannot import tensorrt and pycuda. Run the container with the GPU (docker/run.sh does:" \
             "--runtime nvidia on Jetson, --gpus all on x86), or set FACE_SSD_BACKEND=onnxruntime." \
             "On JetPack 4.6 see docker/README.md (TensorRT Python bindings)." >&2
        exit 1
    fi
    build_args=("${model}" --precision "${precision}" --cache-dir "${FACE_SSD_ENGINE_CACHE}")
    if [ "${precision}" = "int8" ] && [ -n "${FACE_SSD_CALIB_IMAGES:-}" ]; then
        build_args+=(--calib-images "${FACE_SSD_CALIB_IMAGES}")
    fi
    echo "face_ssd: checking the TensorRT engine cache ${FACE_SSD_ENGINE_CACHE} (first start builds the engine)"
    face-ssd-build-engine "${build_args[@]}"
fi

if [ "$#" -eq 0 ] || [ "$1" = "pipeline" ]; then
    if [ "$#" -gt 0 ]; then
        shift
    fi
    export FACE_SSD_PRECISION="${precision}"
    exec ros2 run face_ssd_ros face_ssd_pipeline --model "${model}" --source "${FACE_SSD_CAMERA:-/dev/video0}" \
        --set "detector.backend=${backend}" "$@"
fi
exec "$@"

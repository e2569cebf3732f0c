#!/usr/bin/env bash
# Entrypoint of the face_ssd images.
#   * sources ROS 2 and the face_ssd overlay;
#   * says at once when the image has no ONNX Runtime (the JetPack 4.6 image when its wheel could not be
#     installed): the onnxruntime backend is then unavailable and TensorRT is the default;
#   * with FACE_SSD_BACKEND=tensorrt (or auto without ONNX Runtime), makes sure a TensorRT engine for this model,
#     precision, TensorRT version and GPU is in $FACE_SSD_ENGINE_CACHE (a volume): the first start builds it
#     (minutes on a Jetson Nano), later starts reuse it, and a changed model / TensorRT / GPU triggers a rebuild
#     (face-ssd-build-engine cache policy);
#   * command "pipeline" (the default) runs camera -> detector -> overlay with face_ssd_pipeline; any other
#     command (bash, ros2 launch ..., face-ssd-trt-bench ...) is run as given.
# Environment: FACE_SSD_MODEL (.onnx; default /models/model.onnx if present, else the shipped default model),
# FACE_SSD_BACKEND (tensorrt|onnxruntime|auto), FACE_SSD_PRECISION (fp16|fp32|int8), FACE_SSD_CALIB_IMAGES
# (int8 only), FACE_SSD_CAMERA (/dev/video0, csi or csi:N for a Jetson CSI camera, a GStreamer pipeline, a video
# file...), FACE_SSD_BUILD_ENGINE (1|0).
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

python_version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
need_engine=0
if [ "${backend}" = "tensorrt" ]; then
    need_engine=1
fi
if ! python3 -c 'import onnxruntime' 2>/dev/null; then
    echo "face_ssd: the ONNX Runtime backend is unavailable in this image (python${python_version} cannot import" \
         "onnxruntime); TensorRT is the default backend." >&2
    case "${backend}" in
        onnxruntime)
            if [ "$#" -eq 0 ] || [ "$1" = "pipeline" ]; then  # (another command, e.g. a shell, runs anyway)
                echo "face_ssd: FACE_SSD_BACKEND=onnxruntime needs ONNX Runtime: run with" \
                     "FACE_SSD_BACKEND=tensorrt (docker/run.sh --backend tensorrt), or rebuild the image with an" \
                     "onnxruntime wheel for this Python (docker/README.md)." >&2
                exit 1
            fi
            ;;
        auto)
            if [[ "${model}" == *.onnx ]]; then
                need_engine=1  # auto then runs the model's TensorRT engine (face_ssd_ros.detect.backends)
            fi
            ;;
    esac
fi

if [ "${need_engine}" = "1" ] && [ "${FACE_SSD_BUILD_ENGINE:-1}" = "1" ]; then
    if ! python3 -c 'import tensorrt, pycuda.driver; tensorrt.__version__' 2>/dev/null; then
        echo "face_ssd: backend ${backend} needs TensorRT, but python${python_version} cannot import tensorrt and" \
             "pycuda. Run the container with the GPU (docker/run.sh does: --runtime nvidia on Jetson, --gpus all" \
             "on x86), or set FACE_SSD_BACKEND=onnxruntime where the image has ONNX Runtime." \
             "On JetPack 4.6 see docker/README.md (TensorRT Python bindings, pycuda)." >&2
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
    camera="${FACE_SSD_CAMERA:-/dev/video0}"
    source_args=(--source "${camera}")
    case "${camera}" in
        csi|csi:[0-7])  # a Jetson CSI camera through nvarguscamerasrc: the csi_camera.yaml preset (1280x720@30)
            find_preset='from face_ssd_ros.config import pipeline; print(pipeline.find_config("csi_camera.yaml"))'
            preset="$(python3 -c "${find_preset}")"
            sensor="${camera#csi}"
            sensor="${sensor#:}"
            source_args=(--params-file "${preset}" --source csi --set "camera.csi_sensor_id=${sensor:-0}")
            ;;
    esac
    exec ros2 run face_ssd_ros face_ssd_pipeline --model "${model}" "${source_args[@]}" \
        --set "detector.backend=${backend}" "$@"
fi
exec "$@"

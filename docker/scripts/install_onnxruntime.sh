#!/usr/bin/env bash
# Build-time installer of ONNX Runtime (the onnxruntime backend, `auto` on an .onnx, the reference backend of
# face-ssd-trt-parity), run by the Dockerfiles:
#   install_onnxruntime.sh SPEC [WHEEL_NAME]
# SPEC: a pip requirement (x86 and JetPack 5/6: "onnxruntime" from PyPI), the http(s) URL of a wheel (JetPack 4.6:
# NVIDIA's Jetson Zoo wheel; its URL does not end in a wheel file name, so WHEEL_NAME names the download), or
# "" / "none" to install nothing.
# Environment:
#   FACE_SSD_ORT_OPTIONAL=1  a failed download, install or import is a warning, not a build error: the image is
#                            built without ONNX Runtime and its entrypoint says at start-up that the onnxruntime
#                            backend is unavailable and TensorRT is the default (JetPack 4.6, where the wheel
#                            lives outside any package index and may move);
#   FACE_SSD_ORT_NO_DEPS=1   install without dependencies (the Jetson Zoo wheel asks for packages that have no
#                            Python 3.6 aarch64 wheels; it runs with the numpy of the base image);
#   FACE_SSD_ORT_CONSTRAINTS pip constraints passed along (e.g. "numpy<2", so the apt OpenCV keeps its numpy 1.x).
set -eo pipefail

spec="${1:-}"
wheel_name="${2:-}"
workdir=""

log() { echo "[face_ssd onnxruntime] $*"; }

cleanup() {
    if [ -n "${workdir}" ]; then
        rm -rf "${workdir}"
    fi
}
trap cleanup EXIT

fail() {
    if [ "${FACE_SSD_ORT_OPTIONAL:-0}" = "1" ]; then
        log "WARNING: $*. Building without ONNX Runtime: this image runs the TensorRT backend only, and says so" \
            "at start-up."
        python3 -m pip uninstall -y -q onnxruntime onnxruntime-gpu >/dev/null 2>&1 || true
        exit 0
    fi
    log "error: $*" >&2
    exit 1
}

case "${spec}" in
    "" | none)
        log "not installed (no ONNX Runtime build given for this image)"
        exit 0
        ;;
esac

pip_args=(--no-cache-dir)
if [ "${FACE_SSD_ORT_NO_DEPS:-0}" = "1" ]; then
    pip_args+=(--no-deps)
fi
if [ -n "${FACE_SSD_ORT_CONSTRAINTS:-}" ]; then
    workdir="$(mktemp -d)"
    printf '%s\n' "${FACE_SSD_ORT_CONSTRAINTS}" > "${workdir}/constraints.txt"
    pip_args+=(--constraint "${workdir}/constraints.txt")
fi

if [[ "${spec}" =~ ^https?:// ]]; then
    if [ -z "${wheel_name}" ]; then
        wheel_name="$(basename "${spec%%\?*}")"
    fi
    if ! [[ "${wheel_name}" =~ ^[A-Za-z0-9_.]+-[^-]+(-[^-]+)?-[^-]+-[^-]+-[^-]+\.whl$ ]]; then
        log "error: give the wheel's file name for ${spec} as the second argument (pip installs only files named" \
            "NAME-VERSION-PYTHON-ABI-PLATFORM.whl), got '${wheel_name}'" >&2
        exit 2
    fi
    workdir="${workdir:-$(mktemp -d)}"
    log "downloading ${wheel_name} from ${spec}"
    if command -v curl >/dev/null; then
        curl -fsSL --retry 3 -o "${workdir}/${wheel_name}" "${spec}" || fail "cannot download ${spec}"
    elif command -v wget >/dev/null; then
        wget -q -O "${workdir}/${wheel_name}" "${spec}" || fail "cannot download ${spec}"
    else
        fail "neither curl nor wget is installed to download ${spec}"
    fi
    spec="${workdir}/${wheel_name}"
fi

log "pip install ${pip_args[*]} ${spec}"
python3 -m pip install "${pip_args[@]}" "${spec}" || fail "pip cannot install ${spec}"
version="$(python3 -c 'import onnxruntime; print(onnxruntime.__version__)')" \
    || fail "onnxruntime was installed but does not import with this python3"
log "onnxruntime ${version} installed"

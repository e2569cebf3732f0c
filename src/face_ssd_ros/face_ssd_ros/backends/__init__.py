"""Inference backends behind one interface (:class:`~face_ssd_ros.backends.base.Backend`).

Each backend module is imported only when chosen, so a missing TensorRT or PyTorch matters only then.
"""
import importlib
import os

from face_ssd_ros.backends.base import Backend, BackendError

__all__ = ['Backend', 'BackendError', 'BACKEND_NAMES', 'backend_for_path', 'create_backend']

#: name -> (module, class, what to install when the import fails)
_BACKENDS = {
    'onnxruntime': ('face_ssd_ros.backends.onnxruntime_backend', 'OnnxRuntimeBackend',
                    'pip install onnxruntime (x86/aarch64 CPU) or the onnxruntime-gpu wheel for your JetPack'),
    'tensorrt': ('face_ssd_ros.backends.tensorrt_backend', 'TensorRTBackend',
                 'TensorRT and pycuda: on a Jetson they come with JetPack (python3-libnvinfer, pip install pycuda); '
                 'on x86 use the docker/Dockerfile.x86 image'),
    'torch': ('face_ssd_ros.backends.torch_backend', 'TorchBackend',
              'PyTorch and face_ssd_training (pip install torch; pip install -e src/face_ssd_training)'),
}
#: Names accepted by :func:`create_backend`.
BACKEND_NAMES = ('auto',) + tuple(sorted(_BACKENDS))
_BY_EXTENSION = {'.onnx': 'onnxruntime', '.engine': 'tensorrt', '.plan': 'tensorrt', '.trt': 'tensorrt',
                 '.pt': 'torch', '.pth': 'torch'}


def backend_for_path(model_path):
    """The backend name ``auto`` picks for ``model_path`` (by extension); raises BackendError if unknown."""
    ext = os.path.splitext(str(model_path))[1].lower()
    if ext not in _BY_EXTENSION:
        raise BackendError('cannot pick a backend for %s: unknown extension %r (expected %s); set backend '
                           'explicitly or rename the file.' % (model_path, ext, ', '.join(sorted(_BY_EXTENSION))))
    return _BY_EXTENSION[ext]


def create_backend(name, model_path, manifest, **options):
    """Build backend ``name`` (auto|onnxruntime|tensorrt|torch) for ``model_path`` with its ``manifest``.

    ``auto`` picks by file extension (.onnx -> onnxruntime, .engine/.plan/.trt -> tensorrt, .pt/.pth -> torch).
    ``options`` go to the backend (e.g. ``num_threads``, ``input_size``). Raises :class:`BackendError`.
    """
    if name not in BACKEND_NAMES:
        raise BackendError('unknown backend %r; choose one of %s.' % (name, ', '.join(BACKEND_NAMES)))
    if name == 'auto':
        name = backend_for_path(model_path)
    module_name, class_name, install_hint = _BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError('backend %r is not available here (%s): install %s.' % (name, exc, install_hint))
    return getattr(module, class_name)(model_path, manifest, **options)

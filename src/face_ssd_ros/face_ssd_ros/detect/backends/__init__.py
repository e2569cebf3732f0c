"""Inference backends behind one interface (:class:`~face_ssd_ros.detect.backends.base.Backend`).

Each backend module is imported only when chosen, so a missing TensorRT or PyTorch matters only then. Other packages
add backends as plugins, under the entry-point group ``face_ssd_ros.backends`` (``NAME = module:Class``):
face_ssd_training registers ``torch`` (training checkpoints, for debugging), so this package never imports it.
"""
import importlib
import os

from face_ssd_ros.detect.backends.base import Backend, BackendError, BackendUnavailable

__all__ = ['Backend', 'BackendError', 'BackendUnavailable', 'BACKEND_NAMES', 'backend_for_path', 'create_backend']

#: name -> (module, class, what to install when the import fails)
_BACKENDS = {
    'onnxruntime': ('face_ssd_ros.detect.backends.onnxruntime_backend', 'OnnxRuntimeBackend',
                    'pip install onnxruntime (x86/aarch64 CPU) or the onnxruntime-gpu wheel for your JetPack'),
    'tensorrt': ('face_ssd_ros.detect.backends.tensorrt_backend', 'TensorRTBackend',
                 'TensorRT and pycuda: on a Jetson they come with JetPack (python3-libnvinfer, pip install pycuda); '
                 'on x86 use the docker/Dockerfile.x86 image'),
}
#: plugin backends this package knows the install hint of (they register themselves, see the module docstring)
_PLUGIN_HINTS = {'torch': 'PyTorch and face_ssd_training (pip install torch; pip install src/face_ssd_training), '
                          'or export the checkpoint with face-ssd-export and use the onnxruntime backend'}
ENTRY_POINT_GROUP = 'face_ssd_ros.backends'

#: Names accepted by :func:`create_backend`.
BACKEND_NAMES = ('auto',) + tuple(sorted(set(_BACKENDS) | set(_PLUGIN_HINTS)))
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

    ``auto`` picks by file extension (.onnx -> onnxruntime, .engine/.plan/.trt -> tensorrt, .pt/.pth -> torch); for an
    .onnx model where onnxruntime is not installed (the JetPack 4.6 image without its wheel) it runs the model's
    cached TensorRT engine instead and says so in the backend's ``note``.
    ``options`` go to the backend (e.g. ``num_threads``, ``input_size``). Raises :class:`BackendError`
    (:class:`BackendUnavailable` when the backend's library is not installed).
    """
    if name not in BACKEND_NAMES:
        raise BackendError('unknown backend %r; choose one of %s.' % (name, ', '.join(BACKEND_NAMES)))
    if name == 'auto':
        name = backend_for_path(model_path)
        if name == 'onnxruntime':
            return _auto_onnx(model_path, manifest, options)
    if name in _BACKENDS:
        module_name, class_name, install_hint = _BACKENDS[name]
    else:
        install_hint = _PLUGIN_HINTS[name]
        target = plugin_backends().get(name)
        if target is None:
            raise BackendError('backend %r is not available here (no package registers it under the entry-point '
                               'group %s): install %s.' % (name, ENTRY_POINT_GROUP, install_hint))
        module_name, class_name = target.split(':', 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable('backend %r is not available here (%s): install %s.' % (name, exc, install_hint))
    return getattr(module, class_name)(model_path, manifest, **options)


def _auto_onnx(model_path, manifest, options):
    """``auto`` on an .onnx model: ONNX Runtime where it is installed, else the model's cached TensorRT engine."""
    try:
        return create_backend('onnxruntime', model_path, manifest, **options)
    except BackendUnavailable as no_onnxruntime:
        reason = no_onnxruntime
    try:
        backend = create_backend('tensorrt', model_path, manifest, **options)
    except BackendUnavailable as no_tensorrt:
        raise BackendError('backend auto has nothing to run %s with: %s Neither is TensorRT usable: %s'
                           % (model_path, reason, no_tensorrt))
    except BackendError as exc:
        raise BackendError('onnxruntime is not installed here, so backend auto tried TensorRT for %s: %s'
                           % (model_path, exc))
    backend.note = ('backend auto: onnxruntime is not installed here, so %s runs on TensorRT (engine %s)'
                    % (model_path, getattr(backend, 'engine_path', '?')))
    return backend


def plugin_backends():
    """``{name: "module:Class"}`` of the backends installed packages register under :data:`ENTRY_POINT_GROUP`."""
    try:
        from importlib.metadata import entry_points  # Python 3.8+
    except ImportError:  # Python 3.6/3.7 (JetPack 4.6): setuptools' pkg_resources
        try:
            import pkg_resources
        except ImportError:
            return {}
        return dict((ep.name, '%s:%s' % (ep.module_name, '.'.join(ep.attrs)))
                    for ep in pkg_resources.iter_entry_points(ENTRY_POINT_GROUP))
    eps = entry_points()
    group = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, 'select') else eps.get(ENTRY_POINT_GROUP, [])
    return dict((ep.name, ep.value) for ep in group)

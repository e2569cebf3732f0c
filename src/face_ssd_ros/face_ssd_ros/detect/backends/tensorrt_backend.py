"""TensorRT backend: runs a serialized engine built by ``face-ssd-build-engine`` on an NVIDIA GPU (Jetson or x86).

Supports the TensorRT 8.x binding-index API (JetPack 4.6 ships TensorRT 8.0.1, JetPack 4.6.1+ 8.2.1:
``get_binding_index``, ``execute_async_v2``) and the tensor-name API (TensorRT >= 8.5, the only one in 10.x and
11.x: ``set_tensor_address``, ``execute_async_v3``), picked by feature detection. Memory: one page-locked host
buffer and one device buffer per I/O tensor, one CUDA stream; ``infer`` = async H2D copy, enqueue, async D2H copies,
one stream synchronise. Outputs are found by name (the manifest's ``scores`` / ``boxes`` names), never by position.
Dynamic-shape engines get their input shape set per call (buffers are re-allocated when it changes).

Before deserializing, the engine is checked against its sidecar (``face_ssd_ros.detect.engine_cache.check_engine``)
for the
running TensorRT version and GPU, so a stale or foreign engine fails with a message saying how to rebuild it rather
than with a TensorRT "magic tag" error (or, worse, silently).

``tensorrt`` and ``pycuda`` are imported inside the constructor: importing this module never needs them.
"""
import glob
import os
import threading

import numpy as np

from face_ssd_ros.detect import engine_cache
from face_ssd_ros.detect.backends.base import Backend, BackendError, BackendUnavailable

DEFAULT_PRECISION = 'fp16'
PRECISION_ENV = 'FACE_SSD_PRECISION'
_MISSING_TRT_HINT = (
    'The TensorRT backend needs the `tensorrt` Python module ({error}). On a Jetson it comes with JetPack '
    '(`sudo apt install python3-libnvinfer`, or use docker/Dockerfile.jetson*); on x86 install TensorRT '
    '(`pip install tensorrt`, or the nvcr.io/nvidia/tensorrt image, see docker/README.md). '
    'Without a GPU choose backend "onnxruntime".')
_MISSING_PYCUDA_HINT = (
    'The TensorRT backend needs `pycuda` for GPU buffers and streams ({error}). Install it with '
    '`pip install pycuda` (it compiles against the CUDA toolkit: put nvcc on PATH, e.g. '
    'PATH=/usr/local/cuda/bin:$PATH), or choose backend "onnxruntime".')


def import_tensorrt():
    """``(tensorrt, pycuda.driver)``; raises BackendError with an install hint when either is missing.

    A ``tensorrt`` without ``__version__`` (e.g. the empty namespace package that the ``tensorrt-stubs`` type stubs
    leave in site-packages) counts as missing.
    """
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailable(_MISSING_TRT_HINT.format(error=exc))
    if not getattr(trt, '__version__', None):
        where = list(getattr(trt, '__path__', [])) or getattr(trt, '__file__', '?')
        raise BackendUnavailable(_MISSING_TRT_HINT.format(
            error='the `tensorrt` found at %s is not TensorRT, e.g. only its type stubs (tensorrt-stubs)' % (where,)))
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise BackendUnavailable(_MISSING_PYCUDA_HINT.format(error=exc))
    return trt, cuda


def tensorrt_version(trt):
    """The TensorRT version string of an imported ``tensorrt`` module (e.g. '8.2.1.8', '10.3.0')."""
    version = getattr(trt, '__version__', None)
    if not version:
        raise BackendError('this `tensorrt` module reports no __version__ (TensorRT < 7?); face_ssd needs '
                           'TensorRT 8.x or 10.x.')
    return str(version)


def strongly_typed_only(trt):
    """True for a TensorRT whose builder has no FP16/INT8 flags (TensorRT >= 11: strongly typed networks only, the
    precision of every layer comes from the model), False for TensorRT 8.x-10.x."""
    return not hasattr(getattr(trt, 'BuilderFlag', None), 'FP16')


def default_precision(trt):
    """The engine precision used when none is asked for: 'fp16' (what a Jetson should run) where this TensorRT can
    build it from an fp32 model (8.x-10.x), else 'fp32' (TensorRT >= 11, see :func:`strongly_typed_only`)."""
    return 'fp32' if strongly_typed_only(trt) else DEFAULT_PRECISION


def unsupported_precision_message(trt, precision):
    """Why this TensorRT cannot build a ``precision`` engine from an fp32 ONNX model, and what to do; None if it can."""
    if precision == 'fp32' or not strongly_typed_only(trt):
        return None
    return ('TensorRT %s builds strongly typed networks only (TensorRT 11 removed BuilderFlag.FP16/INT8 and INT8 '
            'calibration), so it cannot turn this fp32 model into a %s engine. Use precision fp32 with this '
            'TensorRT, or TensorRT 8.x-10.x for fp16/int8 (e.g. `pip install "tensorrt<11"`, or the '
            'nvcr.io/nvidia/tensorrt:24.08-py3 base of docker/Dockerfile.x86).'
            % (getattr(trt, '__version__', '?'), precision))


def push_device_context(cuda_device):
    """Retain the device's primary context (the one TensorRT's CUDA runtime calls use) and make it current.

    Returns the pycuda Context; the caller pops it (``ctx.pop()``) and finally releases it (``ctx.detach()``).
    """
    if hasattr(cuda_device, 'retain_primary_context'):
        ctx = cuda_device.retain_primary_context()
        ctx.push()
        return ctx
    return cuda_device.make_context()  # old pycuda: a new context, already current


class _TensorIO(object):
    """Name-based I/O API (TensorRT >= 8.5; the only one in TensorRT 10)."""

    api = 'tensor-name'

    def __init__(self, trt, engine, context):
        self._trt, self._engine, self._context = trt, engine, context

    def names(self):
        return [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]

    def is_input(self, name):
        return self._engine.get_tensor_mode(name) == self._trt.TensorIOMode.INPUT

    def engine_shape(self, name):
        return tuple(int(d) for d in self._engine.get_tensor_shape(name))

    def dtype(self, name):
        return np.dtype(self._trt.nptype(self._engine.get_tensor_dtype(name)))

    def profile(self, name):
        """``(min, opt, max)`` shapes of an input in optimization profile 0."""
        if hasattr(self._engine, 'get_tensor_profile_shape'):
            shapes = self._engine.get_tensor_profile_shape(name, 0)
        else:
            shapes = self._engine.get_profile_shape(0, name)
        return tuple(tuple(int(d) for d in s) for s in shapes)

    def set_input_shape(self, name, shape):
        return self._context.set_input_shape(name, tuple(shape))

    def shape(self, name):
        return tuple(int(d) for d in self._context.get_tensor_shape(name))

    def bind(self, name, address):
        self._context.set_tensor_address(name, int(address))

    def execute(self, stream_handle):
        return self._context.execute_async_v3(stream_handle)


class _BindingIO(object):
    """Binding-index I/O API of TensorRT 7.x/8.x (JetPack 4.6.x: TensorRT 8.0.1 / 8.2.1). Uses optimization profile
    0."""

    api = 'bindings'

    def __init__(self, trt, engine, context):
        self._trt, self._engine, self._context = trt, engine, context
        profiles = max(1, int(getattr(engine, 'num_optimization_profiles', 1)))
        self._count = int(engine.num_bindings) // profiles
        self._addresses = [0] * int(engine.num_bindings)

    def _index(self, name):
        index = self._engine.get_binding_index(name)
        if index is None or index < 0:
            raise KeyError(name)
        return index

    def names(self):
        return [self._engine.get_binding_name(i) for i in range(self._count)]

    def is_input(self, name):
        return bool(self._engine.binding_is_input(self._index(name)))

    def engine_shape(self, name):
        return tuple(int(d) for d in self._engine.get_binding_shape(self._index(name)))

    def dtype(self, name):
        return np.dtype(self._trt.nptype(self._engine.get_binding_dtype(self._index(name))))

    def profile(self, name):
        shapes = self._engine.get_profile_shape(0, self._index(name))
        return tuple(tuple(int(d) for d in s) for s in shapes)

    def set_input_shape(self, name, shape):
        return self._context.set_binding_shape(self._index(name), tuple(shape))

    def shape(self, name):
        return tuple(int(d) for d in self._context.get_binding_shape(self._index(name)))

    def bind(self, name, address):
        self._addresses[self._index(name)] = int(address)

    def execute(self, stream_handle):
        return self._context.execute_async_v2(bindings=self._addresses, stream_handle=stream_handle)


def select_io(trt, engine, context):
    """The I/O adapter for this TensorRT: tensor-name API when the engine/context offer it, else bindings."""
    if hasattr(engine, 'num_io_tensors') and hasattr(context, 'execute_async_v3'):
        return _TensorIO(trt, engine, context)
    if hasattr(engine, 'num_bindings') and hasattr(context, 'execute_async_v2'):
        return _BindingIO(trt, engine, context)
    raise BackendError('unsupported TensorRT %s: its engines offer neither execute_async_v3 (TensorRT >= 8.5) nor '
                       'execute_async_v2 (TensorRT 7/8); use TensorRT 8.x or 10.x.'
                       % getattr(trt, '__version__', '?'))


class _Buffer(object):
    """Page-locked host array + device allocation of one I/O tensor."""

    def __init__(self, cuda, shape, dtype):
        self.shape = tuple(shape)
        self.host = cuda.pagelocked_empty(self.shape, dtype)
        self.device = cuda.mem_alloc(max(1, self.host.nbytes))

    def free(self):
        if self.device is not None:
            self.device.free()
        self.device = None
        self.host = None


def find_cached_engine(cache_dir, model_path, manifest, precision, trt_version, gpu_name):
    """Path of the cached engine of ``model_path`` for this TensorRT/GPU/precision, or None.

    The fixed-shape key is tried first, then (for a dynamic-size model) any dynamic-profile build of the same model.
    """
    sha = engine_cache.file_sha256(model_path)
    key = engine_cache.engine_key(sha, precision, trt_version, gpu_name, input_size=(manifest.width, manifest.height))
    path = engine_cache.cache_path(cache_dir, key)
    if os.path.isfile(path):
        return path
    prefix = engine_cache.engine_key(sha, precision, trt_version, gpu_name)
    dynamic = sorted(glob.glob(os.path.join(glob.escape(cache_dir), prefix + '_dyn*.engine')))
    return dynamic[0] if dynamic else None


def _manifest_differences(manifest, built):
    """Fields on which the runtime's manifest and the one stored in the engine sidecar disagree."""
    built_input = built.get('input') or {}
    pairs = (('input.name', manifest.input_name, built_input.get('name')),
             ('input.width', manifest.width, built_input.get('width')),
             ('input.height', manifest.height, built_input.get('height')),
             ('labels', list(manifest.labels), built.get('labels')),
             ('num_priors', manifest.num_priors, built.get('num_priors')))
    return ['%s: %r vs %r (engine)' % (name, ours, theirs) for name, ours, theirs in pairs if ours != theirs]


class TensorRTBackend(Backend):
    """Run a TensorRT engine. ``infer(batch [1, 3, h, w] float32) -> (scores [1, N, C], boxes [1, N, 4])``.

    ``model_path``: an engine (.engine/.plan/.trt) with its sidecar, or an .onnx model whose engine is looked up in
    the engine cache (never built here: the error says which ``face-ssd-build-engine`` command builds it).
    Options (others are ignored, so one option dict can serve every backend):
      ``device`` (int, default 0): CUDA device index;
      ``precision`` ('fp32'|'fp16'|'int8'): required precision (default: any for an engine path; for .onnx
      ``$FACE_SSD_PRECISION``, else :func:`default_precision`: fp16, or fp32 on TensorRT >= 11);
      ``engine_cache_dir`` (str): cache for .onnx models (default ``$FACE_SSD_ENGINE_CACHE`` or
      ``<model dir>/engines``);
      ``check_source_model`` (bool, default True): if the ONNX model recorded in the sidecar exists, refuse the
      engine when that model changed since the build.
    Not thread-safe across processes; calls from several threads are serialised by a lock.
    """

    name = 'tensorrt'

    def __init__(self, model_path, manifest, **options):
        super(TensorRTBackend, self).__init__(model_path, manifest, **options)
        self._closed = True
        self._lock = threading.Lock()
        self._buffers = {}
        self._ctx = None
        trt, cuda = import_tensorrt()
        self._trt, self._cuda = trt, cuda
        device = int(options.get('device', 0) or 0)
        precision = options.get('precision') or None
        version = tensorrt_version(trt)
        cuda.init()
        if device < 0 or device >= cuda.Device.count():
            raise BackendError('CUDA device %d does not exist (%d visible); set the device option to 0..%d, and '
                               'in Docker pass the GPU (--runtime nvidia on Jetson, --gpus all on x86).'
                               % (device, cuda.Device.count(), max(0, cuda.Device.count() - 1)))
        cuda_device = cuda.Device(device)
        self.gpu_name = str(cuda_device.name())
        self.engine_path = self._resolve_engine(model_path, manifest, precision, version, options)
        onnx_path = None if engine_cache.is_engine_path(os.fspath(model_path)) else os.fspath(model_path)
        self._check(self.engine_path, manifest, precision, version, options, onnx_path)
        self._ctx = push_device_context(cuda_device)
        try:
            self._load(self.engine_path, manifest)
        except Exception:
            self._free_buffers()
            self._ctx.pop()
            self._release_context()
            raise
        self._ctx.pop()
        self._closed = False

    # ------------------------------------------------------------------ set-up
    def _resolve_engine(self, model_path, manifest, precision, version, options):
        model_path = os.fspath(model_path)
        if engine_cache.is_engine_path(model_path):
            return model_path
        if not model_path.lower().endswith('.onnx'):
            raise BackendError('the TensorRT backend runs .engine/.plan/.trt files (or finds the cached engine of an '
                               '.onnx model); got %s.' % model_path)
        cache_dir = options.get('engine_cache_dir') or engine_cache.default_cache_dir(model_path)
        precision = precision or os.environ.get(PRECISION_ENV) or default_precision(self._trt)
        if not os.path.isfile(model_path):
            raise BackendError('model not found: %s' % model_path)
        path = find_cached_engine(cache_dir, model_path, manifest, precision, version, self.gpu_name)
        if path is None:
            unsupported = unsupported_precision_message(self._trt, precision)
            if unsupported:
                raise BackendError('no %s TensorRT engine of %s in %s: %s' % (precision, model_path, cache_dir,
                                                                              unsupported))
            raise BackendError('no %s TensorRT engine of %s for TensorRT %s on "%s" in %s. Build it once on this '
                               'machine with `%s` (minutes on a Jetson Nano), or choose backend "onnxruntime".'
                               % (precision, model_path, version, self.gpu_name, cache_dir,
                                  engine_cache.build_command(model_path, precision, cache_dir=cache_dir)))
        return path

    def _check(self, engine_path, manifest, precision, version, options, onnx_path=None):
        """check_engine for this TensorRT/GPU, plus staleness against ``onnx_path`` (the model the caller named) or
        else the source model recorded in the sidecar when it still exists; then the manifest."""
        expected = {'tensorrt_version': version, 'gpu_name': self.gpu_name, 'precision': precision}
        try:
            info = engine_cache.read_sidecar(engine_path) if os.path.isfile(engine_path) else {}
            source = onnx_path or info.get('source_model')
            if options.get('check_source_model', True) and source and os.path.isfile(source):
                expected['model_path'] = source
            engine_cache.check_engine(engine_path, expected)
        except engine_cache.EngineMismatch as exc:
            raise BackendError(str(exc))
        differences = _manifest_differences(manifest, info.get('manifest') or {})
        if differences:
            raise BackendError('the model manifest given (%s) does not match the one engine %s was built with: %s. '
                               'Use the manifest from the engine sidecar %s, or rebuild the engine from this model.'
                               % (getattr(manifest, 'source', '?'), engine_path, '; '.join(differences),
                                  engine_cache.sidecar_path(engine_path)))

    def _load(self, engine_path, manifest):
        trt, cuda = self._trt, self._cuda
        with open(engine_path, 'rb') as f:
            data = f.read()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise BackendError('TensorRT could not deserialize %s (see the TensorRT error above); rebuild it on this '
                               'machine with `%s`.' % (engine_path, engine_cache.BUILD_TOOL))
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise BackendError('TensorRT could not create an execution context for %s (out of GPU memory?).'
                               % engine_path)
        self._io = select_io(trt, self._engine, self._context)
        names = self._io.names()
        inputs = [n for n in names if self._io.is_input(n)]
        outputs = [n for n in names if not self._io.is_input(n)]
        problems = []
        if inputs != [manifest.input_name]:
            problems.append('inputs %s (manifest: [%r])' % (inputs, manifest.input_name))
        for wanted in (manifest.scores_name, manifest.boxes_name):
            if wanted not in outputs:
                problems.append('no output %r (outputs: %s)' % (wanted, outputs))
        if problems:
            raise BackendError('engine %s does not match its manifest: %s. Rebuild it from the exported ONNX model.'
                               % (engine_path, '; '.join(problems)))
        self._input_name = manifest.input_name
        self._outputs = outputs
        self._stream = cuda.Stream()
        engine_shape = self._io.engine_shape(self._input_name)
        self.dynamic = any(d < 0 for d in engine_shape)
        self._profile = self._io.profile(self._input_name) if self.dynamic else None
        self._shape = None
        self.api = self._io.api
        if not self.dynamic:
            self._configure(engine_shape)

    def _configure(self, shape):
        """Set the input shape (dynamic engines) and (re)allocate every I/O buffer for it. Context must be current."""
        shape = tuple(int(d) for d in shape)
        if self.dynamic:
            low, _, high = self._profile
            if len(shape) != len(low) or any(s < lo or s > hi for s, lo, hi in zip(shape, low, high)):
                raise BackendError('input shape %s is outside the engine\'s optimization profile %s..%s; rebuild '
                                   'with a wider --min/--max (face-ssd-build-engine --help).'
                                   % (list(shape), list(low), list(high)))
            if self._io.set_input_shape(self._input_name, shape) is False:
                raise BackendError('TensorRT rejected input shape %s for %s.' % (list(shape), self.engine_path))
        self._free_buffers()
        for name in [self._input_name] + self._outputs:
            tensor_shape = shape if name == self._input_name else self._io.shape(name)
            if any(d < 0 for d in tensor_shape):
                raise BackendError('TensorRT left output %r with an unresolved shape %s for input %s.'
                                   % (name, list(tensor_shape), list(shape)))
            self._buffers[name] = _Buffer(self._cuda, tensor_shape, self._io.dtype(name))
            self._io.bind(name, self._buffers[name].device)
        at_manifest_size = (shape[2], shape[3]) == (self.manifest.height, self.manifest.width)
        try:
            self.manifest.check_outputs(self._buffers[self.manifest.scores_name].shape,
                                        self._buffers[self.manifest.boxes_name].shape,
                                        expect_num_priors=at_manifest_size)
        except ValueError as exc:  # ManifestError
            raise BackendError(str(exc))
        self._shape = shape

    # ------------------------------------------------------------------ inference
    def infer(self, batch):
        """``batch`` np.float32 [1, 3, h, w] (normalised) -> ``(scores [1, N, C], boxes [1, N, 4])`` float32 copies.

        Raises ValueError for a malformed batch (like every backend) and BackendError when TensorRT fails.
        """
        self.check_batch(batch)
        with self._lock:
            if self._closed:
                raise BackendError('TensorRT backend used after close()')
            cuda = self._cuda
            self._ctx.push()
            try:
                if tuple(batch.shape) != self._shape:
                    if not self.dynamic:
                        raise BackendError('engine %s takes input %s, got %s; resize with '
                                           'face_ssd_ros.detect.preprocess '
                                           'or build a dynamic-shape engine.'
                                           % (self.engine_path, list(self._shape), list(batch.shape)))
                    self._configure(batch.shape)
                source = self._buffers[self._input_name]
                np.copyto(source.host, batch, casting='same_kind')
                cuda.memcpy_htod_async(source.device, source.host, self._stream)
                if self._io.execute(self._stream.handle) is False:
                    raise BackendError('TensorRT execution of %s failed (see the TensorRT error above).'
                                       % self.engine_path)
                for name in self._outputs:
                    cuda.memcpy_dtoh_async(self._buffers[name].host, self._buffers[name].device, self._stream)
                self._stream.synchronize()
                scores = np.array(self._buffers[self.manifest.scores_name].host, dtype=np.float32, copy=True)
                boxes = np.array(self._buffers[self.manifest.boxes_name].host, dtype=np.float32, copy=True)
            finally:
                self._ctx.pop()
        return scores, boxes

    # ------------------------------------------------------------------ teardown
    def _free_buffers(self):
        for buffer in self._buffers.values():
            buffer.free()
        self._buffers = {}

    def _release_context(self):
        if self._ctx is not None:
            self._ctx.detach()
            self._ctx = None

    def close(self):
        """Free the GPU buffers, stream, execution context and engine; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._ctx.push()
            try:
                self._free_buffers()
                self._context = None
                self._engine = None
                self._runtime = None
                self._stream = None
            finally:
                self._ctx.pop()
                self._release_context()

"""Shared helpers of the TensorRT tests: a manifest, a tiny real ONNX model, and fake ``tensorrt`` / ``pycuda``.

The fakes emulate the parts of the two TensorRT Python APIs the backend uses (8.x bindings, 10.x tensor names)
and a pycuda whose "device memory" is numpy arrays addressed by integer pointers, so the backend's data flow
(page-locked buffers, H2D/D2H copies, addresses bound by name, dynamic shapes, context push/pop, frees) runs for
real on a CPU. A fake engine computes a simple known function of its input, so wrong bindings give wrong numbers.
"""
import json
import os
import sys
import types

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # tests/engine/ -> repo
SHARED_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))
FAKE_PLAN_MAGIC = b'FAKEPLAN'
CELL = 8  # the fake network has one prior per 8x8 input cell


def manifest_dict(width=320, height=240, dynamic=False, num_priors=None):
    """A valid face_ssd manifest (ARCHITECTURE.md) for a 2-class model with one prior per 8x8 cell."""
    return {
        'format': 'face_ssd.model', 'format_version': 1, 'name': 'tiny-test', 'arch': 'test',
        'input': {'name': 'input', 'width': width, 'height': height, 'layout': 'NCHW', 'dtype': 'float32',
                  'channel_order': 'RGB', 'mean': [127.0, 127.0, 127.0], 'std': [128.0, 128.0, 128.0],
                  'resize': 'stretch', 'dynamic_size': dynamic},
        'labels': ['background', 'face'],
        'outputs': {'scores': {'name': 'scores', 'activation': 'softmax'},
                    'boxes': {'name': 'boxes', 'format': 'xyxy_normalized'}},
        'num_priors': num_priors or (width // CELL) * (height // CELL),
        'postprocess': {'score_threshold': 0.6, 'nms_iou': 0.3, 'max_detections': 200},
    }


def make_manifest(**kwargs):
    from face_ssd_ros.detect.manifest import ModelManifest
    return ModelManifest.from_dict(manifest_dict(**kwargs), source='<test manifest>')


def write_tiny_onnx(directory, width=320, height=240, seed=0):
    """A real ONNX model honouring the model contract (``input`` -> ``scores`` [1,N,2], ``boxes`` [1,N,4]).

    Graph: 8x8 average pool -> 1x1 conv (6 ch, fixed random weights) -> [1, N, 6]; channels 0-1 -> softmax
    (scores), 2-5 -> boxes around the cell centres. Writes NAME.onnx + NAME.json; returns the .onnx path.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    gw, gh = width // CELL, height // CELL
    n = gw * gh
    ys, xs = np.mgrid[0:gh, 0:gw]
    centres = np.stack([(xs + 0.5) / gw, (ys + 0.5) / gh], axis=-1).reshape(1, n, 2).astype(np.float32)
    inits = [
        numpy_helper.from_array((rng.standard_normal((6, 3, 1, 1)) * 2.0).astype(np.float32), 'w'),
        numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), 'b'),
        numpy_helper.from_array(np.array([1, n, 6], dtype=np.int64), 'shape'),
        numpy_helper.from_array(np.array([2, 2, 2], dtype=np.int64), 'split'),
        numpy_helper.from_array(centres, 'centres'),
        numpy_helper.from_array(np.array(0.1, dtype=np.float32), 'half'),
    ]
    nodes = [
        helper.make_node('AveragePool', ['input'], ['pooled'], kernel_shape=[CELL, CELL], strides=[CELL, CELL]),
        helper.make_node('Conv', ['pooled', 'w', 'b'], ['conv']),
        helper.make_node('Transpose', ['conv'], ['nhwc'], perm=[0, 2, 3, 1]),
        helper.make_node('Reshape', ['nhwc', 'shape'], ['raw']),
        helper.make_node('Split', ['raw', 'split'], ['logits', 'r1', 'r2'], axis=2),
        helper.make_node('Softmax', ['logits'], ['scores'], axis=2),
        helper.make_node('Sigmoid', ['r1'], ['s1']),
        helper.make_node('Sigmoid', ['r2'], ['s2']),
        helper.make_node('Mul', ['s1', 'half'], ['d1']),
        helper.make_node('Mul', ['s2', 'half'], ['d2']),
        helper.make_node('Sub', ['centres', 'd1'], ['xy1']),
        helper.make_node('Add', ['centres', 'd2'], ['xy2']),
        helper.make_node('Concat', ['xy1', 'xy2'], ['boxes'], axis=2),
    ]
    graph = helper.make_graph(
        nodes, 'tiny', [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info('scores', TensorProto.FLOAT, [1, n, 2]),
         helper.make_tensor_value_info('boxes', TensorProto.FLOAT, [1, n, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    path = os.path.join(str(directory), 'tiny.onnx')
    onnx.save(model, path)
    with open(os.path.join(str(directory), 'tiny.json'), 'w') as f:
        json.dump(manifest_dict(width, height), f)
    return path


def real_images(subdir='faces/dlib/images'):
    """Folder of real images from the shared data set, or None when it is not available."""
    path = os.path.join(SHARED_DATA, subdir)
    return path if os.path.isdir(path) else None


# ------------------------------------------------------------------------------------------------ fake pycuda
class FakeCuda(types.ModuleType):
    """A pycuda.driver stand-in: device memory = numpy byte arrays keyed by integer addresses."""

    def __init__(self, gpu_name='NVIDIA Test GPU', devices=1):
        types.ModuleType.__init__(self, 'pycuda.driver')
        self.gpu_name = gpu_name
        self.devices = devices
        self.memory = {}
        self.context_depth = 0
        self.retained = 0
        self.next_address = 0x1000
        self.copies = []
        fake = self

        class Context(object):
            def push(self):
                fake.context_depth += 1

            def pop(self):
                assert fake.context_depth > 0, 'pop() without a current context'
                fake.context_depth -= 1

            def detach(self):
                fake.retained -= 1

        class Device(object):
            def __init__(self, index):
                assert 0 <= index < fake.devices
                self.index = index

            @staticmethod
            def count():
                return fake.devices

            def name(self):
                return fake.gpu_name

            def retain_primary_context(self):
                fake.retained += 1
                return Context()

        class Allocation(object):
            def __init__(self, nbytes):
                fake.require_context()
                self.address = fake.next_address
                fake.next_address += nbytes + 256
                fake.memory[self.address] = np.zeros(nbytes, dtype=np.uint8)

            def __int__(self):
                return self.address

            def free(self):
                del fake.memory[self.address]

        class Stream(object):
            handle = 0xABC

            def synchronize(self):
                fake.require_context()

        self.Device, self.Stream, self._Allocation = Device, Stream, Allocation

    def require_context(self):
        assert self.context_depth > 0, 'CUDA call without a current context (missing ctx.push())'

    def init(self):
        pass

    def pagelocked_empty(self, shape, dtype):
        return np.empty(shape, dtype=dtype)

    def mem_alloc(self, nbytes):
        return self._Allocation(int(nbytes))

    def _block(self, device):
        return self.memory[int(device)]

    def memcpy_htod_async(self, device, host, stream=None):
        self.require_context()
        raw = np.ascontiguousarray(host).view(np.uint8).reshape(-1)
        block = self._block(device)
        assert raw.size <= block.size, 'H2D copy of %d bytes into a %d-byte allocation' % (raw.size, block.size)
        block[:raw.size] = raw
        self.copies.append('htod')

    memcpy_htod = memcpy_htod_async

    def memcpy_dtoh_async(self, host, device, stream=None):
        self.require_context()
        block = self._block(device)
        view = host.reshape(-1).view(np.uint8)
        assert view.size <= block.size
        view[:] = block[:view.size]
        self.copies.append('dtoh')

    def read(self, address, shape, dtype=np.float32):
        count = int(np.prod(shape))
        return self.memory[int(address)][:count * np.dtype(dtype).itemsize].view(dtype).reshape(shape).copy()

    def write(self, address, array):
        raw = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        block = self.memory[int(address)]
        assert raw.size <= block.size, 'engine output of %d bytes into a %d-byte buffer' % (raw.size, block.size)
        block[:raw.size] = raw


# ------------------------------------------------------------------------------------------------ fake tensorrt
def _version(text):
    """'11.4.0.106' -> (11, 4)."""
    return tuple(int(x) for x in text.split('.')[:2])


def fake_network(x):
    """What every fake engine computes: ``x`` [1, 3, H, W] -> dict of outputs (N = (H/8)*(W/8) priors)."""
    _, _, h, w = x.shape
    cells = x[0, 0, :h // CELL * CELL, :w // CELL * CELL].reshape(h // CELL, CELL, w // CELL, CELL).mean(axis=(1, 3))
    m = cells.reshape(1, -1).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-m))
    scores = np.stack([1.0 - p, p], axis=-1).astype(np.float32)
    boxes = np.stack([m, m + 1, m + 2, m + 3], axis=-1).astype(np.float32)
    return {'scores': scores, 'boxes': boxes, 'extra': np.array([[x.sum()]], dtype=np.float32)}


def fake_plan(input_shape, profile=None, outputs=('boxes', 'extra', 'scores')):
    """Bytes of a fake engine; outputs are deliberately NOT in (scores, boxes) order."""
    spec = {'input': 'input', 'shape': list(input_shape), 'profile': profile, 'outputs': list(outputs)}
    return FAKE_PLAN_MAGIC + json.dumps(spec).encode()


class _EngineCore(object):
    def __init__(self, spec):
        self.spec = spec
        self.names = [spec['input']] + spec['outputs']

    def output_shape(self, name, in_shape):
        if any(d < 0 for d in in_shape):
            return {'scores': (1, -1, 2), 'boxes': (1, -1, 4), 'extra': (1, 1)}[name]
        n = (in_shape[2] // CELL) * (in_shape[3] // CELL)
        return {'scores': (1, n, 2), 'boxes': (1, n, 4), 'extra': (1, 1)}[name]

    def shape(self, name, in_shape):
        return tuple(in_shape) if name == self.spec['input'] else self.output_shape(name, in_shape)

    def profile(self):
        return tuple(tuple(s) for s in self.spec['profile'])

    def accepts(self, shape):
        if self.spec['profile'] is None:
            return tuple(shape) == tuple(self.spec['shape'])
        low, _, high = self.spec['profile']
        return all(lo <= s <= hi for s, lo, hi in zip(shape, low, high))

    def run(self, cuda, addresses, in_shape):
        x = cuda.read(addresses[self.spec['input']], in_shape)
        for name, value in fake_network(x).items():
            if name in self.spec['outputs']:
                cuda.write(addresses[name], value)
        return True


def make_fake_trt(cuda, api='tensor', version='10.3.0'):
    """A ``tensorrt`` stand-in exposing the tensor-name API (``api='tensor'``, TensorRT >= 8.5) or the 8.x bindings
    API (``api='bindings'``) of the runtime, for TensorRT ``version`` (names checked against NVIDIA's stubs by
    tests/engine/test_tensorrt_api_surface.py)."""
    trt = types.ModuleType('tensorrt')
    trt.__version__ = version

    class Logger(object):
        VERBOSE, INFO, WARNING, ERROR = 0, 1, 2, 3

        def __init__(self, min_severity=2):
            self.min_severity = min_severity

    class TensorIOMode(object):
        INPUT, OUTPUT = 'INPUT', 'OUTPUT'

    trt.Logger, trt.TensorIOMode = Logger, TensorIOMode
    trt.nptype = lambda dtype: np.float32
    # TensorRT 11 builds strongly typed networks only: its BuilderFlag has no FP16/INT8 (the backend's default
    # precision follows from that)
    trt.BuilderFlag = types.SimpleNamespace(TF32='TF32') if _version(version) >= (11, 0) else \
        types.SimpleNamespace(FP16='FP16', INT8='INT8', TF32='TF32')

    class TensorContext(object):
        def __init__(self, core):
            self._core = core
            self._in_shape = tuple(core.spec['shape'])
            self._addresses = {}

        def set_input_shape(self, name, shape):
            assert name == self._core.spec['input']
            if not self._core.accepts(shape):
                return False
            self._in_shape = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            return self._core.shape(name, self._in_shape)

        def set_tensor_address(self, name, address):
            assert name in self._core.names, name
            self._addresses[name] = int(address)
            return True

        def execute_async_v3(self, stream_handle):
            cuda.require_context()
            assert set(self._addresses) == set(self._core.names), 'unbound tensors'
            return self._core.run(cuda, self._addresses, self._in_shape)

    class TensorEngine(object):
        def __init__(self, core):
            self._core = core
            self.num_io_tensors = len(core.names)

        def get_tensor_name(self, i):
            return self._core.names[i]

        def get_tensor_mode(self, name):
            return TensorIOMode.INPUT if name == self._core.spec['input'] else TensorIOMode.OUTPUT

        def get_tensor_shape(self, name):
            return self._core.shape(name, tuple(self._core.spec['shape']))

        def get_tensor_dtype(self, name):
            return 'FLOAT'

        def get_tensor_profile_shape(self, name, index):
            return self._core.profile()

        def create_execution_context(self):
            return TensorContext(self._core)

    class BindingContext(object):
        def __init__(self, core):
            self._core = core
            self._in_shape = tuple(core.spec['shape'])

        def set_binding_shape(self, index, shape):
            assert index == 0
            if not self._core.accepts(shape):
                return False
            self._in_shape = tuple(shape)
            return True

        def get_binding_shape(self, index):
            return self._core.shape(self._core.names[index], self._in_shape)

        def execute_async_v2(self, bindings, stream_handle):
            cuda.require_context()
            assert len(bindings) == len(self._core.names) and all(bindings), 'unbound bindings %s' % bindings
            return self._core.run(cuda, dict(zip(self._core.names, bindings)), self._in_shape)

    class BindingEngine(object):
        num_optimization_profiles = 1

        def __init__(self, core):
            self._core = core
            self.num_bindings = len(core.names)

        def get_binding_name(self, index):
            return self._core.names[index]

        def get_binding_index(self, name):
            return self._core.names.index(name) if name in self._core.names else -1

        def binding_is_input(self, index):
            return index == 0

        def get_binding_shape(self, index):
            return self._core.shape(self._core.names[index], tuple(self._core.spec['shape']))

        def get_binding_dtype(self, index):
            return 'FLOAT'

        def get_profile_shape(self, profile_index, binding):
            return self._core.profile()

        def create_execution_context(self):
            return BindingContext(self._core)

    class Runtime(object):
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            if not data.startswith(FAKE_PLAN_MAGIC):
                return None
            core = _EngineCore(json.loads(data[len(FAKE_PLAN_MAGIC):].decode()))
            return TensorEngine(core) if api == 'tensor' else BindingEngine(core)

    trt.Runtime = Runtime
    return trt


# ------------------------------------------------------------------------------------------------ fake TensorRT builder
class FakeBuilderTRT(types.ModuleType):
    """Records what build_serialized_engine asks of the TensorRT builder API of a given version.

    The API surface follows the real one per version (tests/engine/test_tensorrt_api_surface.py checks the names
    against NVIDIA's 10.x type stubs): ``max_workspace_size`` below 8.4 (``set_memory_pool_limit`` from 8.4),
    ``IProgressMonitor`` from 10, and from 11 only strongly typed networks: no ``BuilderFlag.FP16/INT8``, no
    ``EXPLICIT_BATCH``, no INT8 calibrator API, no ``platform_has_fast_*``.
    """

    def __init__(self, version='8.2.1.8', input_shape=(1, 3, 240, 320), input_name='input',
                 outputs=('boxes', 'scores'), parse_errors=(), fast_fp16=True, fast_int8=True, fail=False,
                 plan=b'\x00serialized fake engine'):
        types.ModuleType.__init__(self, 'tensorrt')
        self.__version__ = version
        self.calls = []
        self.parsed = []
        rec = self
        modern = _version(version) >= (8, 4)
        typed_only = _version(version) >= (11, 0)

        class Logger(object):
            VERBOSE, WARNING = 0, 2

            def __init__(self, severity):
                rec.calls.append(('logger', severity))

        class ITensor(object):
            def __init__(self, name, shape=()):
                self.name, self.shape = name, shape

        class INetworkDefinition(object):
            num_inputs = 1
            num_outputs = len(outputs)

            def get_input(self, index):
                return ITensor(input_name, input_shape)

            def get_output(self, index):
                return ITensor(outputs[index])

        class OnnxParser(object):
            num_errors = len(parse_errors)

            def __init__(self, network, logger):
                pass

            def parse(self, model):
                rec.calls.append(('parse', len(model)))
                rec.parsed.append(bytes(model))
                return not parse_errors

            def get_error(self, index):
                return parse_errors[index]

        class IOptimizationProfile(object):
            def set_shape(self, input, min, opt, max):
                rec.calls.append(('profile', input, min, opt, max))

        class IBuilderConfig(object):
            progress_monitor = None

            def set_flag(self, flag):
                rec.calls.append(('flag', flag))

            def add_optimization_profile(self, profile):
                rec.calls.append(('add_profile',))

        if modern:
            IBuilderConfig.set_memory_pool_limit = lambda self, pool, pool_size: rec.calls.append(
                ('pool', pool, pool_size))
        else:
            IBuilderConfig.max_workspace_size = None
        if not typed_only:
            IBuilderConfig.int8_calibrator = None
            IBuilderConfig.set_calibration_profile = lambda self, profile: rec.calls.append(('calibration_profile',))

        class Builder(object):
            def __init__(self, logger):
                self.config = None

            def create_network(self, flags):
                rec.calls.append(('network_flags', flags))
                return INetworkDefinition()

            def create_builder_config(self):
                self.config = IBuilderConfig()
                rec.config = self.config
                return self.config

            def create_optimization_profile(self):
                return IOptimizationProfile()

            def build_serialized_network(self, network, config):
                calibrator = getattr(config, 'int8_calibrator', None)
                if calibrator is not None and calibrator.read_calibration_cache() is None:
                    while calibrator.get_batch(['input']) is not None:
                        rec.calls.append(('calibration_batch',))
                    calibrator.write_calibration_cache(b'calibration table')
                if config.progress_monitor is not None:
                    config.progress_monitor.phase_start('Building engine', None, 2)
                    config.progress_monitor.phase_start('Tactic timing', 'Building engine', 40)
                    config.progress_monitor.phase_start('One layer', 'Tactic timing', 3)
                    for step in range(2):
                        config.progress_monitor.step_complete('Building engine', step)
                    config.progress_monitor.phase_finish('One layer')
                    config.progress_monitor.phase_finish('Tactic timing')
                    config.progress_monitor.phase_finish('Building engine')
                return None if fail else memoryview(plan)

        if not typed_only:
            Builder.platform_has_fast_fp16 = fast_fp16
            Builder.platform_has_fast_int8 = fast_int8

        self.Logger, self.Builder, self.OnnxParser = Logger, Builder, OnnxParser
        self.MemoryPoolType = types.SimpleNamespace(WORKSPACE='WORKSPACE')
        if typed_only:
            self.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=1)
            self.BuilderFlag = types.SimpleNamespace(TF32='TF32')
        else:
            self.NetworkDefinitionCreationFlag = types.SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1)
            self.BuilderFlag = types.SimpleNamespace(FP16='FP16', INT8='INT8')
            self.IInt8EntropyCalibrator2 = type('IInt8EntropyCalibrator2', (object,), {'__init__': lambda s: None})
        if _version(version) >= (10, 0):
            self.IProgressMonitor = type('IProgressMonitor', (object,), {'__init__': lambda s: None})

    def called(self, name):
        return [c for c in self.calls if c[0] == name]


def make_fake_trt_with_builder(cuda, version='10.3.0', input_shape=(1, 3, 240, 320)):
    """``(trt, builder_recorder)``: the runtime fake of :func:`make_fake_trt` (tensor-name API) plus the builder API
    of :class:`FakeBuilderTRT`, whose engines are fake plans that this runtime deserializes: build, then run."""
    trt = make_fake_trt(cuda, api='tensor', version=version)
    builder = FakeBuilderTRT(version, input_shape=input_shape, plan=fake_plan(input_shape))
    for name in ('Builder', 'OnnxParser', 'MemoryPoolType', 'NetworkDefinitionCreationFlag', 'BuilderFlag',
                 'IInt8EntropyCalibrator2', 'IProgressMonitor'):
        if hasattr(builder, name):
            setattr(trt, name, getattr(builder, name))
    return trt, builder


def install_fakes(monkeypatch, trt, cuda):
    """Make ``import tensorrt`` and ``import pycuda.driver`` return the fakes for one test."""
    package = types.ModuleType('pycuda')
    package.driver = cuda
    package.__path__ = []
    monkeypatch.setitem(sys.modules, 'tensorrt', trt)
    monkeypatch.setitem(sys.modules, 'pycuda', package)
    monkeypatch.setitem(sys.modules, 'pycuda.driver', cuda)


def hide_modules(monkeypatch, *names):
    """Make ``import NAME`` raise ImportError for one test (``sys.modules[NAME] = None``)."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)

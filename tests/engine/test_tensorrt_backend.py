"""TensorRTBackend: errors without TensorRT, and its full data flow on fake tensorrt/pycuda modules (both APIs).

The real GPU test at the bottom runs only where tensorrt, pycuda and a CUDA device exist (never in CI here).
"""
import os
import re
import shlex
import subprocess
import sys
import types

import numpy as np
import pytest

from face_ssd_ros.detect import engine_cache as ec
from face_ssd_ros.detect.backends import BackendError, BackendUnavailable, create_backend
from tensorrt_testutils import (FakeCuda, fake_network, fake_plan, hide_modules, install_fakes, make_fake_trt,
                                make_fake_trt_with_builder, make_manifest, manifest_dict, write_tiny_onnx)

GPU = 'NVIDIA Test GPU'


def make_engine(tmp_path, version, shape=(1, 3, 240, 320), profile=None, precision='fp16', gpu=GPU,
                name='face.engine', model_bytes=b'onnx v1'):
    """A fake engine + a correct sidecar (built 'here' for TensorRT ``version`` on ``gpu``)."""
    model = tmp_path / 'face.onnx'
    if not model.exists():
        model.write_bytes(model_bytes)
    path = str(tmp_path / name)
    ec.write_engine(path, fake_plan(shape, profile))
    dynamic = profile is not None
    side_profile = None
    if dynamic:
        side_profile = {k: (s[3], s[2]) for k, s in zip(('min', 'opt', 'max'), profile)}
    info = ec.make_sidecar(path, str(model), manifest_dict(dynamic=dynamic), precision, version, gpu,
                           input_shape=None if dynamic else shape, profile=side_profile)
    ec.write_sidecar(path, info)
    return path



@pytest.fixture(params=[('tensor', '10.3.0'), ('bindings', '8.2.1.8')], ids=['trt10-tensor-api', 'trt8-bindings'])
def fakes(request, monkeypatch):
    api, version = request.param
    cuda = FakeCuda(GPU)
    trt = make_fake_trt(cuda, api=api, version=version)
    install_fakes(monkeypatch, trt, cuda)
    return trt, cuda, api


def batch_for(height=240, width=320, seed=0):
    return np.random.default_rng(seed).standard_normal((1, 3, height, width)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- no TensorRT
def test_missing_tensorrt_gives_an_install_hint(monkeypatch, tmp_path):
    hide_modules(monkeypatch, 'tensorrt')
    with pytest.raises(BackendError) as info:
        create_backend('tensorrt', str(tmp_path / 'face.engine'), make_manifest())
    message = str(info.value)
    assert 'tensorrt' in message and 'JetPack' in message and 'onnxruntime' in message


def test_auto_picks_tensorrt_for_engines_and_explains(monkeypatch, tmp_path):
    hide_modules(monkeypatch, 'tensorrt')
    for suffix in ('.engine', '.plan', '.trt'):
        with pytest.raises(BackendError, match='TensorRT backend needs'):
            create_backend('auto', str(tmp_path / ('face' + suffix)), make_manifest())


def test_missing_pycuda_gives_an_install_hint(monkeypatch, tmp_path):
    install_fakes(monkeypatch, make_fake_trt(FakeCuda()), FakeCuda())
    hide_modules(monkeypatch, 'pycuda', 'pycuda.driver')
    with pytest.raises(BackendError, match='pip install pycuda'):
        create_backend('tensorrt', str(tmp_path / 'face.engine'), make_manifest())


def test_type_stubs_alone_are_not_tensorrt(monkeypatch, tmp_path):
    """tensorrt-stubs leaves an empty ``tensorrt`` namespace package: that is "TensorRT missing", clearly."""
    stubs = types.ModuleType('tensorrt')
    stubs.__path__ = [str(tmp_path / 'site-packages' / 'tensorrt')]
    monkeypatch.setitem(sys.modules, 'tensorrt', stubs)
    with pytest.raises(BackendUnavailable) as info:
        create_backend('tensorrt', str(tmp_path / 'face.engine'), make_manifest())
    assert 'type stubs' in str(info.value) and 'site-packages/tensorrt' in str(info.value)


def test_modules_import_nothing_heavy():
    """Importing the backend / cache modules pulls in neither TensorRT, pycuda nor rclpy (fresh interpreter)."""
    code = ('import sys, face_ssd_ros.detect.backends.tensorrt_backend, face_ssd_ros.detect.engine_cache; '
            'print(sorted(m for m in ("tensorrt", "pycuda", "rclpy", "torch") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, universal_newlines=True, check=True,
                         timeout=60).stdout
    assert out.strip() == '[]'


# ---------------------------------------------------------------------------------------------- fake GPU
def test_infer_matches_the_network_and_finds_outputs_by_name(fakes, tmp_path):
    trt, cuda, api = fakes
    backend = create_backend('auto', make_engine(tmp_path, trt.__version__), make_manifest())
    assert backend.name == 'tensorrt' and backend.api == ('tensor-name' if api == 'tensor' else 'bindings')
    assert cuda.context_depth == 0  # the context is only current inside calls
    for seed in (0, 1):
        batch = batch_for(seed=seed)
        scores, boxes = backend.infer(batch)
        want = fake_network(batch)
        assert scores.shape == (1, 1200, 2) and boxes.shape == (1, 1200, 4)
        assert scores.dtype == np.float32 and boxes.dtype == np.float32
        np.testing.assert_allclose(scores, want['scores'], rtol=1e-6)
        np.testing.assert_allclose(boxes, want['boxes'], rtol=1e-6)
    assert cuda.context_depth == 0
    backend.close()


def test_results_are_copies_not_reused_buffers(fakes, tmp_path):
    trt, cuda, _ = fakes
    backend = create_backend('tensorrt', make_engine(tmp_path, trt.__version__), make_manifest())
    first, _ = backend.infer(batch_for(seed=0))
    kept = first.copy()
    backend.infer(batch_for(seed=5))
    np.testing.assert_array_equal(first, kept)
    backend.close()


def test_close_frees_everything_and_is_idempotent(fakes, tmp_path):
    trt, cuda, _ = fakes
    backend = create_backend('tensorrt', make_engine(tmp_path, trt.__version__), make_manifest())
    backend.infer(batch_for())
    assert cuda.memory and cuda.retained == 1
    backend.close()
    backend.close()
    assert cuda.memory == {} and cuda.retained == 0 and cuda.context_depth == 0
    with pytest.raises(BackendError, match='after close'):
        backend.infer(batch_for())


def test_fixed_engine_rejects_other_shapes_and_bad_batches(fakes, tmp_path):
    trt, _, _ = fakes
    backend = create_backend('tensorrt', make_engine(tmp_path, trt.__version__), make_manifest())
    with pytest.raises(BackendError, match=r'takes input \[1, 3, 240, 320\]'):
        backend.infer(batch_for(480, 640))
    with pytest.raises(ValueError):
        backend.infer(np.zeros((3, 240, 320), np.float32))
    with pytest.raises(ValueError):
        backend.infer(np.zeros((1, 3, 240, 320), np.float64))
    backend.close()


def test_dynamic_engine_sets_shapes_and_reallocates(fakes, tmp_path):
    trt, cuda, _ = fakes
    profile = [(1, 3, 120, 160), (1, 3, 240, 320), (1, 3, 480, 640)]
    path = make_engine(tmp_path, trt.__version__, shape=(1, 3, -1, -1), profile=profile)
    backend = create_backend('tensorrt', path, make_manifest(dynamic=True))
    assert backend.dynamic
    for h, w in ((240, 320), (480, 640), (120, 160), (240, 320)):
        batch = batch_for(h, w, seed=h)
        scores, boxes = backend.infer(batch)
        want = fake_network(batch)
        assert scores.shape == (1, (h // 8) * (w // 8), 2)
        np.testing.assert_allclose(scores, want['scores'], rtol=1e-6)
        np.testing.assert_allclose(boxes, want['boxes'], rtol=1e-6)
    live = len(cuda.memory)
    backend.infer(batch_for(480, 640))
    assert len(cuda.memory) == live  # old buffers freed on re-allocation
    with pytest.raises(BackendError, match='outside the engine'):
        backend.infer(batch_for(720, 1280))
    backend.close()
    assert cuda.memory == {}


def test_engine_for_another_tensorrt_version_is_refused(fakes, tmp_path):
    trt, cuda, _ = fakes
    path = make_engine(tmp_path, '7.1.3.0')
    with pytest.raises(BackendError, match='TensorRT 7.1.3.0') as info:
        create_backend('tensorrt', path, make_manifest())
    assert 'face-ssd-build-engine' in str(info.value)
    assert cuda.retained == 0 and cuda.memory == {}


def test_engine_for_another_gpu_is_refused(fakes, tmp_path):
    trt, _, _ = fakes
    path = make_engine(tmp_path, trt.__version__, gpu='NVIDIA Tegra X1')
    with pytest.raises(BackendError, match='Tegra X1'):
        create_backend('tensorrt', path, make_manifest())


def test_stale_engine_is_refused_when_the_source_model_changed(fakes, tmp_path):
    trt, _, _ = fakes
    path = make_engine(tmp_path, trt.__version__)
    (tmp_path / 'face.onnx').write_bytes(b'onnx v2, retrained')
    with pytest.raises(BackendError, match='stale'):
        create_backend('tensorrt', path, make_manifest())
    create_backend('tensorrt', path, make_manifest(), check_source_model=False).close()


@pytest.mark.parametrize('damage', ['sidecar', 'truncate', 'missing'])
def test_damaged_engines_are_refused(fakes, tmp_path, damage):
    trt, _, _ = fakes
    path = make_engine(tmp_path, trt.__version__)
    if damage == 'sidecar':
        os.remove(path + '.json')
    elif damage == 'truncate':
        with open(path, 'r+b') as f:
            f.truncate(12)
    else:
        os.remove(path)
    with pytest.raises(BackendError, match='face-ssd-build-engine'):
        create_backend('tensorrt', path, make_manifest())


def test_undeserializable_engine_is_refused(fakes, tmp_path):
    trt, cuda, _ = fakes
    path = make_engine(tmp_path, trt.__version__)
    ec.write_engine(path, b'\x00garbage that TensorRT rejects')
    ec.write_sidecar(path, ec.make_sidecar(path, str(tmp_path / 'face.onnx'), manifest_dict(), 'fp16',
                                           trt.__version__, GPU, input_shape=(1, 3, 240, 320)))
    with pytest.raises(BackendError, match='could not deserialize'):
        create_backend('tensorrt', path, make_manifest())
    assert cuda.retained == 0 and cuda.context_depth == 0


def test_manifest_that_disagrees_with_the_engine_is_refused(fakes, tmp_path):
    trt, _, _ = fakes
    path = make_engine(tmp_path, trt.__version__)
    with pytest.raises(BackendError, match='num_priors'):
        create_backend('tensorrt', path, make_manifest(num_priors=999))


def test_missing_output_name_is_refused(fakes, tmp_path):
    trt, _, _ = fakes
    path = make_engine(tmp_path, trt.__version__)
    ec.write_engine(path, fake_plan((1, 3, 240, 320), outputs=('boxes', 'logits')))
    ec.write_sidecar(path, ec.make_sidecar(path, str(tmp_path / 'face.onnx'), manifest_dict(), 'fp16',
                                           trt.__version__, GPU, input_shape=(1, 3, 240, 320)))
    with pytest.raises(BackendError, match="no output 'scores'"):
        create_backend('tensorrt', path, make_manifest())


def test_requested_precision_must_match(fakes, tmp_path):
    trt, _, _ = fakes
    path = make_engine(tmp_path, trt.__version__, precision='fp16')
    with pytest.raises(BackendError, match='int8'):
        create_backend('tensorrt', path, make_manifest(), precision='int8')


def test_onnx_model_path_uses_the_engine_cache(fakes, tmp_path):
    trt, _, _ = fakes
    model = tmp_path / 'face.onnx'
    model.write_bytes(b'onnx v1')
    cache = tmp_path / 'cache'
    with pytest.raises(BackendError) as info:
        create_backend('tensorrt', str(model), make_manifest(), engine_cache_dir=str(cache))
    assert 'face-ssd-build-engine %s --precision fp16 --cache-dir %s' % (model, cache) in str(info.value)
    key = ec.engine_key(ec.file_sha256(str(model)), 'fp16', trt.__version__, GPU, input_size=(320, 240))
    os.makedirs(str(cache))
    make_engine(tmp_path, trt.__version__, name=os.path.join('cache', key + '.engine'))
    backend = create_backend('tensorrt', str(model), make_manifest(), engine_cache_dir=str(cache))
    assert backend.engine_path == ec.cache_path(str(cache), key)
    backend.close()


def test_engine_cache_and_precision_from_the_environment(fakes, tmp_path, monkeypatch):
    """What the Docker entrypoint relies on: FACE_SSD_ENGINE_CACHE / FACE_SSD_PRECISION select the engine."""
    trt, _, _ = fakes
    model = tmp_path / 'face.onnx'
    model.write_bytes(b'onnx v1')
    os.makedirs(str(tmp_path / 'engines'))
    for precision in ('fp16', 'fp32'):
        key = ec.engine_key(ec.file_sha256(str(model)), precision, trt.__version__, GPU, input_size=(320, 240))
        make_engine(tmp_path, trt.__version__, precision=precision, name=os.path.join('engines', key + '.engine'))
    monkeypatch.setenv('FACE_SSD_ENGINE_CACHE', str(tmp_path / 'engines'))
    monkeypatch.setenv('FACE_SSD_PRECISION', 'fp32')
    backend = create_backend('tensorrt', str(model), make_manifest())
    assert '_fp32_' in os.path.basename(backend.engine_path)
    backend.close()


def test_missing_cuda_device(fakes, tmp_path):
    trt, _, _ = fakes
    with pytest.raises(BackendError, match='device 3 does not exist'):
        create_backend('tensorrt', make_engine(tmp_path, trt.__version__), make_manifest(), device=3)


# ---------------------------------------------------------------------------------------------- TensorRT 11
def test_tensorrt_11_runtime_looks_for_fp32_engines(monkeypatch, tmp_path):
    """TensorRT 11 builds fp32 engines only (strongly typed), so without a requested precision that is the one looked
    up; a requested fp16 engine that is not cached is explained, not an AttributeError."""
    cuda = FakeCuda(GPU)
    trt = make_fake_trt(cuda, api='tensor', version='11.4.0.106')
    install_fakes(monkeypatch, trt, cuda)
    model = tmp_path / 'face.onnx'
    model.write_bytes(b'onnx v1')
    os.makedirs(str(tmp_path / 'engines'))
    key = ec.engine_key(ec.file_sha256(str(model)), 'fp32', trt.__version__, GPU, input_size=(320, 240))
    make_engine(tmp_path, trt.__version__, precision='fp32', name=os.path.join('engines', key + '.engine'))
    backend = create_backend('tensorrt', str(model), make_manifest())
    assert backend.engine_path.endswith(key + '.engine')
    backend.close()
    with pytest.raises(BackendError) as info:
        create_backend('tensorrt', str(model), make_manifest(), precision='fp16')
    assert 'builds strongly typed networks only' in str(info.value) and 'precision fp32' in str(info.value)


# ------------------------------------------------------------------------- backend tensorrt given only an .onnx
def _build_commands(message):
    return re.findall(r'`(face-ssd-build-engine [^`]*)`', message)


@pytest.mark.parametrize('version,precision', [('10.3.0', 'fp16'), ('11.4.0.106', 'fp32')])
def test_detector_refuses_with_the_one_command_and_that_command_makes_it_start(monkeypatch, tmp_path, version,
                                                                                precision):
    """FaceDetector(model.onnx, backend='tensorrt') with no cached engine: one start-up error naming exactly one
    face-ssd-build-engine command; running that command (on the fake TensorRT) makes the next start work."""
    from face_ssd_ros.detect.inference import FaceDetector
    from face_ssd_ros.detect.postprocess import postprocess
    from face_ssd_ros.detect.preprocess import preprocess
    from face_ssd_ros.engine import build
    model = write_tiny_onnx(tmp_path)
    cuda = FakeCuda(GPU)
    trt, builder = make_fake_trt_with_builder(cuda, version)
    install_fakes(monkeypatch, trt, cuda)
    with pytest.raises(BackendError) as info:
        FaceDetector(model, backend='tensorrt')
    commands = _build_commands(str(info.value))
    cache = os.path.join(str(tmp_path), 'engines')
    assert commands == ['face-ssd-build-engine %s --precision %s --cache-dir %s' % (model, precision, cache)]
    assert not os.path.isdir(cache) and builder.calls == []  # it never builds by itself
    assert build.main(shlex.split(commands[0])[1:]) == 0
    assert len(builder.called('parse')) == 1
    image = np.random.default_rng(3).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    with FaceDetector(model, backend='tensorrt', score_threshold=0.3) as detector:
        assert detector.backend_name == 'tensorrt' and detector.backend.note is None
        assert os.path.dirname(detector.backend.engine_path) == cache
        detections, _ = detector.detect(image)
        want = fake_network(preprocess(image, detector.manifest))
        expected = postprocess(want['scores'][0], want['boxes'][0], 640, 480, detector.labels, 0.3,
                               detector.nms_iou, detector.max_detections)
        assert len(expected) > 0 and detections == expected
    assert cuda.memory == {} and cuda.context_depth == 0


def test_auto_on_onnx_without_onnxruntime_uses_the_tensorrt_engine(monkeypatch, tmp_path):
    """The JetPack 4.6 image may lack onnxruntime: ``auto`` on an .onnx then runs its cached TensorRT engine and says
    so (backend.note); with no engine it names the build command; with no TensorRT either it names both."""
    from face_ssd_ros.engine import build
    model = write_tiny_onnx(tmp_path)
    hide_modules(monkeypatch, 'onnxruntime')
    cuda = FakeCuda(GPU)
    trt, _ = make_fake_trt_with_builder(cuda, '10.3.0')
    install_fakes(monkeypatch, trt, cuda)
    with pytest.raises(BackendError) as info:
        create_backend('auto', model, make_manifest())
    message = str(info.value)
    assert message.startswith('onnxruntime is not installed here, so backend auto tried TensorRT')
    assert len(_build_commands(message)) == 1
    assert build.main(shlex.split(_build_commands(message)[0])[1:]) == 0
    backend = create_backend('auto', model, make_manifest())
    assert backend.name == 'tensorrt' and 'onnxruntime is not installed' in backend.note
    assert backend.engine_path in backend.note
    backend.close()
    hide_modules(monkeypatch, 'tensorrt')
    with pytest.raises(BackendError) as info:
        create_backend('auto', model, make_manifest())
    assert 'nothing to run' in str(info.value) and 'pip install onnxruntime' in str(info.value) and \
        'JetPack' in str(info.value)


# ---------------------------------------------------------------------------------------------- real GPU
def _real_gpu():
    from face_ssd_ros.detect.backends.tensorrt_backend import import_tensorrt
    try:
        _, cuda = import_tensorrt()  # a real TensorRT (not its type stubs) and pycuda
        cuda.init()
        return cuda.Device.count() > 0
    except Exception:
        return False


@pytest.mark.skipif(not _real_gpu(), reason='needs tensorrt, pycuda and a CUDA device')
def test_real_tensorrt_matches_onnxruntime(tmp_path):
    """Build an fp32 engine of a tiny ONNX model on the real GPU and compare it with ONNX Runtime."""
    from face_ssd_ros.engine.build import main as build_main
    from tensorrt_testutils import write_tiny_onnx
    model = write_tiny_onnx(tmp_path)
    assert build_main([model, '--precision', 'fp32', '--output', str(tmp_path / 'tiny.engine')]) == 0
    manifest = make_manifest()
    batch = batch_for()
    trt_backend = create_backend('tensorrt', str(tmp_path / 'tiny.engine'), manifest)
    ort_backend = create_backend('onnxruntime', model, manifest)
    try:
        for got, want in zip(trt_backend.infer(batch), ort_backend.infer(batch)):
            np.testing.assert_allclose(got, want, atol=1e-4)
    finally:
        trt_backend.close()
        ort_backend.close()

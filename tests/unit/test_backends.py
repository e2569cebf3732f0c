"""Backends: selection, the ONNX Runtime backend against tiny graphs (incl. every mismatch), the torch backend."""
import sys

import numpy as np
import pytest

from face_ssd_ros.detect.backends import BACKEND_NAMES, BackendError, backend_for_path, create_backend
from face_ssd_ros.detect.backends.onnxruntime_backend import OnnxRuntimeBackend
from face_ssd_ros.detect.manifest import ModelManifest, load_manifest


def test_backend_for_path():
    assert backend_for_path('/m/a.onnx') == 'onnxruntime'
    assert backend_for_path('a.ENGINE') == 'tensorrt'
    assert backend_for_path('a.plan') == backend_for_path('a.trt') == 'tensorrt'
    assert backend_for_path('a.pt') == backend_for_path('a.pth') == 'torch'
    with pytest.raises(BackendError, match='unknown extension'):
        backend_for_path('a.tflite')
    assert set(BACKEND_NAMES) == {'auto', 'onnxruntime', 'tensorrt', 'torch'}


def test_unknown_backend_name(grid_model):
    with pytest.raises(BackendError, match='auto, onnxruntime, tensorrt, torch'):
        create_backend('openvino', grid_model, load_manifest(grid_model))


def test_tensorrt_absent_is_a_clear_backend_error(tmp_path, manifest_dict):
    try:
        import tensorrt  # noqa: F401
        pytest.skip('TensorRT is installed here')
    except ImportError:
        pass
    engine = tmp_path / 'm.engine'
    engine.write_bytes(b'\x00' * 16)
    with pytest.raises(BackendError) as err:
        create_backend('auto', str(engine), ModelManifest.from_dict(manifest_dict()))
    assert str(err.value).strip()


def _reference_outputs(image_rgb, cell=8, gain=4.0):
    """What the grid graph must compute for an image already at network size (numpy reference)."""
    x = (image_rgb.astype(np.float64) - 127.0) / 128.0
    f = x.mean(axis=2)
    h, w = f.shape
    f = f.reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3)).reshape(-1) * gain
    logits = np.stack([np.zeros_like(f), f], axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_onnxruntime_infer_matches_reference(grid_model, grid_boxes_fn):
    from face_ssd_ros.detect.preprocess import preprocess
    m = load_manifest(grid_model)
    backend = create_backend('auto', grid_model, m, num_threads=2)
    assert isinstance(backend, OnnxRuntimeBackend) and backend.name == 'onnxruntime'
    assert backend.providers == ['CPUExecutionProvider']
    assert backend.session.get_session_options().intra_op_num_threads == 2
    assert OnnxRuntimeBackend(grid_model, m).session.get_session_options().intra_op_num_threads == 1   # auto
    img = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    scores, boxes = backend.infer(preprocess(img, m))
    assert _spin_entries(backend) == ('0', '0')    # idle ORT threads sleep by default
    assert scores.shape == (1, 12, 2) and boxes.shape == (1, 12, 4)
    assert scores.dtype == np.float32 and boxes.dtype == np.float32
    np.testing.assert_allclose(scores[0], _reference_outputs(img), atol=1e-5)
    np.testing.assert_allclose(boxes[0], grid_boxes_fn(32, 24, 8), atol=1e-7)
    with pytest.raises(ValueError, match=r'\[1, 3, h, w\]'):
        backend.infer(np.zeros((3, 24, 32), np.float32))
    with pytest.raises(ValueError):
        backend.infer(np.zeros((1, 3, 24, 32), np.float64))
    with backend:
        pass
    with pytest.raises(BackendError, match='closed'):
        backend.infer(np.zeros((1, 3, 24, 32), np.float32))


def _spin_entries(backend):
    options = backend.session.get_session_options()
    return tuple(options.get_session_config_entry(key) for key in ('session.intra_op.allow_spinning',
                                                                    'session.inter_op.allow_spinning'))


def test_allow_spinning_reaches_the_onnxruntime_session(grid_model):
    from face_ssd_ros.detect.inference import FaceDetector
    m = load_manifest(grid_model)
    assert _spin_entries(create_backend('onnxruntime', grid_model, m, allow_spinning=True)) == ('1', '1')
    assert _spin_entries(create_backend('onnxruntime', grid_model, m, allow_spinning=False)) == ('0', '0')
    with FaceDetector(grid_model) as detector:              # the node's path: FaceDetector -> backend
        assert _spin_entries(detector.backend) == ('0', '0')
    with FaceDetector(grid_model, allow_spinning=True) as detector:
        assert _spin_entries(detector.backend) == ('1', '1')
    from face_ssd_ros.config import params
    values = dict(params.defaults(params.DETECTOR_PARAMS), model_path=grid_model)
    with FaceDetector.from_params(values) as detector:      # the detector nodes' path (nodes.detector_core)
        assert _spin_entries(detector.backend) == ('0', '0')
    with FaceDetector.from_params(dict(values, allow_spinning=True)) as detector:
        assert _spin_entries(detector.backend) == ('1', '1')


def test_auto_threads_rule():
    from face_ssd_ros.detect.backends.onnxruntime_backend import intra_op_threads
    assert intra_op_threads(0, False, (320, 240)) == 1       # sleeping workers, small input: one thread
    assert intra_op_threads(0, False, (32, 24)) == 1
    assert intra_op_threads(0, False) == 1                   # size unknown: the small case
    assert intra_op_threads(0, False, (640, 480)) is None    # larger inputs keep ONNX Runtime's pool
    assert intra_op_threads(0, False, (321, 240)) is None
    assert intra_op_threads(0, True, (320, 240)) is None     # spinning: ONNX Runtime's default pool
    assert intra_op_threads(3, False, (320, 240)) == 3       # an explicit setting always wins
    assert intra_op_threads(2, True, (640, 480)) == 2


def test_auto_threads_reach_the_onnxruntime_session(grid_model):
    """num_threads 0 (the node's default) gives the session one intra-op thread while the workers would sleep."""
    from face_ssd_ros.config import params
    from face_ssd_ros.detect.inference import FaceDetector

    def threads(backend):
        return backend.session.get_session_options().intra_op_num_threads
    values = dict(params.defaults(params.DETECTOR_PARAMS), model_path=grid_model)
    assert values['num_threads'] == 0 and values['allow_spinning'] is False
    with FaceDetector.from_params(values) as detector:
        assert threads(detector.backend) == 1
    with FaceDetector.from_params(dict(values, num_threads=2)) as detector:
        assert threads(detector.backend) == 2
    with FaceDetector.from_params(dict(values, allow_spinning=True)) as detector:
        assert threads(detector.backend) == 0                  # 0 = ONNX Runtime decides
    shipped = dict(params.defaults(params.DETECTOR_PARAMS), input_width=640, input_height=480)
    with FaceDetector.from_params(shipped) as detector:        # the shipped model's 640x480 sibling keeps the pool
        assert detector.input_size == (640, 480) and threads(detector.backend) == 0
    with FaceDetector.from_params(params.defaults(params.DETECTOR_PARAMS)) as detector:
        assert detector.input_size == (320, 240) and threads(detector.backend) == 1


def _build(onnx_builder, tmp_path, name='m.onnx', **kwargs):
    path = tmp_path / name
    onnx_builder(path, **kwargs)
    return str(path)


def test_renamed_outputs(tmp_path, onnx_builder, manifest_dict):
    from face_ssd_ros.detect.preprocess import preprocess
    d = manifest_dict()
    d['outputs']['scores']['name'], d['outputs']['boxes']['name'] = 'cls_prob', 'loc_xyxy'
    d['input']['name'] = 'images'
    path = _build(onnx_builder, tmp_path, manifest=d, boxes_first=True)   # graph output order: boxes, scores
    m = load_manifest(path)
    scores, boxes = create_backend('onnxruntime', path, m).infer(preprocess(np.full((24, 32, 3), 127, np.uint8), m))
    assert scores.shape == (1, 12, 2) and boxes.shape == (1, 12, 4)
    np.testing.assert_allclose(scores[0], 0.5)                                  # grey 127 -> f = 0


MISMATCHES = [
    # (what the graph gets, words in the error)
    ({'input_name': 'data'}, 'graph input is named "data" but the manifest says "input"'),
    ({'output_names': ('probs_out', 'boxes')}, 'no output "scores"'),
    ({'graph_priors': 13}, 'num_priors=12'),
    ({'graph_manifest_labels': ('background', 'face', 'plate')}, '3 classes but the manifest lists 2 labels'),
    ({'graph_manifest_size': (40, 24)}, 'expected [1, 3, 24, 32]'),
]


@pytest.mark.parametrize('change,words', MISMATCHES, ids=[w[:30] for _, w in MISMATCHES])
def test_graph_manifest_mismatch_is_refused(tmp_path, onnx_builder, manifest_dict, change, words):
    manifest = manifest_dict()
    kwargs = dict(change)
    if 'graph_manifest_labels' in kwargs:
        kwargs['graph_manifest'] = manifest_dict(labels=kwargs.pop('graph_manifest_labels'))
    if 'graph_manifest_size' in kwargs:
        w, h = kwargs.pop('graph_manifest_size')
        kwargs['graph_manifest'] = manifest_dict(width=w, height=h)
    path = _build(onnx_builder, tmp_path, manifest=manifest, **kwargs)
    with pytest.raises(BackendError) as err:
        OnnxRuntimeBackend(path, load_manifest(path))
    text = str(err.value)
    assert words in text and path in text and ('face-ssd-export' in text or 'manifest' in text)


def test_missing_corrupt_and_provider_errors(tmp_path, grid_model):
    m = load_manifest(grid_model)
    with pytest.raises(BackendError, match='not found'):
        OnnxRuntimeBackend(str(tmp_path / 'gone.onnx'), m)
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'\x01\x02 definitely not onnx')
    with pytest.raises(BackendError, match='cannot load'):
        OnnxRuntimeBackend(str(broken), m)
    with pytest.raises(BackendError, match='NoSuchExecutionProvider'):
        OnnxRuntimeBackend(grid_model, m, providers=['NoSuchExecutionProvider'])


def test_onnxruntime_missing(monkeypatch, grid_model):
    m = load_manifest(grid_model)
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(BackendError, match='pip install onnxruntime'):
        create_backend('onnxruntime', grid_model, m)


def test_dynamic_graph_at_another_size(tmp_path, onnx_builder, manifest_dict):
    d = manifest_dict()
    d['input']['dynamic_size'] = True
    path = _build(onnx_builder, tmp_path, manifest=d, dynamic=True)
    m = load_manifest(path)
    backend = OnnxRuntimeBackend(path, m, input_size=(64, 48))
    scores, boxes = backend.infer(np.zeros((1, 3, 48, 64), np.float32))
    assert scores.shape == (1, 48, 2) and boxes.shape == (1, 48, 4)     # N follows the size; not judged
    scores, _ = backend.infer(np.zeros((1, 3, 24, 32), np.float32))      # at the manifest size N is checked
    assert scores.shape == (1, 12, 2)


# ---------------------------------------------------------------------------------------------- torch backend
class _FakeModels(object):
    """Stands in for face_ssd_training.models (load_for_inference is written by another engineer)."""

    def __init__(self, manifest, num_classes=2, fail=False):
        self.manifest, self.num_classes, self.fail = manifest, num_classes, fail
        self.calls = []

    def load_for_inference(self, path, input_size=None):
        import torch
        self.calls.append((path, input_size))
        if self.fail:
            raise RuntimeError('state_dict keys do not match')
        num_classes = self.num_classes

        class Tiny(torch.nn.Module):
            def forward(self, x):
                n = (x.shape[2] // 8) * (x.shape[3] // 8)
                f = torch.nn.functional.avg_pool2d(x.mean(dim=1, keepdim=True), 8).reshape(1, n, 1)
                scores = torch.softmax(torch.cat([torch.zeros_like(f)] + [f] * (num_classes - 1), dim=2), dim=2)
                return scores, torch.zeros(1, n, 4) + torch.tensor([0.0, 0.0, 1.0, 1.0])

        return Tiny().train(), self.manifest


@pytest.fixture
def torch_ckpt(tmp_path, manifest_dict):
    pytest.importorskip('torch')
    path = tmp_path / 'ckpt.pt'
    path.write_bytes(b'checkpoint bytes')     # the fake loader does not read it
    return str(path), ModelManifest.from_dict(manifest_dict())


def test_torch_backend_runs_the_checkpoint_module(monkeypatch, torch_ckpt):
    import face_ssd_training.models as models
    path, m = torch_ckpt
    fake = _FakeModels(m.to_dict())
    monkeypatch.setattr(models, 'load_for_inference', fake.load_for_inference, raising=False)
    backend = create_backend('auto', path, m, input_size=(32, 24))
    assert backend.name == 'torch' and not backend._module.training      # put in eval mode
    scores, boxes = backend.infer(np.full((1, 3, 24, 32), 1.0, np.float32))
    assert scores.shape == (1, 12, 2) and scores.dtype == np.float32
    np.testing.assert_allclose(scores[0, :, 1], 1 / (1 + np.exp(-1.0)), rtol=1e-5)
    create_backend('torch', path, m, input_size=(64, 48))                 # another size: priors regenerated
    assert fake.calls == [(path, None), (path, (64, 48))]


def test_torch_backend_refuses_mismatches(monkeypatch, torch_ckpt, manifest_dict):
    import face_ssd_training.models as models
    path, m = torch_ckpt
    other = manifest_dict(labels=('background', 'face', 'plate'))
    monkeypatch.setattr(models, 'load_for_inference', _FakeModels(other, 3).load_for_inference, raising=False)
    with pytest.raises(BackendError, match='labels'):
        create_backend('torch', path, m)
    monkeypatch.setattr(models, 'load_for_inference', _FakeModels(m.to_dict(), 3).load_for_inference,
                        raising=False)
    backend = create_backend('torch', path, m)
    with pytest.raises(BackendError, match='3 classes'):
        backend.infer(np.zeros((1, 3, 24, 32), np.float32))
    monkeypatch.setattr(models, 'load_for_inference', _FakeModels(m.to_dict(), fail=True).load_for_inference,
                        raising=False)
    with pytest.raises(BackendError, match='state_dict keys'):
        create_backend('torch', path, m)


def test_torch_backend_is_a_plugin_of_the_training_package(monkeypatch, torch_ckpt):
    import face_ssd_ros.detect.backends as backends
    assert backends.plugin_backends().get('torch') == 'face_ssd_training.torch_backend:TorchBackend'
    path, m = torch_ckpt
    monkeypatch.setattr(backends, 'plugin_backends', lambda: {})   # face_ssd_training not installed
    with pytest.raises(BackendError, match='face_ssd_training'):
        create_backend('torch', path, m)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, 'torch', None)
    with pytest.raises(BackendError, match='pip install torch'):
        create_backend('torch', path, m)

"""The shipped face model's continuity: every shipped ONNX is its shipped training checkpoint, exported.

Each ``models/<stem>.onnx`` has its weights-only checkpoint beside it, ``<stem>.pt`` (``make ship-default`` writes
both; each export has its own weights). The checkpoint must load with
``torch.load(weights_only=True)`` and, exported again at the ONNX's input size, give the same manifest and the same
outputs on a real photo, so that a fine-tuning from it (``train.init_checkpoint``) starts from the shipped model.
"""
import glob
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip('torch')

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros', 'models')
SHIPPED = sorted(glob.glob(os.path.join(MODELS, 'face_default*.onnx')))


def shipped_checkpoint(onnx_path):
    """The checkpoint a shipped ONNX was exported from: ``<stem>.pt`` beside it."""
    return os.path.splitext(onnx_path)[0] + '.pt'


def _photo():
    """skimage's astronaut photo (RGB, 512x512, one face), as the demo footage uses."""
    data = pytest.importorskip('skimage.data')
    return np.ascontiguousarray(data.astronaut())


def test_both_input_sizes_ship():
    names = [os.path.basename(p) for p in SHIPPED]
    assert 'face_default.onnx' in names and 'face_default_640x480.onnx' in names, names


@pytest.mark.parametrize('onnx_path', SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_the_shipped_checkpoint_reproduces_the_shipped_onnx(onnx_path, tmp_path):
    from face_ssd_ros.detect.inference import FaceDetector
    from face_ssd_training.export import export_checkpoint

    ckpt_path = shipped_checkpoint(onnx_path)
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    assert set(ckpt) >= {'model', 'manifest'} and 'optimizer' not in ckpt
    with open(os.path.splitext(onnx_path)[0] + '.json') as f:
        shipped = json.load(f)
    size = (shipped['input']['width'], shipped['input']['height'])
    out = str(tmp_path / os.path.basename(onnx_path))
    again = export_checkpoint(ckpt_path, out, input_size=size, verbose=False)
    for key in ('arch', 'labels', 'input', 'priors', 'num_priors', 'postprocess'):
        assert again[key] == shipped[key], key
    image = _photo()
    ours = FaceDetector(onnx_path, backend='onnxruntime', score_threshold=0.3)
    mine = FaceDetector(out, backend='onnxruntime', score_threshold=0.3)
    expected, _ = ours.detect(image)
    got, _ = mine.detect(image)
    assert expected, 'the shipped model finds no face in the test photo at 0.3'
    assert len(got) == len(expected)
    np.testing.assert_allclose([d[:5] for d in got], [d[:5] for d in expected], atol=1e-3)

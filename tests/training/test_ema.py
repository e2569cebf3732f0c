"""train.ema: the running average of the weights (face_ssd_training/ema.py) and how the trainer saves, resumes and
exports it."""
import math
import os

import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.ema import ModelEMA, ema_decay

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'faces')


def test_decay_ramps_from_zero_to_the_setting():
    assert ema_decay(0.998, 200, 0) == 0.0
    assert ema_decay(0.998, 200, 200) == pytest.approx(0.998 * (1 - math.exp(-1)))   # 0.6309
    assert ema_decay(0.998, 200, 200) == pytest.approx(0.630856, abs=1e-6)
    assert ema_decay(0.998, 200, 10 ** 6) == pytest.approx(0.998)
    assert ema_decay(0.0, 200, 500) == 0.0                                            # off: follows the model


def _net():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))


def test_update_averages_floats_and_copies_counters():
    net = _net()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.0)
    ema = ModelEMA(net, decay=0.5, tau=1e-9)          # tau ~ 0: the full decay from the first update
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
    net[1].num_batches_tracked.fill_(7)
    net[1].running_mean.fill_(4.0)                    # the average's copy started at 0
    assert ema.update(net) == pytest.approx(0.5)
    avg = ema.state_dict()
    assert torch.allclose(avg['0.weight'], torch.full_like(avg['0.weight'], 0.5))
    assert torch.allclose(avg['1.running_mean'], torch.full((2,), 2.0))
    assert int(avg['1.num_batches_tracked']) == 7
    ema.update(net)                                   # 0.5 * 0.5 + 0.5 * 1
    assert torch.allclose(ema.state_dict()['0.weight'], torch.full_like(avg['0.weight'], 0.75))
    assert ema.updates == 2
    assert not any(p.requires_grad for p in ema.module.parameters()) and not ema.module.training
    assert float(net[0].weight.detach().flatten()[0]) == 1.0   # the model itself is untouched


def test_the_average_does_not_share_memory_with_the_model():
    net = _net()
    ema = ModelEMA(net, decay=0.9)
    with torch.no_grad():
        net[0].weight.add_(10.0)
    assert not torch.equal(ema.state_dict()['0.weight'], net.state_dict()['0.weight'])


@pytest.mark.parametrize('decay,tau', [(1.0, 200), (-0.1, 200), (0.9, 0)])
def test_bad_settings_are_refused(decay, tau):
    with pytest.raises(ValueError):
        ModelEMA(_net(), decay, tau)


@pytest.mark.parametrize('override,what', [('train.ema=1.0', 'train.ema must be in \\[0, 1\\)'),
                                           ('train.ema=-0.5', 'train.ema must be in \\[0, 1\\)'),
                                           ('train.ema=high', 'train.ema must be'),
                                           ('train.ema_tau=0', 'train.ema_tau must be > 0')])
def test_config_checks_the_ema_keys(override, what):
    with pytest.raises(ConfigError, match=what):
        load_config(overrides=[override])


def test_defaults_leave_it_off():
    cfg = load_config()
    assert cfg['train']['ema'] == 0 and cfg['train']['ema_tau'] > 0


@pytest.mark.skipif(not os.path.isdir(DATA), reason='../shared/data is not beside the checkout')
def test_trainer_saves_the_average_as_the_model_and_resumes_both(tmp_path):
    from face_ssd_training.export import save_weights_only
    from face_ssd_training.models import load_checkpoint
    from face_ssd_training.train import Trainer
    from test_train_smoke import _cfg
    torch.set_num_threads(2)
    cfg = _cfg(tmp_path, epochs=1, **{'train.ema': 0.9, 'train.ema_tau': 1, 'data.val': '[]'})
    t = Trainer(cfg, progress=False)
    res = t.run()
    ckpt = load_checkpoint(res.last_checkpoint)
    steps = res.history[-1]['batches']
    assert steps > 0 and ckpt['ema_updates'] == steps == t.ema.updates
    name = '%s' % next(k for k, v in ckpt['model'].items() if v.dtype.is_floating_point and v.dim() == 4)
    assert torch.equal(ckpt['model'][name], t.ema.state_dict()[name])          # 'model' is the average
    assert torch.equal(ckpt['train_model'][name], t.model.state_dict()[name])  # the raw weights, for --resume
    assert not torch.equal(ckpt['model'][name], ckpt['train_model'][name])
    slim = save_weights_only(res.last_checkpoint, str(tmp_path / 'w.pt'))       # what ships: the average only
    assert 'train_model' not in slim and torch.equal(slim['model'][name], ckpt['model'][name])
    cfg2 = _cfg(tmp_path, epochs=2, **{'train.ema': 0.9, 'train.ema_tau': 1, 'data.val': '[]'})
    again = Trainer(cfg2, resume=res.last_checkpoint, progress=False)
    assert again.ema.updates == steps and again.start_epoch == 1
    assert torch.equal(again.ema.state_dict()[name], ckpt['model'][name])
    assert torch.equal(again.model.state_dict()[name], ckpt['train_model'][name])

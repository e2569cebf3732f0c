"""Multi-size training (``data.multi_size``): the batch sampler's golden order rules, the config check, and a real
training step whose batches alternate between two input sizes."""
import os

import numpy as np
import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.data.multisize import MultiSizeBatchSampler, TransformedDataset

DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'faces'))


def _batches(n, sizes, bs, drop_last, seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return MultiSizeBatchSampler(n, sizes, bs, drop_last, g)


def test_every_image_once_per_epoch_at_one_size_and_sizes_alternate():
    sampler = _batches(10, 2, 3, drop_last=False)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4 and [len(b) for b in batches] == [3, 3, 3, 1]
    views = [b[0] // 10 for b in batches]
    assert all(len(set(i // 10 for i in b)) == 1 for b in batches)         # one size per batch
    assert views in ([0, 1, 0, 1], [1, 0, 1, 0])                           # alternating
    assert sorted(i % 10 for b in batches for i in b) == list(range(10))   # each image once


def test_drop_last_and_epochs_differ():
    sampler = _batches(10, 2, 3, drop_last=True)
    first, second = list(sampler), list(sampler)
    assert len(sampler) == 3 and all(len(b) == 3 for b in first)
    assert first != second                                                 # reshuffled every epoch
    assert _batches(10, 2, 3, True, seed=5).__iter__().__next__() == _batches(10, 2, 3, True, seed=5).__iter__().__next__()


def test_one_size_and_tiny_sets():
    assert [i for b in _batches(4, 1, 8, drop_last=True) for i in b] != []   # n <= batch: nothing dropped
    assert sorted(i for b in _batches(4, 1, 8, drop_last=True) for i in b) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match='>= 1'):
        MultiSizeBatchSampler(0, 2, 4)


def test_transformed_dataset_applies_the_transform():
    base = [(np.zeros((2, 2, 3), np.uint8), {'boxes': [], 'labels': []})] * 3
    ds = TransformedDataset(base, lambda image, target: (image.shape, len(target)))
    assert len(ds) == 3 and ds[2] == ((2, 2, 3), 2)


def test_config_checks_the_sizes():
    assert load_config()['data']['multi_size'] == []
    cfg = load_config(overrides=['data.multi_size=[[320, 240], [640, 480]]'])
    assert cfg['data']['multi_size'] == [[320, 240], [640, 480]]
    for bad in ('[320, 240]', '[[320]]', '[[8, 8]]', '640x480'):
        with pytest.raises(ConfigError, match='data.multi_size'):
            load_config(overrides=['data.multi_size=%s' % bad])


@pytest.mark.skipif(not os.path.isdir(DATA), reason='../shared/data is not beside the checkout')
@pytest.mark.parametrize('mosaic', [0.0, 0.5])
def test_training_alternates_sizes_on_real_images(tmp_path, mosaic):
    from face_ssd_training.train import Trainer
    dlib = os.path.join(DATA, 'dlib')
    cfg = load_config(overrides=['model.arch=slim', 'model.input_size=[160, 120]', 'data.mosaic=%s' % mosaic,
                                 'data.multi_size=[[160, 120], [256, 192]]', 'train.epochs=1', 'train.batch_size=4',
                                 'train.num_workers=0', 'train.max_iters=4', 'train.warmup_epochs=0',
                                 'output.dir=%s' % tmp_path, 'output.name=multi'])
    cfg['data']['train'] = [{'format': 'wider', 'images': os.path.join(dlib, 'images'),
                             'gt': os.path.join(dlib, 'dlib_bbx_gt.txt')}]
    cfg['data']['val'] = cfg['data']['train']
    trainer = Trainer(cfg, progress=False)
    n = trainer.train_images
    assert len(trainer.train_set) == 2 * n and len(trainer.train_loader) == n // 4
    shapes = []
    for images, loc, labels, _, _ in trainer.train_loader:
        shapes.append(tuple(images.shape[2:]))
        assert loc.shape[1] == labels.shape[1] == int(trainer.model.priors(images.shape[3], images.shape[2]).shape[0])
        if len(shapes) == 4:
            break
    assert set(shapes) == {(120, 160), (192, 256)} and shapes[0] != shapes[1]
    res = trainer.run()
    assert np.isfinite(res.history[-1]['loss']) and 'val_map' in res.history[-1]   # validated at model.input_size
    assert res.onnx and os.path.isfile(res.onnx)


def test_a_size_listed_twice_gets_twice_the_batches():
    batches = list(_batches(90, 3, 10, drop_last=True))          # views 0, 1, 2 cycle: list 640x480 as 1 and 2
    views = [b[0] // 90 for b in batches]
    assert [views.count(v) for v in range(3)] == [3, 3, 3]
    assert all(views[i] != views[i + 1] for i in range(len(views) - 1))

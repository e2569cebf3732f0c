"""Mosaic canvases: geometry of the four cells, box bookkeeping, the empty-ground-truth case, the dataset wrapper
and the config switch that turns it on in training."""
import os

import numpy as np
import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.data.mosaic import MosaicDataset, mosaic_canvas
from face_ssd_training.data.transforms import build_mosaic_post, build_transform

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'faces')


def _item(w, h, boxes, colour, image_id):
    image = np.full((h, w, 3), colour, dtype=np.uint8)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    for x1, y1, x2, y2 in boxes.astype(int):
        image[y1:y2, x1:x2] = 255 - colour  # faces are visible patches, so their pixels must follow their boxes
    return image, {'boxes': boxes, 'labels': np.ones(len(boxes), np.int64), 'image_id': image_id}


def _four():
    return [_item(400, 300, [[100, 80, 180, 180]], 40, 'a'),
            _item(640, 480, [[50, 50, 110, 130], [300, 200, 340, 250]], 80, 'b'),
            _item(200, 400, [[20, 100, 120, 220]], 120, 'c'),
            _item(500, 500, [[200, 200, 260, 270]], 160, 'd')]


def test_canvas_has_the_network_size_and_boxes_stay_in_their_cells():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        canvas, target = mosaic_canvas(_four(), (320, 240), rng)
        assert canvas.shape == (240, 320, 3) and canvas.dtype == np.uint8
        boxes = target['boxes']
        assert boxes.dtype == np.float32 and target['labels'].dtype == np.int64
        assert len(boxes) == len(target['labels']) >= 1
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 320).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= 240).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert target['image_id'] == 'a+mosaic'
        # each box is a patch of its source image's face colour: the pixel at its centre must be a face pixel
        for x1, y1, x2, y2 in boxes:
            if min(x2 - x1, y2 - y1) >= 6:
                px = canvas[int((y1 + y2) / 2), int((x1 + x2) / 2), 0]
                assert px in (255 - 40, 255 - 80, 255 - 120, 255 - 160), px


def test_faces_get_smaller_than_with_the_single_image_preset():
    """The point of the canvas: cells are a quarter of the image on average, so faces are sampled smaller."""
    sizes_mosaic, sizes_single = [], []
    single = build_transform('face', (320, 240), min_size_px=0)
    torch.manual_seed(0)
    for seed in range(60):
        rng = np.random.default_rng(seed)
        _, t = mosaic_canvas(_four(), (320, 240), rng)
        sizes_mosaic += list(np.sqrt((t['boxes'][:, 2] - t['boxes'][:, 0]) * (t['boxes'][:, 3] - t['boxes'][:, 1])))
        _, t1 = single(*_four()[0])
        b = t1['boxes'].numpy() * np.array([320, 240, 320, 240])
        sizes_single += list(np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))
    assert np.median(sizes_mosaic) < 0.8 * np.median(sizes_single)


def test_empty_ground_truth_items_give_an_empty_target():
    items = [_item(300, 200, [], 30 * i, 'neg%d' % i) for i in range(4)]
    canvas, target = mosaic_canvas(items, (320, 240), np.random.default_rng(0))
    assert canvas.shape == (240, 320, 3)
    assert target['boxes'].shape == (0, 4) and target['labels'].shape == (0,)


def test_mosaic_needs_four_items():
    with pytest.raises(ValueError, match='4 items'):
        mosaic_canvas(_four()[:3], (320, 240), np.random.default_rng(0))


class _Raw(torch.utils.data.Dataset):
    def __init__(self):
        self.items = _four()

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        image, target = self.items[i]
        return image.copy(), dict(target)


def test_dataset_wrapper_mixes_canvases_and_single_items():
    post = build_mosaic_post()
    single = build_transform('face', (320, 240))
    torch.manual_seed(0)
    ds = MosaicDataset(_Raw(), single, post, (320, 240), p=1.0)
    assert len(ds) == 4
    image, target = ds[1]
    assert tuple(image.shape) == (3, 240, 320) and image.dtype == torch.float32
    assert target['image_id'] == 'b+mosaic'
    assert target['boxes'].shape[1] == 4 and float(target['boxes'].max()) <= 1.0
    ds.p = 0.0
    image, target = ds[1]
    assert tuple(image.shape) == (3, 240, 320) and target['image_id'] == 'b'
    with pytest.raises(ValueError, match='probability'):
        MosaicDataset(_Raw(), single, post, (320, 240), p=1.5)


def test_config_validates_the_mosaic_probability():
    assert load_config(overrides=['data.mosaic=0.5'])['data']['mosaic'] == 0.5
    assert load_config()['data']['mosaic'] == 0.0
    with pytest.raises(ConfigError, match='data.mosaic'):
        load_config(overrides=['data.mosaic=2'])


@pytest.mark.skipif(not os.path.isdir(DATA), reason='../shared/data is not beside the checkout')
def test_training_with_mosaic_runs_on_real_images(tmp_path):
    from face_ssd_training.train import Trainer
    dlib = os.path.join(DATA, 'dlib')
    cfg = load_config(overrides=['model.arch=slim', 'model.input_size=[160, 120]', 'data.mosaic=1.0',
                                 'train.epochs=1', 'train.batch_size=4', 'train.num_workers=0', 'train.max_iters=2',
                                 'train.warmup_epochs=0', 'output.dir=%s' % tmp_path, 'output.name=mosaic'])
    cfg['data']['train'] = [{'format': 'wider', 'images': os.path.join(dlib, 'images'),
                             'gt': os.path.join(dlib, 'dlib_bbx_gt.txt')}]
    trainer = Trainer(cfg, progress=False)
    assert isinstance(trainer.train_set, MosaicDataset)
    images, loc, labels, ids, soft = next(iter(trainer.train_loader))
    assert tuple(images.shape) == (4, 3, 120, 160) and all(i.endswith('+mosaic') for i in ids)
    assert int((labels > 0).sum()) > 0  # faces from the canvases were matched to priors
    res = trainer.run()
    assert res.history and np.isfinite(res.history[-1]['loss'])

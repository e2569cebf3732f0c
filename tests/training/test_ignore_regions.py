"""Ignore regions (label -1): faces too small to learn and faces a pseudo-label teacher was unsure of are neither
learned as faces nor as background. Transforms keep them, crops never centre on them, the config switches them on,
the val mAP does not count them, and a real training run uses them."""
import os

import numpy as np
import pytest

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.data.labels import IGNORE_LABEL
from face_ssd_training.data.transforms import FaceScaleCrop, FilterBoxes, build_mosaic_post, build_transform

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'faces')


def _item(boxes, labels, w=200, h=150):
    image = np.full((h, w, 3), 90, np.uint8)
    return image, {'boxes': np.asarray(boxes, np.float32).reshape(-1, 4), 'labels': np.asarray(labels, np.int64),
                   'image_id': 'x'}


def test_filter_boxes_keeps_small_faces_as_ignore_regions():
    image, target = _item([[0, 0, 5, 30], [10, 10, 30, 30]], [1, 1])
    _, dropped = FilterBoxes(6)(image, target)
    assert dropped['labels'].tolist() == [1] and len(dropped['boxes']) == 1
    _, kept = FilterBoxes(6, as_ignore=True)(image, target)
    assert kept['labels'].tolist() == [IGNORE_LABEL, 1] and len(kept['boxes']) == 2
    with pytest.raises(ValueError, match='small_boxes'):
        build_transform('face', (64, 48), small_boxes='keep')
    assert isinstance(build_mosaic_post(small_boxes='ignore').transforms[-2], FilterBoxes)


def test_face_crop_centres_on_faces_not_on_ignore_regions():
    image, target = _item([[5, 5, 25, 25], [150, 100, 190, 140]], [IGNORE_LABEL, 1])
    crop = FaceScaleCrop((64, 48), face_px=(10, 20), p_whole=0.0, max_zoom_out=1.0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        _, out = crop(image, target, rng=rng)
        assert 1 in out['labels'].tolist()  # the picked box is always in the crop, and it is the face
    # only ignore regions: a random crop (the K = 0 path), no error
    image, target = _item([[5, 5, 25, 25]], [IGNORE_LABEL])
    out_image, _ = crop(image, target, rng=rng)
    assert out_image.shape == (48, 64, 3)


def test_config_switches():
    cfg = load_config()
    assert cfg['data']['small_boxes'] == 'drop' and cfg['train']['ignore_iou_threshold'] == 0.2
    assert load_config(overrides=['data.small_boxes=ignore'])['data']['small_boxes'] == 'ignore'
    with pytest.raises(ConfigError, match='data.small_boxes'):
        load_config(overrides=['data.small_boxes=maybe'])
    with pytest.raises(ConfigError, match='ignore_iou_threshold'):
        load_config(overrides=['train.ignore_iou_threshold=0'])
    with pytest.raises(ConfigError, match=r'data.train\[0\].invalid'):
        load_config(overrides=['data.train=[{format: wider, images: a, gt: b, invalid: keep}]'])
    with pytest.raises(ConfigError, match='only for format: wider'):
        load_config(overrides=['data.train=[{format: voc, root: a, invalid: ignore}]'])


@pytest.mark.skipif(not os.path.isdir(DATA), reason='../shared/data is not beside the checkout')
def test_training_with_ignore_regions_on_real_images(tmp_path):
    """WIDER train images: their 'invalid' faces become ignore regions, tiny faces too; the batch carries ignored
    priors, training runs, and the val mAP ignores detections on ignore regions."""
    import torch
    from face_ssd_training.evaluate_model import raw_target
    from face_ssd_training.train import Trainer
    wider = os.path.join(DATA, 'wider_train_fullres')
    spec = {'format': 'wider', 'images': os.path.join(wider, 'images'),
            'gt': os.path.join(wider, 'wider_face_train_bbx_gt.txt'), 'invalid': 'ignore'}
    cfg = load_config(overrides=['model.arch=slim', 'model.input_size=[160, 120]', 'data.small_boxes=ignore',
                                 'data.min_box_size=6', 'train.epochs=1', 'train.batch_size=8', 'train.num_workers=0',
                                 'train.max_iters=2', 'train.warmup_epochs=0', 'train.val_every=1',
                                 'output.dir=%s' % tmp_path, 'output.name=ign'])
    cfg['data']['train'] = [spec]
    cfg['data']['val'] = [dict(spec)]
    torch.manual_seed(0)
    trainer = Trainer(cfg, progress=False)
    ds = trainer.train_set.datasets[0] if hasattr(trainer.train_set, 'datasets') else trainer.train_set
    assert ds.report.stats['boxes_invalid_as_ignore'] == 9
    assert 5 <= sum(int((r.labels == IGNORE_LABEL).sum()) for r in ds.records) <= 9  # < 2 px / degenerate dropped
    assert any((raw_target(trainer.val_set, i)[1] == IGNORE_LABEL).any() for i in range(len(trainer.val_set)))
    counts = np.zeros(2, np.int64)  # ignored priors, positive priors over a few random batches
    for _ in range(4):
        _, _, labels, _, _ = next(iter(trainer.train_loader))
        counts += [int((labels == IGNORE_LABEL).sum()), int((labels > 0).sum())]
    assert counts.min() > 0, counts
    res = trainer.run()
    assert np.isfinite(res.history[-1]['loss']) and 0.0 <= res.history[-1]['val_map'] <= 1.0

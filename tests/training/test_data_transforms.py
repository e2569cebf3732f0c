"""Augmentation presets and transforms: box invariants (hypothesis), alignment of boxes with pixels, K = 0,
determinism under torch seeds (also through DataLoader workers), ToTensor normalisation, detection_collate."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from face_ssd_training.data.transforms import (PRESETS, Compose, Expand, FaceScaleCrop, FilterBoxes,
                                               PhotometricDistort, RandomMirror, RandomSampleCrop, Resize,
                                               ToTensor, build_transform, detection_collate)

SIZE = (64, 48)


def white_boxes_image(w, h, boxes):
    """Black image with each box filled white (to check that boxes follow the pixels)."""
    img = np.zeros((h, w, 3), np.uint8)
    for x1, y1, x2, y2 in boxes:
        img[int(np.ceil(y1)):int(y2), int(np.ceil(x1)):int(x2)] = 255
    return img


def item(w, h, boxes, labels=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.arange(1, len(boxes) + 1, dtype=np.int64) if labels is None else np.asarray(labels, np.int64)
    return white_boxes_image(w, h, boxes), {'boxes': boxes, 'labels': labels, 'image_id': 'x'}


@st.composite
def items(draw):
    w = draw(st.integers(8, 160))
    h = draw(st.integers(8, 160))
    k = draw(st.integers(0, 6))
    boxes = []
    for _ in range(k):
        x1 = draw(st.floats(0, w - 1, allow_nan=False))
        y1 = draw(st.floats(0, h - 1, allow_nan=False))
        x2 = draw(st.floats(x1 + 0.5, w, allow_nan=False))
        y2 = draw(st.floats(y1 + 0.5, h, allow_nan=False))
        boxes.append([x1, y1, x2, y2])
    return item(w, h, boxes, labels=np.arange(k) % 3 + 1)


def check_output(image, target, labels_in):
    assert isinstance(image, torch.Tensor) and image.dtype == torch.float32 and tuple(image.shape) == (3, 48, 64)
    assert torch.isfinite(image).all()
    b, lab = target['boxes'], target['labels']
    assert b.dtype == torch.float32 and lab.dtype == torch.int64
    assert b.shape == (len(lab), 4)
    assert (b >= 0).all() and (b <= 1).all()
    assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
    assert set(lab.tolist()) <= set(labels_in.tolist())
    assert target['image_id'] == 'x'


@pytest.mark.parametrize('preset', sorted(PRESETS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=items(), seed=st.integers(0, 2 ** 31))
def test_preset_invariants(preset, data, seed):
    image, target = data
    torch.manual_seed(seed)
    out = build_transform(preset, SIZE)(image, target)
    check_output(*out, labels_in=target['labels'])


@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_presets_handle_no_boxes(preset):
    image, target = item(100, 80, [])
    torch.manual_seed(3)
    for _ in range(5):
        out_img, out_t = build_transform(preset, SIZE)(image, target)
        assert out_t['boxes'].shape == (0, 4) and out_t['labels'].shape == (0,)


def test_eval_preset_is_exact():
    image, target = item(128, 96, [[16, 8, 64, 56]])
    img, t = build_transform('eval', SIZE, mean=(0, 0, 0), std=(255, 255, 255))(image, target)
    np.testing.assert_allclose(t['boxes'].numpy(), [[0.125, 1 / 12, 0.5, 56 / 96]], rtol=1e-6)
    assert float(img.max()) == pytest.approx(1.0) and float(img.min()) == 0.0


@pytest.mark.parametrize('preset', ['ssd', 'face', 'light'])
def test_determinism_under_seed(preset):
    image, target = item(200, 150, [[20, 30, 60, 80], [100, 40, 150, 110]])
    tr = build_transform(preset, SIZE)

    def run(seed):
        torch.manual_seed(seed)
        return [tr(image, target) for _ in range(6)]
    a, b, c = run(0), run(0), run(1)
    for (ia, ta), (ib, tb) in zip(a, b):
        assert torch.equal(ia, ib) and torch.equal(ta['boxes'], tb['boxes'])
    assert any(not torch.equal(ia, ic) for (ia, _), (ic, _) in zip(a, c))


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, n, transform):
        self.items = [item(120, 90, [[10 + i, 10, 60 + i, 70]]) for i in range(n)]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.transform(*self.items[i])


def test_dataloader_workers_are_deterministic_and_collate():
    ds = _ListDataset(6, build_transform('face', SIZE))

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        dl = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, collate_fn=detection_collate,
                                         generator=g, multiprocessing_context='fork')
        return list(dl)
    a, b = run(5), run(5)
    assert len(a) == 2
    images, targets = a[0]
    assert images.shape == (3, 3, 48, 64) and len(targets) == 3 and 'boxes' in targets[0]
    for (ia, ta), (ib, tb) in zip(a, b):
        assert torch.equal(ia, ib)
        assert all(torch.equal(x['boxes'], y['boxes']) for x, y in zip(ta, tb))
    # the two workers draw different augmentations for identical inputs
    ds.items = [ds.items[0]] * 6
    imgs = torch.cat([x for x, _ in run(5)])
    assert not torch.equal(imgs[0], imgs[3])


def test_collate_rejects_numpy_and_mixed_sizes():
    with pytest.raises(TypeError, match='ToTensor'):
        detection_collate([(np.zeros((4, 4, 3), np.uint8), {})])
    with pytest.raises(ValueError, match='one size'):
        detection_collate([(torch.zeros(3, 4, 4), {}), (torch.zeros(3, 5, 4), {})])


def _box_fill(image_uint8, boxes):
    """Mean brightness inside each box (pixels)."""
    out = []
    for x1, y1, x2, y2 in boxes:
        patch = image_uint8[int(np.ceil(y1)):int(y2), int(np.ceil(x1)):int(x2)]
        out.append(patch.mean() if patch.size else 255.0)
    return np.array(out)


@pytest.mark.parametrize('geometric,crops', [
    (lambda: RandomMirror(p=1.0), False),
    (lambda: Expand(fill=(0, 0, 0), max_ratio=3.0, p=1.0), False),
    (lambda: Compose([Expand(fill=(0, 0, 0), p=1.0), RandomMirror(), Resize(64, 48)]), False),
    (lambda: RandomSampleCrop(min_ious=(0.1, 0.5)), True),
    (lambda: FaceScaleCrop((96, 72), fill=(0, 0, 0), p_whole=0.0), True),
    (lambda: Compose([Expand(fill=(0, 0, 0), p=1.0), RandomSampleCrop(), RandomMirror(), Resize(64, 48)]), True),
])
def test_boxes_follow_pixels(geometric, crops):
    image, target = item(160, 120, [[20, 30, 60, 80], [100, 40, 150, 110]])
    t = geometric()
    rng = np.random.default_rng(0)
    for _ in range(20):
        out_img, out_t = t(image, target, rng=rng)
        b = out_t['boxes']
        assert b.dtype == np.float32 and len(b) == len(out_t['labels'])
        shrink = np.array([2, 2, -2, -2], np.float32)  # stay clear of interpolated edges
        inner = [bb + shrink for bb in b if (bb[2] - bb[0] > 6 and bb[3] - bb[1] > 6)]
        assert (_box_fill(out_img, inner) > 200).all()
        if crops:  # a crop legitimately drops boxes whose centre falls outside it
            continue
        # without cropping no box may lose its pixels: little white outside the boxes
        mask = np.zeros(out_img.shape[:2], bool)
        for x1, y1, x2, y2 in b:
            mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
        assert (out_img[..., 0][~mask] > 200).mean() < 0.02


def test_face_crop_spreads_face_sizes_over_octaves():
    image, target = item(640, 480, [[270, 190, 370, 290]])
    t = FaceScaleCrop((320, 240), face_px=(10, 180), p_whole=0.0)
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(300):
        _, out = t(image, target, rng=rng)
        assert len(out['boxes']) == 1  # the picked face is always kept
        b = out['boxes'][0]
        sizes.append(np.sqrt((b[2] - b[0]) * (b[3] - b[1])))
    sizes = np.array(sizes)
    # limited by max_zoom_out=3: 100 px face in a 1920-wide window -> ~17 px; by max_upscale=2 -> 200 px
    assert sizes.min() > 12 and sizes.max() < 215
    assert np.percentile(sizes, 10) < 25 and np.percentile(sizes, 90) > 110


def test_filter_and_photometric():
    image, target = item(64, 48, [[0, 0, 5, 30], [10, 10, 30, 30]])
    _, t = FilterBoxes(6)(image, target)
    assert t['labels'].tolist() == [2]
    rng = np.random.default_rng(1)
    outs = [PhotometricDistort(p=1.0)(image, target, rng=rng)[0] for _ in range(4)]
    assert all(o.dtype == np.uint8 and o.shape == image.shape for o in outs)
    assert any(not np.array_equal(o, image) for o in outs)
    grey = np.full((8, 8, 3), 100, np.uint8)
    assert PhotometricDistort(p=0.0)(grey, target, rng=rng)[0].tolist() == grey.tolist()


def test_to_tensor_bgr_and_errors():
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0] = 200  # red
    t = {'boxes': np.zeros((0, 4), np.float32), 'labels': np.zeros(0, np.int64), 'image_id': 'x'}
    x, _ = ToTensor(mean=(0, 0, 100), std=(1, 1, 2), channel_order='BGR')(img, t)
    assert x[0, 0, 0] == 0 and x[2, 0, 0] == 50  # BGR: channel 2 = red, (200 - 100) / 2
    with pytest.raises(ValueError):
        ToTensor(channel_order='YUV')
    with pytest.raises(ValueError, match='unknown transform preset'):
        build_transform('nope')

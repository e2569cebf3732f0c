"""Golden prior boxes, the box coder round trip, the matcher and the MultiBox loss (incl. no objects)."""
import math

import numpy as np
import pytest
import torch

from face_ssd_training.box_coder import box_iou, center_to_corner, corner_to_center, decode, encode
from face_ssd_training.loss import MultiBoxLoss, hard_negative_mask
from face_ssd_training.matcher import match
from face_ssd_training.models.registry import FACE_PRIORS, SSD300_PRIORS
from face_ssd_training.priors import PriorSpec, generate_priors


def test_face_priors_golden_320x240():
    spec = PriorSpec.from_dict(FACE_PRIORS)
    p = generate_priors(spec, 320, 240)
    assert p.shape == (4420, 4) and p.dtype == np.float32
    assert spec.feature_sizes(320, 240) == [(40, 30), (20, 15), (10, 8), (5, 4)]
    # first cell of the first level: three square boxes of 10, 16, 24 px
    np.testing.assert_allclose(p[0], [0.5 / 40, 0.5 / 30, 10 / 320., 10 / 240.], rtol=1e-6)
    np.testing.assert_allclose(p[1], [0.5 / 40, 0.5 / 30, 16 / 320., 16 / 240.], rtol=1e-6)
    np.testing.assert_allclose(p[2], [0.5 / 40, 0.5 / 30, 24 / 320., 24 / 240.], rtol=1e-6)
    # second cell moves along x
    np.testing.assert_allclose(p[3], [1.5 / 40, 0.5 / 30, 10 / 320., 10 / 240.], rtol=1e-6)
    # first prior of level 2 (after 40*30*3 boxes)
    np.testing.assert_allclose(p[3600], [0.5 / 20, 0.5 / 15, 32 / 320., 32 / 240.], rtol=1e-6)
    # last prior: 256 px box at the last cell of the 5x4 map, height clipped to 1
    np.testing.assert_allclose(p[-1], [4.5 / 5, 3.5 / 4, 256 / 320., 1.0], rtol=1e-6)


def test_ssd300_priors_golden():
    spec = PriorSpec.from_dict(SSD300_PRIORS)
    p = generate_priors(spec, 300, 300)
    assert p.shape == (3000, 4)
    assert spec.boxes_per_cell() == [6] * 6
    c = 0.5 / 19
    np.testing.assert_allclose(p[:6], [[c, c, 0.2, 0.2],
                                       [c, c, math.sqrt(60 * 105) / 300, math.sqrt(60 * 105) / 300],
                                       [c, c, 60 * math.sqrt(2) / 300, 60 / math.sqrt(2) / 300],
                                       [c, c, 60 / math.sqrt(2) / 300, 60 * math.sqrt(2) / 300],
                                       [c, c, 60 * math.sqrt(3) / 300, 60 / math.sqrt(3) / 300],
                                       [c, c, 60 / math.sqrt(3) / 300, 60 * math.sqrt(3) / 300]], rtol=1e-5)
    np.testing.assert_allclose(p[-6], [0.5, 0.5, 285 / 300., 285 / 300.], rtol=1e-6)


# The original SSD300 (VGG16) layout: 6 levels of 38, 19, 10, 5, 3, 1 cells with steps 8 .. 300 (cell centres at
# (i + 0.5) * step / 300, so the step-64 grid does not end at the image edge), 4 or 6 boxes per cell.
SSD300_VGG_PRIORS = dict(strides=[8, 16, 32, 64, 100, 300],
                         min_sizes=[[30], [60], [111], [162], [213], [264]],
                         max_sizes=[[60], [111], [162], [213], [264], [315]],
                         aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                         variances=[0.1, 0.2], clip=True, centers='stride')


def _ssd300_vgg_reference():
    """The SSD300 priors written out cell by cell from the paper's rule (independent of generate_priors)."""
    out = []
    for f, step, lo, hi, ratios in zip([38, 19, 10, 5, 3, 1], [8, 16, 32, 64, 100, 300], [30, 60, 111, 162, 213, 264],
                                       [60, 111, 162, 213, 264, 315], [[2], [2, 3], [2, 3], [2, 3], [2], [2]]):
        for i in range(f):
            for j in range(f):
                cx, cy = (j + 0.5) * step / 300.0, (i + 0.5) * step / 300.0
                s = lo / 300.0
                out.append([cx, cy, s, s])
                out.append([cx, cy, math.sqrt(lo * hi) / 300.0, math.sqrt(lo * hi) / 300.0])
                for a in ratios:
                    out.append([cx, cy, s * math.sqrt(a), s / math.sqrt(a)])
                    out.append([cx, cy, s / math.sqrt(a), s * math.sqrt(a)])
    return np.clip(np.asarray(out), 0.0, 1.0)


def test_ssd300_vgg_priors_golden_8732():
    spec = PriorSpec.from_dict(SSD300_VGG_PRIORS)
    assert spec.feature_sizes(300, 300) == [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    assert spec.boxes_per_cell() == [4, 6, 6, 6, 4, 4]
    p = generate_priors(spec, 300, 300)
    assert p.shape == (8732, 4) and spec.num_priors(300, 300) == 8732
    s2 = math.sqrt(2)
    np.testing.assert_allclose(p[:5], [[4 / 300., 4 / 300., 0.1, 0.1],
                                       [4 / 300., 4 / 300., math.sqrt(30 * 60) / 300, math.sqrt(30 * 60) / 300],
                                       [4 / 300., 4 / 300., 0.1 * s2, 0.1 / s2],
                                       [4 / 300., 4 / 300., 0.1 / s2, 0.1 * s2],
                                       [12 / 300., 4 / 300., 0.1, 0.1]], rtol=1e-5)
    # the last cell of the 38x38 map is centred at 37.5 * 8 / 300 = 1.0 (not at 37.5 / 38 as 'cell' centres)
    np.testing.assert_allclose(p[38 * 38 * 4 - 4], [1.0, 1.0, 0.1, 0.1], rtol=1e-6)
    # the step-64 level (5x5, starting after 5776 + 2166 + 600 priors): last cell at 4.5 * 64 / 300 = 0.96
    np.testing.assert_allclose(p[5776 + 2166 + 600 + 24 * 6], [0.96, 0.96, 162 / 300., 162 / 300.], rtol=1e-6)
    # the single 1x1 cell: its 2:1 box (264 * sqrt 2 px wide) is clipped to the image
    np.testing.assert_allclose(p[-4:], [[0.5, 0.5, 0.88, 0.88],
                                        [0.5, 0.5, math.sqrt(264 * 315) / 300, math.sqrt(264 * 315) / 300],
                                        [0.5, 0.5, 1.0, 0.88 / s2],
                                        [0.5, 0.5, 0.88 / s2, 1.0]], rtol=1e-5)
    np.testing.assert_allclose(p, _ssd300_vgg_reference(), atol=1e-6)
    # same spec with the default cell centres: same count, but the step-64 grid is stretched over the image
    cell = generate_priors(PriorSpec.from_dict(dict(SSD300_VGG_PRIORS, centers='cell')), 300, 300)
    assert cell.shape == (8732, 4)
    assert cell[5776 + 2166 + 600 + 24 * 6][0] == pytest.approx(0.9)


def test_prior_spec_centers_round_trip_and_validation():
    spec = PriorSpec.from_dict(SSD300_VGG_PRIORS)
    assert spec.to_dict()['centers'] == 'stride' and PriorSpec.from_dict(spec.to_dict()) == spec
    assert 'centers' not in PriorSpec.from_dict(FACE_PRIORS).to_dict()   # manifests of older models unchanged
    with pytest.raises(ValueError, match='centers'):
        PriorSpec([8], [[10]], centers='corner')


@pytest.mark.parametrize('size', [(320, 240), (640, 480), (300, 300), (333, 197)])
def test_prior_count_follows_input_size(size):
    spec = PriorSpec.from_dict(FACE_PRIORS)
    assert generate_priors(spec, *size).shape[0] == spec.num_priors(*size)


def test_prior_spec_rejects_inconsistent_levels():
    with pytest.raises(ValueError, match='levels'):
        PriorSpec([8, 16], [[10]])
    with pytest.raises(ValueError, match='positive'):
        PriorSpec([8], [[0]])


def test_spec_dict_round_trip():
    spec = PriorSpec.from_dict(SSD300_PRIORS)
    assert PriorSpec.from_dict(spec.to_dict()) == spec


def test_coder_round_trip():
    torch.manual_seed(0)
    priors = corner_to_center(torch.tensor([[0.1, 0.1, 0.3, 0.4], [0.5, 0.5, 0.9, 0.7]]))
    boxes = corner_to_center(torch.tensor([[0.12, 0.08, 0.33, 0.41], [0.4, 0.55, 0.95, 0.66]]))
    off = encode(boxes, priors, (0.1, 0.2))
    torch.testing.assert_close(decode(off, priors, (0.1, 0.2)), boxes, rtol=1e-5, atol=1e-6)
    # a box equal to its prior encodes to zero
    torch.testing.assert_close(encode(priors, priors, (0.1, 0.2)), torch.zeros(2, 4))
    torch.testing.assert_close(center_to_corner(corner_to_center(boxes)), boxes)


def test_iou_values():
    a = torch.tensor([[0., 0., 2., 2.]])
    b = torch.tensor([[1., 1., 3., 3.], [0., 0., 2., 2.], [5., 5., 6., 6.]])
    torch.testing.assert_close(box_iou(a, b), torch.tensor([[1 / 7., 1., 0.]]))


def test_matcher_assigns_every_gt_and_thresholds():
    priors = corner_to_center(torch.tensor([[0., 0., .2, .2], [.1, .1, .3, .3], [.6, .6, .9, .9], [.0, .7, .1, .8]]))
    gt = torch.tensor([[0., 0., .2, .2], [.62, .62, .88, .88]])
    boxes, labels = match(gt, torch.tensor([1, 2]), priors, 0.5)
    assert labels.tolist() == [1, 0, 2, 0]      # prior 1 overlaps gt 0 with IoU 1/7 < 0.5
    torch.testing.assert_close(boxes[2], gt[1])


def test_matcher_forces_best_prior_for_tiny_box():
    priors = corner_to_center(torch.tensor([[0., 0., .5, .5], [.5, .5, 1., 1.]]))
    gt = torch.tensor([[0.52, 0.52, 0.56, 0.56]])     # IoU with every prior << threshold
    _, labels = match(gt, torch.tensor([1]), priors, 0.5)
    assert labels.tolist() == [0, 1]


def test_matcher_no_ground_truth():
    priors = torch.rand(10, 4)
    boxes, labels = match(torch.zeros((0, 4)), torch.zeros((0,), dtype=torch.int64), priors, 0.5)
    assert boxes.shape == (10, 4) and labels.sum() == 0


def test_matcher_ignore_regions_make_ignored_priors_not_positives():
    priors = corner_to_center(torch.tensor([[0., 0., .2, .2], [.05, .05, .25, .25], [.6, .6, .9, .9],
                                            [.5, .5, .55, .55], [.0, .7, .1, .8]]))
    gt = torch.tensor([[.62, .62, .88, .88], [0., 0., .2, .2], [.51, .51, .53, .53]])
    boxes, labels = match(gt, torch.tensor([1, -1, -1]), priors, 0.5, ignore_iou_threshold=0.3)
    # prior 0 (IoU 1) and prior 1 (IoU 0.39) lie on the first ignore region; prior 3 is the best prior of the tiny
    # one (IoU 0.16 < 0.3); prior 2 stays the object's positive, prior 4 background
    assert labels.tolist() == [-1, -1, 1, -1, 0]
    torch.testing.assert_close(boxes[2], gt[0])
    _, only_ignore = match(gt[1:], torch.tensor([-1, -1]), priors, 0.5, ignore_iou_threshold=0.3)
    assert only_ignore.tolist() == [-1, -1, 0, -1, 0]
    # a positive wins over an ignore region on the same prior
    _, both = match(gt[:2], torch.tensor([-1, 1]), priors, 0.5, ignore_iou_threshold=0.3)
    assert both.tolist() == [1, 0, -1, 0, 0]


def test_ignored_priors_are_neither_negatives_nor_in_the_loss():
    labels = torch.tensor([[1, -1, -1, 0, 0, 0, 0, 0]])
    bg_loss = torch.tensor([[0., 9., 8., 1., 2., 3., 4., 0.5]])  # the ignored priors would be the hardest
    mask = hard_negative_mask(bg_loss, labels, 3, 2)
    assert mask[0].tolist() == [True, False, False, False, True, True, True, False]
    crit = MultiBoxLoss(3, 2)
    conf = torch.zeros(1, 8, 2)
    conf[0, 1:3, 1] = 5.0  # confident faces on the ignored priors: no loss for them
    _, cls_ignored = crit(conf, torch.zeros(1, 8, 4), labels, torch.zeros(1, 8, 4))
    _, cls_plain = crit(torch.zeros(1, 8, 2), torch.zeros(1, 8, 4), labels, torch.zeros(1, 8, 4))
    assert cls_ignored.item() == pytest.approx(cls_plain.item())


def test_hard_negative_mining_ratio_and_min_negatives():
    labels = torch.tensor([[1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]])
    bg_loss = torch.arange(16, dtype=torch.float32).reshape(2, 8)
    mask = hard_negative_mask(bg_loss, labels, 3, 2)
    assert mask[0].tolist() == [True, False, False, False, False, True, True, True]   # 1 pos + 3 hardest
    assert mask[1].tolist() == [False] * 6 + [True, True]                           # no objects: min 2


def test_loss_finite_without_objects_and_positive_with():
    torch.manual_seed(0)
    crit = MultiBoxLoss(3, 4)
    conf = torch.randn(2, 50, 2, requires_grad=True)
    loc = torch.randn(2, 50, 4, requires_grad=True)
    labels = torch.zeros(2, 50, dtype=torch.int64)
    reg, cls = crit(conf, loc, labels, torch.zeros(2, 50, 4))
    assert reg.item() == 0 and torch.isfinite(cls) and cls.item() > 0
    (reg + cls).backward()
    assert torch.isfinite(conf.grad).all()
    labels[0, :3] = 1
    reg, cls = crit(conf, loc, labels, torch.zeros(2, 50, 4))
    assert reg.item() > 0 and cls.item() > 0


def test_class_weights_change_the_loss():
    torch.manual_seed(0)
    conf, loc = torch.randn(1, 20, 3), torch.randn(1, 20, 4)
    labels = torch.zeros(1, 20, dtype=torch.int64)
    labels[0, :2] = 1
    labels[0, 2:4] = 2
    a = MultiBoxLoss(3, 4)(conf, loc, labels, torch.zeros(1, 20, 4))[1]
    b = MultiBoxLoss(3, 4, class_weights=[1.0, 1.0, 5.0])(conf, loc, labels, torch.zeros(1, 20, 4))[1]
    assert b.item() > a.item()

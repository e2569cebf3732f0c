"""nms / postprocess: golden cases, edge cases, speed, and hypothesis invariants."""
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from face_ssd_ros.detect.detection import Detection
from face_ssd_ros.detect.postprocess import box_iou_one_to_many, nms, postprocess

LABELS2 = ['background', 'face']
LABELS3 = ['background', 'face', 'plate']


# ---------------------------------------------------------------------------------------------- IoU / NMS
def test_iou_known_values():
    box = [0, 0, 10, 10]
    others = [[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10], [0, 0, 5, 10], [3, 3, 3, 8]]
    np.testing.assert_allclose(box_iou_one_to_many(box, others), [1.0, 0.0, 50 / 150, 0.5, 0.0])


def test_nms_golden():
    boxes = np.array([[0, 0, 10, 10],      # 0: best
                      [1, 0, 11, 10],      # 1: IoU 90/110 = 0.818 with 0 -> suppressed at 0.5
                      [20, 20, 30, 30],    # 2: disjoint -> kept
                      [0, 0, 10, 5],       # 3: IoU 0.5 with 0 -> kept at threshold 0.5 (not greater)
                      [21, 20, 31, 30]])   # 4: overlaps 2 (0.818) -> suppressed
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [4, 0, 3])
    np.testing.assert_array_equal(nms(boxes, scores, 0.49), [4, 0])
    np.testing.assert_array_equal(nms(boxes, scores, 0.9), [4, 0, 1, 2, 3])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5, max_keep=2), [4, 0])


def test_nms_ties_are_stable_and_empty_input():
    boxes = np.array([[0, 0, 10, 10]] * 3 + [[50, 50, 60, 60]] * 2, dtype=np.float32)
    scores = np.array([0.5, 0.5, 0.5, 0.7, 0.7])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [3, 0])
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError):
        nms(np.zeros((2, 4)), np.zeros(3), 0.5)


def _boxes_strategy(max_n):
    coord = st.floats(0, 100, allow_nan=False, width=32)
    size = st.floats(0.5, 60, allow_nan=False, width=32)
    return st.lists(st.tuples(coord, coord, size, size, st.floats(0, 1, width=32)), min_size=0, max_size=max_n)


@settings(max_examples=80, deadline=None)
@given(items=_boxes_strategy(40), iou=st.floats(0.0, 1.0))
def test_property_nms_is_greedy_and_complete(items, iou):
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in items], dtype=np.float64).reshape(-1, 4)
    scores = np.array([s for *_, s in items], dtype=np.float64)
    keep = nms(boxes, scores, iou)
    assert len(set(keep.tolist())) == len(keep)
    kept_scores = scores[keep]
    assert (np.diff(kept_scores) <= 0).all()
    for i, k in enumerate(keep):         # no two kept boxes overlap more than the threshold
        if i + 1 < len(keep):
            assert (box_iou_one_to_many(boxes[k], boxes[keep[i + 1:]]) <= iou).all()
    order = {int(k): pos for pos, k in enumerate(np.argsort(-scores, kind='stable'))}
    for j in set(range(len(boxes))) - set(keep.tolist()):   # every dropped box was suppressed by an earlier kept one
        earlier = [k for k in keep if order[int(k)] < order[j]]
        assert earlier and (box_iou_one_to_many(boxes[j], boxes[earlier]) > iou).any()


@settings(max_examples=80, deadline=None)
@given(items=_boxes_strategy(60), iou=st.sampled_from([0.0, 0.3, 0.5, 1.0]), block=st.integers(1, 9),
       max_keep=st.one_of(st.none(), st.integers(1, 20)), rounded=st.booleans())
def test_property_nms_in_blocks_equals_one_block(items, iou, block, max_keep, rounded):
    """Blocks of the visiting order (the default for thousands of candidates) change nothing, ties included."""
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in items], dtype=np.float64).reshape(-1, 4)
    scores = np.array([s for *_, s in items], dtype=np.float64)
    if rounded:   # equal boxes and equal scores
        boxes, scores = np.round(boxes / 10) * 10, np.round(scores, 1)
    np.testing.assert_array_equal(nms(boxes, scores, iou, max_keep, block=block),
                                  nms(boxes, scores, iou, max_keep, block=None))


def test_nms_of_thousands_of_candidates_in_blocks():
    """An evaluation's low threshold leaves thousands of boxes: the default blocks give one block's result."""
    rng = np.random.default_rng(3)
    centres = rng.random((6000, 2)) * [640, 480]
    sizes = rng.random((6000, 2)) * 60 + 4
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    scores = rng.random(6000).astype(np.float32)
    for max_keep in (None, 750, 10):
        np.testing.assert_array_equal(nms(boxes, scores, 0.3, max_keep), nms(boxes, scores, 0.3, max_keep, block=None))


# ---------------------------------------------------------------------------------------------- postprocess
def make_outputs(rows):
    """rows: (scores per class incl. background, normalised box) -> (scores [N, C], boxes [N, 4]) float32."""
    scores = np.array([r[0] for r in rows], dtype=np.float32)
    boxes = np.array([r[1] for r in rows], dtype=np.float32)
    return scores, boxes


def test_empty_inputs():
    assert postprocess(np.zeros((0, 2), np.float32), np.zeros((0, 4), np.float32), 640, 480, LABELS2,
                       0.5, 0.3, 10) == []
    scores, boxes = make_outputs([([0.9, 0.1], [0.1, 0.1, 0.2, 0.2])])
    assert postprocess(scores, boxes, 640, 480, LABELS2, 0.5, 0.3, 10) == []     # only background is high


def test_threshold_scaling_and_detection_fields():
    scores, boxes = make_outputs([([0.1, 0.9], [0.1, 0.2, 0.3, 0.6]),
                                  ([0.5, 0.5], [0.6, 0.6, 0.8, 0.8]),    # exactly at the threshold: kept
                                  ([0.6, 0.4], [0.0, 0.0, 0.1, 0.1])])
    dets = postprocess(scores, boxes, 200, 100, LABELS2, 0.5, 0.3, 10)
    assert len(dets) == 2 and all(isinstance(d, Detection) for d in dets)
    d = dets[0]
    assert (d.label, d.class_index) == ('face', 1)
    np.testing.assert_allclose([d.x1, d.y1, d.x2, d.y2], [20, 20, 60, 60], rtol=1e-6)
    assert d.score == pytest.approx(0.9) and isinstance(d.score, float)
    assert d.width == pytest.approx(40) and d.center == pytest.approx((40, 40))
    assert dets[1].score == pytest.approx(0.5)


def test_clipping_and_degenerate_boxes():
    scores, boxes = make_outputs([([0, 1.0], [-0.2, -0.1, 0.5, 1.3]),     # clipped to the image
                                  ([0, 0.9], [1.1, 0.2, 1.3, 0.4]),       # fully outside -> no area -> dropped
                                  ([0, 0.8], [0.5, 0.5, 0.5, 0.7]),       # zero width -> dropped
                                  ([0, 0.7], [0.7, 0.2, 0.6, 0.4]),       # inverted -> dropped
                                  ([0, 0.6], [np.nan, 0.2, 0.9, 0.4])])   # NaN coordinate -> dropped
    dets = postprocess(scores, boxes, 100, 50, LABELS2, 0.1, 0.5, 10)
    assert len(dets) == 1
    np.testing.assert_allclose([dets[0].x1, dets[0].y1, dets[0].x2, dets[0].y2], [0, 0, 50, 50], atol=1e-5)
    assert str(dets[0].x1) == '0.0'      # no negative zero


def test_per_class_nms_class_filter_and_background():
    same_box = [0.1, 0.1, 0.5, 0.5]
    scores, boxes = make_outputs([([0.0, 0.7, 0.8], same_box),
                                  ([0.0, 0.6, 0.1], [0.12, 0.1, 0.52, 0.5]),   # suppressed by row 0 (face)
                                  ([0.95, 0.0, 0.0], [0.6, 0.6, 0.9, 0.9])])   # background only
    dets = postprocess(scores, boxes, 100, 100, LABELS3, 0.5, 0.3, 10)
    assert [(d.label, round(d.score, 2)) for d in dets] == [('plate', 0.8), ('face', 0.7)]
    dets = postprocess(scores, boxes, 100, 100, LABELS3, 0.5, 0.3, 10, class_ids=[1])
    assert [d.label for d in dets] == ['face']
    assert postprocess(scores, boxes, 100, 100, LABELS3, 0.5, 0.3, 10, class_ids=[]) == []
    with pytest.raises(ValueError, match='background'):
        postprocess(scores, boxes, 100, 100, LABELS3, 0.5, 0.3, 10, class_ids=[0])


def test_max_detections_keeps_the_best():
    rows = [([0, s], [i / 20, 0.0, i / 20 + 0.04, 0.04]) for i, s in enumerate(np.linspace(0.55, 0.99, 15))]
    scores, boxes = make_outputs(rows)
    dets = postprocess(scores, boxes, 100, 100, LABELS2, 0.5, 0.3, 4)
    assert [round(d.score, 4) for d in dets] == [round(float(s), 4) for s in np.linspace(0.55, 0.99, 15)[::-1][:4]]
    assert postprocess(scores, boxes, 100, 100, LABELS2, 0.5, 0.3, 0) == []


def test_shape_and_label_errors():
    with pytest.raises(ValueError, match='labels'):
        postprocess(np.zeros((3, 2)), np.zeros((3, 4)), 10, 10, LABELS3, 0.5, 0.3, 5)
    with pytest.raises(ValueError, match=r'\[N, 4\]'):
        postprocess(np.zeros((3, 2)), np.zeros((2, 4)), 10, 10, LABELS2, 0.5, 0.3, 5)


def test_fast_on_a_full_size_prior_set():
    """18000 priors x 2 classes, a realistic number of candidates, must cost milliseconds, not seconds."""
    rng = np.random.default_rng(0)
    n = 18000
    face = np.where(rng.random(n) < 0.01, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.3, n)).astype(np.float32)
    scores = np.stack([1 - face, face], axis=1)
    xy = rng.random((n, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + 0.05], axis=1)
    postprocess(scores, boxes, 640, 480, LABELS2, 0.6, 0.3, 200)
    start = time.perf_counter()
    for _ in range(5):
        dets = postprocess(scores, boxes, 640, 480, LABELS2, 0.6, 0.3, 200)
    per_call = (time.perf_counter() - start) / 5
    assert 100 < len(dets) <= 200
    assert per_call < 0.25, 'postprocess took %.1f ms per call' % (per_call * 1e3)


@settings(max_examples=80, deadline=None)
@given(items=st.lists(st.tuples(st.floats(-0.25, 1.25, width=32), st.floats(-0.25, 1.25, width=32),
                                st.floats(-0.125, 0.625, width=32), st.floats(-0.125, 0.625, width=32),
                                st.floats(0, 1, width=32), st.floats(0, 1, width=32)), max_size=60),
       size=st.tuples(st.integers(1, 700), st.integers(1, 500)), thr=st.floats(0, 1), iou=st.floats(0, 1),
       max_det=st.integers(1, 30))
def test_property_postprocess_invariants(items, size, thr, iou, max_det):
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _, _ in items], dtype=np.float32).reshape(-1, 4)
    scores = np.array([[max(0.0, 1 - a - b), a, b] for *_, a, b in items], dtype=np.float32).reshape(-1, 3)
    width, height = size
    dets = postprocess(scores, boxes, width, height, LABELS3, thr, iou, max_det)
    assert len(dets) <= max_det
    assert all(dets[i].score >= dets[i + 1].score for i in range(len(dets) - 1))
    for d in dets:
        assert 0 <= d.x1 < d.x2 <= width and 0 <= d.y1 < d.y2 <= height
        assert d.score >= np.float32(thr) and d.class_index in (1, 2) and d.label == LABELS3[d.class_index]
    for cls in (1, 2):
        mine = [d for d in dets if d.class_index == cls]
        for i, a in enumerate(mine):
            others = [[b.x1, b.y1, b.x2, b.y2] for b in mine[i + 1:]]
            if others:
                assert (box_iou_one_to_many([a.x1, a.y1, a.x2, a.y2], others) <= iou).all()

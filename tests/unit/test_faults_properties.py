"""Property-based tests (hypothesis) of SSD box decoding, alone and followed by the runtime post-processing.

``decode`` + ``center_to_corner`` is exactly what the exported graph computes for its ``boxes`` output
(``face_ssd_training.models.ssd.InferenceModel``); ``postprocess`` is what the detector runs on it. (Image
conversion and post-processing on their own: tests/unit/test_image_codec.py and test_postprocess.py.)
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from face_ssd_ros.detect.postprocess import postprocess

torch = pytest.importorskip('torch')
from face_ssd_training.box_coder import center_to_corner, corner_to_center, decode, encode  # noqa: E402

VARIANCES = st.tuples(st.floats(0.05, 0.5), st.floats(0.1, 0.5))
LABELS = ('background', 'face', 'plate')


def _centre(xy, size):
    return st.tuples(st.floats(*xy), st.floats(*xy), st.floats(*size), st.floats(*size))


@settings(max_examples=40, deadline=None)
@given(pairs=st.lists(st.tuples(_centre((0.0, 1.0), (0.01, 1.0)), _centre((-0.2, 1.2), (0.005, 1.5))),
                      min_size=1, max_size=30), variances=VARIANCES)
def test_property_encode_then_decode_gives_the_box_back(pairs, variances):
    priors = torch.tensor([p for p, _ in pairs], dtype=torch.float64)
    boxes = torch.tensor([b for _, b in pairs], dtype=torch.float64)
    offsets = encode(boxes, priors, variances)
    assert torch.isfinite(offsets).all()
    torch.testing.assert_close(decode(offsets, priors, variances), boxes, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(corner_to_center(center_to_corner(boxes)), boxes, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(_centre((0.0, 1.0), (0.01, 1.0)), st.lists(st.floats(-4, 4), min_size=4, max_size=4)),
                     min_size=1, max_size=30), variances=VARIANCES, shift=st.floats(0.01, 2.0))
def test_property_decoding_is_monotonic_and_sizes_stay_positive(rows, variances, shift):
    priors = torch.tensor([p for p, _ in rows], dtype=torch.float64)
    offsets = torch.tensor([o for _, o in rows], dtype=torch.float64)
    boxes = decode(offsets, priors, variances)
    corners = center_to_corner(boxes)
    assert (boxes[:, 2:] > 0).all() and (corners[:, 2:] > corners[:, :2]).all()
    moved = decode(offsets + shift, priors, variances)   # larger offsets: centre moves right/down, box grows
    assert (moved[:, :2] > boxes[:, :2]).all() and (moved[:, 2:] > boxes[:, 2:]).all()


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(_centre((0.0, 1.0), (0.02, 0.8)), st.lists(st.floats(-3, 3), min_size=4, max_size=4),
                               st.floats(0, 1), st.floats(0, 1)), max_size=40),
       variances=VARIANCES, size=st.tuples(st.integers(1, 7680), st.integers(1, 4320)),
       threshold=st.floats(0.05, 1.0), iou=st.floats(0.0, 1.0), max_det=st.integers(1, 20))
def test_property_decoded_boxes_through_postprocess_are_valid_detections(rows, variances, size, threshold, iou,
                                                                        max_det):
    """Any decoded network output (boxes may leave [0, 1]) yields detections inside the image, in pixels of it,
    sorted by score, at most max_detections, above the threshold; and every box that is big enough after
    clipping and alone in its class is reported."""
    width, height = size
    priors = torch.tensor([r[0] for r in rows], dtype=torch.float64).reshape(-1, 4)
    offsets = torch.tensor([r[1] for r in rows], dtype=torch.float64).reshape(-1, 4)
    boxes = center_to_corner(decode(offsets, priors, variances)).numpy().astype(np.float32)
    scores = np.array([[max(0.0, 1 - a - b), a, b] for _, _, a, b in rows], dtype=np.float32).reshape(-1, 3)
    dets = postprocess(scores, boxes, width, height, LABELS, threshold, iou, max_det)
    assert len(dets) <= max_det
    assert all(dets[i].score >= dets[i + 1].score for i in range(len(dets) - 1))
    for d in dets:
        assert all(np.isfinite([d.x1, d.y1, d.x2, d.y2]))
        assert 0 <= d.x1 < d.x2 <= width and 0 <= d.y1 < d.y2 <= height
        assert d.score >= np.float32(threshold) and d.label == LABELS[d.class_index]
        # the detection is one of the decoded boxes, scaled to pixels and clipped
        scaled = np.clip(boxes.astype(np.float64) * [width, height, width, height], 0,
                         [width, height, width, height])
        assert np.isclose(scaled, [d.x1, d.y1, d.x2, d.y2], rtol=1e-6, atol=1e-6).all(axis=1).any()
    if len(rows) == 1 and max(scores[0, 1:]) >= np.float32(threshold):
        x1, y1, x2, y2 = np.clip(boxes[0].astype(np.float64) * [width, height, width, height], 0,
                                 [width, height, width, height])
        if x2 > x1 and y2 > y1:
            assert len(dets) >= 1

"""overlay_draw: boxes and labels land where the detections are, stable colours, rate meter."""
import collections

import numpy as np
import pytest

from face_ssd_ros.detect import draw as od

Det = collections.namedtuple('Det', 'x1 y1 x2 y2 score class_index label')


def test_colors_stable_distinct_and_ordered():
    assert od.color_for_label('face') == od.color_for_label('face')
    assert od.color_for_label('face') != od.color_for_label('plate')
    assert od.color_for_label('face', 'RGB') == od.color_for_label('face', 'BGR')[::-1]
    assert max(od.color_for_label('face')) >= 250  # bright
    with pytest.raises(ValueError):
        od.color_for_label('face', 'HSV')


def test_draws_box_in_label_colour_and_leaves_rest():
    img = np.zeros((200, 300, 3), np.uint8)
    det = Det(50.0, 60.0, 150.0, 170.0, 0.93, 1, 'face')
    out = od.draw_detections(img, [det], thickness=3)
    assert not img.any()  # the input is not modified by default
    color = np.array(od.color_for_label('face'))
    # The left and bottom edges carry the label colour; the box interior and the far corner stay black.
    assert (out[120, 50] == color).all() and (out[170, 100] == color).all()
    assert not out[120, 100].any() and not out[195, 295].any()
    # The label tag is drawn above the box.
    assert out[40:60, 50:120].any()


def test_draw_scores_changes_label_and_rate_text():
    img = np.zeros((120, 200, 3), np.uint8)
    det = Det(60, 40, 120, 100, 0.5, 1, 'face')
    with_score = od.draw_detections(img, [det], draw_scores=True)
    without = od.draw_detections(img, [det], draw_scores=False)
    assert (with_score != without).any()
    with_rate = od.draw_detections(img, [], rate_hz=12.5)
    assert with_rate[100:120, 0:80].any() and not with_rate[0:50, 100:].any()


def test_track_id_is_drawn():
    from face_ssd_ros.detect.detection import Detection
    tracked = Detection(60.0, 40.0, 120.0, 100.0, 0.5, 1, 'face', 17)
    assert od.label_text(tracked) == 'face #17 0.50' and od.label_text(tracked, draw_scores=False) == 'face #17'
    assert od.label_text(tracked._replace(track_id=None)) == 'face 0.50'
    assert od.label_text(Det(0, 0, 1, 1, 0.25, 1, 'plate')) == 'plate 0.25'   # objects without track_id
    img = np.zeros((120, 200, 3), np.uint8)
    with_id = od.draw_detections(img, [tracked], draw_scores=False)
    without = od.draw_detections(img, [tracked._replace(track_id=None)], draw_scores=False)
    assert (with_id != without).any()


def test_boxes_outside_image_are_clipped_not_crashing():
    img = np.zeros((50, 50, 3), np.uint8)
    out = od.draw_detections(img, [Det(-20, -20, 80, 80, 0.9, 1, 'face')], copy=False)
    assert out is img and img.any()
    with pytest.raises(ValueError):
        od.draw_detections(np.zeros((5, 5), np.uint8), [])


def test_rate_meter():
    m = od.RateMeter(window=1.0)
    assert m.rate() == 0.0
    for i in range(11):
        m.tick(now=10.0 + i * 0.1)
    assert m.rate() == pytest.approx(10.0)
    for i in range(3):  # slower events push old ones out of the window
        m.tick(now=11.5 + i * 0.5)
    assert m.rate() == pytest.approx(2.0, rel=0.01)

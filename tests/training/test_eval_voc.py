"""VOC AP / mAP / recall-at-FPPI on hand-computed cases, and the IoU helpers they rest on."""
import math

import numpy as np
import pytest

from face_ssd_training.eval.boxes import iou_matrix, xywh_to_xyxy, xyxy_to_xywh
from face_ssd_training.eval.voc import (AGNOSTIC, average_precision, evaluate_detections, match_class,
                                        recall_at_fp_per_image)

A = [0, 0, 10, 10]
B = [20, 20, 40, 40]
C = [50, 0, 60, 10]


def gt(boxes, labels=None, ignore=None):
    entry = {'boxes': np.asarray(boxes, float).reshape(-1, 4), 'labels': labels or ['face'] * len(boxes)}
    if ignore is not None:
        entry['ignore'] = ignore
    return entry


def det(box, score, label='face'):
    return tuple(box) + (score, label)


# ------------------------------------------------------------------------------------------------ IoU helpers
def test_iou_continuous_and_inclusive_pixel_conventions():
    a, b = [[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]
    assert iou_matrix(a, b) == pytest.approx(np.array([[50 / 150, 0.0]]))
    # +1 convention (VOC devkit / WIDER): inter 6*11, areas 11*11 each
    assert iou_matrix(a, b, pixel_offset=1.0)[0, 0] == pytest.approx(66 / (121 + 121 - 66))
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 2)
    assert iou_matrix(a, []).shape == (1, 0)


def test_xywh_round_trip():
    xywh = np.array([[3.0, 4.0, 10.0, 20.0]])
    assert xywh_to_xyxy(xywh).tolist() == [[3, 4, 13, 24]]
    assert xyxy_to_xywh(xywh_to_xyxy(xywh)).tolist() == xywh.tolist()
    with pytest.raises(ValueError):
        iou_matrix([[1, 2, 3]], [[1, 2, 3, 4]])


# ------------------------------------------------------------------------------------------------ AP cases
def test_perfect_predictions_give_ap_1():
    g = {'a': gt([A, B]), 'b': gt([C])}
    p = {'a': [det(A, 0.9), det(B, 0.8)], 'b': [det(C, 0.7)]}
    r = evaluate_detections(p, g)
    assert r.ap['face'] == pytest.approx(1.0) and r.map == pytest.approx(1.0)
    assert r.num_gt['face'] == 3 and r.num_det['face'] == 3


def test_one_false_positive_ranked_between_true_positives():
    # order: TP (0.9), FP (0.8), TP (0.7) -> recall .5 .5 1, precision 1 .5 2/3 -> AP = .5*1 + .5*2/3
    g = {'a': gt([A]), 'b': gt([B])}
    p = {'a': [det(A, 0.9), det(C, 0.8)], 'b': [det(B, 0.7)]}
    assert evaluate_detections(p, g).ap['face'] == pytest.approx(0.5 + 0.5 * 2 / 3)
    # the same FP ranked last costs nothing under the VOC envelope
    p['a'][1] = det(C, 0.1)
    assert evaluate_detections(p, g).ap['face'] == pytest.approx(1.0)


def test_one_missed_box_halves_ap():
    g = {'a': gt([A]), 'b': gt([B])}
    assert evaluate_detections({'a': [det(A, 0.9)]}, g).ap['face'] == pytest.approx(0.5)


def test_duplicate_detection_is_a_false_positive():
    m = match_class({'a': [det(A, 0.9), det(A, 0.8)]}, {'a': gt([A])})
    assert m.tp.tolist() == [True, False] and m.fp.tolist() == [False, True]


def test_low_iou_is_fp_and_miss():
    shifted = [6, 0, 16, 10]   # IoU 4/16 = 0.25 with A
    r = evaluate_detections({'a': [det(shifted, 0.9)]}, {'a': gt([A])})
    assert r.ap['face'] == 0.0
    assert evaluate_detections({'a': [det(shifted, 0.9)]}, {'a': gt([A])}, iou_threshold=0.2).ap['face'] == 1.0


def test_difficult_boxes_are_neither_tp_nor_fp():
    g_ign = {'a': gt([A, B], ignore=[False, True])}
    g_plain = {'a': gt([A, B])}
    only_a = {'a': [det(A, 0.9)]}
    assert evaluate_detections(only_a, g_ign).ap['face'] == pytest.approx(1.0)   # B does not count
    assert evaluate_detections(only_a, g_plain).ap['face'] == pytest.approx(0.5)
    # a detection on the difficult box, ranked first, does not become a false positive
    m = match_class({'a': [det(B, 0.95), det(A, 0.9)]}, g_ign)
    assert m.tp.tolist() == [False, True] and m.fp.tolist() == [False, False] and m.num_positives == 1
    assert evaluate_detections({'a': [det(B, 0.95), det(A, 0.9)]}, g_ign).ap['face'] == pytest.approx(1.0)
    # 'difficult' is accepted as the key too
    g_diff = {'a': {'boxes': [A, B], 'labels': ['face', 'face'], 'difficult': [False, True]}}
    assert evaluate_detections(only_a, g_diff).ap['face'] == pytest.approx(1.0)


def test_empty_predictions_give_zero():
    r = evaluate_detections({}, {'a': gt([A]), 'b': gt([])})
    assert r.ap['face'] == 0.0 and r.map == 0.0


def test_empty_ground_truth_gives_nan_and_is_left_out_of_map():
    g = {'a': gt([A], labels=['face']), 'b': gt([])}
    p = {'a': [det(A, 0.9, 'face')], 'b': [det(B, 0.8, 'plate')]}
    r = evaluate_detections(p, g)
    assert math.isnan(r.ap['plate']) and r.num_gt['plate'] == 0 and r.num_det['plate'] == 1
    assert r.map == pytest.approx(1.0)
    assert math.isnan(evaluate_detections({}, {'a': gt([])}).map)
    assert r.to_dict()['classes']['plate']['ap'] is None


def test_map_over_classes_and_numeric_labels():
    g = {'a': {'boxes': [A, B], 'labels': [1, 2]}, 'b': {'boxes': [C], 'labels': [2]}}
    p = {'a': np.array([A + [0.9, 1], B + [0.8, 2]], float)}   # class 2 misses C -> AP .5
    r = evaluate_detections(p, g)
    assert r.ap[1] == pytest.approx(1.0) and r.ap[2] == pytest.approx(0.5) and r.map == pytest.approx(0.75)


def test_eleven_point_metric():
    # recall 0.5 at precision 1: 6 of the 11 recall points (0, .1, ..., .5) see precision 1
    assert average_precision([0.5], [1.0], use_07_metric=True) == pytest.approx(6 / 11)
    assert average_precision([0.5], [1.0]) == pytest.approx(0.5)
    assert average_precision([], []) == 0.0


def test_unknown_prediction_image_is_an_error():
    with pytest.raises(ValueError, match='not in the ground truth'):
        evaluate_detections({'zzz': [det(A, 0.9)]}, {'a': gt([A])})


# ------------------------------------------------------------------------------------------------ recall @ FPPI
def test_recall_at_fp_per_image():
    # 2 images, 2 faces; order TP .9, FP .8, FP .7, TP .6 -> cumulative FP 0 1 2 2, TP 1 1 1 2
    g = {'a': gt([A]), 'b': gt([B])}
    p = {'a': [det(A, 0.9), det(C, 0.8)], 'b': [det(C, 0.7), det(B, 0.6)]}
    r = recall_at_fp_per_image(p, g, (0.1, 0.5, 1.0))
    assert r == {0.1: pytest.approx(0.5), 0.5: pytest.approx(0.5), 1.0: pytest.approx(1.0)}
    assert recall_at_fp_per_image({}, g, (1.0,))[1.0] == 0.0
    assert math.isnan(recall_at_fp_per_image({}, {'a': gt([])}, (1.0,))[1.0])


def test_agnostic_matching_ignores_labels():
    g = {'a': gt([A], labels=['face'])}
    p = {'a': [det(A, 0.9, 'my_face')]}
    assert evaluate_detections(p, g).ap['face'] == 0.0
    assert recall_at_fp_per_image(p, g, (0.0,), label=AGNOSTIC)[0.0] == 1.0

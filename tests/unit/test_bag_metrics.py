"""Bag evaluation maths: ground-truth encoding, pairing by stamp, VOC / FPPI / WIDER metrics, latency, reports.

Hand-computed cases; the WIDER numbers are checked against the protocol core
(face_ssd_ros.evaluation.metrics.wider) directly.
"""
import json
import math
import os

import numpy as np
import pytest

from face_ssd_ros.config.bag_params import parse_fppi
from face_ssd_ros.evaluation import bag_metrics, bag_report, gt_encoding
from face_ssd_ros.evaluation.bag_metrics import DetectionSummary, EvaluationAccumulator, EvaluationSettings, \
    compute_metrics
from face_ssd_ros.evaluation.gt_encoding import GroundTruth, GroundTruthFormatError, format_gt_id, parse_gt_id
from face_ssd_ros.evaluation.metrics.wider import WiderImageGT, evaluate_wider


def _gt(boxes, ignore=None, wider=None, labels=None):
    return GroundTruth.create(boxes, labels, ignore, wider)


# ---------------------------------------------------------------------------------------------- encoding
def test_gt_id_round_trip_and_errors():
    assert format_gt_id(0) == '0'
    assert format_gt_id(3, ignore=True) == '3;ignore'
    assert format_gt_id(5, wider=(True, True, False)) == '5;wider=em'
    assert format_gt_id(7, wider=(False, False, False)) == '7;wider='
    assert parse_gt_id('5;ignore;wider=eh') == (5, True, (True, False, True))
    assert parse_gt_id('7;wider=') == (7, False, (False, False, False))
    assert parse_gt_id('2') == (2, False, None)
    for bad, word in (('x', 'index'), ('1;difficult', 'unknown flag'), ('1;wider=ex', 'e, m, h'), ('', 'index')):
        with pytest.raises(GroundTruthFormatError, match=word):
            parse_gt_id(bad)


def test_gt_message_round_trip_with_vision_msgs():
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection2DArray

    from face_ssd_ros.detect.detection import Detection
    from face_ssd_ros.msgs.convert import detections_to_msg
    gt = _gt([[10, 20, 50, 80], [0, 0, 5, 5]], ignore=[False, True], wider=[[1, 1, 1], [0, 0, 0]],
             labels=['face', 'face'])
    rows = gt_encoding.gt_rows(gt)
    assert [r[6] for r in rows] == ['0;wider=emh', '1;ignore;wider=']
    msg = detections_to_msg([Detection(r[0], r[1], r[2], r[3], r[4], 1, r[5]) for r in rows], Header(frame_id='c'))
    for item, row in zip(msg.detections, rows):
        item.id = row[6]
    back = gt_encoding.gt_from_msg(msg)
    np.testing.assert_allclose(back.boxes, gt.boxes)
    assert back.labels == ['face', 'face'] and back.ignore.tolist() == [False, True]
    assert back.wider.tolist() == gt.wider.tolist()
    assert dict((k, v.tolist()) for k, v in back.wider_keep().items()) == {'easy': [0], 'medium': [0], 'hard': [0]}
    plain = gt_encoding.gt_from_msg(Detection2DArray())
    assert plain.boxes.shape == (0, 4) and plain.wider is None
    with pytest.raises(ValueError, match='2 boxes but 1 labels'):
        GroundTruth.create([[0, 0, 1, 1], [0, 0, 2, 2]], labels=['face'])


def test_parse_fppi_and_settings():
    assert parse_fppi('0.1, 0.5,1') == (0.1, 0.5, 1.0)
    for bad in ('', 'a,b', '0,1', '-1'):
        with pytest.raises(ValueError, match='comma-separated'):
            parse_fppi(bad)
    with pytest.raises(ValueError, match='iou_threshold'):
        EvaluationSettings(iou_threshold=1.0)


# ---------------------------------------------------------------------------------------------- metrics
def _frames():
    """Three frames, labels 'face'.

    f1: GT A=[0,0,10,10], B=[20,20,30,30]; detections 0.9 on A (TP), 0.8 off (FP), 0.7 on B (TP).
    f2: no GT; detection 0.95 (FP).
    f3: GT C=[0,0,10,10]; no detections (a miss).
    Ranked: 0.95 FP, 0.9 TP, 0.8 FP, 0.7 TP with 3 positives -> recall 0, 1/3, 1/3, 2/3; precision 0, 1/2, 1/3,
    1/2. Envelope: 1/2 up to recall 2/3 -> AP = 2/3 * 1/2 = 1/3.
    """
    return {
        (1, 0): (_gt([[0, 0, 10, 10], [20, 20, 30, 30]]),
                 [(0, 0, 10, 10, 0.9, 'face'), (50, 50, 60, 60, 0.8, 'face'), (20, 20, 30, 30, 0.7, 'face')]),
        (2, 0): (_gt(np.zeros((0, 4))), [(0, 0, 10, 10, 0.95, 'face')]),
        (3, 0): (_gt([[0, 0, 10, 10]]), []),
    }


def test_voc_ap_recall_at_fppi_hand_computed():
    out = compute_metrics(_frames(), EvaluationSettings(0.5, (0.1, 0.34, 1.0)))
    face = out['voc']['classes']['face']
    assert face['ap'] == pytest.approx(1.0 / 3.0) and out['voc']['map'] == pytest.approx(1.0 / 3.0)
    assert (face['num_gt'], face['num_det']) == (3, 4)
    # FP per image over 3 images: 0.1 -> 0 FP allowed (nothing before the first FP) -> recall 0;
    # 0.34 -> 1 FP -> up to 0.9 TP -> 1/3; 1.0 -> 3 FP allowed -> every detection -> 2/3.
    rec = out['recall_at_fppi']
    assert rec['0.1'] == 0.0 and rec['0.34'] == pytest.approx(1.0 / 3.0) and rec['1.0'] == pytest.approx(2.0 / 3.0)
    assert out['wider'] is None
    assert list(out['curves']) == ['voc face']


def test_ignored_box_is_neither_tp_nor_fp():
    frames = {(1, 0): (_gt([[0, 0, 10, 10], [20, 20, 30, 30]], ignore=[False, True]),
                       [(20, 20, 30, 30, 0.95, 'face'), (0, 0, 10, 10, 0.9, 'face')])}
    out = compute_metrics(frames)
    assert out['voc']['classes']['face']['ap'] == pytest.approx(1.0)  # the 0.95 detection on the ignore box is free
    assert out['voc']['classes']['face']['num_gt'] == 1
    frames[(1, 0)] = (_gt([[0, 0, 10, 10], [20, 20, 30, 30]]), frames[(1, 0)][1])
    assert compute_metrics(frames)['voc']['classes']['face']['ap'] == pytest.approx(1.0)  # both TP when counted


def test_empty_ground_truth_everywhere_gives_undefined_ap():
    frames = {(1, 0): (_gt(np.zeros((0, 4))), [(0, 0, 10, 10, 0.5, 'face')]), (2, 0): (_gt(np.zeros((0, 4))), [])}
    out = compute_metrics(frames)
    assert out['voc']['map'] is None and out['voc']['classes']['face']['ap'] is None
    assert out['recall_at_fppi']['0.1'] is None


def test_wider_settings_follow_the_official_protocol():
    # Frame 1: box 0 easy+medium+hard, box 1 hard only, box 2 in no setting (ignore box of all three).
    gt1 = _gt([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], wider=[[1, 1, 1], [0, 0, 1], [0, 0, 0]])
    gt2 = _gt([[0, 0, 20, 20]], wider=[[0, 1, 1]])
    frames = {(1, 0): (gt1, [(0, 0, 10, 10, 0.9, 'face'), (40, 40, 50, 50, 0.8, 'face'),
                             (20, 20, 30, 30, 0.6, 'face')]),
              (2, 0): (gt2, [(60, 60, 70, 70, 0.7, 'face')])}
    out = compute_metrics(frames)
    ref = evaluate_wider(dict((k, np.asarray([r[:5] for r in rows], float)) for k, (_, rows) in frames.items()),
                         dict((k, WiderImageGT(g.boxes, g.wider_keep())) for k, (g, _) in frames.items()))
    assert out['wider']['num_faces'] == {'easy': 1, 'medium': 2, 'hard': 3}
    for s in ('easy', 'medium', 'hard'):
        assert out['wider']['ap'][s] == pytest.approx(ref.ap[s])
    # easy: the only counted face is found first, the 0.8 hit on the ignore box is free, the 0.7 and 0.6 ones
    # are proposals without recall -> the curve reaches recall 1 at precision 1.
    assert out['wider']['ap']['easy'] == pytest.approx(1.0)
    assert out['wider']['ap']['hard'] < 1.0 and 'wider hard' in out['curves']


# ---------------------------------------------------------------------------------------------- accumulator
def test_pairing_in_any_order_drops_and_latency():
    acc = EvaluationAccumulator(cache_size=2)
    frames = _frames()
    acc.add_detections((1, 0), frames[(1, 0)][1], latency_ms=30.0)  # detections before their ground truth
    acc.add_ground_truth((1, 0), frames[(1, 0)][0])
    acc.add_ground_truth((2, 0), frames[(2, 0)][0])
    acc.add_detections((2, 0), frames[(2, 0)][1], latency_ms=10.0)
    acc.add_ground_truth((3, 0), frames[(3, 0)][0])
    acc.add_detections((3, 0), [], latency_ms=20.0)
    acc.add_ground_truth((4, 0), _gt([[0, 0, 1, 1]]))       # dropped: no detection array ever
    acc.add_detections((9, 0), [(0, 0, 1, 1, 0.5, 'face')])  # an array of a frame we have no ground truth for
    c = acc.counters()
    assert dict(c) == {'ground_truth_frames': 4, 'detection_arrays': 4, 'evaluated_frames': 3, 'dropped_frames': 1,
                       'detections_without_ground_truth': 1, 'duplicate_stamps': 0}
    assert acc.waiting() == 1
    result = acc.result()
    assert result['voc']['classes']['face']['ap'] == pytest.approx(1.0 / 3.0)  # the dropped frame is left out
    lat = result['latency_ms']
    assert (lat['count'], lat['mean'], lat['max']) == (3, pytest.approx(20.0), 30.0)
    for i in range(5, 9):  # overflow: the oldest waiting ground truth is evicted and still counted as dropped
        acc.add_ground_truth((i, 0), _gt(np.zeros((0, 4))))
    assert acc.counters()['dropped_frames'] == 5


# ---------------------------------------------------------------------------------------------- reports
def test_reports_json_markdown_png(tmp_path):
    acc = EvaluationAccumulator()
    for key, (gt, rows) in _frames().items():
        acc.add_ground_truth(key, gt)
        acc.add_detections(key, rows, latency_ms=12.5)
    report = bag_report.build_report(acc.result(), {'mode': 'test', 'bags': 'x'})
    paths = bag_report.write_reports(report, str(tmp_path / 'out'), 'run1')
    assert sorted(os.path.basename(p) for p in paths.values()) == ['run1.json', 'run1.md', 'run1_pr.png']
    with open(paths['json']) as f:
        data = json.load(f)
    assert data['format'] == 'face_ssd.bag_eval' and data['format_version'] == 1
    assert data['voc']['classes']['face']['ap'] == pytest.approx(1.0 / 3.0)
    assert data['frames']['evaluated_frames'] == 3 and data['latency_ms']['p50'] == pytest.approx(12.5)
    assert math.isclose(data['curves']['voc face']['recall'][-1], 2.0 / 3.0, abs_tol=1e-4)
    md = open(paths['markdown']).read()
    assert '| face | 33.33 % | 3 | 4 |' in md and '| 3 | 12.5 | 12.5 | 12.5 | 12.5 |' in md
    with open(paths['plot'], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert bag_metrics.LATENCY_WINDOW >= 100000


# ---------------------------------------------------------------------------------------------- without ground truth
def test_without_ground_truth_detections_latency_and_drops_are_reported(tmp_path):
    """A robot's recording: no ground truth. No accuracy (None, said plainly), but what was detected, the latency
    and the frames that never got an array (images sent minus arrays received)."""
    acc = EvaluationAccumulator()
    acc.add_detections((1, 0), [(0, 0, 10, 10, 0.9, 'face'), (20, 20, 30, 30, 0.5, 'face')], latency_ms=40.0)
    acc.add_detections((2, 0), [], latency_ms=20.0)
    acc.add_detections((3, 0), [(5, 5, 9, 9, 0.7, 'plate')], latency_ms=30.0)
    result = acc.result(expected_frames=5)
    assert result['ground_truth'] is False and result['voc'] is None and result['recall_at_fppi'] is None
    assert result['wider'] is None and not result['curves']
    frames = result['frames']
    assert (frames['images'], frames['detection_arrays'], frames['dropped_frames']) == (5, 3, 2)
    det = result['detections']
    assert (det['arrays'], det['frames_with_detections'], det['boxes'], det['max_boxes_per_array']) == (3, 2, 3, 2)
    assert det['labels'] == {'face': 2, 'plate': 1} and det['boxes_per_array'] == pytest.approx(1.0)
    assert (det['score']['min'], det['score']['max']) == (0.5, 0.9) and det['score']['mean'] == pytest.approx(0.7)
    assert result['latency_ms']['mean'] == pytest.approx(30.0)
    assert acc.result()['frames']['dropped_frames'] is None      # images unknown: drops unknown, not 0
    report = bag_report.build_report(result, {'mode': 'test'})
    paths = bag_report.write_reports(report, str(tmp_path / 'out'), 'robot')
    assert sorted(os.path.basename(p) for p in paths.values()) == ['robot.json', 'robot.md']   # no PR plot
    with open(paths['json']) as f:
        data = json.load(f)
    assert data['ground_truth'] is False and data['voc'] is None and data['frames']['dropped_frames'] == 2
    md = open(paths['markdown']).read()
    assert 'No ground truth in this bag' in md and '| 5 | 3 | 2 | 0 |' in md and 'face=2, plate=1' in md
    assert '## Accuracy' not in md and '| 3 | 30.0 |' in md


def test_ground_truth_results_carry_the_new_keys_too():
    acc = EvaluationAccumulator()
    for key, (gt, rows) in _frames().items():
        acc.add_ground_truth(key, gt)
        acc.add_detections(key, rows)
    result = acc.result(expected_frames=3)
    assert result['ground_truth'] is True and result['frames']['images'] == 3
    assert result['frames']['dropped_frames'] == 0 and result['detections']['arrays'] == 3
    md = bag_report.markdown_summary(bag_report.build_report(result, {}))
    assert '## Accuracy' in md and '## Detections' in md and 'No ground truth' not in md
    empty = DetectionSummary().to_dict()
    assert empty['score'] is None and empty['boxes_per_array'] is None and empty['labels'] == {}

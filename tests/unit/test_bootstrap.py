"""evaluation/metrics/bootstrap.py: the paired bootstrap of WIDER AP differences and of operating-point shares, on
small hand-built sets with known answers."""
import numpy as np
import pytest

from face_ssd_ros.evaluation.metrics.bootstrap import (paired_bootstrap, resample_weights,
                                                        share_bootstrap)
from face_ssd_ros.evaluation.metrics.wider import (WiderImageGT, curve_from_counts, evaluate_wider,
                                                   wider_image_counts)


def _gt(n=6):
    """n images, each with two counted faces (every setting) and, in the second half, one ignored box."""
    gt = {}
    for i in range(n):
        boxes = np.array([[10, 10, 50, 50], [100, 10, 140, 50], [200, 200, 240, 240]], np.float64)
        keep = np.array([0, 1])
        gt['img%d' % i] = WiderImageGT(boxes if i >= n // 2 else boxes[:2], {'easy': keep, 'medium': keep,
                                                                              'hard': keep})
    return gt


def _perfect(gt, score=0.9):
    return dict((k, np.hstack([g.boxes[:2], np.full((2, 1), score)])) for k, g in gt.items())


def _with_false_alarms(gt):
    """The perfect boxes plus one confident box on the background of every image."""
    out = {}
    for k, p in _perfect(gt, 0.8).items():
        out[k] = np.vstack([p, [[300, 300, 340, 340, 0.95]]])
    return out


def test_resample_weights_are_draws_of_n_and_follow_the_seed():
    w = resample_weights(10, resamples=50, seed=3)
    assert w.shape == (50, 10) and np.all(w.sum(axis=1) == 10) and np.all(w >= 0)
    assert np.array_equal(w, resample_weights(10, 50, 3)) and not np.array_equal(w, resample_weights(10, 50, 4))


def test_per_image_counts_sum_to_the_official_protocol():
    gt = _gt()
    preds = _with_false_alarms(gt)
    preds['img0'] = preds['img0'][:1]                       # one face missed
    keys, counts, faces = wider_image_counts(preds, gt)
    assert keys == list(gt) and counts['hard'].shape == (6, 1000, 2) and faces['hard'].tolist() == [2] * 6
    official = evaluate_wider(preds, gt)
    # golden: the value of the protocol before it was split into per-image counts (session 14's evaluate_wider)
    assert official.ap['hard'] == pytest.approx(0.6302083333, abs=1e-9)
    for s in ('easy', 'medium', 'hard'):
        assert curve_from_counts(counts[s].sum(axis=0), faces[s].sum())[2] == pytest.approx(official.ap[s])
    assert np.isnan(curve_from_counts(np.zeros((1000, 2)), 0)[2])


def test_a_resample_without_faces_leaves_the_interval_defined():
    from face_ssd_ros.evaluation.metrics.bootstrap import BootstrapResult
    res = BootstrapResult({}, {}, {'hard': np.array([np.nan, 0.1, 0.2, 0.3])})
    low, high = res.interval('hard', level=0.5)
    assert 0.1 <= low < high <= 0.3 and res.share_above('hard') == 1.0


def test_identical_models_differ_by_nothing():
    gt = _gt()
    _, counts, faces = wider_image_counts(_perfect(gt), gt)
    res = paired_bootstrap(counts, counts, faces, resamples=200)
    for key in ('easy', 'medium', 'hard', 'mean'):
        assert res.interval(key) == (0.0, 0.0) and res.share_above(key) == 0.0
    assert res.ap_a['hard'] == pytest.approx(1.0)


def test_a_model_with_a_false_alarm_in_every_image_is_behind_in_every_resample():
    gt = _gt()
    _, worse, faces = wider_image_counts(_with_false_alarms(gt), gt)
    _, better, _ = wider_image_counts(_perfect(gt), gt)
    res = paired_bootstrap(worse, better, faces, resamples=300, seed=1)
    assert res.ap_a['hard'] < res.ap_b['hard'] == pytest.approx(1.0)
    assert res.share_above('hard') == 0.0 and res.interval('mean')[1] < 0
    assert res.diffs['hard'].shape == (300,)
    with pytest.raises(ValueError, match='same 6 images'):
        paired_bootstrap(dict((s, v[:5]) for s, v in worse.items()), better, faces)


def test_share_of_faces_golden():
    share_a, share_b, diffs = share_bootstrap([1, 1], [0, 1], [1, 1], [0, 0], np.array([[2.0, 0.0], [0.0, 2.0],
                                                                                     [1.0, 1.0]]))
    assert share_a == pytest.approx(2 / 3.0) and share_b == 1.0
    assert diffs.tolist() == pytest.approx([0.0, -0.5, 2 / 3.0 - 1.0])
    _, _, empty = share_bootstrap([0, 1], [0, 0], [0, 1], [0, 0], np.array([[2.0, 0.0]]))
    assert empty.tolist() == [0.0]                          # neither model has a box in this resample

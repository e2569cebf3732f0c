"""tracking_metrics: IDF1 / IDP / IDR and id switches on golden sequences; the Hungarian matching against brute
force; empty and malformed input."""
import itertools

import numpy as np
import pytest

from face_ssd_ros.evaluation.tracking_metrics import evaluate_tracking, iou_matrix, max_weight_matching


def box(cx, cy=100.0, size=40.0):
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def frames(*entries):
    """``frames([(id, box), ...], ...)`` -> [(ids, boxes)]."""
    return [([i for i, _ in f], [b for _, b in f]) for f in entries]


def _brute_force(w):
    n, m = w.shape
    best = 0.0
    if n <= m:
        for cols in itertools.permutations(range(m), n):
            best = max(best, sum(w[r, c] for r, c in enumerate(cols)))
    else:
        for rows in itertools.permutations(range(n), m):
            best = max(best, sum(w[r, c] for c, r in enumerate(rows)))
    return best


@pytest.mark.parametrize('shape', [(1, 1), (3, 3), (2, 5), (5, 2), (4, 4), (6, 3)])
def test_max_weight_matching_equals_brute_force(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        w = rng.integers(0, 10, size=shape).astype(float) * (rng.random(shape) < 0.7)
        pairs = max_weight_matching(w)
        assert len(set(r for r, _ in pairs)) == len(pairs) == len(set(c for _, c in pairs))
        assert sum(w[p] for p in pairs) == pytest.approx(_brute_force(w))
        assert all(w[p] > 0 for p in pairs)


def test_max_weight_matching_golden_and_empty():
    # greedy would take (0, 0) = 5 and leave 1; the optimum is 4 + 4
    assert max_weight_matching([[5, 4], [4, 0]]) == [(0, 1), (1, 0)]
    assert max_weight_matching(np.zeros((0, 3))) == [] and max_weight_matching(np.zeros((2, 2))) == []


def test_iou_matrix_known_values():
    np.testing.assert_allclose(iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]),
                               [[1.0, 1 / 3.0, 0.0]])


def test_perfect_tracking():
    gt = frames(*[[('a', box(50 + 5 * t)), ('b', box(300 - 5 * t, 200))] for t in range(10)])
    hyp = frames(*[[(7, box(51 + 5 * t)), (9, box(299 - 5 * t, 200))] for t in range(10)])
    r = evaluate_tracking(gt, hyp)
    assert (r['idf1'], r['idp'], r['idr'], r['id_switches']) == (1.0, 1.0, 1.0, 0)
    assert (r['idtp'], r['gt_boxes'], r['hyp_boxes'], r['matched_boxes']) == (20, 20, 20, 20)
    assert r['assignment'] == {'a': 7, 'b': 9} and (r['gt_ids'], r['hyp_ids'], r['frames']) == (2, 2, 10)


def test_an_id_change_halfway_halves_idf1_and_is_one_switch():
    gt = frames(*[[('a', box(50 + 5 * t))] for t in range(10)])
    hyp = frames(*[[(1 if t < 4 else 2, box(50 + 5 * t))] for t in range(10)])
    r = evaluate_tracking(gt, hyp)
    assert r['id_switches'] == 1 and r['idtp'] == 6 and r['assignment'] == {'a': 2}
    assert r['idf1'] == pytest.approx(2 * 6 / 20.0) and r['idp'] == r['idr'] == pytest.approx(0.6)


def test_swapped_ids_after_a_crossing():
    """Two faces cross at frame 5 and the tracker swaps them: two switches, each id right for half the time."""
    gt, hyp = [], []
    for t in range(10):
        a, b = box(100 + 10 * t), box(200 - 10 * t, 150)   # never overlapping: no ambiguous frame
        gt.append((['a', 'b'], [a, b]))
        hyp.append(([1, 2] if t < 5 else [2, 1], [a, b]))
    r = evaluate_tracking(gt, hyp)
    assert r['id_switches'] == 2 and r['idtp'] == 10 and r['idf1'] == pytest.approx(0.5)


def test_misses_false_positives_and_the_iou_threshold():
    gt = frames([('a', box(100))], [('a', box(110))], [('a', box(120))], [])
    hyp = frames([(1, box(100))], [], [(1, box(130))], [(5, box(400))])   # miss, off by 10 px, a false positive
    r = evaluate_tracking(gt, hyp, iou_threshold=0.5)
    # frame 2: IoU of boxes 10 px apart (40 px wide) = 30*40 / (2*1600 - 1200) = 0.6 -> a match
    assert (r['idtp'], r['gt_boxes'], r['hyp_boxes']) == (2, 3, 3) and r['idf1'] == pytest.approx(4 / 6.0)
    strict = evaluate_tracking(gt, hyp, iou_threshold=0.7)
    assert strict['idtp'] == 1 and strict['matched_boxes'] == 1
    assert r['id_switches'] == 0


def test_a_switch_is_counted_on_reacquisition_with_another_id():
    gt = frames([('a', box(100))], [('a', box(100))], [('a', box(100))])
    hyp = frames([(1, box(100))], [], [(3, box(100))])
    assert evaluate_tracking(gt, hyp)['id_switches'] == 1


def test_empty_sequences():
    r = evaluate_tracking([], [])
    assert r['idf1'] is None and r['idp'] is None and r['idr'] is None and r['id_switches'] == 0
    gt = frames([('a', box(100))], [])
    r = evaluate_tracking(gt, frames([], []))
    assert r['idf1'] == 0.0 and r['idr'] == 0.0 and r['idp'] is None and r['assignment'] == {}


def test_malformed_input_is_rejected():
    with pytest.raises(ValueError, match='1 frames but the hypotheses 2'):
        evaluate_tracking(frames([]), frames([], []))
    with pytest.raises(ValueError, match='2 ids but 1 boxes'):
        evaluate_tracking([(['a', 'b'], [box(1)])], [([], [])])
    with pytest.raises(ValueError, match='appears twice'):
        evaluate_tracking(frames([]), frames([(1, box(1)), (1, box(50))]))
    with pytest.raises(ValueError, match='None is not an id'):
        evaluate_tracking(frames([]), frames([(None, box(1))]))

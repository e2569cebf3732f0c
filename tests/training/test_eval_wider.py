"""The official WIDER FACE protocol: hand-computed cases, a literal loop re-statement of the official procedure on
random data, .mat loading (synthetic files written with scipy) and a sanity check on the real ground truth."""
import os

import numpy as np
import pytest

from face_ssd_ros.evaluation.wider_gt import (SETTINGS, WiderImageGT, evaluate_wider, load_wider_eval_gt,
                                              normalize_scores, parse_wider_mats, read_image_list)


def img_gt(xyxy, keep):
    return WiderImageGT(np.asarray(xyxy, float).reshape(-1, 4), {s: np.asarray(keep[s], int) for s in SETTINGS})


def pred(*rows):
    return np.asarray(rows, float).reshape(-1, 5)


# ------------------------------------------------------------------------------------------------ hand-computed
def test_hand_computed_single_image():
    """GT box0 (easy+hard), box1 (medium+hard). Predictions: p0 on box0 (0.9), p2 a false positive (0.7),
    p1 on box1 (0.5). Normalised (min 0.5, max 0.9): 1.0, 0.5, 0.0.

    hard   (both count): thresholds > .5: P 1, R .5 | (0, .5]: P 1/2, R .5 | 0: P 2/3, R 1 -> AP .5 + .5 * 2/3
    easy   (box1 ignored): p1 is no proposal; R = 1 from the first threshold on                  -> AP 1
    medium (box0 ignored): p0 is no proposal; p2 FP from .5; p1 recalls at 0: P 1/2, R 1         -> AP .5
    """
    box0, box1, far = [10, 10, 50, 50], [100, 10, 140, 50], [300, 300, 340, 340]
    gt = {'e/img': img_gt([box0, box1], {'easy': [0], 'medium': [1], 'hard': [0, 1]})}
    p = {'e/img': pred(box0 + [0.9], far + [0.7], box1 + [0.5])}
    r = evaluate_wider(p, gt)
    assert r.ap['easy'] == pytest.approx(1.0)
    assert r.ap['medium'] == pytest.approx(0.5)
    assert r.ap['hard'] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert r.num_faces == {'easy': 1, 'medium': 1, 'hard': 2}
    recall, precision = r.curves['hard']
    assert recall.shape == precision.shape == (1000,)
    assert recall[0] == pytest.approx(0.5) and precision[0] == pytest.approx(1.0)
    assert recall[-1] == pytest.approx(1.0) and precision[-1] == pytest.approx(2 / 3)


def test_fp_in_image_without_gt_is_not_counted_but_missing_faces_are():
    """Official quirk: images without GT (or without predictions) add nothing to the curve."""
    a = [10, 10, 50, 50]
    gt = {'e/a': img_gt([a], {'easy': [0], 'medium': [0], 'hard': [0]}),
          'e/empty': img_gt([], {'easy': [], 'medium': [], 'hard': []}),
          'e/b': img_gt([a], {'easy': [0], 'medium': [0], 'hard': [0]})}
    p = {'e/a': pred(a + [0.9]), 'e/empty': pred(a + [0.95], a + [0.2])}
    r = evaluate_wider(p, gt)
    assert r.ap['hard'] == pytest.approx(0.5)      # the 2 FPs on e/empty do not lower precision
    assert r.missing == ['e/b'] and r.num_images == 3


def test_iou_uses_inclusive_pixels():
    # GT 0..9 (10 px incl.), prediction 0..4: IoU(+1) = 5*10 / 100 = .5 -> hit; continuous IoU would be 4*9/81 < .5
    gt = {'e/a': img_gt([[0, 0, 9, 9]], {'easy': [0], 'medium': [0], 'hard': [0]})}
    assert evaluate_wider({'e/a': pred([0, 0, 4, 9, 0.8])}, gt).ap['easy'] == pytest.approx(1.0)
    assert evaluate_wider({'e/a': pred([0, 0, 3, 9, 0.8])}, gt).ap['easy'] == 0.0


def test_score_normalisation_follows_official_bounds():
    n = normalize_scores({'a': pred([0, 0, 1, 1, 0.3], [0, 0, 1, 1, 0.9]), 'b': pred()})
    assert n['a'][:, 4].tolist() == pytest.approx([0.0, 1.0])
    # official bounds start at min=1, max=0: scores above 1 keep min at 1
    n = normalize_scores({'a': pred([0, 0, 1, 1, 2.0], [0, 0, 1, 1, 3.0])})
    assert n['a'][:, 4].tolist() == pytest.approx([0.5, 1.0])
    n = normalize_scores({'a': pred([0, 0, 1, 1, 1.0])})   # degenerate range -> 1.0 (documented deviation)
    assert n['a'][:, 4].tolist() == [1.0]


# ------------------------------------------------------------------------------------------------ reference loop
def reference_wider_ap(preds, gt, thresh_num=1000, iou_thr=0.5):
    """Literal restatement of the official loops (per prediction, per threshold), for cross-checking."""
    allscores = np.concatenate([p[:, 4] for p in preds.values() if len(p)])
    lo, hi = min(1.0, allscores.min()), max(0.0, allscores.max())
    aps = {}
    for s in SETTINGS:
        curve = np.zeros((thresh_num, 2))
        faces = 0
        for key, g in gt.items():
            faces += len(g.keep[s])
            p = preds.get(key)
            if p is None or len(p) == 0 or len(g.boxes) == 0:
                continue
            p = p[np.argsort(-p[:, 4], kind='stable')].copy()
            p[:, 4] = (p[:, 4] - lo) / (hi - lo)
            counted = np.zeros(len(g.boxes))
            counted[g.keep[s]] = 1
            recall_list = np.zeros(len(g.boxes))
            proposal = np.ones(len(p))
            pred_recall = np.zeros(len(p))
            for h in range(len(p)):
                ov = []
                for b in g.boxes:
                    iw = min(p[h, 2], b[2]) - max(p[h, 0], b[0]) + 1
                    ih = min(p[h, 3], b[3]) - max(p[h, 1], b[1]) + 1
                    inter = iw * ih
                    union = (p[h, 2] - p[h, 0] + 1) * (p[h, 3] - p[h, 1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
                    ov.append(0.0 if iw <= 0 or ih <= 0 else inter / (union - inter))
                idx = int(np.argmax(ov))
                if ov[idx] >= iou_thr:
                    if counted[idx] == 0:
                        recall_list[idx] = -1
                        proposal[h] = -1
                    elif recall_list[idx] == 0:
                        recall_list[idx] = 1
                pred_recall[h] = np.sum(recall_list == 1)
            for t in range(thresh_num):
                thresh = 1 - (t + 1) / thresh_num
                above = np.where(p[:, 4] >= thresh)[0]
                if len(above):
                    last = above[-1]
                    curve[t, 0] += np.sum(proposal[:last + 1] == 1)
                    curve[t, 1] += pred_recall[last]
        with np.errstate(invalid='ignore', divide='ignore'):
            prec = curve[:, 1] / curve[:, 0]
        rec = curve[:, 1] / faces
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], np.nan_to_num(prec), [0.0]))
        for i in range(len(mpre) - 1, 0, -1):
            mpre[i - 1] = max(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        aps[s] = float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
    return aps


def random_case(seed, n_images=6):
    rng = np.random.default_rng(seed)
    gt, preds = {}, {}
    for i in range(n_images):
        m = int(rng.integers(0, 7))
        xy = rng.uniform(0, 200, (m, 2))
        wh = rng.uniform(4, 60, (m, 2))
        boxes = np.hstack([xy, xy + wh])
        hard = np.sort(rng.choice(m, int(rng.integers(0, m + 1)), replace=False)) if m else np.zeros(0, int)
        medium = hard[rng.random(len(hard)) < 0.6]
        easy = medium[rng.random(len(medium)) < 0.6]
        gt['ev/%d' % i] = WiderImageGT(boxes, {'easy': easy, 'medium': medium, 'hard': hard})
        rows = [np.append(b + rng.normal(0, 3, 4), rng.random()) for b in boxes if rng.random() < 0.8]
        rows += [np.append(np.r_[p, p + rng.uniform(5, 40, 2)], rng.random()) for p in rng.uniform(0, 200, (3, 2))]
        rows += [np.append(b, rng.random()) for b in boxes[:1]]         # a duplicate of a GT box
        if i != 2:                                                      # image 2 has no predictions
            preds['ev/%d' % i] = np.asarray(rows).reshape(-1, 5)
    return preds, gt


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_literal_official_procedure_on_random_data(seed):
    preds, gt = random_case(seed)
    ours = evaluate_wider(preds, gt).ap
    ref = reference_wider_ap(preds, gt)
    for s in SETTINGS:
        assert ours[s] == pytest.approx(ref[s], abs=1e-12), s


# ------------------------------------------------------------------------------------------------ .mat files
def _cells(items):
    arr = np.empty((len(items), 1), dtype=object)
    for i, it in enumerate(items):
        arr[i, 0] = it
    return arr


def write_synthetic_mats(folder, events):
    """``events``: {event: [(name, boxes_xywh [M,4], {setting: 1-based idx})]} -> the four official .mat files."""
    from scipy.io import savemat
    os.makedirs(folder, exist_ok=True)
    names = list(events)
    face = {'event_list': _cells([np.array([e]) for e in names]),
            'file_list': _cells([_cells([np.array([n]) for n, _, _ in events[e]]) for e in names]),
            'face_bbx_list': _cells([_cells([np.asarray(b, np.int32).reshape(-1, 4) for _, b, _ in events[e]])
                                     for e in names])}
    savemat(os.path.join(folder, 'wider_face_val.mat'), face)
    for s in SETTINGS:
        gl = _cells([_cells([np.asarray(k[s], np.uint16).reshape(-1, 1) for _, _, k in events[e]]) for e in names])
        savemat(os.path.join(folder, 'wider_%s_val.mat' % s), {'gt_list': gl})


SYNTH = {
    '0--Parade': [('0_Parade_a', [[10, 10, 20, 30], [50, 50, 8, 8]], {'easy': [1], 'medium': [1], 'hard': [1, 2]})],
    '1--Handshaking': [('1_H_b', [[0, 0, 40, 40]], {'easy': [], 'medium': [1], 'hard': [1]}),
                       ('1_H_c', np.zeros((0, 4)), {'easy': [], 'medium': [], 'hard': []})],
}


def test_load_synthetic_mats_and_restrict_to_list(tmp_path):
    write_synthetic_mats(str(tmp_path / 'eval_ground_truth'), SYNTH)
    gt = load_wider_eval_gt(str(tmp_path))          # dataset folder: finds eval_ground_truth/
    assert sorted(gt) == ['0--Parade/0_Parade_a', '1--Handshaking/1_H_b', '1--Handshaking/1_H_c']
    a = gt['0--Parade/0_Parade_a']
    assert a.boxes.tolist() == [[10, 10, 30, 40], [50, 50, 58, 58]]     # x2 = x + w
    assert a.keep['easy'].tolist() == [0] and a.keep['hard'].tolist() == [0, 1]
    assert gt['1--Handshaking/1_H_c'].boxes.shape == (0, 4)
    sub = load_wider_eval_gt(str(tmp_path / 'eval_ground_truth'), ['1--Handshaking/1_H_b.jpg'])
    assert list(sub) == ['1--Handshaking/1_H_b']
    with pytest.raises(KeyError, match='not in'):
        load_wider_eval_gt(str(tmp_path), ['9--X/nope.jpg'])
    with pytest.raises(FileNotFoundError, match='wider_face_val.mat'):
        load_wider_eval_gt(str(tmp_path / 'nowhere'))


def test_parse_rejects_out_of_range_index():
    events = {'e': [('n', [[0, 0, 5, 5]], {'easy': [2], 'medium': [], 'hard': []})]}
    face = {'event_list': _cells([np.array(['e'])]), 'file_list': _cells([_cells([np.array(['n'])])]),
            'face_bbx_list': _cells([_cells([np.array([[0, 0, 5, 5]])])])}
    settings = {s: {'gt_list': _cells([_cells([np.array(events['e'][0][2][s]).reshape(-1, 1)])])} for s in SETTINGS}
    with pytest.raises(ValueError, match='out of range'):
        parse_wider_mats(face, settings)


# ------------------------------------------------------------------------------------------------ real files
def test_real_ground_truth_sanity(shared_data):
    folder = os.path.join(shared_data, 'faces', 'wider_dev')
    images = read_image_list(os.path.join(folder, 'images.txt'))
    gt = load_wider_eval_gt(folder, images)
    assert len(gt) == 100 and sum(len(g.boxes) for g in gt.values()) == 1809
    perfect = {k: np.hstack([g.boxes, np.ones((len(g.boxes), 1))]) for k, g in gt.items()}
    r = evaluate_wider(perfect, gt)
    assert r.ap == {s: pytest.approx(1.0) for s in SETTINGS}
    assert r.num_faces['easy'] < r.num_faces['medium'] < r.num_faces['hard'] <= 1809
    rng = np.random.default_rng(0)
    degraded = {}
    for k, g in gt.items():
        keep = rng.random(len(g.boxes)) < 0.7                       # 30 % missed
        wh = (g.boxes[:, 2:] - g.boxes[:, :2])[keep]
        jitter = rng.normal(0, 0.15, (keep.sum(), 4)) * np.hstack([wh, wh])
        degraded[k] = np.hstack([g.boxes[keep] + jitter, rng.random((keep.sum(), 1))])
    r2 = evaluate_wider(degraded, gt)
    for s in SETTINGS:
        assert 0.05 < r2.ap[s] < 0.8, (s, r2.ap[s])

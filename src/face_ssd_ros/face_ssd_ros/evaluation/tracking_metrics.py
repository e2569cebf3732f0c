"""Identity metrics of a tracker against ground-truth trajectories: IDF1 (with IDP / IDR) and id switches.

A sequence is a list of frames; each frame is ``(ids, boxes)`` with ``ids`` a list of M hashable ids and ``boxes``
``[M, 4]`` (x1, y1, x2, y2). Ground truth and hypotheses (the tracker's output) have one frame each per image, in
the same order. A hypothesis box and a ground-truth box *match* when their IoU is at least ``iou_threshold``.

* **IDF1** (Ristani et al., 2016, "Performance Measures and a Data Set for Multi-Target, Multi-Camera Tracking"):
  each ground-truth trajectory is paired with at most one hypothesis trajectory (and vice versa) so that the
  number of frames in which a pair's boxes match (IDTP) is maximal over the whole sequence; then
  ``IDF1 = 2 IDTP / (number of ground-truth boxes + number of hypothesis boxes)``, ``IDP = IDTP / hypothesis
  boxes``, ``IDR = IDTP / ground-truth boxes``. An id that changes halfway through a face's trajectory can be
  paired with only one of its halves, so it costs IDF1 for the rest of the sequence.
* **Id switches** (CLEAR MOT, Bernardin and Stiefelhagen, 2008): frame by frame, a ground-truth object keeps its
  previous hypothesis if that one still matches it; the others are matched by maximal total IoU. A switch is
  counted when an object is matched to a different hypothesis id than the one it was last matched to.

Boxes without an id (a hypothesis whose track is not confirmed yet) are not hypotheses; leave them out.
"""
import numpy as np


def iou_matrix(a, b):
    """IoU of ``a [N, 4]`` with ``b [M, 4]`` (x1, y1, x2, y2) -> float64 ``[N, M]`` (0 without overlap)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0.0, inter / np.maximum(union, 1e-12), 0.0)


def max_weight_matching(weights):
    """Rows and columns of ``weights [N, M]`` (>= 0) paired one-to-one with the largest total weight.

    Hungarian algorithm (shortest augmenting paths with potentials), O(n^2 m) with n = min(N, M). Returns a list of
    ``(row, col)`` pairs with a positive weight, sorted by row.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError('weights must be a 2-D matrix, got shape %s' % (w.shape,))
    if w.size == 0:
        return []
    transposed = w.shape[0] > w.shape[1]
    cost = -(w.T if transposed else w)           # minimise cost, n rows <= m columns
    n, m = cost.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)      # owner[j] = row (1-based) assigned to column j, 0 = free
    way = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        owner[0] = row
        col0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[col0] = True
            r0 = owner[col0]
            free = np.flatnonzero(~used[1:]) + 1
            reduced = cost[r0 - 1, free - 1] - u[r0] - v[free]
            better = reduced < minv[free]
            minv[free[better]] = reduced[better]
            way[free[better]] = col0
            col1 = free[np.argmin(minv[free])]
            delta = minv[col1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[~used] -= delta
            col0 = col1
            if owner[col0] == 0:
                break
        while col0:
            prev = way[col0]
            owner[col0] = owner[prev]
            col0 = prev
    pairs = []
    for col in range(1, m + 1):
        if owner[col]:
            r, c = int(owner[col]) - 1, col - 1
            pairs.append((c, r) if transposed else (r, c))
    return sorted(p for p in pairs if w[p] > 0)


def _frames(sequence, name):
    out = []
    for index, frame in enumerate(sequence):
        ids, boxes = frame
        ids = list(ids)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(ids) != boxes.shape[0]:
            raise ValueError('%s frame %d: %d ids but %d boxes' % (name, index, len(ids), boxes.shape[0]))
        if len(set(ids)) != len(ids):
            raise ValueError('%s frame %d: an id appears twice: %r' % (name, index, ids))
        if any(i is None for i in ids):
            raise ValueError('%s frame %d: None is not an id (leave boxes without an id out)' % (name, index))
        out.append((ids, boxes))
    return out


def _ratio(num, den):
    return float(num) / den if den else None


def evaluate_tracking(ground_truth, hypotheses, iou_threshold=0.5):
    """IDF1, IDP, IDR and id switches of ``hypotheses`` against ``ground_truth`` (see the module docstring).

    Returns ``{"idf1", "idp", "idr", "idtp", "id_switches", "gt_boxes", "hyp_boxes", "matched_boxes",
    "gt_ids", "hyp_ids", "frames", "iou_threshold", "assignment": {gt_id: hyp_id}}``; ratios are None where
    undefined (no boxes at all). ``matched_boxes`` counts the per-frame (CLEAR MOT) matches.
    """
    gt = _frames(ground_truth, 'ground_truth')
    hyp = _frames(hypotheses, 'hypotheses')
    if len(gt) != len(hyp):
        raise ValueError('ground truth has %d frames but the hypotheses %d' % (len(gt), len(hyp)))
    gt_ids = sorted(set(i for ids, _ in gt for i in ids), key=repr)
    hyp_ids = sorted(set(i for ids, _ in hyp for i in ids), key=repr)
    gt_index = dict((g, k) for k, g in enumerate(gt_ids))
    hyp_index = dict((h, k) for k, h in enumerate(hyp_ids))
    together = np.zeros((len(gt_ids), len(hyp_ids)))    # frames in which gt i and hyp j match
    switches = matched = 0
    last = {}                                            # gt id -> last hyp id matched to it
    for (g_ids, g_boxes), (h_ids, h_boxes) in zip(gt, hyp):
        iou = iou_matrix(g_boxes, h_boxes)
        hit = iou >= iou_threshold
        for r, c in zip(*np.nonzero(hit)):
            together[gt_index[g_ids[r]], hyp_index[h_ids[c]]] += 1
        pairs = []
        free_g, free_h = set(range(len(g_ids))), set(range(len(h_ids)))
        for r in range(len(g_ids)):                      # keep last frame's correspondences that still hold
            prev = last.get(g_ids[r])
            if prev in h_ids and hit[r, h_ids.index(prev)] and h_ids.index(prev) in free_h:
                pairs.append((r, h_ids.index(prev)))
                free_g.discard(r)
                free_h.discard(h_ids.index(prev))
        rows, cols = sorted(free_g), sorted(free_h)
        rest = np.where(hit, iou, 0.0)[np.ix_(rows, cols)] if rows and cols else np.zeros((0, 0))
        pairs += [(rows[r], cols[c]) for r, c in max_weight_matching(rest)]
        for r, c in pairs:
            g, h = g_ids[r], h_ids[c]
            if g in last and last[g] != h:
                switches += 1
            last[g] = h
        matched += len(pairs)
    assignment = max_weight_matching(together)
    idtp = int(sum(together[r, c] for r, c in assignment))
    n_gt = sum(len(ids) for ids, _ in gt)
    n_hyp = sum(len(ids) for ids, _ in hyp)
    return {'idf1': _ratio(2 * idtp, n_gt + n_hyp), 'idp': _ratio(idtp, n_hyp), 'idr': _ratio(idtp, n_gt),
            'idtp': idtp, 'id_switches': switches, 'gt_boxes': n_gt, 'hyp_boxes': n_hyp, 'matched_boxes': matched,
            'gt_ids': len(gt_ids), 'hyp_ids': len(hyp_ids), 'frames': len(gt), 'iou_threshold': iou_threshold,
            'assignment': dict((gt_ids[r], hyp_ids[c]) for r, c in assignment)}

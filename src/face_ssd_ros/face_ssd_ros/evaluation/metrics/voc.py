"""Pascal VOC detection metrics: AP per class at an IoU threshold, mAP, recall at fixed false positives per image.

Inputs (shared by every function here):

* ``predictions``: ``{image_id: rows}``, rows an iterable of ``(x1, y1, x2, y2, score, label)`` (or a float array
  ``[K, 6]`` with numeric labels). Images without an entry have no detections.
* ``ground_truth``: ``{image_id: {"boxes": [M, 4], "labels": [M], "ignore": [M] bool (optional)}}``; ``"difficult"``
  is accepted as a synonym of ``"ignore"``. Every image of the evaluated set must be present, also those with M = 0.

Matching is the VOC devkit's: detections of one class are sorted by score over all images (ties keep input order);
each takes the ground-truth box of that class with the highest IoU in its image; IoU >= threshold and the box is
ignored/difficult -> the detection is neither TP nor FP; IoU >= threshold and the box is still free -> TP (the box is
taken); otherwise FP (also a second detection of a taken box).
"""
from collections import namedtuple

import numpy as np

from .boxes import as_boxes, iou_matrix

AGNOSTIC = None  # pass as ``label`` to match every prediction against every ground-truth box, ignoring labels


class ClassMatches(namedtuple('ClassMatches', 'scores tp fp image_index num_positives num_images')):
    """Matching outcome of one class, detections sorted by descending score.

    scores/tp/fp: ``[D]`` (a detection matched to an ignored box has tp = fp = False); image_index: ``[D]`` int
    index into the sorted ground-truth image ids; num_positives: non-ignored ground-truth boxes; num_images.
    """

    __slots__ = ()


class VOCResult(object):
    """``ap[label]`` (NaN for a class without ground truth), ``map`` (mean over classes with ground truth, NaN if
    none), ``curves[label] = (recall [D], precision [D])``, ``num_gt[label]``, ``num_det[label]``."""

    def __init__(self, ap, map, curves=None, num_gt=None, num_det=None):
        self.ap = ap
        self.map = map
        self.curves = {} if curves is None else curves
        self.num_gt = {} if num_gt is None else num_gt
        self.num_det = {} if num_det is None else num_det

    def __repr__(self):
        return 'VOCResult(ap=%r, map=%r, num_gt=%r, num_det=%r)' % (self.ap, self.map, self.num_gt, self.num_det)

    def to_dict(self):
        """JSON-friendly summary (labels as strings, NaN as None)."""
        def clean(v):
            return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
        return {'map': clean(self.map),
                'classes': {str(k): {'ap': clean(v), 'num_gt': int(self.num_gt.get(k, 0)),
                                     'num_det': int(self.num_det.get(k, 0))} for k, v in self.ap.items()}}


def average_precision(recall, precision, use_07_metric=False):
    """Area under the precision-recall curve, VOC style.

    Args:
        recall, precision: ``[D]`` cumulative values in detection order (recall non-decreasing).
        use_07_metric: False -> VOC2010+ (area under the monotone precision envelope, at every recall change);
            True -> VOC2007 11-point interpolation (mean of the envelope at recall 0, 0.1, ..., 1).
    Returns:
        AP in [0, 1] (0 for empty input).
    """
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.nan_to_num(np.asarray(precision, dtype=np.float64), nan=0.0)
    if rec.size == 0:
        return 0.0
    if use_07_metric:
        ap = 0.0
        for t in np.linspace(0.0, 1.0, 11):
            above = prec[rec >= t - 1e-12]
            ap += (above.max() if above.size else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def _gt_arrays(entry, image_id):
    boxes = as_boxes(entry.get('boxes', ()), 'ground_truth[%r]["boxes"]' % (image_id,))
    labels = list(np.asarray(entry.get('labels', ()), dtype=object).reshape(-1))
    if len(labels) != len(boxes):
        raise ValueError('ground_truth[%r]: %d boxes but %d labels' % (image_id, len(boxes), len(labels)))
    ign = entry.get('ignore', entry.get('difficult'))
    ignore = np.zeros(len(boxes), bool) if ign is None else np.asarray(ign, dtype=bool).reshape(-1)
    if len(ignore) != len(boxes):
        raise ValueError('ground_truth[%r]: %d boxes but %d ignore flags' % (image_id, len(boxes), len(ignore)))
    return boxes, labels, ignore


def _pred_rows(rows):
    """-> (boxes [K, 4] float, scores [K] float, labels list)."""
    rows = list(rows) if not isinstance(rows, np.ndarray) else rows
    if len(rows) == 0:
        return np.zeros((0, 4)), np.zeros(0), []
    boxes = np.asarray([r[:4] for r in rows], dtype=np.float64)
    scores = np.asarray([r[4] for r in rows], dtype=np.float64)
    labels = [r[5] for r in rows]
    return boxes, scores, labels


def _check_ids(predictions, ground_truth):
    unknown = [k for k in predictions if k not in ground_truth]
    if unknown:
        raise ValueError('%d predicted image(s) are not in the ground truth, e.g. %r: check that both use the same '
                         'image ids (paths)' % (len(unknown), unknown[:3]))


def match_class(predictions, ground_truth, label=AGNOSTIC, iou_threshold=0.5, pixel_offset=0.0):
    """Match the detections of one class (or all, ``label=AGNOSTIC``) -> :class:`ClassMatches`."""
    _check_ids(predictions, ground_truth)
    image_ids = sorted(ground_truth, key=str)
    all_scores, all_img, all_best, all_iou = [], [], [], []
    gt_ignore = []
    num_pos = 0
    for i, image_id in enumerate(image_ids):
        gboxes, glabels, gign = _gt_arrays(ground_truth[image_id], image_id)
        gsel = np.array([label is AGNOSTIC or lab == label for lab in glabels], dtype=bool)
        gboxes, gign = gboxes[gsel], gign[gsel]
        gt_ignore.append(gign)
        num_pos += int((~gign).sum())
        pboxes, pscores, plabels = _pred_rows(predictions.get(image_id, ()))
        psel = np.array([label is AGNOSTIC or lab == label for lab in plabels], dtype=bool)
        if not psel.any():
            continue
        pboxes, pscores = pboxes[psel], pscores[psel]
        ious = iou_matrix(pboxes, gboxes, pixel_offset)
        best = ious.argmax(axis=1) if ious.shape[1] else np.full(len(pboxes), -1)
        best_iou = ious.max(axis=1) if ious.shape[1] else np.zeros(len(pboxes))
        all_scores.append(pscores)
        all_img.append(np.full(len(pscores), i))
        all_best.append(best)
        all_iou.append(best_iou)
    if not all_scores:
        empty = np.zeros(0)
        return ClassMatches(empty, empty.astype(bool), empty.astype(bool), empty.astype(int), num_pos,
                            len(image_ids))
    scores = np.concatenate(all_scores)
    img = np.concatenate(all_img)
    best = np.concatenate(all_best)
    best_iou = np.concatenate(all_iou)
    order = np.argsort(-scores, kind='stable')
    taken = [np.zeros(len(g), bool) for g in gt_ignore]
    tp = np.zeros(len(order), bool)
    fp = np.zeros(len(order), bool)
    for rank, d in enumerate(order):
        if best_iou[d] >= iou_threshold and best[d] >= 0:
            g, im = best[d], img[d]
            if gt_ignore[im][g]:
                continue
            if not taken[im][g]:
                taken[im][g] = True
                tp[rank] = True
            else:
                fp[rank] = True
        else:
            fp[rank] = True
    return ClassMatches(scores[order], tp, fp, img[order], num_pos, len(image_ids))


def pr_curve(matches):
    """:class:`ClassMatches` -> ``(recall [D'], precision [D'])`` over the non-ignored detections.

    Recall is NaN-free: with no positives it is all zeros (and AP is reported as NaN by the callers).
    """
    keep = matches.tp | matches.fp
    tp = np.cumsum(matches.tp[keep]).astype(np.float64)
    fp = np.cumsum(matches.fp[keep]).astype(np.float64)
    recall = tp / matches.num_positives if matches.num_positives else np.zeros_like(tp)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return recall, precision


def class_labels(predictions, ground_truth):
    """Sorted set of labels that occur in the ground truth or the predictions."""
    labels = set()
    for entry in ground_truth.values():
        labels.update(np.asarray(entry.get('labels', ()), dtype=object).reshape(-1).tolist())
    for rows in predictions.values():
        labels.update(r[5] for r in rows)
    return sorted(labels, key=str)


def evaluate_detections(predictions, ground_truth, iou_threshold=0.5, use_07_metric=False, labels=None,
                        pixel_offset=0.0):
    """VOC AP per class and mAP.

    Args:
        predictions, ground_truth: see the module docstring.
        iou_threshold: minimum IoU of a true positive (VOC: 0.5).
        use_07_metric: 11-point AP (VOC2007) instead of the area under the curve (VOC2010+).
        labels: classes to evaluate (default: every label found in either input); background is never a label.
        pixel_offset: 1.0 for the devkit's inclusive-pixel IoU, 0.0 (default) for continuous coordinates.
    Returns:
        :class:`VOCResult`. A class without ground truth gets AP = NaN and is left out of the mAP.
    """
    if labels is None:
        labels = class_labels(predictions, ground_truth)
    result = VOCResult(ap={}, map=float('nan'))
    for lab in labels:
        m = match_class(predictions, ground_truth, lab, iou_threshold, pixel_offset)
        recall, precision = pr_curve(m)
        result.curves[lab] = (recall, precision)
        result.num_gt[lab] = m.num_positives
        result.num_det[lab] = int(len(m.scores))
        result.ap[lab] = average_precision(recall, precision, use_07_metric) if m.num_positives else float('nan')
    valid = [v for v in result.ap.values() if not np.isnan(v)]
    result.map = float(np.mean(valid)) if valid else float('nan')
    return result


def recall_at_fp_per_image(predictions, ground_truth, fp_per_image=(0.1, 0.5, 1.0), label=AGNOSTIC,
                           iou_threshold=0.5, pixel_offset=0.0):
    """Recall reached while the detector makes at most ``f`` false positives per image on average.

    Detections are taken in descending score order (all images together), as when the score threshold is lowered;
    for each ``f`` the recall is read at the last detection where ``FP / num_images <= f``.

    Returns:
        ``{f: recall}``; recall is NaN if there is no (non-ignored) ground truth, 0 if nothing qualifies.
    """
    m = match_class(predictions, ground_truth, label, iou_threshold, pixel_offset)
    keep = m.tp | m.fp
    tp = np.cumsum(m.tp[keep])
    fp = np.cumsum(m.fp[keep])
    out = {}
    for f in fp_per_image:
        if not m.num_positives:
            out[f] = float('nan')
            continue
        ok = np.where(fp <= f * m.num_images + 1e-9)[0]
        out[f] = float(tp[ok[-1]]) / m.num_positives if ok.size else 0.0
    return out

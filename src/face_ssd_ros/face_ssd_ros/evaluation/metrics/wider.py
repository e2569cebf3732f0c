"""The official WIDER FACE validation protocol (Easy / Medium / Hard AP), re-implemented from its description.

Numpy core only (no scipy, no file reading): the ``.mat`` loaders live in ``face_ssd_ros.evaluation.wider_gt``; the
bag evaluator gets the per-box setting membership from the ground-truth messages (docs/ARCHITECTURE.md).

Behaviour of the official MATLAB ``wider_eval.m`` (and its common Python port), reproduced here:

1. Ground truth: ``wider_face_val.mat`` (``event_list``, ``file_list``, ``face_bbx_list`` with ``x, y, w, h``) and
   ``wider_{easy,medium,hard}_val.mat`` (``gt_list``: per image the 1-based indices of the boxes that count in that
   setting; every other box of the image is an "ignore" box).
2. Scores are min-max normalised over all predictions of the evaluated images (the official code starts from
   min = 1, max = 0, so probabilities map as ``(s - min(1, lo)) / (max(0, hi) - min(1, lo))``); predictions of an
   image are sorted by descending score (stable).
3. Per image, each prediction in score order takes the ground-truth box (counted or not) with the highest IoU,
   computed with the inclusive-pixel convention (``w = x2 - x1 + 1``). IoU >= 0.5 with an ignore box: the prediction
   is not a proposal. IoU >= 0.5 with a counted box: that box is recalled (once). Anything else is a proposal that
   recalls nothing (a false positive).
4. For 1000 thresholds ``1 - t/1000`` (t = 1..1000), per image: proposals and recalled boxes among the predictions
   with normalised score >= threshold; summed over images. Images without ground truth or without predictions add
   nothing to the curve (their false positives are NOT counted; official behaviour), but every image's counted
   boxes add to the number of faces.
5. precision = recalled / proposals, recall = recalled / faces; AP = VOC2010 area under that curve.

Deviation: a degenerate score range (all normalised scores equal) maps every score to 1.0 instead of NaN.
"""
from collections import namedtuple

import numpy as np

from .boxes import iou_matrix
from .voc import average_precision

SETTINGS = ('easy', 'medium', 'hard')


class WiderImageGT(namedtuple('WiderImageGT', 'boxes keep')):
    """Ground truth of one image: ``boxes`` float64 ``[M, 4]`` x1, y1, x2, y2 (x2 = x + w) and ``keep[setting]`` int
    ``[K]`` 0-based indices of the boxes counted in that setting."""

    __slots__ = ()


class WiderResult(object):
    """``ap[setting]``; ``curves[setting] = (recall [T], precision [T])`` at the T thresholds (descending);
    ``num_faces[setting]``: counted boxes; ``num_images``; ``missing``: evaluated images without a prediction."""

    def __init__(self, ap, curves=None, num_faces=None, num_images=0, missing=None):
        self.ap = ap
        self.curves = {} if curves is None else curves
        self.num_faces = {} if num_faces is None else num_faces
        self.num_images = num_images
        self.missing = [] if missing is None else missing

    def __repr__(self):
        return 'WiderResult(ap=%r, num_faces=%r, num_images=%r, missing=%d image(s))' % (
            self.ap, self.num_faces, self.num_images, len(self.missing))

    def to_dict(self):
        """JSON-friendly summary (no curves)."""
        return {'ap': {k: float(v) for k, v in self.ap.items()}, 'num_faces': dict(self.num_faces),
                'num_images': self.num_images, 'missing_predictions': list(self.missing)}


def normalize_scores(predictions):
    """Official min-max score normalisation over every image's predictions.

    Args:
        predictions: ``{key: float array [K, 5]}`` (x1, y1, x2, y2, score).
    Returns:
        a new dict with the same arrays (copies), column 4 normalised.
    """
    scores = [p[:, 4] for p in predictions.values() if len(p)]
    if not scores:
        return {k: np.asarray(v, dtype=np.float64).reshape(-1, 5).copy() for k, v in predictions.items()}
    allscores = np.concatenate(scores)
    lo = min(1.0, float(allscores.min()))
    hi = max(0.0, float(allscores.max()))
    out = {}
    for k, v in predictions.items():
        v = np.asarray(v, dtype=np.float64).reshape(-1, 5).copy()
        v[:, 4] = (v[:, 4] - lo) / (hi - lo) if hi > lo else 1.0
        out[k] = v
    return out


def match_image(pred, gt_boxes, iou_threshold=0.5):
    """Setting-independent part of the per-image matching.

    Args:
        pred: ``[K, 5]`` predictions sorted by descending score.
        gt_boxes: ``[M, 4]`` x1, y1, x2, y2, M >= 1.
    Returns:
        ``(best [K] int, hit [K] bool)``: index of the highest-IoU ground-truth box and whether that IoU >= threshold
        (inclusive-pixel IoU, as the official code).
    """
    ious = iou_matrix(pred[:, :4], gt_boxes, pixel_offset=1.0)
    return ious.argmax(axis=1), ious.max(axis=1) >= iou_threshold


def image_pr_counts(scores, best, hit, counted, thresholds):
    """Per-image proposal / recall counts at each threshold for one setting.

    Args:
        scores: ``[K]`` normalised, descending. best, hit: from :func:`match_image`.
        counted: ``[M]`` bool, True for boxes that count in this setting.
        thresholds: ``[T]`` descending.
    Returns:
        float64 ``[T, 2]``: column 0 = proposals (predictions not matched to an ignore box) and column 1 = recalled
        counted boxes, among the predictions with score >= threshold.
    """
    to_ignored = hit & ~counted[best]
    proposals = np.cumsum(~to_ignored)
    recall_hits = np.where(hit & counted[best])[0]
    first = np.zeros(len(scores), dtype=np.int64)
    if recall_hits.size:
        _, first_pos = np.unique(best[recall_hits], return_index=True)
        first[recall_hits[first_pos]] = 1
    recalled = np.cumsum(first)
    n_above = np.searchsorted(-scores, -thresholds, side='right')
    out = np.zeros((len(thresholds), 2))
    ok = n_above > 0
    out[ok, 0] = proposals[n_above[ok] - 1]
    out[ok, 1] = recalled[n_above[ok] - 1]
    return out


def _image_counts(predictions, gt, iou_threshold, thresh_num, settings):
    """Yield ``(index, {setting: [T, 2]})`` for each image of ``gt`` that has predictions and ground-truth boxes
    (:func:`wider_image_counts`; one image at a time, so summing them needs no ``[I, T, 2]`` array)."""
    preds = normalize_scores({k: np.asarray(predictions[k], dtype=np.float64).reshape(-1, 5)
                              for k in gt if k in predictions})
    thresholds = 1.0 - np.arange(1, thresh_num + 1, dtype=np.float64) / thresh_num
    for i, key in enumerate(gt):
        img = gt[key]
        p = preds.get(key)
        if p is None or not len(p) or not len(img.boxes):
            continue
        p = p[np.argsort(-p[:, 4], kind='stable')]
        best, hit = match_image(p, img.boxes, iou_threshold)
        out = {}
        for s in settings:
            counted = np.zeros(len(img.boxes), dtype=bool)
            counted[img.keep[s]] = True
            out[s] = image_pr_counts(p[:, 4], best, hit, counted, thresholds)
        yield i, out


def wider_image_counts(predictions, gt, iou_threshold=0.5, thresh_num=1000, settings=SETTINGS):
    """Per-image proposal / recall counts of the official protocol, before they are summed over the images.

    Args:
        predictions, gt, iou_threshold, thresh_num, settings: as :func:`evaluate_wider` (scores are min-max
            normalised over every evaluated image's predictions).
    Returns:
        ``(keys, counts, faces)``: ``keys`` the I image keys of ``gt`` in order; ``counts[setting]`` float64
        ``[I, T, 2]`` (proposals, recalled counted boxes) at the T descending thresholds, zeros for an image without
        predictions or ground-truth boxes; ``faces[setting]`` int64 ``[I]`` counted boxes per image. (``[I, T, 2]``
        is 16 kB per image and setting: for a paired bootstrap; :func:`evaluate_wider` sums as it goes.)
    """
    keys = list(gt)
    counts = dict((s, np.zeros((len(keys), thresh_num, 2))) for s in settings)
    faces = dict((s, np.array([len(gt[k].keep[s]) for k in keys], dtype=np.int64)) for s in settings)
    for i, per_setting in _image_counts(predictions, gt, iou_threshold, thresh_num, settings):
        for s in settings:
            counts[s][i] = per_setting[s]
    return keys, counts, faces


def curve_from_counts(counts, num_faces):
    """``(recall [T], precision [T], AP)`` from proposal / recall counts summed over images (``[T, 2]``) and the
    number of counted faces; AP is NaN without faces."""
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = np.where(counts[:, 0] > 0, counts[:, 1] / counts[:, 0], 0.0)
    if not num_faces:
        return np.zeros(len(counts)), precision, float('nan')
    recall = counts[:, 1] / float(num_faces)
    return recall, precision, average_precision(recall, precision)


def evaluate_wider(predictions, gt, iou_threshold=0.5, thresh_num=1000, settings=SETTINGS):
    """Run the official protocol.

    Args:
        predictions: ``{key: [K, 5]}`` x1, y1, x2, y2 (pixels), score; key as in ``gt``. Keys not in ``gt`` are
            ignored; ``gt`` images without a key have no predictions (listed in ``result.missing``).
        gt: ``{key: WiderImageGT}`` (e.g. from :func:`load_wider_eval_gt`): the evaluated images.
    Returns:
        :class:`WiderResult`.
    """
    totals = dict((s, np.zeros((thresh_num, 2))) for s in settings)
    for _, per_setting in _image_counts(predictions, gt, iou_threshold, thresh_num, settings):
        for s in settings:
            totals[s] += per_setting[s]
    result = WiderResult(ap={}, num_images=len(gt), missing=sorted(k for k in gt if k not in predictions))
    for s in settings:
        num_faces = int(sum(len(img.keep[s]) for img in gt.values()))
        recall, precision, ap = curve_from_counts(totals[s], num_faces)
        result.curves[s] = (recall, precision)
        result.num_faces[s] = num_faces
        result.ap[s] = ap
    return result

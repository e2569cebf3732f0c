"""The official WIDER FACE validation protocol (Easy / Medium / Hard AP), re-implemented from its description.

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
import os
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from .boxes import iou_matrix, xywh_to_xyxy
from .predictions import image_key
from .voc import average_precision

SETTINGS = ('easy', 'medium', 'hard')
FACE_MAT = 'wider_face_val.mat'
SETTING_MAT = 'wider_%s_val.mat'


@dataclass
class WiderImageGT:
    """Ground truth of one image: ``boxes`` float64 ``[M, 4]`` x1, y1, x2, y2 (x2 = x + w) and ``keep[setting]`` int
    ``[K]`` 0-based indices of the boxes counted in that setting."""
    boxes: np.ndarray
    keep: Dict[str, np.ndarray]


@dataclass
class WiderResult:
    """``ap[setting]``; ``curves[setting] = (recall [T], precision [T])`` at the T thresholds (descending);
    ``num_faces[setting]``: counted boxes; ``num_images``; ``missing``: evaluated images without a prediction."""
    ap: Dict[str, float]
    curves: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    num_faces: Dict[str, int] = field(default_factory=dict)
    num_images: int = 0
    missing: List[str] = field(default_factory=list)

    def to_dict(self):
        """JSON-friendly summary (no curves)."""
        return {'ap': {k: float(v) for k, v in self.ap.items()}, 'num_faces': dict(self.num_faces),
                'num_images': self.num_images, 'missing_predictions': list(self.missing)}


def _cell(x):
    """Unwrap scipy.io.loadmat's 1x1 cell nesting: ``array([[obj]])`` -> obj."""
    while isinstance(x, np.ndarray) and x.dtype == object and x.size == 1:
        x = x.reshape(-1)[0]
    return x


def _string(x):
    x = _cell(x)
    if isinstance(x, np.ndarray):
        x = x.reshape(-1)[0] if x.size else ''
    return str(x)


def _column(x):
    """A MATLAB cell column (``[n, 1]`` object array) -> list of its n elements."""
    return list(np.asarray(x, dtype=object).reshape(-1))


def parse_wider_mats(face_mat, setting_mats):
    """Build ``{key: WiderImageGT}`` from loadmat-style dicts (key = ``event/image_name``, no extension).

    Args:
        face_mat: dict with ``event_list`` ``[E, 1]``, ``file_list`` ``[E, 1]`` (each ``[N_e, 1]`` names) and
            ``face_bbx_list`` ``[E, 1]`` (each ``[N_e, 1]`` arrays ``[M, 4]`` x, y, w, h).
        setting_mats: ``{setting: dict with gt_list [E, 1] (each [N_e, 1] arrays [K, 1] of 1-based indices)}``.
    Raises:
        ValueError: the structures disagree (event / image counts, an index outside its image's boxes).
    """
    events = _column(face_mat['event_list'])
    files = _column(face_mat['file_list'])
    bbxs = _column(face_mat['face_bbx_list'])
    if not (len(events) == len(files) == len(bbxs)):
        raise ValueError('wider_face_val.mat: event_list, file_list and face_bbx_list differ in length')
    gts = {s: _column(m['gt_list']) for s, m in setting_mats.items()}
    out = {}
    for e, event in enumerate(events):
        event_name = _string(event)
        names = _column(files[e])
        boxes_e = _column(bbxs[e])
        if len(names) != len(boxes_e):
            raise ValueError('wider_face_val.mat: event %s has %d names but %d box lists'
                             % (event_name, len(names), len(boxes_e)))
        keeps_e = {}
        for s, g in gts.items():
            col = _column(g[e])
            if len(col) != len(names):
                raise ValueError('wider_%s_val.mat: event %s has %d entries, wider_face_val.mat %d'
                                 % (s, event_name, len(col), len(names)))
            keeps_e[s] = col
        for j, name in enumerate(names):
            raw = np.asarray(_cell(boxes_e[j]), dtype=np.float64)
            boxes = xywh_to_xyxy(raw.reshape(-1, 4)) if raw.size else np.zeros((0, 4))
            keep = {}
            for s, col in keeps_e.items():
                idx = np.asarray(_cell(col[j]), dtype=np.int64).reshape(-1) - 1
                if idx.size and (idx.min() < 0 or idx.max() >= len(boxes)):
                    raise ValueError('wider_%s_val.mat: index out of range for %s/%s' % (s, event_name, _string(name)))
                keep[s] = idx
            out['%s/%s' % (event_name, _string(name))] = WiderImageGT(boxes, keep)
    return out


def read_image_list(path):
    """Read a list of relative image paths (one per line, blank lines and '#' comments skipped)."""
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.strip().startswith('#')]


def load_wider_eval_gt(gt_dir, images=None, settings=SETTINGS):
    """Load the official evaluation ground truth.

    Args:
        gt_dir: folder with ``wider_face_val.mat`` and ``wider_{easy,medium,hard}_val.mat``, or a dataset folder that
            has them under ``eval_ground_truth/`` (e.g. ``.../faces/wider_dev``).
        images: None for every val image, or an iterable of image paths (``event/name.jpg``, any prefix) to restrict to.
    Returns:
        ``{key: WiderImageGT}`` with key ``event/name`` (see :func:`face_ssd_training.eval.predictions.image_key`).
    Raises:
        FileNotFoundError: a .mat file is missing (the message lists what is expected).
        KeyError: a requested image is not in the official ground truth.
    """
    from scipy.io import loadmat
    mat_dir = resolve_gt_dir(gt_dir)
    face = loadmat(os.path.join(mat_dir, FACE_MAT))
    per_setting = {s: loadmat(os.path.join(mat_dir, SETTING_MAT % s)) for s in settings}
    gt = parse_wider_mats(face, per_setting)
    if images is None:
        return gt
    out = {}
    for p in images:
        key = image_key(p)
        if key not in gt:
            raise KeyError('image %s is not in %s: the list and the ground truth do not belong together'
                           % (p, os.path.join(mat_dir, FACE_MAT)))
        out[key] = gt[key]
    return out


def resolve_gt_dir(gt_dir):
    """Return the folder that holds the four official .mat files (``gt_dir`` or ``gt_dir/eval_ground_truth``)."""
    needed = [FACE_MAT] + [SETTING_MAT % s for s in SETTINGS]
    for d in (gt_dir, os.path.join(gt_dir, 'eval_ground_truth')):
        if all(os.path.isfile(os.path.join(d, n)) for n in needed):
            return d
    raise FileNotFoundError('%s does not hold the official WIDER FACE evaluation files %s (directly or under '
                            'eval_ground_truth/)' % (gt_dir, ', '.join(needed)))


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


def evaluate_wider(predictions, gt, iou_threshold=0.5, thresh_num=1000, settings=SETTINGS):
    """Run the official protocol.

    Args:
        predictions: ``{key: [K, 5]}`` x1, y1, x2, y2 (pixels), score; key as in ``gt``. Keys not in ``gt`` are
            ignored; ``gt`` images without a key have no predictions (listed in ``result.missing``).
        gt: ``{key: WiderImageGT}`` (e.g. from :func:`load_wider_eval_gt`): the evaluated images.
    Returns:
        :class:`WiderResult`.
    """
    preds = normalize_scores({k: np.asarray(predictions[k], dtype=np.float64).reshape(-1, 5)
                              for k in gt if k in predictions})
    thresholds = 1.0 - np.arange(1, thresh_num + 1, dtype=np.float64) / thresh_num
    matched = {}
    for key, img in gt.items():
        p = preds.get(key)
        if p is None or not len(p) or not len(img.boxes):
            continue
        p = p[np.argsort(-p[:, 4], kind='stable')]
        best, hit = match_image(p, img.boxes, iou_threshold)
        matched[key] = (p[:, 4], best, hit)
    result = WiderResult(ap={}, num_images=len(gt), missing=sorted(k for k in gt if k not in predictions))
    for s in settings:
        counts = np.zeros((thresh_num, 2))
        num_faces = 0
        for key, img in gt.items():
            num_faces += len(img.keep[s])
            if key not in matched:
                continue
            counted = np.zeros(len(img.boxes), dtype=bool)
            counted[img.keep[s]] = True
            scores, best, hit = matched[key]
            counts += image_pr_counts(scores, best, hit, counted, thresholds)
        with np.errstate(divide='ignore', invalid='ignore'):
            precision = np.where(counts[:, 0] > 0, counts[:, 1] / counts[:, 0], 0.0)
        recall = counts[:, 1] / num_faces if num_faces else np.zeros(thresh_num)
        result.curves[s] = (recall, precision)
        result.num_faces[s] = num_faces
        result.ap[s] = average_precision(recall, precision) if num_faces else float('nan')
    return result


def predictions_from_records(records, labels=None):
    """Predictions JSONL records -> ``{key: [K, 5]}`` for :func:`evaluate_wider` (error records are skipped).

    Args:
        labels: None for every box, else a collection of label strings to keep.
    """
    from .predictions import index_records, record_boxes
    return {k: record_boxes(r, labels) for k, r in index_records(records).items() if 'error' not in r}


def evaluate_wider_files(pred_records, gt_dir, images_txt=None, labels=None, iou_threshold=0.5):
    """Convenience: records + dataset folder (``.../wider_dev``) -> :class:`WiderResult`.

    Args:
        images_txt: list of evaluated images; default ``gt_dir/images.txt`` if it exists, else every val image.
    """
    if images_txt is None:
        cand = os.path.join(gt_dir, 'images.txt')
        images_txt = cand if os.path.isfile(cand) else None
    images = read_image_list(images_txt) if images_txt else None
    gt = load_wider_eval_gt(gt_dir, images)
    return evaluate_wider(predictions_from_records(pred_records, labels), gt, iou_threshold)

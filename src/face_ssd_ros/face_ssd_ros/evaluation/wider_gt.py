"""The official WIDER FACE Easy / Medium / Hard evaluation on the official ``.mat`` ground truth.

The protocol itself (score normalisation, matching, the 1000-threshold PR curve, AP) is numpy-only and lives in
:mod:`face_ssd_ros.evaluation.metrics.wider` so the runtime bag evaluator shares it; it is re-exported here. This
module adds
what needs scipy and files: reading ``wider_face_val.mat`` / ``wider_{easy,medium,hard}_val.mat`` and image lists.
"""
import os

import numpy as np

from face_ssd_ros.detect.predictions import image_key
from face_ssd_ros.evaluation.metrics.boxes import xywh_to_xyxy
from face_ssd_ros.evaluation.metrics.wider import (SETTINGS, WiderImageGT, WiderResult, evaluate_wider,  # noqa: F401
                                                   image_pr_counts, match_image, normalize_scores)

FACE_MAT = 'wider_face_val.mat'
SETTING_MAT = 'wider_%s_val.mat'


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
        ``{key: WiderImageGT}`` with key ``event/name`` (see :func:`face_ssd_ros.detect.predictions.image_key`).
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


def predictions_from_records(records, labels=None):
    """Predictions JSONL records -> ``{key: [K, 5]}`` for :func:`evaluate_wider` (error records are skipped).

    Args:
        labels: None for every box, else a collection of label strings to keep.
    """
    from face_ssd_ros.detect.predictions import index_records, record_boxes
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

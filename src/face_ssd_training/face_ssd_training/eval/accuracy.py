"""Per-image accuracy of a detector that names classes (identities, human vs cartoon faces).

An image counts as **correct** when at least one of its ground-truth objects is found with the right class: a
detection of the same label, scored at least ``score_threshold``, overlaps it with IoU >= ``iou_threshold``.
Per class ``c``: over the images holding an object of class ``c``, the share where one of those objects is found
as ``c``. Ignore regions are never objects to find; images without an object are not counted.

Inputs are those of :func:`face_ssd_training.eval.voc.evaluate_detections`:
``predictions {image_id: [(x1, y1, x2, y2, score, label), ...]}`` and
``ground_truth {image_id: {"boxes": [K, 4] xyxy, "labels": [K] names, "ignore": [K] bool (optional)}}``.
"""
from collections import OrderedDict

import numpy as np

from .boxes import iou_matrix


def _objects(entry):
    boxes = np.asarray(entry.get('boxes', []), dtype=np.float64).reshape(-1, 4)
    labels = [str(v) for v in entry.get('labels', [])]
    ignore = np.asarray(entry.get('ignore', np.zeros(len(labels), bool)), dtype=bool).reshape(-1)
    keep = ~ignore
    return boxes[keep], [lab for lab, k in zip(labels, keep) if k]


def image_outcome(rows, boxes, labels, iou_threshold=0.5, score_threshold=0.5):
    """One image: ``{"correct": bool, "classes": {label: found as that label}, "found_as": sorted labels the
    objects were found as (any class)}``. rows: detections ``(x1, y1, x2, y2, score, label)``; boxes [K, 4];
    labels [K] names (K >= 1)."""
    dets = [r for r in rows if float(r[4]) >= score_threshold]
    classes = OrderedDict((lab, False) for lab in labels)
    found_as = set()
    if dets:
        ious = iou_matrix(boxes, np.asarray([r[:4] for r in dets], dtype=np.float64))   # [K, D]
        det_labels = [str(r[5]) for r in dets]
        for k, lab in enumerate(labels):
            hits = [det_labels[d] for d in np.nonzero(ious[k] >= iou_threshold)[0]]
            found_as.update(hits)
            if lab in hits:
                classes[lab] = True
    return {'correct': any(classes.values()), 'classes': dict(classes), 'found_as': sorted(found_as)}


def image_accuracy(predictions, ground_truth, iou_threshold=0.5, score_threshold=0.5):
    """Per-image accuracy over ``ground_truth`` (see the module docstring).

    Returns:
        dict with ``accuracy`` (None without counted images), ``images`` (counted), ``correct``,
        ``wrong_class`` (images not correct although an object was found, as another class),
        ``images_without_objects``, ``classes`` ``{label: {"images", "correct", "accuracy"}}`` (sorted labels),
        ``per_image`` ``{image_id: image_outcome(...)}``, and the two thresholds.
    """
    per_image = OrderedDict()
    classes = {}
    without = 0
    for image_id, entry in ground_truth.items():
        boxes, labels = _objects(entry)
        if not labels:
            without += 1
            continue
        out = image_outcome(predictions.get(image_id, []), boxes, labels, iou_threshold, score_threshold)
        per_image[image_id] = out
        for lab, ok in out['classes'].items():
            c = classes.setdefault(lab, {'images': 0, 'correct': 0})
            c['images'] += 1
            c['correct'] += int(ok)
    for c in classes.values():
        c['accuracy'] = c['correct'] / float(c['images'])
    n = len(per_image)
    correct = sum(1 for o in per_image.values() if o['correct'])
    wrong = sum(1 for o in per_image.values() if not o['correct'] and o['found_as'])
    return {'accuracy': correct / float(n) if n else None, 'images': n, 'correct': correct, 'wrong_class': wrong,
            'images_without_objects': without,
            'classes': OrderedDict((k, classes[k]) for k in sorted(classes)),
            'per_image': per_image, 'iou_threshold': float(iou_threshold), 'score_threshold': float(score_threshold)}


def format_accuracy(result):
    """Printable lines of an :func:`image_accuracy` result (percentages)."""
    def pct(v):
        return 'n/a' if v is None else '%.1f' % (100.0 * v)
    lines = ['per-image accuracy (an object found with the right class, score >= %.2f, IoU >= %.2f): %s  (%d of %d '
             'images; %d found only as another class; %d without objects not counted)'
             % (result['score_threshold'], result['iou_threshold'], pct(result['accuracy']), result['correct'],
                result['images'], result['wrong_class'], result['images_without_objects'])]
    for lab, c in result['classes'].items():
        lines.append('  %-22s %6s  (%d of %d images)' % (lab[:22], pct(c['accuracy']), c['correct'], c['images']))
    return '\n'.join(lines)

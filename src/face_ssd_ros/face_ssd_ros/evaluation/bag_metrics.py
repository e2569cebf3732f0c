"""Evaluation of a detector on a replayed bag: pairing by stamp, accuracy, latency and dropped frames (no rclpy).

:class:`EvaluationAccumulator` is fed ground-truth frames and detection arrays as they arrive (from the evaluator
node, or from a bag read offline), pairs them by exact header stamp (:class:`face_ssd_ros.stamp_cache.StampPairer`)
and at the end computes, over the paired frames, with the shared metric core (:mod:`face_ssd_ros.evaluation.metrics`):

* VOC AP per class and mAP (``ignore`` boxes neither TP nor FP), IoU threshold configurable;
* recall at fixed false positives per image (all classes together);
* the official WIDER Easy / Medium / Hard AP when the ground truth carries the setting membership;
* latency per detection array (receive time minus image stamp; ms: count, mean, p50, p95, max);
* frame accounting: ground-truth frames, detection arrays, evaluated (paired) frames, dropped frames (ground truth
  without a detection array), detection arrays without ground truth, duplicate stamps;
* what was detected, with or without ground truth: arrays, frames with detections, boxes per label, scores.

Dropped frames are left out of the AP (it measures the model on the frames it saw) and reported separately.
Without any ground truth (a robot's own recording) there is no accuracy: ``voc`` and ``recall_at_fppi`` are None,
``ground_truth`` is False, and a frame counts as dropped when it was published (``expected_frames``: the replay's
count, the bag's images) but no detection array came back.
"""
import collections

import numpy as np

from face_ssd_ros.evaluation.metrics.voc import AGNOSTIC, evaluate_detections, recall_at_fp_per_image
from face_ssd_ros.evaluation.metrics.wider import SETTINGS, WiderImageGT, evaluate_wider
from face_ssd_ros.stamp_cache import StampPairer
from face_ssd_ros.stats import RollingLatency

DEFAULT_FPPI = (0.1, 0.5, 1.0)
#: Latency samples kept for the percentiles (one per detection array; about 10 MB of floats at most).
LATENCY_WINDOW = 1000000


class EvaluationSettings(collections.namedtuple('EvaluationSettings', 'iou_threshold fppi use_07_metric')):
    """``iou_threshold`` (VOC TP threshold; the WIDER protocol always uses 0.5 with the +1 pixel convention),
    ``fppi`` tuple of false-positives-per-image points, ``use_07_metric`` (11-point VOC2007 AP)."""
    __slots__ = ()

    def __new__(cls, iou_threshold=0.5, fppi=DEFAULT_FPPI, use_07_metric=False):
        if not 0.0 < float(iou_threshold) < 1.0:
            raise ValueError('iou_threshold must be in (0, 1), got %r' % (iou_threshold,))
        fppi = tuple(float(f) for f in fppi)
        if any(not f > 0 for f in fppi):
            raise ValueError('fppi values must be > 0, got %r' % (fppi,))
        return super(EvaluationSettings, cls).__new__(cls, float(iou_threshold), fppi, bool(use_07_metric))


class EvaluationAccumulator(object):
    """Collects ground truth and detections of a run; :meth:`result` computes the metrics.

    Keys are header stamps ``(sec, nanosec)``. ``cache_size``: frames each side may wait for its partner (a ground
    truth evicted unpaired counts as dropped). Thread-safe for one producer per stream.
    """

    def __init__(self, cache_size=1000):
        self._pairer = StampPairer(cache_size)
        self.frames = collections.OrderedDict()  # key -> (GroundTruth, rows)
        self.latency = RollingLatency(LATENCY_WINDOW)
        self.gt_frames = 0
        self.detection_arrays = 0
        self.detected = DetectionSummary()

    def add_ground_truth(self, key, gt):
        """A ground-truth frame (:class:`face_ssd_ros.evaluation.gt_encoding.GroundTruth`) stamped ``key``."""
        self.gt_frames += 1
        pair = self._pairer.add_a(key, gt)
        if pair is not None:
            self.frames[key] = pair

    def add_detections(self, key, rows, latency_ms=None):
        """A detection array stamped ``key``: rows ``(x1, y1, x2, y2, score, label)``; ``latency_ms`` = its receive
        time minus the stamp (None: not measured)."""
        self.detection_arrays += 1
        if latency_ms is not None:
            self.latency.add(latency_ms)
        rows = list(rows)
        self.detected.add(rows)
        pair = self._pairer.add_b(key, rows)
        if pair is not None:
            self.frames[key] = pair

    def waiting(self):
        """Ground-truth frames still waiting for their detection array."""
        return self._pairer.pending()[0]

    def counters(self, expected_frames=None):
        """Frame accounting (see the module docstring) as a dict of ints. ``expected_frames``: images that were
        sent to the detector, when known (added as ``images``); without ground truth the dropped frames are
        ``expected_frames`` minus the detection arrays (None when unknown)."""
        c = self._pairer.counters()
        pending_gt, pending_det = self._pairer.pending()
        out = collections.OrderedDict([
            ('ground_truth_frames', self.gt_frames), ('detection_arrays', self.detection_arrays),
            ('evaluated_frames', len(self.frames)), ('dropped_frames', c['unmatched_a'] + pending_gt),
            ('detections_without_ground_truth', c['unmatched_b'] + pending_det),
            ('duplicate_stamps', c['duplicates'])])
        if expected_frames is not None:
            out['images'] = int(expected_frames)
        if not self.gt_frames:
            out['dropped_frames'] = None if expected_frames is None else \
                max(0, int(expected_frames) - (self.detection_arrays - c['duplicates']))
        return out

    def result(self, settings=None, expected_frames=None):
        """Metrics over the paired frames (:func:`compute_metrics`; without any ground truth
        :func:`metrics_without_ground_truth`) plus ``ground_truth`` (bool), ``frames`` (:meth:`counters`),
        ``detections`` (:meth:`DetectionSummary.to_dict`) and ``latency_ms``."""
        settings = settings or EvaluationSettings()
        has_gt = self.gt_frames > 0
        out = compute_metrics(self.frames, settings) if has_gt else metrics_without_ground_truth(settings)
        out['ground_truth'] = has_gt
        out['frames'] = self.counters(expected_frames)
        out['detections'] = self.detected.to_dict()
        out['latency_ms'] = self.latency.summary() if self.latency.count else None
        return out


class DetectionSummary(object):
    """What a detector reported, independent of any ground truth: arrays, frames with at least one box, boxes per
    label, boxes per array, score range."""

    def __init__(self):
        self.arrays = 0
        self.frames_with_detections = 0
        self.boxes = 0
        self.max_boxes = 0
        self.labels = collections.Counter()
        self._score_sum = 0.0
        self._score_min = None
        self._score_max = None

    def add(self, rows):
        """One detection array: rows ``(x1, y1, x2, y2, score, label)``."""
        self.arrays += 1
        self.boxes += len(rows)
        self.max_boxes = max(self.max_boxes, len(rows))
        if rows:
            self.frames_with_detections += 1
        for row in rows:
            score = float(row[4])
            self.labels[str(row[5])] += 1
            self._score_sum += score
            self._score_min = score if self._score_min is None else min(self._score_min, score)
            self._score_max = score if self._score_max is None else max(self._score_max, score)

    def to_dict(self):
        """``{"arrays", "frames_with_detections", "boxes", "boxes_per_array", "max_boxes_per_array",
        "labels": {label: n}, "score": null | {"min", "mean", "max"}}``."""
        return collections.OrderedDict([
            ('arrays', self.arrays), ('frames_with_detections', self.frames_with_detections),
            ('boxes', self.boxes), ('boxes_per_array', self.boxes / float(self.arrays) if self.arrays else None),
            ('max_boxes_per_array', self.max_boxes), ('labels', dict(sorted(self.labels.items()))),
            ('score', None if not self.boxes else collections.OrderedDict([
                ('min', self._score_min), ('mean', self._score_sum / self.boxes), ('max', self._score_max)]))])


def metrics_without_ground_truth(settings=None):
    """The metric part of a result when there is no ground truth: ``settings`` and nothing to score (``voc``,
    ``recall_at_fppi`` and ``wider`` None, no curves)."""
    settings = settings or EvaluationSettings()
    return collections.OrderedDict([
        ('settings', {'iou_threshold': settings.iou_threshold, 'fppi': list(settings.fppi),
                      'use_07_metric': settings.use_07_metric}),
        ('voc', None), ('recall_at_fppi', None), ('wider', None), ('curves', collections.OrderedDict())])


def _voc_inputs(frames):
    predictions, ground_truth = {}, {}
    for key, (gt, rows) in frames.items():
        ground_truth[key] = {'boxes': gt.boxes, 'labels': list(gt.labels), 'ignore': gt.ignore}
        predictions[key] = [tuple(r[:6]) for r in rows]
    return predictions, ground_truth


def compute_metrics(frames, settings=None):
    """Metrics of ``{key: (GroundTruth, rows)}`` frames.

    Returns a dict: ``settings``; ``voc`` (``map``, ``classes`` {label: ap, num_gt, num_det}); ``recall_at_fppi``
    {str(f): recall}; ``wider`` (None, or ``ap`` / ``num_faces`` per setting); ``curves``
    {name: (recall [D], precision [D], ap)} for the PR plot (VOC classes as ``voc <label>``, WIDER settings as
    ``wider <setting>``).
    """
    settings = settings or EvaluationSettings()
    predictions, ground_truth = _voc_inputs(frames)
    voc = evaluate_detections(predictions, ground_truth, settings.iou_threshold, settings.use_07_metric)
    recall = recall_at_fp_per_image(predictions, ground_truth, settings.fppi, AGNOSTIC, settings.iou_threshold) \
        if ground_truth else dict((f, float('nan')) for f in settings.fppi)
    curves = collections.OrderedDict()
    for label, (r, p) in voc.curves.items():
        curves['voc %s' % label] = (r, p, voc.ap[label])
    out = collections.OrderedDict([
        ('settings', {'iou_threshold': settings.iou_threshold, 'fppi': list(settings.fppi),
                      'use_07_metric': settings.use_07_metric}),
        ('voc', voc.to_dict()),
        ('recall_at_fppi', collections.OrderedDict((repr(f), _clean(v)) for f, v in recall.items())),
        ('wider', None)])
    if any(gt.wider is not None for gt, _ in frames.values()):
        wider_gt = dict((key, WiderImageGT(gt.boxes, gt.wider_keep())) for key, (gt, _) in frames.items())
        wider_pred = dict((key, np.asarray([r[:5] for r in rows], dtype=np.float64).reshape(-1, 5))
                          for key, (_, rows) in frames.items())
        result = evaluate_wider(wider_pred, wider_gt)
        out['wider'] = {'ap': dict((s, _clean(result.ap[s])) for s in SETTINGS),
                        'num_faces': dict((s, int(result.num_faces[s])) for s in SETTINGS),
                        'frames_without_detections': sum(1 for v in wider_pred.values() if not len(v))}
        for s in SETTINGS:
            r, p = result.curves[s]
            curves['wider %s' % s] = (r, p, result.ap[s])
    out['curves'] = curves
    return out


def _clean(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

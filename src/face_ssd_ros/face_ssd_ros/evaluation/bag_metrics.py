"""Evaluation of a detector on a replayed bag: pairing by stamp, accuracy, latency and dropped frames (no rclpy).

:class:`EvaluationAccumulator` is fed ground-truth frames and detection arrays as they arrive (from the evaluator
node, or from a bag read offline), pairs them by exact header stamp (:class:`face_ssd_ros.stamp_cache.StampPairer`)
and at the end computes, over the paired frames, with the shared metric core (:mod:`face_ssd_ros.evaluation.metrics`):

* VOC AP per class and mAP (``ignore`` boxes neither TP nor FP), IoU threshold configurable;
* recall at fixed false positives per image (all classes together);
* the official WIDER Easy / Medium / Hard AP when the ground truth carries the setting membership;
* latency per detection array (receive time minus image stamp; ms: count, mean, p50, p95, max);
* frame accounting: ground-truth frames, detection arrays, evaluated (paired) frames, dropped frames (ground truth
  without a detection array), detection arrays without ground truth, duplicate stamps.

Dropped frames are left out of the AP (it measures the model on the frames it saw) and reported separately.
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
        pair = self._pairer.add_b(key, list(rows))
        if pair is not None:
            self.frames[key] = pair

    def waiting(self):
        """Ground-truth frames still waiting for their detection array."""
        return self._pairer.pending()[0]

    def counters(self):
        """Frame accounting (see the module docstring) as a dict of ints."""
        c = self._pairer.counters()
        pending_gt, pending_det = self._pairer.pending()
        return collections.OrderedDict([
            ('ground_truth_frames', self.gt_frames), ('detection_arrays', self.detection_arrays),
            ('evaluated_frames', len(self.frames)), ('dropped_frames', c['unmatched_a'] + pending_gt),
            ('detections_without_ground_truth', c['unmatched_b'] + pending_det),
            ('duplicate_stamps', c['duplicates'])])

    def result(self, settings=None):
        """Metrics over the paired frames: :func:`compute_metrics` plus ``frames`` and ``latency_ms``."""
        out = compute_metrics(self.frames, settings or EvaluationSettings())
        out['frames'] = self.counters()
        out['latency_ms'] = self.latency.summary() if self.latency.count else None
        return out


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

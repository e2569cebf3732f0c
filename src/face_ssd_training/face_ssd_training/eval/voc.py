"""Pascal VOC detection metrics: AP per class, mAP, recall at fixed false positives per image.

Moved to :mod:`face_ssd_ros.evaluation.metrics.voc` (numpy only, shared with the runtime bag evaluator);
re-exported here so
existing imports keep working. See that module for the input formats and the matching rules.
"""
from face_ssd_ros.evaluation.metrics.voc import (AGNOSTIC, ClassMatches, VOCResult, average_precision,  # noqa: F401
                                                 class_labels, evaluate_detections, match_class, pr_curve,
                                                 recall_at_fp_per_image)

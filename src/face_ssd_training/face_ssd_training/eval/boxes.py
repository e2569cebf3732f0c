"""Box helpers shared by the evaluators (IoU matrices, xywh <-> xyxy).

Moved to :mod:`face_ssd_ros.evaluation.metrics.boxes` (the runtime bag evaluator needs them, and face_ssd_training
depends on
face_ssd_ros, not the reverse); re-exported here so existing imports keep working.
"""
from face_ssd_ros.evaluation.metrics.boxes import (as_boxes, box_area, iou_matrix, xywh_to_xyxy,  # noqa: F401
                                                   xyxy_to_xywh)

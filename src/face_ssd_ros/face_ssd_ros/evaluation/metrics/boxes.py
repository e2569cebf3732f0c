"""Box helpers shared by the evaluators: IoU matrices and xywh <-> xyxy conversion.

All boxes are float arrays in corner form ``x1, y1, x2, y2`` unless a name says ``xywh``.
"""
import numpy as np


def as_boxes(boxes, name='boxes'):
    """Return ``boxes`` as float64 ``[K, 4]`` (an empty input gives ``[0, 4]``); raise ValueError on any other shape."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] < 4:
        raise ValueError('%s must have shape [K, 4] (x1, y1, x2, y2), got %s' % (name, arr.shape))
    return arr[:, :4]


def xywh_to_xyxy(boxes):
    """``[K, 4]`` (x, y, w, h) -> ``[K, 4]`` (x1, y1, x2, y2) with x2 = x + w, y2 = y + h (float64 copy)."""
    b = as_boxes(boxes).copy()
    b[:, 2] += b[:, 0]
    b[:, 3] += b[:, 1]
    return b


def xyxy_to_xywh(boxes):
    """``[K, 4]`` (x1, y1, x2, y2) -> ``[K, 4]`` (x, y, w, h) (float64 copy)."""
    b = as_boxes(boxes).copy()
    b[:, 2] -= b[:, 0]
    b[:, 3] -= b[:, 1]
    return b


def box_area(boxes, pixel_offset=0.0):
    """``[K, 4]`` -> ``[K]`` areas ``(x2 - x1 + off) * (y2 - y1 + off)``, negative extents clamped to 0."""
    b = as_boxes(boxes)
    w = np.maximum(b[:, 2] - b[:, 0] + pixel_offset, 0.0)
    h = np.maximum(b[:, 3] - b[:, 1] + pixel_offset, 0.0)
    return w * h


def iou_matrix(a, b, pixel_offset=0.0):
    """IoU of every box in ``a`` ``[N, 4]`` with every box in ``b`` ``[M, 4]`` -> float64 ``[N, M]``.

    ``pixel_offset=1.0`` reproduces the inclusive-pixel convention of the Pascal VOC devkit and the official
    WIDER FACE evaluation (``w = x2 - x1 + 1``); ``0.0`` treats coordinates as continuous. Pairs that do not
    overlap (or have zero union) get 0.
    """
    a = as_boxes(a, 'a')
    b = as_boxes(b, 'b')
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + pixel_offset
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + pixel_offset
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = box_area(a, pixel_offset)[:, None] + box_area(b, pixel_offset)[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou

"""Draw detections and the measured rate onto an image (rclpy-free, OpenCV).

Detections are anything with ``x1, y1, x2, y2, score, label`` attributes in pixels of the image
(``face_ssd_ros.detect.detection.Detection``), and optionally ``track_id`` (drawn as ``#N`` after the label). Colours are stable per label (derived from a CRC of the label, never
from Python's randomised ``hash``), so "face" has the same colour in every run and every node.
"""
import colorsys
import time
import zlib

import cv2

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def color_for_label(label, channel_order='BGR'):
    """A bright, saturated colour for ``label`` as a 3-tuple of ints in ``channel_order`` ('BGR' or 'RGB')."""
    hue = (zlib.crc32(str(label).encode('utf-8')) & 0xffff) / 65536.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    rgb = (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))
    if channel_order == 'RGB':
        return rgb
    if channel_order == 'BGR':
        return rgb[::-1]
    raise ValueError('channel_order must be "RGB" or "BGR" (got %r)' % (channel_order,))


def _text_color(color):
    """Black or white, whichever reads better on ``color`` (any channel order; luminance is approximate)."""
    return (0, 0, 0) if sum(color) > 380 else (255, 255, 255)


def _put_label(image, text, x, y, color, scale, thickness):
    """Text on a filled box whose bottom-left corner is (x, y), kept inside the image."""
    (tw, th), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    h, w = image.shape[:2]
    x = max(0, min(int(x), w - tw - 2))
    y = int(y)
    if y - th - baseline - 2 < 0:  # no room above the box: write inside it
        y = th + baseline + 2
    y = min(y, h - 1)
    cv2.rectangle(image, (x, y - th - baseline - 2), (x + tw + 2, y), color, -1)
    cv2.putText(image, text, (x + 1, y - baseline - 1), _FONT, scale, _text_color(color), thickness, cv2.LINE_AA)


def label_text(det, draw_scores=True):
    """The tag of one box: ``"face #3 0.93"`` (``#N`` only with a ``track_id``, the score only with
    ``draw_scores``)."""
    parts = [str(det.label)]
    track_id = getattr(det, 'track_id', None)
    if track_id is not None:
        parts.append('#%d' % track_id)
    if draw_scores:
        parts.append('%.2f' % det.score)
    return ' '.join(parts)


def draw_detections(image, detections, draw_scores=True, thickness=2, channel_order='BGR', rate_hz=None,
                    copy=True):
    """Draw boxes with "label #id score" tags (see :func:`label_text`; and ``rate_hz`` as "N.N Hz" bottom-left
    when given).

    image: np.uint8 [H, W, 3] in ``channel_order``; detections: iterable of objects with x1, y1, x2, y2, score,
    label (pixels), optionally track_id. Returns the drawn image (a copy unless ``copy`` is False).
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError('draw_detections needs an [H, W, 3] image (got shape %r)' % (image.shape,))
    out = image.copy() if copy else image
    h, w = out.shape[:2]
    thickness = max(1, int(thickness))
    scale = max(0.4, min(1.0, h / 800.0))
    text_thickness = 1 if scale < 0.7 else 2
    for det in detections:
        color = color_for_label(det.label, channel_order)
        x1 = int(round(min(max(det.x1, 0), w - 1)))
        y1 = int(round(min(max(det.y1, 0), h - 1)))
        x2 = int(round(min(max(det.x2, 0), w - 1)))
        y2 = int(round(min(max(det.y2, 0), h - 1)))
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        text = label_text(det, draw_scores)
        _put_label(out, text, x1, y1, color, scale, text_thickness)
    if rate_hz is not None:
        _put_label(out, '%.1f Hz' % rate_hz, 0, h - 1, (32, 32, 32), scale, text_thickness)
    return out


class RateMeter(object):
    """Rate of events over a sliding window of ``window`` seconds; ``tick()`` per event, ``rate()`` in Hz."""

    def __init__(self, window=2.0, clock=time.monotonic):
        self.window = float(window)
        self._clock = clock
        self._times = []

    def tick(self, now=None):
        now = self._clock() if now is None else now
        self._times.append(now)
        cutoff = now - self.window
        while len(self._times) > 2 and self._times[0] < cutoff:
            self._times.pop(0)

    def rate(self):
        """Events per second between the oldest and newest event in the window (0.0 with fewer than 2)."""
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

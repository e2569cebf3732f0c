"""The detection record shared by post-processing, the nodes, the overlay and the CLI tools."""
from collections import namedtuple

_DetectionBase = namedtuple('Detection', ['x1', 'y1', 'x2', 'y2', 'score', 'class_index', 'label', 'track_id'])
_DetectionBase.__new__.__defaults__ = (None,)  # track_id is optional (namedtuple(defaults=) needs Python 3.7)


class Detection(_DetectionBase):
    """One detected box in pixel coordinates of the input image.

    Fields: ``x1, y1`` (top-left corner), ``x2, y2`` (bottom-right corner), all floats in pixels of the image
    given to the detector (``0 <= x1 < x2 <= width``, ``0 <= y1 < y2 <= height`` after post-processing);
    ``score`` (float, 0..1, the class probability); ``class_index`` (int, index into the model's labels,
    0 = background is never reported; -1 where unknown, e.g. a message with a label the model lacks);
    ``label`` (str, e.g. ``"face"``); ``track_id`` (int >= 1, the id of the object's track across frames, see
    :mod:`face_ssd_ros.detect.tracker`; None when untracked or while its track is tentative; optional).
    """

    __slots__ = ()

    @property
    def width(self):
        """Box width in pixels (float)."""
        return self.x2 - self.x1

    @property
    def height(self):
        """Box height in pixels (float)."""
        return self.y2 - self.y1

    @property
    def center(self):
        """Box centre ``(cx, cy)`` in pixels."""
        return ((self.x1 + self.x2) * 0.5, (self.y1 + self.y2) * 0.5)

    def as_list(self):
        """``[x1, y1, x2, y2, score, label]``: one entry of a predictions JSON line (see ARCHITECTURE.md)."""
        return [self.x1, self.y1, self.x2, self.y2, self.score, self.label]

"""Ground truth carried as vision_msgs/Detection2DArray (the ``ground_truth`` topic of an evaluation bag).

One array per image, its header equal to the image header (same stamp and frame_id). One Detection2D per
ground-truth box, laid out like a detection (docs/ARCHITECTURE.md): ``bbox`` centre/size in pixels,
``results[0].hypothesis.class_id`` = label, ``score`` = 1.0. The evaluation flags ride in ``Detection2D.id``::

    id = INDEX [";ignore"] [";wider=" SETS]

* ``INDEX``: position of the box in its frame (decimal).
* ``ignore``: an ignore region (VOC ``difficult``, WIDER ``invalid``): a detection on it is neither TP nor FP.
* ``wider=SETS``: the official WIDER FACE Easy / Medium / Hard membership, ``SETS`` a subset of the letters
  ``e``, ``m``, ``h`` (``wider=`` = counted in no setting, an ignore box of all three). WIDER AP is computed only
  when the ground truth carries these flags; a box without one then counts in no setting.

Examples: ``"0"``, ``"3;ignore"``, ``"5;wider=emh"``, ``"6;wider=h"``, ``"7;wider="``.

:func:`gt_from_msg` reads both rclpy messages and ``rosbags``-deserialised ones (same field names).
"""
import collections

import numpy as np

from face_ssd_ros.msgs.convert import msg_to_detections

WIDER_LETTERS = (('easy', 'e'), ('medium', 'm'), ('hard', 'h'))
IGNORE_FLAG = 'ignore'
WIDER_KEY = 'wider='


class GroundTruthFormatError(ValueError):
    """A ground-truth Detection2D whose ``id`` does not follow the grammar in the module docstring."""


class GroundTruth(collections.namedtuple('GroundTruth', 'boxes labels ignore wider')):
    """Ground truth of one frame.

    ``boxes`` float64 ``[M, 4]`` x1, y1, x2, y2 pixels; ``labels`` list of M str; ``ignore`` bool ``[M]``;
    ``wider``: None (no WIDER flags) or bool ``[M, 3]``, column j = counted in setting j of easy, medium, hard.
    """
    __slots__ = ()

    @classmethod
    def create(cls, boxes, labels=None, ignore=None, wider=None):
        """Validated GroundTruth from array-likes (labels default 'face', ignore default False)."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        m = len(b)
        labels = ['face'] * m if labels is None else [str(v) for v in labels]
        ign = np.zeros(m, bool) if ignore is None else np.asarray(ignore, dtype=bool).reshape(-1)
        w = None if wider is None else np.asarray(wider, dtype=bool).reshape(-1, 3)
        if len(labels) != m or len(ign) != m or (w is not None and len(w) != m):
            raise ValueError('ground truth: %d boxes but %d labels, %d ignore flags%s'
                             % (m, len(labels), len(ign), '' if w is None else ', %d wider rows' % len(w)))
        return cls(b, labels, ign, w)

    def wider_keep(self):
        """``{setting: int [K] 0-based indices counted in it}`` (boxes without flags count nowhere)."""
        flags = self.wider if self.wider is not None else np.zeros((len(self.boxes), 3), bool)
        return dict((name, np.nonzero(flags[:, j])[0]) for j, (name, _) in enumerate(WIDER_LETTERS))


def format_gt_id(index, ignore=False, wider=None):
    """The ``Detection2D.id`` of one box: ``format_gt_id(5, wider=(True, True, False)) -> "5;wider=em"``."""
    parts = [str(int(index))]
    if ignore:
        parts.append(IGNORE_FLAG)
    if wider is not None:
        parts.append(WIDER_KEY + ''.join(letter for (_, letter), on in zip(WIDER_LETTERS, wider) if on))
    return ';'.join(parts)


def parse_gt_id(text):
    """``"5;ignore;wider=eh"`` -> ``(5, True, (True, False, True))``; wider is None without a ``wider=`` flag.

    Raises GroundTruthFormatError naming the offending id.
    """
    fields = str(text).split(';')
    if not fields[0].strip().isdigit():
        raise GroundTruthFormatError('ground-truth id %r must start with the box index (e.g. "3" or "3;ignore"); '
                                     'see face_ssd_ros.evaluation.gt_encoding' % (text,))
    ignore, wider = False, None
    for flag in fields[1:]:
        flag = flag.strip()
        if flag == IGNORE_FLAG:
            ignore = True
        elif flag.startswith(WIDER_KEY):
            letters = flag[len(WIDER_KEY):]
            if any(c not in 'emh' for c in letters):
                raise GroundTruthFormatError('ground-truth id %r: wider= takes a subset of the letters e, m, h'
                                             % (text,))
            wider = tuple(letter in letters for _, letter in WIDER_LETTERS)
        elif flag:
            raise GroundTruthFormatError('ground-truth id %r: unknown flag %r (known: ignore, wider=SETS)'
                                         % (text, flag))
    return int(fields[0]), ignore, wider


def gt_rows(gt):
    """GroundTruth -> list of ``(x1, y1, x2, y2, score=1.0, label, id)`` rows for a Detection2DArray."""
    rows = []
    for i, box in enumerate(gt.boxes):
        wider = None if gt.wider is None else tuple(bool(v) for v in gt.wider[i])
        rows.append((float(box[0]), float(box[1]), float(box[2]), float(box[3]), 1.0, gt.labels[i],
                     format_gt_id(i, bool(gt.ignore[i]), wider)))
    return rows


def gt_from_msg(msg):
    """vision_msgs/Detection2DArray (rclpy or rosbags object) -> :class:`GroundTruth`.

    Boxes and labels are read as detections are (:func:`face_ssd_ros.msgs.convert.msg_to_detections`); the flags
    come from each ``id``. If any box carries a ``wider=`` flag, ``wider`` is an ``[M, 3]`` array (boxes without
    one: all False). An empty id (a detector's box without a track id, e.g. detections written back into a bag and
    used as the reference) is a plain box; a track id reads as a box index, which carries no flag either.
    """
    items = msg_to_detections(msg)
    flags = [parse_gt_id(item.id) if str(item.id).strip() else (i, False, None)
             for i, item in enumerate(msg.detections)]
    has_wider = any(w is not None for _, _, w in flags)
    wider = [w if w is not None else (False, False, False) for _, _, w in flags] if has_wider else None
    return GroundTruth.create([[d.x1, d.y1, d.x2, d.y2] for d in items], [d.label for d in items],
                              [ign for _, ign, _ in flags], wider)


def detection_rows(msg):
    """vision_msgs/Detection2DArray of detections (rclpy or rosbags object) -> rows ``(x1, y1, x2, y2, score,
    label)`` in message order, as the metrics in :mod:`face_ssd_ros.evaluation.metrics.voc` take them."""
    return [(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in msg_to_detections(msg)]

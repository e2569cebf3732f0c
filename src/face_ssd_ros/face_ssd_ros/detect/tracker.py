"""Track ids for detections across frames: a ByteTrack-style tracker in numpy (rclpy-free, Python 3.6).

Per frame, :meth:`ByteTracker.update` takes the post-processed boxes of one image (including boxes below the
publish threshold, see below) and assigns track ids:

1. **Prediction**: every track's box moves by a constant-velocity Kalman filter on its centre and size
   (:class:`BoxKalman`), so a moving face is looked for where it should be now, not where it was.
2. **First pass**: *high* boxes (``score >= high_threshold``, the detector's ``score_threshold``) are matched to
   the confirmed tracks, tracked and lost alike, by IoU with the predicted boxes (greedy, highest IoU first,
   IoU ``>= match_iou``, same class only).
3. **Second pass** (ByteTrack's idea): *low* boxes (``low_threshold <= score < high_threshold``) are matched to
   the confirmed tracks still unmatched that were seen in the previous frame, at IoU ``>= max(match_iou, 0.5)``.
   A face whose score dips below the publish threshold for a few frames keeps its track (and its id) instead of
   being lost, so it comes back with the same id; the low box itself is not published (``score_threshold`` keeps
   its meaning), and a low box that continues no track is dropped, so background clutter never starts a track.
4. Tentative tracks (not yet ``min_hits`` consecutive matches) are matched to the remaining high boxes; a
   tentative track that misses a frame is deleted. Remaining high boxes start new tentative tracks.
5. A confirmed track without a match is *lost*; it is deleted after more than ``track_buffer`` frames lost, and
   until then a high box where its prediction lies takes its id back.

Ids are positive integers, handed out in increasing order when a track is confirmed (after ``min_hits``
consecutive frames with a high box) and never reused by the same tracker, so a face that leaves and a new one that
enters never share an id. Published boxes (``keep``): the high boxes, with their id once their track is
confirmed (0 = no id before).

Frames are counted by :meth:`update` calls: ``track_buffer`` and ``min_hits`` are in processed frames.
"""
import time
from collections import namedtuple

import numpy as np

#: IoU floor of the second pass (low-score boxes are less certain; they must overlap the prediction well).
SECOND_PASS_MIN_IOU = 0.5

TENTATIVE, TRACKED, LOST = 'tentative', 'tracked', 'lost'

#: Kalman noise, relative to the box size (per axis: x and width scale with the width, y and height with the
#: height): position / size process noise, velocity process noise, measurement noise.
_STD_POSITION = 1.0 / 20.0
_STD_VELOCITY = 1.0 / 160.0
_STD_MEASUREMENT = 1.0 / 20.0
_MIN_SIZE = 1.0


def _validated(match_iou, track_buffer, min_hits, low_threshold):
    """The tracker settings as (float, int, int, float); ValueError naming the bad one."""
    checks = (('match_iou', match_iou, float, 0.0, 1.0, False), ('track_buffer', track_buffer, int, 0, 100000, True),
              ('min_hits', min_hits, int, 1, 100000, True), ('low_threshold', low_threshold, float, 0.0, 1.0, False))
    out = []
    for name, value, kind, low, high, integral in checks:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError('tracker %s must be a number, got %r' % (name, value))
        if integral and int(value) != value:
            raise ValueError('tracker %s must be an integer, got %r' % (name, value))
        if not low <= value <= high or value != value:
            raise ValueError('tracker %s must be in [%s, %s], got %r' % (name, low, high, value))
        out.append(kind(value))
    if out[0] <= 0.0:
        raise ValueError('tracker match_iou must be greater than 0, got %r' % (match_iou,))
    return tuple(out)


def iou_matrix(a, b):
    """IoU of every box of ``a`` ``[N, 4]`` with every box of ``b`` ``[M, 4]`` (x1, y1, x2, y2) -> float64
    ``[N, M]``; 0 where boxes do not overlap or the union is empty."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0.0, inter / np.maximum(union, 1e-12), 0.0)


def greedy_match(iou, threshold):
    """Pairs ``(row, col)`` of ``iou [N, M]``, highest IoU first, each row and column at most once, only where
    ``iou >= threshold``. Ties: lower row, then lower column first. Returns a list of int pairs."""
    iou = np.asarray(iou, dtype=np.float64)
    if iou.size == 0:
        return []
    rows, cols = np.nonzero(iou >= threshold)
    order = np.lexsort((cols, rows, -iou[rows, cols]))
    used_rows, used_cols, pairs = set(), set(), []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            pairs.append((r, c))
    return pairs


def _xyxy_to_cxcywh(box):
    x1, y1, x2, y2 = [float(v) for v in box]
    return np.array([(x1 + x2) * 0.5, (y1 + y2) * 0.5, max(x2 - x1, _MIN_SIZE), max(y2 - y1, _MIN_SIZE)])


class BoxKalman(object):
    """Constant-velocity Kalman filter of one box: state (cx, cy, w, h) in pixels and their velocities in pixels per
    frame; measurements are boxes ``[4]`` (x1, y1, x2, y2).

    With a diagonal process and measurement noise the four axes never correlate, so the 8-state filter is exactly
    four independent 2-state (position, velocity) filters: ``pos [4]``, ``vel [4]`` and per axis the covariance
    entries ``p_pp [4]``, ``p_pv [4]``, ``p_vv [4]`` (a few vector operations per frame instead of 8x8 matrices).
    Noise standard deviations are proportional to the box size (x and w to the width, y and h to the height).
    """

    __slots__ = ('pos', 'vel', 'p_pp', 'p_pv', 'p_vv')

    def __init__(self, box):
        self.pos = _xyxy_to_cxcywh(box)
        self.vel = np.zeros(4)
        scale = self._scale()
        self.p_pp = (2.0 * _STD_POSITION * scale) ** 2
        self.p_pv = np.zeros(4)
        self.p_vv = (10.0 * _STD_VELOCITY * scale) ** 2

    def _scale(self):
        """Per-axis size scale ``[4]``: (w, h, w, h)."""
        w, h = max(float(self.pos[2]), _MIN_SIZE), max(float(self.pos[3]), _MIN_SIZE)
        return np.array([w, h, w, h])

    @property
    def mean(self):
        """The state ``[8]`` (cx, cy, w, h, vcx, vcy, vw, vh)."""
        return np.concatenate([self.pos, self.vel])

    def predict(self, still_size=False):
        """Advance one frame. ``still_size``: stop the size velocity first (a lost track keeps its size)."""
        if still_size:
            self.vel[2:] = 0.0
        scale2 = self._scale() ** 2
        self.pos = self.pos + self.vel
        self.pos[2:] = np.maximum(self.pos[2:], _MIN_SIZE)
        self.p_pp = self.p_pp + 2.0 * self.p_pv + self.p_vv + _STD_POSITION ** 2 * scale2
        self.p_pv = self.p_pv + self.p_vv
        self.p_vv = self.p_vv + _STD_VELOCITY ** 2 * scale2

    def update(self, box):
        """Correct the state with a measured box ``[4]`` (x1, y1, x2, y2)."""
        innovation = _xyxy_to_cxcywh(box) - self.pos
        s = self.p_pp + (_STD_MEASUREMENT ** 2) * self._scale() ** 2
        k_pos, k_vel = self.p_pp / s, self.p_pv / s
        self.pos = self.pos + k_pos * innovation
        self.pos[2:] = np.maximum(self.pos[2:], _MIN_SIZE)
        self.vel = self.vel + k_vel * innovation
        self.p_vv = self.p_vv - k_vel * self.p_pv
        self.p_pp = (1.0 - k_pos) * self.p_pp
        self.p_pv = (1.0 - k_pos) * self.p_pv

    def box(self):
        """The current box ``[4]`` (x1, y1, x2, y2)."""
        cx, cy, w, h = self.pos
        return np.array([cx - w * 0.5, cy - h * 0.5, cx + w * 0.5, cy + h * 0.5])


class Track(object):
    """One tracked object: ``track_id`` (0 while tentative), ``state`` (tentative | tracked | lost), ``hits``
    (consecutive matched frames while tentative, then total), ``frames_lost``, ``class_index``, ``score`` (of its
    last box) and its :class:`BoxKalman` ``kalman``."""

    __slots__ = ('track_id', 'state', 'hits', 'frames_lost', 'class_index', 'score', 'kalman')

    def __init__(self, box, score, class_index):
        self.track_id = 0
        self.state = TENTATIVE
        self.hits = 1
        self.frames_lost = 0
        self.class_index = int(class_index)
        self.score = float(score)
        self.kalman = BoxKalman(box)

    @property
    def confirmed(self):
        return self.state != TENTATIVE

    def box(self):
        return self.kalman.box()

    def __repr__(self):
        return 'Track(id=%d, %s, hits=%d, lost=%d, box=%s)' % (self.track_id, self.state, self.hits,
                                                               self.frames_lost, np.round(self.box(), 1).tolist())


#: Result of :meth:`ByteTracker.update`, aligned with its input boxes: ``track_ids`` int64 ``[K]`` (0 = no id:
#: a tentative track, or not kept) and ``keep`` bool ``[K]`` (publish this box).
TrackResult = namedtuple('TrackResult', ['track_ids', 'keep'])


class ByteTracker(object):
    """ByteTrack-style tracker (see the module docstring).

    ``match_iou``: minimum IoU between a track's predicted box and a box to match it (0 < v <= 1);
    ``track_buffer``: frames a lost confirmed track is kept for re-identification; ``min_hits``: consecutive frames
    with a high box before a track is confirmed and gets an id (1 = at once); ``low_threshold``: boxes scoring at
    least this (and below the high threshold given to :meth:`update`) may continue a confirmed track.
    Raises ValueError for a setting out of range.
    """

    def __init__(self, match_iou=0.2, track_buffer=30, min_hits=2, low_threshold=0.3):
        self.match_iou, self.track_buffer, self.min_hits, self.low_threshold = _validated(
            match_iou, track_buffer, min_hits, low_threshold)
        self.tracks = []
        self.frame_count = 0
        self._last_id = 0

    def configure(self, match_iou=None, track_buffer=None, min_hits=None, low_threshold=None):
        """Change settings (None keeps a value); all are validated before any changes (ValueError). They apply
        from the next :meth:`update`; existing tracks are kept."""
        values = _validated(self.match_iou if match_iou is None else match_iou,
                            self.track_buffer if track_buffer is None else track_buffer,
                            self.min_hits if min_hits is None else min_hits,
                            self.low_threshold if low_threshold is None else low_threshold)
        self.match_iou, self.track_buffer, self.min_hits, self.low_threshold = values

    def reset(self):
        """Forget every track (e.g. after a pause). Ids handed out later still never repeat earlier ones."""
        self.tracks = []
        self.frame_count = 0

    @property
    def last_id(self):
        """The highest id handed out so far (0 = none)."""
        return self._last_id

    def active_tracks(self):
        """Confirmed tracks matched in the latest frame."""
        return [t for t in self.tracks if t.state == TRACKED]

    # ------------------------------------------------------------------ per frame
    def update(self, boxes, scores, classes, high_threshold):
        """Track one frame.

        ``boxes``: ``[K, 4]`` x1, y1, x2, y2 (pixels); ``scores``: ``[K]``; ``classes``: ``[K]`` class indices (a
        track only takes boxes of its own class); ``high_threshold``: the publish threshold (boxes at or above it
        are high, boxes in ``[low_threshold, high_threshold)`` low; lower boxes are ignored).
        Returns a :class:`TrackResult` aligned with the input.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        classes = np.asarray(classes, dtype=np.int64).reshape(-1)
        if not boxes.shape[0] == scores.shape[0] == classes.shape[0]:
            raise ValueError('tracker: %d boxes, %d scores and %d classes must be the same number'
                             % (boxes.shape[0], scores.shape[0], classes.shape[0]))
        self.frame_count += 1
        count = boxes.shape[0]
        track_ids = np.zeros(count, dtype=np.int64)
        keep = scores >= high_threshold
        low = np.flatnonzero(~keep & (scores >= self.low_threshold))
        high = np.flatnonzero(keep)

        for track in self.tracks:
            track.kalman.predict(still_size=track.state == LOST)
        confirmed = [t for t in self.tracks if t.confirmed]
        tentative = [t for t in self.tracks if not t.confirmed]
        matched = {}  # id(track) -> box index

        # first pass: high boxes <-> confirmed tracks (tracked or lost)
        high_left = self._associate(confirmed, high, boxes, classes, self.match_iou, matched)
        # second pass: low boxes <-> confirmed tracks that were tracked in the previous frame
        recent = [t for t in confirmed if id(t) not in matched and t.state == TRACKED]
        self._associate(recent, low, boxes, classes, max(self.match_iou, SECOND_PASS_MIN_IOU), matched)
        # third pass: remaining high boxes <-> tentative tracks
        high_left = self._associate(tentative, high_left, boxes, classes, self.match_iou, matched)

        survivors = []
        for track in self.tracks:
            index = matched.get(id(track))
            if index is not None:
                self._hit(track, boxes[index], scores[index])
                if track.confirmed:
                    track_ids[index] = track.track_id   # a low box keeps the track alive but is not published
                survivors.append(track)
            elif track.confirmed:
                track.state = LOST
                track.frames_lost += 1
                if track.frames_lost <= self.track_buffer:
                    survivors.append(track)
            # an unmatched tentative track is dropped
        for index in high_left:
            track = Track(boxes[index], scores[index], classes[index])
            if self.min_hits <= 1:
                self._confirm(track)
                track_ids[index] = track.track_id
            survivors.append(track)
        self.tracks = survivors
        return TrackResult(track_ids, keep)

    def _associate(self, tracks, indices, boxes, classes, threshold, matched):
        """Greedy IoU matching of ``tracks`` with the boxes ``indices``; records pairs in ``matched``
        (id(track) -> box index) and returns the box indices left over (int64 array, input order)."""
        indices = np.asarray(indices, dtype=np.int64)
        if not tracks or indices.size == 0:
            return indices
        predicted = np.array([t.box() for t in tracks])
        iou = iou_matrix(predicted, boxes[indices])
        same_class = np.array([t.class_index for t in tracks])[:, None] == classes[indices][None, :]
        iou = np.where(same_class, iou, 0.0)
        used = np.zeros(indices.size, dtype=bool)
        for row, col in greedy_match(iou, threshold):
            matched[id(tracks[row])] = int(indices[col])
            used[col] = True
        return indices[~used]

    def _hit(self, track, box, score):
        track.kalman.update(box)
        track.score = float(score)
        track.hits += 1
        track.frames_lost = 0
        if track.confirmed:
            track.state = TRACKED
        elif track.hits >= self.min_hits:
            self._confirm(track)

    def _confirm(self, track):
        self._last_id += 1
        track.track_id = self._last_id
        track.state = TRACKED

    # ------------------------------------------------------------------ detections
    def track(self, detections, high_threshold):
        """Track a list of :class:`face_ssd_ros.detect.detection.Detection` (one frame, post-processed down to at
        least :attr:`low_threshold`). Returns the published ones, in input order, each with ``track_id`` set
        (an int, or None while its track is tentative)."""
        detections = list(detections)
        if detections:
            boxes = [(d.x1, d.y1, d.x2, d.y2) for d in detections]
            result = self.update(boxes, [d.score for d in detections], [d.class_index for d in detections],
                                 high_threshold)
        else:
            result = self.update(np.zeros((0, 4)), [], [], high_threshold)
        return [d._replace(track_id=int(tid) if tid else None)
                for d, tid, kept in zip(detections, result.track_ids, result.keep) if kept]


#: detector parameter (config.params.DETECTOR_PARAMS) -> ByteTracker argument
PARAM_ARGS = (('track_match_iou', 'match_iou'), ('track_buffer', 'track_buffer'), ('track_min_hits', 'min_hits'),
              ('track_low_threshold', 'low_threshold'))


def tracker_arguments(values):
    """ByteTracker keyword arguments from detector parameter values ``{name: value}`` (see :data:`PARAM_ARGS`)."""
    return dict((arg, values[name]) for name, arg in PARAM_ARGS)


def tracker_from_params(values):
    """A :class:`ByteTracker` from detector parameter values, or None when ``values['tracking']`` is off."""
    return ByteTracker(**tracker_arguments(values)) if values['tracking'] else None


def detect_tracked(detector, tracker, image_rgb):
    """One frame through a detector and (optionally) a tracker: what the detector node publishes.

    ``detector``: a :class:`face_ssd_ros.detect.inference.FaceDetector`; ``tracker``: a :class:`ByteTracker` or
    None (tracking off); ``image_rgb``: np.uint8 ``[H, W, 3]``. With a tracker the boxes are post-processed down
    to ``min(low_threshold, score_threshold)`` and the tracker picks the published ones (see the module
    docstring). Returns ``(detections, stage_times, tracking_ms)`` (``tracking_ms`` None without a tracker);
    raises what ``detector.detect`` raises.
    """
    threshold = detector.score_threshold
    if tracker is None:
        detections, times = detector.detect(image_rgb)
        return detections, times, None
    detections, times = detector.detect(image_rgb, min_score=min(tracker.low_threshold, threshold))
    t0 = time.perf_counter()
    detections = tracker.track(detections, threshold)
    return detections, times, (time.perf_counter() - t0) * 1e3

"""The overlay's video file: annotated frames written at the rate they were captured (rclpy-free).

:class:`VideoRecorder` writes np.uint8 ``[H, W, 3]`` BGR frames to an mp4v file. With ``fps`` > 0 the file plays
at that rate. With ``fps`` == 0 it plays at the source's rate, estimated from the capture stamps of the first frames
(the median interval between consecutive stamps, so frames the pipeline dropped do not speed the video up): those
frames are held until ``estimate_frames`` intervals or ``estimate_span_s`` seconds of stamps were seen (or
``close()``), then the file is opened and they are written in order. Frames of another size than the first are
resized to it. ``close()`` finalises the file (an mp4 without it does not open).
"""
import cv2
import numpy as np

#: Rate used when the stamps say nothing (a single frame, unstamped frames).
DEFAULT_FPS = 30.0
MIN_FPS, MAX_FPS = 1.0, 240.0


def estimate_fps(stamps_ns, default=DEFAULT_FPS):
    """Frames per second of capture stamps (int ns, in arrival order): 1 / the median positive interval, clipped
    to [MIN_FPS, MAX_FPS]; ``default`` when no interval is positive."""
    stamps = np.asarray(list(stamps_ns), dtype=np.float64)
    intervals = np.diff(stamps)
    intervals = intervals[intervals > 0]
    if not intervals.size:
        return float(default)
    return float(min(MAX_FPS, max(MIN_FPS, 1e9 / float(np.median(intervals)))))


class VideoRecorder(object):
    """An annotated-video file (see the module docstring).

    ``written``: frames written so far; ``fps``: the rate of the file (None until it is opened); ``size``:
    ``(width, height)`` of the file; ``error``: why the file could not be opened (then frames are dropped and
    counted in ``dropped``), else None.
    """

    def __init__(self, path, fps=0.0, estimate_frames=10, estimate_span_s=1.0, max_held_bytes=256 * 1024 * 1024):
        self.path = path
        self.requested_fps = float(fps or 0.0)
        self.estimate_frames = int(estimate_frames)
        self.estimate_span_s = float(estimate_span_s)
        self.max_held_bytes = int(max_held_bytes)
        self.fps = None
        self.size = None
        self.written = 0
        self.dropped = 0
        self.error = None
        self._writer = None
        self._held = []          # [(bgr, stamp_ns)] until the rate is known
        self._held_bytes = 0
        self._closed = False

    @property
    def opened(self):
        return self._writer is not None

    def add(self, bgr, stamp_ns=0):
        """Queue or write one BGR frame captured at ``stamp_ns``. Returns False once the file failed or is closed."""
        if self._closed or self.error is not None:
            self.dropped += 1
            return False
        if self.size is None:
            self.size = (int(bgr.shape[1]), int(bgr.shape[0]))
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        if self._writer is not None:
            return self._write(bgr)
        if self.requested_fps > 0:
            self._open(self.requested_fps)
            return self._write(bgr)
        self._held.append((np.array(bgr, copy=True), int(stamp_ns)))
        self._held_bytes += bgr.nbytes
        stamps = [s for _, s in self._held]
        span_s = (max(stamps) - min(stamps)) / 1e9
        if len(self._held) > self.estimate_frames or span_s >= self.estimate_span_s \
                or self._held_bytes >= self.max_held_bytes:
            return self._flush_held()
        return True

    def _flush_held(self):
        held, self._held, self._held_bytes = self._held, [], 0
        if not held:
            return True
        if not self._open(estimate_fps(s for _, s in held)):
            self.dropped += len(held)
            return False
        for bgr, _ in held:
            self._write(bgr)
        return True

    def _open(self, fps):
        self.fps = float(fps)
        writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*'mp4v'), self.fps, self.size)
        if not writer.isOpened():
            writer.release()
            self.error = 'cannot write video %r (folder missing or not writable?)' % self.path
            return False
        self._writer = writer
        return True

    def _write(self, bgr):
        if self._writer is None:
            self.dropped += 1
            return False
        self._writer.write(bgr)
        self.written += 1
        return True

    def close(self):
        """Write what is held, finalise the file (idempotent). Returns the number of frames written."""
        if not self._closed:
            if self.error is None:
                self._flush_held()
            self._closed = True
            if self._writer is not None:
                self._writer.release()
                self._writer = None
        return self.written

"""Frame capture sources behind one small interface (rclpy-free).

Every source has ``read() -> (ok, frame)`` (``frame``: np.uint8 ``[H, W, 3]`` BGR, or ``None`` when ``ok`` is
False), ``fps`` (the source's own rate in frames/s, 0.0 when unknown), ``live`` (True for cameras: a failed read
means the device was lost; False for files: a failed read means the end), ``finished`` (True once a file source
has nothing more to give) and ``close()``.

Supported sources (``source_type``):

* ``v4l2``: a V4L2 device, by index (``"0"``) or path (``"/dev/video0"``), opened with ``cv2.CAP_V4L2``.
* ``gstreamer``: a GStreamer pipeline string ending in ``appsink`` (needs an OpenCV built with GStreamer).
* ``csi``: a Jetson CSI camera through ``nvarguscamerasrc`` (see :func:`csi_pipeline`).
* ``video``: a video file.
* ``images``: an image folder, a glob pattern or a single image file (sorted; unreadable images, truncated
  JPEG / PNG files included (:mod:`face_ssd_ros.camera.decode`), are counted in ``skipped`` and skipped).

``auto`` picks one of these from the source string (:func:`detect_source_type`).
"""
import glob
import os
import re

import cv2
import numpy as np

from face_ssd_ros.camera.decode import ImageDecodeError, read_image_file

SOURCE_TYPES = ('auto', 'v4l2', 'gstreamer', 'csi', 'video', 'images')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pnm')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv', '.ts')
_DEVICE_RE = re.compile(r'^/dev/video(\d+)$')


class SourceError(RuntimeError):
    """A capture source cannot be opened; the message says what to check."""


class Backoff(object):
    """Exponential back-off policy for reconnect attempts (pure: it never sleeps).

    ``next_delay()`` returns ``initial``, ``initial * factor``, ... capped at ``maximum``; ``reset()`` starts over
    after a successful reconnect. ``attempts`` counts the delays handed out since the last reset.
    """

    def __init__(self, initial=0.5, maximum=10.0, factor=2.0):
        if initial <= 0 or maximum <= 0:
            raise ValueError('Backoff: initial and maximum delays must be > 0 (got %r, %r)' % (initial, maximum))
        if maximum < initial:
            raise ValueError('Backoff: maximum delay %r is smaller than the initial delay %r' % (maximum, initial))
        if factor < 1.0:
            raise ValueError('Backoff: factor must be >= 1 (got %r)' % (factor,))
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self.attempts = 0
        self._next = self.initial

    def next_delay(self):
        """Delay in seconds before the next attempt; grows by ``factor`` up to ``maximum``."""
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        self.attempts += 1
        return delay

    def reset(self):
        self.attempts = 0
        self._next = self.initial


def next_file_slot(slot, period, published_at):
    """When the next frame of a file is due, after the frame of ``slot`` was published at ``published_at``
    (monotonic seconds): one ``period`` later on schedule, but never less than half a period after this publication.
    A frame that took long to read (a 6000x4000 JPEG) is thus not followed at once by the next one, which would
    replace it in the subscribers' depth-1 queues before they could take it; the file plays a little slower
    instead."""
    return max(slot + period, published_at + period / 2.0)


def csi_pipeline(sensor_id=0, width=1280, height=720, fps=30.0, flip_method=0):
    """GStreamer pipeline string for a Jetson CSI camera (nvarguscamerasrc), delivering BGR frames to appsink.

    ``width``/``height`` are the sensor mode and output size (0 = 1280x720), ``fps`` the requested rate (0 = 30).
    """
    width = int(width) or 1280
    height = int(height) or 720
    fps_num = int(round(float(fps))) or 30
    return ('nvarguscamerasrc sensor-id=%d ! '
            'video/x-raw(memory:NVMM), width=(int)%d, height=(int)%d, format=(string)NV12, framerate=(fraction)%d/1 ! '
            'nvvidconv flip-method=%d ! video/x-raw, width=(int)%d, height=(int)%d, format=(string)BGRx ! '
            'videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=1 max-buffers=1'
            % (int(sensor_id), width, height, fps_num, int(flip_method), width, height))


def _has_glob_chars(text):
    return any(c in text for c in '*?[')


def detect_source_type(source):
    """Guess the source type of a source string: one of v4l2, gstreamer, csi, video, images.

    Raises SourceError when the string names nothing that exists.
    """
    text = str(source).strip()
    if not text:
        raise SourceError('camera source is empty: give a device ("0", "/dev/video0"), a GStreamer pipeline, '
                          'a video file, an image folder or a glob')
    if text.isdigit() or _DEVICE_RE.match(text):
        return 'v4l2'
    if text.lower() == 'csi':
        return 'csi'
    if '!' in text:
        return 'gstreamer'
    if os.path.isdir(text):
        return 'images'
    if os.path.isfile(text):
        return 'images' if text.lower().endswith(IMAGE_EXTENSIONS) else 'video'
    if _has_glob_chars(text):
        return 'images'
    raise SourceError('camera source %r does not exist: give a device ("0", "/dev/video0"), a GStreamer pipeline '
                      '(with "!"), "csi", an existing video file, image folder or glob' % text)


def list_images(source):
    """Sorted image paths of a folder, a glob pattern or a single image file (may be empty)."""
    if os.path.isdir(source):
        paths = [os.path.join(source, n) for n in os.listdir(source)]
    elif _has_glob_chars(source):
        paths = glob.glob(source)
    else:
        paths = [source] if os.path.isfile(source) else []
    return sorted(p for p in paths if os.path.isfile(p) and p.lower().endswith(IMAGE_EXTENSIONS))


def _as_bgr(frame):
    """Normalise a decoded frame to np.uint8 [H, W, 3] BGR; None when it cannot be."""
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0 or frame.dtype != np.uint8:
        return None
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return None


class ImageFolderSource(object):
    """Images of a folder / glob / single file, in sorted order; ``loop`` starts over at the end.

    Unreadable images (:func:`face_ssd_ros.camera.decode.read_image_file`: missing, truncated JPEG / PNG,
    undecodable) are skipped and counted in ``skipped`` (their paths in ``skipped_paths``, the reason of the
    latest in ``last_skip_reason``).
    ``fps`` is the rate given at construction (0.0 = unknown, the caller picks a rate).
    """

    live = False

    def __init__(self, source, loop=False, fps=0.0):
        self.source = source
        self.paths = list_images(source)
        if not self.paths:
            raise SourceError('no images (%s) found at %r: check the folder or glob'
                              % ('/'.join(e.lstrip('.') for e in IMAGE_EXTENSIONS[:4]), source))
        self.loop = bool(loop)
        self.fps = float(fps)
        self.skipped = 0
        self.skipped_paths = []
        self.last_skip_reason = None
        self.current_path = None
        self.finished = False
        self._index = 0

    def read(self):
        """Next readable image as (True, BGR frame); (False, None) at the end (sets ``finished``)."""
        failures_in_row = 0
        while not self.finished:
            if self._index >= len(self.paths):
                if not self.loop or failures_in_row >= len(self.paths):
                    self.finished = True
                    break
                self._index = 0
            path = self.paths[self._index]
            self._index += 1
            try:  # EXIF rotation applied, as cv2.imread does; a truncated JPEG / PNG is refused, not half decoded
                frame = read_image_file(path, apply_orientation=True)
            except (ImageDecodeError, IOError, OSError) as exc:
                self.last_skip_reason = '%s: %s' % (exc, path)
                failures_in_row += 1
                self.skipped += 1
                if path not in self.skipped_paths:
                    self.skipped_paths.append(path)
                continue
            self.current_path = path
            return True, frame
        return False, None

    def describe(self):
        return 'images %r (%d files%s)' % (self.source, len(self.paths), ', loop' if self.loop else '')

    def close(self):
        self.finished = True


class OpenCVSource(object):
    """cv2.VideoCapture over a V4L2 device, a GStreamer pipeline or a video file.

    For files (``live`` False) a failed read is the end of the file; with ``loop`` the file starts over.
    For devices and pipelines (``live`` True) a failed read means the device was lost: the caller closes this
    source and reopens it with a :class:`Backoff`.
    """

    def __init__(self, source, source_type, width=0, height=0, fps=0.0, loop=False):
        self.source = source
        self.source_type = source_type
        self.live = source_type != 'video'
        self.loop = bool(loop) and not self.live
        self.finished = False
        self.frames_read = 0
        self._cap = self._open(source, source_type, int(width), int(height), float(fps))
        reported = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        # Some backends report nonsense (0, NaN or 1000+) when the rate is unknown.
        self.fps = reported if 0.0 < reported < 1000.0 else (float(fps) if fps > 0 else 0.0)

    @staticmethod
    def _open(source, source_type, width, height, fps):
        if source_type == 'v4l2':
            match = _DEVICE_RE.match(source)
            target = int(source) if source.isdigit() else (int(match.group(1)) if match else source)
            cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
            if cap.isOpened():
                if width > 0:
                    cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                if height > 0:
                    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
                if fps > 0:
                    cap.set(cv2.CAP_PROP_FPS, fps)
                cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            hint = 'check that the camera is plugged in, that %s exists and that you may read it (group "video")' % (
                '/dev/video%s' % source if source.isdigit() else source)
        elif source_type in ('gstreamer', 'csi'):
            cap = cv2.VideoCapture(source, cv2.CAP_GSTREAMER)
            hint = ('check the pipeline with gst-launch-1.0 and that this OpenCV was built with GStreamer '
                    '(cv2.getBuildInformation(); pip opencv wheels are not - use the system python3-opencv)')
        else:
            cap = cv2.VideoCapture(source)
            hint = 'check that the file exists and is a video OpenCV can decode (e.g. mp4 / avi)'
        if not cap.isOpened():
            cap.release()
            raise SourceError('cannot open %s source %r: %s' % (source_type, source, hint))
        return cap

    def read(self):
        """(True, BGR frame), or (False, None) at the end of a file / when a device delivers nothing.

        A frame that decodes to something that is not an image is returned as (True, None): the caller counts it
        as corrupt and goes on.
        """
        if self.finished:
            return False, None
        ok, frame = self._cap.read()
        if not ok and self.loop and self.frames_read > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok:
            if not self.live:
                self.finished = True
            return False, None
        self.frames_read += 1
        return True, _as_bgr(frame)

    def describe(self):
        return '%s %r (%.3g fps%s)' % (self.source_type, self.source, self.fps, ', loop' if self.loop else '')

    def close(self):
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if not self.live:
            self.finished = True


def open_source(source, source_type='auto', width=0, height=0, fps=0.0, loop=False, csi_sensor_id=0):
    """Open a capture source; ``source_type`` one of SOURCE_TYPES ('auto' guesses from ``source``).

    For ``csi`` the pipeline is built by :func:`csi_pipeline` unless ``source`` already is a pipeline.
    Raises SourceError (with what to check) when it cannot be opened.
    """
    source = str(source).strip()
    if source_type not in SOURCE_TYPES:
        raise SourceError('unknown source_type %r: use one of %s' % (source_type, ', '.join(SOURCE_TYPES)))
    kind = detect_source_type(source) if source_type == 'auto' else source_type
    if kind == 'csi' and '!' not in source:
        source = csi_pipeline(csi_sensor_id, width, height, fps)
    if kind == 'images':
        return ImageFolderSource(source, loop=loop, fps=fps)
    return OpenCVSource(source, kind, width=width, height=height, fps=fps, loop=loop)

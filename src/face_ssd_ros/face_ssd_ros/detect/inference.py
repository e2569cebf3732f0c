"""FaceDetector: manifest + backend + pre/post-processing behind one call, ``detect(image_rgb)``."""
import os
import re
import time
from collections import namedtuple

import numpy as np

from face_ssd_ros.config import params
from face_ssd_ros.detect.backends import create_backend
from face_ssd_ros.detect.manifest import load_manifest
from face_ssd_ros.detect.postprocess import postprocess
from face_ssd_ros.detect.preprocess import preprocess

DEFAULT_MODEL_NAME = 'face_default.onnx'


class ModelOutputError(RuntimeError):
    """The model produced NaN/inf outputs for a frame; callers count the frame as failed and skip it."""


class StageTimes(namedtuple('StageTimes', ['preprocess_ms', 'inference_ms', 'postprocess_ms'])):
    """Wall-clock milliseconds of the three stages of one :meth:`FaceDetector.detect` call."""

    __slots__ = ()

    @property
    def total_ms(self):
        return self.preprocess_ms + self.inference_ms + self.postprocess_ms


# One immutable bundle, swapped in a single assignment so a concurrent detect() never sees a half-applied change.
_Settings = namedtuple('_Settings', ['score_threshold', 'nms_iou', 'max_detections', 'class_filter', 'class_ids'])


def default_model_path():
    """Path of the shipped default model (``face_ssd_ros/models/face_default.onnx``); FileNotFoundError if absent."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # face_ssd_ros/detect/ -> face_ssd_ros/
    path = os.path.join(package, 'models', DEFAULT_MODEL_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError('the shipped default model is missing: %s. Reinstall face_ssd_ros (colcon build / '
                                'pip install), run `make train-default` in a source checkout, or set model_path to '
                                'an exported .onnx model.' % path)
    return path


_SIZE_SUFFIX = re.compile(r'_(\d+)x(\d+)$')


def sized_model_path(model_path, width, height):
    """The sibling of ``model_path`` exported for a ``width x height`` input: ``<stem>_<W>x<H><ext>``.

    The stem drops a size suffix it already has, so ``face_default_640x480.onnx`` at 320x240 gives
    ``face_default_320x240.onnx``. (``face-ssd-export CKPT --input-size WxH`` writes such files; the shipped
    default model has ``face_default.onnx`` at 320x240 and ``face_default_640x480.onnx``.)
    """
    stem, ext = os.path.splitext(model_path)
    return '%s_%dx%d%s' % (_SIZE_SUFFIX.sub('', stem), int(width), int(height), ext)


def model_for_input_size(model_path, manifest, input_size):
    """``(model_path, manifest)`` that runs at ``input_size`` (w, h): the given model when its size matches or it is
    dynamic, else a sibling exported at that size (:func:`sized_model_path`, or the unsuffixed stem when that one has
    the size). Unchanged when no sibling exists (the caller reports the mismatch)."""
    if not input_size or not all(input_size) or manifest.dynamic_size or \
            (int(input_size[0]), int(input_size[1])) == (manifest.width, manifest.height):
        return model_path, manifest
    w, h = int(input_size[0]), int(input_size[1])
    stem, ext = os.path.splitext(model_path)
    for candidate in (sized_model_path(model_path, w, h), _SIZE_SUFFIX.sub('', stem) + ext):
        if candidate != model_path and os.path.isfile(candidate):
            other = load_manifest(candidate)
            if (other.width, other.height) == (w, h) and list(other.labels) == list(manifest.labels):
                return candidate, other
    return model_path, manifest


def _check(name, value):
    reason = params.validate(params.find_spec(params.DETECTOR_PARAMS, name), value)
    if reason:
        raise ValueError(reason)
    return value


class FaceDetector(object):
    """Runs an exported SSD model on RGB images.

    ``model_path``: .onnx / .engine / .pt (None or '' = :func:`default_model_path`); ``backend``:
    auto|onnxruntime|tensorrt|torch; ``score_threshold``, ``nms_iou``, ``max_detections``: None = the manifest's
    ``postprocess`` values; ``class_filter``: labels to report (None or [] = all); ``input_size``:
    ``(width, height)`` network input (None or zeros = the manifest's size): a fixed-size model switches to its
    sibling exported at that size (:func:`model_for_input_size`), a dynamic-size model runs at it;
    ``num_threads``: backend threads (0 = default); ``allow_spinning``: let ONNX Runtime's idle worker threads
    busy-wait (default False: CPU use follows the work; see the detector parameter of the same name). Raises
    ManifestError / BackendError / ValueError / FileNotFoundError with an actionable message when the model or a
    setting is unusable.
    """

    def __init__(self, model_path=None, backend='auto', score_threshold=None, nms_iou=None, max_detections=None,
                 class_filter=None, input_size=None, num_threads=0, allow_spinning=False):
        path = os.fspath(model_path) if model_path else default_model_path()
        self.model_path, self.manifest = model_for_input_size(path, load_manifest(path), input_size)
        self.input_size = self._resolve_input_size(input_size)
        _check('num_threads', int(num_threads))
        self.backend = create_backend(backend, self.model_path, self.manifest, num_threads=int(num_threads),
                                      input_size=self.input_size, allow_spinning=bool(allow_spinning))
        m = self.manifest
        self._settings = None
        self.set_thresholds(m.score_threshold if score_threshold is None else score_threshold,
                            m.nms_iou if nms_iou is None else nms_iou,
                            m.max_detections if max_detections is None else max_detections,
                            class_filter if class_filter is not None else [])

    @classmethod
    def from_params(cls, values):
        """A detector from detector-node parameter values ``{name: value}`` (``config.params.DETECTOR_PARAMS``:
        model_path, backend, score_threshold, nms_iou, max_detections, class_filter, input_width/height,
        num_threads, allow_spinning: False when absent), as the detector node builds it."""
        return cls(model_path=values['model_path'] or None, backend=values['backend'],
                   score_threshold=values['score_threshold'], nms_iou=values['nms_iou'],
                   max_detections=values['max_detections'], class_filter=values['class_filter'],
                   input_size=(values['input_width'], values['input_height']), num_threads=values['num_threads'],
                   allow_spinning=values.get('allow_spinning', False))

    def _resolve_input_size(self, input_size):
        """``(width, height)`` to run at; a size other than the manifest's only for dynamic-size models."""
        m = self.manifest
        if not input_size:
            return (m.width, m.height)
        if len(input_size) != 2:
            raise ValueError('input_size must be (width, height), got %r' % (input_size,))
        width = int(input_size[0]) or m.width
        height = int(input_size[1]) or m.height
        if width < 0 or height < 0:
            raise ValueError('input_size must be positive, got %r' % (input_size,))
        if (width, height) != (m.width, m.height) and not m.dynamic_size:
            raise ValueError('model %s has a fixed %dx%d input (manifest "dynamic_size": false) and no sibling %s, '
                             'so input size %dx%d is not possible; leave input_width/input_height at 0, or export '
                             'one: face-ssd-export CHECKPOINT.pt --input-size %dx%d --out %s'
                             % (self.model_path, m.width, m.height,
                                os.path.basename(sized_model_path(self.model_path, width, height)), width, height,
                                width, height, sized_model_path(self.model_path, width, height)))
        return (width, height)

    # ------------------------------------------------------------------ settings
    @property
    def labels(self):
        """Model labels (tuple of str), labels[0] == 'background'."""
        return self.manifest.labels

    @property
    def backend_name(self):
        return self.backend.name

    @property
    def score_threshold(self):
        return self._settings.score_threshold

    @property
    def nms_iou(self):
        return self._settings.nms_iou

    @property
    def max_detections(self):
        return self._settings.max_detections

    @property
    def class_filter(self):
        """Reported labels as a list ([] = all)."""
        return list(self._settings.class_filter)

    def set_thresholds(self, score_threshold=None, nms_iou=None, max_detections=None, class_filter=None):
        """Change post-processing settings at run time; None keeps a value, ``class_filter=[]`` means all classes.

        Everything is validated before anything changes (ValueError with the reason); the new settings apply
        atomically to the next :meth:`detect`.
        """
        cur = self._settings
        score = float(_check('score_threshold', score_threshold)) if score_threshold is not None \
            else cur.score_threshold
        iou = float(_check('nms_iou', nms_iou)) if nms_iou is not None else cur.nms_iou
        max_det = int(_check('max_detections', max_detections)) if max_detections is not None \
            else cur.max_detections
        if class_filter is None:
            filt, class_ids = cur.class_filter, cur.class_ids
        else:
            reason = params.validate_class_filter(class_filter, self.labels)
            if reason:
                raise ValueError(reason)
            filt = tuple(class_filter)
            class_ids = tuple(sorted(set(self.labels.index(v) for v in filt))) if filt else None
        self._settings = _Settings(score, iou, max_det, filt, class_ids)

    # ------------------------------------------------------------------ inference
    def detect(self, image_rgb, min_score=None):
        """Detect objects in one image.

        ``image_rgb``: np.uint8 ``[H, W, 3]`` RGB (see :func:`face_ssd_ros.msgs.image_codec.image_to_array`).
        ``min_score``: keep boxes scoring at least this instead of :attr:`score_threshold` (None = the threshold;
        the tracker asks for lower-scored boxes too, see :mod:`face_ssd_ros.detect.tracker`).
        Returns ``(detections, times)``: a list of :class:`face_ssd_ros.detect.detection.Detection` in pixels of this
        image (highest score first) and :class:`StageTimes`. Raises :class:`ModelOutputError` when the model
        output holds NaN/inf (skip the frame), ValueError for a malformed image.
        """
        settings = self._settings
        image = np.asarray(image_rgb)
        t0 = time.perf_counter()
        batch = preprocess(image, self.manifest, self.input_size)
        t1 = time.perf_counter()
        scores, boxes = self.backend.infer(batch)
        t2 = time.perf_counter()
        for name, values in (('scores', scores), ('boxes', boxes)):
            finite = np.isfinite(values)
            if not finite.all():
                raise ModelOutputError('model output "%s" has %d non-finite values (NaN/inf) of %d; frame skipped. '
                                       'If this keeps happening the model or engine is broken: re-export it (or '
                                       'rebuild the TensorRT engine, e.g. in fp32).'
                                       % (name, finite.size - int(finite.sum()), finite.size))
        detections = postprocess(scores[0], boxes[0], image.shape[1], image.shape[0], self.labels,
                                 settings.score_threshold if min_score is None else float(min_score),
                                 settings.nms_iou, settings.max_detections, settings.class_ids)
        t3 = time.perf_counter()
        return detections, StageTimes((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def warmup(self, runs=1):
        """Run the backend ``runs`` times on a blank input (first runs are slow: allocation, autotuning)."""
        width, height = self.input_size
        blank = np.zeros((height, width, 3), dtype=np.uint8)
        for _ in range(int(runs)):
            self.backend.infer(preprocess(blank, self.manifest, self.input_size))

    def close(self):
        """Release the backend."""
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return 'FaceDetector(model=%r, backend=%s, input=%dx%d, labels=%r)' % (
            self.model_path, self.backend_name, self.input_size[0], self.input_size[1], list(self.labels))

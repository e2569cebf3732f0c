"""Declarative ROS parameter specs of the nodes, and their validation (no rclpy here).

The nodes turn each :class:`ParamSpec` into an rcl ``ParameterDescriptor`` and validate every change with
:func:`validate`; the pipeline description validates its YAML with the same functions.
"""
import math
import numbers
from collections import namedtuple

PARAM_TYPES = ('bool', 'int', 'double', 'string', 'string_array')
QOS_CHOICES = ('best_effort', 'reliable')
IMAGE_TRANSPORTS = ('raw', 'compressed')

_ParamSpecBase = namedtuple('ParamSpec', ['name', 'default', 'description', 'type', 'min', 'max', 'choices',
                                          'read_only'])


class ParamSpec(_ParamSpecBase):
    """One node parameter: ``name``, ``default``, ``description``, ``type`` (one of :data:`PARAM_TYPES`),
    inclusive ``min``/``max`` for numbers (None = unbounded), ``choices`` (allowed values, or None),
    ``read_only`` (True = only settable at start-up; False = changeable at run time)."""

    __slots__ = ()

    def __new__(cls, name, default, description, type, min=None, max=None, choices=None, read_only=False):
        if type not in PARAM_TYPES:
            raise ValueError('ParamSpec %r: type must be one of %s, got %r' % (name, PARAM_TYPES, type))
        choices = tuple(choices) if choices is not None else None
        return super(ParamSpec, cls).__new__(cls, name, default, description, type, min, max, choices, read_only)

    @property
    def runtime_changeable(self):
        """True when the parameter may be changed while the node runs."""
        return not self.read_only


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _type_ok(spec, value):
    if spec.type == 'bool':
        return isinstance(value, bool)
    if spec.type == 'int':
        return _is_int(value)
    if spec.type == 'double':
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if spec.type == 'string':
        return isinstance(value, str)
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


_TYPE_WORDS = {'bool': 'a boolean', 'int': 'an integer', 'double': 'a number', 'string': 'a string',
               'string_array': 'a list of strings'}


def validate(spec, value):
    """Check ``value`` against ``spec`` (type, range, choices). Returns None if valid, else the reason (str)."""
    if not _type_ok(spec, value):
        reason = '%s must be %s, got %r (%s)' % (spec.name, _TYPE_WORDS[spec.type], value, type(value).__name__)
        if spec.type == 'string' and isinstance(value, (bool, numbers.Real)):
            # ROS reads NAME:=VALUE as YAML, so fppi:=0.5 arrives as a number
            text = str(value).lower() if isinstance(value, bool) else str(value)
            reason += '; quote it to pass it as text: %s:="\'%s\'"' % (spec.name, text)
        return reason
    if spec.type in ('int', 'double'):
        if spec.type == 'double' and not math.isfinite(value):
            return '%s must be a finite number, got %r' % (spec.name, value)
        low = spec.min if spec.min is not None else -math.inf
        high = spec.max if spec.max is not None else math.inf
        if not low <= value <= high:
            return '%s must be in [%s, %s], got %r' % (spec.name, spec.min, spec.max, value)
    if spec.choices is not None:
        values = value if spec.type == 'string_array' else [value]
        bad = [v for v in values if v not in spec.choices]
        if bad:
            return '%s must be one of %s, got %r' % (spec.name, ', '.join(str(c) for c in spec.choices),
                                                     bad[0] if spec.type == 'string_array' else value)
    return None


def validate_class_filter(class_filter, labels):
    """Check a class_filter value against the model's labels. Returns None if valid, else the reason.

    ``class_filter``: list of label strings ([] = all classes); ``labels``: the manifest labels (labels[0] is
    background, which cannot be selected).
    """
    if not isinstance(class_filter, (list, tuple)) or not all(isinstance(v, str) for v in class_filter):
        return 'class_filter must be a list of label strings, got %r' % (class_filter,)
    selectable = list(labels)[1:]
    unknown = [v for v in class_filter if v not in selectable]
    if unknown:
        return 'class_filter entries %s are not labels of this model; choose from %s (or [] for all)' % (
            unknown, selectable)
    return None


def find_spec(specs, name):
    """The spec called ``name`` in ``specs`` (a table below); raises KeyError listing the known names."""
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError('unknown parameter %r; known: %s' % (name, ', '.join(s.name for s in specs)))


def validate_named(specs, name, value):
    """Name-based variant of :func:`validate`: ``(ok, reason)`` with reason '' when ok (unknown name -> not ok)."""
    try:
        spec = find_spec(specs, name)
    except KeyError as exc:
        return False, exc.args[0]
    reason = validate(spec, value)
    return reason is None, reason or ''


def unknown_parameters_text(node_name, unknown, known):
    """One warning line for parameter overrides (``-p`` / params files) that no declared parameter of the node
    takes, so they have no effect: ``unknown`` and ``known`` are iterables of names; each unknown name gets the
    closest known one as a suggestion. '' when ``unknown`` is empty."""
    import difflib
    unknown = sorted(set(unknown))
    if not unknown:
        return ''
    known = sorted(set(known))
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        parts.append('%s (did you mean %s?)' % (name, close[0]) if close else name)
    return ('%s ignores parameter%s it does not have: %s. Its parameters: ros2 param list, or docs/PARAMETERS.md'
            % (node_name, 's' if len(unknown) > 1 else '', ', '.join(parts)))


def defaults(specs):
    """``{name: default}`` of a spec table."""
    return dict((s.name, s.default) for s in specs)


def _qos(node):
    return ParamSpec('qos_reliability', 'best_effort',
                     'QoS reliability of the image topics of the %s (best_effort = sensor-data style; a best_effort '
                     'subscriber also receives from reliable publishers, not the other way round)' % node,
                     'string', choices=QOS_CHOICES, read_only=True)


def _image_transport(node):
    return ParamSpec('image_transport', 'raw',
                     'How the %s receives images, as image_transport names it: raw = sensor_msgs/Image on '
                     'image_raw; compressed = sensor_msgs/CompressedImage (JPEG or PNG) on image_raw/compressed '
                     '(image_raw remapped first, then /compressed appended)' % node,
                     'string', choices=IMAGE_TRANSPORTS, read_only=True)


def _diagnostics_period():
    return ParamSpec('diagnostics_period', 1.0, 'Seconds between /diagnostics messages', 'double', min=0.1, max=60.0)


CAMERA_PARAMS = (
    ParamSpec('source', '0', 'Capture source: a device index ("0"), a device path (/dev/video0), a GStreamer '
              'pipeline, a video file, an image folder or a glob', 'string', read_only=True),
    ParamSpec('source_type', 'auto', 'How to open source (auto = guess from the string)', 'string',
              choices=('auto', 'v4l2', 'gstreamer', 'csi', 'video', 'images'), read_only=True),
    ParamSpec('csi_sensor_id', 0, 'Jetson CSI sensor id (source_type csi)', 'int', min=0, max=7, read_only=True),
    ParamSpec('width', 0, 'Requested capture width in pixels (0 = source default)', 'int', min=0, max=8192,
              read_only=True),
    ParamSpec('height', 0, 'Requested capture height in pixels (0 = source default)', 'int', min=0, max=8192,
              read_only=True),
    ParamSpec('fps', 0.0, 'Requested device frame rate in Hz (0 = device default)', 'double', min=0.0, max=240.0,
              read_only=True),
    ParamSpec('publish_rate', 0.0, 'Publish rate in Hz: 0 = the file\'s own fps / the device rate, -1 = as fast as '
              'possible, > 0 = fixed rate', 'double', min=-1.0, max=1000.0),
    ParamSpec('loop', False, 'Restart video files and image folders at the end', 'bool'),
    ParamSpec('frame_id', 'camera', 'frame_id written into every Image and CameraInfo header', 'string'),
    ParamSpec('encoding', 'rgb8', 'Encoding of the published images', 'string', choices=('rgb8', 'bgr8')),
    ParamSpec('camera_info_url', '', 'Calibration YAML path (camera_calibration format); "" = plain pinhole model '
              'from the image size', 'string', read_only=True),
    _qos('camera'),
    ParamSpec('reconnect_initial_delay', 0.5, 'First delay in s before reopening a lost device (doubles up to '
              'reconnect_max_delay)', 'double', min=0.05, max=60.0),
    ParamSpec('reconnect_max_delay', 10.0, 'Longest delay in s between reconnection attempts', 'double', min=0.1,
              max=600.0),
    ParamSpec('max_frames', 0, 'Stop after this many published frames (0 = unlimited)', 'int', min=0,
              max=1000000000),
    _diagnostics_period(),
)

DETECTOR_PARAMS = (
    ParamSpec('model_path', '', 'Model file (.onnx, .engine/.plan/.trt, .pt); "" = the shipped default model',
              'string', read_only=True),
    ParamSpec('backend', 'auto', 'Inference backend (auto = by model file extension)', 'string',
              choices=('auto', 'onnxruntime', 'tensorrt', 'torch'), read_only=True),
    ParamSpec('score_threshold', 0.6, 'Minimum class score of a reported detection', 'double', min=0.0, max=1.0),
    ParamSpec('nms_iou', 0.3, 'IoU above which a lower-scored box of the same class is suppressed', 'double',
              min=0.0, max=1.0),
    ParamSpec('max_detections', 200, 'Maximum detections per frame', 'int', min=1, max=10000),
    ParamSpec('class_filter', [], 'Labels to report ([] = all); every entry must be one of the model\'s labels',
              'string_array'),
    ParamSpec('input_width', 0, 'Network input width (0 = the model\'s). Another size runs the model\'s sibling '
              'exported at it (<stem>_<W>x<H>.onnx, e.g. the shipped face_default_640x480.onnx) or a dynamic-size '
              'model', 'int', min=0, max=4096, read_only=True),
    ParamSpec('input_height', 0, 'Network input height (0 = the model\'s); see input_width', 'int', min=0, max=4096,
              read_only=True),
    ParamSpec('num_threads', 0, 'ONNX Runtime intra-op threads (0 = auto: 1 while allow_spinning is false and the '
              'network input is at most 320x240, since waking sleeping workers costs more CPU than it saves there; '
              'otherwise ONNX Runtime\'s own pool, one pinned thread per core, which cuts the latency of larger '
              'inputs such as 640x480)', 'int', min=0, max=64,
              read_only=True),
    ParamSpec('allow_spinning', False, 'Let ONNX Runtime\'s worker threads spin (busy-wait) between runs: false = '
              'they sleep, so the detector\'s CPU use follows its work (17-18 % of a core at 30 Hz with the '
              'shipped model instead of all of one, docs/BENCHMARKS.md); true = up to ~1 ms lower latency per frame for a busy core',
              'bool', read_only=True),
    _image_transport('detector'),
    _qos('detector'),
    _diagnostics_period(),
    ParamSpec('tracking', True, 'Give each box a track id kept across frames (Detection2D.id; ByteTrack-style '
              'tracker); false = every box at or above score_threshold, with an empty id', 'bool'),
    ParamSpec('track_match_iou', 0.2, 'Minimum IoU between a track\'s predicted box and a box to continue the '
              'track (the match threshold)', 'double', min=0.01, max=1.0),
    ParamSpec('track_buffer', 30, 'Processed frames a lost track keeps its id, waiting for its face to reappear',
              'int', min=0, max=10000),
    ParamSpec('track_min_hits', 2, 'Consecutive frames with a box at or above score_threshold before a new track '
              'gets an id (its boxes are published with an empty id until then)', 'int', min=1, max=1000),
    ParamSpec('track_low_threshold', 0.2, 'Boxes scoring from this up to score_threshold may continue a tracked '
              'face (ByteTrack\'s second pass: a face whose score dips keeps its track and id, unpublished); they '
              'never start a track. >= score_threshold turns the second pass off', 'double', min=0.0, max=1.0),
    ParamSpec('managed', False, 'Run as a lifecycle (managed) node: the launch files and the runner then start '
              'lifecycle_detector_node instead of detector_node', 'bool', read_only=True),
    ParamSpec('autostart', True, 'Managed detector only: configure and activate at start-up by itself; false = '
              'stay unconfigured until a lifecycle manager (or ros2 lifecycle set) configures it', 'bool',
              read_only=True),
)

#: The tracker's parameters (runtime-changeable), as DETECTOR_PARAMS names.
TRACKING_PARAMS = ('tracking', 'track_match_iou', 'track_buffer', 'track_min_hits', 'track_low_threshold')

OVERLAY_PARAMS = (
    ParamSpec('cache_size', 30, 'Images / detection arrays kept while waiting for their partner (same stamp)',
              'int', min=1, max=1000),
    ParamSpec('draw_scores', True, 'Draw the score next to each label', 'bool'),
    ParamSpec('line_thickness', 2, 'Box line thickness in pixels', 'int', min=1, max=20),
    ParamSpec('publish_compressed', False, 'Also publish image_annotated/compressed (JPEG)', 'bool'),
    ParamSpec('jpeg_quality', 85, 'JPEG quality of image_annotated/compressed', 'int', min=1,
              max=100),
    ParamSpec('video_path', '', 'Write the annotated stream to this video file (mp4v); "" = no video', 'string',
              read_only=True),
    ParamSpec('video_fps', 0.0, 'Frame rate written into the video file (used when the file is opened); 0 = the '
              'source\'s rate, from the capture stamps of the first frames', 'double', min=0.0, max=240.0),
    _image_transport('overlay'),
    _qos('overlay'),
    ParamSpec('image_queue_depth', 10, 'Images the overlay\'s image subscription queues while the process is busy '
              '(e.g. the detector on a large frame, in one process), so a frame being detected is not replaced '
              'before it can be drawn; 1 = sensor-data style, newest only', 'int', min=1, max=100, read_only=True),
    _diagnostics_period(),
)

"""The model manifest: what the runtime must know about an exported model (see docs/ARCHITECTURE.md).

A model ``NAME.onnx`` ships with ``NAME.json``; the same JSON is embedded in the ONNX metadata under
``face_ssd_manifest``. TensorRT engines (``.engine/.plan/.trt``) carry it only beside them: in the engine sidecar
``NAME.engine.json`` written by face-ssd-build-engine (see :mod:`face_ssd_ros.detect.engine_cache`, manifest under
``"manifest"``), or in a plain ``NAME.json``. Training checkpoints (``.pt/.pth``) hold it under their
``"manifest"`` key. :func:`load_manifest` finds it, :class:`ModelManifest` validates it.
"""
import copy
import json
import math
import numbers
import os

MANIFEST_FORMAT = 'face_ssd.model'
MANIFEST_VERSION = 1
METADATA_KEY = 'face_ssd_manifest'
ONNX_EXTENSIONS = ('.onnx',)
ENGINE_EXTENSIONS = ('.engine', '.plan', '.trt')
CHECKPOINT_EXTENSIONS = ('.pt', '.pth')

_REEXPORT_HINT = 're-export the model with face-ssd-export, which writes a valid manifest'


class ManifestError(ValueError):
    """The manifest is missing, unreadable or inconsistent; the message names the file and what to do."""


def sidecar_path(model_path):
    """``/dir/NAME.onnx`` -> ``/dir/NAME.json`` (the manifest sidecar of any model file)."""
    return os.path.splitext(model_path)[0] + '.json'


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class _Checker(object):
    """Collects readable complaints about one manifest dict; ``source`` names the file in messages."""

    def __init__(self, source):
        self.source = source
        self.problems = []

    def fail(self, text):
        self.problems.append(text)

    def section(self, data, key, required=True):
        """Return ``data[key]`` if it is a dict, else record a problem and return ``{}``."""
        if key not in data:
            if required:
                self.fail('missing section "%s"' % key)
            return {}
        value = data[key]
        if not isinstance(value, dict):
            self.fail('"%s" must be an object, got %r' % (key, value))
            return {}
        return value

    def get(self, data, key, where, kind, default=None, required=True, choices=None, positive=False):
        """Fetch and type-check one field; ``kind`` in {'int', 'number', 'str', 'bool'}."""
        name = '%s.%s' % (where, key) if where else key
        if key not in data:
            if required:
                self.fail('missing field "%s"' % name)
            return default
        value = data[key]
        ok = {'int': _is_int, 'number': _is_number, 'str': lambda v: isinstance(v, str) and v != '',
              'bool': lambda v: isinstance(v, bool)}[kind](value)
        if not ok:
            self.fail('"%s" must be a %s, got %r' % (name, {'int': 'integer', 'number': 'finite number',
                                                           'str': 'non-empty string', 'bool': 'boolean'}[kind],
                                                     value))
            return default
        if choices is not None and value not in choices:
            self.fail('"%s" must be one of %s, got %r' % (name, list(choices), value))
            return default
        if positive and value <= 0:
            self.fail('"%s" must be > 0, got %r' % (name, value))
            return default
        return value

    def triple(self, data, key, where, positive=False):
        name = '%s.%s' % (where, key)
        value = data.get(key)
        if (not isinstance(value, (list, tuple)) or len(value) != 3
                or not all(_is_number(v) for v in value)):
            self.fail('"%s" must be a list of 3 finite numbers (one per channel, 0-255 pixel units), got %r'
                      % (name, value))
            return (0.0, 0.0, 1.0) if positive else (0.0, 0.0, 0.0)
        if positive and any(v <= 0 for v in value):
            self.fail('"%s" must be > 0 in every channel, got %r' % (name, value))
            return (1.0, 1.0, 1.0)
        return tuple(float(v) for v in value)

    def raise_if_any(self):
        if self.problems:
            raise ManifestError('invalid model manifest in %s:\n  - %s\nFix the manifest or %s.'
                                % (self.source, '\n  - '.join(self.problems), _REEXPORT_HINT))


def _check_priors(chk, priors):
    """Structural checks of the optional prior-box spec (the runtime does not need it; the exporter writes it)."""
    strides = priors.get('strides')
    if strides is not None and (not isinstance(strides, list) or not strides
                                or not all(_is_int(s) and s > 0 for s in strides)):
        chk.fail('"priors.strides" must be a non-empty list of positive integers, got %r' % (strides,))
        strides = None
    for key in ('min_sizes', 'aspect_ratios'):
        value = priors.get(key)
        if value is None:
            continue
        if (not isinstance(value, list) or not all(isinstance(v, list) and all(_is_number(x) and x > 0 for x in v)
                                                   for v in value)):
            chk.fail('"priors.%s" must be a list of lists of positive numbers, got %r' % (key, value))
        elif strides is not None and len(value) != len(strides):
            chk.fail('"priors.%s" has %d entries but "priors.strides" has %d' % (key, len(value), len(strides)))
    variances = priors.get('variances')
    if variances is not None and (not isinstance(variances, list) or len(variances) != 2
                                  or not all(_is_number(v) and v > 0 for v in variances)):
        chk.fail('"priors.variances" must be 2 positive numbers, got %r' % (variances,))
    if 'clip' in priors and not isinstance(priors['clip'], bool):
        chk.fail('"priors.clip" must be a boolean, got %r' % (priors['clip'],))


class ModelManifest(object):
    """A validated manifest. Build with :meth:`from_dict`; the original dict is kept in :attr:`raw`.

    Attributes: ``name, arch`` (str); ``input_name`` (str); ``width, height`` (int, network input size);
    ``layout`` ('NCHW'); ``dtype`` ('float32'); ``channel_order`` ('RGB'|'BGR'); ``mean, std`` (3-tuples of
    float, pixel units, in channel_order); ``resize`` ('stretch'); ``dynamic_size`` (bool); ``labels`` (tuple of
    str, labels[0] == 'background'); ``num_classes`` (= len(labels)); ``num_priors`` (int N at width x height);
    ``scores_name, boxes_name`` (graph output names); ``priors`` (dict, may be empty); ``score_threshold,
    nms_iou`` (float), ``max_detections`` (int): recommended post-processing defaults.
    """

    def __init__(self, raw, source='<manifest>'):
        """Validate ``raw`` (the manifest dict) and fill the attributes; raises :class:`ManifestError`."""
        self.source = source
        self.raw = copy.deepcopy(raw)
        self._parse(self.raw)

    @classmethod
    def from_dict(cls, data, source='<manifest>'):
        """Same as the constructor; ``source`` (a path or description) appears in error messages."""
        return cls(data, source)

    def _parse(self, d):
        chk = _Checker(self.source)
        if not isinstance(d, dict):
            chk.fail('the manifest must be a JSON object, got %s' % type(d).__name__)
            chk.raise_if_any()
        fmt = d.get('format')
        if fmt != MANIFEST_FORMAT:
            chk.fail('"format" must be "%s", got %r' % (MANIFEST_FORMAT, fmt))
        version = d.get('format_version')
        if not _is_int(version):
            chk.fail('"format_version" must be an integer, got %r' % (version,))
        elif version > MANIFEST_VERSION:
            chk.fail('"format_version" %d is newer than this runtime understands (%d): update face_ssd_ros'
                     % (version, MANIFEST_VERSION))
        elif version < 1:
            chk.fail('"format_version" must be >= 1, got %d' % version)
        self.name = d.get('name') if isinstance(d.get('name'), str) else ''
        self.arch = d.get('arch') if isinstance(d.get('arch'), str) else ''

        inp = chk.section(d, 'input')
        self.input_name = chk.get(inp, 'name', 'input', 'str', 'input')
        self.width = chk.get(inp, 'width', 'input', 'int', 1, positive=True)
        self.height = chk.get(inp, 'height', 'input', 'int', 1, positive=True)
        self.layout = chk.get(inp, 'layout', 'input', 'str', 'NCHW', choices=('NCHW',))
        self.dtype = chk.get(inp, 'dtype', 'input', 'str', 'float32', choices=('float32',))
        self.channel_order = chk.get(inp, 'channel_order', 'input', 'str', 'RGB', choices=('RGB', 'BGR'))
        self.mean = chk.triple(inp, 'mean', 'input')
        self.std = chk.triple(inp, 'std', 'input', positive=True)
        self.resize = chk.get(inp, 'resize', 'input', 'str', 'stretch', required=False, choices=('stretch',))
        self.dynamic_size = chk.get(inp, 'dynamic_size', 'input', 'bool', False, required=False)

        labels = d.get('labels')
        if (not isinstance(labels, list) or len(labels) < 2
                or not all(isinstance(x, str) and x for x in labels)):
            chk.fail('"labels" must be a list of at least 2 non-empty strings ("background" first), got %r'
                     % (labels,))
            labels = ['background', 'object']
        elif labels[0] != 'background':
            chk.fail('"labels"[0] must be "background" (score column 0), got %r' % (labels[0],))
        elif len(set(labels)) != len(labels):
            chk.fail('"labels" must be unique, got %r' % (labels,))
        self.labels = tuple(labels)
        self.num_classes = len(self.labels)
        self.num_priors = chk.get(d, 'num_priors', '', 'int', 1, positive=True)

        outputs = chk.section(d, 'outputs')
        scores = chk.section(outputs, 'scores') if outputs else {}
        boxes = chk.section(outputs, 'boxes') if outputs else {}
        self.scores_name = chk.get(scores, 'name', 'outputs.scores', 'str', 'scores', required=bool(outputs))
        self.boxes_name = chk.get(boxes, 'name', 'outputs.boxes', 'str', 'boxes', required=bool(outputs))
        chk.get(scores, 'activation', 'outputs.scores', 'str', required=False, choices=('softmax',))
        chk.get(boxes, 'format', 'outputs.boxes', 'str', required=False, choices=('xyxy_normalized',))
        if self.scores_name == self.boxes_name and outputs:
            chk.fail('"outputs.scores.name" and "outputs.boxes.name" must differ, both are %r' % self.scores_name)

        self.priors = chk.section(d, 'priors', required=False)
        _check_priors(chk, self.priors)

        post = chk.section(d, 'postprocess')
        self.score_threshold = chk.get(post, 'score_threshold', 'postprocess', 'number', 0.5)
        self.nms_iou = chk.get(post, 'nms_iou', 'postprocess', 'number', 0.45)
        self.max_detections = chk.get(post, 'max_detections', 'postprocess', 'int', 200, positive=True)
        for key in ('score_threshold', 'nms_iou'):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                chk.fail('"postprocess.%s" must be in [0, 1], got %r' % (key, value))
        chk.raise_if_any()
        self.score_threshold = float(self.score_threshold)
        self.nms_iou = float(self.nms_iou)

    # ------------------------------------------------------------------ helpers
    @property
    def input_size(self):
        """``(width, height)`` of the network input."""
        return (self.width, self.height)

    def to_dict(self):
        """A deep copy of the manifest dict (JSON-serialisable)."""
        return copy.deepcopy(self.raw)

    def to_json(self, indent=2):
        """The manifest as JSON text (what the exporter writes to the sidecar and the ONNX metadata)."""
        return json.dumps(self.raw, indent=indent, sort_keys=False)

    def validate(self):
        """Re-run the validation on :attr:`raw` (e.g. after editing it); raises :class:`ManifestError`."""
        self._parse(self.raw)

    def check_outputs(self, scores_shape, boxes_shape, expect_num_priors=True):
        """Refuse model outputs that disagree with the manifest.

        ``scores_shape`` must be ``[1, N, C]`` and ``boxes_shape`` ``[1, N, 4]``; entries may be ``None`` (or a
        str, i.e. a symbolic ONNX dim) where unknown. ``C`` must equal ``len(labels)``; ``N`` must equal
        ``num_priors`` when ``expect_num_priors`` (pass False for a dynamic-size model run at another size).
        Raises :class:`ManifestError` naming the mismatch.
        """
        def known(v):
            return _is_int(v)

        problems = []
        scores_shape, boxes_shape = list(scores_shape), list(boxes_shape)
        if len(scores_shape) != 3:
            problems.append('output "%s" must have 3 dims [1, N, C], got %s' % (self.scores_name, scores_shape))
        if len(boxes_shape) != 3:
            problems.append('output "%s" must have 3 dims [1, N, 4], got %s' % (self.boxes_name, boxes_shape))
        if not problems:
            for shape, name in ((scores_shape, self.scores_name), (boxes_shape, self.boxes_name)):
                if known(shape[0]) and shape[0] != 1:
                    problems.append('output "%s" has batch %d, expected 1' % (name, shape[0]))
            if known(boxes_shape[2]) and boxes_shape[2] != 4:
                problems.append('output "%s" has %d coordinates per box, expected 4 (x1, y1, x2, y2)'
                                % (self.boxes_name, boxes_shape[2]))
            if known(scores_shape[2]) and scores_shape[2] != self.num_classes:
                problems.append('output "%s" has %d classes but the manifest lists %d labels %s'
                                % (self.scores_name, scores_shape[2], self.num_classes, list(self.labels)))
            for shape, name in ((scores_shape, self.scores_name), (boxes_shape, self.boxes_name)):
                if expect_num_priors and known(shape[1]) and shape[1] != self.num_priors:
                    problems.append('output "%s" has %d priors but the manifest says num_priors=%d'
                                    % (name, shape[1], self.num_priors))
            if known(scores_shape[1]) and known(boxes_shape[1]) and scores_shape[1] != boxes_shape[1]:
                problems.append('outputs "%s" and "%s" disagree on the number of priors (%d vs %d)'
                                % (self.scores_name, self.boxes_name, scores_shape[1], boxes_shape[1]))
        if problems:
            raise ManifestError('model does not match its manifest %s:\n  - %s\nUse the manifest written with '
                                'this model (or %s).' % (self.source, '\n  - '.join(problems), _REEXPORT_HINT))

    def __repr__(self):
        return 'ModelManifest(name=%r, input=%dx%d %s, labels=%r, num_priors=%d)' % (
            self.name, self.width, self.height, self.channel_order, list(self.labels), self.num_priors)


# ---------------------------------------------------------------------- loading
def _read_json_file(path):
    try:
        with open(path, 'r') as f:
            return json.load(f)
    except ValueError as exc:
        raise ManifestError('manifest %s is not valid JSON (%s); fix it or %s.' % (path, exc, _REEXPORT_HINT))
    except OSError as exc:
        raise ManifestError('cannot read manifest %s: %s' % (path, exc.strerror or exc))


def load_manifest_file(path):
    """The manifest in the JSON file ``path`` (a sidecar, or an object holding it under "manifest"); raises
    :class:`ManifestError`."""
    return ModelManifest(_unwrap_sidecar(_read_json_file(path)), source=path)


def _unwrap_sidecar(data):
    """A sidecar is the manifest itself, or an object holding it under "manifest" (e.g. an engine sidecar)."""
    if isinstance(data, dict) and data.get('format') != MANIFEST_FORMAT and isinstance(data.get('manifest'), dict):
        return data['manifest']
    return data


def _engine_sidecar_manifest(engine_path):
    """The manifest inside the engine sidecar ``<engine>.json`` (format checked by face_ssd_ros.detect.engine_cache)."""
    from face_ssd_ros.detect.engine_cache import EngineMismatch, sidecar_manifest
    try:
        return ModelManifest(sidecar_manifest(engine_path), source=engine_path + '.json ("manifest" entry)')
    except EngineMismatch as exc:
        raise ManifestError(str(exc))


def _onnx_metadata_json(model_path):
    """The embedded manifest text of an ONNX file, or None; reads with `onnx` if installed, else ONNX Runtime."""
    try:
        import onnx  # noqa: F401  (optional: absent on a Jetson)
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            model = onnx.load(model_path, load_external_data=False)
        except Exception as exc:  # DecodeError and friends: a truncated or non-ONNX file
            raise ManifestError('cannot parse ONNX file %s (%s: %s); is it complete? Re-export it with '
                                'face-ssd-export.' % (model_path, type(exc).__name__, exc))
        for prop in model.metadata_props:
            if prop.key == METADATA_KEY:
                return prop.value
        return None
    try:
        import onnxruntime
    except ImportError:
        raise ManifestError('reading the manifest embedded in %s needs `onnx` or `onnxruntime` '
                            '(pip install onnxruntime), or put the manifest beside it as %s.'
                            % (model_path, sidecar_path(model_path)))
    try:
        session = onnxruntime.InferenceSession(model_path, providers=['CPUExecutionProvider'])
    except Exception as exc:
        raise ManifestError('cannot load ONNX file %s (%s); is it complete? Re-export it with face-ssd-export.'
                            % (model_path, exc))
    return session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)


def _checkpoint_manifest(model_path):
    try:
        import torch
    except ImportError:
        raise ManifestError('reading the manifest of checkpoint %s needs PyTorch (pip install torch); on a robot, '
                            'export the checkpoint to ONNX with face-ssd-export instead.' % model_path)
    try:
        checkpoint = torch.load(model_path, map_location='cpu', weights_only=True)
    except Exception as exc:
        raise ManifestError('cannot load checkpoint %s with torch.load(weights_only=True) (%s); is it a face_ssd '
                            'training checkpoint?' % (model_path, exc))
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get('manifest'), dict):
        raise ManifestError('checkpoint %s has no "manifest" dict; it was not written by face_ssd training '
                            '(see docs/ARCHITECTURE.md, Checkpoints).' % model_path)
    return checkpoint['manifest']


def load_manifest(model_path):
    """Find, parse and validate the manifest of ``model_path`` (.onnx, .engine/.plan/.trt or .pt/.pth).

    Order: for engines the engine sidecar ``<engine>.json``; then the sidecar ``<model without extension>.json``;
    else the ONNX metadata key ``face_ssd_manifest`` (.onnx) or the checkpoint's ``"manifest"`` entry (.pt/.pth).
    Returns a :class:`ModelManifest`; raises :class:`ManifestError` saying what is wrong and what to do.
    """
    model_path = os.fspath(model_path)
    if not os.path.isfile(model_path):
        raise ManifestError('model file not found: %s; check the path (model_path parameter / --model), or leave it '
                            'empty to use the shipped default model.' % model_path)
    ext = os.path.splitext(model_path)[1].lower()
    if ext in ENGINE_EXTENSIONS and os.path.isfile(model_path + '.json'):
        return _engine_sidecar_manifest(model_path)
    sidecar = sidecar_path(model_path)
    if os.path.isfile(sidecar) and os.path.abspath(sidecar) != os.path.abspath(model_path):
        return load_manifest_file(sidecar)
    if ext in ONNX_EXTENSIONS:
        text = _onnx_metadata_json(model_path)
        if text is None:
            raise ManifestError('no manifest for %s: neither the sidecar %s nor the ONNX metadata key "%s" exists; '
                                '%s (it embeds the manifest and writes the sidecar).'
                                % (model_path, sidecar, METADATA_KEY, _REEXPORT_HINT))
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError('the manifest embedded in %s (metadata "%s") is not valid JSON (%s); %s.'
                                % (model_path, METADATA_KEY, exc, _REEXPORT_HINT))
        return ModelManifest(data, source='%s (embedded metadata "%s")' % (model_path, METADATA_KEY))
    if ext in ENGINE_EXTENSIONS:
        raise ManifestError('no manifest for TensorRT engine %s: engines carry none, and neither the engine sidecar '
                            '%s nor %s exists; build the engine with face-ssd-build-engine (writes the sidecar) or '
                            'copy the .json of the ONNX model it was built from to %s.'
                            % (model_path, model_path + '.json', sidecar, sidecar))
    if ext in CHECKPOINT_EXTENSIONS:
        return ModelManifest(_checkpoint_manifest(model_path), source='%s ("manifest" entry)' % model_path)
    raise ManifestError('unsupported model file type %r (%s); expected .onnx, .engine/.plan/.trt or .pt/.pth.'
                        % (ext or '(no extension)', model_path))

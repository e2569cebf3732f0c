"""TensorRT engine cache: cache keys, the engine sidecar JSON, validity checks and the find-or-build policy.

A TensorRT engine is only valid for the exact model, precision, TensorRT version and GPU it was built for, and
TensorRT itself only notices some of those mismatches (often with an obscure "magic tag" error, sometimes not at all).
So every engine ``X.engine`` gets a sidecar ``X.engine.json`` written by the builder::

    {"format": "face_ssd.engine", "format_version": 1,
     "key": "<sha16>_fp16_trt8.2.1.8_nvidia-tegra-x1_320x240",
     "model_sha256": "<64 hex>", "precision": "fp16", "tensorrt_version": "8.2.1.8",
     "gpu_name": "NVIDIA Tegra X1", "input_shape": [1, 3, 240, 320] | null, "profile": {...} | null,
     "engine_size": 1234567, "engine_sha256": "<64 hex>", "source_model": "/models/face.onnx",
     "build_command": "face-ssd-build-engine ...", "created": "2024-01-01T00:00:00Z",
     "manifest": {... the model manifest (ARCHITECTURE.md), so the runtime needs no .onnx beside the engine ...}}

``check_engine`` compares an engine and its sidecar with what the running machine expects and raises
``EngineMismatch`` (with an actionable message) instead of letting a stale, foreign or truncated engine load.
``find_or_build`` is the cache policy: reuse a valid cached engine, rebuild when allowed, refuse otherwise.

This module never imports tensorrt (the builder and the backend pass the version and GPU name in), so it is
unit-testable anywhere. Python 3.6 compatible.
"""
import collections
import datetime
import hashlib
import json
import os
import re

SIDECAR_FORMAT = 'face_ssd.engine'
SIDECAR_FORMAT_VERSION = 1
PRECISIONS = ('fp32', 'fp16', 'int8')
ENGINE_SUFFIXES = ('.engine', '.plan', '.trt')
BUILD_TOOL = 'face-ssd-build-engine'

# reason codes carried by EngineMismatch.reason
MISSING_ENGINE = 'missing_engine'
MISSING_SIDECAR = 'missing_sidecar'
BAD_SIDECAR = 'bad_sidecar'
CORRUPT_ENGINE = 'corrupt_engine'
STALE_MODEL = 'stale_model'
PRECISION = 'precision'
TENSORRT_VERSION = 'tensorrt_version'
GPU = 'gpu'
SHAPE = 'shape'

# Leading bytes of files that are certainly not a serialized TensorRT engine (what people mistake for one).
_FOREIGN_SIGNATURES = (
    (b'version https://git-lfs', 'a Git LFS pointer (run `git lfs pull`)'),
    (b'PK\x03\x04', 'a zip archive (a PyTorch checkpoint?)'),
    (b'{', 'a JSON document'),
    (b'\x89HDF', 'an HDF5 file'),
)

EngineLookup = collections.namedtuple('EngineLookup', 'path key built reason')
EngineLookup.__doc__ = """Result of find_or_build: engine path, cache key, whether it was (re)built now, and why."""


class EngineMismatch(RuntimeError):
    """The engine at ``path`` must not be used; ``reason`` is one of the reason codes of this module."""

    def __init__(self, reason, message, path=None):
        RuntimeError.__init__(self, message)
        self.reason = reason
        self.path = path


def file_sha256(path, chunk_size=1 << 20):
    """Hex sha256 of a file's bytes (streamed, so large engines cost no memory)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            block = f.read(chunk_size)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def sanitize(text):
    """Lower-case ``text`` with every run of characters outside ``[a-z0-9.]`` turned into one ``-``.

    ``'NVIDIA GeForce RTX 3090'`` -> ``'nvidia-geforce-rtx-3090'``; used for GPU names in keys and file names.
    """
    cleaned = re.sub(r'[^a-z0-9.]+', '-', str(text).strip().lower()).strip('-.')
    if not cleaned:
        raise ValueError('cannot build a cache key component from %r' % (text,))
    return cleaned


def _wh(value):
    """``(w, h)`` from ``(w, h)``, ``[w, h]`` or ``'WxH'``."""
    if isinstance(value, str):
        return parse_wh(value)
    w, h = value
    return int(w), int(h)


def parse_wh(text):
    """``'640x480'`` -> ``(640, 480)``; raises ValueError with the expected format otherwise."""
    match = re.match(r'^\s*(\d+)\s*[xX]\s*(\d+)\s*$', str(text))
    if not match or int(match.group(1)) <= 0 or int(match.group(2)) <= 0:
        raise ValueError('expected a size as WIDTHxHEIGHT (e.g. 320x240), got %r' % (text,))
    return int(match.group(1)), int(match.group(2))


def shape_tag(input_size=None, profile=None):
    """Key component for the input shape.

    ``input_size`` = ``(w, h)`` of a fixed-shape build -> ``'320x240'``; ``profile`` = ``{'min': (w, h), 'opt': (w, h),
    'max': (w, h)}`` of a dynamic build -> ``'dyn160x120-320x240-640x480'``; neither -> ``None``.
    """
    if profile is not None:
        sizes = [_wh(profile[k]) for k in ('min', 'opt', 'max')]
        return 'dyn' + '-'.join('%dx%d' % s for s in sizes)
    if input_size is not None:
        return '%dx%d' % _wh(input_size)
    return None


def _check_precision(precision):
    if precision not in PRECISIONS:
        raise ValueError('precision must be one of %s, got %r' % ('|'.join(PRECISIONS), precision))


def engine_key(model_sha256, precision, trt_version, gpu_name, input_size=None, profile=None):
    """Cache key of an engine: ``<sha256[:16]>_<precision>_trt<version>_<gpu>[_<shape>]``.

    Every field that makes an engine unusable when it changes is in the key, so two different builds never share
    a cache file. Deterministic; ``input_size``/``profile`` as in ``shape_tag``.
    """
    sha = str(model_sha256).lower()
    if not re.match(r'^[0-9a-f]{16,64}$', sha):
        raise ValueError('model_sha256 must be a hex sha256 digest, got %r' % (model_sha256,))
    _check_precision(precision)
    parts = [sha[:16], precision, 'trt' + sanitize(trt_version), sanitize(gpu_name)]
    tag = shape_tag(input_size, profile)
    if tag:
        parts.append(tag)
    return '_'.join(parts)


CACHE_DIR_ENV = 'FACE_SSD_ENGINE_CACHE'


def default_cache_dir(model_path):
    """Engine cache of a model: ``$FACE_SSD_ENGINE_CACHE`` if set (the Docker images use /models/engines), else
    ``<model dir>/engines``. The builder and the TensorRT backend both use this, so they always agree."""
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(os.path.dirname(os.path.abspath(model_path)), 'engines')


def cache_path(cache_dir, key):
    """Engine file of ``key`` inside ``cache_dir``: ``<cache_dir>/<key>.engine``."""
    if not key or os.sep in key or (os.altsep and os.altsep in key):
        raise ValueError('invalid engine cache key %r' % (key,))
    return os.path.join(cache_dir, key + '.engine')


def sidecar_path(engine_path):
    """Sidecar JSON of an engine: ``<engine_path>.json`` (never collides with the ONNX manifest ``NAME.json``)."""
    return engine_path + '.json'


def is_engine_path(path):
    """True when ``path`` has an engine suffix (.engine, .plan, .trt)."""
    return os.path.splitext(str(path))[1].lower() in ENGINE_SUFFIXES


def build_command(model_path, precision, output=None, cache_dir=None):
    """The ``face-ssd-build-engine`` command line that (re)builds an engine, for error messages and the sidecar."""
    cmd = [BUILD_TOOL, model_path or 'MODEL.onnx', '--precision', precision or 'fp16']
    if output:
        cmd += ['--output', output]
    elif cache_dir:
        cmd += ['--cache-dir', cache_dir]
    return ' '.join(_quote(c) for c in cmd)


def _quote(arg):
    arg = str(arg)
    if re.match(r'^[A-Za-z0-9_./:=+-]+$', arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def make_sidecar(engine_path, model_path, manifest, precision, trt_version, gpu_name,
                 input_shape=None, profile=None, model_sha256=None, command=None, extra=None):
    """Sidecar dict for an engine file that exists on disk.

    ``manifest``: the model manifest as a dict; ``input_shape``: the fixed NCHW input shape of the engine (None for a
    dynamic build, whose ``profile`` is ``{'min'|'opt'|'max': (w, h)}``); ``extra``: more fields (e.g. builder
    options), stored under ``"build"``.
    """
    _check_precision(precision)
    if not isinstance(manifest, dict):
        raise TypeError('manifest must be a dict (the manifest JSON), got %s' % type(manifest).__name__)
    sha = model_sha256 or file_sha256(model_path)
    input_size = (input_shape[3], input_shape[2]) if input_shape is not None and profile is None else None
    return {
        'format': SIDECAR_FORMAT,
        'format_version': SIDECAR_FORMAT_VERSION,
        'key': engine_key(sha, precision, trt_version, gpu_name, input_size, profile),
        'model_sha256': sha,
        'precision': precision,
        'tensorrt_version': str(trt_version),
        'gpu_name': str(gpu_name),
        'input_shape': [int(d) for d in input_shape] if input_shape is not None else None,
        'profile': ({k: list(_wh(profile[k])) for k in ('min', 'opt', 'max')} if profile is not None else None),
        'engine_size': os.path.getsize(engine_path),
        'engine_sha256': file_sha256(engine_path),
        'source_model': os.path.abspath(model_path) if model_path else None,
        'build_command': command or build_command(model_path, precision, output=engine_path),
        'created': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'build': dict(extra or {}),
        'manifest': manifest,
    }


def atomic_write(path, data):
    """Write bytes to ``path`` through a temporary file + rename, so readers never see a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    tmp = '%s.tmp-%d' % (path, os.getpid())
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_engine(engine_path, engine_bytes):
    """Store serialized engine bytes atomically, removing a stale sidecar first (it no longer describes the file)."""
    if not engine_bytes:
        raise ValueError('refusing to write an empty engine to %s' % engine_path)
    side = sidecar_path(engine_path)
    if os.path.exists(side):
        os.remove(side)
    atomic_write(engine_path, bytes(engine_bytes))


def write_sidecar(engine_path, info):
    """Write the sidecar dict of ``engine_path`` (atomically); returns the sidecar path."""
    path = sidecar_path(engine_path)
    atomic_write(path, (json.dumps(info, indent=2, sort_keys=True) + '\n').encode('utf-8'))
    return path


def read_sidecar(engine_path):
    """The sidecar dict of ``engine_path``; raises EngineMismatch (MISSING_SIDECAR / BAD_SIDECAR)."""
    path = sidecar_path(engine_path)
    if not os.path.isfile(path):
        raise EngineMismatch(
            MISSING_SIDECAR,
            'TensorRT engine %s has no sidecar %s, so it cannot be checked against the model, TensorRT version and '
            'GPU (an engine copied without its .json, or built by trtexec?). Rebuild it with `%s`, which writes both.'
            % (engine_path, path, build_command(None, 'fp16', output=engine_path)), engine_path)
    try:
        with open(path, 'rb') as f:
            info = json.loads(f.read().decode('utf-8'))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EngineMismatch(BAD_SIDECAR, 'engine sidecar %s is not valid JSON (%s); delete the engine and its '
                             'sidecar and rebuild with `%s`.' % (path, exc, BUILD_TOOL), engine_path)
    if not isinstance(info, dict) or info.get('format') != SIDECAR_FORMAT:
        raise EngineMismatch(BAD_SIDECAR, '%s is not a face_ssd engine sidecar (expected "format": "%s"); rebuild the '
                             'engine with `%s`.' % (path, SIDECAR_FORMAT, BUILD_TOOL), engine_path)
    if info.get('format_version') != SIDECAR_FORMAT_VERSION:
        raise EngineMismatch(BAD_SIDECAR, 'engine sidecar %s has format_version %r; this face_ssd_ros reads version '
                             '%d. Rebuild the engine with this version of `%s`.'
                             % (path, info.get('format_version'), SIDECAR_FORMAT_VERSION, BUILD_TOOL), engine_path)
    missing = [k for k in ('model_sha256', 'precision', 'tensorrt_version', 'gpu_name', 'engine_size',
                           'engine_sha256', 'manifest') if k not in info]
    if missing:
        raise EngineMismatch(BAD_SIDECAR, 'engine sidecar %s lacks %s; rebuild the engine with `%s`.'
                             % (path, ', '.join(missing), BUILD_TOOL), engine_path)
    return info


def sidecar_manifest(engine_path):
    """The model manifest dict stored in the sidecar of ``engine_path`` (for the runtime's manifest loader)."""
    return read_sidecar(engine_path)['manifest']


def _rebuild_hint(info, engine_path):
    precision = info.get('precision') or 'fp16'
    command = build_command(info.get('source_model'), precision, output=engine_path)
    return 'Rebuild on this machine with `%s`.' % command


def _check_engine_bytes(engine_path, info):
    """Corrupt / truncated / foreign-file checks of the engine file against its sidecar."""
    size = os.path.getsize(engine_path)
    if size == 0:
        raise EngineMismatch(CORRUPT_ENGINE, 'TensorRT engine %s is empty (0 bytes; an interrupted build or copy?). '
                             'Delete it and rebuild with `%s`.' % (engine_path, BUILD_TOOL), engine_path)
    with open(engine_path, 'rb') as f:
        head = f.read(64)
    for signature, what in _FOREIGN_SIGNATURES:
        if head.startswith(signature):
            raise EngineMismatch(CORRUPT_ENGINE, '%s is not a TensorRT engine: it is %s. Build an engine from the '
                                 'ONNX model with `%s`.' % (engine_path, what, BUILD_TOOL), engine_path)
    if info is None:
        return
    expected_size = info.get('engine_size')
    if expected_size is not None and size != int(expected_size):
        raise EngineMismatch(CORRUPT_ENGINE, 'TensorRT engine %s is %d bytes but was written as %d bytes (%s). Delete '
                             'it and rebuild: %s' % (engine_path, size, int(expected_size),
                                                     'truncated copy?' if size < int(expected_size) else 'overwritten?',
                                                     _rebuild_hint(info, engine_path)), engine_path)
    if info.get('engine_sha256') and file_sha256(engine_path) != info['engine_sha256']:
        raise EngineMismatch(CORRUPT_ENGINE, 'TensorRT engine %s does not match the sha256 recorded in its sidecar '
                             '(corrupted, or replaced without updating %s). %s'
                             % (engine_path, sidecar_path(engine_path), _rebuild_hint(info, engine_path)), engine_path)


def check_engine(engine_path, expected):
    """Raise EngineMismatch unless ``engine_path`` is a sound engine built for what ``expected`` describes.

    ``expected`` (dict; a key that is absent or None is not checked):
      ``model_sha256``: sha256 of the model the engine must come from (``model_path`` may be given instead),
      ``precision``: 'fp32'|'fp16'|'int8', ``tensorrt_version``: the running TensorRT's version string,
      ``gpu_name``: the running GPU's name, ``input_shape``: the NCHW shape the caller will feed.
    Checked in this order: engine exists, not empty / not a foreign file, sidecar present and valid, engine size and
    sha256 equal the sidecar's, then the model hash, precision, TensorRT version, GPU and input shape.
    Returns None.
    """
    expected = dict(expected or {})
    if not os.path.isfile(engine_path):
        raise EngineMismatch(MISSING_ENGINE, 'TensorRT engine not found: %s. Build it with `%s`.'
                             % (engine_path, build_command(expected.get('model_path'),
                                                           expected.get('precision') or 'fp16', output=engine_path)),
                             engine_path)
    _check_engine_bytes(engine_path, None)
    info = read_sidecar(engine_path)
    _check_engine_bytes(engine_path, info)

    want_sha = expected.get('model_sha256')
    if not want_sha and expected.get('model_path'):
        want_sha = file_sha256(expected['model_path'])
    if want_sha and want_sha.lower() != str(info['model_sha256']).lower():
        model = expected.get('model_path') or info.get('source_model') or 'the model'
        raise EngineMismatch(STALE_MODEL, 'TensorRT engine %s is stale: it was built from a model with sha256 %s..., '
                             'but %s now has sha256 %s... (the model changed since the build). Rebuild with `%s`.'
                             % (engine_path, str(info['model_sha256'])[:16], model, want_sha[:16],
                                build_command(expected.get('model_path') or info.get('source_model'),
                                              info.get('precision'), output=engine_path)), engine_path)
    want = expected.get('precision')
    if want and want != info['precision']:
        raise EngineMismatch(PRECISION, 'TensorRT engine %s was built with precision %s, but %s was requested. '
                             'Build a %s engine with `%s`.'
                             % (engine_path, info['precision'], want, want,
                                build_command(info.get('source_model'), want)), engine_path)
    want = expected.get('tensorrt_version')
    if want and str(want) != str(info['tensorrt_version']):
        raise EngineMismatch(TENSORRT_VERSION, 'TensorRT engine %s was built with TensorRT %s, but this machine runs '
                             'TensorRT %s; engines are not portable across TensorRT versions. %s'
                             % (engine_path, info['tensorrt_version'], want, _rebuild_hint(info, engine_path)),
                             engine_path)
    want = expected.get('gpu_name')
    if want and sanitize(want) != sanitize(info['gpu_name']):
        raise EngineMismatch(GPU, 'TensorRT engine %s was built for GPU "%s", but this machine has "%s"; engines are '
                             'tuned for (and often only valid on) the GPU they were built on. %s'
                             % (engine_path, info['gpu_name'], want, _rebuild_hint(info, engine_path)), engine_path)
    want = expected.get('input_shape')
    if want is not None:
        _check_shape(engine_path, info, [int(d) for d in want])


def _check_shape(engine_path, info, shape):
    if info.get('profile'):
        w, h = shape[3], shape[2]
        lo, hi = info['profile']['min'], info['profile']['max']
        if not (lo[0] <= w <= hi[0] and lo[1] <= h <= hi[1]):
            raise EngineMismatch(SHAPE, 'TensorRT engine %s accepts inputs from %dx%d to %dx%d, not %dx%d. Rebuild '
                                 'with a wider --min/--max range (`%s --help`).'
                                 % (engine_path, lo[0], lo[1], hi[0], hi[1], w, h, BUILD_TOOL), engine_path)
    elif info.get('input_shape') is not None and list(info['input_shape']) != shape:
        raise EngineMismatch(SHAPE, 'TensorRT engine %s was built for input shape %s, not %s. %s'
                             % (engine_path, info['input_shape'], shape, _rebuild_hint(info, engine_path)), engine_path)


def find_or_build(model_path, manifest, precision, cache_dir, trt_version, gpu_name, build_fn,
                  input_shape=None, profile=None, allow_build=True, force=False, command=None, extra=None, log=None,
                  output=None):
    """Return an EngineLookup for a valid engine of ``model_path`` in ``cache_dir``, building it if needed and allowed.

    ``manifest``: the model manifest dict (copied into the sidecar); ``build_fn()`` -> serialized engine bytes, called
    only when a (re)build is needed; ``input_shape``: fixed NCHW shape (None with a dynamic ``profile``);
    ``output``: an explicit engine path to use instead of ``cache_path(cache_dir, key)`` (same checks and policy).
    Policy: a cached engine that passes ``check_engine`` is reused (unless ``force``); otherwise it is rebuilt when
    ``allow_build`` is true and EngineMismatch is raised when it is not. Never returns a mismatched engine.
    """
    log = log or (lambda message: None)
    model_sha = file_sha256(model_path)
    input_size = (input_shape[3], input_shape[2]) if input_shape is not None and profile is None else None
    key = engine_key(model_sha, precision, trt_version, gpu_name, input_size, profile)
    path = output or cache_path(cache_dir, key)
    expected = {'model_sha256': model_sha, 'model_path': model_path, 'precision': precision,
                'tensorrt_version': trt_version, 'gpu_name': gpu_name}
    reason = 'forced rebuild'
    if not force:
        try:
            check_engine(path, expected)
            log('using cached engine %s' % path)
            return EngineLookup(path, key, False, 'cached')
        except EngineMismatch as exc:
            if not allow_build:
                raise EngineMismatch(exc.reason, '%s (Building is disabled here; build the engine with `%s`.)'
                                     % (exc, build_command(model_path, precision, output=output,
                                                           cache_dir=cache_dir)), path)
            reason = exc.reason
            log('building engine %s (%s)' % (path, reason.replace('_', ' ')))
    engine_bytes = build_fn()
    write_engine(path, engine_bytes)
    info = make_sidecar(path, model_path, manifest, precision, trt_version, gpu_name, input_shape=input_shape,
                        profile=profile, model_sha256=model_sha,
                        command=command or build_command(model_path, precision, output=output, cache_dir=cache_dir),
                        extra=extra)
    write_sidecar(path, info)
    check_engine(path, expected)
    return EngineLookup(path, key, True, reason)

"""``face-ssd-build-engine``: build a TensorRT engine from an exported ONNX model and its manifest.

Examples::

    face-ssd-build-engine models/face.onnx                       # fp16, cached in models/engines/
    face-ssd-build-engine models/face.onnx --precision int8 \\
        --calib-images ../shared/data/faces/fddb/images --calib-count 300
    face-ssd-build-engine models/face.onnx --min 160x120 --opt 320x240 --max 640x480   # dynamic-size model
    face-ssd-build-engine models/face.onnx --print-trtexec      # the equivalent trtexec command, no build

The engine goes to ``--output`` or into ``--cache-dir`` under its cache key (model sha256 + precision + TensorRT
version + GPU [+ shape], see ``face_ssd_ros.detect.engine_cache``), with a sidecar JSON (key fields + the manifest) that
the TensorRT backend checks before loading. A valid cached engine is reused (``--force`` rebuilds).
Works with TensorRT 8.x (JetPack 4.6: 8.0.1, 4.6.1+: 8.2.1) and 10.x; TensorRT 11 builds only strongly typed
networks, so there it makes fp32 engines (the default there) and refuses fp16/int8 with what to do instead.
Needs ``tensorrt`` and ``pycuda``; imports no PyTorch.
"""
import argparse
import hashlib
import json
import os
import random
import re
import shlex
import sys
import threading
import time

from face_ssd_ros.cli.args import number
from face_ssd_ros.detect import engine_cache
from face_ssd_ros.detect.backends.tensorrt_backend import default_precision, strongly_typed_only, \
    unsupported_precision_message
from face_ssd_ros.detect.manifest import ManifestError, load_manifest, load_manifest_file

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
EVALUATION_ONLY_MARKER = 'EVALUATION_ONLY__DO_NOT_TRAIN'
DEFAULT_WORKSPACE_MB = 256
DEFAULT_CALIB_COUNT = 200
PRECISION_HELP = ('fp16 (default; fp32 on TensorRT 11, which builds strongly typed networks only) is the right '
                  'choice on a Jetson Nano: its Maxwell GPU runs FP16 at twice the FP32 rate but has no INT8 support '
                  '(no DP4A / tensor cores), so int8 gains nothing there and costs accuracy. int8 pays off on Xavier '
                  '/ Orin / Turing and newer (needs --calib-images; TensorRT 8.x-10.x). fp32 is the accuracy '
                  'reference.')


class BuildError(RuntimeError):
    """The engine cannot be built; the message says why and what to do."""


def _log(message):
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------- calibration data
def _marked_evaluation_only(directory):
    """True if ``directory`` or one of its parents holds the evaluation-only marker file."""
    directory = os.path.abspath(directory)
    while True:
        if os.path.isfile(os.path.join(directory, EVALUATION_ONLY_MARKER)):
            return True
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent


def list_calibration_images(paths, limit=DEFAULT_CALIB_COUNT, seed=0, log=None):
    """Image files for INT8 calibration: ``limit`` of them, sampled reproducibly (``seed``) and sorted.

    ``paths``: image files and/or folders (searched recursively for .jpg/.jpeg/.png/.bmp). Folders marked
    evaluation-only (``EVALUATION_ONLY__DO_NOT_TRAIN``, e.g. faces/wider_dev) are refused when given directly and
    skipped inside a larger tree: calibrating on the evaluation set would tune the model on it.
    """
    log = log or (lambda message: None)
    found = set()
    for path in paths:
        if not os.path.exists(path):
            raise BuildError('calibration image path not found: %s' % path)
        start = path if os.path.isdir(path) else os.path.dirname(path) or '.'
        if _marked_evaluation_only(start):
            raise BuildError('%s is an evaluation-only data set (%s); calibrate on training images instead, e.g. '
                             '../shared/data/faces/fddb/images.' % (path, EVALUATION_ONLY_MARKER))
        if not os.path.isdir(path):
            found.add(os.path.abspath(path))
            continue
        for root, dirs, files in os.walk(path):
            if EVALUATION_ONLY_MARKER in files:
                log('skipping evaluation-only folder %s' % root)
                dirs[:] = []
                continue
            dirs.sort()
            for name in files:
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    found.add(os.path.abspath(os.path.join(root, name)))
    files = sorted(found)
    if not files:
        raise BuildError('no calibration images (%s) under %s.' % ('/'.join(IMAGE_EXTENSIONS), ', '.join(paths)))
    if limit and len(files) > limit:
        files = sorted(random.Random(seed).sample(files, int(limit)))
    return files


class CalibrationBatches(object):
    """Iterable of calibration batches: np.float32 ``[batch_size, 3, h, w]``, C-contiguous.

    Each image is read as RGB and turned into network input by ``face_ssd_ros.detect.preprocess.preprocess``
    (exactly the
    runtime's preprocessing, so INT8 ranges match what the engine will see). ``size``: ``(w, h)`` for a dynamic-shape
    build (the profile's opt size), else the manifest's. Unreadable images are skipped (and counted in ``skipped``);
    a final incomplete batch is dropped because TensorRT needs full batches.
    """

    def __init__(self, files, manifest, size=None, batch_size=1, log=None):
        if batch_size < 1:
            raise ValueError('batch_size must be >= 1, got %r' % (batch_size,))
        self.files = list(files)
        self.manifest = manifest
        self.size = tuple(size) if size else (manifest.width, manifest.height)
        self.batch_size = int(batch_size)
        self.skipped = []
        self._log = log or (lambda message: None)

    @property
    def shape(self):
        """``[batch_size, 3, h, w]`` of every batch."""
        return (self.batch_size, 3, self.size[1], self.size[0])

    def __len__(self):
        """Upper bound on the number of batches (unreadable images can make it fewer)."""
        return len(self.files) // self.batch_size

    def __iter__(self):
        import numpy as np
        from face_ssd_ros.detect.cli import read_image_rgb
        from face_ssd_ros.detect.preprocess import preprocess
        pending = []
        for path in self.files:
            try:
                image = read_image_rgb(path)
            except (IOError, OSError) as exc:
                self.skipped.append(path)
                self._log('calibration: skipping %s (%s)' % (path, exc))
                continue
            pending.append(preprocess(image, self.manifest, size=self.size))
            if len(pending) == self.batch_size:
                yield np.ascontiguousarray(np.concatenate(pending, axis=0), dtype=np.float32)
                pending = []


CALIBRATION_FORMAT = 'face_ssd.calibration'


def calibration_identity(model_path, manifest, size=None):
    """What an INT8 calibration table depends on: ``{'model_sha256', 'input_size': [w, h], 'channel_order',
    'mean', 'std'}`` (the model bytes, the calibration input size, the preprocessing of the manifest in use).

    ``size``: ``(w, h)`` the batches are made at (a dynamic-shape build's opt size), else the manifest's.
    """
    size = tuple(size) if size else (manifest.width, manifest.height)
    return {'model_sha256': engine_cache.file_sha256(model_path), 'input_size': [int(size[0]), int(size[1])],
            'channel_order': manifest.channel_order, 'mean': [float(v) for v in manifest.mean],
            'std': [float(v) for v in manifest.std]}


def calibration_sidecar_path(cache_file):
    """``X.calib`` -> ``X.calib.json``: the identity the table was made for + its size and sha256."""
    return cache_file + '.json'


def check_calibration_cache(cache_file, identity):
    """``(table bytes, None)`` when ``cache_file`` holds a calibration table written for ``identity`` (see
    :func:`calibration_identity`), else ``(None, reason)``; ``(None, None)`` when there is no cache file.

    A table is trusted only with its sidecar (written by :meth:`CalibrationFeeder.write_cache`) naming the same
    model, input size and preprocessing, and matching the table's size and sha256: a table from another model,
    another tool or a truncated write would silently cost accuracy.
    """
    if not cache_file or not os.path.isfile(cache_file):
        return None, None
    sidecar = calibration_sidecar_path(cache_file)
    try:
        with open(sidecar) as f:
            info = json.load(f)
    except (IOError, OSError) as exc:
        return None, 'no readable sidecar %s (%s), so it cannot be tied to this model' % (sidecar, exc)
    except ValueError as exc:
        return None, 'its sidecar %s is not valid JSON (%s)' % (sidecar, exc)
    if not isinstance(info, dict) or info.get('format') != CALIBRATION_FORMAT:
        return None, 'its sidecar %s is not a %s file' % (sidecar, CALIBRATION_FORMAT)
    differ = ['%s %r (expected %r)' % (k, info.get(k), v) for k, v in sorted(identity.items()) if info.get(k) != v]
    if differ:
        return None, 'it was made for another model or input: %s' % '; '.join(differ)
    with open(cache_file, 'rb') as f:
        data = f.read()
    if not data or len(data) != info.get('size') or hashlib.sha256(data).hexdigest() != info.get('sha256'):
        return None, 'the table is empty or differs from the one its sidecar describes (%d bytes; truncated or ' \
                     'overwritten?)' % len(data)
    return data, None


class CalibrationFeeder(object):
    """The TensorRT-independent half of the INT8 calibrator.

    ``batches``: a CalibrationBatches (or any iterable of equal-shape float32 arrays with ``batch_size`` and
    ``__len__``); ``cache_file``: calibration cache path, read instead of calibrating when it was written for
    ``identity`` (:func:`calibration_identity`; required with a cache file), written after calibrating together
    with its sidecar; ``upload(array) -> int``: copies one batch to the GPU and returns its device pointer.
    """

    def __init__(self, batches, cache_file, upload, log=None, identity=None):
        if cache_file and not identity:
            raise ValueError('a calibration cache needs the identity of the model it is for '
                             '(calibration_identity(model_path, manifest, size))')
        self.batches = batches
        self.cache_file = cache_file
        self.identity = dict(identity or {})
        self.upload = upload
        self.count = 0
        self._iterator = None
        self._started = None
        self._log = log or (lambda message: None)

    @property
    def batch_size(self):
        return self.batches.batch_size

    def get_batch(self, names):
        """Device pointers (one per input in ``names``) of the next batch, or None when the data is exhausted."""
        if self._iterator is None:
            self._iterator = iter(self.batches)
            self._started = time.time()
            self._log('calibrating on up to %d batch(es) of %d image(s)...' % (len(self.batches), self.batch_size))
        if len(names) != 1:
            raise BuildError('calibration supports single-input networks, TensorRT asked for %s' % (list(names),))
        try:
            batch = next(self._iterator)
        except StopIteration:
            self._log('calibration data done: %d batch(es) in %.1f s' % (self.count, time.time() - self._started))
            return None
        self.count += 1
        total = len(self.batches)
        if self.count == 1 or self.count % 25 == 0 or self.count == total:
            self._log('  calibration batch %d/%d' % (self.count, total))
        return [int(self.upload(batch))]

    def read_cache(self):
        """The cached calibration table (bytes) if it was written for this model and input (see
        :func:`check_calibration_cache`), else None: TensorRT then calibrates and a mismatched cache is replaced."""
        data, reason = check_calibration_cache(self.cache_file, self.identity)
        if reason:
            self._log('warning: ignoring calibration cache %s: %s; recalibrating' % (self.cache_file, reason))
        elif data is not None:
            self._log('using calibration cache %s (delete it to recalibrate)' % self.cache_file)
        return data

    def write_cache(self, data):
        """Store the calibration table TensorRT produced, with its sidecar (identity, size, sha256)."""
        if self.cache_file:
            data = bytes(data)
            info = dict(self.identity, format=CALIBRATION_FORMAT, format_version=1, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest())
            engine_cache.atomic_write(self.cache_file, data)
            engine_cache.atomic_write(calibration_sidecar_path(self.cache_file),
                                      (json.dumps(info, indent=2, sort_keys=True) + '\n').encode('utf-8'))
            self._log('wrote calibration cache %s' % self.cache_file)


def make_calibrator(trt, cuda, feeder):
    """An ``IInt8EntropyCalibrator2`` that feeds TensorRT from ``feeder`` through one reusable device buffer."""
    if not hasattr(trt, 'IInt8EntropyCalibrator2'):  # TensorRT >= 11: no implicit INT8 calibration
        raise BuildError(unsupported_precision_message(trt, 'int8') or 'this TensorRT %s has no INT8 calibrator API'
                         % getattr(trt, '__version__', '?'))
    state = {'device': None, 'nbytes': 0}

    def upload(batch):
        if state['device'] is None or batch.nbytes > state['nbytes']:
            if state['device'] is not None:
                state['device'].free()
            state['device'] = cuda.mem_alloc(batch.nbytes)
            state['nbytes'] = batch.nbytes
        cuda.memcpy_htod(state['device'], batch)
        return int(state['device'])

    feeder.upload = upload

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.feeder = feeder

        def get_batch_size(self):
            return feeder.batch_size

        def get_batch(self, names):
            return feeder.get_batch(names)

        def read_calibration_cache(self):
            return feeder.read_cache()

        def write_calibration_cache(self, cache):
            feeder.write_cache(cache)

        def free(self):
            if state['device'] is not None:
                state['device'].free()
                state['device'] = None

    return EntropyCalibrator()


# ---------------------------------------------------------------------------------------------- engine build
def version_tuple(version):
    """``'8.2.1.8'`` -> ``(8, 2, 1, 8)``; stops at the first part that is not a plain number (``'10.3.0.post1'``
    -> ``(10, 3, 0)``, ``'8.6.0rc1'`` -> ``(8, 6, 0)``)."""
    out = []
    for part in str(version).split('.'):
        match = re.match(r'^(\d+)', part)
        if not match:
            break
        out.append(int(match.group(1)))
        if match.group(1) != part:
            break
    return tuple(out)


def _profile_shapes(profile):
    return [(1, 3, profile[k][1], profile[k][0]) for k in ('min', 'opt', 'max')]


def _progress_monitor(trt, log):
    """A TensorRT >= 10 IProgressMonitor printing the top two levels of build phases, or None on older TensorRT."""
    if not hasattr(trt, 'IProgressMonitor'):
        return None

    class PhasePrinter(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self._parents = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            depth = self._parents.get(parent_phase, -1) + 1 if parent_phase else 0
            self._parents[phase_name] = depth
            if depth <= 1:
                log('  %s%s (%d step%s)' % ('  ' * depth, phase_name, num_steps, '' if num_steps == 1 else 's'))

        def step_complete(self, phase_name, step):
            return True

        def phase_finish(self, phase_name):
            self._parents.pop(phase_name, None)

    return PhasePrinter()


class _Heartbeat(object):
    """Prints 'still building' every ``period`` seconds (TensorRT 8 has no progress callback)."""

    def __init__(self, log, period=30.0):
        self._log, self._period = log, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='trt-build-heartbeat')
        self._thread.daemon = True
        self._start = time.time()

    def _run(self):
        while not self._stop.wait(self._period):
            self._log('  ... still building (%.0f s)' % (time.time() - self._start))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()


def build_serialized_engine(trt, onnx_path, manifest, precision, workspace_mb=DEFAULT_WORKSPACE_MB, profile=None,
                            calibrator=None, verbose=False, log=_log):
    """Parse ``onnx_path`` and build a serialized engine with the TensorRT Python API; returns the engine bytes.

    ``precision``: fp32|fp16|int8 (int8 needs ``calibrator`` and also enables fp16 for layers without INT8 kernels);
    ``profile``: ``{'min'|'opt'|'max': (w, h)}`` for a dynamic-size model, else None (the manifest's fixed size).
    Chooses per TensorRT version: explicit-batch network flag (< 10), strongly typed network (>= 11, no FP16/INT8
    builder flags: fp32 only, anything else is a BuildError saying what to do), ``set_memory_pool_limit`` (>= 8.4)
    vs ``max_workspace_size`` (8.2/8.3), ``build_serialized_network`` (>= 8.0) vs ``build_engine``.
    """
    unsupported = unsupported_precision_message(trt, precision)
    if unsupported:
        raise BuildError(unsupported)
    version = version_tuple(trt.__version__)
    logger = trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if strongly_typed_only(trt):
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    elif version < (10,):
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    log('[1/3] parsing %s' % onnx_path)
    with open(onnx_path, 'rb') as f:
        parsed = parser.parse(f.read())
    if not parsed:
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BuildError('TensorRT %s cannot parse %s:\n  %s\nRe-export with face-ssd-export (its opset is chosen '
                         'for TensorRT 8.2) or upgrade TensorRT.' % (trt.__version__, onnx_path, '\n  '.join(errors)))
    _check_network(network, manifest, onnx_path)
    input_tensor = network.get_input(0)
    dynamic = any(int(d) < 0 for d in input_tensor.shape)

    config = builder.create_builder_config()
    workspace = int(workspace_mb) << 20
    if hasattr(config, 'set_memory_pool_limit'):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    else:
        config.max_workspace_size = workspace
    if precision in ('fp16', 'int8'):
        if not getattr(builder, 'platform_has_fast_fp16', True):
            log('warning: this GPU has no fast FP16; the fp16 engine may be no faster than fp32')
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == 'int8':
        if calibrator is None:
            raise BuildError('int8 needs a calibrator (give --calib-images)')
        if not getattr(builder, 'platform_has_fast_int8', True):
            log('warning: this GPU has no fast INT8 (e.g. the Maxwell Jetson Nano): int8 will not be faster than '
                'fp16 here; prefer --precision fp16')
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
    if profile is not None or dynamic:
        if not dynamic:
            raise BuildError('%s has a fixed input shape %s; --min/--opt/--max need a model exported with a '
                             'dynamic input size.' % (onnx_path, list(input_tensor.shape)))
        if profile is None:  # dynamic graph, fixed-size engine at the manifest's size
            size = (manifest.width, manifest.height)
            profile = {'min': size, 'opt': size, 'max': size}
        low, opt, high = _profile_shapes(profile)
        opt_profile = builder.create_optimization_profile()
        opt_profile.set_shape(input_tensor.name, low, opt, high)
        config.add_optimization_profile(opt_profile)
        if precision == 'int8' and hasattr(config, 'set_calibration_profile'):
            config.set_calibration_profile(opt_profile)
    monitor = _progress_monitor(trt, log)
    if monitor is not None and hasattr(config, 'progress_monitor'):
        config.progress_monitor = monitor
    log('[2/3] building %s engine (workspace %d MiB; minutes on a Jetson Nano)...' % (precision, workspace_mb))
    with _Heartbeat(log):
        if hasattr(builder, 'build_serialized_network'):
            serialized = builder.build_serialized_network(network, config)
        else:
            engine = builder.build_engine(network, config)
            serialized = engine.serialize() if engine is not None else None
    if serialized is None:
        raise BuildError('TensorRT failed to build the engine (see the TensorRT errors above). Try a larger '
                         '--workspace-mb, another --precision, or --verbose.')
    return bytes(serialized)


def _check_network(network, manifest, onnx_path):
    """The parsed network must have the manifest's single input and its scores/boxes outputs."""
    inputs = [network.get_input(i).name for i in range(network.num_inputs)]
    outputs = [network.get_output(i).name for i in range(network.num_outputs)]
    problems = []
    if inputs != [manifest.input_name]:
        problems.append('inputs %s, manifest expects [%r]' % (inputs, manifest.input_name))
    for name in (manifest.scores_name, manifest.boxes_name):
        if name not in outputs:
            problems.append('no output %r (outputs: %s)' % (name, outputs))
    if problems:
        raise BuildError('%s does not match its manifest: %s. Use the manifest exported with this model.'
                         % (onnx_path, '; '.join(problems)))


# ---------------------------------------------------------------------------------------------- trtexec
def trtexec_command(onnx_path, engine_path, precision, manifest, workspace_mb=DEFAULT_WORKSPACE_MB, profile=None,
                    calib_cache=None, trt_version=None):
    """The trtexec command line that builds the same engine (trtexec cannot calibrate from images: for int8 it
    reads the calibration cache this tool writes). ``trt_version``: the target TensorRT (selects --workspace for
    TensorRT < 8.4, --memPoolSize otherwise); None = modern syntax."""
    parts = ['trtexec', '--onnx=' + onnx_path, '--saveEngine=' + engine_path]
    if trt_version and version_tuple(trt_version) < (8, 4):
        parts.append('--workspace=%d' % workspace_mb)
    else:
        parts.append('--memPoolSize=workspace:%d' % workspace_mb)
    if precision == 'fp16':
        parts.append('--fp16')
    elif precision == 'int8':
        parts += ['--int8', '--fp16']
        if calib_cache:
            parts.append('--calib=' + calib_cache)
    if profile is None and manifest.dynamic_size:
        size = (manifest.width, manifest.height)
        profile = {'min': size, 'opt': size, 'max': size}
    if profile is not None:
        for flag, shape in zip(('--minShapes', '--optShapes', '--maxShapes'), _profile_shapes(profile)):
            parts.append('%s=%s:%s' % (flag, manifest.input_name, 'x'.join(str(d) for d in shape)))
    return ' '.join(shlex.quote(p) for p in parts)


# ---------------------------------------------------------------------------------------------- CLI
def parse_profile(args):
    """``{'min', 'opt', 'max'}`` of (w, h) from --min/--opt/--max, or None; all three are required together."""
    given = [args.min, args.opt, args.max]
    if not any(given):
        return None
    if not all(given):
        raise BuildError('give all of --min, --opt and --max (WxH) for a dynamic-shape engine, or none of them.')
    try:
        profile = {k: engine_cache.parse_wh(v) for k, v in zip(('min', 'opt', 'max'), given)}
    except ValueError as exc:
        raise BuildError(str(exc))
    for axis, name in ((0, 'width'), (1, 'height')):
        if not profile['min'][axis] <= profile['opt'][axis] <= profile['max'][axis]:
            raise BuildError('need --min <= --opt <= --max in %s, got %d, %d, %d'
                             % (name, profile['min'][axis], profile['opt'][axis], profile['max'][axis]))
    return profile


def read_manifest(model_path, manifest_path=None):
    """ModelManifest from ``--manifest`` or found beside / embedded in the model; raises BuildError."""
    try:
        return load_manifest_file(manifest_path) if manifest_path else load_manifest(model_path)
    except (ManifestError, IOError, OSError, ValueError) as exc:
        raise BuildError(str(exc))


def default_calib_cache(cache_dir, model_path, manifest, profile):
    """``<cache_dir>/<sha16>_<WxH>.calib``: tied to the model hash and input size, so a changed model recalibrates."""
    size = profile['opt'] if profile else (manifest.width, manifest.height)
    return os.path.join(cache_dir, '%s_%dx%d.calib' % (engine_cache.file_sha256(model_path)[:16], size[0], size[1]))


def build_parser():
    p = argparse.ArgumentParser(prog='face-ssd-build-engine', description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('model', metavar='MODEL.onnx', help='exported ONNX model (face-ssd-export)')
    p.add_argument('--manifest', default=None, metavar='JSON',
                   help='model manifest (default: MODEL.json beside the model, else the one embedded in it)')
    p.add_argument('--precision', choices=engine_cache.PRECISIONS, default=None, help=PRECISION_HELP)
    p.add_argument('--workspace-mb', type=number(int, 1), default=DEFAULT_WORKSPACE_MB,
                   help='builder workspace limit in MiB (default %(default)s; the Nano shares 4 GB with the CPU)')
    p.add_argument('--min', default=None, metavar='WxH', help='dynamic-size models: smallest input size')
    p.add_argument('--opt', default=None, metavar='WxH', help='dynamic-size models: size to optimise for')
    p.add_argument('--max', default=None, metavar='WxH', help='dynamic-size models: largest input size')
    where = p.add_mutually_exclusive_group()
    where.add_argument('--output', default=None, metavar='ENGINE', help='write the engine here (+ ENGINE.json)')
    where.add_argument('--cache-dir', default=None, metavar='DIR',
                       help='engine cache folder, engine named by its cache key (default: $FACE_SSD_ENGINE_CACHE, '
                            'else MODEL_DIR/engines; where the TensorRT backend looks)')
    p.add_argument('--force', action='store_true', help='rebuild even if a valid engine exists')
    p.add_argument('--no-build', action='store_true',
                   help='only check that a valid engine exists (exit 1 and print the reason if not)')
    p.add_argument('--calib-images', nargs='+', default=None, metavar='PATH',
                   help='int8: calibration image files/folders (training images, never the evaluation set)')
    p.add_argument('--calib-count', type=number(int, 1), default=DEFAULT_CALIB_COUNT,
                   help='int8: number of calibration images (default %(default)s, sampled with --calib-seed)')
    p.add_argument('--calib-seed', type=int, default=0, help='int8: sampling seed (default %(default)s)')
    p.add_argument('--calib-cache', default=None, metavar='FILE',
                   help='int8: calibration cache (default CACHE_DIR/<model sha16>_<WxH>.calib; reused when present)')
    p.add_argument('--device', type=number(int, 0), default=0, help='CUDA device index (default %(default)s)')
    p.add_argument('--print-trtexec', action='store_true',
                   help='print the equivalent trtexec command and exit (needs no TensorRT)')
    p.add_argument('--verbose', action='store_true', help='TensorRT verbose log')
    return p


def _engine_target(args, manifest, profile, trt_version=None, gpu_name=None):
    """(output path or None, cache dir) for this build; for --print-trtexec without TensorRT a readable name."""
    cache_dir = args.cache_dir or engine_cache.default_cache_dir(args.model)
    if args.output:
        return args.output, cache_dir
    if trt_version is None:
        stem = os.path.splitext(os.path.basename(args.model))[0]
        return os.path.join(cache_dir, '%s.%s.engine' % (stem, args.precision)), cache_dir
    return None, cache_dir


def run(args, log=_log):
    """Build (or reuse) the engine described by ``args``; returns the EngineLookup. Raises BuildError."""
    manifest = read_manifest(args.model, args.manifest)
    profile = parse_profile(args)
    if profile is not None and not manifest.dynamic_size:
        raise BuildError('%s was exported with a fixed %dx%d input (manifest dynamic_size false); drop --min/--opt/'
                         '--max or export a dynamic-size model.' % (args.model, manifest.width, manifest.height))
    calib_cache = args.calib_cache or default_calib_cache(args.cache_dir or engine_cache.default_cache_dir(
        args.model), args.model, manifest, profile)
    calib_identity = (calibration_identity(args.model, manifest, profile['opt'] if profile else None)
                      if args.precision == 'int8' else None)
    if args.precision == 'int8' and not args.calib_images:
        usable, reason = check_calibration_cache(calib_cache, calib_identity)
        if usable is None:
            raise BuildError('--precision int8 needs --calib-images PATH (training images, e.g. '
                             '../shared/data/faces/fddb/images) or a calibration cache made for this model (%s: %s).'
                             % (calib_cache, reason or 'not found'))
    from face_ssd_ros.detect.backends.base import BackendError
    from face_ssd_ros.detect.backends.tensorrt_backend import import_tensorrt, push_device_context, tensorrt_version
    try:
        trt, cuda = import_tensorrt()
        version = tensorrt_version(trt)
    except BackendError as exc:
        raise BuildError(str(exc))
    args.precision = args.precision or default_precision(trt)
    unsupported = unsupported_precision_message(trt, args.precision)
    if unsupported:
        raise BuildError(unsupported)
    cuda.init()
    if args.device >= cuda.Device.count():
        raise BuildError('CUDA device %d does not exist (%d visible).' % (args.device, cuda.Device.count()))
    device = cuda.Device(args.device)
    gpu_name = str(device.name())
    output, cache_dir = _engine_target(args, manifest, profile, version, gpu_name)
    log('TensorRT %s on "%s"; model %s (%s, %dx%d); precision %s'
        % (version, gpu_name, args.model, manifest.name or '?', manifest.width, manifest.height, args.precision))
    ctx = push_device_context(device)
    calibrator = None
    try:
        if args.precision == 'int8':
            files = list_calibration_images(args.calib_images, args.calib_count, args.calib_seed,
                                            log) if args.calib_images else []
            batches = CalibrationBatches(files, manifest, size=profile['opt'] if profile else None, log=log)
            calibrator = make_calibrator(trt, cuda, CalibrationFeeder(batches, calib_cache, None, log,
                                                                          calib_identity))

        def build():
            started = time.time()
            data = build_serialized_engine(trt, args.model, manifest, args.precision, args.workspace_mb, profile,
                                           calibrator, args.verbose, log)
            log('[3/3] built in %.1f s (%.1f MB)' % (time.time() - started, len(data) / 1e6))
            return data

        input_size = None if profile is not None else (manifest.width, manifest.height)
        target = output or engine_cache.cache_path(cache_dir, engine_cache.engine_key(
            engine_cache.file_sha256(args.model), args.precision, version, gpu_name, input_size, profile))
        extra = {'workspace_mb': args.workspace_mb, 'calibration_cache': calib_cache if calibrator else None,
                 'trtexec': trtexec_command(args.model, target, args.precision, manifest,
                                            args.workspace_mb, profile, calib_cache if calibrator else None, version)}
        input_shape = None if profile is not None else (1, 3, manifest.height, manifest.width)
        try:
            return engine_cache.find_or_build(
                args.model, manifest.to_dict(), args.precision, cache_dir, version, gpu_name, build,
                input_shape=input_shape, profile=profile, allow_build=not args.no_build, force=args.force,
                extra=extra, log=log, output=output)
        except engine_cache.EngineMismatch as exc:
            raise BuildError(str(exc))
    finally:
        if calibrator is not None:
            calibrator.free()
        ctx.pop()
        ctx.detach()


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.print_trtexec:
            args.precision = args.precision or 'fp16'  # the trtexec of TensorRT 8.x-10.x
            manifest = read_manifest(args.model, args.manifest)
            profile = parse_profile(args)
            output, cache_dir = _engine_target(args, manifest, profile)
            calib = (args.calib_cache or default_calib_cache(cache_dir, args.model, manifest, profile)
                     if args.precision == 'int8' else None)
            print(trtexec_command(args.model, output, args.precision, manifest, args.workspace_mb, profile, calib))
            print('# note: an engine built by trtexec has no face_ssd sidecar, so the TensorRT backend refuses it; '
                  'build with face-ssd-build-engine to deploy, use trtexec to benchmark (--loadEngine).',
                  file=sys.stderr)
            return 0
        result = run(args)
    except BuildError as exc:
        print('face-ssd-build-engine: error: %s' % exc, file=sys.stderr)
        return 1
    except OSError as exc:  # unwritable cache folder, full disk, unreadable model...
        print('face-ssd-build-engine: error: %s (choose a writable --cache-dir / --output)' % exc, file=sys.stderr)
        return 1
    print('%s engine: %s' % ('built' if result.built else 'reusing valid', result.path))
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""ONNX Runtime backend (CPU by default; any installed execution provider on request)."""
import os

from face_ssd_ros.detect.backends.base import Backend, BackendError, BackendUnavailable

_HINT = 'Re-export the model with face-ssd-export, or use the .json manifest that was exported with this model.'


#: Session config keys of ONNX Runtime's thread pools' spin-wait. ORT's default ('1') keeps idle worker threads
#: busy-waiting for the next run: at 30 Hz a ~2 ms inference then holds most of a core. '0' lets them sleep.
SPIN_KEYS = ('session.intra_op.allow_spinning', 'session.inter_op.allow_spinning')


def _dim_ok(actual, expected):
    """An ONNX dim matches if it is symbolic/unknown (str or None) or equal to ``expected``."""
    return not isinstance(actual, int) or actual == expected


#: Network inputs up to this many pixels (the shipped 320x240) run on one thread when the workers would sleep.
SINGLE_THREAD_MAX_PIXELS = 320 * 240


def intra_op_threads(num_threads, allow_spinning, input_size=None):
    """ONNX Runtime intra-op thread count for a ``num_threads`` setting: the setting when > 0. For 0 (auto): 1 when
    ``allow_spinning`` is False and the network input ``(width, height)`` has at most
    :data:`SINGLE_THREAD_MAX_PIXELS` pixels; otherwise None (ONNX Runtime's own pool: one thread per core, pinned).

    Why: with sleeping workers every parallel operator wakes them and puts them back to sleep. Measured here at
    30 Hz (``python benchmarks/bench_cpu_budget.py --part ort``, docs/BENCHMARKS.md): at 320x240 the sleeping pool
    took 4.7 ms of CPU per frame for a 3.3 ms median run, one thread 3.3 ms of CPU for 3.2 ms, so the pool buys
    nothing; at 640x480 it cuts the run from 11.1 to 8.1 ms for 2.3 ms more CPU, so larger inputs keep it. (An
    explicit ``num_threads`` of 2 gets unpinned threads, which gave no speed-up at 640x480 here: 11.4 ms.)
    """
    if num_threads and int(num_threads) > 0:
        return int(num_threads)
    if allow_spinning:
        return None
    if input_size is not None and int(input_size[0]) * int(input_size[1]) > SINGLE_THREAD_MAX_PIXELS:
        return None
    return 1


class OnnxRuntimeBackend(Backend):
    """Runs an exported ``.onnx`` model with ONNX Runtime.

    Options: ``num_threads`` (int, intra-op threads, 0 = auto, see :func:`intra_op_threads`), ``allow_spinning`` (bool, default
    False: the intra- and inter-op worker threads sleep when idle instead of busy-waiting, see :data:`SPIN_KEYS`),
    ``providers`` (list of
    execution providers, default ``['CPUExecutionProvider']``), ``input_size`` ((width, height) for
    dynamic-size models). The graph's input name/shape and output names/shapes are checked against the
    manifest at construction.
    """

    name = 'onnxruntime'

    def __init__(self, model_path, manifest, num_threads=0, providers=None, allow_spinning=False, **options):
        super(OnnxRuntimeBackend, self).__init__(model_path, manifest, num_threads=num_threads,
                                                 providers=providers, allow_spinning=allow_spinning, **options)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable('onnxruntime is not installed here (%s): pip install onnxruntime (or the '
                                     'onnxruntime-gpu wheel for your JetPack, docker/README.md), or choose backend '
                                     '"tensorrt".' % exc)
        if not os.path.isfile(model_path):
            raise BackendError('model file not found: %s; set model_path to an exported .onnx file.' % model_path)
        providers = list(providers) if providers else ['CPUExecutionProvider']
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise BackendError('ONNX Runtime execution provider(s) %s not available here (available: %s); install '
                               'the matching onnxruntime build or drop the provider option.'
                               % (missing, ort.get_available_providers()))
        opts = ort.SessionOptions()
        threads = intra_op_threads(num_threads, allow_spinning, self.expected_input_size())
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        for key in SPIN_KEYS:
            opts.add_session_config_entry(key, '1' if allow_spinning else '0')
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3   # errors only; warnings about unused initialisers etc. are noise here
        try:
            self._session = ort.InferenceSession(model_path, sess_options=opts, providers=providers)
        except Exception as exc:
            raise BackendError('ONNX Runtime cannot load %s (%s: %s). Is the file complete and an ONNX model? %s'
                               % (model_path, type(exc).__name__, str(exc).strip(), _HINT))
        self._check_graph()
        self._output_names = [manifest.scores_name, manifest.boxes_name]

    def _check_graph(self):
        m = self.manifest
        problems = []
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            problems.append('graph has %d inputs %s, expected exactly one ("%s")'
                            % (len(inputs), [i.name for i in inputs], m.input_name))
        else:
            inp = inputs[0]
            width, height = self.expected_input_size()
            if inp.name != m.input_name:
                problems.append('graph input is named "%s" but the manifest says "%s"' % (inp.name, m.input_name))
            if inp.type != 'tensor(float)':
                problems.append('graph input "%s" has type %s, expected tensor(float)' % (inp.name, inp.type))
            shape = list(inp.shape)
            if len(shape) != 4 or not (_dim_ok(shape[0], 1) and _dim_ok(shape[1], 3) and _dim_ok(shape[2], height)
                                       and _dim_ok(shape[3], width)):
                problems.append('graph input "%s" has shape %s, expected [1, 3, %d, %d] (NCHW, height x width %dx%d)'
                                % (inp.name, shape, height, width, height, width))
        outputs = {o.name: o for o in self._session.get_outputs()}
        for name in (m.scores_name, m.boxes_name):
            if name not in outputs:
                problems.append('graph has no output "%s" (outputs: %s)' % (name, sorted(outputs)))
        if problems:
            raise BackendError('model %s does not match its manifest (%s):\n  - %s\n%s'
                               % (self.model_path, m.source, '\n  - '.join(problems), _HINT))
        at_manifest_size = self.expected_input_size() == (m.width, m.height)
        try:
            m.check_outputs(outputs[m.scores_name].shape, outputs[m.boxes_name].shape,
                            expect_num_priors=at_manifest_size)
        except ValueError as exc:
            raise BackendError('model %s: %s' % (self.model_path, exc))

    @property
    def session(self):
        """The underlying ``onnxruntime.InferenceSession`` (None after :meth:`close`)."""
        return self._session

    @property
    def providers(self):
        """Execution providers the session actually uses."""
        return self._session.get_providers()

    def infer(self, batch):
        """np.float32 ``[1, 3, h, w]`` -> (scores float32 ``[1, N, C]``, boxes float32 ``[1, N, 4]``)."""
        self.check_batch(batch)
        if self._session is None:
            raise BackendError('the ONNX Runtime backend was closed')
        try:
            scores, boxes = self._session.run(self._output_names, {self.manifest.input_name: batch})
        except Exception as exc:
            raise BackendError('ONNX Runtime failed on a %s batch (%s: %s); does the input size match the model?'
                               % (list(batch.shape), type(exc).__name__, str(exc).strip()))
        return self.check_outputs(scores, boxes, batch)

    def close(self):
        self._session = None

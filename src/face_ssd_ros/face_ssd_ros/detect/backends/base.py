"""The inference backend interface shared by ONNX Runtime, TensorRT and PyTorch backends."""
import numpy as np


class BackendError(RuntimeError):
    """A backend cannot load or run the model; the message says what is wrong and what to do."""


class BackendUnavailable(BackendError):
    """The backend's library (onnxruntime, tensorrt, pycuda, ...) is not installed here; the message says how to get
    it. ``auto`` then tries the next backend that can run the model (see ``create_backend``)."""


class Backend(object):
    """Runs one exported model. Subclasses load in ``__init__`` and implement :meth:`infer`.

    ``model_path``: the model file; ``manifest``: its :class:`face_ssd_ros.detect.manifest.ModelManifest`;
    ``options``: backend-specific keyword options (e.g. ``num_threads``, ``input_size``); a backend ignores the
    options it does not use, so callers may pass the same options to every backend.
    """

    name = 'base'
    #: one line for the start-up log when the backend was chosen for a reason the user should know (e.g. ``auto``
    #: fell back to TensorRT because onnxruntime is not installed); None otherwise
    note = None

    def __init__(self, model_path, manifest, **options):
        self.model_path = model_path
        self.manifest = manifest
        self.options = dict(options)

    def infer(self, batch):
        """Run the network: np.float32 ``[1, 3, h, w]`` (normalised) -> (scores ``[1, N, C]``, boxes ``[1, N, 4]``)."""
        raise NotImplementedError('%s does not implement infer()' % type(self).__name__)

    def close(self):
        """Release the model and its buffers; the backend cannot be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------------ shared checks for subclasses
    def expected_input_size(self):
        """``(width, height)`` the backend should be fed: ``options['input_size']`` if given, else the manifest's."""
        size = self.options.get('input_size')
        return (int(size[0]), int(size[1])) if size else (self.manifest.width, self.manifest.height)

    def check_batch(self, batch):
        """Raise ValueError unless ``batch`` is a float32 ``[1, 3, h, w]`` array."""
        if not isinstance(batch, np.ndarray) or batch.dtype != np.float32 or batch.ndim != 4 \
                or batch.shape[0] != 1 or batch.shape[1] != 3:
            raise ValueError('%s backend expects a float32 [1, 3, h, w] batch (face_ssd_ros.detect.preprocess), got %s'
                             % (self.name, _describe(batch)))

    def check_outputs(self, scores, boxes, batch):
        """Validate output shapes against the manifest (number of priors only at the manifest's input size).

        Returns ``(scores, boxes)`` as float32 arrays; raises :class:`BackendError` on a mismatch.
        """
        from face_ssd_ros.detect.manifest import ManifestError
        scores = np.asarray(scores, dtype=np.float32)
        boxes = np.asarray(boxes, dtype=np.float32)
        at_manifest_size = batch.shape[2:] == (self.manifest.height, self.manifest.width)
        try:
            self.manifest.check_outputs(scores.shape, boxes.shape, expect_num_priors=at_manifest_size)
        except ManifestError as exc:
            raise BackendError(str(exc))
        return scores, boxes


def _describe(value):
    if isinstance(value, np.ndarray):
        return '%s %s' % (value.dtype, list(value.shape))
    return type(value).__name__

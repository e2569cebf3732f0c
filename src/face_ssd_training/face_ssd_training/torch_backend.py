"""PyTorch backend for debugging: runs a face_ssd training checkpoint (.pt) without exporting it.

A plugin of the runtime: this package registers it under the entry-point group ``face_ssd_ros.backends`` (setup.py),
so ``face_ssd_ros`` finds it by name (``backend: torch``, or ``auto`` on a ``.pt``) without importing this package.
torch is imported only when the backend is constructed.
"""
import os

from face_ssd_ros.detect.backends.base import Backend, BackendError


class TorchBackend(Backend):
    """Runs :func:`face_ssd_training.models.load_for_inference` ``(model_path[, input_size])`` on the CPU.

    Options: ``num_threads`` (int > 0 sets ``torch.set_num_threads``, which is process-wide), ``input_size``
    ((width, height) for dynamic-size models).
    """

    name = 'torch'

    def __init__(self, model_path, manifest, num_threads=0, **options):
        super(TorchBackend, self).__init__(model_path, manifest, num_threads=num_threads, **options)
        try:
            import torch
        except ImportError:
            raise BackendError('the torch backend needs PyTorch: pip install torch (CPU wheel), or export the '
                               'checkpoint with face-ssd-export and use the onnxruntime backend.')
        from .models import load_for_inference
        if not os.path.isfile(model_path):
            raise BackendError('checkpoint not found: %s; set model_path to a face_ssd training checkpoint (.pt).'
                               % model_path)
        if num_threads and int(num_threads) > 0:
            torch.set_num_threads(int(num_threads))
        size = self.expected_input_size()
        try:
            if size != (manifest.width, manifest.height):   # priors are generated for the input size
                module, ckpt_manifest = load_for_inference(model_path, input_size=size)
            else:
                module, ckpt_manifest = load_for_inference(model_path)
        except Exception as exc:
            raise BackendError('cannot load checkpoint %s for inference (%s: %s); is it a face_ssd training '
                               'checkpoint from this version?' % (model_path, type(exc).__name__, exc))
        if isinstance(ckpt_manifest, dict) and list(ckpt_manifest.get('labels', manifest.labels)) != \
                list(manifest.labels):
            raise BackendError('checkpoint %s has labels %s but the manifest in use (%s) says %s; remove the stale '
                               'sidecar .json or re-export.' % (model_path, ckpt_manifest.get('labels'),
                                                                manifest.source, list(manifest.labels)))
        self._torch = torch
        self._module = module.eval()

    def infer(self, batch):
        """np.float32 ``[1, 3, h, w]`` -> (scores float32 ``[1, N, C]``, boxes float32 ``[1, N, 4]``)."""
        self.check_batch(batch)
        if self._module is None:
            raise BackendError('the torch backend was closed')
        with self._torch.no_grad():
            outputs = self._module(self._torch.from_numpy(batch))
        if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
            raise BackendError('checkpoint module must return (scores [1, N, C], boxes [1, N, 4]), got %s'
                               % type(outputs).__name__)
        scores, boxes = (o.detach().cpu().numpy() for o in outputs)
        return self.check_outputs(scores, boxes, batch)

    def close(self):
        self._module = None

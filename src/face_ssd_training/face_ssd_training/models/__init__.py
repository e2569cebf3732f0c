"""SSD model variants (builders over shared parts) and checkpoint loading for inference."""
from .registry import ARCHS, build_model, canonical_arch  # noqa: F401
from .ssd import SSD, InferenceModel  # noqa: F401


def model_from_manifest(manifest):
    """An untrained :class:`SSD` with the architecture, classes and priors a manifest describes."""
    return build_model(manifest['arch'], len(manifest['labels']), manifest['priors'],
                       **manifest.get('arch_options', {}))


def load_checkpoint(path, map_location='cpu'):
    """Load a training checkpoint safely (``weights_only=True``: no arbitrary unpickling).

    Returns:
        the checkpoint dict (keys: model, manifest, config, epoch, optimizer, scheduler, metrics).
    """
    import torch
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError('checkpoint %s does not exist; train one with face-ssd-train' % path)
    except Exception as exc:  # corrupt, truncated or not a weights-only checkpoint
        first = (str(exc).strip().splitlines() or [''])[0]   # torch appends paragraphs of advice
        raise ValueError('cannot load checkpoint %s (%s: %s); it is corrupt, truncated or not a face_ssd '
                         'checkpoint' % (path, type(exc).__name__, first))
    if not isinstance(ckpt, dict) or 'model' not in ckpt or 'manifest' not in ckpt:
        raise ValueError('%s is not a face_ssd checkpoint (needs "model" and "manifest" entries)' % path)
    return ckpt


def load_for_inference(path, input_size=None):
    """Checkpoint -> (InferenceModel in eval mode, manifest dict).

    ``InferenceModel(x [B, 3, H, W])`` returns ``(scores [B, N, C], boxes [B, N, 4])`` like the ONNX export.
    ``input_size`` (w, h) overrides the manifest's size (priors are regenerated for it).
    """
    ckpt = load_checkpoint(path)
    manifest = dict(ckpt['manifest'])
    model = model_from_manifest(manifest)
    model.load_state_dict(ckpt['model'])
    model.eval()
    w, h = input_size or (manifest['input']['width'], manifest['input']['height'])
    if input_size:
        manifest['input'] = dict(manifest['input'], width=int(w), height=int(h))
        manifest['num_priors'] = model.prior_spec.num_priors(int(w), int(h))
    return InferenceModel(model, w, h).eval(), manifest

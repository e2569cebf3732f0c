"""The model manifest written by training and export (format: docs/ARCHITECTURE.md).

The runtime (``face_ssd_ros.detect.manifest``) validates the same dict; this module only builds it from a
model, so the two halves of the project cannot disagree on field names.
"""
import subprocess

MANIFEST_FORMAT = 'face_ssd.model'
MANIFEST_VERSION = 1
DEFAULT_POSTPROCESS = {'score_threshold': 0.6, 'nms_iou': 0.3, 'max_detections': 200}


def _git_commit():
    try:
        return subprocess.check_output(['git', 'rev-parse', '--short', 'HEAD'], stderr=subprocess.DEVNULL,
                                       cwd=__file__.rsplit('/', 1)[0]).decode().strip()
    except Exception:
        return ''


def make_manifest(model, labels, width, height, mean, std, channel_order='RGB', postprocess=None, name=None,
                  training=None):
    """Manifest dict of an :class:`~face_ssd_training.models.SSD` at a ``width x height`` input."""
    labels = list(labels)
    return {
        'format': MANIFEST_FORMAT,
        'format_version': MANIFEST_VERSION,
        'name': name or '%s-%s-%dx%d' % ('-'.join(labels[1:3]) if len(labels) <= 3 else '%dcls' % (len(labels) - 1),
                                        model.arch, width, height),
        'arch': model.arch,
        'arch_options': dict(model.arch_options),
        'input': {'name': 'input', 'width': int(width), 'height': int(height), 'layout': 'NCHW', 'dtype': 'float32',
                  'channel_order': channel_order, 'mean': [float(v) for v in mean], 'std': [float(v) for v in std],
                  'resize': 'stretch', 'dynamic_size': False},
        'labels': labels,
        'outputs': {'scores': {'name': 'scores', 'activation': 'softmax'},
                    'boxes': {'name': 'boxes', 'format': 'xyxy_normalized'}},
        'num_priors': int(model.prior_spec.num_priors(width, height)),
        'priors': model.prior_spec.to_dict(),
        'postprocess': dict(postprocess or DEFAULT_POSTPROCESS),
        'training': dict(training or {}, commit=_git_commit()),
    }


def resized_manifest(manifest, model, width, height):
    """The same model's manifest at another input size (priors and their count regenerated)."""
    out = dict(manifest)
    out['input'] = dict(manifest['input'], width=int(width), height=int(height))
    out['num_priors'] = int(model.prior_spec.num_priors(width, height))
    out['name'] = manifest['name'].rsplit('-', 1)[0] + '-%dx%d' % (width, height)
    return out

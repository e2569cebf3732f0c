"""Model variants as builders with defaults: one table, used by training, export and every script.

``build_model('rfb', num_classes=2)`` and friends; ``ARCHS[name]`` holds each variant's default
prior spec, input size and normalisation, so nothing else needs ``if arch == ...`` chains.
"""
from collections import namedtuple

from torch import nn

from ..priors import PriorSpec
from .blocks import InvertedResidual, ReceptiveFieldBlock, ResidualDW, conv_bn, conv_dw, separable_conv
from .ssd import SSD, Backbone

ArchDefaults = namedtuple('ArchDefaults', 'builder prior_spec input_size mean std description')

# Small-face priors (stride 8..64, square boxes from 10 px): the slim / RFB face models.
FACE_PRIORS = dict(strides=[8, 16, 32, 64],
                   min_sizes=[[10, 16, 24], [32, 48], [64, 96], [128, 192, 256]],
                   aspect_ratios=[[], [], [], []], variances=[0.1, 0.2], clip=True)
# SSD300 priors (6 levels, aspect ratios 2 and 3): the MobileNet SSD models.
SSD300_PRIORS = dict(strides=[16, 32, 64, 128, 256, 512],
                     min_sizes=[[60], [105], [150], [195], [240], [285]],
                     max_sizes=[[105], [150], [195], [240], [285], [330]],
                     aspect_ratios=[[2, 3]] * 6, variances=[0.1, 0.2], clip=True)


def _ch(c, width_mult):
    return max(8, int(round(c * width_mult)))


def _slim_stages(b, rfb, extra_blocks=(0, 0, 0)):
    """The slim / RFB face backbone: levels at stride 8, 16, 32 (channels 4b, 8b, 16b); ``extra_blocks[i]``
    :class:`ResidualDW` blocks end level i (appended, so a model without them loads into one with them)."""
    stage1 = [conv_bn(3, b, 2), conv_dw(b, 2 * b, 1), conv_dw(2 * b, 2 * b, 2), conv_dw(2 * b, 2 * b, 1),
              conv_dw(2 * b, 4 * b, 2), conv_dw(4 * b, 4 * b, 1), conv_dw(4 * b, 4 * b, 1)]
    stage1.append(ReceptiveFieldBlock(4 * b, 4 * b, 1) if rfb else conv_dw(4 * b, 4 * b, 1))
    stage2 = [conv_dw(4 * b, 8 * b, 2), conv_dw(8 * b, 8 * b, 1), conv_dw(8 * b, 8 * b, 1)]
    stage3 = [conv_dw(8 * b, 16 * b, 2), conv_dw(16 * b, 16 * b, 1)]
    for stage, c, n in zip((stage1, stage2, stage3), (4 * b, 8 * b, 16 * b), extra_blocks):
        stage.extend(ResidualDW(c) for _ in range(n))
    return Backbone([nn.Sequential(*stage1), nn.Sequential(*stage2), nn.Sequential(*stage3)],
                    [4 * b, 8 * b, 16 * b])


def _build_face(rfb):
    def build(num_classes, prior_spec, width_mult=1.0, extra_blocks=None):
        b = _ch(16, width_mult)
        extra_blocks = _check_extra_blocks(extra_blocks, 3, 'rfb' if rfb else 'slim')
        backbone = _slim_stages(b, rfb, extra_blocks)
        extra = nn.Sequential(nn.Conv2d(16 * b, 4 * b, 1), nn.ReLU(inplace=True),
                              separable_conv(4 * b, 16 * b, stride=2), nn.ReLU(inplace=True))
        return SSD(backbone, [extra], [16 * b], ['separable', 'separable', 'separable', 'conv'],
                   num_classes, prior_spec, 'rfb' if rfb else 'slim', _options(width_mult, extra_blocks))
    return build


def _check_extra_blocks(extra_blocks, levels, arch):
    """``None`` -> zeros; else a list of ``levels`` counts >= 0 (ValueError naming the variant)."""
    if extra_blocks is None:
        return [0] * levels
    blocks = list(extra_blocks)
    if len(blocks) != levels or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in blocks):
        raise ValueError('%s: extra_blocks needs %d counts >= 0 (one per backbone level), got %r'
                         % (arch, levels, extra_blocks))
    return blocks


def _options(width_mult, extra_blocks):
    """arch_options for the manifest: extra_blocks only when some are used (older manifests stay valid)."""
    options = {'width_mult': width_mult}
    if any(extra_blocks):
        options['extra_blocks'] = list(extra_blocks)
    return options


def _ssd_extras(cin, specs):
    """Classic SSD extras: per (mid, out) a 1x1 reduce and a stride-2 3x3 conv."""
    extras, channels = [], []
    for mid, out in specs:
        extras.append(nn.Sequential(nn.Conv2d(cin, mid, 1), nn.ReLU(inplace=True),
                                    nn.Conv2d(mid, out, 3, 2, 1), nn.ReLU(inplace=True)))
        channels.append(out)
        cin = out
    return extras, channels


def _no_extra_blocks(arch, extra_blocks):
    if extra_blocks is not None and any(extra_blocks):
        raise ValueError('%s does not take extra_blocks (only slim and rfb do)' % arch)


def build_mb1_ssd(num_classes, prior_spec, width_mult=1.0, extra_blocks=None):
    """MobileNet-V1 SSD: levels at stride 16 (conv11) and 32 (conv13) + 4 extras."""
    _no_extra_blocks('mb1-ssd', extra_blocks)
    c = lambda v: _ch(v, width_mult)  # noqa: E731
    s1 = [conv_bn(3, c(32), 2), conv_dw(c(32), c(64), 1), conv_dw(c(64), c(128), 2), conv_dw(c(128), c(128), 1),
          conv_dw(c(128), c(256), 2), conv_dw(c(256), c(256), 1), conv_dw(c(256), c(512), 2)]
    s1 += [conv_dw(c(512), c(512), 1) for _ in range(5)]
    s2 = [conv_dw(c(512), c(1024), 2), conv_dw(c(1024), c(1024), 1)]
    backbone = Backbone([nn.Sequential(*s1), nn.Sequential(*s2)], [c(512), c(1024)])
    extras, ch = _ssd_extras(c(1024), [(256, 512), (128, 256), (128, 256), (128, 256)])
    return SSD(backbone, extras, ch, ['conv'] * 6, num_classes, prior_spec, 'mb1-ssd', {'width_mult': width_mult})


def _mbv2_blocks(cin, settings, width_mult):
    layers = []
    for t, cout, n, s in settings:
        cout = _ch(cout, width_mult)
        for i in range(n):
            layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
            cin = cout
    return layers, cin


def build_mb2_ssd_lite(num_classes, prior_spec, width_mult=1.0, extra_blocks=None):
    """MobileNet-V2 SSD-Lite: levels at stride 16 (after the 96-channel blocks) and 32 (1x1 to 1280),
    4 inverted-residual extras, separable (ReLU6) heads."""
    _no_extra_blocks('mb2-ssd-lite', extra_blocks)
    first = _ch(32, width_mult)
    s1, cin = _mbv2_blocks(first, [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)],
                           width_mult)
    s1 = [conv_bn(3, first, 2)] + s1
    c16 = cin
    s2, cin = _mbv2_blocks(cin, [(6, 160, 3, 2), (6, 320, 1, 1)], width_mult)
    last = max(1280, _ch(1280, width_mult))
    s2.append(conv_bn(cin, last, 1, kernel=1))
    backbone = Backbone([nn.Sequential(*s1), nn.Sequential(*s2)], [c16, last])
    extras = [InvertedResidual(last, 512, 2, 0.2), InvertedResidual(512, 256, 2, 0.25),
              InvertedResidual(256, 256, 2, 0.5), InvertedResidual(256, 64, 2, 0.25)]
    heads = ['separable6'] * 5 + ['pointwise']
    return SSD(backbone, extras, [512, 256, 256, 64], heads, num_classes, prior_spec, 'mb2-ssd-lite',
               {'width_mult': width_mult})


ARCHS = {
    'slim': ArchDefaults(_build_face(False), FACE_PRIORS, (320, 240), (127.0,) * 3, (128.0,) * 3,
                         'slim face detector (depthwise-separable, 4 levels, small-face priors)'),
    'rfb': ArchDefaults(_build_face(True), FACE_PRIORS, (320, 240), (127.0,) * 3, (128.0,) * 3,
                        'slim + receptive-field block (dilated branches) at stride 8'),
    'mb1-ssd': ArchDefaults(build_mb1_ssd, SSD300_PRIORS, (300, 300), (127.0,) * 3, (128.0,) * 3,
                            'MobileNet-V1 SSD'),
    'mb2-ssd-lite': ArchDefaults(build_mb2_ssd_lite, SSD300_PRIORS, (300, 300), (127.0,) * 3, (128.0,) * 3,
                                 'MobileNet-V2 SSD-Lite'),
}
ALIASES = {'RFB': 'rfb', 'mb1': 'mb1-ssd', 'mb2': 'mb2-ssd-lite', 'mb2-ssdlite': 'mb2-ssd-lite'}


def canonical_arch(name):
    """Registry name for ``name`` (case and a few aliases tolerated); ValueError listing the choices."""
    key = ALIASES.get(name, name)
    if key not in ARCHS:
        key = key.lower()
    if key not in ARCHS:
        raise ValueError('unknown model %r; choose one of %s' % (name, ', '.join(sorted(ARCHS))))
    return key


def build_model(arch, num_classes, prior_spec=None, width_mult=1.0, extra_blocks=None):
    """Build an :class:`SSD` variant.

    Args:
        arch: 'slim', 'rfb', 'mb1-ssd' or 'mb2-ssd-lite'.
        num_classes: classes including background (>= 2).
        prior_spec: a PriorSpec or its dict; default = the variant's own.
        width_mult: channel multiplier of the backbone.
        extra_blocks: slim / rfb only: residual blocks added at the end of each backbone level
            (stride 8, 16, 32), e.g. [0, 1, 2]; None = none.
    """
    arch = canonical_arch(arch)
    if num_classes < 2:
        raise ValueError('num_classes counts background too and must be >= 2, got %d' % num_classes)
    spec = ARCHS[arch].prior_spec if prior_spec is None else prior_spec
    if isinstance(spec, dict):
        spec = PriorSpec.from_dict(spec)
    return ARCHS[arch].builder(num_classes, spec, width_mult=width_mult, extra_blocks=extra_blocks)

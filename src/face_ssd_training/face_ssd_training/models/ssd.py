"""The SSD meta-architecture shared by every variant: backbone feature levels, extra layers,
per-level classification and regression heads, and an inference wrapper that decodes boxes."""
from typing import List, Sequence

import torch
from torch import nn

from ..box_coder import center_to_corner, decode
from ..priors import PriorSpec, generate_priors
from .blocks import separable_conv


class Backbone(nn.Module):
    """Runs ``stages`` in sequence and returns the output of each one (one feature level each).

    Args:
        stages: modules; stage i maps level i-1 to level i.
        out_channels: channels of each stage's output.
    """

    def __init__(self, stages, out_channels):
        super(Backbone, self).__init__()
        self.stages = nn.ModuleList(stages)
        self.out_channels = list(out_channels)

    def forward(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def make_head(kind, cin, cout):
    """One prediction head: 'conv' (3x3 conv), 'separable' (dw 3x3 + pw 1x1), 'separable6' (ReLU6), 'pointwise' (1x1)."""
    if kind == 'conv':
        return nn.Conv2d(cin, cout, 3, 1, 1)
    if kind == 'separable':
        return separable_conv(cin, cout)
    if kind == 'separable6':
        return separable_conv(cin, cout, relu6=True)
    if kind == 'pointwise':
        return nn.Conv2d(cin, cout, 1)
    raise ValueError('unknown head kind %r' % (kind,))


class SSD(nn.Module):
    """Single-shot detector.

    Args:
        backbone: a :class:`Backbone` giving the first feature levels.
        extras: modules, each mapping the previous (last) level to a new, coarser level.
        extra_channels: output channels of each extra.
        head_kinds: one head kind per level (see :func:`make_head`).
        num_classes: classes including background.
        prior_spec: the :class:`PriorSpec`; its ``boxes_per_cell`` sizes the heads.
        arch: the registry name, kept for manifests and checkpoints.

    ``forward(x [B, 3, H, W]) -> (conf_logits [B, N, C], loc_offsets [B, N, 4])`` with N the number
    of priors of ``generate_priors(prior_spec, W, H)`` in the same order.
    """

    def __init__(self, backbone, extras, extra_channels, head_kinds, num_classes, prior_spec, arch, arch_options=None):
        super(SSD, self).__init__()
        self.backbone = backbone
        self.extras = nn.ModuleList(extras)
        channels = backbone.out_channels + list(extra_channels)
        k = prior_spec.boxes_per_cell()
        if not (len(channels) == len(k) == len(head_kinds)):
            raise ValueError('%s: %d feature levels, %d prior levels, %d heads'
                             % (arch, len(channels), len(k), len(head_kinds)))
        self.conf_heads = nn.ModuleList([make_head(h, c, n * num_classes) for h, c, n in zip(head_kinds, channels, k)])
        self.loc_heads = nn.ModuleList([make_head(h, c, n * 4) for h, c, n in zip(head_kinds, channels, k)])
        self.num_classes = num_classes
        self.prior_spec = prior_spec
        self.arch = arch
        self.arch_options = dict(arch_options or {})

    def features(self, x):
        """[B, 3, H, W] -> list of feature maps, one per prior level."""
        feats = self.backbone(x)
        y = feats[-1]
        for extra in self.extras:
            y = extra(y)
            feats.append(y)
        return feats

    def forward(self, x):
        b = x.shape[0]
        confs, locs = [], []
        for f, ch, lh in zip(self.features(x), self.conf_heads, self.loc_heads):
            confs.append(ch(f).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes))
            locs.append(lh(f).permute(0, 2, 3, 1).reshape(b, -1, 4))
        return torch.cat(confs, dim=1), torch.cat(locs, dim=1)

    def base_parameters(self):
        """Parameters of the backbone (for a separate learning rate or freezing)."""
        return list(self.backbone.parameters())

    def head_parameters(self):
        """Parameters of the extras and heads."""
        ids = set(id(p) for p in self.backbone.parameters())
        return [p for p in self.parameters() if id(p) not in ids]

    def feature_sizes(self, width, height):
        """Measured [(fw, fh)] of each level for a ``width x height`` input (one dry run)."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            p = next(self.parameters())
            feats = self.features(torch.zeros((1, 3, height, width), dtype=p.dtype, device=p.device))
        self.train(was_training)
        return [(int(f.shape[3]), int(f.shape[2])) for f in feats]

    def priors(self, width, height):
        """Centre-form priors [N, 4] (torch.float32) for a ``width x height`` input."""
        return torch.from_numpy(generate_priors(self.prior_spec, width, height))


class InferenceModel(nn.Module):
    """Wraps an :class:`SSD` for deployment at a fixed input size.

    ``forward(x [B, 3, H, W]) -> (scores [B, N, C] softmax, boxes [B, N, 4] corner form, normalised)``,
    the ONNX contract of docs/ARCHITECTURE.md.
    """

    def __init__(self, model, width, height):
        super(InferenceModel, self).__init__()
        self.model = model
        self.width, self.height = int(width), int(height)
        measured = model.feature_sizes(self.width, self.height)
        expected = model.prior_spec.feature_sizes(self.width, self.height)
        if measured != expected:
            raise ValueError('%s at %dx%d: feature maps %r do not match the prior spec %r'
                             % (model.arch, width, height, measured, expected))
        self.register_buffer('priors', model.priors(self.width, self.height))
        self.variances = model.prior_spec.variances

    def forward(self, x):
        conf, loc = self.model(x)
        scores = torch.softmax(conf, dim=2)
        boxes = center_to_corner(decode(loc, self.priors, self.variances))
        return scores, boxes

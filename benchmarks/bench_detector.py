"""Detector throughput and per-stage latency per backend and network input size (no ROS).

    python benchmarks/bench_detector.py [--backends onnxruntime,torch,tensorrt] [--sizes 320x240,640x480]
        [--image-size 640x480] [--duration 10] [--warmup 20] [--threads 0] [--allow-spinning]
        [--checkpoint best.pt] [--engine 320x240=model.engine] [--json out/bench/detector.json]

For each (backend, network input size): :class:`face_ssd_ros.detect.inference.FaceDetector` runs on a real photo
(``../shared/data/faces/dlib``, else the demo scene) of ``--image-size`` for ``--duration`` seconds after
``--warmup`` untimed frames, and the table gives frames/s and mean / p50 / p95 ms of each stage the detector node
times: conversion (sensor_msgs/Image bytes -> RGB array, as in the node), preprocess (resize + normalise),
inference (backend), postprocess (decode, NMS), total, and the CPU % of the process over the timed frames (100 = one
core; frames back to back, so it shows the cost per frame of a busy detector, not of one at 30 Hz: see
bench_pipeline.py for that). ONNX Runtime's threads sleep between runs as in the detector node, unless
``--allow-spinning``.

Models: the shipped ONNX model runs at its own size (320x240). Other sizes, and the torch backend (which runs
training checkpoints), use the shipped architecture exported at that size from ``--checkpoint`` (default
the shipped ``models/face_default.pt``), or untrained weights of the same architecture when no checkpoint exists (same
compute, so network timings hold; the ``weights`` column says which). TensorRT runs only where it is installed and
an engine is given per size (``--engine WxH=PATH``, built by face-ssd-build-engine); otherwise a 'skipped' line.
Timings on a shared or busy CPU are contaminated: run on an idle machine for numbers you publish.
"""
import argparse
import importlib.util
import sys
import tempfile

import benchlib

benchlib.use_sources()

from face_ssd_ros.detect.backends import BackendError  # noqa: E402
from face_ssd_ros.detect.inference import FaceDetector  # noqa: E402


def _engines(items):
    out = {}
    for item in items:
        size, eq, path = item.partition('=')
        if not eq:
            raise SystemExit('--engine %r must look like WIDTHxHEIGHT=PATH' % item)
        out[benchlib.parse_size(size)] = path
    return out


def _available(backend):
    module = {'onnxruntime': 'onnxruntime', 'torch': 'torch', 'tensorrt': 'tensorrt'}[backend]
    return importlib.util.find_spec(module) is not None


def run(args, log=print):
    """All (backend, size) rows: a list of dicts (``skipped`` holds the reason when a row did not run)."""
    sizes = [benchlib.parse_size(s) for s in args.sizes.split(',') if s.strip()]
    image, origin = benchlib.load_image(*benchlib.parse_size(args.image_size))
    log('image: %s at %dx%d; %.0f s per row after %d warm-up frames' % (origin, image.shape[1], image.shape[0],
                                                                         args.duration, args.warmup))
    engines = _engines(args.engine)
    backends = [b.strip() for b in args.backends.split(',') if b.strip()]
    for backend in backends:
        if backend not in ('onnxruntime', 'torch', 'tensorrt'):
            raise SystemExit('unknown backend %r: choose from onnxruntime, torch, tensorrt' % backend)
    runnable = [b for b in backends if _available(b)]
    rows = []
    with tempfile.TemporaryDirectory(prefix='face_ssd_bench_') as workdir:
        prepared = {}
        if 'onnxruntime' in runnable or 'torch' in runnable:
            prepared = benchlib.prepare_models(sizes, workdir, args.checkpoint, want_onnx='onnxruntime' in runnable,
                                               want_checkpoint='torch' in runnable, log=log)
        for backend in backends:
            if backend not in runnable:
                what = 'no TensorRT' if backend == 'tensorrt' else '%s is not installed' % backend
                rows += [{'backend': backend, 'size': s, 'skipped': what} for s in sizes]
                continue
            if backend == 'tensorrt':
                models = dict((s, {'path': engines.get(s), 'weights': 'engine'}) for s in sizes)
            else:
                key = 'checkpoint' if backend == 'torch' else 'onnx'
                models = dict((s, {'path': e[key], 'weights': e[key + '_weights']}) for s, e in prepared.items())
            for size in sizes:
                row = {'backend': backend, 'size': size, 'weights': models[size]['weights']}
                if not models[size]['path']:
                    row['skipped'] = 'no engine for %dx%d (--engine %dx%d=PATH; build it with ' \
                                     'face-ssd-build-engine)' % (size + size)
                    rows.append(row)
                    continue
                try:
                    detector = FaceDetector(models[size]['path'], backend=backend, num_threads=args.threads,
                                            allow_spinning=args.allow_spinning)
                except (BackendError, ValueError, OSError) as exc:
                    row['skipped'] = str(exc)
                    rows.append(row)
                    continue
                try:
                    row.update(benchlib.time_detector(detector, image, args.duration, args.warmup))
                finally:
                    detector.close()
                rows.append(row)
                log('  %s %dx%d: %.1f frames/s, CPU %.0f %%' % (backend, size[0], size[1], row['fps'],
                                                             row['cpu_percent']))
    return {'image': origin, 'image_size': [image.shape[1], image.shape[0]], 'threads': args.threads,
            'allow_spinning': bool(args.allow_spinning), 'rows': rows}


def format_rows(rows):
    stages = benchlib.DETECTOR_STAGES
    headers = ['backend', 'input', 'frames/s', 'CPU %'] + ['%s mean/p50/p95' % s for s in stages] + ['weights']
    table, skipped = [], []
    for r in rows:
        size = '%dx%d' % tuple(r['size'])
        if 'skipped' in r:
            skipped.append('%s %s skipped: %s' % (r['backend'], size, r['skipped']))
            continue
        cells = ['%.2f/%.2f/%.2f' % (r['stages'][s]['mean'], r['stages'][s]['p50'], r['stages'][s]['p95'])
                 for s in stages]
        table.append([r['backend'], size, r['fps'], r.get('cpu_percent')] + cells + [r['weights']])
    out = benchlib.format_table(headers, table, floats='%.1f') if table else '(no backend ran)'
    return out + ('\n' + '\n'.join(skipped) if skipped else '')


def build_arg_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--backends', default='onnxruntime,torch,tensorrt', help='comma-separated backends')
    p.add_argument('--sizes', default='320x240,640x480', help='network input sizes WxH, comma-separated')
    p.add_argument('--image-size', default='640x480', help='camera frame size WxH fed to the detector')
    p.add_argument('--duration', type=float, default=10.0, help='timed seconds per row')
    p.add_argument('--warmup', type=int, default=20, help='untimed frames per row')
    p.add_argument('--threads', type=int, default=0, help='backend threads (0 = backend default)')
    p.add_argument('--allow-spinning', action='store_true', help='let ONNX Runtime\'s threads busy-wait between '
                   'frames (the detector parameter allow_spinning; default: they sleep)')
    p.add_argument('--checkpoint', default=None, help='training checkpoint for other sizes and the torch backend '
                   '(default the shipped models/face_default.pt if present, else untrained weights)')
    p.add_argument('--engine', action='append', default=[], metavar='WxH=PATH', help='TensorRT engine per size')
    p.add_argument('--json', default=None, help='also write the figures to this JSON file')
    return p


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    result = run(args)
    print('\ndetector throughput and per-stage latency [ms] (image %dx%d, %s)'
          % (result['image_size'][0], result['image_size'][1], result['image']))
    print(format_rows(result['rows']))
    if benchlib.write_json(args.json, result):
        print('figures written to %s' % args.json)
    return 0 if any('skipped' not in r for r in result['rows']) else 1


if __name__ == '__main__':
    sys.exit(main())

"""TensorRT checks: ``face-ssd-trt-parity`` (does the engine compute what the ONNX model computes?) and
``face-ssd-trt-bench`` (per-stage latency and throughput per backend and precision).

Both take any two backends (defaults: ONNX Runtime as the reference, TensorRT as the candidate), so they also run
without a GPU (e.g. ONNX Runtime against itself, or against the PyTorch checkpoint).

Examples::

    face-ssd-trt-parity models/engines/<key>.engine --reference models/face.onnx      # WIDER dev AP + diffs
    face-ssd-trt-bench models/face.onnx --precisions fp32,fp16 --frame-sizes 320x240,640x480
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from face_ssd_ros.cli.args import number
from face_ssd_ros.detect import engine_cache

# <repo>/src/face_ssd_ros/face_ssd_ros/engine/tools.py -> <repo> (defaults for a source checkout)
REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..'))
DEFAULT_WIDER_DEV = os.path.join(REPO_ROOT, '..', 'shared', 'data', 'faces', 'wider_dev')
DEFAULT_BENCH_IMAGES = os.path.join(REPO_ROOT, '..', 'shared', 'data', 'faces', 'fddb', 'images')
#: parity tolerances per candidate precision: max |score| diff, max |box| diff (normalised, confident priors),
#: |AP diff| per WIDER setting. Deliberately loose defaults; tighten them once measured on the target.
TOLERANCES = {'fp32': (1e-3, 1e-3, 0.002), 'fp16': (0.05, 0.02, 0.01), 'int8': (0.15, 0.05, 0.03)}
CONFIDENT_SCORE = 0.1


class ToolError(RuntimeError):
    """A user-facing error of these tools (bad arguments, unusable model or backend)."""


def manifest_for(model_path):
    """ModelManifest of any model file (for an engine, the one in its sidecar); ToolError if there is none."""
    from face_ssd_ros.detect.manifest import ManifestError, load_manifest
    try:
        return load_manifest(model_path)
    except ManifestError as exc:
        raise ToolError(str(exc))


def open_backend(name, model_path, manifest, **options):
    """``create_backend`` with errors turned into ToolError."""
    from face_ssd_ros.detect.backends import BackendError, create_backend
    try:
        return create_backend(name, model_path, manifest, **options)
    except BackendError as exc:
        raise ToolError('%s backend on %s: %s' % (name, model_path, exc))


def engine_precision(model_path):
    """Precision recorded in an engine's sidecar ('fp32' for non-engine models)."""
    if engine_cache.is_engine_path(model_path) and os.path.isfile(engine_cache.sidecar_path(model_path)):
        return engine_cache.read_sidecar(model_path)['precision']
    return 'fp32'


# ---------------------------------------------------------------------------------------------- parity
def compare_outputs(ref_scores, ref_boxes, scores, boxes, confident=CONFIDENT_SCORE):
    """Differences between two backends' raw outputs for one image.

    ``*scores``: ``[1, N, C]``, ``*boxes``: ``[1, N, 4]`` (normalised). Returns a dict: ``score_max``, ``score_mean``
    (abs diff over all priors and classes), ``box_max`` (abs diff over every prior), ``box_conf_max`` (over priors
    whose reference non-background score >= ``confident``; 0 when there are none), ``confident`` (their count).
    Raises ToolError when the shapes differ.
    """
    ref_scores, scores = np.asarray(ref_scores, np.float64), np.asarray(scores, np.float64)
    ref_boxes, boxes = np.asarray(ref_boxes, np.float64), np.asarray(boxes, np.float64)
    if ref_scores.shape != scores.shape or ref_boxes.shape != boxes.shape:
        raise ToolError('output shapes differ: scores %s vs %s, boxes %s vs %s'
                        % (ref_scores.shape, scores.shape, ref_boxes.shape, boxes.shape))
    score_diff = np.abs(ref_scores - scores)
    box_diff = np.abs(ref_boxes - boxes).max(axis=-1)[0]
    mask = ref_scores[0, :, 1:].max(axis=-1) >= confident
    return {'score_max': float(score_diff.max()), 'score_mean': float(score_diff.mean()),
            'box_max': float(box_diff.max()), 'box_conf_max': float(box_diff[mask].max()) if mask.any() else 0.0,
            'confident': int(mask.sum())}


def summarize_diffs(per_image):
    """Aggregate ``compare_outputs`` dicts: max over images of the maxima, mean of the means."""
    if not per_image:
        return {}
    return {'images': len(per_image),
            'score_max': max(d['score_max'] for d in per_image),
            'score_mean': float(np.mean([d['score_mean'] for d in per_image])),
            'box_max': max(d['box_max'] for d in per_image),
            'box_conf_max': max(d['box_conf_max'] for d in per_image),
            'confident_priors': int(sum(d['confident'] for d in per_image))}


def parity_images(args):
    """``(name, path)`` pairs to compare on: --images, else the WIDER dev list (first --limit)."""
    from face_ssd_ros.detect.cli import collect_images
    if args.images:
        images = []
        for path in args.images:
            if os.path.isdir(path):
                images += [(os.path.relpath(os.path.join(r, f), path), os.path.join(r, f))
                           for r, _, fs in sorted(os.walk(path)) for f in sorted(fs)
                           if f.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp'))]
            else:
                images.append((path, path))
    else:
        listing = os.path.join(args.wider_dev, 'images.txt')
        if not os.path.isfile(listing):
            raise ToolError('no --images given and no WIDER dev set at %s (images.txt); pass --images or --wider-dev.'
                            % args.wider_dev)
        images = collect_images([], listing, os.path.join(args.wider_dev, 'images'))
    if args.limit:
        images = images[:args.limit]
    if not images:
        raise ToolError('no images to compare on')
    return images


def wider_ap(records_by_backend, wider_dev, names, log):
    """``{backend: {setting: AP}}`` on the WIDER dev subset ``names``, or None when the evaluator is unavailable."""
    try:
        from face_ssd_ros.evaluation.wider_gt import evaluate_wider, load_wider_eval_gt, predictions_from_records
        gt = load_wider_eval_gt(wider_dev, names)
    except (ImportError, OSError, KeyError) as exc:
        log('WIDER AP skipped: %s' % exc)
        return None
    return {key: evaluate_wider(predictions_from_records(records), gt).ap
            for key, records in records_by_backend.items()}


def run_parity(args, log=print):
    """Compare two backends on real images; returns the report dict (see ``main_parity``)."""
    from face_ssd_ros.detect.cli import DEFAULT_MAX_DETECTIONS, DEFAULT_SCORE_THRESHOLD, read_image_rgb
    from face_ssd_ros.detect.postprocess import postprocess
    from face_ssd_ros.detect.predictions import make_record
    from face_ssd_ros.detect.preprocess import preprocess

    ref_manifest = manifest_for(args.reference)
    cand_manifest = manifest_for(args.model)
    if (ref_manifest.width, ref_manifest.height, ref_manifest.labels) != \
            (cand_manifest.width, cand_manifest.height, cand_manifest.labels):
        raise ToolError('%s and %s are different models (input size or labels differ)' % (args.reference, args.model))
    images = parity_images(args)
    ref = open_backend(args.reference_backend, args.reference, ref_manifest, num_threads=args.threads)
    try:
        cand = open_backend(args.backend, args.model, cand_manifest, num_threads=args.threads, device=args.device)
    except ToolError:
        ref.close()
        raise
    diffs, records, names = [], {'reference': [], 'candidate': []}, []
    try:
        for name, path in images:
            try:
                image = read_image_rgb(path)
            except (IOError, OSError) as exc:
                log('skipping %s: %s' % (path, exc))
                continue
            batch = preprocess(image, ref_manifest)
            outputs = {'reference': ref.infer(batch), 'candidate': cand.infer(batch)}
            diffs.append(compare_outputs(outputs['reference'][0], outputs['reference'][1],
                                         outputs['candidate'][0], outputs['candidate'][1]))
            names.append(name)
            for key, (scores, boxes) in outputs.items():
                dets = postprocess(scores[0], boxes[0], image.shape[1], image.shape[0], ref_manifest.labels,
                                   DEFAULT_SCORE_THRESHOLD, ref_manifest.nms_iou, DEFAULT_MAX_DETECTIONS)
                records[key].append(make_record(name, image.shape[1], image.shape[0], [d.as_list() for d in dets]))
    finally:
        ref.close()
        cand.close()
    if not diffs:
        raise ToolError('none of the images could be read')
    report = {'reference': {'model': args.reference, 'backend': args.reference_backend},
              'candidate': {'model': args.model, 'backend': args.backend, 'precision': engine_precision(args.model)},
              'diffs': summarize_diffs(diffs), 'ap': None}
    if not args.images:
        ap = wider_ap(records, args.wider_dev, names, log)
        if ap is not None:
            report['ap'] = {k: {s: float(v) for s, v in ap[k].items()} for k in ap}
            report['ap']['difference'] = {s: float(ap['candidate'][s] - ap['reference'][s]) for s in ap['reference']}
    report['tolerances'], report['passed'] = check_tolerances(report, args)
    return report


def check_tolerances(report, args):
    """``(tolerances dict, passed)``: explicit --*-tol flags override the per-precision defaults."""
    default = TOLERANCES.get(report['candidate']['precision'], TOLERANCES['fp32'])
    tol = {'score': args.score_tol if args.score_tol is not None else default[0],
           'box': args.box_tol if args.box_tol is not None else default[1],
           'ap': args.ap_tol if args.ap_tol is not None else default[2]}
    diffs = report['diffs']
    passed = diffs['score_max'] <= tol['score'] and diffs['box_conf_max'] <= tol['box']
    if report.get('ap'):
        passed = passed and all(abs(v) <= tol['ap'] for v in report['ap']['difference'].values())
    return tol, bool(passed)


def format_parity(report):
    """Human-readable lines of a parity report."""
    d = report['diffs']
    lines = ['reference: %(backend)s %(model)s' % report['reference'],
             'candidate: %(backend)s %(model)s (%(precision)s)' % report['candidate'],
             'images: %d; max |score diff| %.2e (mean %.2e); max |box diff| %.2e over all priors, %.2e over %d '
             'confident priors' % (d['images'], d['score_max'], d['score_mean'], d['box_max'], d['box_conf_max'],
                                   d['confident_priors'])]
    if report.get('ap'):
        for setting in sorted(report['ap']['reference']):
            lines.append('WIDER dev AP %-6s reference %.4f  candidate %.4f  difference %+.4f'
                         % (setting, report['ap']['reference'][setting], report['ap']['candidate'][setting],
                            report['ap']['difference'][setting]))
    lines.append('tolerances %s -> %s' % (report['tolerances'], 'PASS' if report['passed'] else 'FAIL'))
    return lines


def build_parity_parser():
    p = argparse.ArgumentParser(prog='face-ssd-trt-parity',
                                description='Compare a TensorRT engine (or any model/backend) with the ONNX model '
                                            'on real images: raw score/box differences and the WIDER dev AP '
                                            'difference. Exit 0 = within tolerance, 1 = outside or error.')
    p.add_argument('model', help='candidate model: a TensorRT engine (with sidecar) or any model file')
    p.add_argument('--reference', required=True, metavar='MODEL.onnx', help='reference model (the exported ONNX)')
    p.add_argument('--backend', default='tensorrt', help='candidate backend (default %(default)s)')
    p.add_argument('--reference-backend', default='onnxruntime', help='reference backend (default %(default)s)')
    p.add_argument('--images', nargs='+', default=None, metavar='PATH',
                   help='image files/folders to compare on (default: the WIDER dev set, which also gives AP)')
    p.add_argument('--wider-dev', default=DEFAULT_WIDER_DEV, metavar='DIR',
                   help='WIDER dev folder (images.txt, images/, eval_ground_truth/); default %(default)s')
    p.add_argument('--limit', type=number(int, 0), default=0, help='use only the first N images (0 = all)')
    p.add_argument('--score-tol', type=number(float, 0.0), default=None,
                   help='max |score diff| allowed (default per precision)')
    p.add_argument('--box-tol', type=number(float, 0.0), default=None,
                   help='max |box diff| on confident priors, normalised units (default per precision)')
    p.add_argument('--ap-tol', type=number(float, 0.0), default=None,
                   help='max |AP difference| (default per precision)')
    p.add_argument('--threads', type=number(int, 0), default=2, help='ONNX Runtime threads (default %(default)s)')
    p.add_argument('--device', type=number(int, 0), default=0, help='CUDA device for TensorRT (default %(default)s)')
    p.add_argument('--json', default=None, metavar='OUT', help='also write the report as JSON')
    return p


def main_parity(argv=None):
    args = build_parity_parser().parse_args(argv)
    try:
        report = run_parity(args)
    except ToolError as exc:
        print('face-ssd-trt-parity: error: %s' % exc, file=sys.stderr)
        return 1
    for line in format_parity(report):
        print(line)
    if args.json:
        _write_json(args.json, report)
    return 0 if report['passed'] else 1


# ---------------------------------------------------------------------------------------------- benchmark
def bench_frames(paths, frame_sizes, count=20):
    """``{(w, h): [RGB uint8 frames]}``: up to ``count`` real images per size, resized (stretched) to it."""
    import cv2
    from face_ssd_ros.detect.cli import read_image_rgb
    from face_ssd_ros.engine.build import BuildError, list_calibration_images
    images = []
    try:
        files = list_calibration_images(paths, limit=count)
    except BuildError as exc:
        raise ToolError(str(exc))
    for path in files:
        try:
            images.append(read_image_rgb(path))
        except (IOError, OSError):
            continue
    if not images:
        raise ToolError('none of the images under %s could be read' % ', '.join(paths))
    return {size: [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images] for size in frame_sizes}


def bench_configs(args):
    """``[(label, backend, model_path)]`` to benchmark; TensorRT engines come from the cache (one per precision)."""
    configs = []
    for backend in args.backends:
        if backend == 'tensorrt':
            for precision in args.precisions:
                configs.append(('tensorrt %s' % precision, backend, precision))
        elif backend == 'onnxruntime':
            configs.append(('onnxruntime fp32 (%d threads)' % args.threads, backend, None))
        else:
            raise ToolError('face-ssd-trt-bench benchmarks onnxruntime and tensorrt, not %r' % backend)
    return configs


def resolve_engine(model_path, precision, cache_dir, device=0):
    """Cached engine of ``model_path`` for ``precision`` on this machine's TensorRT/GPU; ToolError if there is none."""
    from face_ssd_ros.detect.backends import BackendError
    from face_ssd_ros.detect.backends.tensorrt_backend import find_cached_engine, import_tensorrt, tensorrt_version
    try:
        trt, cuda = import_tensorrt()
        cuda.init()
        gpu = str(cuda.Device(device).name())
        version = tensorrt_version(trt)
    except BackendError as exc:
        raise ToolError(str(exc))
    path = find_cached_engine(cache_dir, model_path, manifest_for(model_path), precision, version, gpu)
    if path is None:
        raise ToolError('no %s engine in %s; build it with `%s`' % (precision, cache_dir, engine_cache.build_command(
            model_path, precision, cache_dir=cache_dir)))
    return path


def time_detector(detector, frames, warmup, runs):
    """Per-stage latency of ``detector.detect`` over ``runs`` calls cycling through ``frames``.

    Returns ``{stage: {'mean', 'p50', 'p95', 'max'}}`` in ms for preprocess, inference, postprocess and total,
    plus ``fps`` = 1000 / mean total (sequential throughput of one detector).
    """
    for i in range(warmup):
        detector.detect(frames[i % len(frames)])
    samples = {'preprocess': [], 'inference': [], 'postprocess': [], 'total': []}
    for i in range(runs):
        _, t = detector.detect(frames[i % len(frames)])
        for stage, value in (('preprocess', t.preprocess_ms), ('inference', t.inference_ms),
                             ('postprocess', t.postprocess_ms), ('total', t.total_ms)):
            samples[stage].append(value)
    out = {}
    for stage, values in samples.items():
        values = np.asarray(values)
        p50, p95 = np.percentile(values, [50, 95])
        out[stage] = {'mean': float(values.mean()), 'p50': float(p50), 'p95': float(p95), 'max': float(values.max())}
    out['fps'] = 1000.0 / out['total']['mean'] if out['total']['mean'] > 0 else float('inf')
    return out


def run_bench(args, log=print):
    """Benchmark every configuration at every frame size; returns a list of result dicts (skips explained)."""
    from face_ssd_ros.detect.inference import FaceDetector
    configs = bench_configs(args)
    frames = bench_frames(args.images, args.frame_sizes, args.num_images)
    cache_dir = args.cache_dir or engine_cache.default_cache_dir(args.model)
    results = []
    for label, backend, precision in configs:
        try:
            path = resolve_engine(args.model, precision, cache_dir, args.device) if backend == 'tensorrt' \
                else args.model
            detector = FaceDetector(path, backend=backend, num_threads=args.threads)
        except (ToolError, RuntimeError, ValueError, OSError) as exc:
            log('%-32s skipped: %s' % (label, exc))
            results.append({'config': label, 'skipped': str(exc)})
            continue
        try:
            for size in args.frame_sizes:
                stats = time_detector(detector, frames[size], args.warmup, args.runs)
                results.append({'config': label, 'model': path, 'frame': '%dx%d' % size,
                                'input': '%dx%d' % detector.input_size, 'runs': args.runs, 'stats': stats})
                log(format_bench_row(results[-1]))
        finally:
            detector.close()
    return results


def format_bench_row(result):
    s = result['stats']
    return ('%-32s frame %-9s input %-9s pre %6.2f  infer %7.2f (p95 %7.2f)  post %6.2f  total %7.2f ms  %7.1f FPS'
            % (result['config'], result['frame'], result['input'], s['preprocess']['mean'], s['inference']['mean'],
               s['inference']['p95'], s['postprocess']['mean'], s['total']['mean'], s['fps']))


def _sizes(text):
    try:
        return [engine_cache.parse_wh(part) for part in text.split(',') if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def _names(text):
    return [part.strip() for part in text.split(',') if part.strip()]


def build_bench_parser():
    p = argparse.ArgumentParser(prog='face-ssd-trt-bench',
                                description='Per-stage latency (preprocess / inference / postprocess, mean and p95) '
                                            'and throughput per backend and precision, on real images resized to '
                                            'each frame size. Timings are of this machine only.')
    p.add_argument('model', metavar='MODEL.onnx', help='exported ONNX model (TensorRT engines are looked up in the '
                                                       'engine cache: build them with face-ssd-build-engine)')
    p.add_argument('--backends', type=_names, default=['onnxruntime', 'tensorrt'],
                   help='comma-separated (default onnxruntime,tensorrt; unavailable ones are reported as skipped)')
    p.add_argument('--precisions', type=_names, default=['fp32', 'fp16', 'int8'],
                   help='TensorRT precisions (default fp32,fp16,int8; engines missing from the cache are skipped)')
    p.add_argument('--frame-sizes', type=_sizes, default=[(320, 240), (640, 480)], metavar='WxH,...',
                   help='camera frame sizes (default 320x240,640x480)')
    p.add_argument('--images', nargs='+', default=[DEFAULT_BENCH_IMAGES], metavar='PATH',
                   help='real images to time on (default %(default)s)')
    p.add_argument('--num-images', type=number(int, 1), default=20,
                   help='images to cycle through (default %(default)s)')
    p.add_argument('--cache-dir', default=None,
                   help='engine cache (default $FACE_SSD_ENGINE_CACHE, else MODEL_DIR/engines)')
    p.add_argument('--warmup', type=number(int, 0), default=10, help='untimed calls first (default %(default)s)')
    p.add_argument('--runs', type=number(int, 1), default=100,
                   help='timed calls per configuration (default %(default)s)')
    p.add_argument('--threads', type=number(int, 0), default=2, help='ONNX Runtime threads (default %(default)s)')
    p.add_argument('--device', type=number(int, 0), default=0, help='CUDA device (default %(default)s)')
    p.add_argument('--json', default=None, metavar='OUT', help='also write the results as JSON')
    return p


def main_bench(argv=None):
    args = build_bench_parser().parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        print('face-ssd-trt-bench: error: --runs must be >= 1 and --warmup >= 0', file=sys.stderr)
        return 2
    try:
        results = run_bench(args)
    except (ToolError, RuntimeError) as exc:
        print('face-ssd-trt-bench: error: %s' % exc, file=sys.stderr)
        return 1
    if args.json:
        _write_json(args.json, {'model': args.model, 'results': results,
                                'time': time.strftime('%Y-%m-%dT%H:%M:%S')})
    return 0 if any('stats' in r for r in results) else 1


def _write_json(path, data):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        os.makedirs(parent)
    with open(path, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')

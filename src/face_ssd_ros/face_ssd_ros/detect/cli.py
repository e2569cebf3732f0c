"""``face-ssd-detect``: run an exported face_ssd model over image files and write predictions JSON Lines.

Example::

    face-ssd-detect --images-from ../shared/data/faces/wider_dev/images.txt \\
        --root ../shared/data/faces/wider_dev/images --out runs/pred/wider_dev.jsonl

Each output line is ``{"image", "width", "height", "boxes": [[x1, y1, x2, y2, score, "label"], ...]}`` in pixels of
the original image (see docs/ARCHITECTURE.md); an unreadable image gets ``{"image", "error"}`` and the run goes on.
"""
import argparse
import os
import sys
import time

import numpy as np

from face_ssd_ros.cli.args import number
from face_ssd_ros.detect.predictions import PredictionWriter, make_error_record, make_record

DEFAULT_SCORE_THRESHOLD = 0.01
DEFAULT_MAX_DETECTIONS = 1000
BACKENDS = ('auto', 'onnxruntime', 'tensorrt', 'torch')


def parse_size(text):
    """``"640x480"`` -> ``(640, 480)``; raises argparse.ArgumentTypeError otherwise."""
    parts = str(text).lower().replace('*', 'x').split('x')
    try:
        w, h = int(parts[0]), int(parts[1])
        if len(parts) != 2 or w <= 0 or h <= 0:
            raise ValueError
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError('size must look like WIDTHxHEIGHT, e.g. 640x480, got %r' % (text,))
    return w, h


def read_image_rgb(path):
    """Read an image file as RGB uint8 ``[H, W, 3]`` in stored pixel orientation (EXIF rotation is NOT applied,
    as annotation tools and the WIDER/VOC ground truth use stored pixels). Raises IOError if it cannot be decoded,
    a truncated JPEG / PNG included (the rule of :mod:`face_ssd_ros.camera.decode`)."""
    import cv2

    from face_ssd_ros.camera.decode import ImageDecodeError, read_image_file
    if not os.path.isfile(path):
        raise IOError('no such file')
    try:
        img = read_image_file(path)
    except ImageDecodeError as exc:
        raise IOError('not a readable image: %s' % exc)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def collect_images(paths, images_from=None, root=None):
    """Resolve the images to process.

    Args:
        paths: image paths or folders from the command line (a folder stands for its images, sorted, as the
            camera plays it).
        images_from: optional text file with one path per line (blank lines and '#' comments skipped).
        root: optional folder that relative paths are taken from.
    Returns:
        list of ``(name, full_path)``: ``name`` is the path as given (relative to ``root``) and is what the
        predictions file records; ``full_path`` is where it is read from.
    """
    names = list(paths or ())
    if images_from:
        with open(images_from) as f:
            names.extend(ln.strip() for ln in f if ln.strip() and not ln.strip().startswith('#'))
    from face_ssd_ros.camera.source import list_images
    out = []
    for n in names:
        full = n if (root is None or os.path.isabs(n)) else os.path.join(root, n)
        if os.path.isdir(full):
            out.extend((os.path.join(n, os.path.relpath(p, full)), p) for p in list_images(full))
        else:
            out.append((n, full))
    return out


def build_detector(model=None, backend='auto', score_threshold=DEFAULT_SCORE_THRESHOLD, nms_iou=None,
                   max_detections=DEFAULT_MAX_DETECTIONS, threads=2, input_size=None):
    """Create a :class:`face_ssd_ros.detect.inference.FaceDetector` (``model=None``: the shipped default model).

    Args:
        input_size: ``(w, h)``; must equal the model's input size unless its manifest says ``dynamic_size``.
        threads: ONNX Runtime intra-op threads.
    Raises:
        SystemExit-friendly ValueError / ManifestError / BackendError with a message that says what to do.
    """
    from face_ssd_ros.detect.inference import FaceDetector
    return FaceDetector(model_path=model, backend=backend, score_threshold=score_threshold, nms_iou=nms_iou,
                        max_detections=max_detections, num_threads=threads, input_size=input_size)


def _progress(items, enabled):
    """``items`` wrapped in a tqdm progress bar on stderr when tqdm is installed (the robot images have none)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, desc='detect', unit='img', file=sys.stderr, disable=not enabled)


def detect_images(detector, images, writer, progress=True):
    """Run ``detector`` on every image and write one record per image.

    Args:
        detector: object with ``detect(image_rgb) -> (detections, stage_times)``.
        images: list of ``(name, full_path)`` from :func:`collect_images`.
        writer: a :class:`PredictionWriter` (or anything with ``write(record)``).
    Returns:
        dict: ``images`` (processed), ``failed`` (list of (name, reason)), ``wall_s`` (total, reading included),
        ``detect_ms`` (list of per-image ``detect()`` times in ms).
    """
    failed, detect_ms = [], []
    t_start = time.perf_counter()
    for name, full in _progress(images, progress):
        try:
            image = read_image_rgb(full)
        except (IOError, OSError) as e:
            failed.append((name, str(e)))
            writer.write(make_error_record(name, '%s: %s' % (full, e)))
            continue
        t0 = time.perf_counter()
        try:
            detections, _ = detector.detect(image)
        except (ValueError, RuntimeError) as e:   # e.g. ModelOutputError (NaN outputs): report, keep going
            failed.append((name, str(e)))
            writer.write(make_error_record(name, '%s: detection failed: %s' % (full, e)))
            continue
        detect_ms.append((time.perf_counter() - t0) * 1000.0)
        h, w = image.shape[:2]
        writer.write(make_record(name, w, h, [d.as_list() for d in detections]))
    return {'images': len(images), 'failed': failed, 'wall_s': time.perf_counter() - t_start,
            'detect_ms': detect_ms}


def summary_line(stats):
    """One human line: images/s over the whole run and mean / median detect() ms per image."""
    ok = len(stats['detect_ms'])
    ips = ok / stats['wall_s'] if stats['wall_s'] > 0 else float('nan')
    mean = float(np.mean(stats['detect_ms'])) if ok else float('nan')
    med = float(np.median(stats['detect_ms'])) if ok else float('nan')
    return ('%d image(s) detected, %d failed; %.2f images/s overall (reading included); detect() %.1f ms mean, '
            '%.1f ms median per image' % (ok, len(stats['failed']), ips, mean, med))


def add_detector_args(p, score_default=DEFAULT_SCORE_THRESHOLD):
    """Options shared by face-ssd-detect and face-ssd-eval ``--model``."""
    p.add_argument('--score-threshold', type=number(float, 0.0, 1.0), default=score_default,
                   help='keep boxes with score >= this (default %(default)s: low, for AP)')
    p.add_argument('--nms-iou', type=number(float, 0.0, 1.0, low_open=True), default=None,
                   help="NMS IoU (default: the model manifest's)")
    p.add_argument('--max-detections', type=number(int, 1), default=DEFAULT_MAX_DETECTIONS,
                   help='boxes kept per image after NMS (default %(default)s)')
    p.add_argument('--input-size', type=parse_size, default=None, metavar='WxH',
                   help='network input size (default: the model\'s); another size runs the model\'s sibling exported '
                        'at it (<stem>_WxH.onnx: the shipped model has 320x240 and 640x480) or a dynamic-size model')
    p.add_argument('--backend', choices=BACKENDS, default='auto', help='inference backend (default %(default)s)')
    p.add_argument('--threads', type=number(int, 0), default=2,
                   help='ONNX Runtime intra-op threads (default %(default)s)')


def build_parser():
    p = argparse.ArgumentParser(prog='face-ssd-detect', description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('images', nargs='*', metavar='IMAGE', help='image files or folders (a folder: its images, sorted)')
    p.add_argument('--model', default=None, help='model file (.onnx/.engine/.pt); default: the shipped default model')
    p.add_argument('--images-from', default=None, metavar='LIST', help='text file with one image path per line')
    p.add_argument('--root', default=None, metavar='DIR', help='folder that relative image paths are taken from')
    p.add_argument('--out', required=True, metavar='PRED.jsonl', help='predictions file to write')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    add_detector_args(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        images = collect_images(args.images, args.images_from, args.root)
    except (IOError, OSError) as e:
        print('face-ssd-detect: cannot read the image list: %s' % e, file=sys.stderr)
        return 2
    if not images:
        print('face-ssd-detect: no images given: pass IMAGE paths or folders, or --images-from LIST (a folder '
              'given holds no .jpg/.png/... image)', file=sys.stderr)
        return 2
    try:
        detector = build_detector(args.model, args.backend, args.score_threshold, args.nms_iou,
                                  args.max_detections, args.threads, args.input_size)
    except (ValueError, RuntimeError, IOError, OSError) as e:
        print('face-ssd-detect: cannot load the model: %s' % e, file=sys.stderr)
        return 2
    if getattr(getattr(detector, 'backend', None), 'note', None):
        print('face-ssd-detect: %s' % detector.backend.note, file=sys.stderr)
    try:
        try:
            writer = PredictionWriter(args.out)
        except (IOError, OSError) as e:
            print('face-ssd-detect: cannot write the predictions to --out %s: %s' % (args.out, e), file=sys.stderr)
            return 2
        with writer as w:
            stats = detect_images(detector, images, w, progress=not args.quiet)
    finally:
        close = getattr(detector, 'close', None)
        if close is not None:
            close()
    for name, reason in stats['failed']:
        print('face-ssd-detect: skipped %s: %s' % (name, reason), file=sys.stderr)
    print(summary_line(stats), file=sys.stderr)
    print('predictions: %s' % args.out, file=sys.stderr)
    return 0 if len(stats['failed']) < len(images) else 1


if __name__ == '__main__':
    sys.exit(main())

"""``face-ssd-eval``: evaluate predictions (or a model) with the official WIDER FACE protocol or VOC AP.

Examples::

    # predictions from face-ssd-detect / scripts/baselines, official Easy / Medium / Hard AP on wider_dev
    face-ssd-eval wider --pred pred.jsonl --gt-dir ../shared/data/faces/wider_dev --plot pr.png --json wider.json
    # run a model first (plus params, GMACs and CPU latency at batch 1)
    face-ssd-eval wider --model runs/x/model.onnx --gt-dir ../shared/data/faces/wider_dev --json wider.json
    # VOC AP at IoU 0.5 with ground truth read by face_ssd_training.data
    face-ssd-eval voc --pred pred.jsonl --format wider faces/fddb/images faces/fddb/fddb_bbx_gt.txt
    face-ssd-eval voc --pred pred.jsonl --format openimages plates --split test
    # per-class AP plus per-image accuracy (a face found with the right class at score >= 0.5)
    face-ssd-eval voc --pred pred.jsonl --format csv faces/selfies/images faces/selfies/original_classes.csv \
        --images config/training/splits/selfies_test.txt --accuracy-threshold 0.5
    # a model on the held-out split of a training config (data.val), with per-image accuracy
    face-ssd-eval config --config config/training/finetune_identities.yaml --model runs/identities/identities.onnx \
        --accuracy-threshold 0.5 --json identities.json
    # a Markdown table of several such results (+ training time from each run's metrics.csv)
    face-ssd-eval table 'fine-tuned=identities.json,runs/finetune_identities/metrics.csv' 'scratch=scratch.json'
    # several result JSONs on one figure
    face-ssd-eval plot a.json b.json --out compare.png
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

from face_ssd_ros.detect.predictions import PredictionsFormatError, image_key, read_predictions, record_boxes


# ----------------------------------------------------------------------------------------------------- helpers
def _round_list(values, digits=5):
    return [round(float(v), digits) for v in np.asarray(values).reshape(-1)]


def _write_json(path, data):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=1)


def _fmt(v, pct=True):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return 'n/a'
    return '%.1f' % (100.0 * v) if pct else '%.3f' % v


def error_records(records):
    """``[(image, error)]`` of the records that say an image could not be processed."""
    return [(r['image'], r['error']) for r in records if 'error' in r]


def model_complexity(model_path, input_size, threads=2, runs=30, warmup=5):
    """Params / GMACs / network-only ONNX Runtime latency of an ``.onnx`` model at ``input_size`` (w, h).

    Returns a dict (empty entries for what cannot be computed, with a ``note``); never raises for a non-ONNX model.
    """
    from face_ssd_training.eval.flops import onnx_complexity
    from face_ssd_training.eval.latency import measure_onnx_latency
    out = {'input_size': list(input_size)}
    if not str(model_path).lower().endswith('.onnx'):
        out['note'] = 'params / GMACs / ONNX Runtime latency need an .onnx model'
        return out
    shape = (1, 3, int(input_size[1]), int(input_size[0]))
    cx = onnx_complexity(model_path, shape)
    out.update({'params': cx['params'], 'gmacs': cx['gmacs'], 'gflops': cx['gflops']})
    if runs > 0:
        out['latency_ms'] = measure_onnx_latency(model_path, shape, threads=threads, warmup=warmup, runs=runs)
    return out


def run_model(args, images, image_root, out_path):
    """Run ``args.model`` (face-ssd-detect options in ``args``) on ``images`` -> detect stats; writes ``out_path``."""
    from face_ssd_ros.detect.cli import build_detector, collect_images, detect_images, summary_line
    from face_ssd_ros.detect.predictions import PredictionWriter
    detector = build_detector(args.model, args.backend, args.score_threshold, args.nms_iou, args.max_detections,
                              args.threads, args.input_size)
    try:
        with PredictionWriter(out_path) as w:
            stats = detect_images(detector, collect_images(images, None, image_root), w, progress=not args.quiet)
        stats['input_size'] = list(detector.input_size)
        stats['model_path'] = detector.model_path
    finally:
        detector.close()
    print(summary_line(stats), file=sys.stderr)
    return stats


def _detect_summary(stats):
    ms = stats['detect_ms']
    return {'images': len(ms), 'failed': len(stats['failed']),
            'images_per_s': len(ms) / stats['wall_s'] if stats['wall_s'] > 0 else None,
            'detect_mean_ms': float(np.mean(ms)) if ms else None,
            'detect_median_ms': float(np.median(ms)) if ms else None}


# ----------------------------------------------------------------------------------------------------- wider
def format_wider_table(name, result, extra=None):
    """Printable table of one WIDER result (AP in %)."""
    from face_ssd_ros.evaluation.wider_gt import SETTINGS
    lines = ['%-28s %8s %8s %8s' % ('model', 'easy', 'medium', 'hard'),
             '%-28s %8s %8s %8s' % ((name[:28],) + tuple(_fmt(result.ap[s]) for s in SETTINGS)),
             '%-28s %8s %8s %8s' % (('faces counted',) + tuple(str(result.num_faces[s]) for s in SETTINGS))]
    for k, v in (extra or {}).items():
        lines.append('%-28s %s' % (k, v))
    return '\n'.join(lines)


def cmd_wider(args):
    from face_ssd_ros.evaluation.wider_gt import (SETTINGS, evaluate_wider, load_wider_eval_gt,
                                                  predictions_from_records, read_image_list)
    images_txt = args.images or os.path.join(args.gt_dir, 'images.txt')
    images = read_image_list(images_txt) if os.path.isfile(images_txt) else None
    if args.images and images is None:
        raise FileNotFoundError('image list %s not found' % args.images)
    gt = load_wider_eval_gt(args.gt_dir, images)
    report = {'task': 'wider', 'gt_dir': os.path.abspath(args.gt_dir), 'images_list': images_txt if images else None}
    extra = {}
    if args.model is not None or args.pred is None:
        if images is None:
            raise ValueError('--model needs an image list: %s is missing; pass --images LIST' % images_txt)
        image_root = args.image_root or os.path.join(args.gt_dir, 'images')
        pred_path = args.save_pred or os.path.join(tempfile.mkdtemp(prefix='face_ssd_eval_'), 'pred.jsonl')
        stats = run_model(args, images, image_root, pred_path)
        name = args.name or os.path.splitext(os.path.basename(stats['model_path']))[0]
        report['model'] = model_complexity(stats['model_path'], stats['input_size'], args.threads, args.bench_runs)
        report['detect'] = _detect_summary(stats)
        m = report['model']
        if 'params' in m:
            extra['params'] = '%.3f M' % (m['params'] / 1e6)
            extra['GMACs (GFLOPs = 2x)'] = '%.3f at %dx%d' % (m['gmacs'], m['input_size'][0], m['input_size'][1])
        if 'latency_ms' in m:
            extra['CPU ms/img, network only'] = '%.1f median (ONNX Runtime, %d threads, batch 1, %d runs)' % (
                m['latency_ms']['median_ms'], args.threads, m['latency_ms']['runs'])
        if report['detect']['detect_mean_ms'] is not None:
            extra['CPU ms/img, detect()'] = '%.1f mean (resize + network + NMS)' % report['detect']['detect_mean_ms']
    else:
        pred_path = args.pred
        name = args.name or os.path.splitext(os.path.basename(pred_path))[0]
    records = read_predictions(pred_path)
    labels = [args.label] if args.label else None
    if not records:
        raise ValueError('%s holds no prediction line: write it with face-ssd-detect --out' % pred_path)
    result = evaluate_wider(predictions_from_records(records, labels), gt, args.iou)
    if gt and len(result.missing) == len(gt):
        raise ValueError('none of the %d prediction lines matches an image of %s (e.g. %s): were they made on this '
                         'dataset?' % (len(records), args.gt_dir, records[0]['image']))
    errors = error_records(records)
    report.update({'name': name, 'pred': os.path.abspath(pred_path), 'label': args.label})
    report.update(result.to_dict())
    report['errors'] = [{'image': i, 'error': e} for i, e in errors]
    report['curves'] = {s: {'recall': _round_list(r), 'precision': _round_list(p)}
                        for s, (r, p) in result.curves.items()}
    if result.missing:
        extra['images without predictions'] = '%d (e.g. %s)' % (len(result.missing), result.missing[0])
    if errors:
        extra['images that failed'] = '%d (e.g. %s: %s)' % (len(errors), errors[0][0], errors[0][1])
    print(format_wider_table(name, result, extra))
    if args.plot:
        from face_ssd_training.eval.plots import plot_pr_curves, wider_curves
        plot_pr_curves(wider_curves(result), args.plot, 'WIDER FACE (%d images): %s' % (len(gt), name))
        print('plot: %s' % args.plot)
    if args.json:
        _write_json(args.json, report)
        print('json: %s' % args.json)
    if not set(SETTINGS) <= set(result.ap):
        return 1
    return 0


# ----------------------------------------------------------------------------------------------------- voc
def gt_from_wider_file(gt_file, min_size=0.0):
    """WIDER bbx_gt file -> ``({relpath: {"boxes", "labels", "ignore"}}, {relpath: relpath})``.

    Boxes flagged ``invalid``, degenerate (w or h <= 0) or smaller than ``min_size`` pixels are ignore regions.
    """
    from face_ssd_training.data import load_wider_gt
    from face_ssd_training.data.wider import INVALID_COLUMN
    gt, paths = {}, {}
    for relpath, xywh, attrs in load_wider_gt(gt_file):
        xywh = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
        keep = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)
        ignore = ~keep | (np.minimum(xywh[:, 2], xywh[:, 3]) < min_size)
        if len(attrs):
            ignore |= np.asarray(attrs)[:, INVALID_COLUMN] != 0
        boxes = xywh.copy()
        boxes[:, 2:] += boxes[:, :2]
        gt[relpath] = {'boxes': boxes, 'labels': ['face'] * len(boxes), 'ignore': ignore}
        paths[relpath] = relpath
    return gt, paths


def gt_from_dataset(ds, min_size=0.0):
    """A face_ssd_training.data dataset -> ``({image_id: {"boxes", "labels" (names), "ignore"}}, {image_id: path})``.

    Uses the indexed records (no image decoding). A record attribute ``difficult`` / ``ignore`` (bool [K]), if the
    loader provides one, marks ignore regions; boxes smaller than ``min_size`` pixels are ignored too.
    """
    gt, paths = {}, {}
    for r in ds.records:
        boxes = np.asarray(r.boxes, dtype=np.float64).reshape(-1, 4)
        flags = getattr(r, 'difficult', None)
        if flags is None:
            flags = getattr(r, 'ignore', None)
        ignore = np.zeros(len(boxes), bool) if flags is None else np.asarray(flags, bool).reshape(-1)
        ignore = ignore | (np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) < min_size)
        labels = [int(i) for i in r.labels]
        region = np.asarray([i < 0 for i in labels], bool).reshape(-1)   # the loader's ignore regions (label -1)
        names = [ds.labels[i] for i in labels if i >= 0]
        classes = ds.labels[1:]
        # an ignore region has no class: it is one ignore box of every class
        boxes = np.concatenate([boxes[~region]] + [boxes[region]] * len(classes)).reshape(-1, 4)
        names += [c for c in classes for _ in range(int(region.sum()))]
        ignore = np.concatenate([ignore[~region]] + [np.ones(int(region.sum()), bool)] * len(classes))
        gt[r.image_id] = {'boxes': boxes, 'labels': names, 'ignore': ignore}
        paths[r.image_id] = r.image_path
    return gt, paths


def mark_voc_difficult(gt, root):
    """Set ``ignore`` on the boxes that the VOC XML flags ``<difficult>1`` (matched by coordinates, IoU > 0.95,
    since the dataset index may have clipped a box to its image)."""
    from face_ssd_training.data.voc import parse_voc_xml
    from face_ssd_training.eval.boxes import iou_matrix
    for image_id, entry in gt.items():
        xml = os.path.join(root, 'Annotations', image_id + '.xml')
        if not len(entry['boxes']) or not os.path.isfile(xml):
            continue
        hard = [coords for _, coords, difficult, _ in parse_voc_xml(xml)[2] if difficult]
        if hard:
            entry['ignore'] = entry['ignore'] | (iou_matrix(entry['boxes'], hard).max(axis=1) > 0.95)


def align_predictions(records, gt_paths, agnostic=False):
    """Pair prediction records with ground-truth images by path.

    Keys are the last ``d`` path components without extension, with the smallest ``d`` (1..4) that is unique
    over the ground truth. Returns ``(predictions {gt_id: rows}, unmatched [image paths])``.
    """
    ids = list(gt_paths)
    for depth in range(1, 5):
        keys = {image_key(gt_paths[i], depth): i for i in ids}
        if len(keys) == len(ids):
            break
    else:
        raise ValueError('ground-truth image paths are not unique (even by their last 4 components)')
    preds, unmatched = {}, []
    for rec in records:
        gid = keys.get(image_key(rec['image'], depth))
        if gid is None:
            unmatched.append(rec['image'])
            continue
        if 'error' in rec:
            continue
        rows = record_boxes(rec)
        labels = ['object' if agnostic else str(b[5]) for b in rec['boxes']]
        preds[gid] = [tuple(row) + (lab,) for row, lab in zip(rows.tolist(), labels)]
    return preds, unmatched


def cmd_voc(args):
    if args.format == 'wider':
        if len(args.paths) != 2:
            raise ValueError('--format wider expects IMAGES_DIR GT_FILE')
        gt, paths = gt_from_wider_file(args.paths[1], args.min_size)
    else:
        from face_ssd_training.data.validate import build_dataset
        kwargs = {'verify': 'header', 'labels': args.labels}
        if args.format == 'voc':
            kwargs.update(image_set=args.image_set, keep_difficult=True)   # difficult -> ignore, not dropped
        if args.format == 'openimages':
            kwargs['split'] = args.split
        ds = build_dataset(args.format, args.paths, **kwargs)
        if ds.report.issues:
            print('ground truth: %s' % ds.report.format().splitlines()[0], file=sys.stderr)
        gt, paths = gt_from_dataset(ds, args.min_size)
        if args.format == 'voc':
            mark_voc_difficult(gt, args.paths[0])
    if args.images:
        from face_ssd_ros.evaluation.wider_gt import read_image_list
        wanted = {image_key(p, 1) for p in read_image_list(args.images)}
        gt = {k: v for k, v in gt.items() if image_key(paths[k], 1) in wanted}
        paths = {k: paths[k] for k in gt}
    if not gt:
        raise ValueError('no ground-truth images to evaluate (check the dataset paths and --images)')
    name = args.name or os.path.splitext(os.path.basename(args.pred))[0]
    return report_voc(args, gt, paths, read_predictions(args.pred), name,
                      {'pred': os.path.abspath(args.pred), 'format': args.format, 'paths': args.paths})


def report_voc(args, gt, paths, records, name, meta):
    """Score prediction ``records`` against ``gt`` / ``paths`` (see :func:`gt_from_dataset`), print the table and
    write ``args.plot`` / ``args.json``; ``meta``: extra entries of the JSON report. Returns 0."""
    from face_ssd_training.eval.voc import evaluate_detections, recall_at_fp_per_image
    if not records:
        raise ValueError('the predictions hold no line: write them with face-ssd-detect --out')
    preds, unmatched = align_predictions(records, paths, args.agnostic)
    if args.agnostic:
        gt = {k: dict(v, labels=['object'] * len(v['labels'])) for k, v in gt.items()}
    if not preds and records:
        raise ValueError('none of the %d prediction lines matches a ground-truth image (e.g. %s): were they made on '
                         'this dataset?' % (len(records), records[0]['image']))
    result = evaluate_detections(preds, gt, args.iou, args.use_07_metric)
    fppi = [float(v) for v in args.fppi.split(',')] if args.fppi else []
    rec_at = recall_at_fp_per_image(preds, gt, fppi, None, args.iou) if fppi else {}
    print('%-24s %8s %8s %8s' % ('class', 'AP', 'GT', 'det'))
    for lab, ap in result.ap.items():
        print('%-24s %8s %8d %8d' % (str(lab)[:24], _fmt(ap), result.num_gt[lab], result.num_det[lab]))
    print('%-24s %8s   (IoU %.2f, %s, %d images)' % ('mAP', _fmt(result.map), args.iou,
                                                    '11-point VOC2007' if args.use_07_metric else 'VOC2010+ area',
                                                    len(gt)))
    for f, r in rec_at.items():
        print('recall at %.2f FP/image (all classes): %s' % (f, _fmt(r)))
    accuracy = None
    if args.accuracy_threshold is not None:
        from face_ssd_training.eval.accuracy import format_accuracy, image_accuracy
        accuracy = image_accuracy(preds, gt, args.iou, args.accuracy_threshold)
        print(format_accuracy(accuracy))
    errors = error_records(records)
    if unmatched:
        print('%d prediction line(s) matched no ground-truth image (e.g. %s)' % (len(unmatched), unmatched[0]))
    if errors:
        print('%d image(s) failed in the prediction run (e.g. %s)' % (len(errors), errors[0][0]))
    if args.plot:
        from face_ssd_training.eval.plots import plot_pr_curves, voc_curves
        plot_pr_curves(voc_curves(result), args.plot, 'VOC AP@%.2f: %s' % (args.iou, name))
        print('plot: %s' % args.plot)
    if args.json:
        report = dict(meta, task='voc', name=name)
        report.update({'iou': args.iou, 'use_07_metric': args.use_07_metric, 'images': len(gt),
                       'recall_at_fppi': {str(k): v for k, v in rec_at.items()},
                       'unmatched_predictions': len(unmatched),
                       'errors': [{'image': i, 'error': e} for i, e in errors]})
        report.update(result.to_dict())
        if accuracy is not None:
            report['image_accuracy'] = accuracy
        report['curves'] = {str(k): {'recall': _round_list(r), 'precision': _round_list(p), 'ap': result.ap[k]}
                            for k, (r, p) in result.curves.items()}
        _write_json(args.json, report)
        print('json: %s' % args.json)
    return 0


# ----------------------------------------------------------------------------------------------------- config
def gt_from_config(config_paths, overrides=(), section='val', min_size=0.0):
    """Ground truth of a training config's ``data.val`` (or ``data.train``) datasets, read by the loaders and entry
    keys training uses (``image_list`` splits, ``class_name``, the config's labels).

    Returns ``(gt, paths, labels)`` as :func:`gt_from_dataset`, keys ``"<dataset index>/<image id>"``.
    """
    from face_ssd_training.config import load_config
    from face_ssd_training.data.labels import resolve_labels
    from face_ssd_training.train import build_dataset
    cfg = load_config(config_paths, overrides)
    base = os.path.dirname(os.path.abspath(config_paths[0]))
    labels = resolve_labels(cfg['data']['labels'])
    specs = cfg['data'][section]
    if not specs:
        raise ValueError('%s has no data.%s datasets to evaluate on' % (', '.join(config_paths), section))
    gt, paths = {}, {}
    for i, spec in enumerate(specs):
        ds = build_dataset(spec, labels, None, base)
        if ds.report.issues:
            print('ground truth data.%s[%d]: %s' % (section, i, ds.report.format().splitlines()[0]), file=sys.stderr)
        g, p = gt_from_dataset(ds, min_size)
        for key in g:
            gt['%d/%s' % (i, key)] = g[key]
            paths['%d/%s' % (i, key)] = p[key]
    return gt, paths, labels


def cmd_config(args):
    gt, paths, _labels = gt_from_config(args.config, args.overrides, args.section, args.min_size)
    meta = {'config': [os.path.abspath(c) for c in args.config], 'section': args.section,
            'overrides': list(args.overrides)}
    if args.pred is None:   # --model (None after "default": the shipped model)
        pred_path = args.save_pred or os.path.join(tempfile.mkdtemp(prefix='face_ssd_eval_'), 'pred.jsonl')
        stats = run_model(args, sorted(set(paths.values())), None, pred_path)
        meta.update(model=os.path.abspath(stats['model_path']), detect=_detect_summary(stats))
        name = args.name or os.path.splitext(os.path.basename(stats['model_path']))[0]
    else:
        pred_path = args.pred
        name = args.name or os.path.splitext(os.path.basename(args.pred))[0]
    meta['pred'] = os.path.abspath(pred_path)
    return report_voc(args, gt, paths, read_predictions(pred_path), name, meta)


def cmd_table(args):
    from face_ssd_training.eval.table import main_table
    return main_table(args)


# ----------------------------------------------------------------------------------------------------- plot
def cmd_plot(args):
    from face_ssd_training.eval.plots import plot_models
    models = {}
    for path in args.results:
        with open(path) as f:
            try:
                rep = json.load(f)
            except ValueError as exc:   # not JSON, not UTF-8
                raise ValueError('%s is not a JSON evaluation report (face-ssd-eval ... --json): %s' % (path, exc))
        if not isinstance(rep, dict) or 'curves' not in rep:
            raise ValueError('%s has no "curves": write it with face-ssd-eval ... --json' % path)
        aps = rep.get('ap') if isinstance(rep.get('ap'), dict) else {}
        if not aps and 'classes' in rep:
            aps = {k: v.get('ap') for k, v in rep['classes'].items()}
        name = rep.get('name') or os.path.basename(path)
        models[name] = {s: (c['recall'], c['precision'], float('nan') if aps.get(s) is None else aps[s])
                        for s, c in rep['curves'].items()}
    plot_models(models, args.out, args.title)
    print('plot: %s' % args.out)
    return 0


# ----------------------------------------------------------------------------------------------------- main
def _voc_scoring_args(v):
    v.add_argument('--iou', type=float, default=0.5)
    v.add_argument('--use-07-metric', action='store_true', help='11-point AP (VOC2007) instead of the area')
    v.add_argument('--min-size', type=float, default=0.0, help='ground-truth boxes smaller than this (px) are ignored')
    v.add_argument('--agnostic', action='store_true', help='ignore labels (one class)')
    v.add_argument('--accuracy-threshold', type=float, default=None, metavar='SCORE',
                   help='also report per-image accuracy: an image is correct when one of its objects is found with '
                        'the right class at score >= SCORE (and IoU >= --iou); per class too')
    v.add_argument('--fppi', default='0.1,0.5,1.0', help='report recall at these FP per image ("" = skip)')
    v.add_argument('--name', default=None, help='name in the table / plots (default: file name)')
    v.add_argument('--plot', default=None, help='write the PR curves to this PNG')
    v.add_argument('--json', default=None, help='write the results (with curves) to this JSON')


def build_parser():
    from face_ssd_ros.detect.cli import add_detector_args
    p = argparse.ArgumentParser(prog='face-ssd-eval', description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command')

    w = sub.add_parser('wider', help='official WIDER FACE Easy / Medium / Hard AP')
    src = w.add_mutually_exclusive_group(required=True)
    src.add_argument('--pred', help='predictions JSONL (face-ssd-detect)')
    src.add_argument('--model', help='run this model (.onnx/.engine/.pt) first; "default" = the shipped model')
    w.add_argument('--gt-dir', required=True, help='dataset folder with eval_ground_truth/*.mat (or the .mat folder)')
    w.add_argument('--images', default=None, help='evaluated images (default: GT_DIR/images.txt if present, else all)')
    w.add_argument('--image-root', default=None, help='--model: image folder (default: GT_DIR/images)')
    w.add_argument('--save-pred', default=None, help='--model: where to keep the predictions JSONL')
    w.add_argument('--label', default=None, help='only boxes with this label (default: every box)')
    w.add_argument('--iou', type=float, default=0.5, help='IoU threshold (official: 0.5)')
    w.add_argument('--bench-runs', type=int, default=30, help='--model: timed latency runs, 0 = skip (default 30)')
    w.add_argument('--quiet', action='store_true', help='no progress bar')
    add_detector_args(w)
    w.add_argument('--name', default=None, help='name in the table / plots (default: file name)')
    w.add_argument('--plot', default=None, help='write the PR curves to this PNG')
    w.add_argument('--json', default=None, help='write the results (with curves) to this JSON')

    v = sub.add_parser('voc', help='Pascal VOC AP per class at an IoU threshold, mAP, recall at FP/image')
    v.add_argument('--pred', required=True, help='predictions JSONL (face-ssd-detect)')
    v.add_argument('--format', required=True, choices=['wider', 'voc', 'openimages', 'coco', 'csv'])
    v.add_argument('paths', nargs='+', help='dataset paths as for face-ssd-validate-data: wider IMAGES_DIR GT_FILE | '
                                            'voc ROOT | openimages ROOT | coco IMAGES_DIR ANNOTATION_JSON | '
                                            'csv IMAGES_DIR CSV_FILE')
    v.add_argument('--labels', default=None, help='labels file (voc/openimages/coco/csv)')
    v.add_argument('--image-set', default='trainval', help='VOC image set (default trainval)')
    v.add_argument('--split', default='test', help='Open Images split (default test)')
    v.add_argument('--images', default=None, help='only the images in this list')
    _voc_scoring_args(v)

    c = sub.add_parser('config', help="VOC AP per class (+ per-image accuracy) on a training config's held-out "
                                      'data (data.val), read exactly as training reads it')
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument('--pred', help='predictions JSONL (face-ssd-detect)')
    src.add_argument('--model', help='run this model (.onnx/.engine/.pt) on the images first; "default" = the '
                                     'shipped model')
    c.add_argument('--config', action='append', required=True,
                   help='training YAML (repeat to merge several, as face-ssd-train); relative paths from its folder')
    c.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='config override, as face-ssd-train --set')
    c.add_argument('--section', default='val', choices=['val', 'train'], help='which datasets (default: val)')
    c.add_argument('--save-pred', default=None, help='--model: where to keep the predictions JSONL')
    c.add_argument('--quiet', action='store_true', help='no progress bar')
    add_detector_args(c)
    _voc_scoring_args(c)

    t = sub.add_parser('table', help='Markdown table comparing evaluated models (mAP, AP and accuracy per class, '
                                     'training time)')
    t.add_argument('rows', nargs='+', metavar='NAME=EVAL_JSON[,METRICS_CSV]',
                   help='a model: its --json result and, if trained, its run\'s metrics.csv')
    t.add_argument('--out', default=None, help='also write the table to this file')

    pl = sub.add_parser('plot', help='several result JSONs on one figure')
    pl.add_argument('results', nargs='+', help='JSON files written with --json')
    pl.add_argument('--out', required=True, help='PNG to write')
    pl.add_argument('--title', default='precision-recall')
    return p


def range_problem(args):
    """Why the scoring options of ``args`` are out of range (one line), or None: ``--iou`` in (0, 1),
    ``--accuracy-threshold`` in [0, 1], ``--min-size`` >= 0, ``--fppi`` positive numbers (or "" = skip), as
    face-ssd-bag-eval checks them."""
    from face_ssd_ros.config.bag_params import parse_fppi
    iou = getattr(args, 'iou', None)
    if iou is not None and not 0.0 < iou < 1.0:   # NaN too
        return '--iou must be in (0, 1), got %r' % iou
    threshold = getattr(args, 'accuracy_threshold', None)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        return '--accuracy-threshold must be a score in [0, 1], got %r' % threshold
    min_size = getattr(args, 'min_size', None)
    if min_size is not None and not min_size >= 0.0:
        return '--min-size must be >= 0 pixels, got %r' % min_size
    fppi = getattr(args, 'fppi', None)
    if fppi:
        try:
            parse_fppi(fppi)
        except ValueError as exc:
            return '--%s' % exc
    return None


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if getattr(args, 'model', None) == 'default':
        args.model = None
    problem = range_problem(args)
    if problem:
        parser.error(problem)
    try:
        return {'wider': cmd_wider, 'voc': cmd_voc, 'config': cmd_config, 'plot': cmd_plot,
                'table': cmd_table}[args.command](args)
    except (FileNotFoundError, KeyError, ValueError, PredictionsFormatError, RuntimeError, OSError) as e:
        print('face-ssd-eval %s: error: %s' % (args.command, e), file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())

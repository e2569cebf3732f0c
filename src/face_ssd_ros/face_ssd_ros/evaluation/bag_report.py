"""Report files of a bag evaluation: ``NAME.json`` (everything), ``NAME.md`` (summary) and ``NAME_pr.png``.

The JSON report (``format`` ``face_ssd.bag_eval``, ``format_version`` 1)::

    {"format": "face_ssd.bag_eval", "format_version": 1, "source": {...where the numbers come from...},
     "settings": {"iou_threshold", "fppi", "use_07_metric"},
     "ground_truth": true | false,
     "frames": {"ground_truth_frames", "detection_arrays", "evaluated_frames", "dropped_frames",
                "detections_without_ground_truth", "duplicate_stamps"[, "images"]},
     "detections": {"arrays", "frames_with_detections", "boxes", "boxes_per_array", "max_boxes_per_array",
                    "labels": {label: n}, "score": null | {"min", "mean", "max"}},
     "voc": null | {"map", "classes": {label: {"ap", "num_gt", "num_det"}}},
     "recall_at_fppi": null | {"0.1": r, ...},
     "wider": null | {"ap": {"easy", "medium", "hard"}, "num_faces": {...}, "frames_without_detections"},
     "latency_ms": null | {"count", "mean", "p50", "p95", "max"},
     "curves": {name: {"recall": [...], "precision": [...], "ap"}}}

APs are fractions in [0, 1] (null where undefined). Without any ground truth (``"ground_truth": false``: a robot's
own recording) ``voc`` and ``recall_at_fppi`` are null, ``curves`` is empty, no PNG is written, and the Markdown
says so; ``dropped_frames`` is then images sent minus detection arrays received (null when the number of images
is unknown). ``ground_truth``, ``detections`` and ``frames.images`` were added within version 1 (readers of older
reports treat them as absent). matplotlib is imported only for the PNG.
"""
import collections
import json
import os

REPORT_FORMAT = 'face_ssd.bag_eval'
REPORT_VERSION = 1


def _round_list(values, digits=5):
    return [round(float(v), digits) for v in values]


def build_report(result, source):
    """JSON-ready dict from :meth:`EvaluationAccumulator.result` / :func:`compute_metrics` (+ ``frames``,
    ``latency_ms``) and a ``source`` dict (bag, topics, model, clock ...)."""
    report = collections.OrderedDict([('format', REPORT_FORMAT), ('format_version', REPORT_VERSION),
                                      ('source', dict(source))])
    for key in ('settings', 'ground_truth', 'frames', 'detections', 'voc', 'recall_at_fppi', 'wider', 'latency_ms'):
        report[key] = result.get(key)
    if report['ground_truth'] is None:  # a result from before the key existed: it had ground truth
        report['ground_truth'] = report['voc'] is not None
    report['curves'] = collections.OrderedDict(
        (name, {'recall': _round_list(r), 'precision': _round_list(p), 'ap': _nan_none(ap)})
        for name, (r, p, ap) in result['curves'].items())
    return report


def _nan_none(v):
    return None if v is None or v != v else float(v)


def _pct(v):
    return 'n/a' if v is None else '%.2f %%' % (100.0 * v)


def _cell(v):
    return 'n/a' if v is None else str(v)


def markdown_summary(report, title='Bag evaluation'):
    """The Markdown summary of a report dict."""
    src, frames = report['source'], report['frames'] or {}
    has_gt = report.get('ground_truth', report.get('voc') is not None)
    lines = ['# %s' % title, '']
    for key, value in src.items():
        lines.append('- %s: `%s`' % (key, value))
    lines += ['', '## Frames', '']
    if has_gt:
        lines += ['| ground truth | detection arrays | evaluated | dropped | detections without GT |',
                  '|---|---|---|---|---|',
                  '| %s | %s | %s | %s | %s |' % tuple(_cell(frames.get(k)) for k in (
                      'ground_truth_frames', 'detection_arrays', 'evaluated_frames', 'dropped_frames',
                      'detections_without_ground_truth'))]
    else:
        lines += ['No ground truth in this bag: accuracy (AP, recall) cannot be computed. What the detector did:',
                  '', '| images | detection arrays | dropped (no array) | duplicate stamps |', '|---|---|---|---|',
                  '| %s | %s | %s | %s |' % tuple(_cell(frames.get(k)) for k in (
                      'images', 'detection_arrays', 'dropped_frames', 'duplicate_stamps'))]
    det = report.get('detections')
    if det:
        score = det.get('score')
        lines += ['', '## Detections', '', '| arrays | with detections | boxes | per array | max | labels | score '
                  'min / mean / max |', '|---|---|---|---|---|---|---|',
                  '| %d | %d | %d | %s | %d | %s | %s |' % (
                      det['arrays'], det['frames_with_detections'], det['boxes'],
                      'n/a' if det['boxes_per_array'] is None else '%.2f' % det['boxes_per_array'],
                      det['max_boxes_per_array'],
                      ', '.join('%s=%d' % kv for kv in sorted(det['labels'].items())) or 'none',
                      'n/a' if not score else '%.3f / %.3f / %.3f' % (score['min'], score['mean'], score['max']))]
    if has_gt:
        lines += ['', '## Accuracy (VOC, IoU %.2f%s)' % (report['settings']['iou_threshold'],
                                                         ', 11-point' if report['settings']['use_07_metric'] else ''),
                  '', '| class | AP | GT boxes | detections |', '|---|---|---|---|']
        for label, c in report['voc']['classes'].items():
            lines.append('| %s | %s | %d | %d |' % (label, _pct(c['ap']), c['num_gt'], c['num_det']))
        lines.append('| **mAP** | **%s** | | |' % _pct(report['voc']['map']))
        lines += ['', '| FP per image | recall |', '|---|---|']
        lines += ['| %s | %s |' % (f, _pct(r)) for f, r in report['recall_at_fppi'].items()]
    if report.get('wider'):
        w = report['wider']
        lines += ['', '## WIDER FACE protocol', '', '| setting | AP | faces |', '|---|---|---|']
        lines += ['| %s | %s | %d |' % (s, _pct(w['ap'][s]), w['num_faces'][s]) for s in w['ap']]
    lat = report.get('latency_ms')
    lines += ['', '## Latency (detection received minus image stamp)', '']
    if lat:
        lines += ['| arrays | mean ms | p50 ms | p95 ms | max ms |', '|---|---|---|---|---|',
                  '| %d | %.1f | %.1f | %.1f | %.1f |' % (lat['count'], lat['mean'], lat['p50'], lat['p95'],
                                                         lat['max'])]
    else:
        lines.append('not measured')
    return '\n'.join(lines) + '\n'


def write_reports(report, out_dir, name='bag_eval', plot=True, title=None):
    """Write ``out_dir/NAME.json``, ``NAME.md`` and (``plot``, when there are curves) ``NAME_pr.png``; returns
    ``{kind: path}``."""
    os.makedirs(out_dir, exist_ok=True)
    paths = collections.OrderedDict()
    paths['json'] = os.path.join(out_dir, name + '.json')
    with open(paths['json'], 'w') as f:
        json.dump(report, f, indent=1)
        f.write('\n')
    paths['markdown'] = os.path.join(out_dir, name + '.md')
    with open(paths['markdown'], 'w') as f:
        f.write(markdown_summary(report, title or 'Bag evaluation: %s' % name))
    if plot and (report.get('ground_truth', True) or report['curves']):
        from face_ssd_ros.evaluation.metrics.plots import plot_pr_curves
        curves = collections.OrderedDict((k, (c['recall'], c['precision'], float('nan') if c['ap'] is None
                                               else c['ap'])) for k, c in report['curves'].items())
        paths['plot'] = plot_pr_curves(curves, os.path.join(out_dir, name + '_pr.png'), title or name)
    return paths

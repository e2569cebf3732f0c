"""Markdown comparison table of evaluated models (``face-ssd-eval table``), e.g. a fine-tuning recipe's runs.

Each row is ``NAME=EVAL_JSON[,METRICS_CSV]``: the JSON written by ``face-ssd-eval config|voc --json`` (mAP, AP per
class, per-image accuracy when computed) and, for a trained model, the ``metrics.csv`` of its training run (the
training time is the sum of its per-epoch ``seconds``: training plus validation, without start-up and export).
"""
import csv
import json
import os
from collections import OrderedDict


def parse_row(text):
    """``"name=a.json,b.csv"`` -> ``(name, json path, csv path or None)``; ValueError otherwise."""
    if '=' not in text:
        raise ValueError('a row must look like NAME=EVAL_JSON[,METRICS_CSV], got %r' % (text,))
    name, rest = text.split('=', 1)
    parts = [p for p in rest.split(',') if p]
    if not name.strip() or not 1 <= len(parts) <= 2:
        raise ValueError('a row must look like NAME=EVAL_JSON[,METRICS_CSV], got %r' % (text,))
    return name.strip(), parts[0], parts[1] if len(parts) == 2 else None


def training_time(metrics_csv):
    """``(seconds, epochs)`` from a training run's metrics.csv (sum of the ``seconds`` column, rows)."""
    with open(metrics_csv, newline='') as f:
        rows = list(csv.DictReader(f))
    if not rows or 'seconds' not in rows[0]:
        raise ValueError('%s has no "seconds" column: not a face-ssd-train metrics.csv' % metrics_csv)
    return sum(float(r['seconds']) for r in rows), len(rows)


def load_row(name, json_path, metrics_csv=None):
    """One table row as a dict: name, map, ap {class: AP}, accuracy, class_accuracy {class: acc}, seconds, epochs."""
    with open(json_path) as f:
        try:
            rep = json.load(f)
        except ValueError as exc:   # not JSON, not UTF-8
            raise ValueError('%s is not a JSON evaluation report (face-ssd-eval ... --json): %s' % (json_path, exc))
    if not isinstance(rep, dict) or 'classes' not in rep or 'map' not in rep:
        raise ValueError('%s is not a VOC evaluation (face-ssd-eval config|voc --json)' % json_path)
    acc = rep.get('image_accuracy') or {}
    row = {'name': name, 'map': rep['map'], 'ap': OrderedDict((k, v.get('ap')) for k, v in rep['classes'].items()),
           'accuracy': acc.get('accuracy'),
           'class_accuracy': OrderedDict((k, v.get('accuracy')) for k, v in (acc.get('classes') or {}).items()),
           'images': rep.get('images'), 'seconds': None, 'epochs': None}
    if metrics_csv:
        row['seconds'], row['epochs'] = training_time(metrics_csv)
    return row


def _pct(v):
    return '-' if v is None else '%.1f' % (100.0 * v)


def markdown_table(rows):
    """Rows of :func:`load_row` -> a Markdown table (AP and accuracy in %, time in minutes)."""
    classes = []
    for r in rows:
        classes += [c for c in r['ap'] if c not in classes]
    with_acc = any(r['accuracy'] is not None for r in rows)
    head = ['model', 'training (min, epochs)', 'mAP@0.5'] + ['AP %s' % c for c in classes]
    if with_acc:
        head += ['image accuracy'] + ['accuracy %s' % c for c in classes]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        time = '-' if r['seconds'] is None else '%.1f (%d)' % (r['seconds'] / 60.0, r['epochs'])
        cells = [r['name'], time, _pct(r['map'])] + [_pct(r['ap'].get(c)) for c in classes]
        if with_acc:
            cells += [_pct(r['accuracy'])] + [_pct(r['class_accuracy'].get(c)) for c in classes]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main_table(args):
    rows = [load_row(*parse_row(t)) for t in args.rows]
    table = markdown_table(rows)
    print(table)
    if args.out:
        parent = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(parent, exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(table + '\n')
        print('table: %s' % args.out)
    return 0

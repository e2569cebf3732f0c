"""End-to-end latency, overhead ratio, drops, CPU and memory of the real nodes over real DDS.

    python benchmarks/bench_pipeline.py [--rates 15,30,60] [--duration 20] [--modes inprocess,processes]
        [--overlay] [--image-size 640x480] [--overrun] [--overrun-size 1280x960] [--overrun-duration 30]
        [--window 10] [--allow-spinning] [--json out/bench/pipeline.json]

A fixture publisher node publishes one real photo (``--image-size``, rgb8) on ``image_raw`` at R Hz, stamped at
publish time, with the camera node's QoS (sensor data, depth 1, best effort) -> the real detector node (+ the
overlay node with ``--overlay``) -> a probe subscriber that takes end-to-end latency = receive time - header stamp
of every detection array. Modes: ``inprocess`` (all nodes in this process, one single-threaded executor, like
face_ssd_ros.runner) and ``processes`` (detector and overlay each their own process, started with the launch
file's command line). Per rate and mode it prints:

* published / achieved rate, arrays received, frames not received by the detector (replaced in its depth-1
  queue or lost by best-effort DDS) and skipped by it (with reasons);
* e2e latency mean / p50 / p95 / max (arrays of the first ``--settle`` seconds excluded) and the overhead ratio
  = e2e mean / bare inference mean (the detector's own ``inference`` stage);
* CPU % (100 = one core) of every process in each row (in-process mode: one process for all nodes), and their
  resident memory, sampled from /proc. The detector runs with its defaults (ONNX Runtime's threads sleep between
  frames; ``--allow-spinning`` lets them busy-wait, as ONNX Runtime does by default).

``--overrun``: input outruns the detector. The shipped model is exported at ``--overrun-size`` (a fixed-size
model cannot be resized by parameters; see benchlib.prepare_models) so the detector is slow; its maximum rate is
measured with a bare FaceDetector on the same image, the fixture publishes at ``--overrun-factor`` (2) x that
rate, and the table shows frames dropped and latency in the first vs the last ``--window`` seconds (growth = a
queue building up). Timings on a shared or busy CPU are contaminated: run on an idle machine for numbers you
publish.
"""
import argparse
import sys

import benchlib

benchlib.use_sources()


def format_runs(rows):
    headers = ['mode', 'rate Hz', 'sent', 'sent Hz', 'arrays', 'dropped', 'e2e mean', 'p50', 'p95', 'max',
               'infer ms', 'overhead', 'CPU % per process']
    table = [[r['mode'], r['rate_hz'], r['published'], r['publish_rate'], r['arrays'], r['dropped'],
              r['e2e']['mean'], r['e2e']['p50'], r['e2e']['p95'], r['e2e']['max'], r['inference_ms'],
              r['overhead_ratio'], benchlib.cpu_cell(r['processes'])] for r in rows]
    out = [benchlib.format_table(headers, table, floats='%.1f'), '', 'CPU and memory per process:']
    proc_rows = []
    for r in rows:
        for name, p in r['processes'].items():
            proc_rows.append(['%s %.0f Hz' % (r['mode'], r['rate_hz']), name, p['cpu_percent'], p['rss_mb_end'],
                              p['rss_mb_max']])
    out.append(benchlib.format_table(['run', 'process', 'CPU %', 'RSS MB', 'RSS max MB'], proc_rows,
                                     floats='%.1f'))
    broken = ['%s %.0f Hz: %s (%s)' % (r['mode'], r['rate_hz'], c['name'], c['detail'])
              for r in rows for c in r['checks'] if not c['ok']]
    if broken:
        out.append('ACCOUNTING ERRORS:\n  ' + '\n  '.join(broken))
    return '\n'.join(out)


def overrun(args, image, log=print):
    """The overrun scenario in each mode: ``{'size', 'weights', 'max_rate', 'rate', 'bare_stages', 'runs': [...]}``
    with first / last ``--window`` latency of every run."""
    import benchlib_ros  # rclpy: only after benchlib.ros_environment()
    scenario = benchlib_ros.run_overrun(benchlib.parse_size(args.overrun_size), args.overrun_factor,
                                        args.overrun_duration, args.modes, image, args.checkpoint, args.overlay, log)
    runs = []
    for _, result in scenario['sessions']:
        row = benchlib.run_figures(result, args.settle)
        samples = [(t, ms) for t, ms in result['latencies'] if t >= args.settle]
        row['first_window'], row['last_window'] = benchlib.first_last(samples, args.window)
        runs.append(row)
    out = dict((k, scenario[k]) for k in ('size', 'weights', 'max_rate', 'rate', 'bare_stages'))
    out['runs'] = runs
    return out


def format_overrun(o, window):
    headers = ['mode', 'sent Hz', 'processed/s', 'sent', 'not received', 'skipped', 'first %gs p50/p95' % window,
               'last %gs p50/p95' % window, 'p95 growth', 'CPU % per process']
    rows = []
    for r in o['runs']:
        f, l = r['first_window'], r['last_window']
        rows.append([r['mode'], r['publish_rate'], r['processed_fps'], r['published'], r['not_received'],
                     sum(r['skipped'].values()), '%.1f/%.1f' % (f['p50'], f['p95']), '%.1f/%.1f' % (l['p50'], l['p95']),
                     '%.2fx' % (l['p95'] / f['p95']) if f['p95'] > 0 else '-', benchlib.cpu_cell(r['processes'])])
    return ('input outruns the detector (%dx%d network input, %s; bare max %.1f frames/s, input %.1f Hz):\n'
            % (o['size'][0], o['size'][1], o['weights'], o['max_rate'], o['rate'])
            + benchlib.format_table(headers, rows, floats='%.1f'))


def build_arg_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rates', default='15,30,60', help='input rates in Hz, comma-separated')
    p.add_argument('--duration', type=float, default=20.0, help='seconds per rate and mode')
    p.add_argument('--modes', default='inprocess,processes', help='inprocess, processes or both')
    p.add_argument('--overlay', action='store_true', help='run the overlay node too')
    p.add_argument('--image-size', default='640x480', help='published frame size WxH')
    p.add_argument('--model', default='', help='detector model ("" = the shipped model)')
    p.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                   help='extra pipeline parameter, e.g. --set detector.tracking=false (repeatable)')
    p.add_argument('--allow-spinning', action='store_true', help='detector parameter allow_spinning: ONNX Runtime\'s '
                   'threads busy-wait between frames (default: they sleep, CPU follows the work)')
    p.add_argument('--settle', type=float, default=1.0, help='seconds of arrays excluded from latency at start')
    p.add_argument('--no-rates', action='store_true', help='skip the fixed-rate runs (e.g. only --overrun)')
    p.add_argument('--overrun', action='store_true', help='also run the input-outruns-the-detector scenario')
    p.add_argument('--overrun-size', default='1280x960', help='network input of the slow detector')
    p.add_argument('--overrun-factor', type=float, default=2.0, help='input rate / detector max rate')
    p.add_argument('--overrun-duration', type=float, default=30.0, help='seconds of the overrun run per mode')
    p.add_argument('--window', type=float, default=10.0, help='first/last window in seconds (overrun)')
    p.add_argument('--checkpoint', default=None, help='checkpoint to export the overrun model from')
    p.add_argument('--cpu-target', type=float, default=15.0, help='CPU %% of one core the separate detector process '
                   'may use at --cpu-target-rate (issue 17; printed PASS/FAIL, 0 = skip)')
    p.add_argument('--cpu-target-rate', type=float, default=30.0, help='input rate of the CPU target (Hz)')
    p.add_argument('--domain-id', type=int, default=None, help='ROS_DOMAIN_ID (default: random 10..99)')
    p.add_argument('--json', default=None, help='also write the figures to this JSON file')
    return p


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    args.modes = benchlib.parse_modes(args.modes)
    domain = benchlib.ros_environment(args.domain_id)
    import benchlib_ros
    image, origin = benchlib.load_image(*benchlib.parse_size(args.image_size))
    print('pipeline benchmark: %s at %dx%d, ROS_DOMAIN_ID %d' % (origin, image.shape[1], image.shape[0], domain))
    out = {'image': origin, 'image_size': [image.shape[1], image.shape[0]], 'runs': [], 'overrun': None}
    if not args.no_rates:
        for mode in args.modes:
            for rate in benchlib.parse_list(args.rates):
                nodes = benchlib_ros.detector_pipeline(args.model, args.overlay,
                                                       extra=dict([('detector.allow_spinning', args.allow_spinning)]
                                                                  + [kv.split('=', 1) for kv in args.set]))
                result = benchlib_ros.run_session(mode, nodes, args.duration, image_rgb=image, rate_hz=rate)
                out['runs'].append(benchlib.run_figures(result, args.settle))
        print('\nend-to-end latency [ms] (publish stamp -> detections received), overhead = e2e mean / inference '
              'mean')
        print(format_runs(out['runs']))
        if 'processes' in args.modes and args.cpu_target > 0:
            check = benchlib.cpu_target_check(out['runs'], args.cpu_target_rate, args.cpu_target)
            out['cpu_target'] = check._asdict()
            print('%s: %s (%s)' % (check.name, 'PASS' if check.ok else 'FAIL', check.detail))
    if args.overrun:
        out['overrun'] = overrun(args, image)
        print()
        print(format_overrun(out['overrun'], args.window))
        print(format_runs(out['overrun']['runs']))
    if benchlib.write_json(args.json, out):
        print('figures written to %s' % args.json)
    rows = out['runs'] + (out['overrun']['runs'] if out['overrun'] else [])
    return 1 if any(not c['ok'] for r in rows for c in r['checks']) else 0


if __name__ == '__main__':
    sys.exit(main())

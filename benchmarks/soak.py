"""Soak check (issue 7): N minutes at 30 Hz through the whole pipeline; memory bounded, counts reconcile.

    python benchmarks/soak.py [--minutes 10] [--mode inprocess|processes|both] [--rate 30] [--source PATH]
        [--sample-period 5] [--max-rss-growth-mb 20] [--settle 30] [--json out/bench/soak.json]

The real camera node plays a looping source at ``--rate`` Hz (``--source``: a video file or image folder;
default: the demo footage, 640x480, built from scikit-image's sample photos into a temporary folder) -> the
detector node -> the overlay node, plus a probe subscriber on ``detections``, over real DDS:
``--mode inprocess`` runs every node in this process (one single-threaded executor, like face_ssd_ros.runner),
``--mode processes`` each node as its own process (the launch file's command lines), ``both`` one after the other.
RSS and CPU of every process are sampled from /proc every ``--sample-period`` seconds.

At the end the camera is stopped, the frames in flight are drained, and the counts are reconciled:

* camera frames published (node counter in-process; its summary line in its own process) vs frames received by
  the detector: the difference is frames replaced in the detector's depth-1 queue or lost by best-effort DDS,
  which sensor-data QoS allows: counted and printed, not an error;
* detector: frames received = arrays published + frames skipped, per reason (exact; read from the node object
  in-process, from the detector's /diagnostics counters across processes);
* arrays published = arrays received by the probe (reliable detections QoS: exact);
* overlay: annotated <= min(images, arrays) received.

Memory is bounded when the RSS of every process grows by at most ``--max-rss-growth-mb`` from the first minute
after ``--settle`` seconds to the last minute (medians of the samples). PASS/FAIL with exit code 0/1.
"""
import argparse
import os
import sys
import tempfile

import benchlib

benchlib.use_sources()


def soak_source(folder):
    """The demo footage (looped by the camera) written into ``folder``; returns its path."""
    from face_ssd_ros.demo import build_footage
    path = os.path.join(folder, 'footage.mp4')
    build_footage(path, seconds=4.0, fps=30.0)
    return path


def pipeline(source, rate):
    import benchlib_ros
    from face_ssd_ros.config.pipeline import build_pipeline
    overrides = {'camera.source': source, 'camera.loop': True, 'camera.publish_rate': float(rate),
                 'camera.width': 0, 'camera.height': 0, 'detector.model_path': '', 'detector.diagnostics_period': 0.5,
                 'overlay.publish_compressed': False, 'overlay.video_path': ''}
    return build_pipeline(overrides=overrides, namespace=benchlib_ros.NAMESPACE)


def soak_checks(result, settle_s, span_s, max_growth_mb):
    """(checks, accounting, memory rows) of one soak run."""
    checks, acc = benchlib.reconcile(result['published'], result['detector_counters'], result['arrays'],
                                     result.get('overlay_counters'))
    if result['published'] is None:
        checks.append(benchlib.Check('camera published count known', False,
                                     'no "camera summary" line in the camera log; its end:\n%s'
                                     % result.get('camera_log_tail', '')))
    checks.append(benchlib.Check('frames flowed', acc['processed'] > 0, '%d arrays' % acc['processed']))
    memory = []
    for name, series in result['rss'].items():
        grew = benchlib.growth(series, settle_s, span_s)
        memory.append([name, series[0][1] if series else None, series[-1][1] if series else None,
                       max(v for _, v in series) if series else None, grew,
                       result['processes'][name]['cpu_percent']])
        checks.append(benchlib.Check('memory bounded: %s (RSS growth <= %.0f MB)' % (name, max_growth_mb),
                                     grew is not None and grew <= max_growth_mb,
                                     'n/a (too few samples after settle)' if grew is None else
                                     'growth %.2f MB' % grew))
    return checks, acc, memory


def format_rss_timeline(rss, step_s):
    """RSS per process every ``step_s`` seconds (mean of the samples in each window)."""
    names = list(rss)
    tables = dict((n, benchlib.window_table(rss[n], step_s, 0.0, max([t for t, _ in rss[n]] + [0.0])))
                  for n in names)
    rows = []
    for i in range(max(len(t) for t in tables.values()) if tables else 0):
        first = next(tables[n][i] for n in names if i < len(tables[n]))
        rows.append(['%.0f-%.0f' % (first['t0'], first['t1'])] +
                    [tables[n][i]['mean'] if i < len(tables[n]) and tables[n][i]['count'] else None for n in names])
    return benchlib.format_table(['t s'] + ['RSS MB %s' % n for n in names], rows, floats='%.1f')


def build_arg_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--minutes', type=float, default=10.0, help='soak length per mode')
    p.add_argument('--mode', choices=('inprocess', 'processes', 'both'), default='both')
    p.add_argument('--rate', type=float, default=30.0, help='camera publish rate in Hz')
    p.add_argument('--source', default='', help='video file or image folder to loop ("" = the demo footage)')
    p.add_argument('--sample-period', type=float, default=5.0, help='seconds between RSS samples')
    p.add_argument('--settle', type=float, default=None, help='warm-up seconds excluded from the RSS growth '
                   '(default: 30 s, at most a quarter of the run)')
    p.add_argument('--span', type=float, default=None, help='seconds compared at start and end '
                   '(default: 60 s, at most a quarter of the run)')
    p.add_argument('--max-rss-growth-mb', type=float, default=20.0, help='allowed RSS growth per process')
    p.add_argument('--domain-id', type=int, default=None, help='ROS_DOMAIN_ID (default: random 10..99)')
    p.add_argument('--json', default=None, help='also write the figures to this JSON file')
    return p


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    duration = args.minutes * 60.0
    settle = args.settle if args.settle is not None else min(30.0, duration / 4.0)
    span = args.span if args.span is not None else min(60.0, duration / 4.0)
    modes = ['inprocess', 'processes'] if args.mode == 'both' else [args.mode]
    domain = benchlib.ros_environment(args.domain_id)
    import benchlib_ros
    out = {'minutes': args.minutes, 'rate_hz': args.rate, 'runs': []}
    code = 0
    with tempfile.TemporaryDirectory(prefix='face_ssd_soak_') as folder:
        source = os.path.abspath(args.source) if args.source else soak_source(folder)
        print('soak: %s at %.0f Hz for %.1f min per mode (%s); ROS_DOMAIN_ID %d'
              % (source, args.rate, args.minutes, ', '.join(modes), domain))
        for mode in modes:
            result = benchlib_ros.run_session(mode, pipeline(source, args.rate), duration,
                                              sample_period=args.sample_period)
            checks, acc, memory = soak_checks(result, settle, span, args.max_rss_growth_mb)
            e2e = benchlib.summarize(ms for _, ms in result['latencies'])
            print('\n%s: %.1f min, camera %s frames (%.1f Hz), detector received %d, processed %d, skipped %s, '
                  'arrays received %d; e2e latency mean %.1f / p95 %.1f / max %.1f ms; CPU %%: %s'
                  % (mode, result['duration_s'] / 60.0, acc['published'], result['publish_rate'],
                     acc['detector_received'], acc['processed'], acc['skipped'] or 'none', acc['arrays_received'],
                     e2e['mean'], e2e['p95'], e2e['max'], benchlib.cpu_cell(result['processes'])))
            print(benchlib.format_table(['process', 'RSS start MB', 'end MB', 'max MB', 'growth MB', 'CPU %'], memory,
                                        floats='%.1f'))
            print(format_rss_timeline(result['rss'], max(span, args.sample_period)))
            print('%s verdict:' % mode)
            code = max(code, benchlib.verdict(checks))
            out['runs'].append({'mode': mode, 'accounting': acc, 'e2e': e2e, 'processes': result['processes'],
                                'rss': result['rss'], 'checks': [c._asdict() for c in checks],
                                'counters_source': result['counters_source']})
    return benchlib.finish('soak', code, args.json, out)


if __name__ == '__main__':
    sys.exit(main())

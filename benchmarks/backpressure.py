"""Back-pressure check (issue 7): input at twice the detector's speed keeps latency bounded and memory flat.

    python benchmarks/backpressure.py [--duration 60] [--window 10] [--modes inprocess,processes]
        [--size 1280x960] [--factor 2] [--max-p95-growth 2] [--bound-periods 4] [--slack-ms 50]
        [--max-rss-growth-mb 5] [--json out/bench/backpressure.json]

The detector runs the shipped architecture at network input ``--size`` (exported from ``--checkpoint`` /
the shipped ``models/face_default.pt``, or untrained weights of the same compute; the shipped ONNX model has a
fixed input size, so a slower detector cannot be had through the node's parameters). Its speed is measured first with a bare
FaceDetector on the same image (in a child process); then a fixture publisher sends the image at ``--factor`` x
that rate for ``--duration`` seconds into the real detector node over real DDS, in each ``--modes`` (all in this
process / the detector as its own process). Printed: e2e latency p50 / p95 / max and RSS of every process per
``--window`` seconds, then PASS/FAIL (exit code 0/1).

Criteria, and why:

* the input really outran the detector (sent rate >= 1.5 x processed rate), else nothing was tested;
* arrays arrive in every window (the detector never stalls);
* last-window p95 <= ``--max-p95-growth`` (2) x first-window p95: a queue building up makes latency grow with
  time, a depth-1 queue keeps it level;
* last-window p95 <= ``--bound-periods`` (4) x the detector's frame time + ``--slack-ms`` (50): with depth-1
  queues a frame waits at most for the frame being processed, then its own processing (2 periods), plus
  transport and scheduling; 4 periods leaves room for a busy CPU;
* RSS of every process grows by <= ``--max-rss-growth-mb`` (5 MB) from the first to the last window (medians of
  the samples), i.e. no buffer accumulates frames;
* the frame accounting is exact: detector frames in = arrays out + skipped (with reasons), every array reaches
  the subscriber; frames not received by the detector (replaced in the depth-1 queue) are counted and shown.
"""
import argparse
import sys

import benchlib

benchlib.use_sources()


def check_run(result, args, period_ms):
    """(checks, figures, latency windows, RSS windows) of one run."""
    figures = benchlib.run_figures(result, args.settle)
    limits = benchlib.BackpressureLimits(args.max_p95_growth, args.bound_periods, args.slack_ms,
                                         args.max_rss_growth_mb, 1.5)
    lat = [(t, ms) for t, ms in result['latencies'] if t >= args.settle]
    checks, lat_windows, rss_windows = benchlib.backpressure_checks(
        lat, result['rss'], period_ms, figures['publish_rate'], figures['processed_fps'], args.window, limits,
        start=args.settle, end=result['duration_s'])
    checks += [benchlib.Check(**c) for c in figures['checks']]
    return checks, figures, lat_windows, rss_windows


def format_windows(lat_windows, rss_windows):
    names = list(rss_windows)
    headers = ['window s', 'arrays', 'e2e p50', 'p95', 'max'] + ['RSS MB %s' % n for n in names]
    rows = []
    for i, w in enumerate(lat_windows):
        rss = [rss_windows[n][i]['mean'] if i < len(rss_windows[n]) and rss_windows[n][i]['count'] else None
               for n in names]
        rows.append(['%.0f-%.0f' % (w['t0'], w['t1']), w['count'], w['p50'], w['p95'], w['max']] + rss)
    return benchlib.format_table(headers, rows, floats='%.1f')


def build_arg_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--duration', type=float, default=60.0, help='seconds per mode')
    p.add_argument('--window', type=float, default=10.0, help='window width in seconds')
    p.add_argument('--modes', default='inprocess,processes', help='inprocess, processes or both')
    p.add_argument('--size', default='1280x960', help='network input WxH of the (slow) detector')
    p.add_argument('--image-size', default='640x480', help='published frame size WxH')
    p.add_argument('--factor', type=float, default=2.0, help='input rate / detector speed')
    p.add_argument('--settle', type=float, default=1.0, help='seconds excluded at the start')
    p.add_argument('--max-p95-growth', type=float, default=2.0, help='allowed last/first window p95 ratio')
    p.add_argument('--bound-periods', type=float, default=4.0, help='latency bound in detector frame times')
    p.add_argument('--slack-ms', type=float, default=50.0, help='latency bound slack in ms')
    p.add_argument('--max-rss-growth-mb', type=float, default=5.0, help='allowed RSS growth per process')
    p.add_argument('--checkpoint', default=None, help='checkpoint to export the detector model from')
    p.add_argument('--domain-id', type=int, default=None, help='ROS_DOMAIN_ID (default: random 10..99)')
    p.add_argument('--json', default=None, help='also write the figures to this JSON file')
    return p


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    modes = benchlib.parse_modes(args.modes)
    if args.duration < 2 * args.window + args.settle:
        raise SystemExit('--duration must be at least 2 windows (+ settle) long to compare first and last window')
    domain = benchlib.ros_environment(args.domain_id)
    image, origin = benchlib.load_image(*benchlib.parse_size(args.image_size))
    print('back-pressure: input at %g x the detector\'s bare speed for %.0f s per mode; ROS_DOMAIN_ID %d'
          % (args.factor, args.duration, domain))
    import benchlib_ros  # rclpy: only after benchlib.ros_environment()
    scenario = benchlib_ros.run_overrun(benchlib.parse_size(args.size), args.factor, args.duration, modes, image,
                                        args.checkpoint)
    out = {'image': origin, 'size': scenario['size'], 'weights': scenario['weights'],
           'detector_period_ms': scenario['period_ms'], 'rate_hz': scenario['rate'], 'runs': []}
    code = 0
    for mode, result in scenario['sessions']:
        checks, figures, lat_windows, rss_windows = check_run(result, args, scenario['period_ms'])
        print('\n%s: sent %d (%.1f Hz), processed %.1f frames/s, not received %s, skipped %d, arrays %d; CPU %%: %s'
              % (mode, figures['published'], figures['publish_rate'], figures['processed_fps'],
                 figures['not_received'], sum(figures['skipped'].values()), figures['arrays'],
                 benchlib.cpu_cell(figures['processes'])))
        print(format_windows(lat_windows, rss_windows))
        print('%s verdict:' % mode)
        code = max(code, benchlib.verdict(checks))
        out['runs'].append({'figures': figures, 'latency_windows': lat_windows, 'rss_windows': rss_windows,
                            'checks': [c._asdict() for c in checks]})
    return benchlib.finish('back-pressure', code, args.json, out)


if __name__ == '__main__':
    sys.exit(main())

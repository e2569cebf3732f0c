"""Where a detector's CPU goes at a steady frame rate: ONNX Runtime thread settings, and receiving images in rclpy.

    python benchmarks/bench_cpu_budget.py [--part ort,receive,gap,engines] [--rate 30] [--frames 60] [--rounds 6]
        [--image-size 640x480] [--gaps 0,2,10,30,100] [--calib-images 100] [--json out/bench/cpu_budget.json]

``ort``: the shipped model at 320x240 and 640x480 (``face_default[_640x480].onnx``), run once per frame period with
a sleep in between, as a camera-fed node runs it (back-to-back runs keep caches and threads warm and hide the
cost). Per setting: CPU ms per frame (process user + system time / frames) and the median run time, interleaved
over ``--rounds`` rounds (median of the rounds). Settings: one intra-op thread (the detector's default while its
workers sleep), ONNX Runtime's own thread pool (one thread per core, pinned) with sleeping workers (the detector's
default before), the same pool spinning (ONNX Runtime's default, ``allow_spinning: true``).

``receive``: a publisher process sends ``--image-size`` rgb8 images at ``--rate`` Hz with the camera's QoS; a
subscriber process with an empty callback reports its CPU % and minor page faults per second, once with glibc's
default allocator settings and once with :func:`face_ssd_ros.supervise.memory.keep_frame_buffers` (what every
face_ssd node does at start-up), both spun by rclpy's single-threaded executor, then with the heap setting and
rclpy's events executor where it has one (what face_ssd's nodes spin with there, ``face_ssd_ros.nodes.executor``).
This is the floor under any image node in Python.

``gap`` (not in the default ``--part``): the shipped 320x240 model on the detector's default setting (one
intra-op thread, no spinning), its CPU ms per run (this thread's CPU time) after each idle gap of ``--gaps`` ms
between runs, interleaved over ``--rounds`` rounds: what a run costs back to back (gap 0) against a camera-fed
node's idle time between frames (about 30 ms at 30 Hz, 97 at 10 Hz), when caches have gone cold.

``engines`` (not in the default ``--part``): the shipped 320x240 model on every CPU inference engine installed here,
each on one thread and run once per frame period, as ``ort``: ONNX Runtime fp32 (the detector's backend), ONNX
Runtime int8 (the same graph statically quantised to QDQ int8 by ``onnxruntime.quantization``, calibrated on
``--calib-images`` images of ``faces/wider_train``, training data), OpenCV's DNN module (``cv2.dnn``) and OpenVINO
(where the ``openvino`` package is installed; face_ssd does not install it). CPU ms per frame (process time, every
thread) and the median run time, interleaved over ``--rounds`` rounds: whether another engine would run the same
network for less CPU on this machine.

Timings on a busy CPU are contaminated: run on an idle machine for numbers you publish.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import benchlib

benchlib.use_sources()

#: (label, intra-op threads (0 = ONNX Runtime's own pool: one pinned thread per core), spinning)
ORT_SETTINGS = (('1 thread (default)', 1, False), ('ORT pool, sleeping', 0, False), ('ORT pool, spinning', 0, True))


def ort_part(rate, frames, rounds, log=print):
    """``[{'model', 'setting', 'cpu_ms', 'wall_p50_ms', 'rounds': [cpu_ms...]}]`` for every model and setting."""
    import numpy as np
    import onnxruntime as ort

    from face_ssd_ros.detect.backends.onnxruntime_backend import SPIN_KEYS
    from face_ssd_ros.detect.inference import default_model_path
    from face_ssd_ros.detect.manifest import load_manifest

    period = 1.0 / rate
    base = default_model_path()
    rows = []
    for path in (base, base[:-len('.onnx')] + '_640x480.onnx'):
        manifest = load_manifest(path)
        x = np.random.RandomState(0).randn(1, 3, manifest.height, manifest.width).astype(np.float32)
        sessions = []
        for label, threads, spin in ORT_SETTINGS:
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            for key in SPIN_KEYS:
                opts.add_session_config_entry(key, '1' if spin else '0')
            sessions.append((label, ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])))
        cpu = dict((label, []) for label, _ in sessions)
        wall = dict((label, []) for label, _ in sessions)
        for r in range(rounds):
            for label, sess in sessions:
                feed = {manifest.input_name: x}
                for _ in range(10):
                    sess.run(None, feed)
                c0 = time.process_time()   # this process, every thread (ONNX Runtime's pool included)
                for _ in range(frames):
                    w0 = time.perf_counter()
                    sess.run(None, feed)
                    wall[label].append((time.perf_counter() - w0) * 1e3)
                    time.sleep(period)
                cpu[label].append((time.process_time() - c0) / frames * 1e3)
            log('  %s: round %d of %d' % (os.path.basename(path), r + 1, rounds))
        for label, _ in sessions:
            rows.append({'model': '%dx%d' % (manifest.width, manifest.height), 'setting': label,
                         'cpu_ms': benchlib.median(cpu[label]), 'wall_p50_ms': benchlib.median(wall[label]),
                         'rounds': cpu[label]})
    return rows


def gap_part(gaps_ms, frames, rounds, log=print):
    """``[{'gap_ms', 'cpu_ms', 'rounds': [cpu_ms...]}]``: the 320x240 model's CPU ms per run (median over runs,
    then over rounds) after an idle gap of each of ``gaps_ms`` between runs (one intra-op thread, no spinning)."""
    import numpy as np

    from face_ssd_ros.detect.backends.onnxruntime_backend import OnnxRuntimeBackend
    from face_ssd_ros.detect.inference import default_model_path
    from face_ssd_ros.detect.manifest import load_manifest

    path = default_model_path()
    manifest = load_manifest(path)
    sess = OnnxRuntimeBackend(path, manifest).session   # the detector's defaults: one thread at 320x240, no spinning
    feed = {manifest.input_name: np.random.RandomState(0).randn(1, 3, manifest.height, manifest.width)
            .astype(np.float32)}
    for _ in range(10):
        sess.run(None, feed)
    cpu = dict((g, []) for g in gaps_ms)
    for r in range(rounds):
        for gap in gaps_ms:
            runs = []
            for _ in range(frames):
                if gap > 0:
                    time.sleep(gap / 1e3)
                c0 = time.thread_time()   # the caller's thread runs the whole graph with one intra-op thread
                sess.run(None, feed)
                runs.append((time.thread_time() - c0) * 1e3)
            cpu[gap].append(benchlib.median(runs))
        log('  gaps: round %d of %d' % (r + 1, rounds))
    return [{'gap_ms': g, 'cpu_ms': benchlib.median(cpu[g]), 'rounds': cpu[g]} for g in gaps_ms]


def _calibration_batches(manifest, count):
    """Up to ``count`` ``faces/wider_train`` images (training data; every n-th of the sorted list) preprocessed for
    ``manifest``: a list of float32 ``[1, 3, h, w]``."""
    import glob

    import cv2

    from face_ssd_ros.detect.preprocess import preprocess

    paths = sorted(glob.glob(os.path.join(benchlib.SHARED_DATA, 'faces', 'wider_train', '**', '*.jpg'),
                             recursive=True))
    if not paths:
        raise SystemExit('engines: no images under %s/faces/wider_train to calibrate the int8 model on'
                         % benchlib.SHARED_DATA)
    step = max(1, len(paths) // max(1, count))
    return [preprocess(cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB), manifest) for p in paths[::step][:count]]


def _ort_int8(path, manifest, calib_images, workdir):
    """Path of ``path`` statically quantised to QDQ int8 (per-channel weights), calibrated on training images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, batches):
            self._feeds = iter([{manifest.input_name: b} for b in batches])

        def get_next(self):
            return next(self._feeds, None)

    prepared, quantised = os.path.join(workdir, 'prepared.onnx'), os.path.join(workdir, 'int8.onnx')
    quant_pre_process(path, prepared)
    quantize_static(prepared, quantised, Reader(_calibration_batches(manifest, calib_images)),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True)
    return quantised


def _engine_runners(path, manifest, calib_images, workdir, log=print):
    """``[(label, run(x))]``: one single-threaded runner per CPU engine installed here (see the module docstring)."""
    import cv2

    from face_ssd_ros.detect.backends.onnxruntime_backend import OnnxRuntimeBackend

    def ort_runner(model):   # the detector's own session: one intra-op thread, workers asleep
        sess = OnnxRuntimeBackend(model, manifest, num_threads=1).session
        return lambda x: sess.run(None, {manifest.input_name: x})

    runners = [('ONNX Runtime fp32 (the detector)', ort_runner(path))]
    log('  quantising to int8 (calibration: %d training images)' % calib_images)
    runners.append(('ONNX Runtime int8 (QDQ, static)', ort_runner(_ort_int8(path, manifest, calib_images, workdir))))
    net = cv2.dnn.readNetFromONNX(path)
    names = net.getUnconnectedOutLayersNames()

    def opencv_run(x):
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)           # one thread for this run, the caller's setting restored after it
        try:
            net.setInput(x)
            return net.forward(names)
        finally:
            cv2.setNumThreads(threads)
    runners.append(('OpenCV DNN %s' % cv2.__version__, opencv_run))
    try:
        import openvino
    except ImportError:
        log('  OpenVINO: not installed, skipped')
    else:
        compiled = openvino.Core().compile_model(path, 'CPU', {'INFERENCE_NUM_THREADS': 1, 'NUM_STREAMS': 1,
                                                                'PERFORMANCE_HINT': 'LATENCY'})
        request = compiled.create_infer_request()
        runners.append(('OpenVINO %s' % openvino.__version__.split('-')[0], lambda x: request.infer({0: x})))
    return runners


def engines_part(rate, frames, rounds, calib_images=100, log=print):
    """``[{'engine', 'cpu_ms', 'wall_p50_ms', 'rounds': [cpu_ms...]}]``: the shipped 320x240 model on each CPU engine
    installed here, one thread, one run per frame period of ``rate`` Hz, interleaved over ``rounds``."""
    import shutil
    import tempfile

    import numpy as np

    from face_ssd_ros.detect.inference import default_model_path
    from face_ssd_ros.detect.manifest import load_manifest

    path = default_model_path()
    manifest = load_manifest(path)
    x = np.random.RandomState(0).randn(1, 3, manifest.height, manifest.width).astype(np.float32)
    workdir = tempfile.mkdtemp(prefix='face_ssd_engines_')
    try:
        runners = _engine_runners(path, manifest, calib_images, workdir, log)
        cpu = dict((label, []) for label, _ in runners)
        wall = dict((label, []) for label, _ in runners)
        for r in range(rounds):
            for label, run in runners:
                for _ in range(10):
                    run(x)
                c0 = time.process_time()   # every thread of this process
                for _ in range(frames):
                    time.sleep(1.0 / rate)
                    w0 = time.perf_counter()
                    run(x)
                    wall[label].append((time.perf_counter() - w0) * 1e3)
                cpu[label].append((time.process_time() - c0) / frames * 1e3)
            log('  engines: round %d of %d' % (r + 1, rounds))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return [{'engine': label, 'cpu_ms': benchlib.median(cpu[label]), 'wall_p50_ms': benchlib.median(wall[label]),
             'rounds': cpu[label]} for label, _ in runners]


_RECEIVER = r'''
import json, os, resource, select, sys, time
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from face_ssd_ros.supervise.memory import keep_frame_buffers
role, seconds, rate, width, height = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
if role in ('keep', 'events'):
    keep_frame_buffers(environ={})
rclpy.init()
node = rclpy.create_node('cpu_budget_' + role)
if role == 'events':
    from face_ssd_ros.nodes.executor import make_executor
    executor = make_executor('events')
    executor.add_node(node)
    spin_once = executor.spin_once
else:
    spin_once = lambda timeout_sec: rclpy.spin_once(node, timeout_sec=timeout_sec)
qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
if role == 'publisher':
    msg = Image(height=height, width=width, encoding='rgb8', step=width * 3)
    msg.data = bytes(bytearray(os.urandom(width * height * 3)))
    pub = node.create_publisher(Image, 'cpu_budget_image', qos)
    node.create_timer(1.0 / rate, lambda: pub.publish(msg))
    end = time.monotonic() + seconds
    while time.monotonic() < end and not select.select([sys.stdin], [], [], 0)[0]:   # until the parent closes stdin
        rclpy.spin_once(node, timeout_sec=0.1)
else:
    got = [0]
    def callback(m):
        got[0] += 1
    node.create_subscription(Image, 'cpu_budget_image', callback, qos)
    first = time.monotonic() + 30.0              # the publisher may be slow to start on a loaded machine
    while not got[0] and time.monotonic() < first:
        spin_once(timeout_sec=0.1)
    end = time.monotonic() + 1.0                 # then one second of frames before measuring
    while time.monotonic() < end:
        spin_once(timeout_sec=0.1)
    # process_time() reads a nanosecond clock; os.times() counts 10 ms ticks, too coarse for short runs
    c0, f0, t0, n0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.monotonic(), got[0]
    end = t0 + seconds
    while time.monotonic() < end:
        spin_once(timeout_sec=0.1)
    c1, f1, t1 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.monotonic()
    print(json.dumps({'frames': got[0] - n0, 'cpu_percent': 100.0 * (c1 - c0) / (t1 - t0),
                      'minor_faults_per_s': (f1 - f0) / (t1 - t0)}))
node.destroy_node()
rclpy.try_shutdown()
'''


def receive_part(rate, width, height, seconds=10.0, log=print):
    """``[{'allocator', 'executor', 'frames', 'cpu_percent', 'minor_faults_per_s'}]`` for glibc's defaults and the
    heap setting with rclpy's single-threaded executor, and the heap setting with the events executor where rclpy
    has one; publisher and subscriber are separate processes."""
    from face_ssd_ros.nodes.executor import events_executor_factory
    benchlib.ros_environment()
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('MALLOC_'))
    rows = []
    roles = [('default', "glibc's defaults", 'single-threaded'), ('keep', 'keep_frame_buffers()', 'single-threaded')]
    if events_executor_factory() is not None:
        roles.append(('events', 'keep_frame_buffers()', 'events'))
    for role, label, executor in roles:
        args = [str(seconds + 40.0), str(rate), str(width), str(height)]     # ends early: see stdin.close()
        pub = subprocess.Popen([sys.executable, '-c', _RECEIVER, 'publisher'] + args, env=env, stdin=subprocess.PIPE)
        try:
            out = subprocess.check_output([sys.executable, '-c', _RECEIVER, role, str(seconds), str(rate), str(width),
                                           str(height)], env=env, universal_newlines=True)
        finally:
            pub.stdin.close()
            pub.wait()
        row = json.loads(out.strip().splitlines()[-1])
        row['allocator'], row['executor'] = label, executor
        rows.append(row)
        log('  receive with %s, %s executor: %d frames' % (label, executor, row['frames']))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--part', default='ort,receive', help='comma list of: ort, receive, gap, engines')
    ap.add_argument('--rate', type=float, default=30.0, help='frames per second (default %(default)s)')
    ap.add_argument('--frames', type=int, default=60, help='ort, gap, engines: frames per setting and round')
    ap.add_argument('--rounds', type=int, default=6, help='ort, gap, engines: interleaved rounds')
    ap.add_argument('--image-size', default='640x480', help='receive: image WxH (default %(default)s)')
    ap.add_argument('--seconds', type=float, default=10.0, help='receive: measured seconds per allocator setting')
    ap.add_argument('--gaps', default='0,2,10,30,100', help='gap: idle ms between runs (default %(default)s)')
    ap.add_argument('--calib-images', type=int, default=100,
                    help='engines: training images that calibrate the int8 model (default %(default)s)')
    ap.add_argument('--json', help='also write the figures here')
    args = ap.parse_args(argv)
    parts = benchlib.parse_list(args.part, str)
    unknown = [p for p in parts if p not in ('ort', 'receive', 'gap', 'engines')]
    try:
        gaps = sorted(set(benchlib.parse_list(args.gaps, float)))
    except ValueError:
        gaps = []
    if unknown or args.rate <= 0 or args.frames < 1 or args.rounds < 1 or args.calib_images < 1 or not gaps \
            or min(gaps) < 0:
        ap.error('--part takes ort, receive, gap and/or engines; --rate, --frames, --rounds and --calib-images must '
                 'be positive, --gaps a list of ms >= 0')
    width, height = benchlib.parse_size(args.image_size)
    result = {}
    if 'ort' in parts:
        print('== ONNX Runtime at %.0f Hz (one run per frame period)' % args.rate)
        result['ort'] = ort_part(args.rate, args.frames, args.rounds)
        print(benchlib.format_table(['model', 'setting', 'CPU ms / frame', 'run p50 ms'],
                                    [[r['model'], r['setting'], r['cpu_ms'], r['wall_p50_ms']] for r in result['ort']],
                                    floats='%.2f'))
    if 'receive' in parts:
        print('== receiving %dx%d rgb8 at %.0f Hz in rclpy (empty callback, own process)' % (width, height, args.rate))
        result['receive'] = receive_part(args.rate, width, height, args.seconds)
        print(benchlib.format_table(['allocator', 'executor', 'frames', 'CPU %', 'minor faults / s'],
                                    [[r['allocator'], r['executor'], r['frames'], r['cpu_percent'],
                                      r['minor_faults_per_s']]
                                     for r in result['receive']], floats='%.1f'))
    if 'gap' in parts:
        print('== the 320x240 model, one thread, CPU ms per run after an idle gap (%d rounds)' % args.rounds)
        result['gap'] = gap_part(gaps, args.frames, args.rounds)
        print(benchlib.format_table(['idle gap ms', 'CPU ms / run'], [[r['gap_ms'], r['cpu_ms']]
                                                                       for r in result['gap']], floats='%.2f'))
    if 'engines' in parts:
        print('== the 320x240 model on each CPU engine, one thread, at %.0f Hz (%d rounds)' % (args.rate, args.rounds))
        result['engines'] = engines_part(args.rate, args.frames, args.rounds, args.calib_images)
        print(benchlib.format_table(['engine', 'CPU ms / frame', 'run p50 ms'],
                                    [[r['engine'], r['cpu_ms'], r['wall_p50_ms']] for r in result['engines']],
                                    floats='%.2f'))
    if args.json:
        benchlib.write_json(args.json, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""rclpy parts of the benchmarks: a fixture image publisher, a latency probe, node processes, and one harness
(:func:`run_session`) that runs the real detector (+ overlay, + camera) nodes in one process or as separate
processes over real DDS and returns what was measured.

Call :func:`benchlib.use_sources` and :func:`benchlib.ros_environment` before importing this module.
"""
import collections
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

import benchlib
from face_ssd_ros.config.pipeline import build_pipeline
from face_ssd_ros.msgs.convert import array_to_image_msg
from face_ssd_ros.nodes.common import detections_qos, image_qos
from face_ssd_ros.runner import create_nodes, start_camera
from face_ssd_ros.stamp_cache import stamp_to_ns

NAMESPACE = '/face_ssd_bench'


def detector_pipeline(model_path='', overlay=False, reliability='best_effort', extra=None):
    """Detector (+ overlay) node descriptions in :data:`NAMESPACE` from the shared pipeline description
    (config/pipeline.yaml + these overrides: no video, no JPEG side channel; /diagnostics at the node's default
    period, so that the CPU figures are those of the shipped settings)."""
    overrides = {'detector.model_path': model_path, 'detector.qos_reliability': reliability,
                 'overlay.qos_reliability': reliability,
                 'overlay.publish_compressed': False, 'overlay.video_path': ''}
    overrides.update(extra or {})
    return build_pipeline(overrides=overrides, namespace=NAMESPACE,
                          nodes=['detector', 'overlay'] if overlay else ['detector'])


class FixturePublisher(Node):
    """Publishes one real image on ``image_raw`` at ``rate_hz`` from its own thread, stamped at publish time.

    QoS as the camera node's (sensor-data style, depth 1, ``reliability``). Slots that pass while the thread
    could not run are skipped, never published in a burst (``slots_missed``). ``image_rgb``: np.uint8 [H, W, 3].
    """

    def __init__(self, image_rgb, rate_hz, reliability='best_effort', frame_id='bench_camera', **kwargs):
        super(FixturePublisher, self).__init__('bench_fixture', **kwargs)
        self.rate_hz = float(rate_hz)
        self.image_pub = self.create_publisher(Image, 'image_raw', image_qos(reliability))
        self._msg = array_to_image_msg(image_rgb, Header(frame_id=frame_id), 'rgb8', in_order='RGB')
        self.published = 0
        self.slots_missed = 0
        self.first_time = None
        self.last_time = None
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, name='bench_fixture', daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _loop(self):
        period = 1.0 / self.rate_hz
        next_slot = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if next_slot > now and self._stop.wait(next_slot - now):
                break
            now = time.monotonic()
            late = int((now - next_slot) / period)
            if late > 0:
                self.slots_missed += late
                next_slot += late * period
            next_slot += period
            self._msg.header.stamp = self.get_clock().now().to_msg()
            self.image_pub.publish(self._msg)
            self.published += 1
            self.first_time = self.first_time or now
            self.last_time = now

    def achieved_rate(self):
        if self.published < 2 or self.last_time <= self.first_time:
            return 0.0
        return (self.published - 1) / (self.last_time - self.first_time)


class LatencyProbe(Node):
    """Subscribes ``detections`` (reliable, depth 10) and ``/diagnostics``.

    ``latencies``: ``[(monotonic receive time, end-to-end ms = receive time - header stamp)]`` per array;
    ``diagnostics``: ``{status name: (monotonic receive time, [(key, value)])}``, the latest of each status.
    """

    def __init__(self, **kwargs):
        super(LatencyProbe, self).__init__('bench_probe', **kwargs)
        self.arrays = 0
        self.latencies = []
        self.last_time = None
        self.diagnostics = {}
        self.sub = self.create_subscription(Detection2DArray, 'detections', self._on_array, detections_qos())
        self.diag_sub = self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)

    def _on_array(self, msg):
        now_ns = self.get_clock().now().nanoseconds
        self.last_time = time.monotonic()
        self.arrays += 1
        self.latencies.append((self.last_time, (now_ns - stamp_to_ns(msg.header)) / 1e6))

    def _on_diag(self, msg):
        now = time.monotonic()
        for status in msg.status:
            self.diagnostics[status.name] = (now, [(kv.key, kv.value) for kv in status.values])

    def detector_status(self, after=None):
        """The latest detector status values received after monotonic time ``after`` (or None)."""
        for name, (t, values) in self.diagnostics.items():
            if 'detector' in name and (after is None or t > after):
                return values
        return None


class NodeProcess(object):
    """One pipeline node as its own process (``python -m face_ssd_ros.nodes.X --ros-args ...``, exactly the
    launch file's command line), its output in ``<folder>/<key>.log``."""

    def __init__(self, description, folder):
        self.key = description.key
        self.log_path = os.path.join(folder, self.key + '.log')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(description.command(), stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=15.0):
        """Ctrl-C (SIGINT) and wait; kill after ``timeout``. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


class _Spinner(object):
    def __init__(self, executor):
        self.executor = executor

    def spin_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def spin_until(self, predicate, timeout, what):
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise RuntimeError('timed out after %.0f s waiting for %s' % (timeout, what))
            self.executor.spin_once(timeout_sec=0.02)

    def drain(self, probe, quiet_s=1.0, timeout=10.0):
        """Spin until no array arrived for ``quiet_s`` (the frames in flight left the pipeline)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            self.executor.spin_once(timeout_sec=0.02)
            last = max(probe.last_time or start, start)
            if time.monotonic() - last >= quiet_s:
                return


def _image_subscribers(descriptions):
    return sum(1 for d in descriptions if d.key in ('detector', 'overlay'))


def run_session(mode, descriptions, duration, image_rgb=None, rate_hz=None, reliability='best_effort',
                sample_period=1.0, log=print):
    """Run the pipeline of ``descriptions`` (namespace :data:`NAMESPACE`) for ``duration`` seconds.

    ``mode``: 'inprocess' (every node in this process, one single-threaded executor, like face_ssd_ros.runner)
    or 'processes' (each node its own process, like the launch file). The source is the camera node when it is
    among ``descriptions``, else a :class:`FixturePublisher` of ``image_rgb`` at ``rate_hz``.

    Returns a dict: ``published`` (frames the source published), ``publish_rate``, ``arrays`` (received by the
    probe), ``latencies`` (``[(seconds since start, e2e ms)]``), ``detector_counters``, ``detector_stages``
    (``{stage: mean ms}``), ``overlay_counters`` (or None), ``counters_source``, ``processes`` (CPU % and RSS
    per process), ``rss`` (``{process: [(seconds since start, MB)]}``); node logs (processes mode) are kept in a
    temporary folder only when the run fails.
    """
    if mode not in ('inprocess', 'processes'):
        raise ValueError("mode must be 'inprocess' or 'processes', got %r" % (mode,))
    keys = [d.key for d in descriptions]
    use_camera = 'camera' in keys
    context = Context()
    rclpy.init(args=['face_ssd_bench', '--ros-args', '--log-level', 'warn'], context=context)  # tables, not logs
    nodes, procs, fixture, probe = collections.OrderedDict(), [], None, None
    completed = False
    logdir = tempfile.mkdtemp(prefix='face_ssd_bench_logs_') if mode == 'processes' else None
    try:
        executor = SingleThreadedExecutor(context=context)
        spinner = _Spinner(executor)
        probe = LatencyProbe(namespace=NAMESPACE, context=context)
        executor.add_node(probe)
        if not use_camera:
            fixture = FixturePublisher(image_rgb, rate_hz, reliability, namespace=NAMESPACE, context=context)
            executor.add_node(fixture)
        watched = collections.OrderedDict()
        if mode == 'inprocess':
            nodes = create_nodes(descriptions, context)
            for node in nodes.values():
                executor.add_node(node)
            watched['bench process (%s)' % '+'.join(keys + ([] if use_camera else ['fixture']) + ['probe'])] = \
                os.getpid()
        else:
            for d in descriptions:
                if d.key != 'camera':
                    procs.append(NodeProcess(d, logdir))
                    watched[d.key] = procs[-1].pid
            watched['bench process (%sprobe)' % ('' if use_camera else 'fixture+')] = os.getpid()
        topic = NAMESPACE + '/image_raw'
        wanted = _image_subscribers(descriptions)

        def ready():
            for p in procs:
                if not p.alive():
                    raise RuntimeError('%s exited at start-up:\n%s' % (p.key, p.output()))
            return probe.count_publishers(NAMESPACE + '/detections') >= 1 and \
                probe.count_subscribers(topic) >= wanted
        spinner.spin_until(ready, 60, '%d subscriber(s) on %s and the detector publisher' % (wanted, topic))
        camera_proc = None
        sampler = benchlib.ProcSampler(watched, period=sample_period)
        if use_camera and mode == 'processes':
            camera_proc = NodeProcess([d for d in descriptions if d.key == 'camera'][0], logdir)
            procs.append(camera_proc)
            sampler.processes['camera'] = camera_proc.pid
            sampler.samples['camera'] = []
        sampler.start()
        if use_camera and mode == 'inprocess':
            start_camera(nodes, executor)
        elif fixture is not None:
            fixture.start()
        t_start = time.monotonic()
        log('  %s: running %.0f s (%s)' % (mode, duration, ', '.join(keys + ([] if use_camera else ['fixture']))))
        spinner.spin_for(duration)
        # Stop the source, let the frames in flight leave the pipeline, then read the counters.
        camera_log = None
        if fixture is not None:
            fixture.stop()
        elif mode == 'inprocess':
            nodes['camera'].shutdown()
        else:
            camera_proc.stop()
            camera_log = camera_proc.output()
        t_stop = time.monotonic()
        spinner.drain(probe)
        sampler.stop()
        result = {'mode': mode, 'source': 'camera' if use_camera else 'fixture', 'rate_hz': rate_hz,
                  'duration_s': t_stop - t_start, 'arrays': probe.arrays}
        if mode == 'inprocess':
            det = nodes['detector'].stats.summary()
            result['detector_counters'] = dict(det['counters'])
            result['detector_stages'] = dict((k, v['mean']) for k, v in det['stages'].items())
            result['overlay_counters'] = dict(nodes['overlay'].stats.summary()['counters']) \
                if 'overlay' in nodes else None
            result['counters_source'] = 'node objects'
        else:
            asked = time.monotonic()
            period = float([d for d in descriptions if d.key == 'detector'][0].parameters['diagnostics_period'])
            spinner.spin_until(lambda: probe.detector_status(after=asked) is not None, 5 * period + 5,
                               'a fresh /diagnostics status of the detector')
            values = probe.detector_status(after=asked)
            result['detector_counters'] = dict(benchlib.diagnostics_counters(values))
            result['detector_stages'] = dict((k[:-len('_ms_mean')], float(v)) for k, v in values
                                             if k.endswith('_ms_mean'))
            result['counters_source'] = '/diagnostics'
            result['overlay_counters'] = None
            for p in procs:
                if p is not camera_proc:
                    p.stop()
                    if p.key == 'overlay':
                        result['overlay_counters'] = benchlib.parse_overlay_summary(p.output())
        if fixture is not None:
            result['published'] = fixture.published
            result['publish_rate'] = fixture.achieved_rate()
            result['slots_missed'] = fixture.slots_missed
        elif mode == 'inprocess':
            result['published'] = nodes['camera'].stats.counter('frames')
            result['publish_rate'] = result['published'] / max(result['duration_s'], 1e-9)
        else:
            result['published'] = benchlib.parse_camera_summary(camera_log)
            if result['published'] is None:
                result['camera_log_tail'] = camera_log[-2000:]
            result['publish_rate'] = (result['published'] or 0) / max(result['duration_s'], 1e-9)
        result['latencies'] = [(t - t_start, ms) for t, ms in probe.latencies]
        result['processes'] = sampler.report(settle_s=min(10.0, duration / 4.0), span_s=min(10.0, duration / 4.0))
        result['rss'] = dict((name, [(t - t_start, mb) for t, mb in sampler.rss_series(name)])
                             for name in sampler.processes)
        completed = True
        return result
    finally:
        if logdir is not None:
            if completed:
                shutil.rmtree(logdir, ignore_errors=True)
            else:
                log('node logs kept in %s' % logdir)
        if fixture is not None:
            fixture.stop()
        for p in procs:
            if p.alive():
                p.stop(timeout=5.0)
        for node in reversed(list(nodes.values())):
            try:
                node.destroy_node()
            except Exception:  # noqa: BLE001 - best effort clean-up; the context may be shut down
                pass
        for node in (fixture, probe):
            if node is not None:
                node.destroy_node()
        context.try_shutdown()


def run_overrun(size, factor, duration, modes, image_rgb, checkpoint=None, overlay=False, log=print):
    """Input outruns the detector: the shipped architecture exported at network input ``size`` (w, h) from
    ``checkpoint`` (see :func:`benchlib.prepare_models`) is timed bare in a child process, then a fixture publisher
    sends ``image_rgb`` at ``factor`` x its sustainable rate for ``duration`` s into the real detector node (+ overlay)
    over real DDS, once per mode in ``modes``. Needs :func:`benchlib.ros_environment` first.

    Returns ``{'size': [w, h], 'weights', 'bare_stages', 'period_ms' (bare ms per frame), 'max_rate' (frames/s),
    'rate' (Hz sent), 'sessions': [(mode, run_session result), ...]}``.
    """
    with tempfile.TemporaryDirectory(prefix='face_ssd_bench_') as workdir:
        model, timing = benchlib.prepare_and_measure_in_child(size, workdir, checkpoint, image_rgb)
        rate = factor * timing['fps']
        log('overrun: detector at %dx%d (%s) takes %.1f ms/frame bare (%.1f frames/s); publishing at %.1f Hz for '
            '%.0f s per mode' % (size[0], size[1], model['onnx_weights'], timing['stages']['total']['mean'],
                                 timing['fps'], rate, duration))
        sessions = [(mode, run_session(mode, detector_pipeline(model['onnx'], overlay), duration, image_rgb=image_rgb,
                                       rate_hz=rate, log=log))
                    for mode in modes]
    return {'size': list(size), 'weights': model['onnx_weights'], 'bare_stages': timing['stages'],
            'period_ms': timing['stages']['total']['mean'], 'max_rate': timing['fps'], 'rate': rate,
            'sessions': sessions}

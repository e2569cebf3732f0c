"""In-process runner: the launch file's nodes, built from the same pipeline description, in one process.

    face_ssd_pipeline --config config/pipeline.yaml --set camera.source=video.mp4 \\
        --set detector.score_threshold=0.5 --duration 30 --jsonl out/detections.jsonl

It stops when the camera finishes (end of a file without loop, max_frames) or after ``--duration`` seconds or on
SIGINT (Ctrl-C) / SIGTERM (docker stop, systemd, timeout), waits for the frames in flight to leave the detector and
overlay, closes the JSONL and the video, and prints a summary: frames, faces, processed FPS, per-stage latency and
where every frame went (processed and written, or dropped with the reason). ``--jsonl`` records every detection array as one JSON line::

    {"stamp": {"sec": S, "nanosec": N}, "frame_id": "camera", "boxes": [[x1, y1, x2, y2, score, "face"], ...]}

(boxes in pixels of the image, as in ``face-ssd-detect`` predictions). Arguments after ``--ros-args`` go to rclpy.

The bag-evaluation pipeline (replay -> detector -> evaluator, config/bag_eval.yaml) runs the same way::

    face_ssd_pipeline --bag bags/wider_dev --model models/face.onnx --set evaluator.output_dir=runs/eval

``--bag`` selects config/bag_eval.yaml unless ``--config`` is given; without ``--nodes`` the nodes are those of the
config file. The run ends when the replay has finished and the evaluator has written its reports.
"""
import argparse
import collections
import importlib
import json
import os
import sys
import time

from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.supervise.accounting import format_accounting, frame_accounting
from face_ssd_ros.supervise.graph import neighbour_text
from face_ssd_ros.nodes.common import StartupError, detections_qos, endpoint_name, init_rclpy, to_parameter
from face_ssd_ros.supervise.stop import StopRequest
from face_ssd_ros.config.pipeline import BAG_EVAL_CONFIG, PipelineConfigError, build_pipeline, config_nodes, \
    default_environment, find_config
from face_ssd_ros.msgs.convert import msg_to_detections

EXECUTORS = ('single', 'multi')
#: Nodes that produce frames; created stopped and started once their consumers exist.
SOURCE_KEYS = ('camera', 'replay')


class DetectionRecorder(Node):
    """Subscribes to a detections topic; counts arrays and labels, optionally writes JSON Lines."""

    def __init__(self, topic, jsonl_path=None, **kwargs):
        super(DetectionRecorder, self).__init__('face_ssd_recorder', **kwargs)
        self.arrays = 0
        self.labels = collections.Counter()
        self.first_time = None
        self.last_time = None
        self._file = None
        if jsonl_path:
            folder = os.path.dirname(os.path.abspath(jsonl_path))
            os.makedirs(folder, exist_ok=True)
            self._file = open(jsonl_path, 'w')
        self.sub = self.create_subscription(Detection2DArray, topic, self._on_array, detections_qos())

    def _on_array(self, msg):
        now = time.monotonic()
        self.first_time = self.first_time if self.first_time is not None else now
        self.last_time = now
        self.arrays += 1
        detections = msg_to_detections(msg)
        self.labels.update(d.label for d in detections)
        if self._file is not None:
            record = {'stamp': {'sec': msg.header.stamp.sec, 'nanosec': msg.header.stamp.nanosec},
                      'frame_id': msg.header.frame_id,
                      'boxes': [[round(d.x1, 2), round(d.y1, 2), round(d.x2, 2), round(d.y2, 2), round(d.score, 4),
                                 d.label] for d in detections]}
            self._file.write(json.dumps(record) + '\n')
            self._file.flush()  # a run killed without warning (SIGKILL, power) still leaves every line so far

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def create_nodes(descriptions, context):
    """Construct the node classes of ``descriptions`` in this process: ``OrderedDict(key -> node)``.

    Parameters are passed as typed overrides and remappings as node-local ``--ros-args -r``, exactly what the
    launch file hands to the separate processes. The camera is created stopped (see :func:`start_camera`).
    A StartupError destroys the nodes built so far (the failing one destroys itself, see
    :class:`face_ssd_ros.nodes.common.FaceSsdNode`) and propagates.
    """
    nodes = collections.OrderedDict()
    try:
        for d in descriptions:
            cls = getattr(importlib.import_module(d.module), d.class_name)
            overrides = [to_parameter(spec, d.parameters[spec.name]) for spec in d.specs]
            cli_args = None
            if d.remappings:
                cli_args = ['--ros-args']
                for src, dst in d.remappings:
                    cli_args += ['-r', '%s:=%s' % (src, dst)]
            extra = {'autostart': False} if d.key in SOURCE_KEYS else {}
            nodes[d.key] = cls(node_name=d.name, namespace=d.namespace or None, parameter_overrides=overrides,
                               cli_args=cli_args, context=context, **extra)
    except BaseException:
        for node in reversed(list(nodes.values())):
            node.destroy_node()
        raise
    return nodes


def start_camera(nodes, executor, timeout=5.0):
    """Start the camera once the in-process image subscribers (detector, overlay) are matched, so the first frames
    of a file are not published into the void. Returns the number of matched subscribers."""
    camera = nodes.get('camera')
    if camera is None:
        return 0
    wanted = sum(1 for key in ('detector', 'overlay') if key in nodes)
    deadline = time.monotonic() + timeout
    while camera.image_pub.get_subscription_count() < wanted and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
    camera.start()
    return camera.image_pub.get_subscription_count()


def _finishing_nodes(nodes):
    """The nodes that end a run by setting ``finished`` (camera at the end of a file; replay and evaluator)."""
    return [(key, node) for key, node in nodes.items() if getattr(node, 'finished', None) is not None]


def _detections_topic(descriptions, nodes):
    if 'detector' in nodes:
        return nodes['detector'].pub.topic_name
    namespace = descriptions[0].namespace if descriptions else ''
    return namespace + '/detections'


def _stage_table(detector):
    return detector.stats.format_summary('detector per-stage latency') if detector is not None else ''


def _progress(nodes, recorder):
    """Counters that change while frames still move through the pipeline (the drain waits for them to settle)."""
    detector, overlay = nodes.get('detector'), nodes.get('overlay')
    out = [recorder.arrays]
    if detector is not None:
        out += [detector.stats.counter('frames_received'), detector.stats.counter('frames_processed')]
    if overlay is not None:
        acc = overlay.accounting()
        out += [acc['images_received'], acc['arrays_received'], acc['annotated']]
    return tuple(out)


def _delivered(nodes, recorder):
    """True when every frame the camera published reached the detector and every array it published reached the
    recorder and the overlay."""
    camera, detector, overlay = nodes.get('camera'), nodes.get('detector'), nodes.get('overlay')
    if detector is None:
        return True
    processed = detector.stats.counter('frames_processed')
    if recorder.arrays < processed or (overlay is not None and overlay.accounting()['arrays_received'] < processed):
        return False
    return camera is None or detector.stats.counter('frames_received') >= camera.stats.counter('frames')


def _stop_sources(nodes):
    """Stop the frame sources (camera, replay): nothing new enters while the frames in flight drain."""
    for key in SOURCE_KEYS:
        node = nodes.get(key)
        if node is not None:
            node.shutdown()


def _own_publishers(nodes, topic):
    """How many publishers of ``topic`` this runner's nodes have."""
    count = 0
    for node in nodes.values():
        for pub in node.publishers:
            if pub.topic_name == topic:
                count += 1
    return count


def check_neighbours(nodes, recorder, warned, log):
    """Warn (once per topic, through ``log``) when the pipeline's image or detections topic has publishers of other
    processes: another pipeline in this ROS domain, whose frames would mix with ours."""
    topics = []
    for key in ('detector', 'overlay'):
        if key in nodes:
            topics.append(nodes[key].image_sub.topic_name if key == 'overlay' else nodes[key].sub.topic_name)
    topics.append(recorder.sub.topic_name)
    for topic in sorted(set(topics)):
        if topic in warned:
            continue
        infos = recorder.get_publishers_info_by_topic(topic)
        expected = _own_publishers(nodes, topic)
        if len(infos) > expected:
            warned.add(topic)
            log('face_ssd_pipeline: WARNING: %s' % neighbour_text(topic, [endpoint_name(i) for i in infos], expected))


def run(descriptions, duration=None, jsonl=None, executor='single', drain_timeout=3.0, ros_args=None, log=print,
        stop=None):
    """Run the described nodes in-process until the camera finishes, ``duration`` s pass, or SIGINT / SIGTERM.

    SIGINT (Ctrl-C) and SIGTERM (docker stop, systemd, timeout) end the run the same way (``stop``: a
    :class:`face_ssd_ros.supervise.stop.StopRequest`, installed here from the main thread when not given): the
    callback in hand finishes, the sources stop, the frames in flight drain (up to ``drain_timeout`` s), then the
    JSONL and the video are closed and the summary is returned. A second signal skips the drain.

    Before and during the run, publishers of other processes on the pipeline's image / detections topics are
    reported through ``log`` (two pipelines in one ROS domain mix their frames).

    Returns a summary dict: frames (published by the camera), processed (detector), detections, labels
    (Counter), arrays_recorded, fps (processed frames per second while arrays flowed), annotated (overlay),
    accounting (:func:`face_ssd_ros.supervise.accounting.frame_accounting`: where every frame went), stages (detector
    per-stage latency), elapsed_s, stopped_by, and ``nodes`` (the node objects, already destroyed; their ``stats``
    stay readable). Raises StartupError when a node cannot start.
    """
    if executor not in EXECUTORS:
        raise ValueError('executor must be one of %s' % (EXECUTORS,))
    for key, value in default_environment().items():
        os.environ.setdefault(key, value)
    own_stop = stop is None
    stop = StopRequest().install() if own_stop else stop
    context = Context()
    nodes = collections.OrderedDict()
    recorder = None
    stopped_by = 'duration'
    t_start = time.monotonic()
    try:
        init_rclpy(ros_args, context=context, prog='face_ssd_pipeline')
        nodes = create_nodes(descriptions, context)
        recorder = DetectionRecorder(_detections_topic(descriptions, nodes), jsonl, context=context)
        ex = (MultiThreadedExecutor(num_threads=2, context=context) if executor == 'multi'
              else SingleThreadedExecutor(context=context))
        for node in list(nodes.values()) + [recorder]:
            ex.add_node(node)
        start_camera(nodes, ex)
        warned = set()
        check_neighbours(nodes, recorder, warned, log)
        if 'replay' in nodes:
            nodes['replay'].start()  # it waits for its subscribers itself
        finishing = _finishing_nodes(nodes)
        t_start = time.monotonic()
        next_check = t_start + 1.0
        draining_since = None
        last_change, progress = t_start, None
        try:
            while context.ok():
                ex.spin_once(timeout_sec=0.05)
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 1.0
                    check_neighbours(nodes, recorder, warned, log)
                current = _progress(nodes, recorder)
                if current != progress:
                    progress, last_change = current, now
                if draining_since is None:
                    if stop.is_set():
                        stopped_by = 'interrupted (%s)' % stop.signal_name
                    elif duration is not None and now - t_start >= duration:
                        stopped_by = 'duration'
                    elif finishing and all(node.finished.is_set() for _, node in finishing):
                        stopped_by = ' and '.join(key for key, _ in finishing) + ' finished'
                    else:
                        continue
                    draining_since = now
                    _stop_sources(nodes)
                    continue
                # draining: until every frame is delivered, or nothing moved for a while (frames lost on the
                # way), or drain_timeout
                if (_delivered(nodes, recorder) and now - last_change >= 0.1) or now - last_change >= 0.5 \
                        or now - draining_since >= drain_timeout:
                    break
        except (KeyboardInterrupt, ExternalShutdownException):
            stopped_by = 'interrupted (%s)' % (stop.signal_name or 'SIGINT')
        elapsed = time.monotonic() - t_start
        for node in reversed(list(nodes.values())):
            shutdown = getattr(node, 'shutdown', None)
            if shutdown is not None:
                shutdown()
        ex.shutdown(timeout_sec=1.0)
    finally:
        try:
            for node in list(nodes.values()) + ([recorder] if recorder is not None else []):
                if isinstance(node, DetectionRecorder):
                    node.close()
                try:
                    node.destroy_node()
                except Exception:  # the context may already be shut down by Ctrl-C
                    pass
            context.try_shutdown()
        finally:
            if own_stop:
                stop.restore()

    camera, detector, overlay = nodes.get('camera'), nodes.get('detector'), nodes.get('overlay')
    evaluator = nodes.get('evaluator')
    flow = (recorder.last_time - recorder.first_time) if recorder.arrays > 1 else 0.0
    accounting = None
    if detector is not None:
        accounting = frame_accounting(camera.stats.counter('frames') if camera else None,
                                      detector.stats.summary()['counters'],
                                      overlay.accounting() if overlay else None)
    summary = {
        'stopped_by': stopped_by,
        'elapsed_s': elapsed,
        'frames': camera.stats.counter('frames') if camera else None,
        'processed': detector.stats.counter('frames_processed') if detector else None,
        'detections': detector.stats.counter('detections') if detector else sum(recorder.labels.values()),
        'labels': recorder.labels,
        'arrays_recorded': recorder.arrays,
        'fps': (recorder.arrays - 1) / flow if flow > 0 else 0.0,
        'annotated': overlay.stats.counter('frames_annotated') if overlay else None,
        'accounting': accounting,
        'stages': detector.stats.summary()['stages'] if detector else {},
        'stage_table': _stage_table(detector),
        'replayed': nodes['replay'].stats.counter('frames') if 'replay' in nodes else None,
        'report': evaluator.report if evaluator else None,
        'report_paths': evaluator.report_paths if evaluator else None,
        'nodes': nodes,
    }
    return summary


def format_summary(summary):
    """Multi-line text of a :func:`run` summary."""
    labels = summary['labels']
    lines = ['face_ssd pipeline: stopped by %s after %.1f s' % (summary['stopped_by'], summary['elapsed_s'])]
    if summary['frames'] is not None:
        lines.append('  frames published by the camera: %d' % summary['frames'])
    if summary.get('replayed') is not None:
        lines.append('  frames replayed from the bag: %d' % summary['replayed'])
    if summary['processed'] is not None:
        lines.append('  frames processed by the detector: %d (%.1f FPS)' % (summary['processed'], summary['fps']))
    lines.append('  detections: %d (%s) in %d arrays' % (
        summary['detections'], ', '.join('%s=%d' % kv for kv in sorted(labels.items())) or 'none',
        summary['arrays_recorded']))
    if summary['annotated'] is not None:
        lines.append('  frames annotated by the overlay: %d' % summary['annotated'])
    if summary.get('accounting'):
        lines.extend(format_accounting(summary['accounting']))
    if summary['stage_table']:
        lines.append(summary['stage_table'])
    if summary.get('report_paths'):
        from face_ssd_ros.evaluation.bag_report import markdown_summary
        lines.append(markdown_summary(summary['report'], 'evaluation'))
        lines.append('reports: %s' % ', '.join(summary['report_paths'].values()))
    return '\n'.join(lines)


def build_arg_parser():
    parser = argparse.ArgumentParser(
        prog='face_ssd_pipeline', description='Run the face_ssd camera -> detector -> overlay pipeline in one '
        'process, from the same description as the launch files. Arguments after --ros-args go to ROS.')
    parser.add_argument('--config', default=None, help='pipeline parameter file (default: config/pipeline.yaml)')
    parser.add_argument('--params-file', action='append', default=[],
                        help='extra parameter file merged over --config (repeatable), e.g. config/csi_camera.yaml')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='override one parameter (repeatable), e.g. detector.score_threshold=0.5 or '
                             'camera.source=video.mp4; shortcuts like score_threshold=0.5 work too')
    parser.add_argument('--source', default=None, help='shortcut for --set camera.source=SOURCE')
    parser.add_argument('--model', default=None, help='shortcut for --set detector.model_path=MODEL')
    parser.add_argument('--namespace', default='', help='namespace of all nodes')
    parser.add_argument('--nodes', default=None,
                        help='comma-separated nodes to run (default: those of the config file, e.g. '
                             'camera,detector,overlay)')
    parser.add_argument('--bag', default=None, help='shortcut for --set replay.bag_path=BAG; selects '
                        'config/bag_eval.yaml (replay -> detector -> evaluator) unless --config is given')
    parser.add_argument('--image-topic', default='', help='remap image_raw of detector and overlay to this topic')
    parser.add_argument('--duration', type=float, default=None, help='stop after this many seconds')
    parser.add_argument('--jsonl', default=None, help='write every detection array to this JSON Lines file')
    parser.add_argument('--executor', choices=EXECUTORS, default='single',
                        help='single-threaded (default; measured faster on small CPUs) or multi-threaded (2 threads)')
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = None
    if '--ros-args' in argv:
        cut = argv.index('--ros-args')
        argv, ros_args = argv[:cut], ['face_ssd_pipeline'] + argv[cut:]
    args = build_arg_parser().parse_args(argv)
    overrides = list(args.set)
    if args.source is not None:
        overrides.append('camera.source=' + args.source)
    if args.model is not None:
        overrides.append('detector.model_path=' + args.model)
    if args.bag is not None:
        overrides.append('replay.bag_path=' + args.bag)
    try:
        config = args.config or find_config(BAG_EVAL_CONFIG if args.bag is not None else 'pipeline.yaml')
        nodes = [n.strip() for n in args.nodes.split(',') if n.strip()] if args.nodes else config_nodes(config)
        descriptions = build_pipeline(config, overrides, namespace=args.namespace, nodes=nodes,
                                      image_topic=args.image_topic, params_files=args.params_file)
    except PipelineConfigError as exc:
        print('face_ssd_pipeline: %s' % exc, file=sys.stderr)
        return 2
    try:
        summary = run(descriptions, duration=args.duration, jsonl=args.jsonl, executor=args.executor,
                      ros_args=ros_args)
    except StartupError as exc:
        print('face_ssd_pipeline: %s' % exc, file=sys.stderr)
        return 1
    print(format_summary(summary))
    if args.jsonl:
        print('  detection arrays written to %s' % args.jsonl)
    return 0


if __name__ == '__main__':
    sys.exit(main())

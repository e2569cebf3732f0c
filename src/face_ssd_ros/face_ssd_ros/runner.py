"""In-process runner: the launch file's nodes, built from the same pipeline description, in one process.

    face_ssd_pipeline --config config/pipeline.yaml --set camera.source=video.mp4 \\
        --set detector.score_threshold=0.5 --duration 30 --jsonl out/detections.jsonl

It stops when the camera finishes (end of a file without loop, max_frames) or after ``--duration`` seconds or on
SIGINT (Ctrl-C) / SIGTERM (docker stop, systemd, timeout), waits for the frames in flight to leave the detector and
overlay, closes the JSONL and the video, and prints a summary: frames, faces, processed FPS, per-stage latency and
where every frame went (processed and written, or dropped with the reason). ``--jsonl`` records every detection
array as one JSON line (flushed line by line)::

    {"stamp": {"sec": S, "nanosec": N}, "frame_id": "camera",
     "boxes": [[x1, y1, x2, y2, score, "face", track_id], ...]}

(boxes in pixels of the image as in ``face-ssd-detect`` predictions, plus the track id: an int, or null for a box
without one, see :mod:`face_ssd_ros.detect.tracker`). Arguments after ``--ros-args`` go to rclpy.

With ``--set detector.managed=true`` the detector is ``lifecycle_detector_node``; with ``detector.autostart=false``
it stays unconfigured until a lifecycle manager (or ``ros2 lifecycle set /detector configure``) drives it.

The bag-evaluation pipeline (replay -> detector -> evaluator, config/bag_eval.yaml) runs the same way::

    face_ssd_pipeline --bag bags/wider_dev --model models/face.onnx --set evaluator.output_dir=runs/eval
    face_ssd_pipeline --bag robot_bag --jsonl out/dets.jsonl --video out/annotated.mp4 --write-bag out/robot_dets

``--bag`` always means replay: it selects config/bag_eval.yaml unless ``--config`` is given, and with another
config (e.g. config/pipeline.yaml) its camera is replaced by the replay and an evaluator is added
(:func:`face_ssd_ros.config.pipeline.bag_nodes`); ``--nodes`` holding ``camera`` is refused. It never opens a
camera. The bag's image topic may be sensor_msgs/Image or CompressedImage: the detector's and overlay's
``image_transport`` follow the bag. A bag without ground truth runs the same way (the evaluator reports the
detections, latency and dropped frames). ``--video`` adds the overlay's annotated video, ``--write-bag`` a copy of
the bag with the detections added (by the index of each image in the bag, with its recorded header). The run ends
when the replay has finished and the evaluator has written its reports.
"""
import argparse
import collections
import importlib
import json
import os
import sys
import time

from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.cli.args import number
from face_ssd_ros.cli.outputs import output_file_problem
from face_ssd_ros.supervise.accounting import format_accounting, frame_accounting
from face_ssd_ros.supervise.graph import neighbour_text
from face_ssd_ros.nodes.common import StartupError, detections_qos, endpoint_name, init_rclpy, to_parameter
from face_ssd_ros.nodes.executor import ENV_VARIABLE as EXECUTOR_VARIABLE, ExecutorChoiceError, make_executor
from face_ssd_ros.supervise.memory import keep_frame_buffers
from face_ssd_ros.supervise.stop import StopRequest
from face_ssd_ros.config.pipeline import BAG_EVAL_CONFIG, PipelineConfigError, bag_nodes, build_pipeline, \
    config_nodes, default_environment, find_config
from face_ssd_ros.detect.predictions import make_frame_record
from face_ssd_ros.evaluation.bag_io import BagError, BagReader, DEFAULT_TOPICS, copy_with_detections, \
    image_transport_of
from face_ssd_ros.msgs.convert import msg_to_detections
from face_ssd_ros.stamp_cache import stamp_key, stamp_to_ns

EXECUTORS = ('auto', 'events', 'single', 'multi')
#: Nodes that produce frames; created stopped and started once their consumers exist.
SOURCE_KEYS = ('camera', 'replay')


class DetectionRecorder(Node):
    """Subscribes to a detections topic; counts arrays and labels, optionally writes JSON Lines
    (:func:`face_ssd_ros.detect.predictions.make_frame_record`) and keeps every array for a bag copy.

    ``bag_frame``: ``fn(stamp key) -> (index, recorded stamp key, frame_id) or None`` (the replay's
    :meth:`ReplayNode.bag_frame`): adds ``bag_index`` / ``bag_stamp`` to the JSON lines. ``keep`` (with
    ``bag_frame``): collect ``kept[bag index] = (rows, latency_ns)`` (latency = receive time minus stamp, on this
    node's clock), what :func:`write_detections_bag` writes.
    """

    def __init__(self, topic, jsonl_path=None, bag_frame=None, keep=False, **kwargs):
        super(DetectionRecorder, self).__init__('face_ssd_recorder', **kwargs)
        self.arrays = 0
        self.labels = collections.Counter()
        self.first_time = None
        self.last_time = None
        self.kept = {} if keep else None
        self._bag_frame = bag_frame
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
        if self._file is None and self.kept is None:
            return
        key = stamp_key(msg.header)
        rows = [(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in detections]
        origin = self._bag_frame(key) if self._bag_frame is not None else None
        if self.kept is not None and origin is not None:
            self.kept[origin[0]] = (rows, self.get_clock().now().nanoseconds - stamp_to_ns(msg.header))
        if self._file is not None:
            extra = {'bag_index': origin[0], 'bag_stamp': origin[1]} if origin else {}
            tracked = [r + (d.track_id,) for r, d in zip(rows, detections)]   # the 7th element: the track id
            self._file.write(json.dumps(make_frame_record(key, msg.header.frame_id, tracked, **extra)) + '\n')
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
    # a managed detector that is not active yet (autostart false) has no subscription to wait for
    wanted = sum(1 for key in ('detector', 'overlay') if key in nodes and getattr(nodes[key], 'sub', True) is not None)
    deadline = time.monotonic() + timeout
    while camera.image_pub.get_subscription_count() < wanted and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
    camera.start()
    return camera.image_pub.get_subscription_count()


def _finishing_nodes(nodes):
    """The nodes that end a run by setting ``finished`` (camera at the end of a file; replay and evaluator)."""
    return [(key, node) for key, node in nodes.items() if getattr(node, 'finished', None) is not None]


def _detections_topic(descriptions, nodes):
    detector = nodes.get('detector')
    if detector is not None and detector.pub is not None:
        return detector.pub.topic_name
    # no publisher yet (a managed detector waiting to be configured): the topic it will publish on
    description = [d for d in descriptions if d.key == 'detector'] or descriptions
    namespace = description[0].namespace if description else ''
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
    for key, attribute in (('detector', 'sub'), ('overlay', 'image_sub')):
        sub = getattr(nodes[key], attribute, None) if key in nodes else None
        if sub is not None:  # (a managed detector that is not active has no subscription)
            topics.append(sub.topic_name)
    topics.append(recorder.sub.topic_name)
    for topic in sorted(set(topics)):
        if topic in warned:
            continue
        infos = recorder.get_publishers_info_by_topic(topic)
        expected = _own_publishers(nodes, topic)
        if len(infos) > expected:
            warned.add(topic)
            log('face_ssd_pipeline: WARNING: %s' % neighbour_text(topic, [endpoint_name(i) for i in infos], expected))


def run(descriptions, duration=None, jsonl=None, executor='auto', drain_timeout=3.0, ros_args=None, log=print,
        stop=None, keep_detections=False):
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
    per-stage latency), elapsed_s, stopped_by, ``kept`` (``keep_detections``: every detection array by stamp, see
    :class:`DetectionRecorder`; else None) and ``nodes`` (the node objects, already destroyed; their ``stats`` stay
    readable). Raises StartupError when a node cannot start.
    """
    if executor not in EXECUTORS:
        raise ValueError('executor must be one of %s' % (EXECUTORS,))
    for key, value in default_environment().items():
        os.environ.setdefault(key, value)
    previous_kind = os.environ.get(EXECUTOR_VARIABLE)
    if executor in ('events', 'single'):
        os.environ[EXECUTOR_VARIABLE] = executor   # the nodes build their subscriptions for it (message info)
    keep_frame_buffers()  # frame-sized buffers from the heap, not fresh pages per frame (supervise/memory.py)
    own_stop = stop is None
    stop = StopRequest().install() if own_stop else stop
    context = Context()
    nodes = collections.OrderedDict()
    recorder = None
    stopped_by = 'duration'
    cpu_start = time.process_time()
    t_start = time.monotonic()
    try:
        init_rclpy(ros_args, context=context, prog='face_ssd_pipeline')
        nodes = create_nodes(descriptions, context)
        replay = nodes.get('replay')
        recorder = DetectionRecorder(_detections_topic(descriptions, nodes), jsonl, context=context,
                                     bag_frame=replay.bag_frame if replay is not None else None,
                                     keep=keep_detections)
        try:
            ex = (MultiThreadedExecutor(num_threads=2, context=context) if executor == 'multi'
                  else make_executor(None if executor == 'auto' else executor, context))
        except ExecutorChoiceError as exc:
            raise StartupError('face_ssd_pipeline: %s' % exc)
        for node in list(nodes.values()) + [recorder]:
            ex.add_node(node)
        start_camera(nodes, ex)
        warned = set()
        check_neighbours(nodes, recorder, warned, log)
        if 'replay' in nodes:
            nodes['replay'].start()  # it waits for its subscribers itself
        finishing = _finishing_nodes(nodes)
        cpu_start = time.process_time()  # the running pipeline's CPU (every thread), not the model's loading
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
        cpu_percent = 100.0 * (time.process_time() - cpu_start) / elapsed if elapsed > 0 else 0.0
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
            if previous_kind is None:
                os.environ.pop(EXECUTOR_VARIABLE, None)
            else:
                os.environ[EXECUTOR_VARIABLE] = previous_kind

    camera, detector, overlay = nodes.get('camera'), nodes.get('detector'), nodes.get('overlay')
    evaluator = nodes.get('evaluator')
    flow = (recorder.last_time - recorder.first_time) if recorder.arrays > 1 else 0.0
    accounting = None
    if detector is not None:
        accounting = frame_accounting(camera.stats.counter('frames') if camera else None,
                                      detector.stats.counters(),
                                      overlay.accounting() if overlay else None)
    summary = {
        'stopped_by': stopped_by,
        'elapsed_s': elapsed,
        'cpu_percent': cpu_percent,
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
        'kept': recorder.kept,
        'nodes': nodes,
    }
    return summary


def write_detections_bag(summary, out, topic=DEFAULT_TOPICS['detections']):
    """Write a copy of the replayed bag with the detections of a :func:`run` (``keep_detections=True``) added
    on ``topic``: each array carries its image's recorded header and is logged at the image's log time plus the
    measured latency (:func:`face_ssd_ros.evaluation.bag_io.copy_with_detections`). Returns its summary dict."""
    replay = summary['nodes'].get('replay')
    if replay is None or summary.get('kept') is None:
        raise BagError('writing detections back needs a replay run with keep_detections=True')
    return copy_with_detections(replay.bag_path, out, replay.bag_image_topic, summary['kept'], topic)


def format_summary(summary):
    """Multi-line text of a :func:`run` summary."""
    labels = summary['labels']
    lines = ['face_ssd pipeline: stopped by %s after %.1f s' % (summary['stopped_by'], summary['elapsed_s'])]
    if summary.get('cpu_percent') is not None:
        lines.append('  CPU: %.1f %% of one core (this process: every node of the pipeline)' % summary['cpu_percent'])
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
    parser.add_argument('--bag', default=None, help='replay this rosbag2 folder (Image or CompressedImage, with or '
                        'without ground truth) instead of a camera: --set replay.bag_path=BAG, config/bag_eval.yaml '
                        '(replay -> detector -> evaluator) unless --config is given, whose camera is then replaced '
                        'by the replay')
    parser.add_argument('--video', default=None, metavar='PATH', help='with --bag: also run the overlay and write '
                        'the annotated frames to this .mp4 (shortcut for overlay.video_path)')
    parser.add_argument('--write-bag', default=None, metavar='OUT_BAG', help='with --bag: write a copy of the bag '
                        'with the detections added as a vision_msgs/Detection2DArray topic (--write-bag-topic)')
    parser.add_argument('--write-bag-topic', default=DEFAULT_TOPICS['detections'], metavar='TOPIC',
                        help='topic of the detections in --write-bag (default %(default)s)')
    parser.add_argument('--image-topic', default='', help='remap image_raw of detector and overlay to this topic')
    parser.add_argument('--duration', type=number(float, 0.0, low_open=True), default=None,
                        help='stop after this many seconds')
    parser.add_argument('--jsonl', default=None, help='write every detection array to this JSON Lines file')
    parser.add_argument('--executor', choices=EXECUTORS, default='auto',
                        help="auto (default: $FACE_SSD_EXECUTOR, else rclpy's events executor where it has one, "
                             'else single), events, single-threaded, or multi-threaded (2 threads)')
    return parser


def _bag_transport_overrides(descriptions):
    """``['image_transport=raw|compressed']``: the detector and overlay read what the replayed bag holds."""
    replay = next((d for d in descriptions if d.key == 'replay'), None)
    if replay is None or not replay.parameters['bag_path']:
        return []
    try:
        with BagReader(replay.parameters['bag_path']) as reader:
            _, msgtype = reader.find_image_topic(replay.parameters['image_topic_in_bag'], 'replay.image_topic_in_bag')
    except BagError as exc:
        raise StartupError('replay: %s' % exc)
    return ['image_transport=' + image_transport_of(msgtype)]


def _describe(args, overrides):
    """Node descriptions of the command line; PipelineConfigError / StartupError (one line) when refused."""
    explicit = [n.strip() for n in args.nodes.split(',') if n.strip()] if args.nodes else None
    config = args.config or find_config(BAG_EVAL_CONFIG if args.bag is not None else 'pipeline.yaml')
    nodes = explicit or config_nodes(config)
    if args.bag is None:
        if args.video or args.write_bag:
            raise PipelineConfigError('--video and --write-bag go with --bag (for a camera use --set '
                                      'overlay.video_path=PATH)')
        return build_pipeline(config, overrides, namespace=args.namespace, nodes=nodes,
                              image_topic=args.image_topic, params_files=args.params_file)
    if args.source is not None:
        raise PipelineConfigError('--bag replays a bag, --source opens a camera: give one of them')
    nodes = bag_nodes(nodes, explicit=explicit is not None, video=bool(args.video))
    if args.video:
        overrides = overrides + ['overlay.video_path=' + args.video]
    if args.write_bag and os.path.exists(args.write_bag):
        raise PipelineConfigError('--write-bag %s exists already; choose a new bag folder' % args.write_bag)
    kwargs = dict(namespace=args.namespace, nodes=nodes, image_topic=args.image_topic,
                  params_files=args.params_file)
    descriptions = build_pipeline(config, overrides, **kwargs)
    return build_pipeline(config, overrides + _bag_transport_overrides(descriptions), **kwargs)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = None
    if '--ros-args' in argv:
        cut = argv.index('--ros-args')
        argv, ros_args = argv[:cut], ['face_ssd_pipeline'] + argv[cut:]
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    if args.jsonl:
        problem = output_file_problem(args.jsonl)
        if problem:
            parser.error('--jsonl %s: %s' % (args.jsonl, problem))
    overrides = list(args.set)
    if args.source is not None:
        overrides.append('camera.source=' + args.source)
    if args.model is not None:
        overrides.append('detector.model_path=' + args.model)
    if args.bag is not None:
        overrides.append('replay.bag_path=' + args.bag)
    try:
        descriptions = _describe(args, overrides)
    except (PipelineConfigError, StartupError) as exc:
        print('face_ssd_pipeline: %s' % exc, file=sys.stderr)
        return 2
    try:
        summary = run(descriptions, duration=args.duration, jsonl=args.jsonl, executor=args.executor,
                      ros_args=ros_args, keep_detections=bool(args.write_bag))
    except StartupError as exc:
        print('face_ssd_pipeline: %s' % exc, file=sys.stderr)
        return 1
    print(format_summary(summary))
    silent = [(key, count) for key, count in (('camera', summary['frames']), ('replay', summary['replayed']))
              if count == 0]
    if silent:
        key = silent[0][0]
        print('face_ssd_pipeline: the %s published no frame in %.1f s: check %s (its log above says why)'
              % (key, summary['elapsed_s'], 'camera.source' if key == 'camera' else 'replay.bag_path'),
              file=sys.stderr)
        return 1
    if args.jsonl:
        print('  detection arrays written to %s' % args.jsonl)
    if args.write_bag:
        try:
            done = write_detections_bag(summary, args.write_bag, args.write_bag_topic)
        except BagError as exc:
            print('face_ssd_pipeline: cannot write %s: %s' % (args.write_bag, exc), file=sys.stderr)
            return 1
        print('  bag with detections: %s (%d arrays on %s, %d messages copied%s)' % (
            args.write_bag, done['arrays'], args.write_bag_topic, done['messages'],
            '; left out, type unknown: %s' % ', '.join(done['skipped_topics']) if done['skipped_topics'] else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())

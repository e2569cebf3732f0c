"""The detector's work, shared by ``detector_node`` and ``lifecycle_detector_node``.

:class:`DetectorCore` is rclpy glue over the rclpy-free detection core: it declares the node's parameters
(``config.params.DETECTOR_PARAMS``), loads the model (:class:`face_ssd_ros.detect.inference.FaceDetector`) and the
tracker (:class:`face_ssd_ros.detect.tracker.ByteTracker`), owns the ``detections`` publisher and ``image_raw``
subscription, turns each image into one Detection2DArray, and builds the ``/diagnostics`` status. The two nodes only
decide *when* each step runs: the plain node does everything in its constructor, the managed node in its lifecycle
transitions (configure = :meth:`load`, activate = :meth:`subscribe`, deactivate = :meth:`unsubscribe`, cleanup =
:meth:`release`).

With ``tracking`` on, the model's boxes are post-processed down to ``min(track_low_threshold, score_threshold)``
and handed to the tracker, which publishes every box at or above ``score_threshold`` (with its track id once the
track is confirmed); the lower boxes only keep a confirmed track alive (ByteTrack's second pass). With tracking
off, the boxes at or above ``score_threshold`` with an empty id.

Who feeds the image topic is watched (:meth:`face_ssd_ros.nodes.common.FaceSsdNodeMixin.watched_subscription`):
frames from another publisher or frame_id (two pipelines in one ROS domain), more publishers in the graph than the
one camera, or a publisher with incompatible QoS are warned about once, with the fix, and counted on
``/diagnostics`` (``frames_from_mixed_sources``, ``input_publishers``, ``qos_mismatches``); so is a subscriber of
``detections`` with incompatible QoS.
"""
import time

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.config import params
from face_ssd_ros.detect.backends import BackendError
from face_ssd_ros.detect.inference import FaceDetector, ModelOutputError
from face_ssd_ros.detect.manifest import ManifestError
from face_ssd_ros.detect.tracker import detect_tracked, tracker_arguments, tracker_from_params
from face_ssd_ros.msgs.compressed import ImageDecodeError
from face_ssd_ros.msgs.convert import any_image_msg_to_array, detections_to_msg
from face_ssd_ros.msgs.image_codec import ImageSizeError, UnsupportedEncoding
from face_ssd_ros.nodes.common import ParameterHandler, StartupError, detections_qos, image_qos, image_topic, \
    log_qos
from face_ssd_ros.stamp_cache import stamp_to_ns
from face_ssd_ros.stats import PipelineStats

STAGES = ('conversion', 'preprocess', 'inference', 'postprocess', 'tracking', 'publish')
_THRESHOLD_PARAMS = ('score_threshold', 'nms_iou', 'max_detections', 'class_filter')


class DetectorCore(object):
    """Parameters, model, tracker, topics and per-frame work of a detector ``node`` (see the module docstring).

    Attributes: ``stats`` (per-stage latency and counters), ``detector`` (FaceDetector or None before
    :meth:`load` / after :meth:`release`), ``tracker`` (ByteTracker or None), ``pub`` / ``sub`` (None while not
    created), ``load_error`` (why the last :meth:`load` failed, or None).
    """

    def __init__(self, node):
        self.node = node
        self.stats = PipelineStats()
        self.detector = None
        self.tracker = None
        self.pub = None
        self.sub = None
        self.load_error = None
        self._warned = set()
        self._last_frame_time = None
        self._params = ParameterHandler(node, params.DETECTOR_PARAMS,
                                        extra_checks={'class_filter': self._check_class_filter},
                                        on_change=self._on_change)

    def values(self):
        """Current parameter values ``{name: value}``."""
        return self._params.values()

    # ------------------------------------------------------------------ model
    def load(self):
        """Load and warm up the model and create the tracker from the current parameters. Raises StartupError
        with the reason (``load_error`` keeps it) when the model or a setting is unusable."""
        if self.detector is not None:
            return
        p = self.values()
        try:
            detector = FaceDetector.from_params(p)
        except (ManifestError, BackendError, ValueError, FileNotFoundError, OSError) as exc:
            self.load_error = 'cannot load the model: %s' % exc
            raise StartupError('%s: %s' % (self.node.get_name(), self.load_error))
        try:
            detector.warmup()
        except Exception as exc:  # a backend that loads but cannot run: release it, then fail like a bad model
            detector.close()
            self.load_error = 'the model loads but does not run: %s: %s' % (type(exc).__name__, exc)
            raise StartupError('%s: %s' % (self.node.get_name(), self.load_error))
        self.load_error = None
        self.tracker = tracker_from_params(p)
        self.detector = detector
        m = detector.manifest
        self.node.get_logger().info(
            'detector ready: %s (%s, input %dx%d, labels %s), score_threshold %.2f, nms_iou %.2f, tracking %s'
            % (detector.model_path, detector.backend_name, detector.input_size[0], detector.input_size[1],
               list(m.labels[1:]), detector.score_threshold, detector.nms_iou, self._tracking_text()))
        if detector.backend.note:  # e.g. auto on an .onnx without onnxruntime: the cached TensorRT engine
            self.node.get_logger().warning(detector.backend.note)

    def release(self):
        """Release the model and forget the tracks (idempotent)."""
        detector, self.detector, self.tracker = self.detector, None, None
        if detector is not None:
            detector.close()

    def _tracking_text(self):
        t = self.tracker
        if t is None:
            return 'off'
        return 'on (match_iou %.2f, buffer %d frames, min_hits %d, low_threshold %.2f)' % (
            t.match_iou, t.track_buffer, t.min_hits, t.low_threshold)

    # ------------------------------------------------------------------ topics
    def create_publisher(self, lifecycle=False):
        """Create the ``detections`` publisher (a lifecycle publisher, silent while inactive, when ``lifecycle``)."""
        if self.pub is None:
            self.pub = self.node.watched_publisher(Detection2DArray, 'detections', detections_qos(),
                                                   lifecycle=lifecycle)

    def destroy_publisher(self, lifecycle=False):
        pub, self.pub = self.pub, None
        if pub is not None:
            (self.node.destroy_lifecycle_publisher if lifecycle else self.node.destroy_publisher)(pub)

    def subscribe(self):
        """Subscribe ``image_raw`` (or ``image_raw/compressed`` with ``image_transport: compressed``; image QoS of
        ``qos_reliability``, depth 1: always the latest frame), watching who feeds it."""
        if self.sub is None:
            p = self.values()
            qos = image_qos(p['qos_reliability'])
            msg_type, topic = image_topic(self.node, p['image_transport'])
            self.sub = self.node.watched_subscription(msg_type, topic, self.on_image, qos, 'this detector')
            log_qos(self.node, 'subscribed to', self.sub.topic_name, qos)

    def unsubscribe(self):
        """Stop receiving images and forget the tracks (the scene may have changed when images come back)."""
        sub, self.sub = self.sub, None
        if sub is not None:
            self.node.unwatch(sub)
            self.node.destroy_subscription(sub)
        if self.tracker is not None:
            self.tracker.reset()
        self._last_frame_time = None

    # ------------------------------------------------------------------ parameters
    def _check_class_filter(self, value):
        if self.detector is None:  # not loaded yet: checked against the model's labels when it is
            return None
        return params.validate_class_filter(value, self.detector.labels)

    def _on_change(self, changes):
        detector = self.detector
        thresholds = dict((k, v) for k, v in changes.items() if k in _THRESHOLD_PARAMS)
        if detector is not None and thresholds:
            detector.set_thresholds(**thresholds)  # ValueError -> the change is rejected
        tracking = [k for k in changes if k in params.TRACKING_PARAMS]
        if detector is not None and tracking:
            values = self.values()
            values.update(changes)
            if 'tracking' in changes:
                self.tracker = tracker_from_params(values)  # on: a fresh tracker; off: none
            elif self.tracker is not None:
                self.tracker.configure(**tracker_arguments(values))
        if thresholds or tracking:
            self.node.get_logger().info('detector settings changed: %s' % ', '.join(
                '%s=%s' % (k, changes[k]) for k in sorted(thresholds) + sorted(tracking)))
        if 'diagnostics_period' in changes and getattr(self.node, '_diag_timer', None) is not None:
            self.node.set_diagnostics_period(changes['diagnostics_period'])

    # ------------------------------------------------------------------ processing
    def _skip(self, reason, exc):
        self.stats.increment('skipped_' + reason)
        if reason not in self._warned:
            self._warned.add(reason)
            self.node.get_logger().warning('frame skipped (%s): %s. Further frames skipped for this reason are '
                                           'only counted (see /diagnostics).' % (reason, exc))

    def on_image(self, msg):
        """One image -> one Detection2DArray with the image header (or a counted skip)."""
        detector, tracker, pub = self.detector, self.tracker, self.pub
        if detector is None or pub is None:  # a frame that raced a deactivation / clean-up
            return
        t0 = time.perf_counter()
        self.stats.increment('frames_received')
        self._last_frame_time = time.monotonic()
        try:
            image = any_image_msg_to_array(msg, out_order='RGB')
        except ImageDecodeError as exc:
            return self._skip('undecodable', exc)
        except UnsupportedEncoding as exc:
            return self._skip('unsupported_encoding', exc)
        except ImageSizeError as exc:
            return self._skip('image_size', exc)
        t1 = time.perf_counter()
        try:
            detections, times, tracking_ms = detect_tracked(detector, tracker, image)
        except ModelOutputError as exc:
            return self._skip('model_output', exc)
        except ValueError as exc:
            return self._skip('bad_image', exc)
        t2 = time.perf_counter()
        pub.publish(detections_to_msg(detections, msg.header))
        t3 = time.perf_counter()
        self.stats.record('conversion', (t1 - t0) * 1e3)
        self.stats.record_times(times)
        if tracking_ms is not None:
            self.stats.record('tracking', tracking_ms)
        self.stats.record('publish', (t3 - t2) * 1e3)
        self.stats.record('total', (t3 - t0) * 1e3)
        stamp_ns = stamp_to_ns(msg.header)
        if stamp_ns > 0:
            self.stats.record('capture_to_publish', (self.node.get_clock().now().nanoseconds - stamp_ns) / 1e6)
        else:  # a publisher that leaves the stamp at 0: no meaningful latency (and no pairing by stamp)
            self.stats.increment('unstamped_frames')
        self.stats.increment('frames_processed')
        self.stats.increment('detections', len(detections))
        if not detections:
            self.stats.increment('empty_frames')

    # ------------------------------------------------------------------ diagnostics / summary
    def diagnostics_status(self, state=None, expect_images=True):
        """DiagnosticStatus with rates, counters, tracking and per-stage latency (mean / p95 ms).

        ``state``: lifecycle state label to report (managed node), None for the plain node; ``expect_images``:
        warn after 5 s without images (False while the node is deliberately not subscribed).
        """
        s = self.stats.summary()
        c = s['counters']
        detector = self.detector
        skipped = dict((k[len('skipped_'):], v) for k, v in c.items() if k.startswith('skipped_'))
        idle = self._last_frame_time is None or time.monotonic() - self._last_frame_time > 5.0
        status = DiagnosticStatus(name='%s: face detector' % self.node.get_fully_qualified_name(),
                                  hardware_id=detector.backend_name if detector is not None else 'none')
        watch_values, input_problems = self.node.watch_values()
        if self.load_error:
            status.level = DiagnosticStatus.ERROR
            status.message = self.load_error
        elif input_problems:
            status.level = DiagnosticStatus.WARN
            status.message = input_problems
        elif skipped:
            status.level = DiagnosticStatus.WARN
            status.message = 'skipping frames: %s' % ', '.join('%s=%d' % kv for kv in sorted(skipped.items()))
        elif expect_images and idle:
            status.level = DiagnosticStatus.WARN
            status.message = 'no images on %s for 5 s' % (self.sub.topic_name if self.sub is not None
                                                          else 'image_raw')
        elif expect_images:
            status.level = DiagnosticStatus.OK
            status.message = 'running, %.1f frames/s' % self.stats.rate('frames_processed')
        else:
            status.level = DiagnosticStatus.OK
            status.message = state or 'idle'
        values = []
        if state is not None:
            values.append(('lifecycle_state', state))
        if detector is not None:
            values += [('model', detector.model_path), ('backend', detector.backend_name),
                       ('input_size', '%dx%d' % detector.input_size),
                       ('score_threshold', '%.3f' % detector.score_threshold)]
        tracker = self.tracker
        values.append(('tracking', self._tracking_text()))
        if tracker is not None:
            values += [('active_tracks', str(len(tracker.active_tracks()))), ('track_ids_issued', str(tracker.last_id))]
        values.append(('processed_fps', '%.2f' % self.stats.rate('frames_processed')))
        values += [(k, str(v)) for k, v in c.items()] + watch_values
        for stage, st in s['stages'].items():
            values.append(('%s_ms_mean' % stage, '%.2f' % st['mean']))
            values.append(('%s_ms_p95' % stage, '%.2f' % st['p95']))
        status.values = [KeyValue(key=k, value=v) for k, v in values]
        return status

    def summary_text(self):
        return self.stats.format_summary('detector summary (%s)' % self.node.get_fully_qualified_name())


class DetectorCoreViews(object):
    """What the detector nodes show of their :class:`DetectorCore` (``self.core``): ``stats``, ``detector`` (None
    before the model is loaded), ``tracker``, ``pub`` and ``sub``; a mixin of both detector nodes."""

    @property
    def stats(self):
        return self.core.stats

    @property
    def detector(self):
        return self.core.detector if self.core is not None else None

    @property
    def tracker(self):
        return self.core.tracker

    @property
    def pub(self):
        return self.core.pub

    @property
    def sub(self):
        return self.core.sub

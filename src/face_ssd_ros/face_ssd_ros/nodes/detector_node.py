"""detector_node: SSD face detection on ``image_raw``, one vision_msgs/Detection2DArray per processed frame.

* Subscribes ``image_raw`` with depth 1 (KEEP_LAST): while a frame is processed, newer frames replace each other
  in the queue, so the node always works on the latest frame and never builds a backlog.
* Publishes ``detections`` for every processed frame, empty arrays included, with the image header unchanged.
* Unsupported encodings, malformed images and non-finite model outputs are counted by reason, warned about once
  and skipped (no array for that frame).
* ``score_threshold``, ``nms_iou``, ``max_detections``, ``class_filter`` and ``diagnostics_period`` change at
  run time (validated; class_filter entries must be labels of the model).
* Who feeds ``image_raw`` is watched: frames from another publisher or frame_id (two pipelines in one ROS
  domain), more publishers in the graph than the one camera, or a publisher with incompatible QoS are warned about
  once, with the fix, and counted on ``/diagnostics`` (``frames_from_mixed_sources``, ``input_publishers``,
  ``qos_mismatches``).
* Per-stage latency (conversion, preprocess, inference, postprocess, publish) and counters go to ``/diagnostics``
  (diagnostic_msgs/DiagnosticArray) every ``diagnostics_period`` seconds; a summary is logged at shutdown.
* A missing or mismatched model is a start-up error: one clear log line, exit code 1.

Run: ``ros2 run face_ssd_ros detector_node --ros-args -p model_path:=/path/model.onnx -r image_raw:=/cam/image``
"""
import time

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.config import params
from face_ssd_ros.detect.backends import BackendError
from face_ssd_ros.detect.inference import FaceDetector, ModelOutputError
from face_ssd_ros.detect.manifest import ManifestError
from face_ssd_ros.msgs.image_codec import ImageSizeError, UnsupportedEncoding
from face_ssd_ros.nodes.common import FaceSsdNode, ParameterHandler, StartupError, detections_qos, exit_with, \
    image_qos, log_qos, run_node
from face_ssd_ros.msgs.convert import detections_to_msg, image_msg_to_array
from face_ssd_ros.stamp_cache import stamp_to_ns
from face_ssd_ros.stats import PipelineStats

STAGES = ('conversion', 'preprocess', 'inference', 'postprocess', 'publish')
_THRESHOLD_PARAMS = ('score_threshold', 'nms_iou', 'max_detections', 'class_filter')


class DetectorNode(FaceSsdNode):
    """Face detector node (see the module docstring). ``stats`` holds the per-stage latencies and counters."""

    DEFAULT_NAME = 'detector'

    def __init__(self, node_name=DEFAULT_NAME, **kwargs):
        self.stats = PipelineStats()
        self.detector = None
        super(DetectorNode, self).__init__(node_name, **kwargs)
        self._warned = set()
        self._last_frame_time = None
        self._params = ParameterHandler(self, params.DETECTOR_PARAMS,
                                        extra_checks={'class_filter': self._check_class_filter},
                                        on_change=self._on_change)
        p = self._params.values()
        try:
            self.detector = FaceDetector(model_path=p['model_path'] or None, backend=p['backend'],
                                         score_threshold=p['score_threshold'], nms_iou=p['nms_iou'],
                                         max_detections=p['max_detections'], class_filter=p['class_filter'],
                                         input_size=(p['input_width'], p['input_height']),
                                         num_threads=p['num_threads'], allow_spinning=p['allow_spinning'])
        except (ManifestError, BackendError, ValueError, FileNotFoundError, OSError) as exc:
            raise StartupError('detector: cannot load the model: %s' % exc)
        self._summary_logged = False  # from here on, shutdown() logs the summary and releases the model
        self.detector.warmup()
        qos = image_qos(p['qos_reliability'])
        self.pub = self.watched_publisher(Detection2DArray, 'detections', detections_qos())
        self.sub = self.watched_subscription(Image, 'image_raw', self._on_image, qos, 'this detector')
        log_qos(self, 'subscribed to', self.sub.topic_name, qos)
        self.start_diagnostics(p['diagnostics_period'])
        m = self.detector.manifest
        self.get_logger().info('detector ready: %s (%s, input %dx%d, labels %s), score_threshold %.2f, nms_iou %.2f'
                               % (self.detector.model_path, self.detector.backend_name, self.detector.input_size[0],
                                  self.detector.input_size[1], list(m.labels[1:]), self.detector.score_threshold,
                                  self.detector.nms_iou))

    # ------------------------------------------------------------------ parameters
    def _check_class_filter(self, value):
        if self.detector is None:  # during declaration: checked against the labels once the model is loaded
            return None
        return params.validate_class_filter(value, self.detector.labels)

    def _on_change(self, changes):
        if self.detector is None:
            return
        thresholds = dict((k, v) for k, v in changes.items() if k in _THRESHOLD_PARAMS)
        if thresholds:
            self.detector.set_thresholds(**thresholds)  # ValueError -> the change is rejected
            self.get_logger().info('detector settings changed: %s' % ', '.join(
                '%s=%s' % kv for kv in sorted(thresholds.items())))
        if 'diagnostics_period' in changes:
            self.set_diagnostics_period(changes['diagnostics_period'])

    # ------------------------------------------------------------------ processing
    def _skip(self, reason, exc):
        self.stats.increment('skipped_' + reason)
        if reason not in self._warned:
            self._warned.add(reason)
            self.get_logger().warning('frame skipped (%s): %s. Further frames skipped for this reason are only '
                                      'counted (see /diagnostics).' % (reason, exc))

    def _on_image(self, msg):
        t0 = time.perf_counter()
        self.stats.increment('frames_received')
        self._last_frame_time = time.monotonic()
        try:
            image = image_msg_to_array(msg, out_order='RGB')
        except UnsupportedEncoding as exc:
            return self._skip('unsupported_encoding', exc)
        except ImageSizeError as exc:
            return self._skip('image_size', exc)
        t1 = time.perf_counter()
        try:
            detections, times = self.detector.detect(image)
        except ModelOutputError as exc:
            return self._skip('model_output', exc)
        except ValueError as exc:
            return self._skip('bad_image', exc)
        t2 = time.perf_counter()
        self.pub.publish(detections_to_msg(detections, msg.header))
        t3 = time.perf_counter()
        self.stats.record('conversion', (t1 - t0) * 1e3)
        self.stats.record_times(times)
        self.stats.record('publish', (t3 - t2) * 1e3)
        self.stats.record('total', (t3 - t0) * 1e3)
        stamp_ns = stamp_to_ns(msg.header)
        if stamp_ns > 0:
            self.stats.record('capture_to_publish', (self.get_clock().now().nanoseconds - stamp_ns) / 1e6)
        else:  # a publisher that leaves the stamp at 0: no meaningful latency (and no pairing by stamp)
            self.stats.increment('unstamped_frames')
        self.stats.increment('frames_processed')
        self.stats.increment('detections', len(detections))
        if not detections:
            self.stats.increment('empty_frames')

    # ------------------------------------------------------------------ diagnostics / summary
    def diagnostics_status(self):
        """DiagnosticStatus with rates, counters and per-stage latency (mean / p95 ms)."""
        s = self.stats.summary()
        c = s['counters']
        skipped = dict((k[len('skipped_'):], v) for k, v in c.items() if k.startswith('skipped_'))
        idle = self._last_frame_time is None or time.monotonic() - self._last_frame_time > 5.0
        status = DiagnosticStatus(name='%s: face detector' % self.get_fully_qualified_name(),
                                  hardware_id=self.detector.backend_name)
        watch_values, input_problems = self.watch_values()
        if input_problems:
            status.level = DiagnosticStatus.WARN
            status.message = input_problems
        elif skipped:
            status.level = DiagnosticStatus.WARN
            status.message = 'skipping frames: %s' % ', '.join('%s=%d' % kv for kv in sorted(skipped.items()))
        elif idle:
            status.level = DiagnosticStatus.WARN
            status.message = 'no images on %s for 5 s' % self.sub.topic_name
        else:
            status.level = DiagnosticStatus.OK
            status.message = 'running, %.1f frames/s' % self.stats.rate('frames_processed')
        values = [('model', self.detector.model_path), ('backend', self.detector.backend_name),
                  ('input_size', '%dx%d' % self.detector.input_size),
                  ('score_threshold', '%.3f' % self.detector.score_threshold),
                  ('processed_fps', '%.2f' % self.stats.rate('frames_processed'))]
        values += [(k, str(v)) for k, v in c.items()] + watch_values
        for stage, st in s['stages'].items():
            values.append(('%s_ms_mean' % stage, '%.2f' % st['mean']))
            values.append(('%s_ms_p95' % stage, '%.2f' % st['p95']))
        status.values = [KeyValue(key=k, value=v) for k, v in values]
        return status

    def summary_text(self):
        return self.stats.format_summary('detector summary (%s)' % self.get_fully_qualified_name())

    def shutdown(self):
        """Log the summary and release the model (once; nothing to do before the model is loaded)."""
        if not self._summary_logged:
            self.log_summary()
            self.detector.close()


def main(args=None):
    exit_with(run_node(DetectorNode, args=args))


if __name__ == '__main__':
    main()

"""evaluator_node: accuracy, latency and dropped frames of a detector, live, against replayed ground truth.

Subscribes ``ground_truth`` and ``detections`` (vision_msgs/Detection2DArray, reliable) and pairs them by exact
header stamp (:class:`face_ssd_ros.evaluation.bag_metrics.EvaluationAccumulator`). Metrics: VOC AP per class / mAP,
recall at
fixed false positives per image, WIDER Easy / Medium / Hard AP when the ground truth carries the settings,
latency and frame accounting (dropped frames = ground truth without a detection array).

A bag without ground truth (a robot's own recording) is reported too: no accuracy (the report says plainly that
there was no ground truth), but what the detector found, its latency, and the dropped frames (frames the replay
published, from ``replay_done``, minus the detection arrays received).

Latency = the time this node receives a detection array minus the array's header stamp (= the image stamp), both
on this node's ROS clock: system time, or the ``/clock`` of ``ros2 bag play --clock`` with ``use_sim_time``. With
the replay node's ``restamp`` the stamp is the image's publication time, so latency covers transport + detection.

Reports (``output_dir/report_name.json``, ``.md``, ``_pr.png``, see :mod:`face_ssd_ros.evaluation.bag_report`) are
written:

* once ``replay_done`` (std_msgs/UInt32 from replay_node) arrived and every ground-truth frame is paired, or
  ``drain_timeout`` s later; the node then finishes if ``exit_when_done``;
* on every message on ``~/write_report`` (std_msgs/Empty): ``ros2 topic pub --once /evaluator/write_report
  std_msgs/msg/Empty {}``;
* at shutdown (Ctrl-C) if ground truth or detections arrived since the last report.

Run: ``ros2 run face_ssd_ros evaluator_node --ros-args -p output_dir:=runs/bag_eval``
"""
import os
import threading
import time

from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Empty, UInt32
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.config.bag_params import EVALUATOR_PARAMS, check_fppi, parse_fppi
from face_ssd_ros.evaluation.bag_metrics import EvaluationAccumulator, EvaluationSettings
from face_ssd_ros.evaluation.bag_report import build_report, markdown_summary, write_reports
from face_ssd_ros.evaluation.gt_encoding import GroundTruthFormatError, detection_rows, gt_from_msg
from face_ssd_ros.nodes.common import FaceSsdNode, ParameterHandler, exit_with, run_node
from face_ssd_ros.nodes.replay_node import done_qos
from face_ssd_ros.stamp_cache import stamp_key, stamp_to_ns

QUEUE_DEPTH = 100


class EvaluatorNode(FaceSsdNode):
    """Evaluator node (see the module docstring). ``report`` / ``report_paths``: the last written report."""

    DEFAULT_NAME = 'evaluator'

    def __init__(self, node_name=DEFAULT_NAME, **kwargs):
        self.finished = threading.Event()
        self.exit_code = 0
        self.report = None
        self.report_paths = None
        self.accumulator = None
        super(EvaluatorNode, self).__init__(node_name, **kwargs)
        self._params = ParameterHandler(self, EVALUATOR_PARAMS, extra_checks={'fppi': check_fppi})
        p = self._params.values()
        self.accumulator = EvaluationAccumulator(p['cache_size'])
        self._replay_frames = None
        self._done_at = None
        self._reported = (0, 0)  # (ground-truth frames, detection arrays) of the last report
        self._bad_gt = 0
        qos = QoSProfile(depth=QUEUE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.gt_sub = self.qos_watched_subscription(Detection2DArray, 'ground_truth', self._on_ground_truth, qos)
        self.det_sub = self.qos_watched_subscription(Detection2DArray, 'detections', self._on_detections, qos)
        self.done_sub = self.create_subscription(UInt32, 'replay_done', self._on_replay_done, done_qos())
        self.trigger_sub = self.create_subscription(Empty, '~/write_report', lambda _: self.write_reports(), 10)
        self._timer = self.create_timer(0.1, self._check_done)
        self.get_logger().info('evaluator: %s + %s paired by stamp; reports -> %s' % (
            self.gt_sub.topic_name, self.det_sub.topic_name, os.path.join(p['output_dir'], p['report_name'])))

    # ------------------------------------------------------------------ input
    def _on_ground_truth(self, msg):
        try:
            gt = gt_from_msg(msg)
        except GroundTruthFormatError as exc:
            self._bad_gt += 1
            if self._bad_gt == 1:
                self.get_logger().warning('ground truth skipped: %s (further ones only counted)' % exc)
            return
        self.accumulator.add_ground_truth(stamp_key(msg.header), gt)

    def _on_detections(self, msg):
        latency_ms = (self.get_clock().now().nanoseconds - stamp_to_ns(msg.header)) / 1e6
        self.accumulator.add_detections(stamp_key(msg.header), detection_rows(msg), latency_ms)

    def _on_replay_done(self, msg):
        if self._done_at is None:
            self._replay_frames = int(msg.data)
            self._done_at = time.monotonic()
            self.get_logger().info('replay finished after %d frames; writing the reports once the last detections '
                                   'are in' % self._replay_frames)

    def _check_done(self):
        if self._done_at is None or self.finished.is_set():
            return
        acc = self.accumulator
        if acc.gt_frames:
            complete = acc.gt_frames >= self._replay_frames and not acc.waiting()
        else:  # no ground truth (yet): done once every published frame has its array
            complete = acc.detection_arrays >= self._replay_frames
        if complete or time.monotonic() - self._done_at >= self._params.get('drain_timeout'):
            self.write_reports()
            if self._params.get('exit_when_done'):
                self.finished.set()
            else:
                self._done_at = None

    # ------------------------------------------------------------------ reports
    def settings(self):
        return EvaluationSettings(self._params.get('iou_threshold'), parse_fppi(self._params.get('fppi')),
                                  self._params.get('use_07_metric'))

    def write_reports(self):
        """Compute the metrics so far and write the report files; returns ``{kind: path}``."""
        p = self._params.values()
        result = self.accumulator.result(self.settings(), expected_frames=self._replay_frames)
        gt_topic = self.gt_sub.topic_name if result['ground_truth'] else '%s (nothing received: no ground truth)' \
            % self.gt_sub.topic_name
        source = {'mode': 'live (evaluator_node)', 'ground_truth_topic': gt_topic,
                  'detections_topic': self.det_sub.topic_name,
                  'latency': 'evaluator receive time minus image stamp (%s clock)' % self.get_clock().clock_type.name,
                  'replay_frames': self._replay_frames, 'malformed_ground_truth': self._bad_gt}
        self.report = build_report(result, source)
        self.report_paths = write_reports(self.report, p['output_dir'], p['report_name'], plot=p['plot'])
        self._reported = (self.accumulator.gt_frames, self.accumulator.detection_arrays)
        self.get_logger().info('%s\nreports: %s' % (markdown_summary(self.report, 'evaluation (%s)' % self.get_name()),
                                                   ', '.join(self.report_paths.values())))
        return self.report_paths

    def shutdown(self):
        """Write the reports if ground truth or detections arrived since the last ones (idempotent)."""
        if self.accumulator is not None and \
                (self.accumulator.gt_frames, self.accumulator.detection_arrays) != self._reported:
            try:
                self.write_reports()
            except Exception as exc:  # a failing plot must not hide the JSON / Markdown already written
                self.get_logger().error('writing the reports failed: %s: %s' % (type(exc).__name__, exc))
                self.exit_code = 1


def main(args=None):
    exit_with(run_node(EvaluatorNode, args=args))


if __name__ == '__main__':
    main()

"""detector_node: SSD face detection on ``image_raw``, one vision_msgs/Detection2DArray per processed frame.

* Subscribes ``image_raw`` (sensor_msgs/Image), or with ``image_transport:=compressed`` ``image_raw/compressed``
  (sensor_msgs/CompressedImage, JPEG or PNG, as image_transport's compressed plugin and most robot bags carry
  it; decoded with OpenCV), with depth 1 (KEEP_LAST): while a frame is processed, newer frames replace each other
  in the queue, so the node always works on the latest frame and never builds a backlog.
* Publishes ``detections`` for every processed frame, empty arrays included, with the image header unchanged.
  Each box's ``Detection2D.id`` is its track id (``tracking``, on by default: stable while the face stays in view
  and across short misses, new for a new face; '' until the track is confirmed or with tracking off).
* Unsupported encodings, malformed images, compressed frames that do not decode (truncated, corrupt) and
  non-finite model outputs are counted by reason, warned about once and skipped (no array for that frame).
* ``score_threshold``, ``nms_iou``, ``max_detections``, ``class_filter``, the tracking parameters and
  ``diagnostics_period`` change at run time (validated; class_filter entries must be labels of the model).
* Who feeds ``image_raw`` is watched: frames from another publisher or frame_id (two pipelines in one ROS
  domain), more publishers in the graph than the one camera, or a publisher with incompatible QoS are warned about
  once, with the fix, and counted on ``/diagnostics`` (``frames_from_mixed_sources``, ``input_publishers``,
  ``qos_mismatches``).
* Per-stage latency (conversion, preprocess, inference, postprocess, tracking, publish) and counters go to
  ``/diagnostics`` (diagnostic_msgs/DiagnosticArray) every ``diagnostics_period`` seconds; a summary is logged at
  shutdown.
* A missing or mismatched model is a start-up error: one clear log line, exit code 1. ``backend: tensorrt`` with an
  .onnx model runs the model's cached engine; without one the node refuses to start and names the one
  ``face-ssd-build-engine`` command that builds it (the Docker entrypoint runs it on first start). ``auto`` on an
  .onnx where onnxruntime is not installed runs that TensorRT engine and logs a warning saying so.

The work itself is :class:`face_ssd_ros.nodes.detector_core.DetectorCore`, shared with the managed variant
``lifecycle_detector_node``.

Run: ``ros2 run face_ssd_ros detector_node --ros-args -p model_path:=/path/model.onnx -r image_raw:=/cam/image``
(add ``-p image_transport:=compressed`` to read ``/cam/image/compressed``)
"""
from face_ssd_ros.nodes.common import FaceSsdNode, StartupError, exit_with, run_node
from face_ssd_ros.nodes.detector_core import DetectorCore, DetectorCoreViews


class DetectorNode(DetectorCoreViews, FaceSsdNode):
    """Face detector node (see the module docstring). ``stats`` holds the per-stage latencies and counters;
    ``detector`` the FaceDetector, ``tracker`` the ByteTracker (None with tracking off)."""

    DEFAULT_NAME = 'detector'

    def __init__(self, node_name=DEFAULT_NAME, **kwargs):
        self.core = None
        super(DetectorNode, self).__init__(node_name, **kwargs)
        self.core = DetectorCore(self)
        p = self.core.values()
        if p['managed']:
            raise StartupError('%s: managed:=true needs the lifecycle variant: run lifecycle_detector_node (the '
                               'launch files and face_ssd_pipeline pick it from detector.managed)' % node_name)
        self.core.load()
        self._summary_logged = False  # from here on, shutdown() logs the summary and releases the model
        self.core.create_publisher()
        self.core.subscribe()
        self.start_diagnostics(p['diagnostics_period'])

    def diagnostics_status(self):
        """DiagnosticStatus with rates, counters, tracking and per-stage latency (mean / p95 ms)."""
        return self.core.diagnostics_status()

    def summary_text(self):
        return self.core.summary_text()

    def shutdown(self):
        """Log the summary and release the model (once; nothing to do before the model is loaded)."""
        if not self._summary_logged:
            self.log_summary()
            self.core.release()


def main(args=None):
    exit_with(run_node(DetectorNode, args=args))


if __name__ == '__main__':
    main()

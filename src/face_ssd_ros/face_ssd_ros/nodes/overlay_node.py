"""overlay_node: draw each detection array onto its image and publish ``image_annotated``.

Images (``image_raw``) and arrays (``detections``) are paired by exact header stamp
(:class:`face_ssd_ros.stamp_cache.StampPairer`, ``cache_size`` per side), so a box is always drawn on the frame it
was detected in, whatever the detector's latency. The annotated image keeps the source header and encoding
(rgb8 / bgr8; other encodings, and compressed input, are published as bgr8). With ``image_transport:=compressed``
the images come from ``image_raw/compressed`` (sensor_msgs/CompressedImage, JPEG / PNG), as for the detector; a
frame that does not decode is counted (``skipped_image``) and skipped. Optional: ``image_annotated/compressed``
(sensor_msgs/CompressedImage, JPEG) and a video file (``video_path``, mp4v) at ``video_fps``, or with 0 (default)
at the source's rate taken from the capture stamps (:class:`face_ssd_ros.detect.video.VideoRecorder`).

The image subscription queues ``image_queue_depth`` images (the detector's stays at depth 1): in one process, images
that arrive while the detector works on a large frame wait instead of replacing the frame being detected, so every
processed frame can be drawn. :meth:`OverlayNode.accounting` says where every array went (annotated, written,
image never received, still waiting).

Run: ``ros2 run face_ssd_ros overlay_node --ros-args -p video_path:=/tmp/annotated.mp4``
"""
import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.cli.outputs import output_file_problem
from face_ssd_ros.config import params
from face_ssd_ros.msgs.compressed import ImageDecodeError, compressed_format
from face_ssd_ros.msgs.image_codec import ImageSizeError, UnsupportedEncoding
from face_ssd_ros.nodes.common import FaceSsdNode, ParameterHandler, StartupError, detections_qos, exit_with, \
    image_qos, image_topic, log_qos, run_node
from face_ssd_ros.detect.draw import RateMeter, draw_detections
from face_ssd_ros.detect.video import VideoRecorder
from face_ssd_ros.msgs.convert import any_image_msg_to_array, array_to_image_msg, copy_header, msg_to_detections
from face_ssd_ros.stamp_cache import StampPairer, stamp_key, stamp_to_ns
from face_ssd_ros.stats import PipelineStats


class OverlayNode(FaceSsdNode):
    """Overlay node (see the module docstring). ``stats`` counts annotated frames and unmatched messages."""

    DEFAULT_NAME = 'overlay'

    def __init__(self, node_name=DEFAULT_NAME, **kwargs):
        self._video = None
        self._closed = False
        self.stats = PipelineStats()
        super(OverlayNode, self).__init__(node_name, **kwargs)
        self._lock = threading.Lock()
        self._params = ParameterHandler(self, params.OVERLAY_PARAMS, on_change=self._on_change)
        self._settings = self._params.values()
        p = self._settings
        self._pairer = StampPairer(p['cache_size'], ordered=True)  # images and detections arrive in stamp order
        self._rate = RateMeter()
        self._warned = set()
        self._last_drawn = None  # (np.uint8 [H, W, 3], 'RGB' | 'BGR') of the latest annotated frame
        if p['video_path'] and not p['video_path'].lower().endswith(('.mp4', '.m4v', '.mov', '.avi')):
            raise StartupError('overlay: video_path %r must end in .mp4 / .avi (written with the mp4v codec)'
                               % p['video_path'])
        problem = p['video_path'] and output_file_problem(p['video_path'])
        if problem:
            raise StartupError('overlay: video_path %s %s' % (p['video_path'], problem))
        qos = image_qos(p['qos_reliability'])
        self.pub = self.watched_publisher(Image, 'image_annotated', qos)
        self.compressed_pub = None
        if p['publish_compressed']:
            self._create_compressed_pub()
        image_qos_in = image_qos(p['qos_reliability'], depth=p['image_queue_depth'])
        msg_type, topic = image_topic(self, p['image_transport'])
        self.image_sub = self.watched_subscription(msg_type, topic, self._on_image, image_qos_in, 'this overlay',
                                                   label='images')
        self.det_sub = self.watched_subscription(Detection2DArray, 'detections', self._on_detections,
                                                 detections_qos(), 'this overlay', label='detections')
        log_qos(self, 'subscribed to', self.image_sub.topic_name, image_qos_in)
        log_qos(self, 'publishing', self.pub.topic_name, qos)
        self.start_diagnostics(p['diagnostics_period'])
        self._summary_logged = False

    def _create_compressed_pub(self):
        self.compressed_pub = self.watched_publisher(CompressedImage, 'image_annotated/compressed',
                                                     image_qos(self._settings['qos_reliability']))

    def _on_change(self, changes):
        with self._lock:
            settings = dict(self._settings)
            settings.update(changes)
            self._settings = settings
            if 'cache_size' in changes:
                self._pairer.capacity = int(changes['cache_size'])
            if changes.get('publish_compressed') and self.compressed_pub is None:
                self._create_compressed_pub()
        if 'diagnostics_period' in changes:
            self.set_diagnostics_period(changes['diagnostics_period'])

    # ------------------------------------------------------------------ pairing
    def _on_image(self, msg):
        self.stats.increment('images_received')
        pair = self._pairer.add_a(stamp_key(msg.header), msg)
        if pair is not None:
            self._annotate(*pair)

    def _on_detections(self, msg):
        self.stats.increment('detection_arrays_received')
        pair = self._pairer.add_b(stamp_key(msg.header), msg)
        if pair is not None:
            self._annotate(*pair)

    # ------------------------------------------------------------------ drawing / output
    def _annotate(self, image_msg, det_msg):
        t0 = time.perf_counter()
        p = self._settings
        encoding = getattr(image_msg, 'encoding', 'bgr8')  # a CompressedImage decodes to BGR
        encoding = encoding if encoding in ('rgb8', 'bgr8') else 'bgr8'
        order = 'RGB' if encoding == 'rgb8' else 'BGR'
        try:
            image = any_image_msg_to_array(image_msg, out_order=order)
        except (UnsupportedEncoding, ImageSizeError, ImageDecodeError) as exc:
            self.stats.increment('skipped_image')
            if 'image' not in self._warned:
                self._warned.add('image')
                self.get_logger().warning('cannot draw on this image (%s); such frames are skipped' % exc)
            return
        self._rate.tick()
        drawn = draw_detections(image, msg_to_detections(det_msg), draw_scores=p['draw_scores'],
                                thickness=p['line_thickness'], channel_order=order, rate_hz=self._rate.rate())
        header = copy_header(image_msg.header)
        self.pub.publish(array_to_image_msg(drawn, header, encoding))
        self._last_drawn = (drawn, order)
        compress = self.compressed_pub is not None and p['publish_compressed']
        video = p['video_path'] and not self._closed
        bgr = self.last_annotated if compress or video else None  # converted only when an output needs BGR
        if compress:
            ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(p['jpeg_quality'])])
            if ok:
                self.compressed_pub.publish(CompressedImage(header=copy_header(header),
                                                            format=compressed_format('jpeg', order),
                                                            data=jpeg.tobytes()))
        if video:
            self._write_video(bgr, image_msg.header)
        self.stats.increment('frames_annotated')
        self.stats.record('annotate', (time.perf_counter() - t0) * 1e3)

    @property
    def last_annotated(self):
        """np.uint8 [H, W, 3] BGR of the latest annotated frame, or None (demo, tests)."""
        if self._last_drawn is None:
            return None
        drawn, order = self._last_drawn
        return drawn if order == 'BGR' else cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)

    def _write_video(self, bgr, header):
        if self._video is None:
            self._video = VideoRecorder(self._settings['video_path'], self._settings['video_fps'])
        opened = self._video.opened
        self._video.add(bgr, stamp_to_ns(header))
        self._log_video_state(opened)

    def _log_video_state(self, was_open):
        video = self._video
        if video.error is not None and self._settings['video_path']:
            self._settings['video_path'] = ''
            self.get_logger().error('%s; video disabled' % video.error)
        elif video.opened and not was_open:
            self.get_logger().info('writing annotated video to %s (%dx%d, %.1f fps%s)' % (
                video.path, video.size[0], video.size[1], video.fps,
                '' if self._settings['video_fps'] > 0 else ': the rate of the capture stamps'))

    def accounting(self):
        """Where the overlay's input went: ``images_received``, ``arrays_received``, ``annotated``, ``written``
        (frames in the video, None without one), ``arrays_without_image`` (the image never arrived: dropped by the
        pairer, or still missing now), ``images_without_array`` (frames the detector did not process, or whose
        array has not come yet), ``pending_arrays``, ``pending_images``, ``undrawable`` (paired, but the image did
        not decode: a damaged CompressedImage)."""
        c = self.stats.counters()
        pc = self._pairer.counters()
        pending_images, pending_arrays = self._pairer.pending()
        return {'images_received': c.get('images_received', 0), 'arrays_received': c.get('detection_arrays_received', 0),
                'annotated': c.get('frames_annotated', 0),
                'written': self._video.written if self._video is not None else None,
                'arrays_without_image': pc['unmatched_b'], 'images_without_array': pc['unmatched_a'],
                'pending_arrays': pending_arrays, 'pending_images': pending_images,
                'undrawable': c.get('skipped_image', 0)}

    # ------------------------------------------------------------------ diagnostics / summary / shutdown
    def diagnostics_status(self):
        """DiagnosticStatus '<node>: overlay': where the input went (:meth:`accounting`), the video, and who feeds
        the inputs (other publishers / frame_ids, QoS mismatches: level WARN)."""
        acc = self.accounting()
        watch_values, problems = self.watch_values()
        status = DiagnosticStatus(name='%s: overlay' % self.get_fully_qualified_name(),
                                  hardware_id=self._settings['video_path'] or 'no video')
        status.level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        status.message = problems or '%d frames annotated' % acc['annotated']
        values = [(k, '' if v is None else str(v)) for k, v in sorted(acc.items())]
        if self._video is not None:
            values.append(('video_fps', '%.2f' % (self._video.fps or 0.0)))
        status.values = [KeyValue(key=k, value=v) for k, v in values + watch_values]
        return status

    def summary_text(self):
        c = self.stats.counters()
        pc = self._pairer.counters()
        return ('overlay summary: %d frames annotated; images %d, detection arrays %d, unmatched images %d, '
                'unmatched arrays %d%s' % (c.get('frames_annotated', 0), c.get('images_received', 0),
                                           c.get('detection_arrays_received', 0), pc['unmatched_a'],
                                           pc['unmatched_b'],
                                           ', video %s (%d frames at %.1f fps)' % (
                                               self._video.path, self._video.written, self._video.fps or 0.0)
                                           if self._video is not None and self._video.written else ''))

    def shutdown(self):
        """Close the video file and log the summary (idempotent)."""
        self._closed = True
        if self._video is not None:
            opened = self._video.opened
            self._video.close()  # writes the frames held for the rate estimate and finalises the file
            self._log_video_state(opened)
        self.log_summary()


def main(args=None):
    exit_with(run_node(OverlayNode, args=args))


if __name__ == '__main__':
    main()

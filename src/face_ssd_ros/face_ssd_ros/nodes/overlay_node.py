"""overlay_node: draw each detection array onto its image and publish ``image_annotated``.

Images (``image_raw``) and arrays (``detections``) are paired by exact header stamp
(:class:`face_ssd_ros.stamp_cache.StampPairer`, ``cache_size`` per side), so a box is always drawn on the frame it
was detected in, whatever the detector's latency. The annotated image keeps the source header and encoding
(rgb8 / bgr8; other encodings, and compressed input, are published as bgr8). With ``image_transport:=compressed``
the images come from ``image_raw/compressed`` (sensor_msgs/CompressedImage, JPEG / PNG), as for the detector; a
frame that does not decode is counted (``skipped_image``) and skipped. Optional: ``image_annotated/compressed``
(sensor_msgs/CompressedImage, JPEG) and a video file (``video_path``, mp4v).

Run: ``ros2 run face_ssd_ros overlay_node --ros-args -p video_path:=/tmp/annotated.mp4``
"""
import threading
import time

import cv2
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.config import params
from face_ssd_ros.msgs.compressed import ImageDecodeError, compressed_format
from face_ssd_ros.msgs.image_codec import ImageSizeError, UnsupportedEncoding
from face_ssd_ros.nodes.common import FaceSsdNode, ParameterHandler, StartupError, detections_qos, exit_with, \
    image_qos, image_topic, log_qos, run_node
from face_ssd_ros.detect.draw import RateMeter, draw_detections
from face_ssd_ros.msgs.convert import any_image_msg_to_array, array_to_image_msg, copy_header, msg_to_detections
from face_ssd_ros.stamp_cache import StampPairer, stamp_key
from face_ssd_ros.stats import PipelineStats


class OverlayNode(FaceSsdNode):
    """Overlay node (see the module docstring). ``stats`` counts annotated frames and unmatched messages."""

    DEFAULT_NAME = 'overlay'

    def __init__(self, node_name=DEFAULT_NAME, **kwargs):
        self._writer = None
        self._closed = False
        self.stats = PipelineStats()
        super(OverlayNode, self).__init__(node_name, **kwargs)
        self._lock = threading.Lock()
        self._params = ParameterHandler(self, params.OVERLAY_PARAMS, on_change=self._on_change)
        self._settings = self._params.values()
        p = self._settings
        self._pairer = StampPairer(p['cache_size'], ordered=True)  # images and detections arrive in stamp order
        self._rate = RateMeter()
        self._writer_size = None
        self._warned = set()
        self._last_drawn = None  # (np.uint8 [H, W, 3], 'RGB' | 'BGR') of the latest annotated frame
        if p['video_path'] and not p['video_path'].lower().endswith(('.mp4', '.m4v', '.mov', '.avi')):
            raise StartupError('overlay: video_path %r must end in .mp4 / .avi (written with the mp4v codec)'
                               % p['video_path'])
        qos = image_qos(p['qos_reliability'])
        self.pub = self.create_publisher(Image, 'image_annotated', qos)
        self.compressed_pub = None
        if p['publish_compressed']:
            self._create_compressed_pub()
        msg_type, topic = image_topic(self, p['image_transport'])
        self.image_sub = self.create_subscription(msg_type, topic, self._on_image, qos)
        self.det_sub = self.create_subscription(Detection2DArray, 'detections', self._on_detections,
                                                detections_qos())
        log_qos(self, 'subscribed to', self.image_sub.topic_name, qos)
        log_qos(self, 'publishing', self.pub.topic_name, qos)
        self._summary_logged = False

    def _create_compressed_pub(self):
        self.compressed_pub = self.create_publisher(CompressedImage, 'image_annotated/compressed',
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
            self._write_video(bgr)
        self.stats.increment('frames_annotated')
        self.stats.record('annotate', (time.perf_counter() - t0) * 1e3)

    @property
    def last_annotated(self):
        """np.uint8 [H, W, 3] BGR of the latest annotated frame, or None (demo, tests)."""
        if self._last_drawn is None:
            return None
        drawn, order = self._last_drawn
        return drawn if order == 'BGR' else cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)

    def _write_video(self, bgr):
        height, width = bgr.shape[:2]
        if self._writer is None:
            path = self._settings['video_path']
            self._writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), float(self._settings['video_fps']),
                                           (width, height))
            if not self._writer.isOpened():
                self._writer = None
                self._settings['video_path'] = ''
                self.get_logger().error('cannot write video %r (folder missing or not writable?); video disabled'
                                        % path)
                return
            self._writer_size = (width, height)
            self.get_logger().info('writing annotated video to %s (%dx%d, %.1f fps)'
                                   % (path, width, height, self._settings['video_fps']))
        if (width, height) != self._writer_size:
            bgr = cv2.resize(bgr, self._writer_size, interpolation=cv2.INTER_AREA)
        self._writer.write(bgr)

    # ------------------------------------------------------------------ summary / shutdown
    def summary_text(self):
        c = self.stats.summary()['counters']
        pc = self._pairer.counters()
        return ('overlay summary: %d frames annotated; images %d, detection arrays %d, unmatched images %d, '
                'unmatched arrays %d%s' % (c.get('frames_annotated', 0), c.get('images_received', 0),
                                           c.get('detection_arrays_received', 0), pc['unmatched_a'],
                                           pc['unmatched_b'],
                                           ', video %s' % self._settings['video_path'] if self._writer else ''))

    def shutdown(self):
        """Close the video file and log the summary (idempotent)."""
        self._closed = True
        self.log_summary()
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def main(args=None):
    exit_with(run_node(OverlayNode, args=args))


if __name__ == '__main__':
    main()

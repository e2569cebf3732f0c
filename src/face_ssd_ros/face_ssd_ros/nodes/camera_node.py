"""camera_node: capture frames (V4L2, GStreamer, Jetson CSI, video file, image folder) and publish them.

Publishes ``image_raw`` (sensor_msgs/Image, rgb8 or bgr8) and ``camera_info`` (sensor_msgs/CameraInfo) with the
same header: stamp taken right after the frame was read, ``frame_id`` from the parameter. Capture runs in its own
thread, so a blocking device read never stalls the executor.

Rates (``publish_rate``): 0 = the file's own fps (image folders: the ``fps`` parameter, else 30 Hz) or, for
devices, every frame the device delivers; -1 = as fast as possible; > 0 = that fixed rate (devices are read
continuously and the newest frame is published in each slot, so no stale frames queue up).
A lost device is reopened with exponential back-off while the node stays alive; corrupt frames are counted and
skipped, and a change of frame size is counted (camera_info follows the new size). The state and these counters go
to ``/diagnostics`` (diagnostic_msgs/DiagnosticArray) every ``diagnostics_period`` seconds. At the end of a file
(without ``loop``) or after ``max_frames`` the node logs a summary and sets ``finished``; ``main()`` then exits 0.
Files and image folders are not played into the void: playback starts once ``image_raw`` has subscribers (and
their number has been stable for SUBSCRIBER_SETTLE_S); live cameras publish from the start.

Run: ``ros2 run face_ssd_ros camera_node --ros-args -p source:=/dev/video0``
"""
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from face_ssd_ros.camera.info import CameraInfoError, CameraInfoProvider
from face_ssd_ros.camera.source import Backoff, SourceError, detect_source_type, next_file_slot, open_source
from face_ssd_ros.config import params
from face_ssd_ros.nodes.common import FaceSsdNode, ParameterHandler, StartupError, exit_with, image_qos, \
    join_thread, log_qos, run_node
from face_ssd_ros.msgs.convert import array_to_image_msg
from face_ssd_ros.stats import PipelineStats

DEFAULT_IMAGE_RATE = 30.0
#: File playback starts once image_raw has subscribers and their number has not changed for this long, so
#: subscribers started together (detector, overlay, recorders) all get the first frame despite DDS discovery delays.
SUBSCRIBER_SETTLE_S = 0.5
LIVE_TYPES = ('v4l2', 'gstreamer', 'csi')
#: Fault counters always present in the camera diagnostics (0 until the fault happens).
FAULT_COUNTERS = ('device_lost', 'open_failures', 'corrupt_frames', 'size_changes', 'frames_dropped_by_rate')


class CameraNode(FaceSsdNode):
    """Camera driver node (see the module docstring). ``finished`` is set when the source is exhausted."""

    DEFAULT_NAME = 'camera'

    def __init__(self, node_name=DEFAULT_NAME, autostart=True, **kwargs):
        """``autostart=False``: capture begins only with :meth:`start` (the runner starts the camera once the
        detector and overlay are subscribed, so no frame of a file goes unseen)."""
        self.finished = threading.Event()
        self.exit_code = 0
        self.stats = PipelineStats()
        self._stop = threading.Event()
        self._thread = None
        self._source = None
        self._state = 'starting'
        super(CameraNode, self).__init__(node_name, **kwargs)
        self._lock = threading.Lock()
        self._params = ParameterHandler(self, params.CAMERA_PARAMS, on_change=self._on_change)
        p = self._params.values()
        self._settings = p
        self._last_size = None
        self._warned = set()
        try:
            self._info = CameraInfoProvider(p['camera_info_url'])
            kind = p['source_type'] if p['source_type'] != 'auto' else detect_source_type(p['source'])
        except (CameraInfoError, SourceError) as exc:
            raise StartupError('camera: %s' % exc)
        self._backoff = Backoff(p['reconnect_initial_delay'], max(p['reconnect_max_delay'],
                                                                 p['reconnect_initial_delay']))
        if kind not in LIVE_TYPES:  # files must open now; a missing file is a start-up error
            try:
                self._source = self._open()
            except SourceError as exc:
                raise StartupError('camera: %s' % exc)
        qos = image_qos(p['qos_reliability'])
        self.image_pub = self.watched_publisher(Image, 'image_raw', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        log_qos(self, 'publishing', self.image_pub.topic_name, qos)
        self.start_diagnostics(p['diagnostics_period'])
        self.get_logger().info('camera source: %s (%s), frame_id %r, encoding %s, publish_rate %s'
                               % (p['source'], kind, p['frame_id'], p['encoding'], self._rate_text()))
        self._summary_logged = False
        if autostart:
            self.start()

    def start(self):
        """Start the capture thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._capture_loop, name='face_ssd_camera', daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ parameters
    def _on_change(self, changes):
        if 'reconnect_initial_delay' in changes or 'reconnect_max_delay' in changes:
            initial = changes.get('reconnect_initial_delay', self._settings['reconnect_initial_delay'])
            maximum = changes.get('reconnect_max_delay', self._settings['reconnect_max_delay'])
            if initial > maximum:
                raise ValueError('reconnect_initial_delay (%s) must not exceed reconnect_max_delay (%s)'
                                 % (initial, maximum))
            self._backoff = Backoff(initial, maximum)
        if 'diagnostics_period' in changes:
            self.set_diagnostics_period(changes['diagnostics_period'])
        with self._lock:
            settings = dict(self._settings)
            settings.update(changes)
            self._settings = settings
            if 'loop' in changes and self._source is not None:
                self._source.loop = bool(changes['loop'])

    def _rate_text(self):
        rate = self._settings['publish_rate']
        if rate < 0:
            return 'as fast as possible'
        if rate > 0:
            return '%.3g Hz' % rate
        return 'the source rate'

    # ------------------------------------------------------------------ capture
    def _open(self):
        p = self._settings
        return open_source(p['source'], p['source_type'], width=p['width'], height=p['height'], fps=p['fps'],
                           loop=p['loop'], csi_sensor_id=p['csi_sensor_id'])

    def _reconnect(self):
        """Open the live source, retrying with back-off until it works or the node stops. True when open."""
        while not self._stop.is_set():
            try:
                self._source = self._open()
                self.get_logger().info('camera opened: %s' % self._source.describe())
                self._state = 'streaming'
                return True
            except SourceError as exc:
                self._state = 'reconnecting'
                delay = self._backoff.next_delay()
                self.stats.increment('open_failures')
                self.get_logger().warning('%s; retrying in %.1f s' % (exc, delay))
                self._stop.wait(delay)
        return False

    def _file_period(self):
        """Seconds between frames of a file source (0 = no pacing)."""
        rate = self._settings['publish_rate']
        if rate < 0:
            return 0.0
        if rate > 0:
            return 1.0 / rate
        fps = self._source.fps if self._source is not None else 0.0
        return 1.0 / (fps if fps > 0 else DEFAULT_IMAGE_RATE)

    def _wait_for_subscribers(self):
        """Block until image_raw has subscribers, stable for SUBSCRIBER_SETTLE_S. False if the node stopped."""
        start = time.monotonic()
        count, since, logged = -1, start, False
        while not self._stop.is_set():
            now = time.monotonic()
            current = self.image_pub.get_subscription_count()
            if current != count:
                count, since = current, now
            if count > 0 and now - since >= SUBSCRIBER_SETTLE_S:
                return True
            if count == 0 and not logged and now - start > 2.0:
                logged = True
                self.get_logger().info('waiting for a subscriber on %s before playing %s'
                                       % (self.image_pub.topic_name, self._source.describe()))
            self._stop.wait(0.02)
        return False

    def _capture_loop(self):
        try:
            if self._source is not None and not self._source.live:
                self._state = 'waiting for subscribers'
                if not self._wait_for_subscribers():
                    return
                self._state = 'streaming'
            self.stats.reset()
            next_slot = time.monotonic()
            while not self._stop.is_set():
                if self._source is None and not self._reconnect():
                    break
                source = self._source
                period = 0.0
                if not source.live:  # files: wait for the slot, then read
                    period = self._file_period()
                    now = time.monotonic()
                    if period > 0 and next_slot > now and self._stop.wait(next_slot - now):
                        break
                skipped_before = getattr(source, 'skipped', 0)
                ok, frame = source.read()
                stamp = self.get_clock().now()
                if getattr(source, 'skipped', 0) > skipped_before and 'unreadable' not in self._warned:
                    self._warned.add('unreadable')
                    self.get_logger().warning('image skipped: %s (further unreadable images are only counted: '
                                              'unreadable_images)' % source.last_skip_reason)
                if not ok:
                    if source.live:
                        self._device_lost(source)
                        continue
                    self._finish('end of %s' % source.describe())
                    break
                if frame is None:
                    self._count_once('corrupt_frames', 'a frame could not be decoded (corrupt); skipped')
                    continue
                if source.live and self._settings['publish_rate'] > 0:  # live + fixed rate: newest frame per slot
                    now = time.monotonic()
                    if now < next_slot:
                        self.stats.increment('frames_dropped_by_rate')
                        continue
                    period = 1.0 / self._settings['publish_rate']
                    next_slot = max(next_slot + period, now)
                self._publish(frame, stamp)
                if not source.live and period > 0:
                    next_slot = next_file_slot(next_slot, period, time.monotonic())
                if self._backoff.attempts:  # frames flow again: the next loss starts with a short delay
                    self._backoff.reset()
                max_frames = self._settings['max_frames']
                if max_frames and self.stats.counter('frames') >= max_frames:
                    self._finish('max_frames=%d reached' % max_frames)
                    break
        except Exception as exc:  # never die silently in a thread
            if rclpy.ok(context=self.context):
                self.get_logger().error('camera capture failed: %s: %s' % (type(exc).__name__, exc))
                self.exit_code = 1
            self.finished.set()

    def _device_lost(self, source):
        self._state = 'reconnecting'
        self.stats.increment('device_lost')
        self.get_logger().warning('camera %s delivered no frame (device lost?); reconnecting with back-off'
                                  % source.describe())
        source.close()
        self._source = None
        self._stop.wait(self._backoff.next_delay())

    def _count_once(self, counter, message):
        self.stats.increment(counter)
        if counter not in self._warned:
            self._warned.add(counter)
            self.get_logger().warning('%s (further cases are counted, see the summary)' % message)

    def _publish(self, frame_bgr, stamp):
        t0 = time.perf_counter()
        p = self._settings
        height, width = frame_bgr.shape[:2]
        if self._last_size is not None and self._last_size != (width, height):
            self.stats.increment('size_changes')
            if 'size' not in self._warned:
                self._warned.add('size')
                self.get_logger().info('frame size changed %dx%d -> %dx%d (camera_info follows; further changes '
                                       'are counted)' % (self._last_size + (width, height)))
        self._last_size = (width, height)
        header = Header(stamp=stamp.to_msg(), frame_id=p['frame_id'])
        image = array_to_image_msg(frame_bgr, header, p['encoding'], in_order='BGR')
        info = self._info.for_size(width, height).fill_msg(CameraInfo())
        info.header = header
        if self._info.warning and 'calib' not in self._warned:
            self._warned.add('calib')
            self.get_logger().warning(self._info.warning)
        self.image_pub.publish(image)
        self.info_pub.publish(info)
        self.stats.increment('frames')
        self.stats.record('publish', (time.perf_counter() - t0) * 1e3)

    def _finish(self, why):
        self._state = 'finished'
        self.get_logger().info('camera finished (%s)' % why)
        self.log_summary()
        self.finished.set()

    # ------------------------------------------------------------------ diagnostics / summary / shutdown
    def diagnostics_status(self):
        """DiagnosticStatus: state (starting | waiting for subscribers | streaming | reconnecting | finished), frames,
        rate, frame size and the fault counters (FAULT_COUNTERS, unreadable_images, reconnect_attempts).

        Level ERROR while a live source is being reopened, WARN once any fault was counted, else OK.
        """
        s = self.stats.summary()
        c = s['counters']
        source = self._source
        faults = [(k, c.get(k, 0)) for k in FAULT_COUNTERS]
        faults.append(('unreadable_images', getattr(source, 'skipped', 0) if source is not None else 0))
        status = DiagnosticStatus(name='%s: camera' % self.get_fully_qualified_name(),
                                  hardware_id=str(self._settings['source']))
        seen = ', '.join('%s=%d' % kv for kv in faults if kv[1] and kv[0] != 'frames_dropped_by_rate')
        if self._state == 'reconnecting':
            status.level = DiagnosticStatus.ERROR
            status.message = 'camera lost: reconnecting with back-off (attempt %d)' % self._backoff.attempts
        elif seen:
            status.level = DiagnosticStatus.WARN
            status.message = '%s, %.1f frames/s; faults: %s' % (self._state, self.stats.rate('frames'), seen)
        else:
            status.level = DiagnosticStatus.OK
            status.message = '%s, %.1f frames/s' % (self._state, self.stats.rate('frames'))
        size = '%dx%d' % self._last_size if self._last_size else ''
        values = [('source', source.describe() if source is not None else str(self._settings['source'])),
                  ('state', self._state), ('frames', str(c.get('frames', 0))),
                  ('fps', '%.2f' % self.stats.rate('frames')), ('frame_size', size)]
        values += [(k, str(v)) for k, v in faults]
        values.append(('reconnect_attempts', str(self._backoff.attempts)))
        values += self.watch_values()[0]
        status.values = [KeyValue(key=k, value=v) for k, v in values]
        return status

    def summary_text(self):
        s = self.stats.summary()
        c = s['counters']
        skipped = getattr(self._source, 'skipped', 0) if self._source is not None else 0
        return ('camera summary: %d frames in %.1f s (%.1f fps); corrupt %d, unreadable images %d, size changes %d, '
                'device lost %d, dropped by rate %d' % (
                    c.get('frames', 0), s['elapsed_s'], self.stats.rate('frames'), c.get('corrupt_frames', 0),
                    skipped, c.get('size_changes', 0), c.get('device_lost', 0), c.get('frames_dropped_by_rate', 0)))

    def shutdown(self):
        """Stop capturing, release the source and log the summary (idempotent)."""
        self._stop.set()
        join_thread(self._thread)
        if self._source is not None:
            self._source.close()
        self.log_summary()


def main(args=None):
    exit_with(run_node(CameraNode, args=args))


if __name__ == '__main__':
    main()

"""replay_node: play a bag's images (and its ground truth, if any) into the ROS graph (read with ``rosbags``).

Publishes, per image of the bag: ``ground_truth`` (vision_msgs/Detection2DArray, reliable; only when the bag has
ground truth), ``camera_info`` (if the bag has it) and the image, all with the same header. The image goes out as
it is stored: a sensor_msgs/Image on ``image_raw``, or a sensor_msgs/CompressedImage (JPEG / PNG bytes untouched)
on ``image_raw/compressed``, image_transport's name for it, which a detector with ``image_transport:=compressed``
reads. The bag's image topic is found by itself when there is exactly one (of either type). With ``restamp``
(default) every frame gets the publication time as its stamp, so an evaluator measures latency from publication;
otherwise the recorded stamps are kept. :meth:`ReplayNode.bag_frame` maps a published stamp back to the frame's
index and header in the bag (the runner writes detections back into a copy of the bag with it).

Modes:

* ``lockstep`` (default): publish the next image only after the ``detections`` array with the stamp of the current
  one arrived, or after ``lockstep_timeout`` s (counted as ``lockstep_timeouts``; the evaluator counts the frame as
  dropped). No frame is dropped by a slow detector, so the AP is the model's, whatever the CPU.
* ``rate``: the recorded timing (bag log times) scaled by ``rate`` (changeable at run time), like
  ``ros2 bag play --rate``; a detector slower than the bag drops frames, which the evaluator counts.

Playback starts once the image topic and ``ground_truth`` (if published) have ``min_subscribers`` subscribers
(stable for 0.5 s).
At the end it publishes ``replay_done`` (std_msgs/UInt32 = frames published; reliable, transient local), logs a
summary and sets ``finished`` (``main()`` then exits 0).

Run: ``ros2 run face_ssd_ros replay_node --ros-args -p bag_path:=bags/wider_dev -p mode:=lockstep``
"""
import collections
import threading
import time

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import UInt32
from vision_msgs.msg import Detection2DArray

from face_ssd_ros.config.bag_params import REPLAY_PARAMS
from face_ssd_ros.evaluation.bag_io import BagError, BagReader, CAMERA_INFO_TYPE, image_transport_of
from face_ssd_ros.nodes.common import FaceSsdNode, ParameterHandler, StartupError, detections_qos, exit_with, \
    image_qos, image_topic, join_thread, log_qos, run_node
from face_ssd_ros.stamp_cache import stamp_key
from face_ssd_ros.stats import PipelineStats

SUBSCRIBER_SETTLE_S = 0.5
#: Seconds the node stays up after replay_done, so the last messages reach late subscribers of other processes.
LINGER_S = 1.0
#: Published frames whose bag index :meth:`ReplayNode.bag_frame` still knows (the latest ones).
BAG_FRAME_MEMORY = 10000


def ground_truth_qos():
    """Ground truth: reliable, KEEP_LAST 100 (an evaluator must never miss one)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def done_qos():
    """replay_done: reliable + transient local, so an evaluator that subscribes late still gets it."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class ReplayNode(FaceSsdNode):
    """Bag replay node (see the module docstring). ``stats`` counts frames, ``finished`` is set at the end."""

    DEFAULT_NAME = 'replay'

    def __init__(self, node_name=DEFAULT_NAME, autostart=True, **kwargs):
        """``autostart=False``: playback begins only with :meth:`start` (the in-process runner)."""
        self.finished = threading.Event()
        self.exit_code = 0
        self.stats = PipelineStats()
        self._stop = threading.Event()
        self._ack = threading.Event()
        self._waiting_for = None
        self._thread = None
        self._reader = None
        super(ReplayNode, self).__init__(node_name, **kwargs)
        self._params = ParameterHandler(self, REPLAY_PARAMS)
        p = self._params.values()
        if not p['bag_path']:
            raise StartupError('replay: set bag_path to a rosbag2 folder (face-ssd-make-bag writes one)')
        try:
            self._reader = BagReader(p['bag_path'])
            self._image_topic, image_type = self._reader.find_image_topic(p['image_topic_in_bag'],
                                                                          'image_topic_in_bag')
            self._gt_topic = self._reader.find_ground_truth_topic(p['gt_topic_in_bag'], 'gt_topic_in_bag')
            infos = [t for t, m in self._reader.topics().items() if m == CAMERA_INFO_TYPE]
            self._info_topic = (self._reader.find_topic(CAMERA_INFO_TYPE, p['camera_info_topic_in_bag'],
                                                        'camera_info_topic_in_bag')
                                if infos or p['camera_info_topic_in_bag'] else None)
            self._ground_truth, self._infos = self._load_index()
        except BagError as exc:
            raise StartupError('replay: %s' % exc)
        self.total = self._reader.message_count(self._image_topic)
        self.bag_path, self.bag_image_topic = p['bag_path'], self._image_topic
        self.image_transport = image_transport_of(image_type)
        self._image_class, topic = image_topic(self, self.image_transport)
        self._bag_frames = collections.OrderedDict()  # published stamp key -> (bag index, recorded key, frame_id)
        qos = image_qos(p['qos_reliability'])
        self.image_pub = self.watched_publisher(self._image_class, topic, qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.gt_pub = self.watched_publisher(Detection2DArray, 'ground_truth', ground_truth_qos()) \
            if self._gt_topic else None
        self.done_pub = self.create_publisher(UInt32, 'replay_done', done_qos())
        self.det_sub = self.qos_watched_subscription(Detection2DArray, 'detections', self._on_detections,
                                                     detections_qos()) if p['mode'] == 'lockstep' else None
        log_qos(self, 'publishing', self.image_pub.topic_name, qos)
        self.get_logger().info('replay %s: %d images (%s, %s) + %s%s, mode %s, restamp %s'
                               % (p['bag_path'], self.total, self._image_topic, image_type.split('/')[-1],
                                  'ground truth (%s)' % self._gt_topic if self._gt_topic else
                                  'no ground truth (images only: detections, latency and drops are reported)',
                                  ', camera_info (%s)' % self._info_topic if self._info_topic else '', p['mode'],
                                  p['restamp']))
        self._summary_logged = False
        if autostart:
            self.start()

    def _load_index(self):
        """Ground truth and camera_info of the bag by stamp (small; the images are streamed)."""
        gt, infos = {}, {}
        topics = [t for t in (self._gt_topic, self._info_topic) if t]
        for topic, _, _, data in self._reader.raw(topics):
            msg = deserialize_message(bytes(data), Detection2DArray if topic == self._gt_topic else CameraInfo)
            (gt if topic == self._gt_topic else infos)[stamp_key(msg.header)] = msg
        return gt, infos

    def start(self):
        """Start the playback thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._play, name='face_ssd_replay', daemon=True)
            self._thread.start()

    def bag_frame(self, key):
        """``(index, recorded stamp key, frame_id)`` of the bag frame published with stamp ``key`` (the stamp of
        its detections), or None if this node did not publish it (or among the last :data:`BAG_FRAME_MEMORY`)."""
        return self._bag_frames.get(key)

    def _on_detections(self, msg):
        if stamp_key(msg.header) == self._waiting_for:
            self._ack.set()

    # ------------------------------------------------------------------ playback
    def _wait_for_subscribers(self):
        wanted = self._params.get('min_subscribers')
        pubs = [pub for pub in (self.image_pub, self.gt_pub) if pub is not None]
        since, counts, logged, start = time.monotonic(), None, False, time.monotonic()
        while wanted and not self._stop.is_set():
            now = time.monotonic()
            current = tuple(pub.get_subscription_count() for pub in pubs)
            if current != counts:
                counts, since = current, now
            if min(counts) >= wanted and now - since >= SUBSCRIBER_SETTLE_S:
                return True
            if not logged and now - start > 2.0:
                logged = True
                self.get_logger().info('waiting for %d subscriber(s) on %s (have %s)%s' % (
                    wanted, ' and '.join(pub.topic_name for pub in pubs), ' and '.join(str(c) for c in counts),
                    '; a detector reads it with image_transport:=compressed' if self.image_transport ==
                    'compressed' else ''))
            self._stop.wait(0.02)
        return not self._stop.is_set()

    def _play(self):
        try:
            if not self._wait_for_subscribers():
                return
            self.stats.reset()
            prev_log, next_time = None, time.monotonic()
            for _, _, log_time, data in self._reader.raw([self._image_topic]):
                if self._stop.is_set():
                    break
                max_frames = self._params.get('max_frames')
                if max_frames and self.stats.counter('frames') >= max_frames:
                    break
                if self._params.get('mode') == 'rate' and prev_log is not None:
                    next_time += (log_time - prev_log) / 1e9 / self._params.get('rate')
                    delay = next_time - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                prev_log = log_time
                self._publish_frame(deserialize_message(bytes(data), self._image_class))
            self._finish()
        except Exception as exc:  # never die silently in a thread
            self.get_logger().error('replay failed: %s: %s' % (type(exc).__name__, exc))
            self.exit_code = 1
            self.finished.set()

    def _publish_frame(self, image):
        key = stamp_key(image.header)
        gt, info = self._ground_truth.get(key), self._infos.get(key)
        recorded = (self.stats.counter('frames'), key, image.header.frame_id)
        if self._params.get('restamp'):
            stamp = self.get_clock().now().to_msg()
            for msg in [image, gt, info] + (list(gt.detections) if gt is not None else []):
                if msg is not None:
                    msg.header.stamp = stamp
            key = stamp_key(stamp)
        self._bag_frames[key] = recorded
        while len(self._bag_frames) > BAG_FRAME_MEMORY:
            self._bag_frames.popitem(last=False)
        self._waiting_for = key
        self._ack.clear()
        if gt is not None:
            self.gt_pub.publish(gt)
        elif self.gt_pub is not None:
            self.stats.increment('frames_without_ground_truth')
        if info is not None:
            self.info_pub.publish(info)
        self.image_pub.publish(image)
        self.stats.increment('frames')
        if self._params.get('mode') == 'lockstep' and not self._ack.wait(self._params.get('lockstep_timeout')):
            self.stats.increment('lockstep_timeouts')
            if self.stats.counter('lockstep_timeouts') == 1:
                self.get_logger().warning('no detections for frame %d.%09d within lockstep_timeout=%.2f s: counted '
                                          'as dropped, moving on (is the detector running on %s?)' % (
                                              key + (self._params.get('lockstep_timeout'),
                                                     self.image_pub.topic_name)))

    def _finish(self):
        frames = self.stats.counter('frames')
        self.done_pub.publish(UInt32(data=frames))
        self.log_summary()
        self._stop.wait(LINGER_S)
        self.finished.set()

    # ------------------------------------------------------------------ summary / shutdown
    def summary_text(self):
        c = self.stats.counters()
        return ('replay summary: %d of %d frames in %.1f s (%.1f fps); lockstep timeouts %d, %s'
                % (c.get('frames', 0), self.total, self.stats.summary()['elapsed_s'], self.stats.rate('frames'),
                   c.get('lockstep_timeouts', 0), 'frames without ground truth %d'
                   % c.get('frames_without_ground_truth', 0) if self.gt_pub is not None else
                   'no ground truth in the bag'))

    def shutdown(self):
        """Stop playing, close the bag and log the summary (idempotent)."""
        self._stop.set()
        self._ack.set()
        if join_thread(self._thread) and self._reader is not None:
            self._reader.close()
            self._reader = None
        self.log_summary()


def main(args=None):
    exit_with(run_node(ReplayNode, args=args))


if __name__ == '__main__':
    main()

"""Camera faults on a live ROS graph: a device lost mid-run (reconnect with back-off, counters in /diagnostics),
corrupt frames, frames that change size (camera_info follows, the detector keeps up), unreadable images.

The lost-device test drives the real CameraNode (capture thread, back-off, publishing over DDS) with a scripted
live source in place of /dev/videoN: the only way to unplug a camera on cue on a machine without one.
"""
import threading
import time

import cv2
import numpy as np
import pytest

from face_ssd_ros import runner
from face_ssd_ros.camera.source import SourceError
from face_ssd_ros.config.pipeline import build_pipeline
from face_ssd_ros.nodes import camera_node

LOST = 'lost'


def _frame(width, height, value):
    return np.full((height, width, 3), value, np.uint8)


class ScriptedDevice(object):
    """Stands in for ``open_source`` of a live camera. Each open takes the next script entry: an exception (the
    device is missing) or a list of frames the opened device delivers (an array, ``None`` = a frame that does not
    decode, ``LOST`` = the device is gone); the last list repeats its last frame forever at ~50 fps.
    ``open_times``: monotonic time of every open attempt."""

    def __init__(self, script):
        self.script = list(script)
        self.open_times = []
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.open_times.append(time.monotonic())
            entry = self.script.pop(0)
        if isinstance(entry, Exception):
            raise entry
        return _Device(entry, endless=not self.script)


class _Device(object):
    live = True
    fps = 50.0
    finished = False
    loop = False

    def __init__(self, frames, endless):
        self.frames = list(frames)
        self.endless = endless
        self.closed = False

    def read(self):
        time.sleep(0.02)
        if self.closed:
            return False, None
        item = self.frames.pop(0) if len(self.frames) > 1 or not self.endless else self.frames[0]
        if isinstance(item, str) and item == LOST:
            return False, None
        return (True, None) if item is None else (True, item)

    def describe(self):
        return 'scripted device'

    def close(self):
        self.closed = True


def _diagnostics_collector(context, namespace):
    """A node recording image_raw / camera_info headers + sizes and the camera's /diagnostics values."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    class Collector(Node):
        def __init__(self):
            super(Collector, self).__init__('fault_collector', namespace=namespace, context=context)
            qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
            self.images, self.infos, self.diagnostics = [], {}, []
            self.create_subscription(Image, 'image_raw', lambda m: self.images.append(
                ((m.header.stamp.sec, m.header.stamp.nanosec), (m.width, m.height), bytes(m.data[:3]))), qos)
            self.create_subscription(CameraInfo, 'camera_info', lambda m: self.infos.__setitem__(
                (m.header.stamp.sec, m.header.stamp.nanosec), (m.width, m.height, m.k[2])), qos)
            self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)

        def _on_diag(self, msg):
            for status in msg.status:
                if status.name.endswith(': camera'):
                    self.diagnostics.append((status.level, status.message,
                                             dict((kv.key, kv.value) for kv in status.values)))

    return Collector()


@pytest.mark.timeout(60)
def test_device_lost_mid_run_reconnects_with_backoff_and_counts_in_diagnostics(ros_context, monkeypatch, helpers):
    from diagnostic_msgs.msg import DiagnosticStatus

    big, small = _frame(64, 48, 10), _frame(32, 24, 200)
    device = ScriptedDevice([
        [big, big, None, big, small, small, LOST],               # corrupt frame, size change, then unplugged
        SourceError('cannot open v4l2 source /dev/video42'),   # still unplugged: two failed opens
        SourceError('cannot open v4l2 source /dev/video42'),
        [small] * 3 + [LOST],                                   # back, then lost again
        [small],                                                # back for good
    ])
    monkeypatch.setattr(camera_node, 'open_source', device)
    desc = build_pipeline(nodes=['camera'], namespace='lostcam', overrides={
        'camera.source': '/dev/video42', 'camera.qos_reliability': 'reliable',
        'camera.reconnect_initial_delay': 0.1, 'camera.reconnect_max_delay': 1.0})
    camera = runner.create_nodes(desc, ros_context)['camera']
    col = _diagnostics_collector(ros_context, '/lostcam')
    executor, spin = helpers.spin_nodes(ros_context, [camera, col])
    try:
        helpers.wait_for(lambda: camera.image_pub.get_subscription_count() >= 1, 20, 'the collector', spin=spin)
        camera.start()
        helpers.wait_for(lambda: len(device.open_times) == 5 and camera.stats.counter('frames') >= 15, 20,
                         lambda: 'the fifth open and frames after it (opens %d, frames %d)'
                         % (len(device.open_times), camera.stats.counter('frames')), spin=spin)
        helpers.wait_for(lambda: col.diagnostics and (col.diagnostics[-1][2]['device_lost'],
                                                      col.diagnostics[-1][2]['state']) == ('2', 'streaming'), 5,
                         'diagnostics: streaming again after both losses', spin=spin)
        assert not camera.finished.is_set() and camera.exit_code == 0 and camera._thread.is_alive()
        camera.shutdown()  # stop capturing, then let the last messages arrive
        helpers.wait_for(lambda: len(col.images) == camera.stats.counter('frames') and set(col.infos) >= set(
            i[0] for i in col.images), 5, 'every published frame and its camera_info', spin=spin)

        counters = dict((k, camera.stats.counter(k)) for k in camera_node.FAULT_COUNTERS)
        assert counters == {'device_lost': 2, 'open_failures': 2, 'corrupt_frames': 1, 'size_changes': 1,
                            'frames_dropped_by_rate': 0}
        # Back-off: lost -> wait 0.1 -> fail -> 0.2 -> fail -> 0.4 -> open; reset once frames flowed, so the
        # second loss waits 0.1 again (not 0.8).
        t = device.open_times
        gaps = [t[i + 1] - t[i] for i in range(len(t) - 1)]
        assert 0.18 <= gaps[1] < 0.6 and 0.38 <= gaps[2] < 0.9, gaps
        assert gaps[2] > 1.5 * gaps[1], gaps
        assert gaps[3] >= 0.08 + 3 * 0.02 and gaps[3] - 4 * 0.02 < 0.45, gaps  # 3 frames + LOST read, then 0.1 s
        # Every published frame: decodable, camera_info with the same header and the frame's size.
        sizes = [size for _, size, _ in col.images]
        assert sizes[:3] == [(64, 48)] * 3 and set(sizes[3:]) == {(32, 24)}
        for stamp, size, _ in col.images:
            assert col.infos[stamp][:2] == size and col.infos[stamp][2] == size[0] / 2.0
        # It was alive and streaming (checked above); /diagnostics carries the counters and says it recovered.
        level, message, values = col.diagnostics[-1]
        assert level == DiagnosticStatus.WARN and message.startswith('streaming')
        assert 'device_lost=2' in message and 'corrupt_frames=1' in message
        assert (values['open_failures'], values['corrupt_frames'], values['size_changes'], values['frame_size'],
                values['state']) == ('2', '1', '1', '32x24', 'streaming')
        assert 'device lost 2' in camera.summary_text() and 'corrupt 1' in camera.summary_text()
    finally:
        camera.destroy_node()
        col.destroy_node()


@pytest.mark.timeout(30)
def test_diagnostics_report_an_error_while_the_device_is_missing(ros_context, monkeypatch):
    from diagnostic_msgs.msg import DiagnosticStatus
    device = ScriptedDevice([SourceError('cannot open v4l2 source /dev/video43: check the camera')] * 100)
    monkeypatch.setattr(camera_node, 'open_source', device)
    desc = build_pipeline(nodes=['camera'], namespace='nocam', overrides={
        'camera.source': '/dev/video43', 'camera.reconnect_initial_delay': 0.05, 'camera.reconnect_max_delay': 0.1})
    camera = runner.create_nodes(desc, ros_context)['camera']
    try:
        camera.start()
        deadline = time.monotonic() + 10
        while camera.stats.counter('open_failures') < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        status = camera.diagnostics_status()
        values = dict((kv.key, kv.value) for kv in status.values)
        assert status.level == DiagnosticStatus.ERROR and 'reconnecting' in status.message
        assert int(values['open_failures']) >= 3 and values['state'] == 'reconnecting'
        assert int(values['reconnect_attempts']) >= 3 and values['frames'] == '0'
    finally:
        camera.destroy_node()


@pytest.mark.timeout(90)
def test_frames_that_change_size_and_unreadable_images(ros_context, tmp_path, helpers, model_path):
    """A real image-folder source whose images have three sizes (plus one corrupt file) through camera ->
    detector: every frame is published with a matching camera_info and gets its detection array."""

    sizes = [(640, 480), (320, 240), (1280, 720)]
    for i, (w, h) in enumerate(sizes):
        image = np.zeros((h, w, 3), np.uint8)
        cv2.circle(image, (w // 2, h // 2), h // 4, (40 * i + 60, 128, 200), -1)
        assert cv2.imwrite(str(tmp_path / ('%02d.png' % (2 * i))), image)
    (tmp_path / '01.jpg').write_bytes(b'\xff\xd8\xff\xe0 truncated jpeg')
    desc = build_pipeline(nodes=['camera', 'detector'], namespace='sizes', overrides={
        'camera.source': str(tmp_path), 'camera.publish_rate': 10.0, 'camera.frame_id': 'sz',
        'camera.qos_reliability': 'reliable', 'detector.qos_reliability': 'reliable',
        'detector.model_path': model_path})
    nodes = runner.create_nodes(desc, ros_context)
    col = helpers.make_collector(ros_context, '/sizes')
    executor, spin = helpers.spin_nodes(ros_context, list(nodes.values()) + [col])
    try:
        helpers.wait_for(lambda: col.count_subscribers('/sizes/image_raw') >= 2, 20, 'the subscribers', spin=spin)
        runner.start_camera(nodes, executor)
        helpers.wait_for(lambda: nodes['camera'].finished.is_set() and len(col.arrays) >= 3, 30,
                         'three detection arrays', spin=spin)
        for _ in range(5):
            spin()
        assert [i[2][:2] for i in col.images] == sizes
        infos = dict((s, d) for s, _, d in col.infos)
        for stamp, _, (w, h, _), _ in col.images:
            assert infos[stamp][:2] == (w, h)
        assert sorted(a[0] for a in col.arrays) == sorted(i[0] for i in col.images)
        camera, detector = nodes['camera'], nodes['detector']
        assert camera.stats.counter('size_changes') == 2 and detector.stats.counter('frames_processed') == 3
        values = dict((kv.key, kv.value) for kv in camera.diagnostics_status().values)
        assert values['unreadable_images'] == '1' and values['size_changes'] == '2'
        assert 'unreadable images 1, size changes 2' in camera.summary_text()
        assert values['state'] == 'finished'
    finally:
        for node in reversed(list(nodes.values())):
            node.destroy_node()
        col.destroy_node()

"""Fixtures for the ROS 2 integration tests: real rclpy nodes over real DDS on the loopback interface.

Every test module gets its own random ROS_DOMAIN_ID (10..99) so parallel runs never cross-talk; discovery stays
on localhost and Fast DDS uses the large shared-memory profile (config/fastdds_large_shm.xml).
"""
import os
import random
import shutil
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data'))
DLIB = os.path.join(SHARED_DATA, 'faces', 'dlib')
#: Real test frames, in publishing order: two photos with clear, large faces (dlib's held-out validation images,
#: never used for training) and one photo without a face.
FACE_IMAGES = ('2008_002506.jpg', '2008_001322.jpg')
NEGATIVE_IMAGE = os.path.join('airplanes', 'image_0449.jpg')
#: Annotated faces at least this wide (px) must be found; smaller ones may be missed.
MIN_FACE = 60


@pytest.fixture(scope='module', autouse=True)
def ros_environment():
    """Random ROS_DOMAIN_ID 10..99 for this module, localhost discovery, the large-SHM Fast DDS profile."""
    saved = dict((k, os.environ.get(k)) for k in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE',
                                                  'FASTDDS_DEFAULT_PROFILES_FILE'))
    os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(10, 99))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = os.path.join(ROOT, 'config', 'fastdds_large_shm.xml')
    yield os.environ['ROS_DOMAIN_ID']
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def ros_context():
    """A fresh rclpy Context for nodes created in the test process (shut down after the test)."""
    import rclpy
    from rclpy.context import Context
    context = Context()
    rclpy.init(context=context)
    yield context
    context.try_shutdown()


def fingerprint(width, height, rgb_bytes):
    """``(width, height, mean pixel value)`` of an rgb8 frame: identifies which test file a received frame is."""
    import numpy as np
    return (int(width), int(height), round(float(np.frombuffer(bytes(rgb_bytes), np.uint8).mean()), 4))


def read_bbx_gt(path):
    """WIDER-style ``*_bbx_gt.txt`` -> ``{relative image path: [[x1, y1, x2, y2], ...]}``."""
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    out, i = {}, 0
    while i < len(lines):
        name, count = lines[i], int(lines[i + 1])
        rows = lines[i + 2:i + 2 + max(count, 1)][:count]
        out[name] = [[float(v) for v in r.split()[:4]] for r in rows]
        out[name] = [[x, y, x + w, y + h] for x, y, w, h in out[name]]
        i += 2 + max(count, 1)
    return out


@pytest.fixture(scope='module')
def frames(tmp_path_factory):
    """A folder of real frames for the camera: ``(folder, [(file name, fingerprint, [face boxes xyxy]), ...])``
    in publishing order (see :func:`fingerprint`: it tells which file a received frame is).

    Copies (in a tmp dir, never in the repo) two dlib photos with their annotated faces and one negatives photo.
    """
    import cv2
    if not os.path.isdir(DLIB):
        pytest.skip('real data not found at %s (CI keeps ../shared beside the clone)' % SHARED_DATA)
    gt = read_bbx_gt(os.path.join(DLIB, 'dlib_bbx_gt.txt'))
    folder = str(tmp_path_factory.mktemp('frames'))
    listing = []
    for index, name in enumerate(FACE_IMAGES):
        target = '%02d_%s' % (index, name)
        shutil.copy(os.path.join(DLIB, 'images', name), os.path.join(folder, target))
        listing.append([target, gt[name]])
    target = '%02d_negative.jpg' % len(listing)
    shutil.copy(os.path.join(SHARED_DATA, 'negatives', 'images', NEGATIVE_IMAGE), os.path.join(folder, target))
    listing.append([target, []])
    for entry in listing:
        rgb = cv2.cvtColor(cv2.imread(os.path.join(folder, entry[0])), cv2.COLOR_BGR2RGB)
        entry.insert(1, fingerprint(rgb.shape[1], rgb.shape[0], rgb.tobytes()))
    assert len(set(e[1] for e in listing)) == len(listing), 'test frames need distinct fingerprints'
    return folder, [tuple(e) for e in listing]


@pytest.fixture(scope='module')
def model_path():
    """The shipped default model (the face-finding assertions need the real, trained model).

    FACE_SSD_TEST_MODEL=/path/model.onnx runs the tests against another exported model.
    """
    from face_ssd_ros.detect.inference import default_model_path
    if os.environ.get('FACE_SSD_TEST_MODEL'):
        return os.environ['FACE_SSD_TEST_MODEL']
    try:
        return default_model_path()
    except FileNotFoundError as exc:
        pytest.fail('integration tests need the shipped model: %s' % exc)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def wait_for(predicate, timeout, what, spin=None):
    """Spin (``spin()`` each round, else sleep) until ``predicate()`` or fail after ``timeout`` s saying ``what``
    (a string, or a callable giving one, evaluated at the time of failure)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail('timed out after %.0f s waiting for %s' % (timeout, what() if callable(what) else what))
        if spin is not None:
            spin()
        else:
            time.sleep(0.05)


def spin_nodes(context, nodes):
    """``(executor, spin)``: a SingleThreadedExecutor of ``nodes`` in ``context`` and ``spin()``, one
    ``spin_once`` of at most 50 ms (for :func:`wait_for`)."""
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=context)
    for node in nodes:
        executor.add_node(node)
    return executor, lambda: executor.spin_once(timeout_sec=0.05)


def stamp_of(header):
    return (header.stamp.sec, header.stamp.nanosec)


def make_collector(context, namespace='/'):
    """A fixture-subscriber node recording headers of image_raw, camera_info, detections, image_annotated.

    All subscriptions are reliable with a deep queue (the tests run the pipeline with reliable QoS), so every
    message is seen. Attributes: ``images`` / ``infos`` / ``annotated``: lists of (stamp, frame_id, msg);
    ``arrays``: list of (stamp, frame_id, [Detection...]); ``images`` entries have a 4th item, the fingerprint.
    """
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray

    from face_ssd_ros.msgs.convert import msg_to_detections

    class Collector(Node):
        def __init__(self):
            super(Collector, self).__init__('test_collector', namespace=namespace, context=context)
            qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
            self.images, self.infos, self.arrays, self.annotated = [], [], [], []
            self.create_subscription(Image, 'image_raw', lambda m: self.images.append(
                (stamp_of(m.header), m.header.frame_id, (m.width, m.height, m.encoding),
                 fingerprint(m.width, m.height, m.data))), qos)
            self.create_subscription(CameraInfo, 'camera_info', lambda m: self.infos.append(
                (stamp_of(m.header), m.header.frame_id, (m.width, m.height, m.k[0]))), qos)
            self.create_subscription(Detection2DArray, 'detections', lambda m: self.arrays.append(
                (stamp_of(m.header), m.header.frame_id, msg_to_detections(m))), qos)
            self.create_subscription(Image, 'image_annotated', lambda m: self.annotated.append(
                (stamp_of(m.header), m.header.frame_id, (m.width, m.height, m.encoding))), qos)

    return Collector()


@pytest.fixture
def helpers():
    """The helper functions above, for the test modules (conftest modules cannot be imported by name)."""
    class Helpers(object):
        pass
    h = Helpers()
    for fn in (iou, wait_for, spin_nodes, stamp_of, make_collector, check_pipeline_output):
        setattr(h, fn.__name__, staticmethod(fn))
    h.MIN_FACE = MIN_FACE
    return h


def check_pipeline_output(col, listing, frame_id, after=None, until=None):
    """Assert what a camera -> detector -> overlay run over the ``frames`` folder must have produced.

    Considers the frames the collector saw (with ``after`` / ``until``: only those stamped in (after, until], i.e.
    once every endpoint was matched and before the camera was stopped). For each: camera_info with the same header, exactly one detection array (stamp and frame_id
    preserved; the negative frame's array empty), an annotated image with the same header and size, and every
    annotated face of at least MIN_FACE px found with IoU > 0.5. Returns the number of frames checked.
    """
    by_print = dict((key, (name, faces)) for name, key, faces in listing)
    images = [i for i in col.images if (after is None or i[0] > after) and (until is None or i[0] <= until)]
    image_stamps = [i[0] for i in images]
    assert len(set(image_stamps)) == len(images) and image_stamps == sorted(image_stamps)
    assert all(entry[1] == frame_id for entry in col.images + col.infos + col.arrays + col.annotated)
    infos = dict((s, d) for s, _, d in col.infos)
    for stamp, _, (w, h, _), _ in images:
        assert stamp in infos and infos[stamp][:2] == (w, h), 'camera_info header/size differs from the image'
    window = set(image_stamps)
    arrays = [a for a in col.arrays if a[0] in window]
    assert sorted(s for s, _, _ in arrays) == image_stamps, 'not exactly one detection array per frame'
    stray = [a[0] for a in col.arrays if (after is None or a[0] > after) and (until is None or a[0] <= until)
             and a[0] not in window]
    assert not stray, 'detection arrays with stamps of no image: %s' % stray
    annotated = dict((s, d) for s, _, d in col.annotated if s in window)
    assert sorted(annotated) == image_stamps, 'not one annotated image per frame'
    assert annotated == dict((i[0], i[2]) for i in images), 'annotated image size/encoding differs'
    by_stamp = dict((s, dets) for s, _, dets in arrays)
    for stamp, _, _, key in images:
        assert key in by_print, 'received a frame that is none of the test files: %s' % (key,)
        name, faces = by_print[key]
        dets = by_stamp[stamp]
        if not faces:
            assert dets == [], '%s has no face but got %s' % (name, dets)
            continue
        boxes = [[d.x1, d.y1, d.x2, d.y2] for d in dets]
        for face in faces:
            if face[2] - face[0] < MIN_FACE:
                continue
            best = max([iou(face, b) for b in boxes] or [0.0])
            assert best > 0.5, 'face %s in %s not found (best IoU %.2f; detections %s)' % (face, name, best, dets)
    return len(images)

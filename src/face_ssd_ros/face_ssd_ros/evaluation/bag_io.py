"""Evaluation bags (rosbag2, sqlite3 or mcap) written and read with the pure-Python ``rosbags`` library (no rclpy).

An evaluation bag holds, per image, three messages with the same header (stamp and frame_id) written at the same
log time (the stamp): ``sensor_msgs/Image`` on :data:`DEFAULT_TOPICS` ``image`` (or ``sensor_msgs/CompressedImage``,
JPEG / PNG, on ``image`` + ``/compressed``), the ground truth as ``vision_msgs/Detection2DArray`` on
``ground_truth`` (encoding: :mod:`face_ssd_ros.evaluation.gt_encoding`) and optionally ``sensor_msgs/CameraInfo``.
A bag recorded while evaluating (``ros2 bag record /ground_truth /detections``) adds detection arrays; their log
time is the recorder's receive time. A robot's own recording has images (mostly CompressedImage) and no ground
truth: :func:`find_image_topic` and :func:`find_ground_truth_topic` accept it, and
:func:`copy_with_detections` writes a copy of any bag with a detection topic added.

Types come from the rosbags typestore of a ROS 2 distro (``ROS_DISTRO``, default kilted). ``vision_msgs`` is not in
those stores: it is registered from the interface definitions (:func:`vision_msgs_dir`), which give the same
RIHS01 type hashes as the generated rclpy messages (checked by the tests).
"""
import os
import re
import sys

import numpy as np

from face_ssd_ros.stamp_cache import ns_to_stamp

STORAGES = ('sqlite3', 'mcap')
IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE_TYPE = 'sensor_msgs/msg/CompressedImage'
#: Message types of an image topic: raw or compressed (image_transport's two common transports).
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
IMAGE_FORMATS = ('raw', 'jpeg', 'png')
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
DETECTIONS_TYPE = 'vision_msgs/msg/Detection2DArray'
DEFAULT_TOPICS = {'image': '/image_raw', 'camera_info': '/camera_info', 'ground_truth': '/ground_truth',
                  'detections': '/detections'}
DEFAULT_DISTRO = 'kilted'
_NUMPY_TYPES = {'bool': np.bool_, 'byte': np.uint8, 'char': np.uint8, 'int8': np.int8, 'uint8': np.uint8,
                'int16': np.int16, 'uint16': np.uint16, 'int32': np.int32, 'uint32': np.uint32, 'int64': np.int64,
                'uint64': np.uint64, 'float32': np.float32, 'float64': np.float64}


_TOPIC_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def topic_name_problem(name):
    """Why ``name`` is no valid ROS 2 topic name (rcl's rules for the names a bag stores: ``/`` separated tokens of
    letters, digits and underscores, none starting with a digit, no empty token, no trailing ``/``), or None."""
    if not isinstance(name, str) or not name:
        return 'a topic name must not be empty'
    tokens = name[1:].split('/') if name.startswith('/') else name.split('/')
    bad = [t for t in tokens if not _TOPIC_TOKEN.match(t)]
    if bad:
        return ('%r is not a valid ROS topic name: each /-separated part must be letters, digits and underscores, '
                'not starting with a digit (bad part: %r)' % (name, bad[0]))
    return None


class BagError(RuntimeError):
    """A bag cannot be written or read as asked (missing topic, existing path, no rosbags); says what to do."""


def _rosbags():
    try:
        import rosbags.rosbag2 as rosbag2
        import rosbags.typesys as typesys
    except ImportError:
        raise BagError('reading and writing bags needs the rosbags package: pip install rosbags')
    return rosbag2, typesys


# ---------------------------------------------------------------------------------------------- types
def _repo_interfaces_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    # <repo>/src/face_ssd_ros/face_ssd_ros/evaluation/bag_io.py -> <repo>/interfaces
    return os.path.normpath(os.path.join(here, '..', '..', '..', '..', 'interfaces', 'vision_msgs', 'msg'))


def vision_msgs_dir():
    """Folder with the vision_msgs ``*.msg`` definitions: the installed package's share/ (ament index or
    ``sys.prefix``), else the source tree's interfaces/vision_msgs/msg. Raises BagError if none exists."""
    candidates = []
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            candidates.append(os.path.join(get_package_share_directory('vision_msgs'), 'msg'))
        except (PackageNotFoundError, EnvironmentError):
            pass
    except ImportError:
        pass
    candidates += [os.path.join(sys.prefix, 'share', 'vision_msgs', 'msg'), _repo_interfaces_dir()]
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, 'Detection2DArray.msg')):
            return folder
    raise BagError('vision_msgs message definitions not found in %s; install ros-$ROS_DISTRO-vision-msgs'
                   % ', '.join(candidates))


def make_typestore(distro=None):
    """rosbags Typestore of ``distro`` (default ``$ROS_DISTRO``, else kilted) with vision_msgs registered."""
    _, typesys = _rosbags()
    name = (distro or os.environ.get('ROS_DISTRO') or DEFAULT_DISTRO).strip().upper()
    store = getattr(typesys.Stores, 'ROS2_' + name, None)
    if store is None:
        raise BagError('rosbags has no type store for ROS 2 %r; choose one of %s' % (
            name.lower(), ', '.join(s.name[5:].lower() for s in typesys.Stores if s.name.startswith('ROS2_'))))
    ts = typesys.get_typestore(store)
    if DETECTIONS_TYPE not in ts.types:
        folder = vision_msgs_dir()
        types = {}
        for fname in sorted(os.listdir(folder)):
            if fname.endswith('.msg'):
                with open(os.path.join(folder, fname)) as f:
                    types.update(typesys.get_types_from_msg(f.read(), 'vision_msgs/msg/' + fname[:-4]))
        ts.register(types)
    return ts


def default_message(ts, typename):
    """A message of ``typename`` with every field at its default (0, '', empty arrays), built from the typestore's
    field definitions (so code can fill only the fields it needs, as with generated ROS messages)."""
    _, fields = ts.fielddefs[typename]
    values = {}
    for name, (kind, detail) in fields:
        values[name] = _default_field(ts, int(kind), detail)
    return ts.types[typename](**values)


def _default_field(ts, kind, detail):
    if kind == 1:  # BASE: (type, max string length)
        base = detail[0]
        return '' if base in ('string', 'wstring') else (False if base == 'bool' else
                                                         (0.0 if base.startswith('float') else 0))
    if kind == 2:  # NAME: nested message
        return default_message(ts, detail)
    (elem_kind, elem_detail), count = detail
    if int(elem_kind) == 1 and elem_detail[0] in _NUMPY_TYPES:
        return np.zeros(count if kind == 3 else 0, dtype=_NUMPY_TYPES[elem_detail[0]])
    return [_default_field(ts, int(elem_kind), elem_detail) for _ in range(count if kind == 3 else 0)]


# ---------------------------------------------------------------------------------------------- messages
def header_msg(ts, stamp_ns, frame_id):
    msg = default_message(ts, 'std_msgs/msg/Header')
    msg.stamp.sec, msg.stamp.nanosec = ns_to_stamp(stamp_ns)
    msg.frame_id = str(frame_id)
    return msg


def image_msg(ts, header, image_rgb, encoding='rgb8'):
    """sensor_msgs/Image of an RGB ``[H, W, 3]`` uint8 array in ``encoding`` (rgb8 | bgr8)."""
    from face_ssd_ros.msgs.image_codec import array_to_image_fields
    height, width, step, data = array_to_image_fields(image_rgb, encoding, in_order='RGB')
    msg = default_message(ts, IMAGE_TYPE)
    msg.header, msg.height, msg.width, msg.encoding, msg.step = header, height, width, encoding, step
    msg.data = np.frombuffer(data, dtype=np.uint8).copy()
    return msg


def compressed_image_msg(ts, header, fmt, data):
    """sensor_msgs/CompressedImage with ``format`` ``fmt`` and the encoded bytes ``data`` (stored as given, so a
    test can write a damaged frame)."""
    msg = default_message(ts, COMPRESSED_IMAGE_TYPE)
    msg.header, msg.format = header, str(fmt)
    msg.data = np.frombuffer(bytes(data), dtype=np.uint8).copy()
    return msg


def image_transport_of(msgtype):
    """``'raw'`` for sensor_msgs/Image, ``'compressed'`` for sensor_msgs/CompressedImage (BagError otherwise)."""
    if msgtype not in IMAGE_TYPES:
        raise BagError('%s is not an image message type (%s)' % (msgtype, ', '.join(IMAGE_TYPES)))
    return 'raw' if msgtype == IMAGE_TYPE else 'compressed'


def decode_image(msgtype, msg, out_order='RGB'):
    """np.uint8 ``[H, W, 3]`` of an Image / CompressedImage read from a bag. Raises UnsupportedEncoding,
    ImageSizeError (raw) or ImageDecodeError (compressed: empty, truncated, undecodable), all ValueErrors."""
    if msgtype == COMPRESSED_IMAGE_TYPE:
        from face_ssd_ros.msgs.compressed import compressed_to_array
        return compressed_to_array(msg.format, msg.data, out_order=out_order)
    from face_ssd_ros.msgs.image_codec import image_to_array
    return image_to_array(msg.encoding, msg.height, msg.width, msg.step, msg.data, out_order=out_order)


def camera_info_msg(ts, header, calibration):
    """sensor_msgs/CameraInfo from a :class:`face_ssd_ros.camera.info.CameraCalibration`."""
    msg = default_message(ts, CAMERA_INFO_TYPE)
    calibration.fill_msg(msg)
    msg.d, msg.k = np.asarray(msg.d, np.float64), np.asarray(msg.k, np.float64)
    msg.r, msg.p = np.asarray(msg.r, np.float64), np.asarray(msg.p, np.float64)
    msg.header = header
    return msg


def detection_array_msg(ts, header, rows):
    """vision_msgs/Detection2DArray from rows ``(x1, y1, x2, y2, score, label[, id])`` (pixels); the array and
    every Detection2D carry ``header``; ``id`` defaults to '' (an untracked box, the detections contract)."""
    msg = default_message(ts, DETECTIONS_TYPE)
    msg.header = header
    for row in rows:
        x1, y1, x2, y2, score, label = row[:6]
        item = default_message(ts, 'vision_msgs/msg/Detection2D')
        item.header = header
        item.id = str(row[6]) if len(row) > 6 and row[6] is not None else ''
        hypothesis = default_message(ts, 'vision_msgs/msg/ObjectHypothesisWithPose')
        hypothesis.hypothesis.class_id = str(label)
        hypothesis.hypothesis.score = float(score)
        item.results.append(hypothesis)
        item.bbox.center.position.x = (float(x1) + float(x2)) * 0.5
        item.bbox.center.position.y = (float(y1) + float(y2)) * 0.5
        item.bbox.size_x = float(x2) - float(x1)
        item.bbox.size_y = float(y2) - float(y1)
        msg.detections.append(item)
    return msg


# ---------------------------------------------------------------------------------------------- writing
class BagWriter(object):
    """Write an evaluation bag. Use as a context manager::

        with BagWriter('out/my_bag', storage='mcap') as bag:
            bag.write_frame(stamp_ns, 'camera', image_rgb, ground_truth)

    ``topics``: overrides of :data:`DEFAULT_TOPICS`; ``camera_info``: also write CameraInfo (pinhole unless a
    calibration is given per frame); ``encoding``: rgb8 | bgr8 of raw images; ``image_format``: ``raw``
    (sensor_msgs/Image) or ``jpeg`` / ``png`` (sensor_msgs/CompressedImage, image_transport's format string, on
    ``image`` + ``/compressed`` unless the ``image`` topic is given); ``ground_truth``: False = a bag without a
    ground-truth topic, as a robot records one. The bag folder must not exist yet.
    """

    def __init__(self, path, storage='sqlite3', topics=None, camera_info=False, encoding='rgb8', distro=None,
                 image_format='raw', ground_truth=True, jpeg_quality=90):
        rosbag2, _ = _rosbags()
        if storage not in STORAGES:
            raise BagError('storage must be one of %s, got %r' % (', '.join(STORAGES), storage))
        if image_format not in IMAGE_FORMATS:
            raise BagError('image_format must be one of %s, got %r' % (', '.join(IMAGE_FORMATS), image_format))
        if os.path.exists(path):
            raise BagError('%s exists already; choose a new bag folder (bags are never overwritten)' % path)
        self.path = path
        self.topics = dict(DEFAULT_TOPICS, **(topics or {}))
        if image_format != 'raw' and not (topics or {}).get('image'):
            self.topics['image'] = DEFAULT_TOPICS['image'] + '/compressed'
        self.encoding = encoding
        self.image_format = image_format
        self.jpeg_quality = int(jpeg_quality)
        self.ts = make_typestore(distro)
        self._writer = _open_writer(rosbag2, path, storage)
        self._connections = {}
        self.frames = 0
        wanted = [('image', IMAGE_TYPE if image_format == 'raw' else COMPRESSED_IMAGE_TYPE)]
        if ground_truth:
            wanted.append(('ground_truth', DETECTIONS_TYPE))
        if camera_info:
            wanted.append(('camera_info', CAMERA_INFO_TYPE))
        for key, msgtype in wanted:
            self._connection(key, msgtype)

    def _connection(self, key, msgtype):
        if key not in self._connections:
            self._connections[key] = self._writer.add_connection(self.topics[key], msgtype, typestore=self.ts)
        return self._connections[key]

    def _write(self, key, msgtype, msg, log_time_ns):
        self._writer.write(self._connection(key, msgtype), int(log_time_ns), self.ts.serialize_cdr(msg, msgtype))

    def write_frame(self, stamp_ns, frame_id, image_rgb, ground_truth=None, calibration=None, image_data=None):
        """One image + its ground truth (:class:`face_ssd_ros.evaluation.gt_encoding.GroundTruth`; None = no
        ground-truth message for this frame) (+ CameraInfo when enabled), all with the header ``(stamp_ns,
        frame_id)`` and log time ``stamp_ns``.

        ``image_data``: the encoded bytes to store as they are instead of encoding ``image_rgb`` (compressed
        formats only; e.g. a truncated JPEG for a test). ``image_rgb`` still gives the CameraInfo size.
        """
        from face_ssd_ros.evaluation.gt_encoding import gt_rows
        header = header_msg(self.ts, stamp_ns, frame_id)
        if ground_truth is not None:
            if 'ground_truth' not in self._connections:
                raise BagError('this BagWriter was opened with ground_truth=False')
            self._write('ground_truth', DETECTIONS_TYPE,
                        detection_array_msg(self.ts, header, gt_rows(ground_truth)), stamp_ns)
        if 'camera_info' in self._connections:
            from face_ssd_ros.camera.info import pinhole
            cal = calibration or pinhole(image_rgb.shape[1], image_rgb.shape[0])
            self._write('camera_info', CAMERA_INFO_TYPE, camera_info_msg(self.ts, header, cal), stamp_ns)
        if self.image_format == 'raw':
            if image_data is not None:
                raise BagError('image_data needs a compressed image_format (jpeg or png)')
            self._write('image', IMAGE_TYPE, image_msg(self.ts, header, image_rgb, self.encoding), stamp_ns)
        else:
            from face_ssd_ros.msgs.compressed import array_to_compressed, compressed_format
            if image_data is None:
                fmt, image_data = array_to_compressed(image_rgb, self.image_format, 'RGB', self.jpeg_quality)
            else:
                fmt = compressed_format(self.image_format, 'RGB')
            self._write('image', COMPRESSED_IMAGE_TYPE, compressed_image_msg(self.ts, header, fmt, image_data),
                        stamp_ns)
        self.frames += 1

    def write_detections(self, stamp_ns, frame_id, rows, log_time_ns=None):
        """One detection array (rows ``(x1, y1, x2, y2, score, label)``) stamped ``stamp_ns``, logged at
        ``log_time_ns`` (default: the stamp; a recorder logs its receive time)."""
        header = header_msg(self.ts, stamp_ns, frame_id)
        self._write('detections', DETECTIONS_TYPE, detection_array_msg(self.ts, header, rows),
                    stamp_ns if log_time_ns is None else log_time_ns)

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _open_writer(rosbag2, path, storage):
    plugin = rosbag2.StoragePlugin.MCAP if storage == 'mcap' else rosbag2.StoragePlugin.SQLITE3
    try:
        writer = rosbag2.Writer(path, version=8, storage_plugin=plugin)
    except TypeError:  # older rosbags (the last ones for Python 3.8): sqlite3 only, no version argument
        if storage != 'sqlite3':
            raise BagError('this rosbags version writes sqlite3 bags only; use --storage sqlite3 or upgrade rosbags')
        writer = rosbag2.Writer(path)
    writer.open()
    return writer


# ---------------------------------------------------------------------------------------------- reading
class BagReader(object):
    """Read messages of an evaluation (or recorded) bag. Context manager; ``topics()`` -> ``{topic: msgtype}``.

    ``messages(topics)`` yields ``(topic, log_time_ns, msg)`` in log-time order, deserialised with the typestore
    (attribute access like rclpy messages). ``raw(topics)`` yields the CDR bytes instead.
    """

    def __init__(self, path, distro=None):
        rosbag2, _ = _rosbags()
        if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, 'metadata.yaml')):
            raise BagError('%s is not a rosbag2 folder (no metadata.yaml); pass the folder that ros2 bag record or '
                           'face-ssd-make-bag wrote' % path)
        self.path = path
        self.ts = make_typestore(distro)
        self._reader = rosbag2.Reader(path)
        self._reader.open()

    def topics(self):
        return dict((c.topic, c.msgtype) for c in self._reader.connections)

    def message_count(self, topic):
        return sum(c.msgcount for c in self._reader.connections if c.topic == topic)

    def find_topic(self, msgtype, wanted='', role='topic', prefer_suffix=None):
        """The topic of ``msgtype`` (one type, or a tuple of accepted types): ``wanted`` if given (checked), else
        the only one, else the one ending with ``prefer_suffix``. Raises BagError listing the bag's topics and
        saying which option picks one."""
        types = (msgtype,) if isinstance(msgtype, str) else tuple(msgtype)
        what = ' or '.join(types)
        topics = self.topics()
        if wanted:
            if topics.get(wanted) not in types:
                raise BagError('%s: %s %r is not a %s topic of this bag; its topics: %s'
                               % (self.path, role, wanted, what, _listing(topics)))
            return wanted
        matches = sorted(t for t, m in topics.items() if m in types)
        if prefer_suffix and len(matches) > 1:
            matches = [t for t in matches if t.rstrip('/').endswith(prefer_suffix)] or matches
        if len(matches) != 1:
            raise BagError('%s: %s %s topic in this bag%s; name the %s explicitly. Topics: %s'
                           % (self.path, 'no' if not matches else 'more than one', what,
                              ' (%s)' % ', '.join(matches) if matches else '', role, _listing(topics)))
        return matches[0]

    def find_image_topic(self, wanted='', role='image topic'):
        """``(topic, msgtype)`` of the bag's images: sensor_msgs/Image or sensor_msgs/CompressedImage, ``wanted``
        if given, else the only image topic (of either type), else the one ending in ``image_raw``."""
        topic = self.find_topic(IMAGE_TYPES, wanted, role, 'image_raw')
        return topic, self.topics()[topic]

    def find_ground_truth_topic(self, wanted='', role='ground-truth topic'):
        """The ground-truth Detection2DArray topic, or None when the bag has none (a robot's recording).

        ``wanted``: that topic (BagError if it is not a Detection2DArray topic of the bag). Else the one ending in
        ``ground_truth``; else the only Detection2DArray topic unless its name ends in ``detections`` (a
        detector's output, e.g. written by :func:`copy_with_detections`: pass it as ``wanted`` to use it as the
        reference). Several candidates: BagError asking to name one.
        """
        if wanted:
            return self.find_topic(DETECTIONS_TYPE, wanted, role)
        arrays = sorted(t for t, m in self.topics().items() if m == DETECTIONS_TYPE)
        named = [t for t in arrays if t.rstrip('/').endswith('ground_truth')]
        candidates = named or [t for t in arrays if not t.rstrip('/').endswith('detections')]
        if len(candidates) > 1:
            raise BagError('%s: several Detection2DArray topics could be the ground truth (%s); name the %s '
                           'explicitly' % (self.path, ', '.join(candidates), role))
        return candidates[0] if candidates else None

    def storage(self):
        """Storage plugin of the bag: ``'sqlite3'`` or ``'mcap'``."""
        with open(os.path.join(self.path, 'metadata.yaml')) as f:
            text = f.read()
        return 'mcap' if 'storage_identifier: mcap' in text else 'sqlite3'

    def _connections(self, topics):
        return [c for c in self._reader.connections if c.topic in set(topics)]

    def raw(self, topics):
        """``(topic, msgtype, log_time, data)`` of the messages of ``topics`` (none for an empty list)."""
        connections = self._connections(topics)
        if not connections:  # rosbags reads every topic for an empty list: none asked, none given
            return
        for conn, log_time, data in self._reader.messages(connections=connections):
            yield conn.topic, conn.msgtype, log_time, data

    def messages(self, topics):
        for topic, msgtype, log_time, data in self.raw(topics):
            yield topic, log_time, self.ts.deserialize_cdr(data, msgtype)

    def close(self):
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _listing(topics):
    return ', '.join('%s (%s)' % kv for kv in sorted(topics.items())) or 'none'


# ---------------------------------------------------------------------------------------------- writing back
def copy_with_detections(src, dst, image_topic, detections, topic=DEFAULT_TOPICS['detections'], storage=None,
                         distro=None):
    """Copy bag ``src`` into a new bag ``dst`` with a vision_msgs/Detection2DArray topic ``topic`` added.

    ``detections``: ``{index: (rows, delay_ns)}`` by the 0-based index of the image on ``image_topic`` (bag
    order); rows ``(x1, y1, x2, y2, score, label)`` in pixels. Each array gets the header of its image (stamp and
    frame_id as recorded) and the log time of its image + ``delay_ns`` (the measured detection latency, 0 when
    unknown), as if a recorder had received it then. Images without an entry (frames the detector skipped or
    dropped) get no array. Every message of ``src`` is copied unchanged; a topic whose type is neither in the
    typestore nor described in ``src`` is left out and named in the result.

    ``storage``: 'sqlite3' | 'mcap' (default: that of ``src``). Returns ``{'arrays': n, 'messages': copied,
    'skipped_topics': [...]}``. Raises BagError when ``dst`` exists or ``topic`` is already in ``src``.
    """
    rosbag2, _ = _rosbags()
    detections = dict(detections)
    with BagReader(src, distro) as reader:
        topics = reader.topics()
        if topic in topics:
            raise BagError('%s already has a topic %s; choose another name for the detections' % (src, topic))
        if topics.get(image_topic) not in IMAGE_TYPES:
            raise BagError('%s: %s is not an image topic of this bag' % (src, image_topic))
        storage = storage or reader.storage()
        if storage not in STORAGES:
            raise BagError('storage must be one of %s, got %r' % (', '.join(STORAGES), storage))
        if os.path.exists(dst):
            raise BagError('%s exists already; choose a new bag folder (bags are never overwritten)' % dst)
        ts = reader.ts
        writer = _open_writer(rosbag2, dst, storage)
        try:
            out, skipped = {}, []
            for conn in reader._reader.connections:
                added = _copy_connection(writer, conn, ts)
                if added is None:
                    skipped.append(conn.topic)
                else:
                    out[conn.id] = added
            det_conn = writer.add_connection(topic, DETECTIONS_TYPE, typestore=ts)
            index, arrays, copied = 0, 0, 0
            for conn, log_time, data in reader._reader.messages():
                if conn.id not in out:
                    continue
                writer.write(out[conn.id], log_time, data)
                copied += 1
                if conn.topic != image_topic:
                    continue
                if index in detections:
                    rows, delay_ns = detections[index]
                    image = ts.deserialize_cdr(data, conn.msgtype)
                    header = header_msg(ts, image.header.stamp.sec * 1000000000 + image.header.stamp.nanosec,
                                        image.header.frame_id)
                    writer.write(det_conn, int(log_time + max(0, int(delay_ns or 0))),
                                 ts.serialize_cdr(detection_array_msg(ts, header, rows), DETECTIONS_TYPE))
                    arrays += 1
                index += 1
        finally:
            writer.close()
    return {'arrays': arrays, 'messages': copied, 'skipped_topics': sorted(set(skipped))}


def _copy_connection(writer, conn, ts):
    """A connection of ``writer`` like the reader's ``conn`` (same topic, type, QoS), or None when the type is
    unknown here and the source bag does not describe it."""
    ext = conn.ext
    kwargs = dict(serialization_format=getattr(ext, 'serialization_format', 'cdr'),
                  offered_qos_profiles=getattr(ext, 'offered_qos_profiles', ()) or ())
    if conn.msgtype in ts.types:
        return writer.add_connection(conn.topic, conn.msgtype, typestore=ts, **kwargs)
    msgdef = getattr(conn.msgdef, 'data', None) or None
    if msgdef and conn.digest:
        return writer.add_connection(conn.topic, conn.msgtype, msgdef=msgdef, rihs01=conn.digest, **kwargs)
    return None

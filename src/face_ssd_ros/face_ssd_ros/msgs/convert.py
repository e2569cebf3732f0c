"""Conversions between ROS messages and numpy / Detection (message packages only; no rclpy, no rclpy.init).

Detections follow docs/ARCHITECTURE.md: one Detection2D per box, header = the image header unchanged, one
ObjectHypothesisWithPose with class_id = label string and score, bbox centre/size in pixels, id = the track id as a
decimal string ('' for an untracked box).
"""
import array

from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from face_ssd_ros.detect.detection import Detection
from face_ssd_ros.msgs.compressed import array_to_compressed, compressed_to_array
from face_ssd_ros.msgs.image_codec import array_to_image_fields, image_to_array


def copy_header(header):
    """A new std_msgs/Header with the same stamp and frame_id (messages are mutable; avoid aliasing)."""
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec), frame_id=header.frame_id)


def detections_to_msg(detections, header):
    """List of :class:`Detection` (pixels) + the image's Header -> vision_msgs/Detection2DArray.

    The array and every Detection2D carry the header's stamp and frame_id unchanged; ``id`` is
    :func:`format_track_id` of the detection's ``track_id``.
    """
    msg = Detection2DArray(header=copy_header(header))
    for det in detections:
        item = Detection2D(header=copy_header(header), id=format_track_id(det.track_id))
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = str(det.label)
        hypothesis.hypothesis.score = float(det.score)
        item.results.append(hypothesis)
        item.bbox.center.position.x = (float(det.x1) + float(det.x2)) * 0.5
        item.bbox.center.position.y = (float(det.y1) + float(det.y2)) * 0.5
        item.bbox.size_x = float(det.x2) - float(det.x1)
        item.bbox.size_y = float(det.y2) - float(det.y1)
        msg.detections.append(item)
    return msg


def format_track_id(track_id):
    """``Detection2D.id`` of a track id: ``3 -> "3"``, ``None`` (untracked) ``-> ""``."""
    return '' if track_id is None else str(int(track_id))


def parse_track_id(text):
    """Track id (int >= 1) of a ``Detection2D.id``, or None when it is not a positive decimal number ('' =
    untracked; ids of other publishers, e.g. ground-truth flags, are no track ids)."""
    if not text or not text.isdecimal():
        return None
    return int(text) or None


def msg_to_detections(msg, labels=None):
    """vision_msgs/Detection2DArray -> list of :class:`Detection` (pixels), in message order.

    Each Detection2D's best-scoring hypothesis gives label and score (no hypothesis: label '' and score 0).
    ``labels`` (model labels) maps a class_id to ``class_index``: the label's index, or a numeric class_id read
    as an index; -1 when unknown or when ``labels`` is None. ``track_id`` is :func:`parse_track_id` of ``id``.
    """
    labels = list(labels) if labels is not None else None
    out = []
    for item in msg.detections:
        label, score = '', 0.0
        if item.results:
            best = max(item.results, key=lambda r: r.hypothesis.score)
            label, score = best.hypothesis.class_id, float(best.hypothesis.score)
        class_index = -1
        if labels is not None:
            if label in labels:
                class_index = labels.index(label)
            elif label.isdigit() and int(label) < len(labels):
                class_index = int(label)
                label = labels[class_index]
        cx, cy = item.bbox.center.position.x, item.bbox.center.position.y
        half_w, half_h = item.bbox.size_x * 0.5, item.bbox.size_y * 0.5
        out.append(Detection(cx - half_w, cy - half_h, cx + half_w, cy + half_h, score, class_index, label,
                             parse_track_id(item.id)))
    return out


def array_to_image_msg(arr, header, encoding, in_order=None):
    """numpy image -> sensor_msgs/Image (rgb8 / bgr8 / mono8; see :func:`image_codec.array_to_image_fields`).

    The header is copied; the pixel data goes in through ``array.array('B').frombytes`` (one memcpy, no per-byte
    Python work).
    """
    height, width, step, data = array_to_image_fields(arr, encoding, in_order=in_order)
    msg = Image(header=copy_header(header), height=height, width=width, encoding=encoding.lower(),
                is_bigendian=0, step=step)
    buf = array.array('B')
    buf.frombytes(data)
    set_uint8_array(msg, 'data', buf)
    return msg


def set_uint8_array(msg, field, buf):
    """Store ``buf`` (``array.array('B')``) in the uint8[] ``field`` of ``msg`` without another copy.

    The generated setter of newer distros (Jazzy+, field checks off) re-copies every array it is given (~1.7 ms
    for 640x480 RGB here); the value it would store is exactly ``buf``, so write the generated slot ``_<field>``
    directly where it exists, else use the public setter.
    """
    try:
        setattr(msg, '_' + field, buf)
    except AttributeError:
        setattr(msg, field, buf)
    if getattr(msg, field) is not buf:
        setattr(msg, field, buf)


def image_msg_to_array(msg, out_order='RGB', copy=False):
    """sensor_msgs/Image -> np.uint8 ``[H, W, 3]`` in ``out_order``; may share memory with ``msg.data`` unless
    ``copy`` (see :func:`image_codec.image_to_array`). Raises UnsupportedEncoding / ImageSizeError."""
    return image_to_array(msg.encoding, msg.height, msg.width, msg.step, msg.data, out_order=out_order, copy=copy)


def compressed_msg_to_array(msg, out_order='RGB'):
    """sensor_msgs/CompressedImage -> np.uint8 ``[H, W, 3]`` in ``out_order`` (a new array). Raises
    UnsupportedEncoding (format) / ImageDecodeError (empty, truncated or undecodable data); see
    :func:`face_ssd_ros.msgs.compressed.compressed_to_array`."""
    return compressed_to_array(msg.format, msg.data, out_order=out_order)


def array_to_compressed_msg(arr, header, codec='jpeg', in_order='RGB', quality=90):
    """np.uint8 ``[H, W, 3]`` -> sensor_msgs/CompressedImage (``codec`` 'jpeg' | 'png', image_transport's format
    string); the header is copied."""
    fmt, data = array_to_compressed(arr, codec, in_order=in_order, quality=quality)
    msg = CompressedImage(header=copy_header(header), format=fmt)
    buf = array.array('B')
    buf.frombytes(data)
    set_uint8_array(msg, 'data', buf)
    return msg


def any_image_msg_to_array(msg, out_order='RGB'):
    """sensor_msgs/Image or sensor_msgs/CompressedImage (told apart by their fields, so rosbags messages work
    too) -> np.uint8 ``[H, W, 3]`` in ``out_order`` (an Image may be returned as a view of its data, see
    :func:`image_msg_to_array`)."""
    if hasattr(msg, 'format') and not hasattr(msg, 'encoding'):
        return compressed_msg_to_array(msg, out_order)
    return image_msg_to_array(msg, out_order)

"""ros_convert: Detection2DArray and Image round trips with headers preserved (message classes, no rclpy.init)."""
import array

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from face_ssd_ros.detect.detection import Detection
from face_ssd_ros.msgs.image_codec import UnsupportedEncoding
from face_ssd_ros.msgs.convert import (array_to_image_msg, detections_to_msg, image_msg_to_array,
                                       msg_to_detections)


def header(sec=1700000000, nanosec=123456789, frame_id='cam_optical'):
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def test_detections_to_msg_layout_and_header():
    dets = [Detection(10.0, 20.0, 50.0, 100.0, 0.9, 1, 'face', 7), Detection(0.0, 0.0, 4.0, 2.0, 0.7, 2, 'plate')]
    h = header()
    msg = detections_to_msg(dets, h)
    assert isinstance(msg, Detection2DArray)
    for hdr in [msg.header] + [d.header for d in msg.detections]:
        assert (hdr.stamp.sec, hdr.stamp.nanosec, hdr.frame_id) == (1700000000, 123456789, 'cam_optical')
    first = msg.detections[0]
    assert first.id == '7' and msg.detections[1].id == ''   # the track id; '' = untracked
    assert len(first.results) == 1
    assert first.results[0].hypothesis.class_id == 'face'
    assert first.results[0].hypothesis.score == pytest.approx(0.9)
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (30.0, 60.0)
    assert (first.bbox.size_x, first.bbox.size_y) == (40.0, 80.0)
    h.frame_id = 'changed'
    assert msg.header.frame_id == 'cam_optical'          # no aliasing of the caller's header
    empty = detections_to_msg([], header(frame_id='x'))
    assert empty.detections == [] and empty.header.frame_id == 'x'


def test_detection_round_trip():
    dets = [Detection(10.5, 20.25, 50.0, 100.0, 0.875, 1, 'face', 12), Detection(1.0, 2.0, 3.0, 4.0, 0.5, 2, 'plate')]
    back = msg_to_detections(detections_to_msg(dets, header()), labels=['background', 'face', 'plate'])
    assert back == dets and back[0].track_id == 12 and back[1].track_id is None
    unlabelled = msg_to_detections(detections_to_msg(dets, header()))
    assert [(d.label, d.class_index) for d in unlabelled] == [('face', -1), ('plate', -1)]


def test_msg_to_detections_foreign_messages():
    msg = Detection2DArray(header=header())
    item = Detection2D()
    for class_id, score in (('2', 0.3), ('1', 0.8)):         # numeric ids, best hypothesis wins
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = class_id, score
        item.results.append(hyp)
    item.bbox.center.position.x, item.bbox.center.position.y = 5.0, 5.0
    item.bbox.size_x, item.bbox.size_y = 2.0, 4.0
    msg.detections.append(item)
    msg.detections.append(Detection2D(id='person_3'))         # no hypothesis at all; a foreign id
    got = msg_to_detections(msg, labels=['background', 'face'])
    assert got[0] == Detection(4.0, 3.0, 6.0, 7.0, 0.8, 1, 'face', None)
    assert (got[1].label, got[1].score, got[1].class_index, got[1].track_id) == ('', 0.0, -1, None)


def test_track_id_text():
    from face_ssd_ros.msgs.convert import format_track_id, parse_track_id
    assert [format_track_id(v) for v in (None, 1, 42)] == ['', '1', '42']
    assert [parse_track_id(t) for t in ('', '1', '42', '0', '3;ignore', '-2', 'a1', '\u00b2')] == \
        [None, 1, 42, None, None, None, None, None]


@pytest.mark.parametrize('encoding,in_order', [('rgb8', None), ('bgr8', 'RGB'), ('rgb8', 'BGR')])
def test_image_round_trip(encoding, in_order):
    rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    src = rgb if in_order != 'BGR' else rgb[..., ::-1]
    msg = array_to_image_msg(src, header(), encoding, in_order=in_order)
    assert isinstance(msg, Image) and isinstance(msg.data, array.array) and msg.data.typecode == 'B'
    assert len(msg.data) == 7 * 15
    assert (msg.height, msg.width, msg.step, msg.encoding, msg.is_bigendian) == (7, 5, 15, encoding, 0)
    assert (msg.header.stamp.nanosec, msg.header.frame_id) == (123456789, 'cam_optical')
    np.testing.assert_array_equal(image_msg_to_array(msg), rgb)
    np.testing.assert_array_equal(image_msg_to_array(msg, out_order='BGR'), rgb[..., ::-1])


def test_image_msg_with_padded_rows_and_mono():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    msg = Image(header=header(), height=3, width=4, encoding='mono8', step=6)
    padded = np.zeros((3, 6), np.uint8)
    padded[:, :4] = grey
    msg.data = array.array('B', padded.tobytes())
    out = image_msg_to_array(msg, copy=True)
    assert out.shape == (3, 4, 3) and (out[..., 2] == grey).all()
    mono = array_to_image_msg(grey, header(), 'mono8')
    assert (mono.step, len(mono.data)) == (4, 12)


def test_unsupported_image_encoding():
    msg = Image(header=header(), height=1, width=1, encoding='32FC1', step=4)
    msg.data = array.array('B', bytes(4))
    with pytest.raises(UnsupportedEncoding):
        image_msg_to_array(msg)


def test_image_message_serialises():
    """The message built with the fast data path survives rclpy serialisation (no rclpy.init needed)."""
    serialization = pytest.importorskip('rclpy.serialization')
    rgb = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    msg = array_to_image_msg(rgb, header(), 'rgb8')
    back = serialization.deserialize_message(serialization.serialize_message(msg), Image)
    assert (back.header.stamp.sec, back.header.frame_id, back.width, back.step) == (1700000000, 'cam_optical', 6, 18)
    np.testing.assert_array_equal(image_msg_to_array(back), rgb)

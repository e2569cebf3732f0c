"""Compressed images: the truncated-file rule (camera/decode.py), CompressedImage format strings and decoding
(msgs/compressed.py), the message helpers (msgs/convert.py), and the two other readers that share the rule: the
image-folder camera source and face-ssd-detect."""
import struct

import cv2
import numpy as np
import pytest

from face_ssd_ros.camera import decode
from face_ssd_ros.camera.decode import ImageDecodeError, decode_image_bytes, image_complete, image_kind
from face_ssd_ros.camera.source import ImageFolderSource
from face_ssd_ros.detect.cli import read_image_rgb
from face_ssd_ros.msgs import compressed
from face_ssd_ros.msgs.compressed import UnsupportedEncoding, array_to_compressed, compressed_to_array, \
    parse_format


def _photo(height=120, width=160, seed=0):
    """A smooth RGB test picture (gradients + a few blocks): JPEG keeps it close, so colours can be checked."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    np.full_like(x, 90)], axis=-1).astype(np.uint8)
    for _ in range(4):
        r, c = rng.integers(0, height - 10), rng.integers(0, width - 10)
        img[r:r + 10, c:c + 10] = rng.integers(0, 256, 3)
    return img


def _jpeg(rgb, **kw):
    return array_to_compressed(rgb, 'jpeg', 'RGB', **kw)[1]


def _with_exif(jpeg, orientation=6, thumbnail=b''):
    """``jpeg`` with an APP1 EXIF segment after SOI: orientation tag (+ ``thumbnail`` bytes appended to it, as
    cameras embed a JPEG thumbnail whose own EOI then sits before the main image's scans)."""
    tiff = b'II*\x00' + struct.pack('<I', 8) + struct.pack('<H', 1) + struct.pack('<HHII', 0x0112, 3, 1,
                                                                                   orientation) + struct.pack('<I', 0)
    app1 = b'Exif\x00\x00' + tiff + thumbnail
    return jpeg[:2] + b'\xff\xe1' + struct.pack('>H', len(app1) + 2) + app1 + jpeg[2:]


# ---------------------------------------------------------------------------------------------- the rule
def test_complete_jpeg_and_png_decode_with_the_stored_size():
    rgb = _photo(121, 163)                                            # odd sizes
    jpeg, png = _jpeg(rgb), array_to_compressed(rgb, 'png')[1]
    assert image_kind(jpeg) == 'jpeg' and image_kind(png) == 'png' and image_kind(b'GIF89a') is None
    assert image_complete(jpeg) == (True, '') and image_complete(png) == (True, '')
    assert decode_image_bytes(jpeg).shape == (121, 163, 3)
    assert np.array_equal(decode_image_bytes(png), rgb[:, :, ::-1])  # lossless, BGR out


@pytest.mark.parametrize('fraction', [0.999, 0.9, 0.5, 0.2])
def test_truncated_jpeg_is_refused_before_opencv_sees_it(fraction, monkeypatch):
    """OpenCV 4.5 (JetPack) decodes a truncated JPEG into a full-size frame with wrong rows; the rule refuses it
    from the bytes alone, so cv2.imdecode is never asked (a stand-in that would return a full frame proves it)."""
    jpeg = _jpeg(_photo())
    cut = jpeg[:int(len(jpeg) * fraction)]
    complete, reason = image_complete(cut)
    assert not complete and 'truncated' in reason
    monkeypatch.setattr(decode.cv2, 'imdecode', lambda *a: np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(ImageDecodeError, match='truncated JPEG'):
        decode_image_bytes(cut)


def test_jpeg_cut_in_its_header_and_thumbnail_eoi_do_not_count():
    jpeg = _jpeg(_photo())
    with pytest.raises(ImageDecodeError, match='no start-of-scan'):
        decode_image_bytes(jpeg[:20])
    thumb = _jpeg(_photo(16, 16, seed=3))   # a complete JPEG (with its own SOS and EOI) inside APP1
    full = _with_exif(jpeg, 1, thumb)
    assert image_complete(full)[0] and decode_image_bytes(full).shape == (120, 160, 3)
    assert not image_complete(full[:len(full) - 200])[0]      # the main image is cut: the thumbnail's EOI is earlier


def test_padding_after_the_end_of_image_is_accepted():
    jpeg = _jpeg(_photo())
    assert decode_image_bytes(jpeg + b'\x00' * 64 + b'junk').shape == (120, 160, 3)


def test_truncated_png_empty_and_garbage_are_refused():
    png = array_to_compressed(_photo(), 'png')[1]
    for cut in (png[:len(png) - 12], png[:len(png) // 2]):   # without IEND / inside IDAT
        with pytest.raises(ImageDecodeError, match='truncated PNG'):
            decode_image_bytes(cut)
    with pytest.raises(ImageDecodeError, match='empty'):
        decode_image_bytes(b'')
    with pytest.raises(ImageDecodeError, match='cannot decode'):
        decode_image_bytes(b'\x00\x01\x02\x03' * 100)


def test_grey_and_alpha_images_come_out_as_three_channels():
    grey = np.tile(np.arange(0, 250, 5, dtype=np.uint8), (30, 1))
    ok, buf = cv2.imencode('.png', grey)
    out = decode_image_bytes(buf.tobytes())
    assert out.shape == (30, 50, 3) and np.array_equal(out[:, :, 0], grey) and np.array_equal(out[:, :, 2], grey)
    bgra = np.dstack([_photo()[:, :, ::-1], np.full((120, 160), 7, np.uint8)])
    ok, buf = cv2.imencode('.png', bgra)
    assert np.array_equal(decode_image_bytes(buf.tobytes()), bgra[:, :, :3])


def test_exif_orientation_only_on_request():
    """The stored pixels are what a ROS header and boxes refer to; cv2.imread's rotation only for image files of
    the camera source."""
    rotated = _with_exif(_jpeg(_photo(40, 60)), orientation=6)
    assert decode_image_bytes(rotated).shape == (40, 60, 3)
    assert decode_image_bytes(rotated, apply_orientation=True).shape == (60, 40, 3)


def test_the_camera_folder_source_and_face_ssd_detect_share_the_rule(tmp_path):
    jpeg = _jpeg(_photo())
    (tmp_path / 'a.jpg').write_bytes(jpeg)
    (tmp_path / 'b.jpg').write_bytes(jpeg[:len(jpeg) * 2 // 3])   # truncated: skipped, not a half-decoded frame
    (tmp_path / 'c.jpg').write_bytes(_with_exif(_jpeg(_photo(40, 60)), orientation=6))
    src = ImageFolderSource(str(tmp_path))
    shapes = []
    while True:
        ok, frame = src.read()
        if not ok:
            break
        shapes.append(frame.shape)
    assert shapes == [(120, 160, 3), (60, 40, 3)]                   # the camera source applies EXIF rotation
    assert src.skipped == 1 and src.skipped_paths == [str(tmp_path / 'b.jpg')]
    assert read_image_rgb(str(tmp_path / 'c.jpg')).shape == (40, 60, 3)   # face-ssd-detect: stored pixels
    with pytest.raises(IOError, match='truncated JPEG'):
        read_image_rgb(str(tmp_path / 'b.jpg'))


# ---------------------------------------------------------------------------------------------- format strings
@pytest.mark.parametrize('fmt,expected', [
    ('rgb8; jpeg compressed bgr8', ('jpeg', 'rgb8')),   # image_transport, colour
    ('bgr8; png compressed bgr8', ('png', 'bgr8')),
    ('mono8; jpeg compressed mono8', ('jpeg', 'mono8')),
    ('8UC3; jpeg compressed bgr8', ('jpeg', '8UC3')),
    ('jpeg', ('jpeg', None)),                           # usb_cam / raspicam_node
    ('png', ('png', None)),
    ('JPG', ('jpeg', None)),
    ('image/jpeg', ('jpeg', None)),
    ('', (None, None)),                                 # not named: the bytes decide
])
def test_parse_format(fmt, expected):
    assert parse_format(fmt) == expected


@pytest.mark.parametrize('fmt,words', [
    ('16UC1; compressedDepth png', 'depth'),
    ('32FC1; compressedDepth rvl', 'depth'),
    ('16UC1; png compressed mono16', '16UC1'),
    ('bgr16; png compressed bgr16', 'bgr16'),
    ('rgb8; webp compressed bgr8', "'webp'"),
    ('tiff', "'tiff'"),
    ('jpeg png', 'both'),
])
def test_parse_format_refuses_what_the_detector_cannot_use(fmt, words):
    with pytest.raises(UnsupportedEncoding) as err:
        parse_format(fmt)
    assert words in str(err.value)


# ---------------------------------------------------------------------------------------------- decode / encode
def test_colours_survive_an_image_transport_jpeg():
    """rgb8 -> "rgb8; jpeg compressed bgr8" -> RGB again: red stays red (no channel swap on either side)."""
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:, :32] = (255, 0, 0)
    rgb[:, 32:64] = (0, 255, 0)
    rgb[:, 64:] = (0, 0, 255)
    fmt, data = array_to_compressed(rgb, 'jpeg', 'RGB', quality=95)
    assert fmt == 'rgb8; jpeg compressed bgr8' and data[:2] == b'\xff\xd8'
    out = compressed_to_array(fmt, data, 'RGB')
    for col, channel in ((16, 0), (48, 1), (80, 2)):
        pixel = out[32, col].astype(int)
        assert pixel[channel] > 230 and np.delete(pixel, channel).max() < 30, (col, pixel)
    assert np.array_equal(compressed_to_array(fmt, data, 'BGR'), out[:, :, ::-1])


def test_png_round_trip_is_exact_for_odd_portrait_frames():
    rgb = _photo(163, 121)
    for order in ('RGB', 'BGR'):
        fmt, data = array_to_compressed(rgb if order == 'RGB' else rgb[:, :, ::-1].copy(), 'png', order)
        assert fmt == '%s8; png compressed bgr8' % order.lower()
        assert np.array_equal(compressed_to_array(fmt, data, 'RGB'), rgb)


def test_the_bytes_decide_the_decoder():
    rgb = _photo()
    png = array_to_compressed(rgb, 'png')[1]
    assert np.array_equal(compressed_to_array('jpeg', png), rgb)       # a driver that mislabels still works
    assert np.array_equal(compressed_to_array('', png), rgb)
    with pytest.raises(ImageDecodeError, match='neither JPEG nor PNG'):
        compressed_to_array('jpeg', b'BM' + b'\x00' * 100)
    with pytest.raises(ImageDecodeError, match='empty CompressedImage'):
        compressed_to_array('jpeg', b'')
    with pytest.raises(UnsupportedEncoding):                            # the format is checked first
        compressed_to_array('16UC1; compressedDepth png', png)
    with pytest.raises(ValueError, match='out_order'):
        compressed_to_array('png', png, 'GRB')


def test_compressed_errors_are_value_errors():
    """Callers that catch ValueError for a bad frame (face-ssd-bag-eval) also catch these."""
    assert issubclass(ImageDecodeError, ValueError) and issubclass(UnsupportedEncoding, ValueError)
    assert compressed.ImageDecodeError is ImageDecodeError


def test_array_to_compressed_refuses_bad_input():
    with pytest.raises(ValueError, match='codec'):
        array_to_compressed(_photo(), 'webp')
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        array_to_compressed(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        array_to_compressed(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match='in_order'):
        array_to_compressed(_photo(), 'jpeg', 'RGBA')
    assert len(_jpeg(_photo(), quality=20)) < len(_jpeg(_photo(), quality=95))


# ---------------------------------------------------------------------------------------------- messages
def test_compressed_message_round_trip_through_cdr():
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import CompressedImage
    from std_msgs.msg import Header

    from face_ssd_ros.msgs.convert import any_image_msg_to_array, array_to_compressed_msg, array_to_image_msg
    rgb = _photo(75, 101)
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = array_to_compressed_msg(rgb, header, 'png')
    assert msg.format == 'rgb8; png compressed bgr8' and msg.header == header and msg.header is not header
    back = deserialize_message(serialize_message(msg), CompressedImage)
    assert back.header == header and np.array_equal(any_image_msg_to_array(back, 'RGB'), rgb)
    raw = array_to_image_msg(rgb, header, 'bgr8', in_order='RGB')
    assert np.array_equal(any_image_msg_to_array(raw, 'RGB'), rgb)
    broken = CompressedImage(header=header, format='jpeg', data=_jpeg(rgb)[:500])
    with pytest.raises(ImageDecodeError):
        any_image_msg_to_array(broken)

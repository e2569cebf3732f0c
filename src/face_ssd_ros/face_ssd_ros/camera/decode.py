"""Encoded image bytes (JPEG, PNG, and whatever else OpenCV reads) -> np.uint8 ``[H, W, 3]`` BGR (rclpy-free).

The one rule for a damaged file, shared by the image-folder camera source, ``face-ssd-detect`` and the
``sensor_msgs/CompressedImage`` codec (:mod:`face_ssd_ros.msgs.compressed`): an image that is not complete is
refused with :class:`ImageDecodeError`, never handed on half decoded. The reason is portability: OpenCV 4.5
(measured with the 4.5.5 wheel; a Jetson Nano's JetPack 4 ships the older 4.1) returns a JPEG cut to 90 % of
its bytes as a full-size frame whose last rows hold wrong pixels, with only a warning on stderr, while OpenCV
4.14 returns nothing. :func:`image_complete` checks the bytes themselves, so every build behaves alike:

* JPEG (starts with SOI ``FF D8``): the end-of-image marker ``FF D9`` must follow the last start-of-scan marker
  ``FF DA``. Inside entropy-coded data every ``FF`` byte is followed by ``00`` or a restart marker, so a file cut
  anywhere after its last scan began has no EOI there; an EXIF thumbnail's EOI sits before the main image's scans
  and does not count. Bytes after the EOI (padding some cameras append) are allowed.
* PNG (starts with the 8-byte PNG signature): an ``IEND`` chunk must follow the last ``IDAT`` chunk.
* Anything else: left to OpenCV (None from ``cv2.imdecode`` is refused as well).

Damage inside the entropy-coded data of a complete JPEG (flipped bits) cannot be seen without decoding; OpenCV
then returns a frame with wrong pixels, as every decoder does.
"""
import cv2
import numpy as np

JPEG_SOI = b'\xff\xd8'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


class ImageDecodeError(ValueError):
    """Bytes that do not decode into a complete image (empty, truncated, not an image); the message says which."""


def image_kind(data):
    """``'jpeg'``, ``'png'`` or ``None`` (another or no format) from the first bytes of ``data``."""
    head = bytes(data[:8])
    if head.startswith(JPEG_SOI):
        return 'jpeg'
    if head == PNG_SIGNATURE:
        return 'png'
    return None


def image_complete(data):
    """``(complete, reason)``: False with a reason for a truncated JPEG or PNG (rules in the module docstring);
    True and '' for a complete one and for any other format (its own decoder judges it)."""
    raw = data if isinstance(data, bytes) else bytes(data)
    kind = image_kind(raw)
    if kind == 'jpeg':
        sos = raw.rfind(b'\xff\xda')
        if sos < 0:
            return False, 'truncated JPEG (%d bytes, cut before its image data: no start-of-scan marker)' % len(raw)
        if raw.find(b'\xff\xd9', sos + 2) < 0:
            return False, 'truncated JPEG (%d bytes, no end-of-image marker after its last scan)' % len(raw)
    elif kind == 'png':
        idat = raw.rfind(b'IDAT')
        if idat < 0 or raw.find(b'IEND', idat + 4) < 0:
            return False, 'truncated PNG (%d bytes, no IEND chunk after its image data)' % len(raw)
    return True, ''


def _to_bgr(img):
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.shape[2] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return img


def decode_image_bytes(data, apply_orientation=False):
    """Decode encoded image bytes into np.uint8 ``[H, W, 3]`` BGR (grey, 16-bit and alpha images are converted).

    ``data``: bytes, bytearray, memoryview, array.array('B') or a uint8 ndarray. ``apply_orientation``: rotate by
    the EXIF orientation tag (what ``cv2.imread`` does by default); False keeps the stored pixels, the frame that
    annotations and ROS image headers refer to. Raises :class:`ImageDecodeError` for empty, truncated or
    undecodable data.
    """
    buf = np.asarray(data, dtype=np.uint8).reshape(-1) if isinstance(data, np.ndarray) else \
        np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise ImageDecodeError('empty image data (0 bytes)')
    complete, reason = image_complete(buf.tobytes())
    if not complete:
        raise ImageDecodeError(reason)
    flags = cv2.IMREAD_COLOR if apply_orientation else cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    img = cv2.imdecode(buf, flags)
    if img is None or img.size == 0:
        kind = image_kind(buf)
        raise ImageDecodeError('%s data that OpenCV cannot decode (%d bytes, starting %s)'
                               % (kind.upper() if kind else 'image', buf.size, buf[:4].tobytes().hex()))
    if img.dtype != np.uint8:  # IMREAD_COLOR reduces 16-bit PNG / TIFF to 8 bits; anything else is refused
        raise ImageDecodeError('image with %s samples; only 8-bit images are supported' % img.dtype)
    return _to_bgr(img)


def read_image_file(path, apply_orientation=False):
    """Read and decode an image file (see :func:`decode_image_bytes`); IOError if it cannot be read,
    :class:`ImageDecodeError` if it does not decode."""
    return decode_image_bytes(np.fromfile(path, dtype=np.uint8), apply_orientation=apply_orientation)

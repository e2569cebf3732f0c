"""sensor_msgs/CompressedImage fields (``format``, ``data``) <-> numpy arrays, without rclpy.

``format`` as ``image_transport``'s compressed plugin writes it: ``"<encoding>; jpeg compressed <target>"`` or
``"<encoding>; png compressed <target>"`` (e.g. ``"rgb8; jpeg compressed bgr8"``: an rgb8 image, stored as a
normal colour JPEG), or just ``"jpeg"`` / ``"png"`` as older drivers (usb_cam MJPEG, raspicam_node) write it.
The bytes themselves decide the decoder, so a driver that writes ``"jpg"`` or an empty format still works; a
format that names another codec, or an image that is not 8-bit (``compressedDepth``, ``16UC1``, ``32FC1``), is
:class:`face_ssd_ros.msgs.image_codec.UnsupportedEncoding`. Damaged data (empty, truncated, not an image) is
:class:`face_ssd_ros.camera.decode.ImageDecodeError`: the one rule of :mod:`face_ssd_ros.camera.decode`.
"""
import re

import cv2

from face_ssd_ros.camera.decode import ImageDecodeError, decode_image_bytes, image_kind
from face_ssd_ros.msgs.image_codec import UnsupportedEncoding

CODECS = ('jpeg', 'png')
_CODEC_WORDS = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png'}
_DEEP_ENCODING = re.compile(r'(16|32|64)')

__all__ = ['CODECS', 'ImageDecodeError', 'UnsupportedEncoding', 'parse_format', 'compressed_to_array',
           'array_to_compressed', 'compressed_format']


def parse_format(fmt):
    """``format`` string -> ``(codec, encoding)``: codec ``'jpeg'`` | ``'png'`` | None (not named: the bytes
    decide), encoding the raw image's encoding before compression (``'rgb8'``) or None when not given.

    Raises UnsupportedEncoding for depth images, non-8-bit encodings and codecs other than JPEG / PNG.
    """
    text = str(fmt or '').strip()
    low = text.lower()
    if 'compresseddepth' in low:
        raise UnsupportedEncoding('CompressedImage format %r is a compressed depth image; the detector needs a '
                                  'camera image (jpeg or png compressed)' % text)
    encoding, _, rest = text.rpartition(';') if ';' in text else ('', '', text)
    encoding = encoding.strip() or None
    words = [w for w in re.split(r'[\s/,]+', rest.lower()) if w]
    codecs = set(_CODEC_WORDS[w] for w in words if w in _CODEC_WORDS)
    if len(codecs) > 1:
        raise UnsupportedEncoding('CompressedImage format %r names both JPEG and PNG' % text)
    unknown = [w for w in words if w not in _CODEC_WORDS and w not in ('compressed', 'image')
               and not _is_encoding_word(w)]
    if unknown and not codecs:
        raise UnsupportedEncoding('CompressedImage format %r: codec %r is not supported; publish jpeg or png '
                                  '(image_transport "compressed")' % (text, unknown[0]))
    for enc in [encoding] + [w for w in words if _is_encoding_word(w)]:
        if enc and _DEEP_ENCODING.search(enc):
            raise UnsupportedEncoding('CompressedImage format %r holds a %s image; the detector needs 8-bit camera '
                                      'images (mono8, rgb8, bgr8, ...)' % (text, enc))
    return (codecs.pop() if codecs else None), encoding


def _is_encoding_word(word):
    return bool(re.match(r'^(mono|rgb|bgr|rgba|bgra|bayer_\w+?|yuv\w*|\d+[usf]c\d+)\d*$', word, re.IGNORECASE))


def compressed_to_array(fmt, data, out_order='RGB'):
    """Decode a CompressedImage into np.uint8 ``[H, W, 3]`` in ``out_order`` ('RGB' | 'BGR'), stored pixel
    orientation (EXIF rotation is not applied: the header and any boxes refer to the pixels as stored).

    Raises UnsupportedEncoding (format) or ImageDecodeError (empty, truncated, not JPEG / PNG, undecodable).
    """
    if out_order not in ('RGB', 'BGR'):
        raise ValueError('out_order must be "RGB" or "BGR", got %r' % (out_order,))
    parse_format(fmt)
    head = bytes(data[:8])
    if not head:
        raise ImageDecodeError('empty CompressedImage (0 bytes of data, format %r)' % (fmt,))
    if image_kind(head) is None:
        raise ImageDecodeError('CompressedImage data is neither JPEG nor PNG (format %r, first bytes %s)'
                               % (fmt, head[:4].hex()))
    bgr = decode_image_bytes(data)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if out_order == 'RGB' else bgr


def compressed_format(codec, in_order='RGB'):
    """The ``format`` image_transport writes for an ``in_order`` colour image compressed with ``codec``:
    ``"rgb8; jpeg compressed bgr8"`` (the data is an ordinary colour JPEG / PNG either way)."""
    if codec not in CODECS:
        raise ValueError('codec must be one of %s, got %r' % (', '.join(CODECS), codec))
    return '%s; %s compressed bgr8' % ('rgb8' if in_order == 'RGB' else 'bgr8', codec)


def array_to_compressed(arr, codec='jpeg', in_order='RGB', quality=90, png_level=3):
    """Encode np.uint8 ``[H, W, 3]`` (``in_order``) as CompressedImage fields ``(format, bytes)``.

    ``quality``: JPEG quality 1..100; ``png_level``: PNG compression 0..9. Raises ValueError for a bad array or
    codec.
    """
    if in_order not in ('RGB', 'BGR'):
        raise ValueError('in_order must be "RGB" or "BGR", got %r' % (in_order,))
    if getattr(arr, 'dtype', None) is None or arr.dtype.name != 'uint8' or arr.ndim != 3 or arr.shape[2] != 3 \
            or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError('need a non-empty np.uint8 [H, W, 3] image, got %s %s' % (
            getattr(arr, 'dtype', type(arr).__name__), getattr(arr, 'shape', '')))
    fmt = compressed_format(codec, in_order)
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR) if in_order == 'RGB' else arr
    if codec == 'jpeg':
        ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        ok, buf = cv2.imencode('.png', bgr, [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)])
    if not ok:
        raise ValueError('OpenCV could not encode a %dx%d image as %s' % (arr.shape[1], arr.shape[0], codec))
    return fmt, buf.tobytes()

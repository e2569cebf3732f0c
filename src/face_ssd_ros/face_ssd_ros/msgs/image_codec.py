"""Raw image buffers (sensor_msgs/Image fields) <-> numpy arrays, without rclpy and without needless copies.

:func:`image_to_array` understands the encodings in :data:`SUPPORTED_ENCODINGS` (row padding included) and
returns ``np.uint8 [H, W, 3]`` in RGB or BGR order; :func:`array_to_image_fields` goes the other way for
rgb8 / bgr8 / mono8.
"""
import cv2
import numpy as np

# encoding -> bytes per pixel (YUV 4:2:2: 2 bytes per pixel, 4 per pair of pixels).
_BYTES_PER_PIXEL = {
    'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4,
    'yuv422': 2,        # ROS "yuv422" = UYVY byte order (U0 Y0 V0 Y1)
    'yuv422_yuy2': 2,   # YUYV byte order (Y0 U0 Y1 V0)
}
_ALIASES = {'yuyv': 'yuv422_yuy2', 'yuy2': 'yuv422_yuy2', 'uyvy': 'yuv422'}

#: Encodings accepted by :func:`image_to_array` (compared case-insensitively).
SUPPORTED_ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'yuv422', 'yuv422_yuy2', 'yuyv', 'yuy2', 'uyvy')
#: Encodings :func:`array_to_image_fields` can write.
WRITABLE_ENCODINGS = ('rgb8', 'bgr8', 'mono8')

# (encoding, out_order) -> cv2 conversion code; None = the bytes already are in that order.
_CONVERSIONS = {
    ('rgb8', 'RGB'): None, ('rgb8', 'BGR'): cv2.COLOR_RGB2BGR,
    ('bgr8', 'RGB'): cv2.COLOR_BGR2RGB, ('bgr8', 'BGR'): None,
    ('mono8', 'RGB'): cv2.COLOR_GRAY2RGB, ('mono8', 'BGR'): cv2.COLOR_GRAY2BGR,
    ('rgba8', 'RGB'): cv2.COLOR_RGBA2RGB, ('rgba8', 'BGR'): cv2.COLOR_RGBA2BGR,
    ('bgra8', 'RGB'): cv2.COLOR_BGRA2RGB, ('bgra8', 'BGR'): cv2.COLOR_BGRA2BGR,
    ('yuv422', 'RGB'): cv2.COLOR_YUV2RGB_UYVY, ('yuv422', 'BGR'): cv2.COLOR_YUV2BGR_UYVY,
    ('yuv422_yuy2', 'RGB'): cv2.COLOR_YUV2RGB_YUYV, ('yuv422_yuy2', 'BGR'): cv2.COLOR_YUV2BGR_YUYV,
}


class UnsupportedEncoding(ValueError):
    """The image encoding is not one this runtime can convert."""


class ImageSizeError(ValueError):
    """height/width/step/data of an image are inconsistent (zero size, step too small, data too short)."""


def canonical_encoding(encoding):
    """Lower-case ``encoding`` and resolve aliases (``yuyv``/``yuy2`` -> ``yuv422_yuy2``, ``uyvy`` -> ``yuv422``).

    Raises :class:`UnsupportedEncoding` listing the supported encodings.
    """
    enc = str(encoding).strip().lower()
    enc = _ALIASES.get(enc, enc)
    if enc not in _BYTES_PER_PIXEL:
        raise UnsupportedEncoding('unsupported image encoding %r; supported: %s. Configure the camera driver to '
                                  'publish one of these.' % (encoding, ', '.join(SUPPORTED_ENCODINGS)))
    return enc


def _check_order(order, what):
    if order not in ('RGB', 'BGR'):
        raise ValueError('%s must be "RGB" or "BGR", got %r' % (what, order))


def _as_uint8_buffer(data):
    """A flat uint8 view of ``data`` (bytes, bytearray, memoryview, array.array('B'), ndarray); lists are copied."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ValueError('image data array must be uint8, got %s' % data.dtype)
        return data.reshape(-1)
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def _pad_odd_yuv(rows, enc):
    """YUV 4:2:2 rows ``[H, W, 2]`` with odd ``W`` -> ``[H, W + 1, 2]``: complete the last pixel pair.

    The last pixel of an odd row has its Y and one chroma sample (U) but no V: borrow V from the previous pair
    (neutral 128 for a 1-pixel-wide image) and repeat its Y. Returns a new array (the only copy this path makes).
    """
    h, w = rows.shape[:2]
    out = np.empty((h, w + 1, 2), dtype=np.uint8)
    out[:, :w] = rows
    y_idx, c_idx = (1, 0) if enc == 'yuv422' else (0, 1)
    out[:, w, y_idx] = rows[:, w - 1, y_idx]
    out[:, w, c_idx] = rows[:, w - 2, c_idx] if w >= 3 else 128
    return out


def image_to_array(encoding, height, width, step, data, out_order='RGB', copy=False):
    """Decode a raw image into ``np.uint8 [height, width, 3]`` in ``out_order`` ('RGB' or 'BGR').

    ``data`` holds ``height`` rows of ``step`` bytes (``step >= width * bytes_per_pixel``; the padding at the end of
    each row is skipped). When no conversion is needed (rgb8 -> RGB, bgr8 -> BGR) the result is a view into
    ``data`` (read-only if ``data`` is ``bytes``, rows possibly padded); pass ``copy=True`` for an owned,
    writable, contiguous array. Raises :class:`UnsupportedEncoding` or :class:`ImageSizeError`.
    """
    enc = canonical_encoding(encoding)
    _check_order(out_order, 'out_order')
    height, width, step = int(height), int(width), int(step)
    bpp = _BYTES_PER_PIXEL[enc]
    row_bytes = width * bpp
    if height <= 0 or width <= 0:
        raise ImageSizeError('image has zero size (%dx%d, encoding %s); the publisher sent an empty image.'
                             % (width, height, encoding))
    if step < row_bytes:
        raise ImageSizeError('image step %d is smaller than one row (%d px * %d bytes = %d) for %s; the publisher '
                             'filled "step" wrongly.' % (step, width, bpp, row_bytes, encoding))
    buf = _as_uint8_buffer(data)
    if buf.size < step * height:
        raise ImageSizeError('image data has %d bytes but step * height = %d * %d = %d are needed (%dx%d %s); the '
                             'message is truncated or its size fields are wrong.'
                             % (buf.size, step, height, step * height, width, height, encoding))
    rows = buf[:step * height].reshape(height, step)[:, :row_bytes]   # a view; padding skipped by the stride
    if bpp == 1:
        pixels = rows
    else:
        pixels = rows.reshape(height, width, bpp)
        if bpp == 2 and width % 2:
            pixels = _pad_odd_yuv(pixels, enc)
    code = _CONVERSIONS[(enc, out_order)]
    if code is None:
        return np.array(pixels, dtype=np.uint8, order='C', copy=True) if copy else pixels
    out = cv2.cvtColor(pixels, code)
    if out.shape[1] != width:          # odd-width YUV was padded by one pixel
        out = np.ascontiguousarray(out[:, :width])
    return out


def array_to_image_fields(arr, encoding, in_order=None):
    """Serialise an image array into sensor_msgs/Image fields ``(height, width, step, data)``.

    ``encoding`` in :data:`WRITABLE_ENCODINGS`. Without ``in_order`` the array must already be laid out as the
    encoding says (``[H, W, 3]`` uint8 in RGB for rgb8 / BGR for bgr8; ``[H, W]`` or ``[H, W, 1]`` for mono8).
    With ``in_order`` ('RGB'|'BGR') a 3-channel array in that order is converted to the encoding first.
    ``data`` is a flat, C-contiguous uint8 ``memoryview`` (no copy when the input already fits);
    ``step = width * channels``.
    """
    enc = canonical_encoding(encoding)
    if enc not in WRITABLE_ENCODINGS:
        raise UnsupportedEncoding('cannot write encoding %r; writable encodings: %s'
                                  % (encoding, ', '.join(WRITABLE_ENCODINGS)))
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise ValueError('image array must be uint8, got %s; convert with np.clip(a, 0, 255).astype(np.uint8)'
                         % arr.dtype)
    if in_order is not None:
        _check_order(in_order, 'in_order')
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError('in_order=%r needs a [H, W, 3] array, got shape %s' % (in_order, arr.shape))
        if enc == 'mono8':
            arr = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY if in_order == 'RGB' else cv2.COLOR_BGR2GRAY)
        elif enc[:3].upper() != in_order:
            arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)   # the same swap both ways
    channels = 1 if enc == 'mono8' else 3
    if arr.ndim == 3 and channels == 1 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    expected_ndim = 2 if channels == 1 else 3
    if arr.ndim != expected_ndim or (channels == 3 and arr.shape[2] != 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageSizeError('encoding %s needs a non-empty %s uint8 array, got shape %s'
                             % (enc, '[H, W]' if channels == 1 else '[H, W, 3]', arr.shape))
    arr = np.ascontiguousarray(arr)
    height, width = arr.shape[:2]
    return height, width, width * channels, memoryview(arr.reshape(-1))

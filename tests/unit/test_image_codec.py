"""image_codec: every encoding, row padding, odd-width YUV, buffer types, errors, and property round trips."""
import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from face_ssd_ros.msgs.image_codec import (SUPPORTED_ENCODINGS, ImageSizeError, UnsupportedEncoding,
                                           array_to_image_fields, image_to_array)


def pack_rows(pixels, pad=0, fill=0xAB):
    """[H, W, C] (or [H, W]) uint8 -> bytes of H rows of W*C bytes + ``pad`` junk bytes each; returns (bytes, step)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    h = pixels.shape[0]
    rows = pixels.reshape(h, -1)
    step = rows.shape[1] + pad
    out = np.full((h, step), fill, dtype=np.uint8)
    out[:, :rows.shape[1]] = rows
    return out.tobytes(), step


def rgb_image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------- 8-bit colour
@pytest.mark.parametrize('pad', [0, 5])
@pytest.mark.parametrize('out_order', ['RGB', 'BGR'])
def test_rgb8_and_bgr8_with_padding(pad, out_order):
    rgb = rgb_image(5, 7)
    data, step = pack_rows(rgb, pad)
    out = image_to_array('rgb8', 5, 7, step, data, out_order=out_order)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb if out_order == 'RGB' else rgb[..., ::-1])
    data, step = pack_rows(rgb[..., ::-1], pad)    # the same picture stored as BGR
    np.testing.assert_array_equal(image_to_array('bgr8', 5, 7, step, data, out_order=out_order),
                                  rgb if out_order == 'RGB' else rgb[..., ::-1])


@pytest.mark.parametrize('encoding,order', [('rgba8', [0, 1, 2]), ('bgra8', [2, 1, 0])])
def test_alpha_encodings_drop_alpha(encoding, order):
    rgb = rgb_image(4, 6, seed=1)
    four = np.empty((4, 6, 4), np.uint8)
    four[..., order[0]], four[..., order[1]], four[..., order[2]] = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    four[..., 3] = 7
    data, step = pack_rows(four, pad=3)
    np.testing.assert_array_equal(image_to_array(encoding, 4, 6, step, data), rgb)
    np.testing.assert_array_equal(image_to_array(encoding, 4, 6, step, data, out_order='BGR'), rgb[..., ::-1])


def test_mono8_replicates_grey():
    grey = np.arange(15, dtype=np.uint8).reshape(3, 5) * 17
    data, step = pack_rows(grey, pad=1)
    out = image_to_array('mono8', 3, 5, step, data)
    assert out.shape == (3, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_encoding_name_is_case_insensitive():
    rgb = rgb_image(2, 2)
    data, step = pack_rows(rgb)
    np.testing.assert_array_equal(image_to_array('RGB8', 2, 2, step, data), rgb)


# ---------------------------------------------------------------------------------------------- YUV 4:2:2
def uyvy_bytes(y, u, v):
    """Y [H, W] (W even), U/V [H, W/2] -> UYVY bytes [H, 2W] as uint8 array."""
    h, w = y.shape
    out = np.empty((h, w // 2, 4), np.uint8)
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = u, y[:, 0::2], v, y[:, 1::2]
    return out.reshape(h, 2 * w)


def yuyv_bytes(y, u, v):
    h, w = y.shape
    out = np.empty((h, w // 2, 4), np.uint8)
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = y[:, 0::2], u, y[:, 1::2], v
    return out.reshape(h, 2 * w)


def random_yuv(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(16, 236, (h, w), dtype=np.uint8), rng.integers(16, 241, (h, w // 2), dtype=np.uint8),
            rng.integers(16, 241, (h, w // 2), dtype=np.uint8))


@pytest.mark.parametrize('encoding,packer', [('yuv422', uyvy_bytes), ('uyvy', uyvy_bytes),
                                             ('yuv422_yuy2', yuyv_bytes), ('yuyv', yuyv_bytes),
                                             ('yuy2', yuyv_bytes)])
def test_yuv_known_values(encoding, packer):
    # BT.601 video range: Y=16 black, Y=235 white, neutral chroma (128) is grey; high V (Cr) is red.
    y = np.array([[16, 235, 128, 128]], np.uint8)
    u = np.array([[128, 128]], np.uint8)
    v = np.array([[128, 240]], np.uint8)
    out = image_to_array(encoding, 1, 4, 8, packer(y, u, v).tobytes())
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])
    r, g, b = (int(x) for x in out[0, 2])
    assert r > 200 and g < 80 and b < 160    # reddish
    out_bgr = image_to_array(encoding, 1, 4, 8, packer(y, u, v).tobytes(), out_order='BGR')
    np.testing.assert_array_equal(out_bgr, out[..., ::-1])


def test_uyvy_and_yuyv_of_the_same_samples_agree_with_padding():
    y, u, v = random_yuv(6, 10)
    ref = image_to_array('yuv422', 6, 10, 20, uyvy_bytes(y, u, v).tobytes())
    data, step = pack_rows(yuyv_bytes(y, u, v), pad=12)
    np.testing.assert_array_equal(image_to_array('yuv422_yuy2', 6, 10, step, data), ref)
    data, step = pack_rows(uyvy_bytes(y, u, v), pad=4)
    np.testing.assert_array_equal(image_to_array('yuv422', 6, 10, step, data), ref)


@pytest.mark.parametrize('encoding,packer', [('yuv422', uyvy_bytes), ('yuv422_yuy2', yuyv_bytes)])
@pytest.mark.parametrize('width', [1, 3, 7])
def test_yuv_odd_width(encoding, packer, width):
    """Odd rows end in half a pair (Y + U). The last pixel must use its own Y and U and its neighbour's V."""
    h = 3
    y, u, v = random_yuv(h, width + 1, seed=width)
    if width >= 3:
        v[:, -1] = v[:, -2]                 # the V an odd row lacks is borrowed from the previous pair
    else:
        v[:, -1] = 128
    y[:, -1] = y[:, -2]
    even = packer(y, u, v)                  # complete rows of width + 1 pixels
    ref = image_to_array(encoding, h, width + 1, 2 * (width + 1), even.tobytes())[:, :width]
    odd_rows = even[:, :2 * width]          # what a camera sends for an odd width
    data, step = pack_rows(odd_rows, pad=2)
    out = image_to_array(encoding, h, width, step, data)
    assert out.shape == (h, width, 3) and out.flags['C_CONTIGUOUS']
    np.testing.assert_array_equal(out, ref)


# ---------------------------------------------------------------------------------------------- buffers, copies
@pytest.mark.parametrize('kind', ['bytes', 'bytearray', 'memoryview', 'array', 'ndarray', 'list'])
def test_accepts_every_buffer_type(kind):
    rgb = rgb_image(3, 4)
    raw, step = pack_rows(rgb, pad=2)
    data = {'bytes': raw, 'bytearray': bytearray(raw), 'memoryview': memoryview(raw),
            'array': array.array('B', raw), 'ndarray': np.frombuffer(raw, np.uint8).copy(),
            'list': list(raw)}[kind]
    np.testing.assert_array_equal(image_to_array('rgb8', 3, 4, step, data), rgb)


def test_same_order_returns_a_view_and_copy_gives_owned_array():
    rgb = rgb_image(4, 5)
    raw, step = pack_rows(rgb, pad=3)
    buf = bytearray(raw)
    view = image_to_array('rgb8', 4, 5, step, buf)
    assert np.shares_memory(view, np.frombuffer(buf, np.uint8))
    owned = image_to_array('rgb8', 4, 5, step, buf, copy=True)
    assert not np.shares_memory(owned, np.frombuffer(buf, np.uint8))
    assert owned.flags['C_CONTIGUOUS'] and owned.flags['WRITEABLE']
    np.testing.assert_array_equal(owned, rgb)
    assert not image_to_array('rgb8', 4, 5, step, bytes(raw)).flags['WRITEABLE']   # bytes stay read-only


def test_extra_trailing_data_is_ignored():
    rgb = rgb_image(2, 3)
    raw, step = pack_rows(rgb)
    np.testing.assert_array_equal(image_to_array('rgb8', 2, 3, step, raw + b'\x00' * 10), rgb)


# ---------------------------------------------------------------------------------------------- errors
def test_unsupported_encoding_lists_supported():
    with pytest.raises(UnsupportedEncoding) as err:
        image_to_array('16UC1', 2, 2, 4, bytes(8))
    for enc in ('rgb8', 'bgr8', 'mono8', 'yuv422', 'yuv422_yuy2'):
        assert enc in str(err.value)
    assert '16UC1' in str(err.value)
    assert set(SUPPORTED_ENCODINGS) >= {'rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'yuv422', 'yuv422_yuy2',
                                        'yuyv', 'yuy2'}


@pytest.mark.parametrize('height,width,step,size,words', [
    (0, 4, 12, 0, 'zero size'),
    (3, 0, 12, 36, 'zero size'),
    (3, 4, 11, 36, 'step 11'),
    (3, 4, 12, 35, '35 bytes'),
])
def test_size_errors(height, width, step, size, words):
    with pytest.raises(ImageSizeError) as err:
        image_to_array('rgb8', height, width, step, bytes(size))
    assert words in str(err.value)


def test_bad_out_order():
    with pytest.raises(ValueError, match='out_order'):
        image_to_array('rgb8', 1, 1, 3, bytes(3), out_order='RGBA')


def test_non_uint8_ndarray_data_refused():
    with pytest.raises(ValueError, match='uint8'):
        image_to_array('rgb8', 1, 1, 3, np.zeros(3, np.float32))


# ---------------------------------------------------------------------------------------------- writing
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_fields_round_trip_colour(encoding):
    img = rgb_image(5, 3)
    height, width, step, data = array_to_image_fields(img, encoding)
    assert (height, width, step) == (5, 3, 9) and len(bytes(data)) == 45
    order = encoding[:3].upper()
    np.testing.assert_array_equal(image_to_array(encoding, height, width, step, data, out_order=order), img)


def test_fields_in_order_converts():
    rgb = rgb_image(3, 4)
    fields = array_to_image_fields(rgb, 'bgr8', in_order='RGB')
    np.testing.assert_array_equal(image_to_array('bgr8', *fields), rgb)       # decoded back to RGB
    fields = array_to_image_fields(rgb[..., ::-1], 'rgb8', in_order='BGR')
    np.testing.assert_array_equal(image_to_array('rgb8', *fields), rgb)
    h, w, step, data = array_to_image_fields(rgb, 'mono8', in_order='RGB')
    assert step == 4
    grey = np.frombuffer(bytes(data), np.uint8).reshape(3, 4)
    expected = np.round(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114)
    assert np.abs(grey.astype(int) - expected).max() <= 1


def test_fields_mono_and_no_copy_for_contiguous_input():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    h, w, step, data = array_to_image_fields(grey[:, :, None], 'mono8')
    assert (h, w, step) == (3, 4, 4)
    assert np.shares_memory(np.frombuffer(data, np.uint8), grey)
    np.testing.assert_array_equal(image_to_array('mono8', h, w, step, data)[..., 1], grey)


@pytest.mark.parametrize('arr,encoding,exc', [
    (np.zeros((2, 2, 3), np.float32), 'rgb8', ValueError),
    (np.zeros((2, 2), np.uint8), 'rgb8', ImageSizeError),
    (np.zeros((2, 2, 4), np.uint8), 'bgr8', ImageSizeError),
    (np.zeros((0, 2, 3), np.uint8), 'rgb8', ImageSizeError),
    (np.zeros((2, 2, 3), np.uint8), 'mono8', ImageSizeError),
    (np.zeros((2, 2, 3), np.uint8), 'yuv422', UnsupportedEncoding),
])
def test_fields_errors(arr, encoding, exc):
    with pytest.raises(exc):
        array_to_image_fields(arr, encoding)


# ---------------------------------------------------------------------------------------------- properties
_LAYOUT = {'rgb8': (3, [0, 1, 2]), 'bgr8': (3, [2, 1, 0]), 'rgba8': (4, [0, 1, 2]), 'bgra8': (4, [2, 1, 0]),
           'mono8': (1, [0, 0, 0])}


@settings(max_examples=60, deadline=None)
@given(encoding=st.sampled_from(sorted(_LAYOUT)), h=st.integers(1, 9), w=st.integers(1, 9),
       pad=st.integers(0, 7), out_order=st.sampled_from(['RGB', 'BGR']), seed=st.integers(0, 2 ** 16))
def test_property_8bit_decode(encoding, h, w, pad, out_order, seed):
    channels, rgb_index = _LAYOUT[encoding]
    stored = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
    data, step = pack_rows(stored, pad)
    out = image_to_array(encoding, h, w, step, data, out_order=out_order)
    expected = stored[..., rgb_index]
    np.testing.assert_array_equal(out, expected if out_order == 'RGB' else expected[..., ::-1])


@settings(max_examples=60, deadline=None)
@given(encoding=st.sampled_from(['rgb8', 'bgr8']), h=st.integers(1, 9), w=st.integers(1, 9),
       seed=st.integers(0, 2 ** 16))
def test_property_fields_round_trip(encoding, h, w, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    fields = array_to_image_fields(rgb, encoding, in_order='RGB')
    np.testing.assert_array_equal(image_to_array(encoding, *fields), rgb)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 11), pad=st.integers(0, 5), seed=st.integers(0, 2 ** 16))
def test_property_yuv_orders_agree_and_grey_stays_grey(h, w, pad, seed):
    even_w = w + (w % 2)
    y, u, v = random_yuv(h, even_w, seed)
    uyvy, step = pack_rows(uyvy_bytes(y, u, v)[:, :2 * w], pad)
    yuyv, step2 = pack_rows(yuyv_bytes(y, u, v)[:, :2 * w], pad)
    a = image_to_array('yuv422', h, w, step, uyvy)
    b = image_to_array('yuyv', h, w, step2, yuyv)
    assert a.shape == (h, w, 3)
    np.testing.assert_array_equal(a, b)
    u[:], v[:] = 128, 128                           # neutral chroma: R == G == B, monotonic in Y
    grey = image_to_array('yuv422', h, w, step, pack_rows(uyvy_bytes(y, u, v)[:, :2 * w], pad)[0])
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    flat_y, flat_g = y[:, :w].ravel(), grey[..., 0].ravel()
    order = np.argsort(flat_y, kind='stable')
    assert (np.diff(flat_g[order].astype(int)) >= 0).all()

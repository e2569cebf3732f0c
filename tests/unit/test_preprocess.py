"""preprocess: exact normalisation, channel order, stretch resize, dynamic size, input checks."""
import cv2
import numpy as np
import pytest

from face_ssd_ros.detect.manifest import ModelManifest
from face_ssd_ros.detect.preprocess import preprocess
from face_ssd_ros.msgs.image_codec import image_to_array


def manifest_for(manifest_dict, width=4, height=2, order='RGB', mean=(127.0, 127.0, 127.0),
                 std=(128.0, 128.0, 128.0)):
    d = manifest_dict(width=width, height=height, cell=1)
    d['input'].update(channel_order=order, mean=list(mean), std=list(std))
    return ModelManifest.from_dict(d)


def test_values_layout_and_dtype(manifest_dict):
    m = manifest_for(manifest_dict, mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 8.0))
    img = np.random.default_rng(0).integers(0, 256, (2, 4, 3), dtype=np.uint8)
    out = preprocess(img, m)
    assert out.shape == (1, 3, 2, 4) and out.dtype == np.float32 and out.flags['C_CONTIGUOUS']
    for c, (mean, std) in enumerate(zip((10.0, 20.0, 30.0), (2.0, 4.0, 8.0))):
        np.testing.assert_allclose(out[0, c], (img[..., c].astype(np.float64) - mean) / std, rtol=1e-6)


def test_bgr_channel_order(manifest_dict):
    mean, std = (1.0, 2.0, 3.0), (1.0, 1.0, 1.0)
    m = manifest_for(manifest_dict, order='BGR', mean=mean, std=std)
    img = np.zeros((2, 4, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 200, 100, 50          # R, G, B
    out = preprocess(img, m)
    # network channel 0 is blue minus mean[0] (mean/std are given in channel_order)
    np.testing.assert_array_equal(out[0, 0], np.full((2, 4), 50 - 1.0))
    np.testing.assert_array_equal(out[0, 1], np.full((2, 4), 100 - 2.0))
    np.testing.assert_array_equal(out[0, 2], np.full((2, 4), 200 - 3.0))


def test_stretch_resize_matches_cv2_linear(manifest_dict):
    m = manifest_for(manifest_dict, width=8, height=6, mean=(0, 0, 0), std=(1, 1, 1))
    img = np.random.default_rng(1).integers(0, 256, (30, 17, 3), dtype=np.uint8)
    out = preprocess(img, m)
    expected = cv2.resize(img, (8, 6), interpolation=cv2.INTER_LINEAR).astype(np.float32).transpose(2, 0, 1)
    np.testing.assert_array_equal(out[0], expected)


def test_size_override_and_bad_size(manifest_dict):
    m = manifest_for(manifest_dict, width=8, height=6)
    img = np.full((12, 20, 3), 127, np.uint8)
    out = preprocess(img, m, size=(10, 4))
    assert out.shape == (1, 3, 4, 10)
    np.testing.assert_array_equal(out, np.zeros_like(out))       # (127 - 127) / 128
    with pytest.raises(ValueError, match='width, height'):
        preprocess(img, m, size=(0, 4))


def test_padded_read_only_view_input(manifest_dict):
    """Images straight from image_codec may be read-only views with padded rows."""
    m = manifest_for(manifest_dict, width=4, height=2, mean=(0, 0, 0), std=(1, 1, 1))
    img = np.random.default_rng(2).integers(0, 256, (2, 4, 3), dtype=np.uint8)
    rows = np.zeros((2, 15), np.uint8)
    rows[:, :12] = img.reshape(2, 12)
    view = image_to_array('rgb8', 2, 4, 15, rows.tobytes())
    assert not view.flags['C_CONTIGUOUS'] and not view.flags['WRITEABLE']
    np.testing.assert_array_equal(preprocess(view, m)[0], img.transpose(2, 0, 1).astype(np.float32))


@pytest.mark.parametrize('bad', [np.zeros((2, 4), np.uint8), np.zeros((2, 4, 4), np.uint8),
                                 np.zeros((2, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8)])
def test_rejects_malformed_images(manifest_dict, bad):
    with pytest.raises(ValueError):
        preprocess(bad, manifest_for(manifest_dict))

"""Fixtures for the face_ssd_training.data tests: tiny images written with cv2 in tmp dirs, the real data path."""
import os

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))


def write_jpeg(path, width=64, height=48, seed=0):
    """Write a small textured RGB JPEG (cv2) and return its path."""
    import cv2
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1),
                    np.full_like(xx, int(rng.integers(0, 255)))], axis=-1).astype(np.uint8)
    assert cv2.imwrite(path, img), path
    return path


def truncate_file(path, keep_fraction=0.5):
    """Cut a file to the first ``keep_fraction`` of its bytes (a corrupt JPEG)."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep_fraction)])
    return path


@pytest.fixture
def jpeg_writer():
    """``write(path, width=64, height=48, seed=0) -> path`` (see :func:`write_jpeg`)."""
    return write_jpeg


@pytest.fixture
def truncator():
    """``truncate(path, keep_fraction=0.5) -> path`` (see :func:`truncate_file`)."""
    return truncate_file

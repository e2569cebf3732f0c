"""Image -> network input tensor, exactly as the model manifest prescribes (stretch resize, no letterbox)."""
import cv2
import numpy as np


def _target_size(manifest, size):
    if size is None:
        return int(manifest.width), int(manifest.height)
    if len(size) != 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
        raise ValueError('size must be (width, height) with both > 0, got %r' % (size,))
    return int(size[0]), int(size[1])


def preprocess(image, manifest, size=None):
    """Turn an RGB image into the model's input batch.

    ``image``: np.uint8 ``[H, W, 3]`` in RGB order (any strides). ``manifest``: a
    :class:`face_ssd_ros.detect.manifest.ModelManifest` (uses width, height, channel_order, mean, std).
    ``size``: optional ``(width, height)`` overriding the manifest's input size (dynamic-size models only; the
    caller checks that). Steps: stretch resize with ``cv2.INTER_LINEAR`` (skipped when the size already
    matches), channel order per manifest, ``(x - mean) / std`` per channel, CHW.
    Returns C-contiguous np.float32 ``[1, 3, h, w]``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('preprocess expects an RGB uint8 image [H, W, 3], got %s %s (convert with '
                         'face_ssd_ros.msgs.image_codec.image_to_array)' % (image.dtype, image.shape))
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError('preprocess got an empty image of shape %s' % (image.shape,))
    width, height = _target_size(manifest, size)
    if image.shape[0] != height or image.shape[1] != width:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    # channel c of the network input = image channel source[c]
    source = (0, 1, 2) if manifest.channel_order == 'RGB' else (2, 1, 0)
    batch = np.empty((1, 3, height, width), dtype=np.float32)
    for c in range(3):
        plane = batch[0, c]
        plane[...] = image[:, :, source[c]]
        plane -= np.float32(manifest.mean[c])
        plane /= np.float32(manifest.std[c])
    return batch

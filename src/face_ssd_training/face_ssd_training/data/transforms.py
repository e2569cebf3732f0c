"""Augmentation and conversion transforms: callables ``(image, target) -> (image, target)``.

Input items follow the dataset contract (image np.uint8 [H, W, 3] RGB; target ``{"boxes": float32 [K, 4] x1 y1 x2 y2
pixels, "labels": int64 [K], "image_id": str}``; K may be 0). Every transform keeps boxes and labels aligned and
keeps extra target keys. :class:`ToTensor` ends a preset: image torch.float32 [3, h, w] normalised with the model's
mean/std, boxes torch.float32 [K, 4] normalised to [0, 1] (x2 > x1, y2 > y1), labels torch.int64 [K].

Randomness: random transforms draw from a ``numpy.random.Generator``. :class:`Compose` seeds one generator per
item from torch's RNG (``torch.randint``), so ``torch.manual_seed(s)`` makes a run reproducible and DataLoader
workers (which torch seeds with ``base_seed + worker_id``) produce different, reproducible streams.

Presets (:func:`build_transform`): "ssd", "face", "light", "eval" - see :data:`PRESETS`. Photometric distortion
is applied after the geometric steps (on the small network-size image, which is much cheaper; the operations are
per-pixel so the result is the same up to resampling and the colour of padding).
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .labels import IGNORE_LABEL

DEFAULT_MEAN = (127.0, 127.0, 127.0)
DEFAULT_STD = (128.0, 128.0, 128.0)


def rng_from_torch() -> np.random.Generator:
    """A numpy Generator seeded from torch's global RNG (reproducible under ``torch.manual_seed``)."""
    return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,), dtype=torch.int64).item()))


def _update(target: dict, boxes, labels) -> dict:
    out = dict(target)
    out['boxes'] = boxes
    out['labels'] = labels
    return out


def _boxes_labels(target: dict) -> Tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray(target['boxes'], dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(target['labels'], dtype=np.int64).reshape(-1)
    if len(boxes) != len(labels):
        raise ValueError('target %r has %d boxes but %d labels' % (target.get('image_id'), len(boxes), len(labels)))
    return boxes, labels


def _keep_centres_in(boxes: np.ndarray, labels: np.ndarray, rect) -> Tuple[np.ndarray, np.ndarray]:
    """Keep boxes whose centre lies inside rect (x0, y0, x1, y1); clip them to it and shift to its origin."""
    x0, y0, x1, y1 = rect
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    m = (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1)
    b = boxes[m].copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], x0, x1) - x0
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], y0, y1) - y0
    return b.astype(np.float32), labels[m]


def box_iou(boxes: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """IoU of boxes [K, 4] with one rect [4] (all x1 y1 x2 y2) -> [K]."""
    iw = np.clip(np.minimum(boxes[:, 2], rect[2]) - np.maximum(boxes[:, 0], rect[0]), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], rect[3]) - np.maximum(boxes[:, 1], rect[1]), 0, None)
    inter = iw * ih
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + (rect[2] - rect[0]) * (rect[3] - rect[1]) - inter, 1e-12)


class Transform(object):
    """Base of the transforms; random ones take an optional ``rng`` (numpy Generator)."""
    random = False

    def __call__(self, image, target, rng: Optional[np.random.Generator] = None):
        raise NotImplementedError

    def __repr__(self):
        args = ', '.join('%s=%r' % kv for kv in sorted(vars(self).items()) if not kv[0].startswith('_'))
        return '%s(%s)' % (type(self).__name__, args)


class Compose(Transform):
    """Apply transforms in order with one Generator per item (drawn from torch's RNG unless ``rng`` is given).

    Plain callables ``(image, target) -> (image, target)`` may be mixed in; they get no rng.
    """
    random = True

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, image, target, rng=None):
        if rng is None and any(getattr(t, 'random', False) for t in self.transforms):
            rng = rng_from_torch()
        for t in self.transforms:
            if isinstance(t, Transform):
                image, target = t(image, target, rng=rng)
            else:
                image, target = t(image, target)
        return image, target

    def __repr__(self):
        return 'Compose([\n  %s])' % ',\n  '.join(repr(t) for t in self.transforms)


class PhotometricDistort(Transform):
    """SSD photometric distortion on an RGB uint8 image: brightness, then contrast either before or after
    (random order) saturation and hue in HSV; each step happens with probability ``p``.

    brightness: max added delta (pixel units); contrast, saturation: (low, high) factors; hue: max shift in degrees.
    """
    random = True

    def __init__(self, brightness: float = 32.0, contrast=(0.5, 1.5), saturation=(0.5, 1.5), hue: float = 18.0,
                 p: float = 0.5):
        self.brightness = float(brightness)
        self.contrast = tuple(contrast)
        self.saturation = tuple(saturation)
        self.hue = float(hue)
        self.p = float(p)

    def __call__(self, image, target, rng=None):
        import cv2
        rng = rng or rng_from_torch()
        img = image.astype(np.float32)
        if rng.random() < self.p:
            img += rng.uniform(-self.brightness, self.brightness)
        contrast_first = rng.random() < 0.5
        contrast = rng.uniform(*self.contrast) if rng.random() < self.p else None
        sat = rng.uniform(*self.saturation) if rng.random() < self.p else None
        hue = rng.uniform(-self.hue, self.hue) if rng.random() < self.p else None
        if contrast_first and contrast is not None:
            img *= contrast
        if sat is not None or hue is not None:
            hsv = cv2.cvtColor(np.clip(img, 0, 255) / 255.0, cv2.COLOR_RGB2HSV)  # H in [0, 360), S, V in [0, 1]
            if sat is not None:
                hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0.0, 1.0)
            if hue is not None:
                hsv[..., 0] = np.mod(hsv[..., 0] + hue, 360.0)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
        if not contrast_first and contrast is not None:
            img *= contrast
        return np.clip(img, 0, 255).astype(np.uint8), target


class Expand(Transform):
    """Zoom out: place the image at a random spot of a canvas ``ratio`` times larger (ratio uniform in
    [1, max_ratio]) filled with ``fill`` (RGB pixel values, normally the model mean); probability ``p``."""
    random = True

    def __init__(self, fill=DEFAULT_MEAN, max_ratio: float = 4.0, p: float = 0.5):
        self.fill = tuple(float(v) for v in fill)
        self.max_ratio = float(max_ratio)
        self.p = float(p)

    def __call__(self, image, target, rng=None):
        rng = rng or rng_from_torch()
        if rng.random() >= self.p:
            return image, target
        h, w = image.shape[:2]
        ratio = rng.uniform(1.0, self.max_ratio)
        cw, ch = int(w * ratio), int(h * ratio)
        left, top = int(rng.uniform(0, cw - w)), int(rng.uniform(0, ch - h))
        canvas = np.empty((ch, cw, 3), dtype=image.dtype)
        canvas[...] = np.asarray(self.fill, dtype=np.float32).round().astype(image.dtype)
        canvas[top:top + h, left:left + w] = image
        boxes, labels = _boxes_labels(target)
        boxes = boxes + np.array([left, top, left, top], dtype=np.float32)
        return canvas, _update(target, boxes, labels)


class RandomSampleCrop(Transform):
    """SSD IoU-constrained random crop.

    A mode is drawn from ``min_ious`` (None = keep the whole image); up to ``trials`` crops of side
    ``[min_scale, 1]`` x the image side and aspect ``aspect_range`` are drawn until one overlaps some box with
    IoU >= the mode and contains at least one box centre. Boxes whose centre is inside are kept and clipped.
    With K = 0 any crop is accepted. If no trial succeeds the item is returned unchanged.
    """
    random = True

    def __init__(self, min_ious=(None, 0.1, 0.3, 0.5, 0.7, 0.9), min_scale: float = 0.3,
                 aspect_range=(0.5, 2.0), trials: int = 50):
        self.min_ious = tuple(min_ious)
        self.min_scale = float(min_scale)
        self.aspect_range = tuple(aspect_range)
        self.trials = int(trials)

    def __call__(self, image, target, rng=None):
        rng = rng or rng_from_torch()
        mode = self.min_ious[int(rng.integers(len(self.min_ious)))]
        if mode is None:
            return image, target
        h, w = image.shape[:2]
        boxes, labels = _boxes_labels(target)
        for _ in range(self.trials):
            cw = rng.uniform(self.min_scale * w, w)
            ch = rng.uniform(self.min_scale * h, h)
            if not self.aspect_range[0] <= ch / cw <= self.aspect_range[1]:
                continue
            left, top = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
            rect = np.array([int(left), int(top), int(left + cw), int(top + ch)])
            if rect[2] - rect[0] < 2 or rect[3] - rect[1] < 2:
                continue
            if len(boxes):
                if box_iou(boxes, rect.astype(np.float32)).max() < mode:
                    continue
                b, lab = _keep_centres_in(boxes, labels, rect)
                if not len(b):
                    continue
            else:
                b, lab = boxes, labels
            crop = image[rect[1]:rect[3], rect[0]:rect[2]]
            return np.ascontiguousarray(crop), _update(target, b, lab)
        return image, target


class FaceScaleCrop(Transform):
    """Face-scale-aware random crop / zoom that outputs the network size directly.

    One annotated box is picked at random and a target size for it (output pixels, sqrt of area) is drawn
    log-uniformly from ``face_px`` = (min, max): every octave of face size gets the same share of training
    samples, and small faces stay at or above ``face_px[0]`` so they remain learnable. The crop has the output's
    aspect ratio (times a jitter in ``aspect_jitter``), contains the picked box where possible, may extend past the
    image (zoom out, filled with ``fill``) up to ``max_zoom_out`` x the image size, and never enlarges source pixels
    more than ``max_upscale`` x. Boxes whose centre falls inside the crop are kept and clipped.
    With probability ``p_whole`` (and for K = 0 images, a crop of ``[0.5, 1]`` of the largest fitting window) the
    whole image is used instead.

    size: output (width, height); fill: RGB pixel fill (model mean); interpolation: cv2 flag.
    """
    random = True

    def __init__(self, size: Tuple[int, int], face_px=(10.0, None), fill=DEFAULT_MEAN, p_whole: float = 0.15,
                 max_upscale: float = 2.0, max_zoom_out: float = 3.0, aspect_jitter=(0.85, 1.18),
                 interpolation: Optional[int] = None):
        import cv2
        self.size = (int(size[0]), int(size[1]))
        hi = face_px[1] if face_px[1] is not None else 0.75 * min(self.size)
        self.face_px = (float(face_px[0]), float(hi))
        if not 0 < self.face_px[0] < self.face_px[1]:
            raise ValueError('face_px must be (min, max) with 0 < min < max, got %r' % (self.face_px,))
        self.fill = tuple(float(v) for v in fill)
        self.p_whole = float(p_whole)
        self.max_upscale = float(max_upscale)
        self.max_zoom_out = float(max_zoom_out)
        self.aspect_jitter = tuple(aspect_jitter)
        self.interpolation = cv2.INTER_LINEAR if interpolation is None else interpolation

    def _crop_rect(self, w, h, boxes, rng):
        out_w, out_h = self.size
        aspect = out_w / out_h * math.exp(rng.uniform(math.log(self.aspect_jitter[0]), math.log(self.aspect_jitter[1])))
        if not len(boxes):
            fit_w = min(w, h * aspect)
            cw = fit_w * rng.uniform(0.5, 1.0)
            ch = cw / aspect
            x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
            return x0, y0, cw, ch
        j = int(rng.integers(len(boxes)))
        bx1, by1, bx2, by2 = [float(v) for v in boxes[j]]
        face = math.sqrt(max(bx2 - bx1, 1e-3) * max(by2 - by1, 1e-3))
        want = math.exp(rng.uniform(math.log(self.face_px[0]), math.log(self.face_px[1])))
        scale = want / face  # output pixels per source pixel, horizontally
        scale = min(scale, self.max_upscale)
        cw = out_w / scale
        ch = cw / aspect
        zoom_out = max(cw / w, ch / h)
        if zoom_out > self.max_zoom_out:
            cw, ch = cw * self.max_zoom_out / zoom_out, ch * self.max_zoom_out / zoom_out

        def place(lo_face, hi_face, c, crop, size):
            img_lo, img_hi = (0.0, size - crop) if crop <= size else (size - crop, 0.0)
            lo, hi = max(img_lo, hi_face - crop), min(img_hi, lo_face)
            if lo > hi:  # box larger than the crop (or cannot be fully inside): centre on it
                lo = hi = min(max(c - crop / 2, img_lo), img_hi)
            return rng.uniform(lo, hi)
        x0 = place(bx1, bx2, (bx1 + bx2) / 2, cw, w)
        y0 = place(by1, by2, (by1 + by2) / 2, ch, h)
        return x0, y0, cw, ch

    def __call__(self, image, target, rng=None):
        import cv2
        rng = rng or rng_from_torch()
        h, w = image.shape[:2]
        boxes, labels = _boxes_labels(target)
        out_w, out_h = self.size
        if rng.random() < self.p_whole:
            x0, y0, cw, ch = 0.0, 0.0, float(w), float(h)
        else:
            x0, y0, cw, ch = self._crop_rect(w, h, boxes[labels > 0], rng)  # never centred on an ignore region
        sx, sy = out_w / cw, out_h / ch
        # exact affine map of the crop window onto the output; outside the image -> fill
        m = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy]], dtype=np.float64)
        canvas = cv2.warpAffine(image, m, (out_w, out_h), flags=self.interpolation, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=tuple(float(round(v)) for v in self.fill))
        b, lab = _keep_centres_in(boxes, labels, (x0, y0, x0 + cw, y0 + ch))
        b = b * np.array([sx, sy, sx, sy], dtype=np.float32)
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, out_w)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, out_h)
        return canvas, _update(target, b.astype(np.float32), lab)


class RandomMirror(Transform):
    """Horizontal flip with probability ``p``."""
    random = True

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __call__(self, image, target, rng=None):
        rng = rng or rng_from_torch()
        if rng.random() >= self.p:
            return image, target
        w = image.shape[1]
        boxes, labels = _boxes_labels(target)
        boxes = boxes.copy()
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
        return np.ascontiguousarray(image[:, ::-1]), _update(target, boxes, labels)


class Resize(Transform):
    """Stretch to (width, height) (no letterbox, as the runtime does); boxes scaled. cv2.INTER_LINEAR default."""

    def __init__(self, width: int, height: int, interpolation: Optional[int] = None):
        import cv2
        self.width, self.height = int(width), int(height)
        self.interpolation = cv2.INTER_LINEAR if interpolation is None else interpolation

    def __call__(self, image, target, rng=None):
        import cv2
        h, w = image.shape[:2]
        if (w, h) == (self.width, self.height):
            return image, target
        image = cv2.resize(image, (self.width, self.height), interpolation=self.interpolation)
        boxes, labels = _boxes_labels(target)
        boxes = boxes * np.array([self.width / w, self.height / h] * 2, dtype=np.float32)
        return image, _update(target, boxes, labels)


class FilterBoxes(Transform):
    """Boxes whose width or height (pixels, so use after Resize) is below ``min_size_px`` are dropped, or with
    ``as_ignore`` kept as ignore regions (label :data:`~.labels.IGNORE_LABEL`: not learned as objects, and the
    priors on them not learned as background either)."""

    def __init__(self, min_size_px: float, as_ignore: bool = False):
        self.min_size_px = float(min_size_px)
        self.as_ignore = bool(as_ignore)

    def __call__(self, image, target, rng=None):
        boxes, labels = _boxes_labels(target)
        small = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) < self.min_size_px
        if self.as_ignore:
            labels = labels.copy()
            labels[small] = IGNORE_LABEL
            return image, _update(target, boxes, labels)
        return image, _update(target, boxes[~small], labels[~small])


class ToTensor(Transform):
    """RGB uint8 [H, W, 3] -> torch.float32 [3, H, W] = (pixel - mean) / std in ``channel_order``; boxes
    normalised to [0, 1] and clipped, boxes left without area dropped; target boxes/labels become torch tensors
    (float32 [K, 4], int64 [K]). mean/std: 3 values in pixel units, in ``channel_order`` (as in the manifest)."""

    def __init__(self, mean=DEFAULT_MEAN, std=DEFAULT_STD, channel_order: str = 'RGB'):
        if channel_order not in ('RGB', 'BGR'):
            raise ValueError("channel_order must be 'RGB' or 'BGR', not %r" % (channel_order,))
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError('mean and std need 3 values each, std > 0; got %r, %r' % (mean, std))
        self.channel_order = channel_order

    def __call__(self, image, target, rng=None):
        h, w = image.shape[:2]
        img = image if self.channel_order == 'RGB' else image[..., ::-1]
        img = (img.astype(np.float32) - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        boxes, labels = _boxes_labels(target)
        boxes = np.clip(boxes / np.array([w, h, w, h], dtype=np.float32), 0.0, 1.0).astype(np.float32)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return tensor, _update(target, torch.from_numpy(np.ascontiguousarray(boxes[keep])),
                               torch.from_numpy(np.ascontiguousarray(labels[keep])))


PRESETS = {
    'ssd': 'expand (zoom out), SSD IoU crop, mirror, resize, photometric',
    'face': 'face-scale-aware crop/zoom, photometric, mirror, filter tiny boxes',
    'light': 'mirror, resize, mild photometric',
    'eval': 'resize only',
}


def rgb_fill(mean=DEFAULT_MEAN, channel_order: str = 'RGB') -> Tuple[float, float, float]:
    """The model mean (given in ``channel_order``) as an RGB pixel: the fill of zoomed-out or empty canvas areas."""
    return tuple(mean) if channel_order == 'RGB' else tuple(mean)[::-1]


def _small_as_ignore(small_boxes: str) -> bool:
    if small_boxes not in ('drop', 'ignore'):
        raise ValueError('small_boxes must be "drop" or "ignore", got %r' % (small_boxes,))
    return small_boxes == 'ignore'


def _colour_and_mirror() -> List[Transform]:
    """The steps of the "face" preset after its crop (also applied to mosaic canvases)."""
    return [PhotometricDistort(), RandomMirror()]


def build_transform(preset: str, size: Tuple[int, int] = (320, 240), mean=DEFAULT_MEAN, std=DEFAULT_STD,
                    channel_order: str = 'RGB', min_size_px: Optional[float] = None,
                    face_px: Tuple[float, Optional[float]] = (10.0, None), small_boxes: str = 'drop') -> Compose:
    """A named transform pipeline ending in :class:`ToTensor` (see :data:`PRESETS`).

    size: network input (width, height); mean/std: pixel units in ``channel_order`` (from the manifest);
    min_size_px: boxes smaller than this after resizing are dropped (default 6 for "face", none otherwise);
    small_boxes: "drop" them, or keep them as "ignore" regions (see :class:`FilterBoxes`);
    face_px: ("face" only) range of the sampled face size in output pixels (max default 0.75 x min(size)).
    """
    w, h = int(size[0]), int(size[1])
    rgb_mean = rgb_fill(mean, channel_order)
    tail = [ToTensor(mean, std, channel_order)]
    if preset == 'eval':
        steps = [Resize(w, h)]
    elif preset == 'light':
        steps = [RandomMirror(), Resize(w, h),
                 PhotometricDistort(brightness=16, contrast=(0.8, 1.2), saturation=(0.8, 1.2), hue=6)]
    elif preset == 'ssd':
        steps = [Expand(rgb_mean), RandomSampleCrop(), RandomMirror(), Resize(w, h), PhotometricDistort()]
    elif preset == 'face':
        steps = [FaceScaleCrop((w, h), face_px=face_px, fill=rgb_mean)] + _colour_and_mirror() + [Resize(w, h)]
        if min_size_px is None:
            min_size_px = 6.0
    else:
        raise ValueError('unknown transform preset %r (choose one of: %s)' % (preset, ', '.join(sorted(PRESETS))))
    if min_size_px:
        steps.append(FilterBoxes(min_size_px, as_ignore=_small_as_ignore(small_boxes)))
    return Compose(steps + tail)


def build_mosaic_post(mean=DEFAULT_MEAN, std=DEFAULT_STD, channel_order: str = 'RGB',
                      min_size_px: Optional[float] = 6.0, small_boxes: str = 'drop') -> Compose:
    """The steps a mosaic canvas (already the network size, see :mod:`.mosaic`) gets after the geometric part
    of the "face" preset: photometric distortion, mirror, tiny-box filter, :class:`ToTensor`."""
    steps = _colour_and_mirror()
    if min_size_px:
        steps.append(FilterBoxes(min_size_px, as_ignore=_small_as_ignore(small_boxes)))
    return Compose(steps + [ToTensor(mean, std, channel_order)])


def detection_collate(batch: Sequence[Tuple[torch.Tensor, Dict]]) -> Tuple[torch.Tensor, List[Dict]]:
    """Batch items of a preset ending in ToTensor: ``(images float32 [B, 3, h, w], [target dict] * B)``."""
    images, targets = [], []
    for image, target in batch:
        if not isinstance(image, torch.Tensor):
            raise TypeError('detection_collate needs tensor images (end the transform with ToTensor, e.g. '
                            'build_transform("eval", size)), got %s' % type(image).__name__)
        images.append(image)
        targets.append(target)
    shapes = set(tuple(im.shape) for im in images)
    if len(shapes) != 1:
        raise ValueError('images in a batch must share one size (use Resize); got %s' % sorted(shapes))
    return torch.stack(images, 0), targets

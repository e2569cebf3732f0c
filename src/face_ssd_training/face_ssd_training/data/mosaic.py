"""Multi-image canvases ("mosaic") for small and crowded faces.

A mosaic item is a network-size canvas cut into a 2 x 2 grid at a random centre; each cell is filled with a
different training image cropped and zoomed by :class:`~.transforms.FaceScaleCrop` at the cell's size, so one
canvas carries four images' faces at up to half the usual scale. Portrait-heavy sets (FDDB, AAF, LFW) thereby
also teach the small-face end of the prior range, as WIDER-style crowds do.

:class:`MosaicDataset` wraps a dataset that returns *untransformed* items (``transform = None``):

- with probability ``p`` it builds a canvas from the item and three random others and applies ``post``
  (the preset's steps after the geometric crop: photometric, mirror, box filter, ToTensor, matching);
- otherwise it applies ``single`` (the ordinary full preset) to the item.

Items follow the dataset contract of :mod:`.transforms`: image np.uint8 [H, W, 3] RGB, target
``{"boxes": float32 [K, 4] x1 y1 x2 y2 pixels, "labels": int64 [K], "image_id": str}`` with K >= 0.
"""
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch

from .transforms import DEFAULT_MEAN, FaceScaleCrop, rng_from_torch


def mosaic_canvas(items: Sequence[Tuple[np.ndarray, dict]], size: Tuple[int, int], rng: np.random.Generator,
                  face_px: Tuple[float, Optional[float]] = (8.0, None), centre_range: Tuple[float, float] = (0.3, 0.7),
                  fill=DEFAULT_MEAN) -> Tuple[np.ndarray, dict]:
    """Four raw items -> one canvas of ``size`` = (width, height) with all their boxes.

    items: 4 ``(image uint8 [H, W, 3], target)``; the grid centre is drawn uniformly in ``centre_range`` (fraction
    of width and height); cell i is ``FaceScaleCrop((cell_w, cell_h), face_px)`` of item i, so its faces are
    sampled at ``face_px`` (max default 0.75 x the cell's short side). Returns ``(canvas uint8 [h, w, 3],
    target)`` with boxes float32 [sum K, 4] in canvas pixels, labels int64 [sum K] and the first item's image_id
    plus ``+mosaic``.
    """
    if len(items) != 4:
        raise ValueError('a mosaic needs 4 items, got %d' % len(items))
    w, h = int(size[0]), int(size[1])
    cx = int(round(w * rng.uniform(*centre_range)))
    cy = int(round(h * rng.uniform(*centre_range)))
    cells = [(0, 0, cx, cy), (cx, 0, w, cy), (0, cy, cx, h), (cx, cy, w, h)]
    canvas = np.empty((h, w, 3), dtype=np.uint8)
    canvas[:] = np.asarray([round(v) for v in fill], dtype=np.uint8)
    all_boxes, all_labels = [], []
    for (x0, y0, x1, y1), (image, target) in zip(cells, items):
        cw, ch = x1 - x0, y1 - y0
        if cw < 2 or ch < 2:
            continue
        lo = float(face_px[0])
        hi = face_px[1] if face_px[1] is not None else max(0.75 * min(cw, ch), lo * 1.5)
        crop = FaceScaleCrop((cw, ch), face_px=(lo, hi), fill=fill)
        tile, t = crop(image, target, rng=rng)
        canvas[y0:y1, x0:x1] = tile
        boxes = np.asarray(t['boxes'], dtype=np.float32).reshape(-1, 4)
        if len(boxes):
            all_boxes.append(boxes + np.array([x0, y0, x0, y0], dtype=np.float32))
            all_labels.append(np.asarray(t['labels'], dtype=np.int64).reshape(-1))
    target = dict(items[0][1])
    target['boxes'] = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
    target['labels'] = np.concatenate(all_labels) if all_labels else np.zeros((0,), np.int64)
    target['image_id'] = '%s+mosaic' % (target.get('image_id', ''),)
    target.pop('exhaustive', None)
    if not all(t.get('exhaustive', True) for _, t in items):   # a tile labelled in part: no negatives anywhere
        target['exhaustive'] = False
    return canvas, target


class MosaicDataset(torch.utils.data.Dataset):
    """Dataset wrapper mixing mosaic canvases (probability ``p``) with ordinary items.

    base: dataset of raw ``(image, target)`` items (no transform); single: full transform for ordinary items;
    post: transform applied to a canvas (must not crop or resize it: it is already ``size``); size: network
    (width, height); face_px: face-size range of the cells (see :func:`mosaic_canvas`); fill: RGB pixel of empty
    canvas areas (default the default model mean).
    Length and indexing follow ``base``; randomness comes from torch's RNG (reproducible per worker seed).
    """

    def __init__(self, base, single: Callable, post: Callable, size: Tuple[int, int], p: float = 0.5,
                 face_px: Tuple[float, Optional[float]] = (8.0, None), fill=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError('mosaic probability must be in [0, 1], got %r' % (p,))
        if len(base) == 0:
            raise ValueError('mosaic needs a non-empty dataset')
        self.base, self.single, self.post = base, single, post
        self.size = (int(size[0]), int(size[1]))
        self.p, self.face_px = float(p), face_px
        self.fill = DEFAULT_MEAN if fill is None else tuple(fill)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        rng = rng_from_torch()
        if rng.random() >= self.p:
            return self.single(*self.base[index])
        others = rng.integers(0, len(self.base), size=3)
        items = [self.base[index]] + [self.base[int(j)] for j in others]
        image, target = mosaic_canvas(items, self.size, rng, face_px=self.face_px, fill=self.fill)
        return self.post(image, target)

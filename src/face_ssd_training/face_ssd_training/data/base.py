"""Common base of the detection datasets: a validated index of records, image reading, the item contract.

Item contract (docs/ARCHITECTURE.md): ``dataset[i] -> (image, target)`` with ``image`` np.uint8 [H, W, 3] RGB and
``target = {"boxes": float32 [K, 4] x1 y1 x2 y2 pixels, "labels": int64 [K] in 1..C-1, "image_id": str}``,
K >= 0, before ``transform`` is applied.
"""
import logging
import os
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch.utils.data

from .labels import IGNORE_LABEL
from .checks import DatasetError, Record, ValidationReport  # noqa: F401  (Record: the index entry)

log = logging.getLogger(__name__)



def read_image_rgb(path: str) -> Optional[np.ndarray]:
    """Read an image as np.uint8 [H, W, 3] RGB (EXIF orientation ignored); None if it does not decode."""
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        return None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class DetectionDataset(torch.utils.data.Dataset):
    """A list of validated :class:`Record` s plus labels and an optional transform.

    Subclasses parse their format, feed every image through a :class:`~.validate.IndexBuilder` and call
    ``super().__init__``. ``labels``: class names, ``labels[0] == 'background'``. ``report``: the
    :class:`ValidationReport` of the index. ``transform``: callable ``(image, target) -> (image, target)``.
    """

    #: False when the boxes are correct but not every object is boxed (e.g. CVAT tasks labelled in part): the
    #: items then carry ``target["exhaustive"] = False`` and training learns their boxes as positives but takes no
    #: negatives from them (every other prior is ignored, as if the rest of the image were one ignore region).
    exhaustive = True

    def __init__(self, records: Sequence[Record], labels: Sequence[str], report: ValidationReport,
                 transform: Optional[Callable] = None, strict: bool = False):
        if not labels or labels[0] != 'background':
            raise ValueError("labels must start with 'background', got %r" % (list(labels)[:3],))
        self.records = list(records)  # type: List[Record]
        self.labels = list(labels)
        self.report = report
        self.transform = transform
        report.raise_if_strict(strict)
        bad = [r.image_id for r in self.records
               if ((r.labels != IGNORE_LABEL) & ((r.labels < 1) | (r.labels >= len(self.labels)))).any()]
        if bad:  # a loader bug, never a data problem
            raise AssertionError('labels out of range 1..%d (or %d = ignore) in %s'
                                 % (len(self.labels) - 1, IGNORE_LABEL, bad[:5]))

    @property
    def num_classes(self) -> int:
        """Number of classes including background (C)."""
        return len(self.labels)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int):
        """The untransformed item ``(image uint8 [H,W,3] RGB, target)``; None when the image no longer decodes
        or no longer has the indexed size (changed after validation)."""
        r = self.records[index]
        image = read_image_rgb(r.image_path)
        if image is None:
            log.error('image %s no longer decodes (changed after the dataset was indexed); using the next item',
                      r.image_path)
            return None
        if image.shape[1] != r.width or image.shape[0] != r.height:
            log.error('image %s is now %dx%d but was indexed as %dx%d (changed after indexing); using the next item',
                      r.image_path, image.shape[1], image.shape[0], r.width, r.height)
            return None
        target = {'boxes': r.boxes.copy(), 'labels': r.labels.copy(), 'image_id': r.image_id}
        if not self.exhaustive:
            target['exhaustive'] = False
        return image, target

    def __getitem__(self, index: int):
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError('index %d out of range for a dataset of %d images' % (index, n))
        index %= n
        for step in range(n):
            item = self.load((index + step) % n)
            if item is not None:
                return self.transform(*item) if self.transform is not None else item
        raise DatasetError('no image of %s decodes any more (all %d files changed or removed since indexing)'
                           % (self.report.source, n))

    def keep_only(self, image_ids: Sequence[str], source: str = 'the image list') -> None:
        """Keep only the records whose ``image_id`` is in ``image_ids`` (a held-out split), in the list's order.

        Raises DatasetError naming the entries that are not images of this dataset (a typo, or a list written for
        another dataset), so a split never silently shrinks.
        """
        by_id = OrderedDict((r.image_id, r) for r in self.records)
        unknown = [i for i in image_ids if i not in by_id]
        if unknown:
            raise DatasetError('%s: %d entr%s not image ids of %s (e.g. %s); ids look like %r'
                               % (source, len(unknown), 'y is' if len(unknown) == 1 else 'ies are',
                                  self.report.source, ', '.join(repr(u) for u in unknown[:3]),
                                  self.records[0].image_id if self.records else ''))
        self.records = [by_id[i] for i in OrderedDict.fromkeys(image_ids)]

    def class_counts(self) -> Dict[str, int]:
        """Number of boxes per class name (background excluded), in label order."""
        counts = np.zeros(len(self.labels), dtype=np.int64)
        for r in self.records:
            np.add.at(counts, r.labels[r.labels > 0], 1)  # ignore regions (-1) are no class
        return OrderedDict((name, int(c)) for name, c in zip(self.labels[1:], counts[1:]))

    def __repr__(self) -> str:
        return '%s(%s: %d images, labels=%s)' % (type(self).__name__, self.report.source, len(self), self.labels)


def read_id_list(path: str) -> List[str]:
    """Image ids of a split file: one per line; blank lines and ``#`` comments skipped. DatasetError if missing."""
    if not os.path.isfile(path):
        raise DatasetError('image list not found: %s' % path)
    with open(path, 'r', encoding='utf-8-sig') as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith('#')]


def check_same_labels(datasets: Sequence[DetectionDataset]) -> List[str]:
    """Labels shared by ``datasets`` (to combine them with torch ConcatDataset); raises ValueError if they differ."""
    if not datasets:
        raise ValueError('no datasets given')
    first = datasets[0].labels
    for ds in datasets[1:]:
        if ds.labels != first:
            raise ValueError('datasets have different labels: %s has %s but %s has %s; relabel them to one list'
                             % (datasets[0].report.source, first, ds.report.source, ds.labels))
    return list(first)

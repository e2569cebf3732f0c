"""Unlabelled image folders (hard negatives, images to auto-label): every target has K = 0 boxes."""
import os
from typing import List, Optional, Tuple

import numpy as np

from .base import DetectionDataset
from .labels import resolve_labels
from .checks import IMAGE_EXTENSIONS, DatasetError, IndexBuilder, ValidationReport


def list_images(images_dir: str, filelist: Optional[str] = None) -> List[Tuple[str, Optional[int], Optional[str]]]:
    """``[(relpath, line in filelist or None, filelist or None)]``: the filelist's entries ("relpath [W H]" lines),
    else every image file under ``images_dir`` (recursive, sorted)."""
    if filelist is not None:
        if not os.path.isfile(filelist):
            raise DatasetError('file list not found: %s' % filelist)
        out = []
        with open(filelist, 'r', encoding='utf-8-sig') as f:
            for lineno, ln in enumerate(f, 1):
                ln = ln.strip()
                if not ln or ln.startswith('#'):
                    continue
                parts = ln.rsplit(None, 2)  # "relpath W H"; the path itself may contain spaces
                rel = parts[0] if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else ln
                out.append((rel, lineno, filelist))
        return out
    if not os.path.isdir(images_dir):
        raise DatasetError('images directory not found: %s' % images_dir)
    rels = []
    for dirpath, dirnames, filenames in os.walk(images_dir):
        dirnames.sort()
        for n in sorted(filenames):
            if n.lower().endswith(IMAGE_EXTENSIONS):
                rels.append(os.path.relpath(os.path.join(dirpath, n), images_dir))
    return [(r, None, None) for r in rels]


class ImageFolderDataset(DetectionDataset):
    """Images with no objects (targets with K = 0), e.g. ``negatives/`` or ``faces/unlabelled/``.

    filelist: "relpath W H" (or "relpath") lines relative to ``images_dir``; default: all images under it.
    labels: the class list of the datasets this one is combined with (default ('background', 'face')).
    """

    def __init__(self, images_dir: str, filelist: Optional[str] = None, labels=('background', 'face'),
                 transform=None, strict: bool = False, verify: str = 'decode'):
        entries = list_images(images_dir, filelist)
        report = ValidationReport('folder:%s' % (filelist or images_dir))
        builder = IndexBuilder(report, verify)
        for rel, lineno, src in entries:
            path = os.path.join(images_dir, rel)
            builder.add(path, rel, np.zeros((0, 4)), np.zeros(0, np.int64), src or path, image_line=lineno)
        super().__init__(builder.records, resolve_labels(labels), report, transform=transform, strict=strict)

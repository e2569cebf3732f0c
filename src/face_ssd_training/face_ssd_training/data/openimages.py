"""Open Images style CSV datasets (the layout pytorch-ssd's ``OpenImagesDataset`` reads).

Layout::

    root/sub-<split>-annotations-bbox.csv   ImageID,...,XMin,XMax,YMin,YMax,...,ClassName  (coords in 0..1)
    root/<split>/<ImageID>.jpg
    root/class-descriptions-boxable.csv    optional: LabelName,ClassName (used when the CSV has no ClassName)
"""
import csv
import os
from collections import OrderedDict
from typing import Dict, List

import numpy as np

from .base import DetectionDataset
from .labels import resolve_labels
from .checks import DatasetError, IndexBuilder, ValidationReport

REQUIRED_COLUMNS = ('ImageID', 'XMin', 'XMax', 'YMin', 'YMax')


def _class_descriptions(root: str) -> Dict[str, str]:
    path = os.path.join(root, 'class-descriptions-boxable.csv')
    if not os.path.isfile(path):
        return {}
    with open(path, 'r', encoding='utf-8-sig', newline='') as f:
        return {row[0]: row[1] for row in csv.reader(f) if len(row) >= 2}


class OpenImagesDataset(DetectionDataset):
    """Open Images CSV dataset: ``root/sub-<split>-annotations-bbox.csv`` + ``root/<split>/<ImageID>.jpg``.

    labels: class names / labels file (default: the sorted ClassNames of the CSV). Rows of classes not in the
    labels are reported as ``unknown_label`` and dropped. Images with no CSV row are not part of the dataset.
    """

    def __init__(self, root: str, split: str = 'train', labels=None, transform=None, strict: bool = False,
                 verify: str = 'decode'):
        csv_path = os.path.join(root, 'sub-%s-annotations-bbox.csv' % split)
        if not os.path.isfile(csv_path):
            have = sorted(n[4:-len('-annotations-bbox.csv')] for n in os.listdir(root)
                          if n.startswith('sub-') and n.endswith('-annotations-bbox.csv')) if os.path.isdir(root) else []
            raise DatasetError('Open Images annotation file not found: %s (splits present: %s)'
                               % (csv_path, ', '.join(have) or 'none'))
        report = ValidationReport('openimages:%s (%s)' % (root, split))
        descriptions = _class_descriptions(root)
        rows = OrderedDict()  # ImageID -> list of (class name, (xmin, xmax, ymin, ymax), line)
        bad_images = set()
        with open(csv_path, 'r', encoding='utf-8-sig', newline='') as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in cols]
            if missing or ('ClassName' not in cols and 'LabelName' not in cols):
                raise DatasetError('%s: missing column(s) %s (need ImageID, XMin, XMax, YMin, YMax and ClassName '
                                   'or LabelName)' % (csv_path, ', '.join(missing) or 'ClassName'))
            for row in reader:
                line = reader.line_num
                image_id = (row.get('ImageID') or '').strip()
                name = (row.get('ClassName') or '').strip() or descriptions.get((row.get('LabelName') or '').strip(),
                                                                               (row.get('LabelName') or '').strip())
                try:
                    coords = tuple(float(row[c]) for c in ('XMin', 'XMax', 'YMin', 'YMax'))
                except (TypeError, ValueError):
                    coords = None
                if not image_id or coords is None or not name:
                    report.add('malformed_line', csv_path, line, 'expected ImageID, numeric XMin/XMax/YMin/YMax and a '
                               'class, got %r; image %r skipped' % (
                                   {k: row.get(k) for k in REQUIRED_COLUMNS + ('ClassName',)}, image_id))
                    bad_images.add(image_id)
                    continue
                rows.setdefault(image_id, []).append((name, coords, line))
        labels = resolve_labels(labels, default=sorted(set(r[0] for objs in rows.values() for r in objs)))
        index = {n: i for i, n in enumerate(labels)}
        builder = IndexBuilder(report, verify)
        img_dir = os.path.join(root, split)
        for image_id in bad_images:
            if image_id:
                report.stats['images_listed'] += 1
        for image_id, objs in rows.items():
            if image_id in bad_images:
                continue
            image_path = os.path.join(img_dir, image_id + '.jpg')
            boxes, cls, lines, dropped = [], [], [], 0
            for name, (xmin, xmax, ymin, ymax), line in objs:
                if index.get(name, 0) == 0:
                    report.add('unknown_label', csv_path, line, 'class %r is not in the labels %s; box dropped'
                               % (name, labels[1:]), image=image_path)
                    dropped += 1
                    continue
                boxes.append((xmin, ymin, xmax, ymax))
                cls.append(index[name])
                lines.append(line)
            self._add_normalised(builder, image_path, image_id, boxes, cls, csv_path, objs[0][2], lines, dropped)
        super().__init__(builder.records, labels, report, transform=transform, strict=strict)

    @staticmethod
    def _add_normalised(builder: IndexBuilder, image_path: str, image_id: str, boxes: List, cls: List,
                        csv_path: str, first_line: int, lines: List[int], dropped: int) -> None:
        """Boxes are normalised: they need the image size, which the builder's probe provides."""
        from .checks import check_image
        report = builder.report
        wh = check_image(report, image_path, csv_path, first_line, verify=builder.verify)
        if wh is None:
            report.stats['images_listed'] += 1
            return
        px = np.asarray(boxes, np.float64).reshape(-1, 4) * np.array([wh[0], wh[1], wh[0], wh[1]], np.float64)
        builder.add(image_path, image_id, px, np.asarray(cls, np.int64), csv_path, image_line=first_line,
                    box_lines=lines, n_dropped=dropped, size=wh, probed=True)

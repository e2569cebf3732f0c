"""COCO detection JSON datasets (``images``, ``annotations`` with ``bbox`` = x y w h pixels, ``categories``)."""
import json
import os
from collections import OrderedDict

import numpy as np

from .base import DetectionDataset
from .labels import resolve_labels
from .checks import DatasetError, IndexBuilder, ValidationReport


class COCODataset(DetectionDataset):
    """Images under ``images_dir`` described by a COCO ``annotation_json``.

    labels: class names / labels file (default: the category names, ordered by category id). Annotations with
    ``iscrowd`` = 1 are skipped (``report.stats['boxes_filtered_crowd']``; an image left with only crowd boxes is
    skipped too); categories missing from ``labels`` are ``unknown_label`` issues. Images without annotations are
    kept as negatives. Issue lines are not known for JSON: messages name the annotation id instead.
    """

    def __init__(self, images_dir: str, annotation_json: str, labels=None, transform=None, strict: bool = False,
                 verify: str = 'decode'):
        if not os.path.isfile(annotation_json):
            raise DatasetError('COCO annotation file not found: %s' % annotation_json)
        try:
            with open(annotation_json, 'r', encoding='utf-8') as f:
                data = json.load(f)
        except ValueError as exc:
            raise DatasetError('%s is not valid JSON: %s' % (annotation_json, exc))
        if not isinstance(data, dict) or not isinstance(data.get('images'), list):
            raise DatasetError('%s has no "images" list: not a COCO detection file' % annotation_json)
        categories = sorted(data.get('categories') or [], key=lambda c: c.get('id', 0))
        cat_names = OrderedDict((c['id'], str(c['name'])) for c in categories if 'id' in c and 'name' in c)
        if labels is None and not cat_names:
            raise DatasetError('%s has no "categories" with id and name, so there are no class names; add them or '
                               'pass labels=' % annotation_json)
        labels = resolve_labels(labels, default=list(OrderedDict.fromkeys(cat_names.values())))
        index = {n: i for i, n in enumerate(labels)}
        report = ValidationReport('coco:%s' % annotation_json)
        per_image = OrderedDict((img.get('id'), []) for img in data['images'])
        for ann in data.get('annotations') or []:
            per_image.setdefault(ann.get('image_id'), []).append(ann)
        builder = IndexBuilder(report, verify)
        for img in data['images']:
            image_path = os.path.join(images_dir, str(img.get('file_name', '')))
            boxes, cls, dropped, crowd = [], [], 0, 0
            for ann in per_image.get(img.get('id'), []):
                if ann.get('iscrowd', 0):
                    crowd += 1
                    continue
                what = 'annotation id %s' % ann.get('id', '?')
                name = cat_names.get(ann.get('category_id'))
                try:
                    x, y, w, h = [float(v) for v in ann['bbox']]
                except (KeyError, TypeError, ValueError):
                    report.add('malformed_line', annotation_json, None, '%s: "bbox" must be [x, y, w, h]; box '
                               'dropped' % what, image=image_path)
                    dropped += 1
                    continue
                if index.get(name, 0) == 0:
                    report.add('unknown_label', annotation_json, None, '%s: category %r (%s) is not in the labels '
                               '%s; box dropped' % (what, ann.get('category_id'), name, labels[1:]), image=image_path)
                    dropped += 1
                    continue
                boxes.append((x, y, x + w, y + h))
                cls.append(index[name])
            report.stats['boxes_filtered_crowd'] += crowd
            if crowd and not boxes and not dropped:
                report.stats['images_listed'] += 1
                report.stats['images_all_boxes_filtered'] += 1
                continue
            builder.add(image_path, str(img.get('file_name', img.get('id'))), np.asarray(boxes, np.float64),
                        np.asarray(cls, np.int64), annotation_json, n_dropped=dropped)
        super().__init__(builder.records, labels, report, transform=transform, strict=strict)

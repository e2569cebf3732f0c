"""Box-per-line CSV datasets: ``image,xmin,ymin,xmax,ymax,label`` (a header line, pixel corners, one row per box).

This is the plain layout many labelling tools export (and ``faces/selfies/original_classes.csv``)::

    image,xmin,ymin,xmax,ymax,label
    train/face_001.jpg,86.0,69.0,218.0,302.2,my_face
    train/face_001.jpg,259.0,140.0,348.2,295.2,nsf
    train/empty.jpg,,,,,                          <- an image without objects (a negative)

``image`` is relative to the images folder. Columns are found by name (``image`` or ``filename``; ``xmin``, ``ymin``,
``xmax``, ``ymax``; ``label`` or ``class``), so extra columns and another order are fine.
"""
import csv
import os
from collections import OrderedDict


from .base import DetectionDataset
from .checks import DatasetError, IndexBuilder, ValidationReport
from .labels import known_boxes, resolve_labels

COORDS = ('xmin', 'ymin', 'xmax', 'ymax')
IMAGE_COLUMNS = ('image', 'filename')
LABEL_COLUMNS = ('label', 'class')


def _column(fields, choices, csv_path):
    for c in choices:
        if c in fields:
            return c
    raise DatasetError('%s: no %s column (have %s)' % (csv_path, ' or '.join(choices), ', '.join(fields)))


def read_box_csv(csv_path, report=None):
    """Parse the CSV: ``OrderedDict relpath -> [(label, (x1, y1, x2, y2), line)]`` in file order (an image whose
    row has empty coordinates is listed with no boxes). Malformed rows are ``malformed_line`` issues in ``report``
    (ValueError naming the line without one) and make their image skipped: returned as ``(rows, bad relpaths)``."""
    if not os.path.isfile(csv_path):
        raise DatasetError('CSV annotation file not found: %s' % csv_path)
    rows, bad = OrderedDict(), set()
    with open(csv_path, 'r', encoding='utf-8-sig', newline='') as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = fields
        img_col = _column(fields, IMAGE_COLUMNS, csv_path)
        lab_col = _column(fields, LABEL_COLUMNS, csv_path)
        missing = [c for c in COORDS if c not in fields]
        if missing:
            raise DatasetError('%s: missing column(s) %s' % (csv_path, ', '.join(missing)))
        for row in reader:
            line = reader.line_num
            rel = (row.get(img_col) or '').strip()
            values = [(row.get(c) or '').strip() for c in COORDS]
            label = (row.get(lab_col) or '').strip()
            if rel and not any(values) and not label:
                rows.setdefault(rel, [])
                continue
            try:
                coords = tuple(float(v) for v in values)
            except ValueError:
                coords = None
            if not rel or coords is None or not label:
                msg = 'expected image, numeric xmin/ymin/xmax/ymax and a label, got %r' % (dict(row),)
                if report is None:
                    raise ValueError('%s:%d: %s' % (csv_path, line, msg))
                report.add('malformed_line', csv_path, line, msg + '; image %r skipped' % rel)
                bad.add(rel)
                continue
            rows.setdefault(rel, []).append((label, coords, line))
    return rows, bad


class CSVBoxesDataset(DetectionDataset):
    """Images under ``images_dir`` with boxes from ``csv_file`` (see the module docstring).

    labels: class names / labels file (default: the sorted labels found in the CSV). Rows whose label is not in
    the labels are ``unknown_label`` issues (box dropped); an image left without boxes is then skipped.
    """

    def __init__(self, images_dir, csv_file, labels=None, transform=None, strict=False, verify='decode'):
        if not os.path.isdir(images_dir):
            raise DatasetError('images directory not found: %s' % images_dir)
        report = ValidationReport('csv:%s' % csv_file)
        rows, bad = read_box_csv(csv_file, report)
        labels = resolve_labels(labels, default=sorted(set(r[0] for objs in rows.values() for r in objs)))
        builder = IndexBuilder(report, verify)
        report.stats['images_listed'] += len([b for b in bad if b])
        for rel, objs in rows.items():
            if rel in bad:
                continue
            image_path = os.path.join(images_dir, rel)
            boxes, cls, lines, dropped = known_boxes(objs, labels, report, csv_file, image_path)
            builder.add(image_path, rel, boxes, cls, csv_file, image_line=objs[0][2] if objs else None,
                        box_lines=lines, n_dropped=dropped)
        super().__init__(builder.records, labels, report, transform=transform, strict=strict)

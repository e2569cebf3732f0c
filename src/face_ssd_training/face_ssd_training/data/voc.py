"""Pascal VOC XML datasets, as CVAT exports them ("PASCAL VOC 1.1") and as pytorch-ssd reads them.

Layout::

    root/Annotations/<id>.xml      <filename>, <size>, <object><name> <difficult> <bndbox> xmin ymin xmax ymax
    root/JPEGImages/<filename>
    root/ImageSets/Main/<set>.txt  one id per line (CVAT writes default.txt, pytorch-ssd uses trainval.txt / test.txt)
    root/labels.txt | root/labelmap.txt

Box corners are used as continuous pixel coordinates, as CVAT writes them (0-based floats); classic 1-based integer
VOC boxes are therefore off by at most one pixel, which is below annotation noise.
"""
import os
import re
import xml.etree.ElementTree as ET
from typing import List, Optional, Tuple, Union

from .base import DetectionDataset
from .labels import known_boxes, load_labels, resolve_labels
from .checks import DatasetError, IndexBuilder, ValidationReport

VocObject = Tuple[str, Tuple[float, float, float, float], bool, Optional[int]]


def _object_lines(xml_text: str) -> List[int]:
    """1-based line number of each ``<object>`` element, in document order."""
    return [xml_text.count('\n', 0, m.start()) + 1 for m in re.finditer(r'<object[\s>]', xml_text)]


def parse_voc_xml(path: str) -> Tuple[Optional[str], Optional[Tuple[int, int]], List[VocObject], Optional[int]]:
    """Parse one annotation: ``(filename or None, (width, height) or None, [(name, (x1, y1, x2, y2), difficult,
    line)], line of <filename> or None)``. Raises ValueError('<path>:<line>: ...') when the XML is malformed or a box is not numeric."""
    with open(path, 'r', encoding='utf-8') as f:
        text = f.read()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError('%s:%d: not well-formed XML (%s)' % (path, exc.position[0], exc))
    lines = _object_lines(text)
    filename = (root.findtext('filename') or '').strip() or None
    size = None
    sz = root.find('size')
    if sz is not None:
        try:
            size = (int(float(sz.findtext('width'))), int(float(sz.findtext('height'))))
        except (TypeError, ValueError):
            size = None
    objects = []
    for k, obj in enumerate(root.iter('object')):
        line = lines[k] if k < len(lines) else None
        name = (obj.findtext('name') or '').strip()
        difficult = (obj.findtext('difficult') or '0').strip() not in ('0', '', 'false', 'False')
        bb = obj.find('bndbox')
        try:
            coords = tuple(float(bb.findtext(t)) for t in ('xmin', 'ymin', 'xmax', 'ymax'))
        except (AttributeError, TypeError, ValueError):
            raise ValueError('%s:%s: object %r has no numeric <bndbox> xmin/ymin/xmax/ymax'
                             % (path, line if line is not None else '?', name))
        objects.append((name, coords, difficult, line))
    m = re.search(r'<filename[\s>]', text)
    filename_line = text.count('\n', 0, m.start()) + 1 if m else None
    return filename, size, objects, filename_line


def _find_labels(root: str) -> Optional[str]:
    for name in ('labels.txt', 'labelmap.txt'):
        p = os.path.join(root, name)
        if os.path.isfile(p):
            return p
    return None


def _read_ids(root: str, image_set: Union[None, str]) -> Tuple[Optional[str], List[Tuple[str, Optional[int]]]]:
    """(list file or None, [(id, line)]) for ``image_set`` (a name under ImageSets/Main, a path, or None = all)."""
    if image_set is None:
        ann = os.path.join(root, 'Annotations')
        return None, [(os.path.splitext(n)[0], None) for n in sorted(os.listdir(ann)) if n.endswith('.xml')]
    path = image_set if os.path.isfile(image_set) else os.path.join(root, 'ImageSets', 'Main', image_set + '.txt')
    if not os.path.isfile(path):
        main = os.path.join(root, 'ImageSets', 'Main')
        have = sorted(n[:-4] for n in os.listdir(main) if n.endswith('.txt')) if os.path.isdir(main) else []
        raise DatasetError('VOC image set %r not found (%s); available sets: %s%s' % (
            image_set, path, ', '.join(have) or 'none',
            " (CVAT exports 'default': pass image_set='default')" if 'default' in have else
            ' (pass image_set=None to use every XML under Annotations/)'))
    ids = []
    with open(path, 'r', encoding='utf-8-sig') as f:
        for lineno, ln in enumerate(f, 1):
            tok = ln.split()
            if tok:  # "id" or "id  1/-1" (class-specific lists)
                ids.append((tok[0], lineno))
    return path, ids


class VOCDataset(DetectionDataset):
    """Pascal VOC / CVAT dataset under ``root``.

    image_set: a list name under ImageSets/Main ('trainval', 'test', CVAT's 'default'), a path to a list file,
    or None for every XML in Annotations/. labels_file: labels.txt or CVAT labelmap.txt (default: the one in
    ``root``, else the sorted class names found in the XML files). keep_difficult: keep boxes flagged
    ``<difficult>1``. Objects whose class is not in the labels are reported (``unknown_label``) and dropped.
    labels: class names (or a labels file) to use instead of ``labels_file``, e.g. the label list of a training run
    that combines several datasets.
    """

    def __init__(self, root: str, image_set: Optional[str] = 'trainval', labels_file: Optional[str] = None,
                 keep_difficult: bool = False, transform=None, strict: bool = False, verify: str = 'decode',
                 labels=None):
        if not os.path.isdir(os.path.join(root, 'Annotations')):
            raise DatasetError('%s is not a VOC dataset root: Annotations/ not found' % root)
        list_file, ids = _read_ids(root, image_set)
        report = ValidationReport('voc:%s (%s)' % (root, image_set if image_set is not None else 'all'))
        if not ids:
            report.add('malformed_line', list_file or os.path.join(root, 'Annotations'), 1 if list_file else None,
                       'no images listed (%s); nothing to train on'
                       % ('the image set file is empty' if list_file else 'Annotations/ holds no .xml file'))
        parsed = []
        for image_id, lineno in ids:
            xml_path = os.path.join(root, 'Annotations', image_id + '.xml')
            if not os.path.isfile(xml_path):
                report.stats['images_listed'] += 1
                report.add('malformed_line', list_file or xml_path, lineno,
                           'no annotation file Annotations/%s.xml for id %r; image skipped' % (image_id, image_id))
                continue
            try:
                parsed.append((image_id, xml_path, parse_voc_xml(xml_path)))
            except (ValueError, OSError) as exc:
                report.stats['images_listed'] += 1
                msg = str(exc)
                m = re.match(r'^.*?:(\d+): (.*)$', msg, re.S)
                report.add('malformed_line', xml_path, int(m.group(1)) if m else None,
                           (m.group(2) if m else msg) + '; image skipped')
        if labels is not None:
            labels = resolve_labels(labels)
        elif labels_file is not None or _find_labels(root) is not None:
            labels = load_labels(labels_file or _find_labels(root))
        else:
            labels = resolve_labels(None, default=sorted(set(o[0] for _, _, (_, _, objs, _) in parsed for o in objs)))
        builder = IndexBuilder(report, verify)
        for image_id, xml_path, (filename, _size, objects, filename_line) in parsed:
            image_path = self._image_path(root, image_id, filename)
            kept = []
            for name, coords, difficult, line in objects:
                if difficult and not keep_difficult:
                    report.stats['boxes_filtered_difficult'] += 1
                    continue
                kept.append((name, coords, line))
            boxes, cls, lines, dropped = known_boxes(kept, labels, report, xml_path, image_path)
            if objects and not len(boxes) and not dropped:  # only difficult boxes: not a clean negative
                report.stats['images_listed'] += 1
                report.stats['images_all_boxes_filtered'] += 1
                continue
            builder.add(image_path, image_id, boxes, cls, xml_path, image_line=filename_line, box_lines=lines,
                        n_dropped=dropped)
        super().__init__(builder.records, labels, report, transform=transform, strict=strict)

    @staticmethod
    def _image_path(root: str, image_id: str, filename: Optional[str]) -> str:
        img_dir = os.path.join(root, 'JPEGImages')
        if filename:
            p = os.path.join(img_dir, filename)
            if os.path.isfile(p):
                return p
        for ext in ('.jpg', '.jpeg', '.png', '.JPG', '.PNG'):
            p = os.path.join(img_dir, image_id + ext)
            if os.path.isfile(p):
                return p
        return os.path.join(img_dir, filename or image_id + '.jpg')

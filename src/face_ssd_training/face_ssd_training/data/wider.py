"""WIDER FACE ``*_bbx_gt.txt`` annotations (used by every labelled folder of /work/shared/data/faces).

Format, per image::

    <relative path under images/>
    <N>
    x y w h blur expression illumination invalid occlusion pose      (N lines; floats allowed; attrs optional)

An image with N = 0 is followed by one dummy line ``0 0 0 0 0 0 0 0 0 0`` (tolerated when absent).
"""
import os
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from .base import DetectionDataset
from .labels import IGNORE_LABEL, resolve_labels
from .checks import DatasetError, IndexBuilder, ValidationReport

#: attribute columns after x y w h
WIDER_ATTRS = ('blur', 'expression', 'illumination', 'invalid', 'occlusion', 'pose')
INVALID_COLUMN = WIDER_ATTRS.index('invalid')

WiderEntry = NamedTuple('WiderEntry', [('relpath', str), ('boxes', np.ndarray), ('attrs', np.ndarray),
                                       ('path_line', int), ('box_lines', List[int]), ('malformed', bool)])


def _numbers(line: str) -> Optional[List[float]]:
    try:
        return [float(t) for t in line.split()]
    except ValueError:
        return None


def _count(line: str) -> Optional[int]:
    t = line.split()
    if len(t) != 1:
        return None
    try:
        return int(t[0])
    except ValueError:
        return None


def parse_wider_gt(gt_file: str, report: Optional[ValidationReport] = None) -> List[WiderEntry]:
    """Parse a bbx_gt file into :data:`WiderEntry` s (boxes float32 [K, 4] x y w h, attrs int64 [K, 6]).

    Problems are recorded as ``malformed_line`` issues in ``report`` (the entry is returned with
    ``malformed=True`` and the parser resynchronises on the next path line); without a report a problem raises
    ValueError naming the file and line. An empty file (no entries) is a ``malformed_line`` problem at line 1.
    """
    if not os.path.isfile(gt_file):
        raise DatasetError('WIDER annotation file not found: %s' % gt_file)
    with open(gt_file, 'r', encoding='utf-8-sig') as f:
        try:
            lines = [ln.strip() for ln in f]
        except UnicodeDecodeError as exc:
            raise DatasetError('%s is not a WIDER *_bbx_gt.txt text file (%s)' % (gt_file, exc))

    def problem(lineno, msg):
        if report is None:
            raise ValueError('%s:%d: %s' % (gt_file, lineno, msg))
        report.add('malformed_line', gt_file, lineno, msg)

    if not any(lines):
        problem(1, 'the annotation file is empty: no image entries (expected an image path, a box count, then one '
                   '"x y w h ..." line per box)')
    entries = []
    i, n_lines = 0, len(lines)
    while i < n_lines:
        if not lines[i]:
            i += 1
            continue
        path_line = i + 1
        relpath = lines[i]
        if _numbers(relpath) is not None:
            problem(path_line, 'expected an image path, found numbers %r; line skipped' % relpath[:60])
            i += 1
            continue
        count = _count(lines[i + 1]) if i + 1 < n_lines else None
        if count is None or count < 0:
            problem(path_line + 1, 'expected the box count of %s, found %r; image skipped'
                    % (relpath, lines[i + 1][:60] if i + 1 < n_lines else '<end of file>'))
            entries.append(WiderEntry(relpath, np.zeros((0, 4), np.float32), np.zeros((0, 6), np.int64),
                                      path_line, [], True))
            i += 1
            continue
        i += 2
        boxes, attrs, box_lines, malformed = [], [], [], False
        if count == 0:  # optional dummy line
            nums = _numbers(lines[i]) if i < n_lines else None
            if nums is not None and len(nums) >= 4 and not any(nums):
                i += 1
        for _ in range(count):
            nums = _numbers(lines[i]) if i < n_lines else None
            if nums is None or len(nums) < 4:
                found = lines[i][:60] if i < n_lines else '<end of file>'
                problem(i + 1, 'expected "x y w h [6 attributes]" for box %d of %d of %s, found %r; image skipped'
                        % (len(boxes) + 1, count, relpath, found))
                malformed = True
                if nums is None:  # probably the next image path: the count was too large; resynchronise
                    break
                i += 1
                continue
            boxes.append(nums[:4])
            a = [int(v) for v in nums[4:10]]
            attrs.append(a + [0] * (6 - len(a)))
            box_lines.append(i + 1)
            i += 1
        entries.append(WiderEntry(relpath, np.asarray(boxes, np.float32).reshape(-1, 4),
                                  np.asarray(attrs, np.int64).reshape(-1, 6), path_line, box_lines, malformed))
    return entries


def load_wider_gt(gt_file: str) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """Read a WIDER bbx_gt file: list of ``(relpath, boxes float32 [K, 4] x y w h pixels, attrs int64 [K, 6])``
    in file order (attrs columns: :data:`WIDER_ATTRS`). Raises ValueError (with file:line) on a malformed file."""
    return [(e.relpath, e.boxes, e.attrs) for e in parse_wider_gt(gt_file)]


def _read_image_list(image_list: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(image_list, (str, os.PathLike)):
        with open(image_list, 'r', encoding='utf-8-sig') as f:
            return [ln.strip() for ln in f if ln.strip()]
    return [str(p) for p in image_list]


class WiderFaceDataset(DetectionDataset):
    """Images under ``images_dir`` with a WIDER bbx_gt file.

    labels: class names or a labels file (default ('background', 'face')); every box gets class ``class_name``
    (default: the only class, or 'face' when there are several, so WIDER sets mix with multi-class datasets).
    min_size: boxes narrower or lower than this (pixels) are dropped silently (counted in
    ``report.stats['boxes_filtered_small']``). skip_invalid: drop boxes with the WIDER ``invalid`` flag.
    invalid_as_ignore: keep those boxes instead as ignore regions (label :data:`~.labels.IGNORE_LABEL`), e.g. the
    faces a pseudo-label teacher was unsure of (``face-ssd-autolabel --ignore-threshold``); overrides skip_invalid.
    image_list: optional list (or file of lines) of relpaths to keep, e.g. ``wider_dev/images.txt``.
    An image whose boxes were all filtered (small / invalid) is skipped (``images_all_boxes_filtered``) so its
    faces are not learned as background; images with N = 0 are kept as negatives.
    verify: image check depth, see :func:`~.validate.probe_image`. strict: raise on any error instead of skipping.
    """

    def __init__(self, images_dir: str, gt_file: str, labels=('background', 'face'), min_size: float = 2.0,
                 skip_invalid: bool = True, transform=None, image_list=None, strict: bool = False,
                 verify: str = 'decode', class_name: Optional[str] = None, invalid_as_ignore: bool = False):
        labels = resolve_labels(labels)
        if class_name is None:
            if len(labels) != 2 and 'face' not in labels:
                raise ValueError('WIDER files carry no class names: with several labels %s pass class_name= (the '
                                 'class of every box in %s)' % (labels[1:], gt_file))
            class_name = labels[1] if len(labels) == 2 else 'face'
        if class_name not in labels[1:]:
            raise ValueError('class_name %r is not one of the labels %s' % (class_name, labels[1:]))
        class_index = labels.index(class_name)
        if not os.path.isdir(images_dir):
            raise DatasetError('WIDER images directory not found: %s' % images_dir)
        report = ValidationReport('wider:%s' % gt_file)
        entries = parse_wider_gt(gt_file, report)
        if image_list is not None:
            wanted = _read_image_list(image_list)
            have = set(e.relpath for e in entries)
            report.stats['image_list_not_in_gt'] += sum(1 for p in wanted if p not in have)
            wanted_set = set(wanted)
            entries = [e for e in entries if e.relpath in wanted_set]
        builder = IndexBuilder(report, verify)
        for e in entries:
            if e.malformed:
                report.stats['images_listed'] += 1
                continue
            keep = np.ones(len(e.boxes), dtype=bool)
            invalid = e.attrs[:, INVALID_COLUMN] != 0 if len(e.boxes) else np.zeros(0, dtype=bool)
            if invalid_as_ignore:
                report.stats['boxes_invalid_as_ignore'] += int(invalid.sum())
            elif skip_invalid:
                report.stats['boxes_filtered_invalid'] += int(invalid.sum())
                keep &= ~invalid
            finite = np.all(np.isfinite(e.boxes), axis=1)
            small = finite & (e.boxes[:, 2] > 0) & (e.boxes[:, 3] > 0) & \
                ((e.boxes[:, 2] < min_size) | (e.boxes[:, 3] < min_size))
            report.stats['boxes_filtered_small'] += int((keep & small).sum())
            keep &= ~small
            xyxy = e.boxes[keep].astype(np.float64)
            xyxy[:, 2:] += xyxy[:, :2]
            if len(e.boxes) and not keep.any():
                report.stats['images_listed'] += 1
                report.stats['images_all_boxes_filtered'] += 1
                continue
            box_labels = np.where(invalid[keep] & invalid_as_ignore, IGNORE_LABEL, class_index).astype(np.int64)
            builder.add(os.path.join(images_dir, e.relpath), e.relpath, xyxy, box_labels,
                        gt_file, image_line=e.path_line, box_lines=[ln for ln, k in zip(e.box_lines, keep) if k])
        super().__init__(builder.records, labels, report, transform=transform, strict=strict)

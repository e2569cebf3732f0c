"""Dataset validation: the report every loader builds its index through (the ``face-ssd-validate-data`` CLI is
:mod:`.validate`).

Every loader (WIDER, VOC, Open Images, COCO, image folder) checks, while it builds its index, that each image
exists and decodes and that each box is finite, non-degenerate, inside the image and has a known label. Problems
are recorded as :class:`Issue` s in a :class:`ValidationReport`; bad items are skipped (or clipped, for boxes
partly outside the image) and, with ``strict=True``, the loader refuses to build and raises :class:`DatasetError`.

Issue kinds (``Issue.kind``):

==================== ======== ==========================================================================
kind                 severity effect
==================== ======== ==========================================================================
missing_image        error    image skipped (file not found)
unreadable_image     error    image skipped (not an image / cannot be opened)
corrupt_image        error    image skipped (truncated or broken image data)
malformed_line       error    line (and the image it belongs to) skipped
degenerate_box       error    box dropped (non-finite, zero or negative width/height)
box_outside_image    error    box dropped (entirely outside the image)
box_outside_image    warning  box clipped to the image (partly outside by more than 1 px)
unknown_label        error    box dropped (class name not in the label list)
empty_annotation     error    image skipped: it had boxes but all of them were dropped, so its objects
                              would otherwise be learned as background
==================== ======== ==========================================================================

Errors mean data was lost (``ValidationReport.ok`` is False); warnings mean data was repaired.
"""
import logging
import os
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

Record = NamedTuple('Record', [('image_path', str), ('boxes', np.ndarray), ('labels', np.ndarray),
                               ('image_id', str), ('width', int), ('height', int)])
Record.__doc__ = """One indexed image: boxes float32 [K, 4] xyxy pixels, labels int64 [K], stored width/height."""

ISSUE_KINDS = ('unreadable_image', 'corrupt_image', 'missing_image', 'degenerate_box', 'box_outside_image',
               'unknown_label', 'malformed_line', 'empty_annotation')
ERROR = 'error'
WARNING = 'warning'
#: a box corner may exceed the image by this many pixels and is clipped silently (1-based / inclusive exports).
CLIP_TOLERANCE_PX = 1.0
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.pgm', '.ppm')


class DatasetError(RuntimeError):
    """A dataset could not be built (missing annotation file, or issues found with ``strict=True``)."""

    def __init__(self, message: str, report: Optional['ValidationReport'] = None):
        super().__init__(message)
        self.report = report


class Issue(object):
    """One problem found while indexing a dataset.

    Attributes: ``kind`` (one of :data:`ISSUE_KINDS`), ``file`` (the annotation file, or the image file when
    there is no annotation file), ``line`` (1-based line number in ``file`` where known, else None),
    ``message`` (what is wrong and what was done), ``image`` (image path concerned, or None),
    ``severity`` ('error' = data lost, 'warning' = data repaired).
    """
    __slots__ = ('kind', 'file', 'line', 'message', 'image', 'severity')

    def __init__(self, kind: str, file: str, line: Optional[int], message: str, image: Optional[str] = None,
                 severity: str = ERROR):
        if kind not in ISSUE_KINDS:
            raise ValueError('unknown issue kind %r (expected one of %s)' % (kind, ', '.join(ISSUE_KINDS)))
        self.kind = kind
        self.file = str(file)
        self.line = line
        self.message = message
        self.image = image
        self.severity = severity

    def format(self) -> str:
        where = self.file if self.line is None else '%s:%d' % (self.file, self.line)
        return '%s: %s %s: %s' % (where, self.severity, self.kind, self.message)

    def __repr__(self) -> str:
        return 'Issue(%s)' % self.format()


class ValidationReport(object):
    """Issues and statistics collected while building a dataset index.

    ``issues``: list of :class:`Issue`; ``stats``: Counter of named totals (images_listed, images_kept,
    boxes_kept, boxes_filtered_small, ...); ``source``: a description of the dataset.
    """

    def __init__(self, source: str = ''):
        self.source = source
        self.issues = []  # type: List[Issue]
        self.stats = Counter()  # type: Counter

    def add(self, kind: str, file: str, line: Optional[int], message: str, image: Optional[str] = None,
            severity: str = ERROR) -> Issue:
        issue = Issue(kind, file, line, message, image=image, severity=severity)
        self.issues.append(issue)
        return issue

    @property
    def errors(self) -> List[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> List[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when nothing was skipped or dropped (warnings, i.e. clipped boxes, are allowed)."""
        return not self.errors

    def counts(self) -> Dict[str, int]:
        """Number of issues per kind (kinds with no issue are omitted)."""
        return dict(Counter(i.kind for i in self.issues))

    def format(self, max_issues: Optional[int] = 50) -> str:
        """Human-readable multi-line summary: totals, counts per kind, then the issues (at most ``max_issues``)."""
        lines = ['dataset: %s' % (self.source or '?')]
        st = self.stats
        lines.append('images: %d kept of %d listed; boxes: %d kept' % (
            st.get('images_kept', 0), st.get('images_listed', 0), st.get('boxes_kept', 0)))
        extra = sorted((k, v) for k, v in st.items() if k not in ('images_kept', 'images_listed', 'boxes_kept') and v)
        if extra:
            lines.append('also: ' + ', '.join('%s=%d' % kv for kv in extra))
        if not self.issues:
            lines.append('no issues')
        else:
            lines.append('issues: %d errors, %d warnings (%s)' % (
                len(self.errors), len(self.warnings),
                ', '.join('%s=%d' % kv for kv in sorted(self.counts().items()))))
            shown = self.issues if max_issues is None else self.issues[:max_issues]
            lines.extend('  ' + i.format() for i in shown)
            if len(shown) < len(self.issues):
                lines.append('  ... %d more' % (len(self.issues) - len(shown)))
        return '\n'.join(lines)

    def raise_if_strict(self, strict: bool) -> None:
        """With ``strict``, raise :class:`DatasetError` listing the errors; otherwise log a one-line summary."""
        if strict and not self.ok:
            raise DatasetError('dataset %s has %d problem(s) (strict=True refuses to build it; fix them or pass '
                               'strict=False to skip the bad items):\n%s'
                               % (self.source, len(self.errors), self.format()), report=self)
        if self.issues:
            log.warning('dataset %s: %d item(s) skipped or repaired (%s); face-ssd-validate-data lists them as '
                        'file:line (face-ssd-train prints them and writes OUTPUT_DIR/data_issues.txt)',
                        self.source, len(self.issues), ', '.join('%s=%d' % kv for kv in sorted(self.counts().items())))


# --------------------------------------------------------------------------------------------------------------
# images

class ImageProblem(Exception):
    """Raised by :func:`probe_image`; ``kind`` is missing_image, unreadable_image or corrupt_image."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


_SIGNATURES = (b'\xff\xd8\xff', b'\x89PNG', b'BM', b'RIFF', b'II*\x00', b'MM\x00*', b'P5', b'P6')


def _has_image_signature(path: str) -> bool:
    """True when the file starts like a JPEG/PNG/BMP/WebP/TIFF/PNM (so a failure to read it means corruption)."""
    try:
        with open(path, 'rb') as f:
            head = f.read(4)
    except OSError:
        return False
    return any(head.startswith(s) for s in _SIGNATURES)


def _jpeg_has_eoi(path: str, tail_bytes: int = 4096) -> bool:
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        f.seek(max(0, size - tail_bytes))
        return b'\xff\xd9' in f.read()


def probe_image(path: str, verify: str = 'decode') -> Tuple[int, int]:
    """Check that ``path`` is a readable image and return its ``(width, height)`` in stored pixels.

    ``verify``: 'decode' decodes the whole image (JPEGs at 1/8 scale, which still reads every byte, so truncated
    files are caught); 'header' reads only the header and, for JPEGs, checks the end-of-image marker (falling back
    to a decode when it is missing); 'none' only checks that the file exists.
    EXIF orientation is ignored everywhere in face_ssd (boxes refer to the stored pixel grid).
    Raises :class:`ImageProblem`.
    """
    if not os.path.isfile(path):
        raise ImageProblem('missing_image', 'image file not found: %s' % path)
    if verify == 'none':
        return _probe_cv2(path, header_only=True)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - PIL comes with matplotlib
        return _probe_cv2(path, header_only=(verify == 'header'))
    try:
        im = Image.open(path)
    except Exception as exc:  # PIL.UnidentifiedImageError, OSError, ...
        if _has_image_signature(path):
            raise ImageProblem('corrupt_image', 'image %s is broken or truncated (cannot read its header): %s'
                               % (path, exc))
        raise ImageProblem('unreadable_image', 'cannot open image %s (not an image file?): %s' % (path, exc))
    with im:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageProblem('corrupt_image', 'image %s has size %dx%d' % (path, w, h))
        is_jpeg = im.format == 'JPEG'
        if verify == 'header' and (not is_jpeg or _jpeg_has_eoi(path)):
            return int(w), int(h)
        try:
            if is_jpeg:
                im.draft('RGB', (max(1, w // 8), max(1, h // 8)))
            im.load()
        except Exception as exc:
            raise ImageProblem('corrupt_image', 'image %s does not decode (truncated or broken data): %s'
                               % (path, exc))
    return int(w), int(h)


def _probe_cv2(path: str, header_only: bool) -> Tuple[int, int]:
    import cv2
    flags = cv2.IMREAD_REDUCED_GRAYSCALE_8 if header_only else cv2.IMREAD_GRAYSCALE
    img = cv2.imread(path, flags | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        kind = 'corrupt_image' if _has_image_signature(path) else 'unreadable_image'
        raise ImageProblem(kind, 'cv2 cannot decode image %s' % path)
    if path.lower().endswith(('.jpg', '.jpeg')) and not _jpeg_has_eoi(path):
        raise ImageProblem('corrupt_image', 'JPEG %s is truncated (no end-of-image marker)' % path)
    if header_only:  # reduced size: read the real size with a full decode only when needed
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
    return int(img.shape[1]), int(img.shape[0])


def check_image(report: ValidationReport, image_path: str, ann_file: str, line: Optional[int],
                verify: str = 'decode') -> Optional[Tuple[int, int]]:
    """:func:`probe_image` that records a problem in ``report`` (and returns None) instead of raising."""
    try:
        return probe_image(image_path, verify=verify)
    except ImageProblem as p:
        report.add(p.kind, ann_file, line, str(p) + '; image skipped', image=image_path)
        return None


# --------------------------------------------------------------------------------------------------------------
# boxes

def check_boxes(report: ValidationReport, boxes: np.ndarray, labels: np.ndarray, width: int, height: int,
                ann_file: str, lines: Optional[Sequence[Optional[int]]] = None, image: Optional[str] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Drop degenerate / fully-outside boxes and clip partly-outside ones, recording issues.

    boxes: float [K, 4] x1, y1, x2, y2 in pixels; labels: int [K] (already mapped; a label < 1 is not checked
    here); lines: per-box line numbers in ``ann_file`` (or None). Returns (boxes float32 [K', 4], labels int64 [K']).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    keep = np.ones(len(boxes), dtype=bool)
    out = boxes.copy()
    for k, b in enumerate(boxes):
        line = None if lines is None else lines[k]
        desc = 'box [%s]' % ', '.join('%g' % v for v in b)
        if not np.all(np.isfinite(b)) or b[2] <= b[0] or b[3] <= b[1]:
            report.add('degenerate_box', ann_file, line, '%s has no area (need x2 > x1 and y2 > y1); dropped'
                       % desc, image=image)
            keep[k] = False
            continue
        if b[2] <= 0 or b[3] <= 0 or b[0] >= width or b[1] >= height:
            report.add('box_outside_image', ann_file, line, '%s lies entirely outside the %dx%d image; dropped'
                       % (desc, width, height), image=image)
            keep[k] = False
            continue
        c = np.array([max(b[0], 0.0), max(b[1], 0.0), min(b[2], float(width)), min(b[3], float(height))])
        excess = np.max(np.abs(c - b))
        if excess > CLIP_TOLERANCE_PX:
            report.add('box_outside_image', ann_file, line, '%s extends %.1f px outside the %dx%d image; clipped'
                       % (desc, excess, width, height), image=image, severity=WARNING)
            report.stats['boxes_clipped'] += 1
        out[k] = c
    return out[keep].astype(np.float32), labels[keep]


class IndexBuilder(object):
    """Shared bookkeeping for the loaders: probes images, checks boxes, and appends :class:`Record` s.

    Usage: ``b = IndexBuilder(report, verify)``; per image ``b.add(image_path, image_id, boxes, labels, ...)``;
    finally ``b.records``.
    """

    def __init__(self, report: ValidationReport, verify: str = 'decode'):
        if verify not in ('decode', 'header', 'none'):
            raise ValueError("verify must be 'decode', 'header' or 'none', not %r" % (verify,))
        self.report = report
        self.verify = verify
        self.records = []  # type: list

    def add(self, image_path: str, image_id: str, boxes, labels, ann_file: str, image_line: Optional[int] = None,
            box_lines: Optional[Sequence[Optional[int]]] = None, n_dropped: int = 0,
            size: Optional[Tuple[int, int]] = None, probed: bool = False) -> bool:
        """Validate one image and its boxes (float [K,4] xyxy pixels, labels int [K]) and index it.

        n_dropped: boxes of this image already dropped by the caller because of an error (unknown label,
        malformed line); if every box of the image was dropped, the image is skipped (empty_annotation).
        size: (width, height) when already known: used as is when ``probed`` (the caller ran :func:`check_image`
        itself), else it only saves the probe with verify='none'.
        Returns True when the image was indexed.
        """
        self.report.stats['images_listed'] += 1
        if probed and size is not None:
            wh = size
        elif size is not None and self.verify == 'none' and os.path.isfile(image_path):
            wh = size
        else:
            wh = check_image(self.report, image_path, ann_file, image_line, verify=self.verify)
        if wh is None:
            return False
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n_in = len(boxes) + n_dropped
        boxes, labels = check_boxes(self.report, boxes, labels, wh[0], wh[1], ann_file, box_lines, image=image_path)
        if n_in > 0 and len(boxes) == 0:
            self.report.add('empty_annotation', ann_file, image_line,
                            'all %d box(es) of %s were dropped; image skipped so its objects are not learned as '
                            'background' % (n_in, image_path), image=image_path)
            return False
        self.records.append(Record(image_path, boxes, labels, str(image_id), int(wh[0]), int(wh[1])))
        self.report.stats['images_kept'] += 1
        self.report.stats['boxes_kept'] += len(boxes)
        return True


# --------------------------------------------------------------------------------------------------------------
# CLI

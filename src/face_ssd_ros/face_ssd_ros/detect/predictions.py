"""Predictions JSON Lines (the output of ``face-ssd-detect`` and of scripts/baselines/*), read and write.

One JSON object per line, one line per image::

    {"image": "0--Parade/0_Parade_Parade_0_102.jpg", "width": 1024, "height": 768,
     "boxes": [[x1, y1, x2, y2, score, "face"], ...]}

Boxes are in pixels of the original image. An image that could not be read is written as
``{"image": path, "error": "why"}`` (no ``boxes``); readers keep it so that evaluators can report it.

Detections of a stream (the runner's ``--jsonl``, ``face-ssd-bag-eval --jsonl``) use :func:`make_frame_record`,
one line per detection array: ``{"stamp": {"sec", "nanosec"}, "frame_id", "boxes": [...], ...}`` with the same
box rows, plus where known the frame's index in its bag (``bag_index``) and recorded stamp (``bag_stamp``).
"""
import io
import json
import math
import os

import numpy as np


class PredictionsFormatError(ValueError):
    """A predictions file that does not follow the format above (the message names the file and line)."""


def make_record(image, width, height, boxes):
    """Build one line's dict.

    Args:
        image: the image path (str) as it should appear in the file.
        width, height: original image size in pixels.
        boxes: iterable of ``(x1, y1, x2, y2, score, label)``; label is a str (class name).
    Returns:
        ``{"image", "width", "height", "boxes": [[x1, y1, x2, y2, score, label], ...]}`` with plain Python floats
        (rounded to 2 decimals for coordinates, 6 for scores, so files stay small and diffable).
    """
    return {'image': str(image), 'width': int(width), 'height': int(height), 'boxes': _box_rows(boxes)}


def _box_rows(boxes):
    """Rows ``(x1, y1, x2, y2, score, label[, track_id])`` -> rounded lists (a track id stays an int or None)."""
    return [[round(float(b[0]), 2), round(float(b[1]), 2), round(float(b[2]), 2), round(float(b[3]), 2),
             round(float(b[4]), 6), str(b[5])] + ([None if b[6] is None else int(b[6])] if len(b) > 6 else [])
            for b in boxes]


def make_frame_record(stamp, frame_id, boxes, **extra):
    """One detection array of a stream as a dict: ``stamp`` ``(sec, nanosec)``, ``frame_id``, ``boxes`` rows
    ``(x1, y1, x2, y2, score, label[, track_id])`` in pixels (rounded as in :func:`make_record`), then ``extra`` keys in
    sorted order (e.g. ``bag_index``; a ``(sec, nanosec)`` tuple value is written as a stamp dict)."""
    record = {'stamp': {'sec': int(stamp[0]), 'nanosec': int(stamp[1])}, 'frame_id': str(frame_id),
              'boxes': _box_rows(boxes)}
    for key in sorted(extra):
        value = extra[key]
        if isinstance(value, tuple) and len(value) == 2:
            value = {'sec': int(value[0]), 'nanosec': int(value[1])}
        record[key] = value
    return record


def make_error_record(image, error):
    """The line written for an image that could not be processed: ``{"image": path, "error": message}``."""
    return {'image': str(image), 'error': str(error)}


class PredictionWriter(object):
    """Write records line by line (flushed, so a long run can be followed with ``tail -f``).

    Use as a context manager: ``with PredictionWriter(path) as w: w.write(record)``. The parent folder is created.
    """

    def __init__(self, path):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self._f = io.open(path, 'w', encoding='utf-8')
        self.count = 0

    def write(self, record):
        self._f.write(json.dumps(record, ensure_ascii=False) + '\n')
        self._f.flush()
        self.count += 1

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def write_predictions(path, records):
    """Write an iterable of records (dicts from :func:`make_record` / :func:`make_error_record`); returns the count."""
    with PredictionWriter(path) as w:
        for r in records:
            w.write(r)
        return w.count


def _check_record(rec, where):
    if not isinstance(rec, dict) or not isinstance(rec.get('image'), str):
        raise PredictionsFormatError('%s: expected an object with a string "image" key' % where)
    if 'error' in rec:
        return rec
    for key in ('width', 'height', 'boxes'):
        if key not in rec:
            raise PredictionsFormatError('%s: missing key "%s" (and no "error" key)' % (where, key))
    if not isinstance(rec['boxes'], list):
        raise PredictionsFormatError('%s: "boxes" must be a list of [x1, y1, x2, y2, score, "label"], got %r'
                                     % (where, rec['boxes']))
    for i, b in enumerate(rec['boxes']):
        if not isinstance(b, (list, tuple)) or len(b) != 6 or not all(_finite_number(v) for v in b[:5]):
            raise PredictionsFormatError('%s: box %d must be [x1, y1, x2, y2, score, "label"] with finite numbers, '
                                         'got %r' % (where, i, b))
    return rec


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_predictions(path):
    """Read a predictions JSONL file -> list of record dicts, in file order (blank lines skipped).

    Raises:
        FileNotFoundError: the file does not exist.
        PredictionsFormatError: a line is not valid JSON or not a valid record (file and line number in the message).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('predictions file %s not found: write one with face-ssd-detect --out %s IMAGES...'
                                % (path, path))
    records = []
    with io.open(path, 'r', encoding='utf-8', errors='strict') as f:
        try:
            lines = list(f)
        except UnicodeDecodeError as e:
            raise PredictionsFormatError('%s: not a UTF-8 text file (%s); a predictions file is JSON Lines, written by '
                                         'face-ssd-detect --out' % (path, e))
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            where = '%s:%d' % (path, lineno)
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise PredictionsFormatError('%s: not valid JSON (%s)' % (where, e))
            records.append(_check_record(rec, where))
    return records


def record_boxes(record, labels=None):
    """Boxes of one record as float64 ``[K, 5]`` (x1, y1, x2, y2, score), optionally only the given labels.

    Args:
        record: a record dict (an error record gives ``[0, 5]``).
        labels: None for all boxes, else a collection of label strings to keep.
    """
    rows = [b[:5] for b in record.get('boxes', ()) if labels is None or b[5] in labels]
    if not rows:
        return np.zeros((0, 5), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def record_labels(record):
    """Labels of one record's boxes as a list of str, in box order."""
    return [str(b[5]) for b in record.get('boxes', ())]


def image_key(path, depth=2):
    """Key that identifies an image independently of the folder it was read from.

    The last ``depth`` path components without the file extension, joined with '/':
    ``/data/wider/images/0--Parade/0_Parade_x.jpg`` -> ``0--Parade/0_Parade_x``. Backslashes count as separators.
    """
    parts = [p for p in str(path).replace('\\', '/').split('/') if p and p != '.']
    if not parts:
        raise ValueError('empty image path')
    parts[-1] = os.path.splitext(parts[-1])[0]
    return '/'.join(parts[-depth:])


def index_records(records, depth=2):
    """Map :func:`image_key` -> record. Raises PredictionsFormatError if two records share a key."""
    out = {}
    for rec in records:
        key = image_key(rec['image'], depth)
        if key in out:
            raise PredictionsFormatError('two prediction lines for image %s (%s and %s)'
                                         % (key, out[key]['image'], rec['image']))
        out[key] = rec
    return out

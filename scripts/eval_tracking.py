"""Identity metrics of the detector + tracker on the demo footage, whose true face trajectories are known.

    python scripts/eval_tracking.py [--model M.onnx] [--set detector.track_min_hits=3 ...] [--json out.json]

The demo footage (``face_ssd_ros.demo``: three copies of a portrait on a wall, filmed by a panning and zooming
virtual camera) is built into ``--out`` and read back from the video file, so the frames are what the demo's
detector sees. The true box of each face in each frame follows from the camera crop (``demo.face_boxes``). Every
frame goes through the same code as the detector node (``FaceDetector.from_params`` + ``detect_tracked``) with the
detector parameters of config/pipeline.yaml (plus ``--set`` overrides), one frame after the other, none dropped.

Prints IDF1 / IDP / IDR and id switches (``face_ssd_ros.evaluation.tracking_metrics``) at IoU >= ``--iou``, and
for comparison the same numbers for the previous contract, ``Detection2D.id`` = the box's index in its frame.
Boxes published without an id (tracks not yet confirmed) are not hypotheses; their number is printed.
"""
import argparse
import json
import os
import sys

import cv2

SOURCES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'src', 'face_ssd_ros')
if os.path.isdir(SOURCES) and SOURCES not in sys.path:  # a checkout: measure its sources
    sys.path.insert(0, SOURCES)

from face_ssd_ros import demo  # noqa: E402
from face_ssd_ros.config.pipeline import PipelineConfigError, build_pipeline  # noqa: E402
from face_ssd_ros.detect.inference import FaceDetector  # noqa: E402
from face_ssd_ros.detect.tracker import detect_tracked, tracker_from_params  # noqa: E402
from face_ssd_ros.evaluation.tracking_metrics import evaluate_tracking  # noqa: E402


def read_frames(path):
    """Every frame of a video file as np.uint8 [H, W, 3] RGB."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def run(frames, values):
    """Detector + tracker over ``frames``: ``(hypotheses, index_ids, untracked, ids_issued)`` where hypotheses are
    ``[(track ids, boxes)]`` per frame, index_ids the same boxes (at or above score_threshold) numbered by their
    index in the frame, untracked the number of published boxes without an id."""
    tracked, by_index, untracked = [], [], 0
    with FaceDetector.from_params(values) as detector:
        tracker = tracker_from_params(values)
        if tracker is None:
            raise SystemExit('eval_tracking: tracking is off in this configuration (detector.tracking)')
        for image in frames:
            detections, _, _ = detect_tracked(detector, tracker, image)
            with_id = [d for d in detections if d.track_id is not None]
            untracked += len(detections) - len(with_id)
            tracked.append(([d.track_id for d in with_id], [[d.x1, d.y1, d.x2, d.y2] for d in with_id]))
            plain = [d for d in detections if d.score >= detector.score_threshold]
            by_index.append((list(range(len(plain))), [[d.x1, d.y1, d.x2, d.y2] for d in plain]))
        return tracked, by_index, untracked, tracker.last_id


def format_result(title, r):
    ratio = lambda v: 'n/a' if v is None else '%.3f' % v  # noqa: E731
    return ('%s: IDF1 %s (IDP %s, IDR %s), id switches %d; %d true boxes of %d faces, %d boxes with %d ids, '
            '%d matched (IoU >= %.2f)' % (title, ratio(r['idf1']), ratio(r['idp']), ratio(r['idr']),
                                           r['id_switches'], r['gt_boxes'], r['gt_ids'], r['hyp_boxes'],
                                           r['hyp_ids'], r['matched_boxes'], r['iou_threshold']))


def build_arg_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=os.path.join('out', 'eval_tracking'), help='folder of the footage')
    parser.add_argument('--seconds', type=float, default=4.0, help='footage length (the demo: 4)')
    parser.add_argument('--fps', type=float, default=20.0, help='footage frame rate (the demo: 20)')
    parser.add_argument('--model', default=None, help='model file (default: the config\'s, the shipped model)')
    parser.add_argument('--set', action='append', default=[], metavar='detector.PARAM=VALUE',
                        help='override a detector parameter, e.g. detector.track_min_hits=3 (repeatable)')
    parser.add_argument('--iou', type=float, default=0.5, help='IoU for a box to match a true face (0.5)')
    parser.add_argument('--json', default=None, help='also write the results to this JSON file')
    return parser


def main(argv=None):
    args = build_arg_parser().parse_args(argv)
    overrides = list(args.set) + (['detector.model_path=' + args.model] if args.model is not None else [])
    try:
        values = build_pipeline(overrides=overrides, nodes=['detector'])[0].parameters
    except PipelineConfigError as exc:
        print('eval_tracking: %s' % exc, file=sys.stderr)
        return 2
    footage = os.path.join(args.out, 'footage.mp4')
    count = demo.build_footage(footage, args.seconds, args.fps)
    frames = read_frames(footage)
    if len(frames) != count:
        print('eval_tracking: %s has %d frames, expected %d' % (footage, len(frames), count), file=sys.stderr)
        return 1
    truth = [(list(range(len(demo.PLACEMENTS))), demo.face_boxes(demo.camera_path(t)))
             for t in demo.frame_times(count)]
    tracked, by_index, untracked, ids_issued = run(frames, values)
    result = evaluate_tracking(truth, tracked, args.iou)
    baseline = evaluate_tracking(truth, by_index, args.iou)
    settings = ', '.join('%s=%s' % (k, values[k]) for k in ('score_threshold', 'track_match_iou', 'track_buffer',
                                                            'track_min_hits', 'track_low_threshold'))
    print('demo footage: %d frames %dx%d, %d faces (%s); detector %s' % (
        count, demo.WIDTH, demo.HEIGHT, len(demo.PLACEMENTS), footage, values['model_path'] or 'shipped model'))
    print('settings: %s' % settings)
    print(format_result('tracker', result))
    print('  ids issued %d, boxes published without an id (tentative tracks) %d, true face -> track id %s'
          % (ids_issued, untracked, result['assignment']))
    print(format_result('index in frame (previous Detection2D.id)', baseline))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'frames': count, 'settings': dict((k, values[k]) for k in values if k.startswith('track')
                                                         or k == 'score_threshold'),
                       'tracker': dict(result, assignment=dict((str(k), v) for k, v in result['assignment'].items())),
                       'index_baseline': dict(baseline, assignment=dict(
                           (str(k), v) for k, v in baseline['assignment'].items())),
                       'untracked_boxes': untracked, 'ids_issued': ids_issued}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Compressed input over real DDS: the detector on sensor_msgs/CompressedImage (JPEG, PNG, a portrait odd-sized
frame, a truncated JPEG and a depth image as counted skips, header copied unchanged), and robot bags without ground
truth through the runner (``--bag``: replay -> detector -> overlay -> evaluator; JSONL, video, report, bag copy),
``--bag`` with the camera pipeline's config (replays, never opens a camera), and a compressed bag with ground truth
whose live AP equals the offline one."""
import json
import os

import cv2
import numpy as np
import pytest

import robot_bags
from detector_graph import DetectorGraph
from face_ssd_ros import runner
from face_ssd_ros.config.pipeline import BAG_EVAL_CONFIG, build_pipeline, find_config
from face_ssd_ros.evaluation import bag_eval, make_bag
from face_ssd_ros.evaluation.bag_io import BagReader, COMPRESSED_IMAGE_TYPE, DETECTIONS_TYPE
from face_ssd_ros.stamp_cache import stamp_to_ns

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'config',
                      'pipeline.yaml')


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    """``(bag, layout)``: 3 real photos (the second portrait and odd-sized) + a truncated JPEG at index 1, JPEG
    CompressedImage on /raspicam_node/image/compressed, camera_info, no ground truth."""
    frames = robot_bags.robot_frames()
    if frames is None:
        pytest.skip('real data not found at %s (CI keeps ../shared beside the clone)' % robot_bags.DLIB)
    bag = str(tmp_path_factory.mktemp('robot') / 'robot_bag')
    return bag, robot_bags.write_robot_bag(bag, frames, 'jpeg', corrupt_at=1), frames


def _faces(name):
    """Annotated faces (xyxy) of a dlib photo."""
    lines = [ln.strip() for ln in open(os.path.join(robot_bags.DLIB, 'dlib_bbx_gt.txt')) if ln.strip()]
    i = 0
    while i < len(lines):
        n = int(lines[i + 1])
        if lines[i] == name:
            rows = [[float(v) for v in lines[i + 2 + k].split()[:4]] for k in range(n)]
            return [[x, y, x + w, y + h] for x, y, w, h in rows]
        i += 2 + max(n, 1)
    raise KeyError(name)


class _CompressedGraph(DetectorGraph):
    """A detector with image_transport compressed, image_raw remapped to /<ns>_cam/image, and a test node that
    publishes CompressedImage on /<ns>_cam/image/compressed (reliable) and collects ``detections``."""

    def __init__(self, context, namespace, helpers, model_path):
        from sensor_msgs.msg import CompressedImage
        super(_CompressedGraph, self).__init__(context, namespace, helpers, model_path, CompressedImage,
                                               '/%s_cam/image/compressed' % namespace,
                                               overrides={'image_transport': 'compressed'},
                                               image_topic='/%s_cam/image' % namespace)

    def send(self, fmt, data, sec):
        from sensor_msgs.msg import CompressedImage
        self.publish(CompressedImage(format=fmt, data=bytes(data)), sec, 11, 'robot_cam')


@pytest.mark.timeout(60)
def test_detector_on_compressed_input(ros_context, helpers, model_path, robot):
    from face_ssd_ros.msgs.compressed import array_to_compressed
    _, _, frames = robot
    (name0, photo), (name1, portrait) = frames[0], frames[1]
    g = _CompressedGraph(ros_context, 'compressed_in', helpers, model_path)
    try:
        assert g.detector.sub.topic_name == '/compressed_in_cam/image/compressed'   # remap, then /compressed
        fmt, jpeg = array_to_compressed(photo, 'jpeg', 'RGB', quality=90)
        g.send(fmt, jpeg, 1)
        g.send('rgb8; jpeg compressed bgr8', jpeg[:len(jpeg) // 2], 2)                   # truncated
        g.send('16UC1; compressedDepth png', array_to_compressed(photo, 'png')[1], 3)  # a depth topic
        g.send('png', array_to_compressed(portrait, 'png')[1], 4)
        g.send('jpeg', b'', 5)                                                            # empty
        g.wait(lambda: len(g.col.arrays) == 2, 'the two decodable frames')
        assert [(a[0], a[1]) for a in g.col.arrays] == [((1, 11), 'robot_cam'), ((4, 11), 'robot_cam')]
        assert g.detector.stats.counter('skipped_undecodable') == 2
        assert g.detector.stats.counter('skipped_unsupported_encoding') == 1
        assert g.detector.stats.counter('frames_processed') == 2
        values = dict((kv.key, kv.value) for kv in g.detector.diagnostics_status().values)
        assert values['skipped_undecodable'] == '2'
        # the boxes are in pixels of the decoded frame: the annotated faces of the photo are found; on the portrait
        # frame (a turned camera: sideways faces, which this model was not trained for) the boxes are exactly those
        # of the model on the same pixels (PNG is lossless) and land on a turned annotated face
        _, _, dets = g.col.arrays[0]
        assert all(0 <= d.x1 < d.x2 <= photo.shape[1] and 0 <= d.y1 < d.y2 <= photo.shape[0] for d in dets)
        for face in _faces(name0):
            if face[2] - face[0] >= helpers.MIN_FACE:
                assert max(helpers.iou(face, [d.x1, d.y1, d.x2, d.y2]) for d in dets) > 0.5, (face, dets)
        _, _, dets = g.col.arrays[1]
        reference, _ = g.detector.detector.detect(portrait)
        assert dets and len(dets) == len(reference) and [d.label for d in dets] == [r.label for r in reference]
        assert np.allclose([d[:5] for d in dets], [r[:5] for r in reference], atol=1e-4)
        assert all(0 <= d.x1 < d.x2 <= portrait.shape[1] and 0 <= d.y1 < d.y2 <= portrait.shape[0] for d in dets)
        height = cv2.imread(os.path.join(robot_bags.DLIB, 'images', name1)).shape[0]
        turned = [[height - y2, x1, height - y1, x2] for x1, y1, x2, y2 in _faces(name1)]
        # (a box on a sideways face is looser than on an upright one: the check is that it lands on the turned face)
        assert max(helpers.iou(face, [d.x1, d.y1, d.x2, d.y2]) for face in turned for d in dets) > 0.4
    finally:
        g.close()


@pytest.mark.timeout(90)
def test_runner_replays_a_robot_bag_without_ground_truth(robot, model_path, tmp_path, capsys):
    bag, layout, _ = robot
    out = tmp_path / 'out'
    jsonl, video, copy, report_dir = (str(out / 'dets.jsonl'), str(out / 'annotated.mp4'), str(out / 'with_dets'),
                                      str(out / 'report'))
    os.makedirs(str(out))
    code = runner.main(['--bag', bag, '--model', model_path, '--namespace', 'robot', '--jsonl', jsonl,
                        '--video', video, '--write-bag', copy, '--set', 'evaluator.output_dir=' + report_dir,
                        '--set', 'replay.lockstep_timeout=1.0', '--set', 'evaluator.drain_timeout=1.0',
                        '--set', 'evaluator.plot=false'])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert 'frames replayed from the bag: 4' in printed and 'frames published by the camera' not in printed
    assert 'No ground truth in this bag' in printed and 'bag with detections: %s (3 arrays' % copy in printed

    with open(os.path.join(report_dir, 'bag_eval.json')) as f:
        report = json.load(f)
    assert report['ground_truth'] is False and report['voc'] is None
    frames = report['frames']
    assert (frames['images'], frames['detection_arrays'], frames['dropped_frames']) == (4, 3, 1)
    assert report['latency_ms']['count'] == 3 and report['detections']['boxes'] >= 10

    # the same detections as the model run offline on the same bytes
    offline = {}
    from face_ssd_ros.detect.inference import FaceDetector
    params = build_pipeline(find_config(BAG_EVAL_CONFIG), nodes=['detector'], overrides={
        'model_path': model_path})[0].parameters
    with FaceDetector(model_path, score_threshold=params['score_threshold'], nms_iou=params['nms_iou'],
                      max_detections=params['max_detections']) as detector:
        bag_eval.evaluate_with_model(bag, detector, on_frame=lambda i, k, f, rows, ms: offline.__setitem__(i, rows))
    lines = [json.loads(line) for line in open(jsonl)]
    assert [r['bag_index'] for r in lines] == [0, 2, 3] == sorted(offline)
    for r in lines:
        stamp = layout[r['bag_index']][0]
        assert (r['bag_stamp']['sec'], r['bag_stamp']['nanosec']) == (stamp // 10 ** 9, stamp % 10 ** 9)
        assert r['frame_id'] == robot_bags.FRAME_ID
        assert np.allclose([b[:5] for b in r['boxes']], [row[:5] for row in offline[r['bag_index']]], atol=0.01)

    capture = cv2.VideoCapture(video)
    shapes = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        shapes.append(frame.shape)
    capture.release()
    height, width = layout[0][1].shape[:2]                            # the size of the first frame (mp4v: even)
    assert len(shapes) == 3 and all(abs(h - height) <= 1 and abs(w - width) <= 1 for h, w, _ in shapes), shapes

    with BagReader(copy) as reader:
        assert reader.topics()['/detections'] == DETECTIONS_TYPE
        assert reader.topics()[robot_bags.IMAGE_TOPIC] == COMPRESSED_IMAGE_TYPE
        arrays = [(log, msg) for _, log, msg in reader.messages(['/detections'])]
    assert [stamp_to_ns(m.header) for _, m in arrays] == [layout[i][0] for i in (0, 2, 3)]   # recorded stamps
    assert all(m.header.frame_id == robot_bags.FRAME_ID and log > stamp_to_ns(m.header) for log, m in arrays)
    assert [len(m.detections) for _, m in arrays] == [len(offline[i]) for i in (0, 2, 3)]


@pytest.mark.timeout(90)
def test_bag_with_the_camera_pipeline_config_replays_or_refuses(robot, model_path, tmp_path, capsys):
    """--bag always means replay: with config/pipeline.yaml its camera is replaced by the replay (detector and
    overlay from that file); what cannot replay is refused with one line, and no camera is ever opened."""
    bag, _, _ = robot
    code = runner.main(['--config', CONFIG, '--bag', bag, '--model', model_path, '--namespace', 'cfgbag',
                        '--set', 'evaluator.output_dir=' + str(tmp_path / 'r'), '--set', 'replay.lockstep_timeout=1.0',
                        '--set', 'evaluator.drain_timeout=1.0', '--set', 'evaluator.plot=false', '--duration', '60'])
    printed = capsys.readouterr().out
    assert code == 0 and 'stopped by replay and evaluator finished' in printed, printed
    assert 'frames replayed from the bag: 4' in printed and 'frames published by the camera' not in printed
    assert 'frames annotated by the overlay: 3' in printed
    for argv, words in ((['--config', CONFIG, '--bag', bag, '--nodes', 'camera,detector'], 'leave camera out'),
                        (['--config', CONFIG, '--bag', str(tmp_path / 'no_such_bag')], 'not a rosbag2 folder'),
                        (['--bag', bag, '--source', '/dev/video0'], 'give one of them'),
                        (['--config', CONFIG, '--bag', bag, '--write-bag', bag], 'exists already')):
        assert runner.main(argv) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and 'Traceback' not in captured.err + captured.out, lines


@pytest.mark.timeout(120)
def test_compressed_bag_with_ground_truth_live_equals_offline(model_path, tmp_path):
    if not os.path.isdir(robot_bags.DLIB):
        pytest.skip('real data not found at %s' % robot_bags.DLIB)
    bag = str(tmp_path / 'jpeg_gt')
    assert make_bag.main(['--wider', os.path.join(robot_bags.DLIB, 'dlib_bbx_gt.txt'), '--images',
                          os.path.join(robot_bags.DLIB, 'images'), '--out', bag, '--image-format', 'jpeg',
                          '--max-frames', '4', '--quiet']) == 0
    out = str(tmp_path / 'report')
    assert runner.main(['--bag', bag, '--model', model_path, '--namespace', 'jpeggt', '--set',
                        'evaluator.output_dir=' + out, '--set', 'evaluator.plot=false']) == 0
    with open(os.path.join(out, 'bag_eval.json')) as f:
        live = json.load(f)
    from face_ssd_ros.detect.inference import FaceDetector
    params = build_pipeline(find_config(BAG_EVAL_CONFIG), nodes=['detector'])[0].parameters
    with FaceDetector(model_path, score_threshold=params['score_threshold'], nms_iou=params['nms_iou'],
                      max_detections=params['max_detections']) as detector:
        offline, _ = bag_eval.evaluate_with_model(bag, detector)
    assert live['ground_truth'] is True and live['frames']['evaluated_frames'] == 4
    assert live['frames']['dropped_frames'] == 0
    live_face, off_face = live['voc']['classes']['face'], offline['voc']['classes']['face']
    assert live_face['num_det'] == off_face['num_det'] > 0 and live_face['num_gt'] == off_face['num_gt']
    assert live_face['ap'] == pytest.approx(off_face['ap'], abs=1e-6) and live_face['ap'] > 0.5

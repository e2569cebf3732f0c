"""Bag evaluation end to end over real DDS: a bag made from real images with known ground truth goes through
replay_node (lockstep) -> detector_node (the real model) -> evaluator_node, and the evaluator's report equals the
offline evaluation of the same model on the same images with the same settings (face-ssd-bag-eval --model)."""
import json
import os

import numpy as np
import pytest

from face_ssd_ros import runner
from face_ssd_ros.config.pipeline import BAG_EVAL_CONFIG, BAG_EVAL_NODES, build_pipeline, find_config
from face_ssd_ros.evaluation import bag_eval, make_bag
from face_ssd_ros.evaluation.annotation_sources import wider_samples
from face_ssd_ros.evaluation.bag_io import BagReader

# conftest modules cannot be imported by name reliably (several share the name): locate the data here
SHARED_DATA = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared',
                                            'data'))
DLIB = os.path.join(SHARED_DATA, 'faces', 'dlib')

WIDER_DEV = os.path.join(SHARED_DATA, 'faces', 'wider_dev')
WIDER_IMAGES = 8  # the first images of wider_dev/images.txt (evaluation use only)


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    """``{name: bag folder}``: the 9 dlib photos (mcap, 43 faces) and 8 wider_dev photos with the official
    Easy / Medium / Hard membership (sqlite3)."""
    if not os.path.isdir(DLIB) or not os.path.isdir(WIDER_DEV):
        pytest.skip('real data not found at %s (CI keeps ../shared beside the clone)' % SHARED_DATA)
    folder = tmp_path_factory.mktemp('bags')
    out = {}
    samples = wider_samples(os.path.join(DLIB, 'dlib_bbx_gt.txt'), os.path.join(DLIB, 'images'))
    out['dlib'] = str(folder / 'dlib')
    make_bag.make_bag(samples, out['dlib'], storage='mcap', fps=30.0, frame_id='bag_cam', camera_info=True)
    images = [ln.strip() for ln in open(os.path.join(WIDER_DEV, 'images.txt')) if ln.strip()][:WIDER_IMAGES]
    samples = wider_samples(os.path.join(WIDER_DEV, 'wider_face_val_bbx_gt.txt'), os.path.join(WIDER_DEV, 'images'),
                            images, WIDER_DEV)
    out['wider'] = str(folder / 'wider')
    make_bag.make_bag(samples, out['wider'], storage='sqlite3', fps=30.0)
    return out


def _offline(bag, detector_params, model_path):
    from face_ssd_ros.detect.inference import FaceDetector
    with FaceDetector(model_path, score_threshold=detector_params['score_threshold'],
                      nms_iou=detector_params['nms_iou'], max_detections=detector_params['max_detections'],
                      input_size=(detector_params['input_width'], detector_params['input_height'])) as detector:
        return bag_eval.evaluate_with_model(bag, detector)[0]


@pytest.mark.timeout(120)
@pytest.mark.parametrize('name', ['dlib', 'wider'])
def test_replay_detector_evaluator_equals_offline(bags, name, model_path, tmp_path):
    out_dir = str(tmp_path / 'report')
    descriptions = build_pipeline(find_config(BAG_EVAL_CONFIG), nodes=BAG_EVAL_NODES, namespace='bageval',
                                  overrides={'bag': bags[name], 'output_dir': out_dir, 'model_path': model_path})
    summary = runner.run(descriptions, duration=60.0)
    assert summary['stopped_by'] == 'replay and evaluator finished'
    with BagReader(bags[name]) as reader:
        frames = reader.message_count('/image_raw')
    report = summary['report']
    assert report['frames']['ground_truth_frames'] == frames and report['source']['replay_frames'] == frames
    assert report['frames']['evaluated_frames'] == frames and report['frames']['dropped_frames'] == 0
    assert report['frames']['detections_without_ground_truth'] == 0
    assert report['latency_ms']['count'] == frames and 0.0 < report['latency_ms']['p50'] < 10000.0
    assert summary['nodes']['replay'].stats.counter('lockstep_timeouts') == 0

    offline = _offline(bags[name], descriptions[1].parameters, model_path)
    live_face, off_face = report['voc']['classes']['face'], offline['voc']['classes']['face']
    assert live_face['num_det'] == off_face['num_det'] > 0 and live_face['num_gt'] == off_face['num_gt']
    assert live_face['ap'] == pytest.approx(off_face['ap'], abs=1e-6) and live_face['ap'] > 0.0
    for f, r in offline['recall_at_fppi'].items():
        assert report['recall_at_fppi'][f] == pytest.approx(r, abs=1e-6)
    if name == 'wider':
        for s in ('easy', 'medium', 'hard'):
            assert report['wider']['ap'][s] == pytest.approx(offline['wider']['ap'][s], abs=1e-6)
            assert report['wider']['num_faces'][s] == offline['wider']['num_faces'][s]
        assert report['wider']['num_faces']['hard'] > 0
    else:
        assert report['wider'] is None
    paths = summary['report_paths']
    assert sorted(os.path.basename(p) for p in paths.values()) == ['bag_eval.json', 'bag_eval.md', 'bag_eval_pr.png']
    with open(paths['json']) as f:
        assert json.load(f)['voc']['map'] == pytest.approx(off_face['ap'], abs=1e-6)


@pytest.mark.timeout(60)
def test_lockstep_timeouts_count_as_dropped_frames(bags, tmp_path):
    """Without a detector every frame times out in lockstep; the evaluator reports all of them as dropped."""
    out_dir = str(tmp_path / 'report')
    descriptions = build_pipeline(find_config(BAG_EVAL_CONFIG), nodes=('replay', 'evaluator'), namespace='nodet',
                                  overrides={'bag': bags['dlib'], 'output_dir': out_dir, 'replay.max_frames': 3,
                                             'replay.lockstep_timeout': 0.2, 'replay.min_subscribers': 0,
                                             'evaluator.drain_timeout': 0.5, 'evaluator.plot': False})
    summary = runner.run(descriptions, duration=30.0)
    assert summary['nodes']['replay'].stats.counter('lockstep_timeouts') == 3
    frames = summary['report']['frames']
    assert (frames['ground_truth_frames'], frames['evaluated_frames'], frames['dropped_frames']) == (3, 0, 3)
    assert not os.path.exists(os.path.join(out_dir, 'bag_eval_pr.png'))


def test_bag_messages_deserialise_with_rclpy(bags):
    """What face-ssd-make-bag writes is what the rclpy message classes read (replay_node relies on it)."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray
    types = {'/image_raw': Image, '/ground_truth': Detection2DArray, '/camera_info': CameraInfo}
    with BagReader(bags['dlib']) as reader:
        seen = {}
        for topic, _, _, data in reader.raw(list(types)):
            seen[topic] = deserialize_message(bytes(data), types[topic])
    image, gt, info = seen['/image_raw'], seen['/ground_truth'], seen['/camera_info']
    assert image.header == gt.header == info.header and image.header.frame_id == 'bag_cam'
    assert image.encoding == 'rgb8' and len(image.data) == image.height * image.step
    assert (info.width, info.height) == (image.width, image.height)
    assert gt.detections and gt.detections[0].id == '0' and gt.detections[0].results[0].hypothesis.score == 1.0
    assert np.isfinite(gt.detections[0].bbox.size_x)


@pytest.mark.timeout(90)
def test_nodes_as_separate_processes(bags, model_path, tmp_path):
    """replay, detector and evaluator as three processes started from the pipeline's command lines (as the launch
    file starts them): the evaluator writes its reports after replay_done and exits 0, no frame dropped."""
    import subprocess
    import time
    out_dir = str(tmp_path / 'report')
    descriptions = build_pipeline(find_config(BAG_EVAL_CONFIG), nodes=BAG_EVAL_NODES, namespace='procs',
                                  overrides={'bag': bags['dlib'], 'output_dir': out_dir, 'model_path': model_path,
                                             'evaluator.plot': False})
    logs, procs = {}, {}
    try:
        for d in descriptions:
            logs[d.key] = open(str(tmp_path / (d.key + '.log')), 'w')
            procs[d.key] = subprocess.Popen(d.command(), stdout=logs[d.key], stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 70
        while procs['evaluator'].poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        text = open(str(tmp_path / 'evaluator.log')).read()
        assert procs['evaluator'].returncode == 0, text
        assert procs['replay'].wait(15) == 0, open(str(tmp_path / 'replay.log')).read()
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(2)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        for f in logs.values():
            f.close()
    with open(os.path.join(out_dir, 'bag_eval.json')) as f:
        report = json.load(f)
    assert report['frames']['evaluated_frames'] == 9 and report['frames']['dropped_frames'] == 0
    assert report['voc']['classes']['face']['num_gt'] == 43 and report['voc']['classes']['face']['ap'] > 0.0
    assert 'replay summary: 9 of 9 frames' in open(str(tmp_path / 'replay.log')).read()

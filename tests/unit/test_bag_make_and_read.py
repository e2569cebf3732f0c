"""face-ssd-make-bag and face-ssd-bag-eval without ROS: real dlib / WIDER images, a VOC folder, a video with CSV
annotations; sqlite3 and mcap round trips; the vision_msgs type hash; offline evaluation of recorded detections."""
import glob
import json
import os

import cv2
import numpy as np
import pytest

from face_ssd_ros.evaluation import bag_eval, make_bag
from face_ssd_ros.evaluation.bag_io import BagReader, BagWriter, make_typestore
from face_ssd_ros.evaluation.gt_encoding import GroundTruth, gt_from_msg
from face_ssd_ros.stamp_cache import stamp_to_ns

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'faces'))
DLIB = os.path.join(DATA, 'dlib')
WIDER_DEV = os.path.join(DATA, 'wider_dev')


def _need(path):
    if not os.path.exists(path):
        pytest.skip('real data not found at %s (CI keeps ../shared beside the clone)' % path)


def _bbx_gt(path):
    """Independent reading of the bbx_gt file for the expected values: {relpath: xyxy [K, 4]}."""
    lines = [ln.strip() for ln in open(path) if ln.strip()]
    out, i = {}, 0
    while i < len(lines):
        n = int(lines[i + 1])
        rows = [[float(v) for v in lines[i + 2 + k].split()[:4]] for k in range(n)]
        out[lines[i]] = np.asarray([[x, y, x + w, y + h] for x, y, w, h in rows]).reshape(-1, 4)
        i += 2 + max(n, 1)
    return out


def _read_frames(bag):
    """{stamp_ns: {topic: msg}} and the list of topics."""
    frames = {}
    with BagReader(bag) as reader:
        topics = reader.topics()
        for topic, log_time, msg in reader.messages(list(topics)):
            assert log_time == stamp_to_ns(msg.header), 'log time must equal the header stamp'
            frames.setdefault(stamp_to_ns(msg.header), {})[topic] = msg
    return frames, topics


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_make_bag_from_dlib_round_trip(tmp_path, storage, capsys):
    _need(DLIB)
    out = str(tmp_path / 'bag')
    code = make_bag.main(['--wider', os.path.join(DLIB, 'dlib_bbx_gt.txt'), '--images', os.path.join(DLIB, 'images'),
                          '--out', out, '--storage', storage, '--fps', '4', '--start-time', '100.5',
                          '--frame-id', 'cam0', '--camera-info', '--encoding', 'bgr8', '--quiet'])
    assert code == 0 and '9 frames, 43 ground-truth boxes' in capsys.readouterr().out
    assert glob.glob(os.path.join(out, '*.mcap' if storage == 'mcap' else '*.db3'))
    frames, topics = _read_frames(out)
    assert topics == {'/image_raw': 'sensor_msgs/msg/Image', '/ground_truth': 'vision_msgs/msg/Detection2DArray',
                      '/camera_info': 'sensor_msgs/msg/CameraInfo'}
    stamps = sorted(frames)
    assert stamps == [100500000000 + i * 250000000 for i in range(9)]
    expected = _bbx_gt(os.path.join(DLIB, 'dlib_bbx_gt.txt'))
    names = list(expected)  # file order = publishing order
    for stamp, name in zip(stamps, names):
        msgs = frames[stamp]
        assert set(msgs) == set(topics)
        assert all(m.header.frame_id == 'cam0' for m in msgs.values())
        img = msgs['/image_raw']
        bgr = cv2.imread(os.path.join(DLIB, 'images', name))
        assert (img.encoding, img.height, img.width, img.step) == ('bgr8', bgr.shape[0], bgr.shape[1], bgr.shape[1] * 3)
        assert np.array_equal(img.data.reshape(bgr.shape), bgr)
        info = msgs['/camera_info']
        assert (info.width, info.height) == (bgr.shape[1], bgr.shape[0]) and info.k[0] == bgr.shape[1]
        gt = gt_from_msg(msgs['/ground_truth'])
        np.testing.assert_allclose(gt.boxes, expected[name], atol=1e-9)
        assert gt.wider is None and not gt.ignore.any() and set(gt.labels) == {'face'}
        assert [d.header.stamp.sec for d in msgs['/ground_truth'].detections] == [stamp // 10 ** 9] * len(gt.boxes)


def test_vision_msgs_types_match_the_generated_messages():
    """The registered vision_msgs definitions hash like the rclpy-generated ones (same fields, same layout)."""
    import vision_msgs
    candidates = glob.glob(os.path.join(os.path.dirname(vision_msgs.__file__), '..', '..', '..', '..', 'share',
                                        'vision_msgs', 'msg', 'Detection2DArray.json'))
    if not candidates:
        pytest.skip('no generated type description (Detection2DArray.json) next to this vision_msgs install')
    with open(candidates[0]) as f:
        generated = dict((h['type_name'], h['hash_string']) for h in json.load(f)['type_hashes'])
    ts = make_typestore()
    for name, value in generated.items():
        assert ts.hash_rihs01(name) == value, name


def test_make_bag_wider_with_official_settings(tmp_path):
    """E/M/H membership from the official .mat files rides in the ids; the bag's WIDER AP equals the protocol run on
    the .mat ground truth directly (face_ssd_ros.evaluation.wider_gt), for the same predictions."""
    _need(os.path.join(WIDER_DEV, 'eval_ground_truth'))
    from face_ssd_ros.detect.predictions import image_key
    from face_ssd_ros.evaluation.wider_gt import evaluate_wider, load_wider_eval_gt
    images = [ln.strip() for ln in open(os.path.join(WIDER_DEV, 'images.txt')) if ln.strip()][:6]
    listing = tmp_path / 'list.txt'
    listing.write_text('\n'.join(images) + '\n')
    out = str(tmp_path / 'wider')
    assert make_bag.main(['--wider', os.path.join(WIDER_DEV, 'wider_face_val_bbx_gt.txt'), '--images',
                          os.path.join(WIDER_DEV, 'images'), '--image-list', str(listing), '--wider-eval-gt',
                          WIDER_DEV, '--out', out, '--quiet']) == 0
    official = load_wider_eval_gt(WIDER_DEV, images)
    frames, _ = _read_frames(out)
    rng = np.random.RandomState(0)
    preds_by_key, bag_frames = {}, {}
    for stamp, image in zip(sorted(frames), images):
        gt = gt_from_msg(frames[stamp]['/ground_truth'])
        ref = official[image_key(image)]
        np.testing.assert_allclose(gt.boxes, ref.boxes)
        for s in ('easy', 'medium', 'hard'):
            assert gt.wider_keep()[s].tolist() == sorted(ref.keep[s].tolist())
        # Predictions: jittered ground truth plus clutter, random scores.
        boxes = np.vstack([gt.boxes + rng.uniform(-3, 3, gt.boxes.shape), rng.uniform(0, 300, (5, 2)).repeat(2, 1)
                           + [0, 0, 30, 30]])
        rows = [tuple(b) + (float(s), 'face') for b, s in zip(boxes, rng.uniform(0.05, 1.0, len(boxes)))]
        preds_by_key[image_key(image)] = np.asarray([r[:5] for r in rows])
        bag_frames[stamp] = (gt, rows)
    from face_ssd_ros.evaluation.bag_metrics import compute_metrics
    mine = compute_metrics(bag_frames)['wider']
    theirs = evaluate_wider(preds_by_key, official)
    for s in ('easy', 'medium', 'hard'):
        assert mine['ap'][s] == pytest.approx(theirs.ap[s], abs=1e-12) and mine['num_faces'][s] == theirs.num_faces[s]
    assert 0.0 < mine['ap']['hard'] < 1.0


def test_make_bag_from_voc_folder_difficult_is_ignore(tmp_path):
    root = tmp_path / 'voc'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    img = np.full((60, 80, 3), 90, np.uint8)
    cv2.imwrite(str(root / 'JPEGImages' / 'a.png'), img)
    (root / 'Annotations' / 'a.xml').write_text(
        '<annotation><filename>a.png</filename>'
        '<object><name>face</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax>'
        '<ymax>40</ymax></bndbox></object>'
        '<object><name>face</name><difficult>1</difficult><bndbox><xmin>40</xmin><ymin>5</ymin><xmax>60</xmax>'
        '<ymax>25</ymax></bndbox></object>'
        '<object><name>cat</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>'
        '</annotation>')
    out = str(tmp_path / 'bag')
    assert make_bag.main(['--voc', str(root), '--labels', 'face', '--out', out, '--storage', 'mcap', '--quiet']) == 0
    frames, _ = _read_frames(out)
    (msgs,) = frames.values()
    gt = gt_from_msg(msgs['/ground_truth'])
    np.testing.assert_allclose(gt.boxes, [[1, 2, 30, 40], [40, 5, 60, 25]])
    assert gt.ignore.tolist() == [False, True] and gt.labels == ['face', 'face']
    assert [d.id for d in msgs['/ground_truth'].detections] == ['0', '1;ignore']


def test_make_bag_from_video_and_csv(tmp_path):
    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5.0, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    ann = tmp_path / 'clip.csv'
    ann.write_text('frame,x1,y1,x2,y2,label,ignore\n0,1,1,20,20,face,0\n0,30,5,50,25,face,1\n4,2,3,12,13,face,0\n')
    out = str(tmp_path / 'bag')
    assert make_bag.main(['--video', video, '--annotations', str(ann), '--out', out, '--start-time', '10',
                          '--quiet']) == 0
    frames, _ = _read_frames(out)
    stamps = sorted(frames)
    assert stamps == [10 * 10 ** 9 + i * 200000000 for i in range(6)]  # the video's own 5 fps
    counts = [len(gt_from_msg(frames[s]['/ground_truth']).boxes) for s in stamps]
    assert counts == [2, 0, 0, 0, 1, 0]
    first = gt_from_msg(frames[stamps[0]]['/ground_truth'])
    assert first.ignore.tolist() == [False, True]
    np.testing.assert_allclose(gt_from_msg(frames[stamps[4]]['/ground_truth']).boxes, [[2, 3, 12, 13]])
    # JSONL annotations naming a frame past the end are an error with the reason.
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"frame": 9, "boxes": [[1, 1, 5, 5, "face"]]}\n')
    assert make_bag.main(['--video', video, '--annotations', str(bad), '--out', str(tmp_path / 'b2'), '--quiet']) == 2


def test_make_bag_refuses_bad_input(tmp_path, capsys):
    existing = tmp_path / 'exists'
    existing.mkdir()
    img_dir = tmp_path / 'imgs'
    img_dir.mkdir()
    gt = tmp_path / 'gt.txt'
    gt.write_text('a.jpg\n1\n1 1 5 5 0 0 0 0 0 0\n')
    assert make_bag.main(['--wider', str(gt), '--images', str(img_dir), '--out', str(existing), '--quiet']) == 2
    assert 'exists already' in capsys.readouterr().err
    assert make_bag.main(['--wider', str(gt), '--images', str(img_dir), '--out', str(tmp_path / 'n'), '--quiet']) == 2
    assert 'cannot read image' in capsys.readouterr().err
    assert make_bag.main(['--video', 'x.mp4', '--out', str(tmp_path / 'v')]) == 2
    assert '--annotations' in capsys.readouterr().err


def test_offline_eval_of_recorded_detections(tmp_path, capsys):
    """A bag with ground truth + recorded detection arrays (log time = stamp + 25 ms): AP, latency, report files."""
    bag = str(tmp_path / 'rec')
    base = 5 * 10 ** 9
    with BagWriter(bag, storage='mcap') as w:
        for i, (gt, rows) in enumerate([
                (GroundTruth.create([[0, 0, 10, 10], [20, 20, 30, 30]]),
                 [(0, 0, 10, 10, 0.9, 'face'), (50, 50, 60, 60, 0.8, 'face'), (20, 20, 30, 30, 0.7, 'face')]),
                (GroundTruth.create(np.zeros((0, 4))), [(0, 0, 10, 10, 0.95, 'face')]),
                (GroundTruth.create([[0, 0, 10, 10]]), [])]):
            stamp = base + i * 10 ** 8
            w.write_frame(stamp, 'cam', np.zeros((40, 40, 3), np.uint8), gt)
            w.write_detections(stamp, 'cam', rows, log_time_ns=stamp + 25000000)
        w.write_frame(base + 10 ** 9, 'cam', np.zeros((40, 40, 3), np.uint8), GroundTruth.create([[1, 1, 9, 9]]))
    result, source = bag_eval.evaluate_recorded([bag])
    assert result['voc']['classes']['face']['ap'] == pytest.approx(1.0 / 3.0)
    assert result['frames']['dropped_frames'] == 1 and result['frames']['evaluated_frames'] == 3
    assert result['latency_ms']['count'] == 3 and result['latency_ms']['mean'] == pytest.approx(25.0)
    out = str(tmp_path / 'report')
    assert bag_eval.main([bag, '--out', out, '--name', 'r', '--no-plot']) == 0
    assert 'dropped' in capsys.readouterr().out
    with open(os.path.join(out, 'r.json')) as f:
        assert json.load(f)['voc']['map'] == pytest.approx(1.0 / 3.0)
    assert not os.path.exists(os.path.join(out, 'r_pr.png'))
    # A bag with images and ground truth only: the message says how to get detections.
    only_gt = str(tmp_path / 'gt_only')
    with BagWriter(only_gt) as w:
        w.write_frame(base, 'cam', np.zeros((8, 8, 3), np.uint8), GroundTruth.create([[1, 1, 4, 4]]))
    assert bag_eval.main([only_gt, '--out', out]) == 2
    assert '--model' in capsys.readouterr().err

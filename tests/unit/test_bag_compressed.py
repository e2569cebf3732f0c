"""Robot bags without ROS: CompressedImage bags (JPEG, PNG, a portrait odd-sized frame, a truncated JPEG in the
middle) written and read with rosbags, topic discovery, face-ssd-bag-eval on a bag without ground truth (no
traceback, a plain report), and the detections written back into a copy of the bag and read again."""
import json
import os

import numpy as np
import pytest

import robot_bags
from face_ssd_ros.camera.decode import ImageDecodeError
from face_ssd_ros.evaluation import bag_eval, make_bag
from face_ssd_ros.evaluation.bag_io import COMPRESSED_IMAGE_TYPE, DETECTIONS_TYPE, IMAGE_TYPE, BagError, \
    BagReader, BagWriter, _open_writer, copy_with_detections, decode_image, detection_array_msg, header_msg, \
    make_typestore
from face_ssd_ros.evaluation.gt_encoding import GroundTruth
from face_ssd_ros.stamp_cache import stamp_to_ns


@pytest.fixture(scope='module')
def frames():
    out = robot_bags.robot_frames()
    if out is None:
        pytest.skip('real data not found at %s (CI keeps ../shared beside the clone)' % robot_bags.DLIB)
    return out


@pytest.fixture(scope='module')
def detector():
    from face_ssd_ros.detect.inference import FaceDetector
    with FaceDetector() as det:  # the shipped model, its manifest's thresholds (what --model default uses)
        yield det


@pytest.fixture(scope='module')
def jpeg_bag(frames, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('robot') / 'jpeg_bag')
    return path, robot_bags.write_robot_bag(path, frames, 'jpeg', corrupt_at=1)


def _images(bag):
    """[(log_time, msgtype, msg)] of the image topic, in bag order."""
    with BagReader(bag) as reader:
        topic, msgtype = reader.find_image_topic()
        return [(log, msgtype, msg) for _, log, msg in reader.messages([topic])]


# ---------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize('codec,storage', [('jpeg', 'sqlite3'), ('png', 'mcap')])
def test_robot_bag_round_trip(frames, tmp_path, codec, storage):
    bag = str(tmp_path / codec)
    layout = robot_bags.write_robot_bag(bag, frames, codec, corrupt_at=2, storage=storage)
    assert [rgb is None for _, rgb, _ in layout] == [False, False, True, False]
    with BagReader(bag) as reader:
        assert reader.topics() == {robot_bags.IMAGE_TOPIC: COMPRESSED_IMAGE_TYPE,
                                   robot_bags.INFO_TOPIC: 'sensor_msgs/msg/CameraInfo'}
        assert reader.find_image_topic() == (robot_bags.IMAGE_TOPIC, COMPRESSED_IMAGE_TYPE)
        assert reader.find_ground_truth_topic() is None and reader.storage() == storage
        infos = [msg for _, _, msg in reader.messages([robot_bags.INFO_TOPIC])]
    images = _images(bag)
    assert len(images) == len(infos) == 4
    for (stamp, rgb, name), (log, msgtype, msg), info in zip(layout, images, infos):
        assert log == stamp == stamp_to_ns(msg.header) and msg.header.frame_id == robot_bags.FRAME_ID
        assert msg.format == 'rgb8; %s compressed bgr8' % codec and info.header.stamp == msg.header.stamp
        if rgb is None:
            with pytest.raises(ImageDecodeError, match='truncated %s' % codec.upper()):
                decode_image(msgtype, msg)
            continue
        out = decode_image(msgtype, msg, 'RGB')
        assert out.shape == rgb.shape and (info.width, info.height) == (rgb.shape[1], rgb.shape[0])
        if codec == 'png':
            assert np.array_equal(out, rgb)
        else:
            assert np.abs(out.astype(int) - rgb).mean() < 4.0, name
    portrait = layout[1][1]
    assert portrait.shape[0] > portrait.shape[1] and portrait.shape[0] % 2 == 1 and portrait.shape[1] % 2 == 1


def _write_arrays(path, topics, image_topics=()):
    """A small bag with an empty Detection2DArray on each of ``topics`` and an image on each of
    ``image_topics`` (``{topic: 'raw'|'jpeg'}``)."""
    from face_ssd_ros.evaluation import bag_io
    import rosbags.rosbag2 as rosbag2
    ts = make_typestore()
    writer = _open_writer(rosbag2, path, 'sqlite3')
    header = header_msg(ts, 10 ** 9, 'cam')
    for topic in topics:
        conn = writer.add_connection(topic, DETECTIONS_TYPE, typestore=ts)
        writer.write(conn, 10 ** 9, ts.serialize_cdr(detection_array_msg(ts, header, []), DETECTIONS_TYPE))
    for topic, kind in dict(image_topics).items():
        msgtype = IMAGE_TYPE if kind == 'raw' else COMPRESSED_IMAGE_TYPE
        msg = bag_io.image_msg(ts, header, np.zeros((4, 4, 3), np.uint8)) if kind == 'raw' else \
            bag_io.compressed_image_msg(ts, header, 'jpeg', b'\xff\xd8')
        writer.write(writer.add_connection(topic, msgtype, typestore=ts), 10 ** 9, ts.serialize_cdr(msg, msgtype))
    writer.close()
    return path


@pytest.mark.parametrize('topics,wanted,expected', [
    (['/ground_truth', '/detections'], '', '/ground_truth'),
    (['/cam/ground_truth', '/faces_gt'], '', '/cam/ground_truth'),   # the name decides first
    (['/faces_gt'], '', '/faces_gt'),                                 # the only one (an older bag's own name)
    (['/detections'], '', None),                                      # a detector's output is not ground truth
    (['/face_ssd/detections'], '', None),
    (['/detections'], '/detections', '/detections'),                  # ... unless asked for (--gt-topic)
    ([], '', None),
])
def test_find_ground_truth_topic(tmp_path, topics, wanted, expected):
    with BagReader(_write_arrays(str(tmp_path / 'b'), topics)) as reader:
        assert reader.find_ground_truth_topic(wanted) == expected


def test_find_topic_errors_name_the_choice(tmp_path):
    with BagReader(_write_arrays(str(tmp_path / 'two'), ['/a_gt', '/b_gt'])) as reader:
        with pytest.raises(BagError, match='several Detection2DArray topics could be the ground truth'):
            reader.find_ground_truth_topic('', 'gt_topic_in_bag')
        with pytest.raises(BagError, match="'/nope' is not a vision_msgs/msg/Detection2DArray topic"):
            reader.find_ground_truth_topic('/nope')
    with BagReader(_write_arrays(str(tmp_path / 'imgs'), [], {'/image_raw': 'raw', '/image_raw/compressed': 'jpeg',
                                                               '/other/compressed': 'jpeg'})) as reader:
        assert reader.find_image_topic() == ('/image_raw', IMAGE_TYPE)          # prefers image_raw
        assert reader.find_image_topic('/other/compressed') == ('/other/compressed', COMPRESSED_IMAGE_TYPE)
    with BagReader(_write_arrays(str(tmp_path / 'two_c'), [], {'/a/compressed': 'jpeg', '/b/compressed': 'jpeg'})) \
            as reader:
        with pytest.raises(BagError, match='more than one sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage'):
            reader.find_image_topic('', 'image_topic_in_bag')
    with BagReader(_write_arrays(str(tmp_path / 'none'), ['/ground_truth'])) as reader:
        assert list(reader.raw([])) == [] and len(list(reader.raw(['/ground_truth']))) == 1  # none asked, none read
        with pytest.raises(BagError, match='no sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage topic'):
            reader.find_image_topic()


def test_bag_writer_refuses_what_it_cannot_write(tmp_path, frames):
    with BagWriter(str(tmp_path / 'raw'), ground_truth=False) as bag:
        with pytest.raises(BagError, match='ground_truth=False'):
            bag.write_frame(1, 'cam', frames[0][1], GroundTruth.create([[1, 1, 5, 5]]))
        with pytest.raises(BagError, match='compressed image_format'):
            bag.write_frame(1, 'cam', frames[0][1], image_data=b'\xff\xd8')
    with pytest.raises(BagError, match='image_format must be one of raw, jpeg, png'):
        BagWriter(str(tmp_path / 'x'), image_format='webp')


# ---------------------------------------------------------------------------------------------- face-ssd-bag-eval
def test_bag_eval_without_model_or_ground_truth_says_what_to_do(jpeg_bag, tmp_path, capsys):
    bag, _ = jpeg_bag
    assert bag_eval.main([bag, '--out', str(tmp_path / 'r')]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in captured.err + captured.out
    assert 'no ground truth and no detections' in err and '--model default' in err
    assert '4 images on %s' % robot_bags.IMAGE_TOPIC in err
    assert bag_eval.main([bag, '--jsonl', str(tmp_path / 'x.jsonl')]) == 2
    assert '--model' in capsys.readouterr().err


def test_bag_eval_model_on_a_robot_bag_and_detections_written_back(jpeg_bag, detector, tmp_path, capsys):
    """No ground truth: a plain report (exit 0), JSONL by bag index, a bag copy whose detection arrays carry the
    recorded image headers; the copy then serves later tools: recorded-detections report, and --gt-topic."""
    bag, layout = jpeg_bag
    jsonl, copy, out = str(tmp_path / 'dets.jsonl'), str(tmp_path / 'with_dets'), str(tmp_path / 'report')
    code = bag_eval.main([bag, '--model', 'default', '--jsonl', jsonl, '--write-bag', copy, '--out', out,
                          '--name', 'robot'])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert 'no ground truth in %s: accuracy not computed' % bag in printed
    assert 'undecodable images skipped: 1 (first: image 1: truncated JPEG' in printed
    with open(os.path.join(out, 'robot.json')) as f:
        report = json.load(f)
    assert report['ground_truth'] is False and report['voc'] is None and not os.path.exists(
        os.path.join(out, 'robot_pr.png'))
    frames = report['frames']
    assert (frames['images'], frames['detection_arrays'], frames['dropped_frames']) == (4, 3, 1)
    assert report['source']['undecodable_images'] == 1 and report['source']['image_topic'] == robot_bags.IMAGE_TOPIC

    # the offline run, frame by frame, for the expected values
    expected = {}
    for index, (stamp, rgb, _) in enumerate(layout):
        if rgb is not None:
            decoded = decode_image(COMPRESSED_IMAGE_TYPE, _images(bag)[index][2], 'RGB')
            expected[index] = [(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in detector.detect(decoded)[0]]
    assert sum(len(v) for v in expected.values()) >= 5 and report['detections']['boxes'] == sum(
        len(v) for v in expected.values())

    lines = [json.loads(line) for line in open(jsonl)]
    assert [r['bag_index'] for r in lines] == [0, 2, 3]
    for r in lines:
        stamp = layout[r['bag_index']][0]
        assert (r['stamp']['sec'], r['stamp']['nanosec'], r['frame_id']) == (stamp // 10 ** 9, stamp % 10 ** 9,
                                                                               robot_bags.FRAME_ID)
        assert np.allclose([b[:5] for b in r['boxes']], [row[:5] for row in expected[r['bag_index']]], atol=0.01)

    # the copy: every original message unchanged, plus one array per decodable image with the image's header
    with BagReader(bag) as src, BagReader(copy) as dst:
        assert dst.topics() == dict(src.topics(), **{'/detections': DETECTIONS_TYPE})
        original = [(t, log, bytes(d)) for t, _, log, d in src.raw(list(src.topics()))]
        copied = [(t, log, bytes(d)) for t, _, log, d in dst.raw(list(src.topics()))]
        assert copied == original
        arrays = [(log, msg) for _, log, msg in dst.messages(['/detections'])]
    assert len(arrays) == 3
    for (log, msg), index in zip(arrays, (0, 2, 3)):
        stamp = layout[index][0]
        assert stamp_to_ns(msg.header) == stamp and msg.header.frame_id == robot_bags.FRAME_ID
        assert log >= stamp and [d.header.frame_id for d in msg.detections] == [robot_bags.FRAME_ID] * len(
            msg.detections)
        rows = [(d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y,
                 d.results[0].hypothesis.score) for d in msg.detections]
        want = [((r[0] + r[2]) / 2, (r[1] + r[3]) / 2, r[2] - r[0], r[3] - r[1], r[4]) for r in expected[index]]
        # offline evaluation runs without the tracker (frames may be skipped): no track ids
        assert np.allclose(rows, want, atol=1e-4) and [d.id for d in msg.detections] == [''] * len(want)

    # later tools: the copy's recorded detections (no ground truth), and the detections as the reference
    assert bag_eval.main([copy, '--out', out, '--name', 'recorded', '--no-plot']) == 0
    with open(os.path.join(out, 'recorded.json')) as f:
        recorded = json.load(f)
    assert recorded['ground_truth'] is False and recorded['frames']['dropped_frames'] == 1
    assert recorded['latency_ms']['count'] == 3 and 0.0 < recorded['latency_ms']['max'] < 10000.0  # detect ms
    capsys.readouterr()
    result, _ = bag_eval.evaluate_with_model(copy, detector, gt_topic='/detections')
    face = result['voc']['classes']['face']
    assert result['ground_truth'] is True and face['ap'] == pytest.approx(1.0)   # a model against itself
    assert face['num_gt'] == face['num_det'] == report['detections']['boxes']
    assert result['frames']['evaluated_frames'] == 3 and result['frames']['dropped_frames'] == 0


def test_copy_with_detections_refuses_to_overwrite(jpeg_bag, tmp_path):
    bag, _ = jpeg_bag
    with pytest.raises(BagError, match='already has a topic %s' % robot_bags.IMAGE_TOPIC):
        copy_with_detections(bag, str(tmp_path / 'c'), robot_bags.IMAGE_TOPIC, {}, topic=robot_bags.IMAGE_TOPIC)
    with pytest.raises(BagError, match='not an image topic'):
        copy_with_detections(bag, str(tmp_path / 'c'), robot_bags.INFO_TOPIC, {})
    (tmp_path / 'exists').mkdir()
    with pytest.raises(BagError, match='exists already'):
        copy_with_detections(bag, str(tmp_path / 'exists'), robot_bags.IMAGE_TOPIC, {})
    done = copy_with_detections(bag, str(tmp_path / 'mcap_copy'), robot_bags.IMAGE_TOPIC,
                                {3: ([(1, 2, 11, 22, 0.5, 'face')], 7 * 10 ** 6)}, storage='mcap')
    assert done == {'arrays': 1, 'messages': 8, 'skipped_topics': []}
    with BagReader(str(tmp_path / 'mcap_copy')) as reader:
        assert reader.storage() == 'mcap'
        (_, log, msg), = list(reader.messages(['/detections']))
    assert log == robot_bags.START_NS + 3 * robot_bags.PERIOD_NS + 7 * 10 ** 6   # image log time + latency
    assert (msg.detections[0].bbox.size_x, msg.detections[0].bbox.size_y) == (10.0, 20.0)


def test_png_bag_gives_the_detections_of_the_raw_frames(frames, detector, tmp_path):
    """PNG is lossless: the model sees the same pixels as from a raw Image bag, so the detections are equal."""
    raw = str(tmp_path / 'raw')
    with BagWriter(raw, ground_truth=False, encoding='bgr8') as bag:
        for i, (_, rgb) in enumerate(frames):
            bag.write_frame(robot_bags.START_NS + i * robot_bags.PERIOD_NS, 'cam', rgb)
    png = str(tmp_path / 'png')
    robot_bags.write_robot_bag(png, frames, 'png', corrupt_at=None)
    rows = {}
    for name in (raw, png):
        got = rows.setdefault(name, {})
        result, source = bag_eval.evaluate_with_model(
            name, detector, on_frame=lambda index, key, frame_id, r, ms: got.__setitem__(index, r))
        assert source['undecodable_images'] == 0 and result['frames']['dropped_frames'] == 0
    assert sorted(rows[raw]) == [0, 1, 2] and rows[raw] == rows[png]
    assert len(rows[png][1]) >= 1   # faces are found on the portrait, odd-sized frame too


def test_make_bag_writes_compressed_evaluation_bags(tmp_path, detector):
    dlib = robot_bags.DLIB
    if not os.path.isdir(dlib):
        pytest.skip('real data not found at %s' % dlib)
    out = str(tmp_path / 'jpeg_eval')
    assert make_bag.main(['--wider', os.path.join(dlib, 'dlib_bbx_gt.txt'), '--images', os.path.join(dlib, 'images'),
                          '--out', out, '--image-format', 'jpeg', '--max-frames', '2', '--quiet']) == 0
    with BagReader(out) as reader:
        assert reader.topics() == {'/image_raw/compressed': COMPRESSED_IMAGE_TYPE, '/ground_truth': DETECTIONS_TYPE}
    result, source = bag_eval.evaluate_with_model(out, detector)
    assert result['ground_truth'] is True and result['frames']['evaluated_frames'] == 2
    assert result['voc']['classes']['face']['ap'] > 0.5 and source['image_type'] == COMPRESSED_IMAGE_TYPE

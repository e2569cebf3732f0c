"""The same pipeline in one process (face_ssd_ros.runner), plus node behaviour that needs a live ROS graph:
runtime parameter validation, skipped frames, a camera without its device, Ctrl-C of the runner CLI."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from face_ssd_ros import runner
from face_ssd_ros.config.pipeline import build_pipeline

FRAME_ID = 'inproc_cam'


def _overrides(folder, model_path, **extra):
    values = {'camera.source': folder, 'camera.publish_rate': 4.0, 'camera.frame_id': FRAME_ID,
              'camera.qos_reliability': 'reliable', 'detector.qos_reliability': 'reliable',
              'overlay.qos_reliability': 'reliable', 'detector.model_path': model_path}
    values.update(extra)
    return values


@pytest.mark.timeout(90)
def test_in_process_pipeline_and_runtime_parameters(frames, model_path, helpers, ros_context):
    from rclpy.parameter import Parameter

    folder, listing = frames
    descs = build_pipeline(namespace='inproc', overrides=_overrides(folder, model_path))
    nodes = runner.create_nodes(descs, ros_context)
    col = helpers.make_collector(ros_context, '/inproc')
    executor, spin = helpers.spin_nodes(ros_context, list(nodes.values()) + [col])
    try:
        helpers.wait_for(lambda: col.count_subscribers('/inproc/image_raw') >= 3, 20, 'the subscribers', spin=spin)
        assert runner.start_camera(nodes, executor) >= 3
        helpers.wait_for(lambda: len(col.annotated) >= len(listing) and nodes['camera'].finished.is_set(), 40,
                         'all frames annotated', spin=spin)
        for _ in range(10):
            spin()
        assert helpers.check_pipeline_output(col, listing, FRAME_ID) == len(listing)  # every frame, none lost
        detector = nodes['detector']
        assert detector.stats.counter('frames_processed') == len(listing)
        assert detector.stats.counter('empty_frames') == 1

        # Runtime parameters: invalid values rejected with the reason, valid ones applied to the model.
        bad = detector.set_parameters([Parameter('score_threshold', value=2.0)])[0]
        assert not bad.successful and 'score_threshold' in bad.reason
        bad = detector.set_parameters([Parameter('class_filter', Parameter.Type.STRING_ARRAY, ['cat'])])[0]
        assert not bad.successful and "['cat']" in bad.reason
        bad = detector.set_parameters([Parameter('max_detections', value=0)])[0]
        assert not bad.successful
        bad = detector.set_parameters([Parameter('nms_iou', value='high')])[0]
        assert not bad.successful
        assert detector.detector.score_threshold == pytest.approx(0.6)
        ok = detector.set_parameters([Parameter('score_threshold', value=0.75),
                                      Parameter('class_filter', Parameter.Type.STRING_ARRAY, ['face']),
                                      Parameter('max_detections', value=5)])
        assert all(r.successful for r in ok)
        assert (detector.detector.score_threshold, detector.detector.class_filter,
                detector.detector.max_detections) == (0.75, ['face'], 5)
        assert detector.get_parameter('score_threshold').value == 0.75
        ok = detector.set_parameters([Parameter('class_filter', value=[])])[0]  # [] from `ros2 param set`
        assert ok.successful and detector.detector.class_filter == []
        overlay = nodes['overlay']
        assert not overlay.set_parameters([Parameter('jpeg_quality', value=101)])[0].successful
        assert not overlay.set_parameters([Parameter('video_path', value='/tmp/x.mp4')])[0].successful  # read-only
        assert overlay.last_annotated is not None and overlay.last_annotated.ndim == 3
    finally:
        for node in reversed(list(nodes.values())):
            node.destroy_node()
        col.destroy_node()


@pytest.mark.timeout(60)
def test_detector_skips_unsupported_frames_and_publishes_empty_arrays(model_path, helpers, ros_context):
    import numpy as np
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from face_ssd_ros.msgs.convert import array_to_image_msg

    desc = build_pipeline(namespace='skip', nodes=['detector'], overrides={
        'detector.model_path': model_path, 'detector.qos_reliability': 'reliable'})
    detector = runner.create_nodes(desc, ros_context)['detector']
    col = helpers.make_collector(ros_context, '/skip')
    pub = col.create_publisher(Image, 'image_raw', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    executor, spin = helpers.spin_nodes(ros_context, [detector, col])
    try:
        helpers.wait_for(lambda: pub.get_subscription_count() >= 1, 20, 'the detector subscription', spin=spin)
        header = Header(frame_id='odd')
        header.stamp.sec, header.stamp.nanosec = 100, 5
        pub.publish(Image(header=header, height=2, width=2, encoding='32FC1', step=8, data=bytes(16)))
        helpers.wait_for(lambda: detector.stats.counter('skipped_unsupported_encoding') == 1, 10,
                         'the float image to be skipped', spin=spin)
        header.stamp.sec = 101
        pub.publish(Image(header=header, height=4, width=4, encoding='rgb8', step=12, data=bytes(10)))  # truncated
        helpers.wait_for(lambda: detector.stats.counter('skipped_image_size') == 1, 10,
                         'the truncated image to be skipped', spin=spin)
        header.stamp.sec = 102
        pub.publish(array_to_image_msg(np.full((120, 160, 3), 128, np.uint8), header, 'rgb8'))
        helpers.wait_for(lambda: len(col.arrays) == 1, 10, 'the array of the flat grey frame', spin=spin)
        assert col.arrays[0][:2] == ((102, 5), 'odd') and col.arrays[0][2] == []  # empty, header unchanged
        status = detector.diagnostics_status()
        values = dict((kv.key, kv.value) for kv in status.values)
        assert values['skipped_unsupported_encoding'] == '1' and values['frames_processed'] == '1'
        assert 'skipping frames' in status.message
    finally:
        detector.destroy_node()
        col.destroy_node()


@pytest.mark.timeout(30)
def test_camera_without_device_retries_and_stays_alive(ros_context):
    from rclpy.executors import SingleThreadedExecutor
    desc = build_pipeline(nodes=['camera'], namespace='nodev', overrides={
        'camera.source': '/dev/video63', 'camera.reconnect_initial_delay': 0.05, 'camera.reconnect_max_delay': 0.2})
    camera = runner.create_nodes(desc, ros_context)['camera']
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(camera)
    camera.start()
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
    failures = camera.stats.counter('open_failures')
    t0 = time.monotonic()
    camera.destroy_node()  # stops the retry loop promptly
    assert time.monotonic() - t0 < 2.0
    assert 3 <= failures <= 30, failures  # 0.05, 0.1, 0.2, 0.2, ... s between attempts
    assert not camera.finished.is_set()


@pytest.mark.timeout(60)
def test_runner_records_jsonl_and_stops_at_end_of_file(frames, model_path, tmp_path):
    folder, listing = frames
    jsonl = str(tmp_path / 'out' / 'detections.jsonl')
    summary = runner.run(build_pipeline(namespace='rec', overrides=_overrides(folder, model_path)), jsonl=jsonl)
    assert summary['stopped_by'] == 'camera finished'
    assert (summary['frames'], summary['processed'], summary['arrays_recorded'], summary['annotated']) == (3, 3, 3, 3)
    assert summary['detections'] == sum(summary['labels'].values()) >= 2
    assert list(summary['stages'])[:6] == ['conversion', 'preprocess', 'inference', 'postprocess', 'tracking',
                                           'publish']
    lines = [json.loads(line) for line in open(jsonl)]
    assert len(lines) == 3 and all(r['frame_id'] == FRAME_ID for r in lines)
    assert len(set((r['stamp']['sec'], r['stamp']['nanosec']) for r in lines)) == 3
    assert lines[-1]['boxes'] == []  # the negative frame comes last
    for x1, y1, x2, y2, score, label, track_id in lines[0]['boxes']:
        assert 0 <= x1 < x2 and 0 <= y1 < y2 and 0 < score <= 1 and label == 'face'
        assert track_id is None  # the first frame: tracks are confirmed after track_min_hits (2) frames
    assert 'frames processed by the detector: 3' in runner.format_summary(summary)
    assert 0 < summary['cpu_percent'] < 100.0 * (os.cpu_count() or 1)  # every thread of this process counted
    assert 'CPU: ' in runner.format_summary(summary)


@pytest.mark.timeout(90)
def test_runner_cli_ctrl_c_prints_summary(frames, model_path, tmp_path):
    folder, _ = frames
    cmd = [sys.executable, '-m', 'face_ssd_ros.runner', '--source', folder, '--model', model_path,
           '--namespace', 'cli', '--set', 'camera.loop=true', '--set', 'camera.publish_rate=5']
    log = open(str(tmp_path / 'runner.err'), 'w')
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, universal_newlines=True)
    try:
        deadline = time.monotonic() + 45
        while 'detector ready' not in open(str(tmp_path / 'runner.err')).read():
            assert proc.poll() is None and time.monotonic() < deadline, open(str(tmp_path / 'runner.err')).read()
            time.sleep(0.2)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    err = open(str(tmp_path / 'runner.err')).read()
    assert proc.returncode == 0, err
    assert 'stopped by interrupted' in out and 'inference' in out
    processed = int(out.split('frames processed by the detector: ')[1].split()[0])
    assert processed >= 3, out
    assert 'camera summary' in err and 'Traceback' not in err


def test_runner_cli_rejects_bad_config(capsys):
    assert runner.main(['--set', 'detector.score_threshold=7']) == 2
    assert 'score_threshold' in capsys.readouterr().err


def test_parameter_descriptors_carry_ranges_choices_and_read_only(ros_context):
    from rcl_interfaces.msg import ParameterType
    from rclpy.node import Node

    from face_ssd_ros.config import params
    from face_ssd_ros.nodes.common import ParameterHandler

    node = Node('descriptor_check', context=ros_context)
    try:
        ParameterHandler(node, params.DETECTOR_PARAMS)
        score, backend, model, filt = node.describe_parameters(['score_threshold', 'backend', 'model_path',
                                                                'class_filter'])
        assert score.floating_point_range[0].from_value == 0.0 and score.floating_point_range[0].to_value == 1.0
        assert not score.read_only and 'run time' in score.additional_constraints
        assert 'Minimum class score' in score.description
        assert backend.read_only and 'one of: auto, onnxruntime, tensorrt, torch' in backend.additional_constraints
        assert model.read_only and model.type == ParameterType.PARAMETER_STRING
        assert filt.dynamic_typing and node.get_parameter('class_filter').value == []
        assert node.get_parameter('max_detections').value == 200
    finally:
        node.destroy_node()


def test_wrongly_typed_runtime_changes_are_rejected_with_the_nodes_reason(ros_context):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from face_ssd_ros.config import params
    from face_ssd_ros.nodes.common import ParameterHandler

    node = Node('type_check', context=ros_context)
    try:
        ParameterHandler(node, params.DETECTOR_PARAMS)
        assert all(d.dynamic_typing for d in node.describe_parameters([s.name for s in params.DETECTOR_PARAMS]))
        for param, words in ((Parameter('score_threshold', value='high'), "score_threshold must be a number, got "
                                                                          "'high' (str)"),
                             (Parameter('score_threshold', value=1), 'write 1.0'),
                             (Parameter('max_detections', value=2.5), 'max_detections must be an integer'),
                             (Parameter('class_filter', value='face'), 'class_filter must be a list of strings'),
                             (Parameter('class_filter'), 'class_filter cannot be unset')):
            result = node.set_parameters([param])[0]
            assert not result.successful and words in result.reason, (param.name, result.reason)
            assert 'Wrong parameter type' not in result.reason
        values = [node.get_parameter(n).value for n in ('score_threshold', 'max_detections', 'class_filter')]
        assert values == [0.6, 200, []] and node.get_parameter('score_threshold').type_ == Parameter.Type.DOUBLE
        assert node.set_parameters([Parameter('score_threshold', value=0.4)])[0].successful
        assert node.get_parameter('score_threshold').value == 0.4
    finally:
        node.destroy_node()

"""Stops and neighbours on a live ROS graph: SIGTERM ends the runner and the node processes like Ctrl-C (JSONL
flushed, video finalised, summary printed); a second pipeline or camera on the same topic and a QoS mismatch are
warned about once and counted on /diagnostics; every frame of a run is accounted for, and a 6000x4000 frame at the
end of an image folder still reaches the detector, the overlay and the video."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import cv2
import pytest

from face_ssd_ros import runner
from face_ssd_ros.config.pipeline import build_pipeline


def _wait_file(path, predicate, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        text = open(path).read() if os.path.exists(path) else ''
        if predicate(text):
            return text
        assert proc is None or proc.poll() is None, 'process ended early:\n%s' % text
        assert time.monotonic() < deadline, 'timed out; so far:\n%s' % text
        time.sleep(0.1)


def _video_frames(path, fps=None):
    """Frames in the video file at ``path`` (it must open); with ``fps``, also assert the file's rate."""
    cap = cv2.VideoCapture(path)
    assert cap.isOpened(), '%s does not open' % path
    if fps is not None:
        assert abs(cap.get(cv2.CAP_PROP_FPS) - fps) < 1.0, 'video rate %.2f, source %.2f' % (
            cap.get(cv2.CAP_PROP_FPS), fps)
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


@pytest.mark.timeout(120)
def test_runner_ends_on_sigterm_like_ctrl_c(frames, model_path, tmp_path):
    folder, _ = frames
    jsonl, video, err = str(tmp_path / 'd.jsonl'), str(tmp_path / 'a.mp4'), str(tmp_path / 'runner.err')
    cmd = [sys.executable, '-m', 'face_ssd_ros.runner', '--source', folder, '--model', model_path,
           '--namespace', 'term', '--set', 'camera.loop=true', '--set', 'camera.publish_rate=6',
           '--set', 'overlay.video_path=' + video, '--jsonl', jsonl]
    with open(err, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, universal_newlines=True)
        try:
            _wait_file(jsonl, lambda t: t.count('\n') >= 12, 60, proc)   # past the video's rate estimate
            proc.send_signal(signal.SIGTERM)                             # what docker stop / systemd send
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = open(err).read()
    assert proc.returncode == 0 and 'Traceback' not in text, text
    assert 'stopped by interrupted (SIGTERM)' in out and 'frame accounting' in out, out
    records = [json.loads(line) for line in open(jsonl)]
    assert len(records) >= 12 and all(r['frame_id'] == 'camera' for r in records)
    annotated = int(out.split('frames annotated by the overlay: ')[1].split()[0])
    # finalised: the mp4 opens, every annotated frame is in it, at the camera's rate (video_fps 0: the source's)
    assert _video_frames(video, fps=6.0) == annotated >= 12
    assert 'camera summary' in text and 'overlay summary' in text


@pytest.mark.timeout(150)
def test_node_processes_end_on_sigterm_with_their_summaries(frames, model_path, tmp_path):
    folder, _ = frames
    video = str(tmp_path / 'nodes.mp4')
    descriptions = build_pipeline(namespace='nodeterm', overrides={
        'camera.source': folder, 'camera.loop': True, 'camera.publish_rate': 6.0, 'detector.model_path': model_path,
        'overlay.video_path': video, 'overlay.video_fps': 6.0})
    procs = []
    try:
        for d in descriptions:
            log_path = str(tmp_path / (d.key + '.log'))
            procs.append((d.key, log_path, subprocess.Popen(d.command(), stdout=open(log_path, 'w'),
                                                            stderr=subprocess.STDOUT)))
        overlay_log = [p for p in procs if p[0] == 'overlay'][0]
        _wait_file(overlay_log[1], lambda t: 'writing annotated video' in t, 90, overlay_log[2])
        time.sleep(1.0)
        for _, _, proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = dict((key, proc.wait(30)) for key, _, proc in procs)
    finally:
        for _, _, proc in procs:
            if proc.poll() is None:
                proc.kill()
    logs = dict((key, open(path).read()) for key, path, _ in procs)
    assert codes == {'camera': 0, 'detector': 0, 'overlay': 0}, logs
    for key, text in logs.items():
        assert 'Traceback' not in text and 'stopping on SIGTERM' in text, text
        assert '%s summary' % key in text, text
    assert _video_frames(video) >= 1


def _camera(ros_context, folder, namespace, frame_id, rate=10.0, qos='best_effort', autostart=True):
    from rclpy.parameter import Parameter
    from face_ssd_ros.nodes.camera_node import CameraNode
    params = [Parameter('source', value=folder), Parameter('loop', value=True), Parameter('publish_rate', value=rate),
              Parameter('frame_id', value=frame_id), Parameter('qos_reliability', value=qos)]
    return CameraNode(node_name='other_camera', namespace=namespace, parameter_overrides=params, context=ros_context,
                      autostart=autostart)


def _spin_in_thread(context, node):
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    stop = threading.Event()

    def loop():
        while not stop.is_set() and context.ok():
            executor.spin_once(timeout_sec=0.05)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return stop, thread


@pytest.mark.timeout(90)
@pytest.mark.parametrize('executor', ['auto', 'single'])
def test_a_second_pipeline_on_the_same_topics_is_reported(frames, model_path, ros_context, tmp_path, capfd, executor):
    """Another camera (another process's, here another context) on the runner's image topic: the runner warns at
    start-up, the detector warns once and counts the mixed frames, the accounting shows the extra frames. With
    either executor: the events executor (auto, where rclpy has it) gives no message info, the single-threaded one
    does (publisher gids and sequence numbers)."""
    folder, _ = frames
    other = _camera(ros_context, folder, 'nb', 'other_cam', rate=10.0)
    stop, thread = _spin_in_thread(ros_context, other)
    lines = []
    try:
        summary = runner.run(build_pipeline(namespace='nb', overrides={
            'camera.source': folder, 'camera.loop': True, 'camera.max_frames': 12, 'camera.publish_rate': 5.0,
            'detector.model_path': model_path}), executor=executor, log=lines.append)
    finally:
        stop.set()
        thread.join(5)
        other.destroy_node()
    err = capfd.readouterr().err
    startup = [line for line in lines if '/nb/image_raw' in line]
    assert startup and 'publishers' in startup[0] and '--namespace' in startup[0], lines
    assert err.count('[nb.detector]: this detector receives frames from 2 frame_ids') == 1, err   # warned once ...
    assert err.count('[nb.overlay]: this overlay receives frames from 2 frame_ids') == 2   # images and detections
    detector = summary['nodes']['detector']
    counters = dict(detector.watch_values()[0])
    assert int(counters['frames_from_mixed_sources']) >= 1 and counters['frame_ids_seen'] == '2'   # ... counted
    assert int(counters['input_publishers']) == 2
    acc = summary['accounting']
    assert acc['published'] == 12 and acc['from_other_publishers'] >= 1
    assert 'another publisher feeds the same image topic' in runner.format_summary(summary)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('managed', [False, True], ids=['detector_node', 'lifecycle_detector_node'])
def test_qos_mismatch_is_warned_within_a_second_and_counted(frames, model_path, ros_context, helpers, capfd, managed):
    """Both detector nodes (their shared DetectorCore) watch their input alike."""
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from face_ssd_ros.nodes.detector_node import DetectorNode
    from face_ssd_ros.nodes.lifecycle_detector_node import LifecycleDetectorNode
    folder, _ = frames
    node_class = LifecycleDetectorNode if managed else DetectorNode
    ns = 'qos_managed' if managed else 'qos'   # (a namespace of its own: the graph forgets endpoints slowly)
    detector = node_class(node_name='detector', namespace=ns, context=ros_context, parameter_overrides=[
        Parameter('model_path', value=model_path), Parameter('qos_reliability', value='reliable')])
    camera = _camera(ros_context, folder, ns, 'camera', autostart=False)    # best effort publisher
    probe = Node('reliable_probe', namespace=ns, context=ros_context)
    _, spin = helpers.spin_nodes(ros_context, [detector, camera, probe])
    try:
        t0 = time.monotonic()
        probe.create_subscription(Image, 'image_raw', lambda m: None,
                                  QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        helpers.wait_for(lambda: detector.qos_mismatches >= 1 and camera.qos_mismatches >= 1, 10,
                         'the incompatible-QoS events', spin=spin)
        assert time.monotonic() - t0 < 1.5
        err = capfd.readouterr().err
        assert err.count('QoS mismatch on /{0}/image_raw (RELIABILITY): this subscription requests '
                         'reliability=reliable, publisher /{0}/other_camera offers reliability=best_effort'
                         .format(ns)) == 1, err
        assert 'this publisher offers reliability=best_effort, subscription' in err and 'qos_reliability' in err
        status = detector.diagnostics_status()
        values = dict((kv.key, kv.value) for kv in status.values)
        assert int(values['qos_mismatches']) >= 1 and status.level == status.WARN and 'QoS' in status.message
        assert dict((kv.key, kv.value) for kv in camera.diagnostics_status().values)['qos_mismatches'] != '0'
    finally:
        for node in (probe, camera, detector):
            node.destroy_node()


@pytest.mark.timeout(90)
def test_every_frame_is_accounted_and_a_6000x4000_last_frame_reaches_the_video(frames, model_path, tmp_path):
    folder, listing = frames
    work = tmp_path / 'big'
    shutil.copytree(folder, str(work))
    photo = cv2.imread(os.path.join(folder, listing[0][0]))
    assert cv2.imwrite(str(work / '99_big.jpg'), cv2.resize(photo, (6000, 4000)))
    video = str(tmp_path / 'big.mp4')
    summary = runner.run(build_pipeline(namespace='big', overrides={
        'camera.source': str(work), 'detector.model_path': model_path, 'overlay.video_path': video}),
        jsonl=str(tmp_path / 'big.jsonl'))
    acc = summary['accounting']
    assert summary['stopped_by'] == 'camera finished' and acc['published'] == len(listing) + 1
    assert acc['complete'] and acc['from_other_publishers'] == 0
    assert acc['published'] == acc['processed'] + sum(acc['skipped'].values()) + acc['not_received']
    assert acc['annotated'] == acc['processed'] == acc['written'] >= 2 and acc['pending_arrays'] == 0
    overlay = summary['nodes']['overlay']
    assert overlay.last_annotated.shape == (4000, 6000, 3)       # the last frame, the big one, was drawn ...
    assert _video_frames(video) == acc['written']                 # ... and written (resized to the video's size)
    text = runner.format_summary(summary)
    assert 'frame accounting: %d published' % acc['published'] in text and 'written to the video' in text

"""camera -> detector -> overlay as three separate processes (python -m face_ssd_ros.nodes.*), real DDS.

Started exactly as a launch file would start them: the command lines come from face_ssd_ros.config.pipeline.
"""
import os
import signal
import subprocess

import numpy as np
import pytest

from face_ssd_ros.config.pipeline import build_pipeline

NAMESPACE = 'itest'
FRAME_ID = 'test_cam'


def _descriptions(folder, model_path):
    return build_pipeline(namespace=NAMESPACE, overrides={
        'camera.source': folder, 'camera.loop': True, 'camera.publish_rate': 3.0, 'camera.frame_id': FRAME_ID,
        'camera.qos_reliability': 'reliable', 'detector.qos_reliability': 'reliable',
        'overlay.qos_reliability': 'reliable', 'detector.model_path': model_path,
        'detector.diagnostics_period': 0.5, 'overlay.publish_compressed': True})


class Process(object):
    """A node process with its output in a file (no pipe to fill up)."""

    def __init__(self, description, folder):
        self.name = description.key
        self.log_path = os.path.join(folder, self.name + '.log')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(description.command(), stdout=self._log, stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGINT, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                pytest.fail('%s did not stop within %d s after %s:\n%s' % (self.name, timeout, sig, self.output()))
        self._log.close()
        return self.proc.returncode


def _set_parameter(node, executor, helpers, name, value):
    """Call /itest/detector/set_parameters; returns the SetParametersResult."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter
    client = node.create_client(SetParameters, '/%s/detector/set_parameters' % NAMESPACE)
    helpers.wait_for(lambda: client.service_is_ready(), 20, 'the detector parameter service',
                     spin=lambda: executor.spin_once(timeout_sec=0.05))
    if isinstance(value, list):
        param = Parameter(name, Parameter.Type.STRING_ARRAY, value)
    else:
        param = Parameter(name, value=value)
    future = client.call_async(SetParameters.Request(parameters=[param.to_parameter_msg()]))
    helpers.wait_for(future.done, 10, 'the set_parameters reply for %s' % name,
                     spin=lambda: executor.spin_once(timeout_sec=0.05))
    node.destroy_client(client)
    return future.result().results[0]


@pytest.mark.timeout(150)
def test_pipeline_as_separate_processes(frames, model_path, helpers, tmp_path):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage

    folder, listing = frames
    camera_desc, detector_desc, overlay_desc = _descriptions(folder, model_path)
    context = Context()
    rclpy.init(context=context)
    procs = []
    try:
        col = helpers.make_collector(context, '/' + NAMESPACE)
        diagnostics, compressed = [], []
        col.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
        col.create_subscription(CompressedImage, 'image_annotated/compressed', compressed.append,
                                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(col)
        spin = lambda: executor.spin_once(timeout_sec=0.05)  # noqa: E731

        procs += [Process(detector_desc, str(tmp_path)), Process(overlay_desc, str(tmp_path))]
        topic = '/%s/image_raw' % NAMESPACE
        helpers.wait_for(lambda: col.count_subscribers(topic) >= 3 or any(p.proc.poll() is not None for p in procs),
                         60, 'detector and overlay to subscribe to %s' % topic, spin=spin)
        for p in procs:
            assert p.proc.poll() is None, '%s exited early:\n%s' % (p.name, p.output())

        camera = Process(camera_desc, str(tmp_path))
        procs.append(camera)
        # DDS discovery of a new process can take seconds and differs per subscriber, so frames published before
        # every endpoint was matched may reach some subscribers only. The camera loops over the folder; checks
        # start with the first frame stamped after an image, an array and an annotated image all came back.
        helpers.wait_for(lambda: col.images and col.arrays and col.annotated and col.infos, 60,
                         lambda: 'the first frame through the whole pipeline (got %d images, %d arrays, %d '
                         'annotated)\ncamera log:\n%s\ndetector log:\n%s\noverlay log:\n%s' % (
                             len(col.images), len(col.arrays), len(col.annotated), camera.output(),
                             procs[0].output(), procs[1].output()), spin=spin)
        after = col.images[-1][0]
        wanted = 2 * len(listing)  # every file twice
        helpers.wait_for(lambda: len([i for i in col.images if i[0] > after]) >= wanted + 1, 30,
                         lambda: '%d more frames' % (wanted + 1), spin=spin)
        # Frames in flight at Ctrl-C may reach only some subscribers: not checked. The camera publishes a frame's
        # camera_info right after its image, so the newest image's info may be lost at shutdown; the window ends one
        # frame earlier, whose messages were all published before the newest image was.
        until = col.images[-2][0]
        assert camera.stop() == 0, camera.output()  # Ctrl-C: clean exit
        assert 'camera summary' in camera.output()
        window = [i[0] for i in col.images if after < i[0] <= until]
        helpers.wait_for(lambda: set(window) <= set(s for s, _, _ in col.annotated), 20,
                         lambda: 'the last frames to be annotated', spin=spin)
        for _ in range(20):  # anything late would break "exactly one per frame"
            spin()
        checked = helpers.check_pipeline_output(col, listing, FRAME_ID, after=after, until=until)
        assert checked >= wanted

        # JPEG side channel decodes to the annotated image size.
        import cv2
        assert compressed, 'no image_annotated/compressed message'
        jpeg = cv2.imdecode(np.frombuffer(bytes(compressed[-1].data), np.uint8), cv2.IMREAD_COLOR)
        sizes = dict((s, d[:2]) for s, _, d in col.annotated)
        assert (jpeg.shape[1], jpeg.shape[0]) == sizes[helpers.stamp_of(compressed[-1].header)]
        assert 'jpeg' in compressed[-1].format

        # Diagnostics from the detector process with per-stage latency and the processed count.
        helpers.wait_for(lambda: any(int(dict((kv.key, kv.value) for kv in st.values).get('frames_processed', 0))
                                     >= wanted for d in diagnostics for st in d.status), 10,
                         'a /diagnostics status with frames_processed >= %d' % wanted, spin=spin)
        status = [st for d in diagnostics for st in d.status if 'detector' in st.name][-1]
        keys = set(kv.key for kv in status.values)
        for stage in ('conversion', 'preprocess', 'inference', 'postprocess', 'publish'):
            assert '%s_ms_mean' % stage in keys and '%s_ms_p95' % stage in keys

        # Runtime parameter changes over the parameter service: invalid ones rejected with the reason.
        result = _set_parameter(col, executor, helpers, 'score_threshold', 2.0)
        assert not result.successful and 'score_threshold' in result.reason
        result = _set_parameter(col, executor, helpers, 'class_filter', ['dog'])
        assert not result.successful and 'dog' in result.reason and 'face' in result.reason
        result = _set_parameter(col, executor, helpers, 'model_path', '/tmp/other.onnx')
        assert not result.successful and 'read-only' in result.reason
        result = _set_parameter(col, executor, helpers, 'score_threshold', 0.9)
        assert result.successful, result.reason

        # Ctrl-C: clean exit 0 with the summaries.
        detector_proc, overlay_proc = procs[0], procs[1]
        assert detector_proc.stop() == 0, detector_proc.output()
        assert overlay_proc.stop() == 0, overlay_proc.output()
        assert 'detector summary' in detector_proc.output() and 'inference' in detector_proc.output()
        assert 'score_threshold=0.9' in detector_proc.output()  # the accepted change was applied and logged
        assert 'overlay summary: ' in overlay_proc.output()
        assert 'Traceback' not in detector_proc.output() + overlay_proc.output() + camera.output()
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(5)
        context.try_shutdown()


@pytest.mark.timeout(60)
def test_missing_model_fails_cleanly_at_start(tmp_path):
    detector = build_pipeline(overrides={'detector.model_path': str(tmp_path / 'missing.onnx')},
                              nodes=['detector'])[0]
    proc = subprocess.run(detector.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=50,
                          universal_newlines=True)
    assert proc.returncode == 1
    assert 'missing.onnx' in proc.stdout and 'Traceback' not in proc.stdout

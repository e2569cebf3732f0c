"""Detector faults on a live ROS graph: zero-size, malformed and 8K images, NaN model outputs (counted skips, the
node keeps publishing for good frames), and broken or mismatched models / parameters at start-up (a clear
StartupError naming the problem, or exit code 1 with one log line for the node as a process)."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from detector_graph import DetectorGraph
from face_ssd_ros.detect.manifest import sidecar_path
from face_ssd_ros.nodes.common import StartupError

K8 = (7680, 4320)


def _copy_model(model_path, target, manifest_edit=None, sidecar=True):
    """Copy the model to ``target`` (+ its manifest as sidecar, edited by ``manifest_edit(dict)``); returns target."""
    shutil.copy(model_path, target)
    if sidecar:
        with open(sidecar_path(model_path)) as f:
            manifest = json.load(f)
        if manifest_edit is not None:
            manifest_edit(manifest)
        with open(sidecar_path(target), 'w') as f:
            json.dump(manifest, f)
    return target


def _nan_when_dark_model(model_path, target):
    """The shipped model with one change: ``scores`` += 0 * sqrt(mean(input) + 0.9), i.e. NaN for a (nearly)
    black frame (normalised mean below -0.9) and unchanged otherwise. Written to ``target`` with its sidecar."""
    import onnx
    from onnx import TensorProto, helper
    model = onnx.load(model_path)
    graph = model.graph
    producer = [n for n in graph.node if 'scores' in n.output][0]
    producer.output[list(producer.output).index('scores')] = 'scores_raw'
    graph.initializer.extend([helper.make_tensor('nan_offset', TensorProto.FLOAT, [], [0.9]),
                              helper.make_tensor('nan_zero', TensorProto.FLOAT, [], [0.0])])
    graph.node.extend([
        helper.make_node('ReduceMean', ['input'], ['nan_mean'], keepdims=0),
        helper.make_node('Add', ['nan_mean', 'nan_offset'], ['nan_shifted']),
        helper.make_node('Sqrt', ['nan_shifted'], ['nan_root']),
        helper.make_node('Mul', ['nan_root', 'nan_zero'], ['nan_term']),
        helper.make_node('Add', ['scores_raw', 'nan_term'], ['scores']),
    ])
    onnx.checker.check_model(model)
    onnx.save(model, target)
    shutil.copy(sidecar_path(model_path), sidecar_path(target))
    return target


def _face_photo(frames):
    """The first photo of the ``frames`` fixture (a dlib validation photo with large faces), RGB uint8."""
    folder, listing = frames
    return cv2.cvtColor(cv2.imread(os.path.join(folder, listing[0][0])), cv2.COLOR_BGR2RGB)


class _Graph(DetectorGraph):
    """A detector node + a test node publishing ``image_raw`` (reliable) and collecting ``detections``."""

    def __init__(self, context, namespace, helpers, model_path):
        from sensor_msgs.msg import Image
        super(_Graph, self).__init__(context, namespace, helpers, model_path, Image, 'image_raw')

    def send(self, msg, sec, nanosec=7):
        """Publish ``msg`` stamped (sec, nanosec) and wait until the detector has received it."""
        self.publish(msg, sec, nanosec, 'faults')


def _image(arr, encoding='rgb8'):
    from std_msgs.msg import Header

    from face_ssd_ros.msgs.convert import array_to_image_msg
    return array_to_image_msg(arr, Header(), encoding)


@pytest.mark.timeout(60)
def test_zero_size_bad_step_and_8k_images(ros_context, helpers, model_path, frames):
    from sensor_msgs.msg import Image
    photo = _face_photo(frames)
    g = _Graph(ros_context, 'fault_sizes', helpers, model_path)
    try:
        g.send(Image(height=0, width=0, encoding='rgb8', step=0, data=b''), 1)
        g.send(Image(height=480, width=0, encoding='rgb8', step=0, data=b''), 2)
        g.send(Image(height=4, width=4, encoding='rgb8', step=8, data=bytes(48)), 3)   # step < 4 px * 3 bytes
        # claims 100000x100000 (30 GB) but carries 12 bytes: refused from the size fields, nothing is allocated
        g.send(Image(height=100000, width=100000, encoding='rgb8', step=300000, data=bytes(12)), 4)
        assert g.counter('skipped_image_size') == 4 and g.col.arrays == []
        # 8K: the face photo stretched to 7680x4320 (~100 MB) goes through DDS and the detector; the boxes come
        # back in 8K pixels and match the boxes found on the original photo, scaled.
        big = cv2.resize(photo, K8, interpolation=cv2.INTER_LINEAR)
        g.send(_image(big), 5)
        g.wait(lambda: len(g.col.arrays) == 1, 'the 8K detections')
        stamp, frame_id, dets = g.col.arrays[0]
        assert (stamp, frame_id) == ((5, 7), 'faults') and dets
        sx, sy = K8[0] / float(photo.shape[1]), K8[1] / float(photo.shape[0])
        reference, _ = g.detector.detector.detect(photo)
        assert len(dets) == len(reference)
        for ref in reference:
            scaled = [ref.x1 * sx, ref.y1 * sy, ref.x2 * sx, ref.y2 * sy]
            assert max(helpers.iou(scaled, [d.x1, d.y1, d.x2, d.y2]) for d in dets) > 0.8, (scaled, dets)
        assert all(0 <= d.x1 < d.x2 <= K8[0] and 0 <= d.y1 < d.y2 <= K8[1] for d in dets)
        # ... and the node keeps going with ordinary frames (this one unstamped: processed, no bogus latency).
        g.send(_image(photo), 0, 0)
        g.wait(lambda: len(g.col.arrays) == 2, 'the next array')
        assert g.counter('frames_processed') == 2 and g.counter('skipped_image_size') == 4
        assert g.counter('unstamped_frames') == 1 and g.detector.stats.summary()['stages'][
            'capture_to_publish']['count'] == 1
        values = dict((kv.key, kv.value) for kv in g.detector.diagnostics_status().values)
        assert values['skipped_image_size'] == '4'
    finally:
        g.close()


@pytest.mark.timeout(60)
def test_nan_model_output_is_a_counted_skip_and_good_frames_still_publish(ros_context, helpers, model_path,
                                                                          tmp_path, frames):
    from diagnostic_msgs.msg import DiagnosticStatus
    nan_model = _nan_when_dark_model(model_path, str(tmp_path / 'nan_when_dark.onnx'))
    photo = _face_photo(frames)
    g = _Graph(ros_context, 'fault_nan', helpers, nan_model)
    try:
        g.send(_image(np.zeros((240, 320, 3), np.uint8)), 1)      # black: NaN scores
        g.send(_image(photo), 2)                                   # a real photo: normal output
        g.wait(lambda: len(g.col.arrays) == 1, 'the array of the good frame')
        g.send(_image(np.zeros((480, 640, 3), np.uint8)), 3)      # NaN again
        g.send(_image(np.full((240, 320, 3), 128, np.uint8)), 4)  # grey: finite, no face
        g.wait(lambda: len(g.col.arrays) == 2, 'the array of the grey frame')
        assert [a[0] for a in g.col.arrays] == [(2, 7), (4, 7)]
        assert g.col.arrays[0][2] and g.col.arrays[1][2] == []
        assert g.counter('skipped_model_output') == 2 and g.counter('frames_processed') == 2
        status = g.detector.diagnostics_status()
        assert status.level == DiagnosticStatus.WARN and 'model_output=2' in status.message
    finally:
        g.close()


def _start_detector(context, **overrides):
    from rclpy.parameter import Parameter

    from face_ssd_ros.nodes.detector_node import DetectorNode
    node = DetectorNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    node.destroy_node()


def _param_id(case):
    return ','.join('%s=%s' % kv for kv in sorted(case[0].items()))


def _three_labels(manifest):
    manifest['labels'] = ['background', 'face', 'plate']


def _vga_input(manifest):
    manifest['input']['width'], manifest['input']['height'] = 640, 480


BROKEN_MODELS = [
    # (name, how to make it from the shipped model, words the StartupError must contain)
    ('missing', lambda src, dst: dst, ['model file not found', 'missing.onnx']),
    ('label_count', lambda src, dst: _copy_model(src, dst, _three_labels),
     ['2 classes but the manifest lists 3 labels', 'plate']),
    ('input_size', lambda src, dst: _copy_model(src, dst, _vga_input),
     ['shape', 'expected [1, 3, 480, 640]', 'face-ssd-export']),
    ('truncated_with_sidecar', lambda src, dst: _truncate(_copy_model(src, dst)),
     ['ONNX Runtime cannot load', 'Is the file complete']),
    ('truncated_alone', lambda src, dst: _truncate(_copy_model(src, dst, sidecar=False)),
     ['cannot parse ONNX file', 'is it complete']),
    ('not_onnx', lambda src, dst: _write(dst, b'<html>404 Not Found</html>'), ['cannot parse ONNX file']),
    ('no_manifest', lambda src, dst: _strip_metadata(src, dst), ['no manifest', 'face_ssd_manifest']),
    ('unknown_extension', lambda src, dst: _write(dst[:-len('.onnx')] + '.tflite', b'x'),
     ['unsupported model file type']),
]


def _truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    return path


def _write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _strip_metadata(src, dst):
    import onnx
    model = onnx.load(src)
    del model.metadata_props[:]
    onnx.save(model, dst)
    return dst


@pytest.mark.parametrize('name,make,words', BROKEN_MODELS, ids=[b[0] for b in BROKEN_MODELS])
def test_broken_or_mismatched_model_is_a_clear_startup_error(ros_context, model_path, tmp_path, name, make, words):
    path = make(model_path, str(tmp_path / (name + '.onnx')))
    with pytest.raises(StartupError) as err:
        _start_detector(ros_context, model_path=path)
    text = str(err.value)
    assert text.startswith('detector: cannot load the model')
    for word in words:
        assert word in text, text


def test_tensorrt_with_only_an_onnx_model_names_the_one_build_command(ros_context, tmp_path, monkeypatch):
    """``backend: tensorrt`` and an .onnx model without a cached engine (fake TensorRT / pycuda of tests/engine): the
    node refuses to start with exactly one ``face-ssd-build-engine`` command; after running that command the node
    starts on the engine it built."""
    import re
    import shlex

    from face_ssd_ros.engine import build
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'engine'))
    from tensorrt_testutils import FakeCuda, install_fakes, make_fake_trt_with_builder, write_tiny_onnx
    for var in ('FACE_SSD_ENGINE_CACHE', 'FACE_SSD_PRECISION'):
        monkeypatch.delenv(var, raising=False)
    model = write_tiny_onnx(tmp_path)
    cuda = FakeCuda('NVIDIA Tegra X1')
    trt, builder = make_fake_trt_with_builder(cuda, '10.3.0')
    install_fakes(monkeypatch, trt, cuda)
    with pytest.raises(StartupError) as err:
        _start_detector(ros_context, model_path=model, backend='tensorrt')
    text = str(err.value)
    commands = re.findall(r'`(face-ssd-build-engine [^`]*)`', text)
    assert text.startswith('detector: cannot load the model') and len(commands) == 1, text
    assert commands[0] == 'face-ssd-build-engine %s --precision fp16 --cache-dir %s' % (
        model, os.path.join(str(tmp_path), 'engines'))
    assert builder.calls == []  # the node never builds by itself
    assert build.main(shlex.split(commands[0])[1:]) == 0
    _start_detector(ros_context, model_path=model, backend='tensorrt')
    assert cuda.context_depth == 0


STARTUP_PARAMS = [
    ({'score_threshold': 'high'}, 'score_threshold'),    # wrong type
    ({'score_threshold': 1.5}, 'score_threshold'),        # out of range
    ({'max_detections': 2.5}, 'max_detections'),          # double for an int
    ({'max_detections': 0}, 'max_detections'),
    ({'backend': 'cuda'}, 'backend'),                      # not one of the choices
    ({'class_filter': ['cat']}, "['cat']"),               # not a label of the model
    ({'qos_reliability': 'sometimes'}, 'qos_reliability'),
    ({'num_threads': -1}, 'num_threads'),
    ({'input_width': 640}, 'dynamic_size'),               # a fixed-size model cannot run at another size
]


@pytest.mark.parametrize('overrides,words', STARTUP_PARAMS, ids=[_param_id(p) for p in STARTUP_PARAMS])
def test_invalid_detector_parameters_at_startup_are_refused(ros_context, model_path, overrides, words):
    with pytest.raises(StartupError) as err:
        _start_detector(ros_context, model_path=model_path, **overrides)
    assert words in str(err.value), str(err.value)


CAMERA_STARTUP_PARAMS = [
    ({'source_type': 'usb'}, 'source_type'),
    ({'publish_rate': 'fast'}, 'publish_rate'),
    ({'width': -640}, 'width'),
    ({'encoding': 'yuv422'}, 'encoding'),
    ({'camera_info_url': '/nonexistent/calib.yaml'}, 'calib.yaml'),
    ({'source': '/nonexistent/video.mp4'}, 'does not exist'),
]


@pytest.mark.parametrize('overrides,words', CAMERA_STARTUP_PARAMS, ids=[_param_id(p) for p in CAMERA_STARTUP_PARAMS])
def test_invalid_camera_parameters_at_startup_are_refused(ros_context, tmp_path, overrides, words):
    from rclpy.parameter import Parameter

    from face_ssd_ros.nodes.camera_node import CameraNode
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    values = dict({'source': str(tmp_path)}, **overrides)
    with pytest.raises(StartupError) as err:
        CameraNode(context=ros_context, autostart=False,
                   parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
    assert words in str(err.value), str(err.value)


def test_camera_runtime_parameter_changes_are_validated(ros_context, tmp_path):
    from rclpy.parameter import Parameter

    from face_ssd_ros.nodes.camera_node import CameraNode
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    camera = CameraNode(context=ros_context, autostart=False,
                        parameter_overrides=[Parameter('source', value=str(tmp_path))])
    try:
        # Wrongly typed values reach the node's own check (dynamically typed descriptors), so the reason names the
        # parameter and the expected type instead of rclpy's "Wrong parameter type, expected '3' got '4'".
        for param, words in ((Parameter('publish_rate', value='fast'), "publish_rate must be a number, got 'fast'"),
                             (Parameter('publish_rate', value=5), 'must be a floating-point number, got the integer 5: '
                                                                  'write 5.0'),
                             (Parameter('loop', value='yes'), 'loop must be a boolean'),
                             (Parameter('max_frames', value=2.5), 'max_frames must be an integer'),
                             (Parameter('frame_id'), 'frame_id cannot be unset'),
                             (Parameter('publish_rate', value=-2.0), 'publish_rate out of range'),
                             (Parameter('encoding', value='yuv422'), 'encoding must be one of'),
                             (Parameter('reconnect_initial_delay', value=30.0), 'must not exceed'),
                             (Parameter('source', value='/dev/video1'), 'read-only')):
            result = camera.set_parameters([param])[0]
            assert not result.successful and words in result.reason, (param.name, result.reason)
        assert [camera.get_parameter(n).value for n in ('publish_rate', 'loop', 'max_frames', 'frame_id')] == [
            0.0, False, 0, 'camera']
        assert camera.get_parameter('publish_rate').type_ == Parameter.Type.DOUBLE
        assert camera._settings['publish_rate'] == 0.0 and camera._settings['frame_id'] == 'camera'
        assert camera.set_parameters([Parameter('publish_rate', value=5.0)])[0].successful
        assert camera._settings['publish_rate'] == 5.0
        # diagnostics_period: a parameter (default 1 s), changeable at run time
        assert camera._diag_timer.timer_period_ns == 1000000000
        assert not camera.set_parameters([Parameter('diagnostics_period', value=0.01)])[0].successful
        assert camera.set_parameters([Parameter('diagnostics_period', value=0.25)])[0].successful
        assert camera._diag_timer.timer_period_ns == 250000000
    finally:
        camera.destroy_node()


def test_a_node_that_fails_to_start_is_destroyed(ros_context, tmp_path):
    """A StartupError in the constructor leaves no node behind in the (reused) context: the same name can start
    again without rclpy's "Publisher already registered" warning and the graph holds one node of that name."""
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from face_ssd_ros.nodes.camera_node import CameraNode
    probe = Node('startup_probe', context=ros_context)
    try:
        for _ in range(2):
            with pytest.raises(StartupError, match='does not exist'):
                CameraNode(context=ros_context, autostart=False,
                           parameter_overrides=[Parameter('source', value=str(tmp_path / 'missing.mp4'))])
            assert 'camera' not in probe.get_node_names()
        cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
        camera = CameraNode(context=ros_context, autostart=False,
                            parameter_overrides=[Parameter('source', value=str(tmp_path))])
        try:
            assert probe.get_node_names().count('camera') == 1
        finally:
            camera.destroy_node()
    finally:
        probe.destroy_node()


@pytest.mark.timeout(60)
def test_detector_process_with_a_truncated_model_exits_1_with_one_clear_line(model_path, tmp_path):
    path = _truncate(_copy_model(model_path, str(tmp_path / 'cut.onnx')))
    proc = subprocess.run([sys.executable, '-m', 'face_ssd_ros.nodes.detector_node', '--ros-args', '-p',
                           'model_path:=%s' % path, '-p', 'score_threshold:=0.5'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=50)
    assert proc.returncode == 1, proc.stdout
    assert 'Traceback' not in proc.stdout
    errors = [line for line in proc.stdout.splitlines() if '[ERROR]' in line]
    assert len(errors) == 1 and 'cannot load the model' in errors[0] and path in errors[0], proc.stdout


def test_a_misspelt_parameter_is_named_with_the_closest_one(ros_context, tmp_path):
    """rclpy ignores overrides no declared parameter takes; the node says so in one warning."""
    from rclpy.parameter import Parameter

    from face_ssd_ros.nodes.camera_node import CameraNode
    from face_ssd_ros.nodes.common import warn_unknown_overrides
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    camera = CameraNode(context=ros_context, autostart=False, parameter_overrides=[
        Parameter('source', value=str(tmp_path)), Parameter('publish_rat', value=5.0)])
    try:
        text = warn_unknown_overrides(camera)
        assert 'publish_rat (did you mean publish_rate?)' in text, text
        plain = CameraNode(context=ros_context, autostart=False, node_name='camera2',
                           parameter_overrides=[Parameter('source', value=str(tmp_path))])
        assert warn_unknown_overrides(plain) == ''
        plain.destroy_node()
    finally:
        camera.destroy_node()


@pytest.mark.timeout(60)
def test_detector_node_process_warns_about_a_misspelt_parameter(model_path):
    import signal
    import time
    proc = subprocess.Popen([sys.executable, '-m', 'face_ssd_ros.nodes.detector_node', '--ros-args', '-p',
                             'model_path:=' + model_path, '-p', 'score_treshold:=0.9'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    lines = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if 'ignores parameter' in line:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = ''.join(lines) + out
    assert 'detector ignores parameter it does not have: score_treshold (did you mean score_threshold?)' in output, \
        output
    assert 'Traceback' not in output and proc.returncode == 0, output

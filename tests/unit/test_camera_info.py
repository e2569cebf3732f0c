"""camera_info: calibration YAML loading, pinhole default, scaling to another image size, msg filling."""
import os

import pytest
import yaml

from face_ssd_ros.camera import info as ci

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, 'config', 'camera_info_example.yaml')

CALIB = {
    'image_width': 640, 'image_height': 480, 'camera_name': 'test_cam',
    'camera_matrix': {'rows': 3, 'cols': 3, 'data': [500.0, 0.0, 320.5, 0.0, 502.0, 240.5, 0.0, 0.0, 1.0]},
    'distortion_model': 'plumb_bob',
    'distortion_coefficients': {'rows': 1, 'cols': 5, 'data': [-0.1, 0.05, 0.001, 0.002, 0.0]},
    'rectification_matrix': {'rows': 3, 'cols': 3, 'data': [1, 0, 0, 0, 1, 0, 0, 0, 1]},
    'projection_matrix': {'rows': 3, 'cols': 4, 'data': [490.0, 0, 321.0, 0, 0, 495.0, 241.0, 0, 0, 0, 1, 0]},
}


class FakeCameraInfo(object):
    """Stands in for sensor_msgs/CameraInfo (no ROS import in unit tests)."""
    width = height = 0
    distortion_model = ''
    d = k = r = p = ()


def _write(tmp_path, data, name='calib.yaml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_pinhole_default():
    c = ci.pinhole(640, 480)
    assert c.k == [640.0, 0.0, 320.0, 0.0, 640.0, 240.0, 0.0, 0.0, 1.0]
    assert c.d == [0.0] * 5 and c.distortion_model == 'plumb_bob'
    assert c.p == [640.0, 0.0, 320.0, 0.0, 0.0, 640.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert c.r == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    with pytest.raises(ci.CameraInfoError):
        ci.pinhole(0, 480)


def test_load_and_fill(tmp_path):
    c = ci.load_calibration(_write(tmp_path, CALIB))
    assert (c.width, c.height, c.camera_name) == (640, 480, 'test_cam')
    assert c.k[0] == 500.0 and c.k[4] == 502.0 and c.d[0] == -0.1 and c.p[2] == 321.0
    msg = c.fill_msg(FakeCameraInfo())
    assert msg.width == 640 and msg.k[2] == 320.5 and len(msg.p) == 12 and msg.distortion_model == 'plumb_bob'
    # file:// URLs resolve to the same file.
    assert ci.load_calibration('file://' + _write(tmp_path, CALIB)).k == c.k


def test_scaled_to_half_size(tmp_path):
    c = ci.load_calibration(_write(tmp_path, CALIB)).scaled_to(320, 240)
    assert (c.width, c.height) == (320, 240)
    assert c.k[0] == pytest.approx(250.0) and c.k[2] == pytest.approx(160.25)
    assert c.k[4] == pytest.approx(251.0) and c.k[5] == pytest.approx(120.25)
    assert c.p[0] == pytest.approx(245.0) and c.p[6] == pytest.approx(120.5) and c.p[10] == 1.0
    assert c.d == CALIB['distortion_coefficients']['data']


def test_provider_scales_and_warns_on_other_aspect(tmp_path):
    provider = ci.CameraInfoProvider(_write(tmp_path, CALIB))
    assert provider.for_size(1280, 960).k[0] == pytest.approx(1000.0)
    assert provider.warning is None
    wide = provider.for_size(1280, 720)
    assert wide.k[4] == pytest.approx(502.0 * 1.5) and 'aspect ratio' in provider.warning
    assert ci.CameraInfoProvider('').for_size(100, 50).k[0] == 100.0


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ci.CameraInfoError, match='not found'):
        ci.load_calibration(str(tmp_path / 'missing.yaml'))
    bad = dict(CALIB, camera_matrix={'rows': 3, 'cols': 3, 'data': [1, 2, 3]})
    with pytest.raises(ci.CameraInfoError, match='camera_matrix'):
        ci.load_calibration(_write(tmp_path, bad, 'bad.yaml'))
    no_width = dict(CALIB)
    del no_width['image_width']
    with pytest.raises(ci.CameraInfoError, match='image_width'):
        ci.load_calibration(_write(tmp_path, no_width, 'nowidth.yaml'))


def test_shipped_example_loads():
    c = ci.load_calibration(EXAMPLE)
    assert c.width > 0 and c.height > 0 and c.k[8] == 1.0 and len(c.p) == 12

"""demo footage: built from skimage's astronaut photo, 640x480, every portrait's face in view in every frame."""
import cv2
import numpy as np
import pytest

from face_ssd_ros import demo

FACE_IN_PORTRAIT = demo.FACE_IN_PORTRAIT  # x1, y1, x2, y2 of the face in the 512x512 astronaut photo


def test_scene_and_camera_path_keep_all_faces_in_view():
    pytest.importorskip('skimage')
    scene = demo.build_scene()
    assert scene.shape == (demo.CANVAS_H, demo.CANVAS_W, 3) and scene.dtype == np.uint8
    for t in np.linspace(0.0, 1.0, 9):
        x, y, w, h = demo.camera_path(t)
        assert 0 <= x and 0 <= y and x + w <= demo.CANVAS_W and y + h <= demo.CANVAS_H
        assert abs(w / float(h) - 4.0 / 3.0) < 0.01
        for left, top, scale in demo.PLACEMENTS:
            fx1, fy1, fx2, fy2 = [v * scale for v in FACE_IN_PORTRAIT]
            assert x <= left + fx1 and left + fx2 <= x + w and y <= top + fy1 and top + fy2 <= y + h


def test_build_footage(tmp_path):
    pytest.importorskip('skimage')
    path = str(tmp_path / 'demo' / 'footage.mp4')
    n = demo.build_footage(path, seconds=1.0, fps=6.0)
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert n == 6 and len(frames) == 6 and frames[0].shape == (480, 640, 3)
    assert abs(cap.get(cv2.CAP_PROP_FPS) - 6.0) < 0.01
    assert float(np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean()) > 5  # the camera moves
    assert not list((tmp_path / 'demo').glob('.footage_tmp*'))


def test_face_boxes_follow_the_camera():
    """Golden boxes at the two ends of the camera path, and every face inside the frame in between."""
    assert demo.frame_times(5) == [0.0, 0.25, 0.5, 0.75, 1.0] and demo.footage_frames(4.0, 20.0) == 80
    assert demo.camera_path(0.0) == (70, 35, 1000, 750)
    # the full-size portrait at (60, 170): face (235, 235)-(335, 355) on the wall, crop (70, 35, 1000x750), x0.64
    np.testing.assert_allclose(demo.face_boxes((70, 35, 1000, 750))[0], [105.6, 128.0, 169.6, 204.8])
    boxes = demo.face_boxes((0, 0, demo.CANVAS_W, demo.CANVAS_W * 3 // 4))
    assert boxes.shape == (3, 4)
    for t in np.linspace(0.0, 1.0, 9):
        b = demo.face_boxes(demo.camera_path(t))
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= demo.WIDTH).all() and (b[:, 3] <= demo.HEIGHT).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()


def test_the_demo_spins_the_runners_executors_with_its_default():
    pytest.importorskip('rclpy')
    from face_ssd_ros import runner
    assert demo.EXECUTORS == runner.EXECUTORS
    assert demo.build_arg_parser().parse_args([]).executor == runner.build_arg_parser().parse_args([]).executor

"""demo footage: built from skimage's astronaut photo, 640x480, every portrait's face in view in every frame."""
import cv2
import numpy as np
import pytest

from face_ssd_ros import demo

FACE_IN_PORTRAIT = (175, 65, 275, 185)  # x1, y1, x2, y2 of the face in the 512x512 astronaut photo


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

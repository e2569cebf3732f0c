"""VideoRecorder: the video plays at the source's rate from the capture stamps (or video_fps), holds nothing back
at close, and the file opens with OpenCV."""
import cv2
import numpy as np
import pytest

from face_ssd_ros.detect.video import DEFAULT_FPS, VideoRecorder, estimate_fps


def _frames(n, w=64, h=48):
    return [np.full((h, w, 3), 10 * i % 256, np.uint8) for i in range(n)]


def _read_back(path):
    cap = cv2.VideoCapture(path)
    fps, count = cap.get(cv2.CAP_PROP_FPS), 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count, fps


def test_estimate_fps_uses_the_median_interval():
    ns = int(1e9 / 20)
    assert estimate_fps([i * ns for i in range(10)]) == pytest.approx(20.0)
    # two frames the pipeline dropped (a double interval) do not change the rate
    assert estimate_fps([0, ns, 3 * ns, 4 * ns, 5 * ns, 7 * ns, 8 * ns]) == pytest.approx(20.0)
    assert estimate_fps([5]) == DEFAULT_FPS and estimate_fps([0, 0, 0]) == DEFAULT_FPS   # nothing to go by
    assert estimate_fps([0, 10]) == 240.0                                               # clipped


@pytest.mark.parametrize('count', [3, 25])
def test_source_rate_from_stamps_and_every_frame_written(tmp_path, count):
    path = str(tmp_path / 'v.mp4')
    video = VideoRecorder(path, fps=0.0, estimate_frames=10)
    for i, frame in enumerate(_frames(count)):
        video.add(frame, 1000 + i * int(1e9 / 20))
    assert video.close() == count and video.fps == pytest.approx(20.0)   # a 3-frame clip is flushed at close
    assert _read_back(path) == (count, pytest.approx(20.0))


def test_fixed_rate_resizes_other_sizes_and_reports_an_unwritable_path(tmp_path):
    path = str(tmp_path / 'v.mp4')
    video = VideoRecorder(path, fps=12.0)
    video.add(_frames(1)[0], 0)
    video.add(np.zeros((480, 640, 3), np.uint8), 0)
    assert video.close() == 2 and video.size == (64, 48)
    assert _read_back(path) == (2, pytest.approx(12.0))
    bad = VideoRecorder(str(tmp_path / 'missing' / 'v.mp4'), fps=0.0)
    for i, frame in enumerate(_frames(3)):
        bad.add(frame, i)
    assert bad.close() == 0 and 'cannot write video' in bad.error and bad.dropped == 3

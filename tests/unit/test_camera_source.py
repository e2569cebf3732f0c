"""camera_source: image folders / globs, corrupt images, video files, loop, source-type detection, Backoff."""
import os

import cv2
import numpy as np
import pytest

from face_ssd_ros.camera import source as cs
from face_ssd_ros.camera.decode import image_complete


def _write_images(folder, sizes, corrupt=()):
    """Write distinct solid-colour PNGs named 00.png, 01.png ...; names in ``corrupt`` get garbage bytes."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, (w, h) in enumerate(sizes):
        img = np.full((h, w, 3), (i * 40) % 256, np.uint8)
        img[0, 0] = (i, 255 - i, 7)  # BGR marker to tell frames apart
        path = os.path.join(folder, '%02d.png' % i)
        cv2.imwrite(path, img)
        paths.append(path)
    for name in corrupt:
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(b'this is not an image')
    return paths


def _drain(src, limit=100):
    frames = []
    while len(frames) < limit:
        ok, frame = src.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def test_image_folder_sorted_skips_corrupt_and_non_images(tmp_path):
    folder = str(tmp_path / 'imgs')
    _write_images(folder, [(64, 48), (32, 24), (80, 60)], corrupt=('01b.jpg',))
    with open(os.path.join(folder, 'notes.txt'), 'w') as f:
        f.write('ignored')
    src = cs.open_source(folder)
    assert isinstance(src, cs.ImageFolderSource) and not src.live
    frames = _drain(src)
    assert [f.shape for f in frames] == [(48, 64, 3), (24, 32, 3), (60, 80, 3)]
    assert [tuple(f[0, 0]) for f in frames] == [(0, 255, 7), (1, 254, 7), (2, 253, 7)]
    assert src.skipped == 1 and src.skipped_paths[0].endswith('01b.jpg')
    assert src.finished
    assert src.read() == (False, None)


def test_glob_and_loop(tmp_path):
    folder = str(tmp_path / 'g')
    _write_images(folder, [(16, 16), (16, 16), (16, 16)])
    src = cs.open_source(os.path.join(folder, '0[02].png'), loop=True)
    markers = [int(f[0, 0, 0]) for f in _drain(src, limit=5)]
    assert markers == [0, 2, 0, 2, 0]
    assert not src.finished


def test_loop_with_only_corrupt_images_ends(tmp_path):
    folder = str(tmp_path / 'bad')
    os.makedirs(folder)
    for name in ('a.jpg', 'b.png'):
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(b'\x00\x01garbage')
    src = cs.open_source(folder, loop=True)
    assert src.read() == (False, None)
    assert src.finished and src.skipped == 2


def test_a_truncated_jpeg_is_refused_alike_by_the_camera_and_face_ssd_detect(tmp_path):
    """OpenCV's imread decodes a JPEG cut in half as a half-grey frame; both readers refuse it instead, by the one
    rule of camera.decode.image_complete."""
    from face_ssd_ros.detect import cli as detect_cli
    folder = str(tmp_path / 'imgs')
    os.makedirs(folder)
    yy, xx = np.mgrid[0:120, 0:160]
    assert cv2.imwrite(os.path.join(folder, 'a.jpg'), np.stack([xx, yy, xx + yy], -1).astype(np.uint8))
    data = open(os.path.join(folder, 'a.jpg'), 'rb').read()
    with open(os.path.join(folder, 'b_cut.jpg'), 'wb') as f:
        f.write(data[:len(data) // 2])
    with open(os.path.join(folder, 'c_padded.jpg'), 'wb') as f:
        f.write(data + b'\x00' * 100)                     # bytes after the end marker are fine
    assert cv2.imread(os.path.join(folder, 'b_cut.jpg')) is not None   # what the camera used to publish
    assert not image_complete(data[:len(data) // 2])[0] and image_complete(data) == (True, '')
    assert image_complete(data + b'\x00' * 100) == (True, '')
    src = cs.open_source(folder)
    assert len(_drain(src)) == 2 and src.skipped == 1
    assert src.skipped_paths == [os.path.join(folder, 'b_cut.jpg')] and 'truncated JPEG' in src.last_skip_reason
    with pytest.raises(IOError, match='truncated JPEG'):
        detect_cli.read_image_rgb(os.path.join(folder, 'b_cut.jpg'))
    assert detect_cli.read_image_rgb(os.path.join(folder, 'c_padded.jpg')).shape == (120, 160, 3)


def test_grayscale_image_becomes_bgr(tmp_path):
    path = str(tmp_path / 'gray.png')
    cv2.imwrite(path, np.full((10, 12), 99, np.uint8))
    ok, frame = cs.open_source(path).read()
    assert ok and frame.shape == (10, 12, 3) and frame.dtype == np.uint8 and (frame == 99).all()


def test_empty_folder_and_missing_source_raise_clear_errors(tmp_path):
    with pytest.raises(cs.SourceError, match='no images'):
        cs.open_source(str(tmp_path))
    with pytest.raises(cs.SourceError, match='does not exist'):
        cs.open_source(str(tmp_path / 'nope.mp4'))
    with pytest.raises(cs.SourceError, match='empty'):
        cs.open_source('  ')
    with pytest.raises(cs.SourceError, match='unknown source_type'):
        cs.open_source(str(tmp_path), source_type='webcam')


def _write_video(path, n, size=(64, 48), fps=12.0):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    writer.release()


def test_video_file_fps_end_and_loop(tmp_path):
    path = str(tmp_path / 'clip.mp4')
    _write_video(path, 5)
    assert cs.detect_source_type(path) == 'video'
    src = cs.open_source(path)
    assert not src.live and abs(src.fps - 12.0) < 0.01
    frames = _drain(src)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    # Brightness increases through the clip (lossy codec: compare means, not exact values).
    means = [float(f.mean()) for f in frames]
    assert means == sorted(means) and means[-1] - means[0] > 40
    assert src.finished
    src.close()

    looped = cs.open_source(path, loop=True)
    frames = _drain(looped, limit=12)
    assert len(frames) == 12 and not looped.finished
    assert abs(float(frames[5].mean()) - means[0]) < 5  # frame 6 is the first frame again
    looped.close()


def test_detect_source_type(tmp_path):
    folder = tmp_path / 'imgs'
    _write_images(str(folder), [(8, 8)])
    assert cs.detect_source_type('0') == 'v4l2'
    assert cs.detect_source_type('/dev/video3') == 'v4l2'
    assert cs.detect_source_type('videotestsrc ! videoconvert ! appsink') == 'gstreamer'
    assert cs.detect_source_type('csi') == 'csi'
    assert cs.detect_source_type(str(folder)) == 'images'
    assert cs.detect_source_type(str(folder / '00.png')) == 'images'
    assert cs.detect_source_type(str(folder / '*.png')) == 'images'


def test_csi_pipeline():
    p = cs.csi_pipeline(sensor_id=1, width=640, height=480, fps=30)
    assert p.startswith('nvarguscamerasrc sensor-id=1 ')
    assert 'width=(int)640, height=(int)480' in p and 'framerate=(fraction)30/1' in p
    assert 'nvvidconv' in p and 'format=(string)BGRx' in p and 'format=(string)BGR !' in p
    assert p.rstrip().split(' ! ')[-1].startswith('appsink drop=1')


def test_missing_v4l2_device_fails_with_hint():
    with pytest.raises(cs.SourceError, match='plugged in'):
        cs.open_source('/dev/video63', source_type='v4l2')


def test_file_frames_keep_their_schedule_but_never_come_back_to_back():
    period = 0.1
    assert cs.next_file_slot(1.0, period, 1.02) == pytest.approx(1.1)     # on schedule
    # a frame that took 0.5 s to read and publish (a 6000x4000 JPEG): the next one waits half a period instead of
    # following at once and replacing it in the subscribers' depth-1 queues
    assert cs.next_file_slot(1.0, period, 1.5) == pytest.approx(1.55)
    slot, published = 0.0, []
    for read_s in (0.01, 0.5, 0.01, 0.01):
        now = max(slot, published[-1] if published else 0.0) + read_s
        published.append(now)
        slot = cs.next_file_slot(slot, period, now)
    gaps = [b - a for a, b in zip(published, published[1:])]
    assert min(gaps) >= period / 2 - 1e-9


def test_backoff_grows_caps_and_resets():
    b = cs.Backoff(initial=0.5, maximum=3.0, factor=2.0)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert b.attempts == 5
    b.reset()
    assert b.attempts == 0 and b.next_delay() == 0.5
    with pytest.raises(ValueError):
        cs.Backoff(initial=2.0, maximum=1.0)
    with pytest.raises(ValueError):
        cs.Backoff(factor=0.5)

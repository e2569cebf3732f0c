"""ByteTracker: ids survive misses, crossing faces keep theirs, new faces get new ones, the second pass keeps a face
whose score dips, golden ids on a scripted sequence, empty frames, settings."""
import numpy as np
import pytest

from face_ssd_ros.detect.detection import Detection
from face_ssd_ros.detect.tracker import LOST, TRACKED, BoxKalman, ByteTracker, greedy_match, iou_matrix

HIGH = 0.6


def box(cx, cy, size=60.0):
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def step(tracker, boxes, scores=None, classes=None, high=HIGH):
    """One frame; returns the track ids as a list (0 = none)."""
    scores = [0.9] * len(boxes) if scores is None else scores
    classes = [1] * len(boxes) if classes is None else classes
    result = tracker.update(np.array(boxes, dtype=float).reshape(-1, 4), scores, classes, high)
    return result.track_ids.tolist()


# ---------------------------------------------------------------------------------------------- helpers
def test_iou_matrix_and_greedy_match_golden():
    a = [[0, 0, 10, 10], [20, 20, 30, 30]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 100, 120]]
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150.0, 0.0], [0.0, 0.0, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    iou = np.array([[0.9, 0.8, 0.0],
                    [0.85, 0.1, 0.0],
                    [0.0, 0.3, 0.29]])
    # greedy: (0,0) first, then row 1 can only take col 1 (0.1 < 0.2: no), row 2 takes col 1 (0.3)
    assert greedy_match(iou, 0.2) == [(0, 0), (2, 1)]
    assert greedy_match(iou, 0.95) == []
    assert greedy_match(np.zeros((0, 2)), 0.2) == []


def test_kalman_learns_the_velocity():
    kf = BoxKalman(box(100, 50, 40))
    for i in range(1, 12):
        kf.predict()
        kf.update(box(100 + 5 * i, 50 - 2 * i, 40 + i))
    kf.predict()
    np.testing.assert_allclose(kf.box(), box(100 + 5 * 12, 50 - 2 * 12, 40 + 12), atol=1.0)


# ---------------------------------------------------------------------------------------------- identity
def test_id_survives_a_five_frame_miss_while_moving():
    tracker = ByteTracker(match_iou=0.2, track_buffer=30, min_hits=2)
    ids = [step(tracker, [box(100 + 6 * i, 200)]) for i in range(10)]
    assert ids[0] == [0] and all(i == [1] for i in ids[1:])
    for i in range(10, 15):  # five frames without the face (occluded)
        assert step(tracker, []) == []
        assert tracker.tracks[0].state == LOST
    # it comes back 30 px further on, where the motion model predicts it
    assert step(tracker, [box(100 + 6 * 15, 200)]) == [1]
    assert tracker.tracks[0].state == TRACKED and tracker.last_id == 1


def test_a_miss_longer_than_the_buffer_gives_a_new_id():
    tracker = ByteTracker(track_buffer=4, min_hits=1)
    assert step(tracker, [box(100, 100)]) == [1]
    for _ in range(4):
        step(tracker, [])
    assert len(tracker.tracks) == 1  # lost for 4 frames: still kept
    step(tracker, [])
    assert tracker.tracks == []      # 5 > track_buffer: deleted
    assert step(tracker, [box(100, 100)]) == [2]


def test_two_crossing_faces_keep_their_ids():
    tracker = ByteTracker(min_hits=1)
    seen = []
    for i in range(30):
        a = box(40 + 10 * i, 200)        # left to right
        b = box(330 - 10 * i, 215)       # right to left, crossing a around frame 14-15
        ids = step(tracker, [b, a] if i % 2 else [a, b])  # input order must not matter
        seen.append(ids[::-1] if i % 2 else ids)
    assert seen[0] == [1, 2]
    assert all(s == [1, 2] for s in seen), seen


def test_crossing_with_the_far_face_hidden_keeps_both_ids():
    tracker = ByteTracker(min_hits=1)
    for i in range(30):
        a = box(40 + 10 * i, 200)
        b = box(330 - 10 * i, 205)
        if 12 <= i <= 17:                # b passes behind a: only a is detected
            assert step(tracker, [a]) == [1]
        else:
            assert step(tracker, [a, b]) == [1, 2], 'frame %d' % i


def test_a_face_that_leaves_and_a_new_one_never_share_an_id():
    tracker = ByteTracker(track_buffer=30, min_hits=2)
    for i in range(8):                   # a walks out to the right of a 640 px image
        step(tracker, [box(450 + 25 * i, 240)])
    leaving_id = tracker.tracks[0].track_id
    assert leaving_id == 1
    new_ids = [step(tracker, [box(40, 240)]) for _ in range(3)]  # b enters on the left
    assert new_ids[0] == [0] and new_ids[1] == new_ids[2] == [2]
    # and after a's track has expired, a face where a was last seen still gets a new id
    tracker = ByteTracker(track_buffer=2, min_hits=1)
    assert step(tracker, [box(300, 240)]) == [1]
    for _ in range(3):
        step(tracker, [])
    assert step(tracker, [box(300, 240)]) == [2]


def test_ids_are_not_reused_after_reset():
    tracker = ByteTracker(min_hits=1)
    assert step(tracker, [box(100, 100), box(300, 100)]) == [1, 2]
    tracker.reset()
    assert tracker.tracks == [] and tracker.frame_count == 0
    assert step(tracker, [box(100, 100)]) == [3]


def test_empty_frames():
    tracker = ByteTracker()
    result = tracker.update(np.zeros((0, 4)), [], [], HIGH)
    assert result.track_ids.shape == (0,) and result.keep.shape == (0,) and result.keep.dtype == bool
    assert tracker.tracks == [] and tracker.frame_count == 1
    assert tracker.track([], HIGH) == []
    with pytest.raises(ValueError, match='2 boxes, 1 scores'):
        tracker.update(np.zeros((2, 4)), [0.9], [1, 1], HIGH)


# ---------------------------------------------------------------------------------------------- second pass
def test_a_score_dip_keeps_the_id_through_the_second_pass():
    scores = [0.9, 0.9, 0.9, 0.45, 0.4, 0.45, 0.9, 0.9]
    tracker = ByteTracker(min_hits=2, low_threshold=0.3)
    out = [tracker.update([box(100 + 4 * i, 100)], [s], [1], HIGH) for i, s in enumerate(scores)]
    assert [r.track_ids.tolist() for r in out] == [[0], [1], [1], [1], [1], [1], [1], [1]]
    # the dipped boxes continue the track (it stays TRACKED, same id) but are not published: under the threshold
    assert [bool(r.keep[0]) for r in out] == [True, True, True, False, False, False, True, True]
    assert tracker.tracks[0].state == TRACKED and tracker.last_id == 1

    # without the second pass (low_threshold above the dip) the dipped boxes are dropped and the track is lost
    tracker = ByteTracker(min_hits=2, low_threshold=0.5)
    out = [tracker.update([box(100 + 4 * i, 100)], [s], [1], HIGH) for i, s in enumerate(scores[:5])]
    assert [bool(r.keep[0]) for r in out] == [True, True, True, False, False]
    assert tracker.tracks[0].state == LOST


def test_low_boxes_never_start_a_track_or_revive_a_lost_one():
    tracker = ByteTracker(min_hits=1, low_threshold=0.3)
    result = tracker.update([box(100, 100), box(400, 100)], [0.9, 0.5], [1, 1], HIGH)
    assert result.track_ids.tolist() == [1, 0] and result.keep.tolist() == [True, False]
    assert len(tracker.tracks) == 1
    step(tracker, [])                                     # the face is lost ...
    result = tracker.update([box(100, 100)], [0.5], [1], HIGH)
    assert result.keep.tolist() == [False]                # ... and a low box does not bring it back
    assert step(tracker, [box(100, 100)]) == [1]          # a high box does


def test_boxes_below_the_low_threshold_are_ignored():
    tracker = ByteTracker(min_hits=1, low_threshold=0.3)
    step(tracker, [box(100, 100)])
    result = tracker.update([box(100, 100)], [0.2], [1], HIGH)
    assert result.keep.tolist() == [False] and tracker.tracks[0].state == LOST


# ---------------------------------------------------------------------------------------------- ids and classes
def test_golden_ids_on_a_scripted_sequence():
    """Three faces, min_hits 2: ids are handed out on confirmation, in confirmation order; a one-frame false
    positive never gets one (and uses none up)."""
    a, b, c, fp = box(100, 100), box(300, 100), box(500, 300), box(200, 400)
    tracker = ByteTracker(min_hits=2, track_buffer=3)
    script = [
        ([a, b], [0, 0]),        # both tentative
        ([a, b, fp], [1, 2, 0]),  # confirmed in input order; fp is new
        ([b, a], [2, 1]),        # fp vanished: its tentative track is gone
        ([a, c], [1, 0]),        # b missing (lost), c new
        ([c, a, b], [3, 1, 2]),  # c confirmed (id 3: fp used no id), b back from lost
        ([], []),
        ([b], [2]),
    ]
    for frame, (boxes, expected) in enumerate(script):
        assert step(tracker, boxes) == expected, 'frame %d' % frame


def test_tracks_are_per_class():
    tracker = ByteTracker(min_hits=1)
    assert step(tracker, [box(100, 100)], classes=[1]) == [1]
    # a box of another class at the same place is another object
    assert step(tracker, [box(100, 100), box(101, 100)], classes=[2, 1]) == [2, 1]


def test_track_detections_keeps_input_order_and_sets_track_id():
    tracker = ByteTracker(min_hits=1, low_threshold=0.3)
    dets = [Detection(*box(300, 100), score=0.9, class_index=1, label='face'),
            Detection(*box(100, 100), score=0.4, class_index=1, label='face')]
    out = tracker.track(dets, HIGH)
    assert out == [dets[0]._replace(track_id=1)]        # the low box continues no track: dropped
    out = tracker.track([d._replace(score=0.95) for d in dets], HIGH)
    assert [d.track_id for d in out] == [1, 2] and out[1].x1 == dets[1].x1


def test_min_hits_delays_the_id():
    tracker = ByteTracker(min_hits=3)
    assert [step(tracker, [box(100 + i, 100)]) for i in range(4)] == [[0], [0], [1], [1]]


# ---------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize('kwargs, word', [({'match_iou': 0.0}, 'match_iou'), ({'match_iou': 1.5}, 'match_iou'),
                                          ({'track_buffer': -1}, 'track_buffer'), ({'min_hits': 0}, 'min_hits'),
                                          ({'min_hits': 2.5}, 'min_hits'), ({'low_threshold': 'x'}, 'low_threshold'),
                                          ({'track_buffer': True}, 'track_buffer')])
def test_invalid_settings_are_rejected_with_the_name(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ByteTracker(**kwargs)
    tracker = ByteTracker()
    with pytest.raises(ValueError, match=word):
        tracker.configure(**kwargs)
    assert (tracker.match_iou, tracker.track_buffer, tracker.min_hits, tracker.low_threshold) == (0.2, 30, 2, 0.3)


def test_configure_applies_to_the_next_frame():
    tracker = ByteTracker(min_hits=3)
    step(tracker, [box(100, 100)])
    tracker.configure(min_hits=2, track_buffer=5)
    assert (tracker.min_hits, tracker.track_buffer, tracker.match_iou) == (2, 5, 0.2)
    assert step(tracker, [box(100, 100)]) == [1]


# ---------------------------------------------------------------------------------------------- with a detector
def _square(value):
    image = np.zeros((48, 64, 3), np.uint8)
    image[16:32, 32:48] = value   # one grid cell (16x16 px in this 64x48 image)
    return image


def test_detect_tracked_with_the_grid_model(grid_model):
    """What the detector node publishes: a bright square gets an id on its second frame; while it is dimmer (score
    ~0.56, under the 0.6 threshold) nothing is published but the second pass keeps its track, so it comes back
    with the same id; without a tracker the dim square is not published either."""
    from face_ssd_ros.config import params
    from face_ssd_ros.detect.inference import FaceDetector
    from face_ssd_ros.detect.tracker import detect_tracked, tracker_from_params
    values = params.defaults(params.DETECTOR_PARAMS)
    assert tracker_from_params(dict(values, tracking=False)) is None
    tracker = tracker_from_params(values)
    assert (tracker.match_iou, tracker.track_buffer, tracker.min_hits, tracker.low_threshold) == (0.2, 30, 2, 0.2)
    with FaceDetector(grid_model) as detector:
        frames = [detect_tracked(detector, tracker, _square(v)) for v in (255, 255, 135, 135, 255)]
        assert [[d.track_id for d in dets] for dets, _, _ in frames] == [[None], [1], [], [], [1]]
        assert tracker.tracks[0].state == 'tracked' and tracker.last_id == 1   # held through the dim frames
        low, _ = detector.detect(_square(135), min_score=0.2)
        assert 0.5 < low[0].score < 0.6 and (low[0].x1, low[0].y1, low[0].x2, low[0].y2) == pytest.approx(
            (32, 16, 48, 32))
        assert all(ms is not None and ms >= 0 for _, _, ms in frames)
        dets, _, ms = detect_tracked(detector, None, _square(135))
        assert dets == [] and ms is None
        dets, _, _ = detect_tracked(detector, None, _square(255))
        assert len(dets) == 1 and dets[0].track_id is None


def test_kalman_equals_the_full_eight_state_filter():
    """The per-axis filter is exact: the same numbers as the textbook 8-state filter with F, H, Q, R matrices."""
    from face_ssd_ros.detect import tracker as tr
    boxes = [box(100 + 5 * i + (3 if i % 3 else -2), 50 - 2 * i, 40 + i) for i in range(8)]
    kf = BoxKalman(boxes[0])
    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    H = np.eye(4, 8)
    x = kf.mean.copy()
    P = np.diag(np.concatenate([kf.p_pp, kf.p_vv]))

    def scale(state):
        return np.array([state[2], state[3], state[2], state[3]])
    for z_box in boxes[1:]:
        kf.predict()
        q = np.diag(np.concatenate([(tr._STD_POSITION * scale(x)) ** 2, (tr._STD_VELOCITY * scale(x)) ** 2]))
        x, P = F.dot(x), F.dot(P).dot(F.T) + q
        kf.update(z_box)
        r = np.diag((tr._STD_MEASUREMENT * scale(x)) ** 2)
        K = P.dot(H.T).dot(np.linalg.inv(H.dot(P).dot(H.T) + r))
        z = np.array([(z_box[0] + z_box[2]) / 2, (z_box[1] + z_box[3]) / 2, z_box[2] - z_box[0], z_box[3] - z_box[1]])
        x, P = x + K.dot(z - H.dot(x)), (np.eye(8) - K.dot(H)).dot(P)
        np.testing.assert_allclose(kf.mean, x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(kf.p_pp, np.diag(P)[:4], rtol=1e-9)
        np.testing.assert_allclose(kf.p_pv, np.diag(P[:4, 4:]), rtol=1e-9, atol=1e-12)
        assert np.abs(P[:4, :4] - np.diag(np.diag(P[:4, :4]))).max() < 1e-12   # no cross-axis terms

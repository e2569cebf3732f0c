"""supervise.accounting: every published frame is processed, skipped with a reason or counted as not received; frames from
another publisher and arrays the overlay could not draw are shown, not hidden."""
from face_ssd_ros.supervise.accounting import format_accounting, frame_accounting, skipped_by_reason


def test_every_frame_is_accounted_for():
    acc = frame_accounting(7, {'frames_received': 6, 'frames_processed': 5, 'skipped_image_size': 1,
                               'skipped_model_output': 0, 'detections': 9},
                           {'arrays_received': 5, 'annotated': 4, 'written': 4, 'arrays_without_image': 1,
                            'pending_arrays': 0})
    assert (acc['published'], acc['processed'], acc['not_received'], acc['from_other_publishers']) == (7, 5, 1, 0)
    assert acc['skipped'] == {'image_size': 1} and acc['complete']
    assert acc['published'] == acc['processed'] + sum(acc['skipped'].values()) + acc['not_received']
    assert acc['annotated'] + acc['arrays_without_image'] + acc['pending_arrays'] + acc['arrays_not_delivered'] \
        == acc['processed']
    text = '\n'.join(format_accounting(acc))
    assert '7 published = 5 processed + 1 skipped (image_size=1) + 1 not received by the detector' in text
    assert 'replaced' in text and '4 written to the video' in text and '1 whose image never reached' in text
    assert acc['undrawable'] == 0 and 'not drawn' not in text


def test_an_overlay_image_that_does_not_decode_is_counted():
    acc = frame_accounting(3, {'frames_received': 3, 'frames_processed': 3},
                           {'arrays_received': 3, 'annotated': 2, 'written': 2, 'arrays_without_image': 0,
                            'pending_arrays': 0, 'undrawable': 1})
    assert acc['annotated'] + acc['undrawable'] == acc['processed']
    assert '1 frame(s) paired but not drawn: the image did not decode' in '\n'.join(format_accounting(acc))


def test_a_neighbour_publisher_shows_up_as_frames_from_other_publishers():
    acc = frame_accounting(151, {'frames_received': 177, 'frames_processed': 177})
    assert acc['from_other_publishers'] == 26 and acc['not_received'] == 0
    assert 'another publisher feeds the same image topic' in '\n'.join(format_accounting(acc))


def test_without_camera_or_overlay_and_a_busy_detector():
    acc = frame_accounting(None, {'frames_received': 3, 'frames_processed': 2})
    assert acc['not_received'] is None and not acc['complete']   # one frame still inside the detector
    assert 'annotated' not in acc and format_accounting(acc) == []
    assert skipped_by_reason({'skipped_b': 2, 'skipped_a': 1, 'skipped_c': 0, 'frames': 4}) == {'a': 1, 'b': 2}

"""supervise.graph: mixed input (two pipelines on one topic) is recognised from frame_ids, publisher ids and the graph,
warned about once with the fix, and counted; a QoS mismatch is explained with both sides' values."""
from face_ssd_ros.supervise.graph import SourceWatch, gid_key, incompatible_policies, neighbour_text, qos_mismatch_text


def test_alternating_frame_ids_are_mixed_input_warned_once_and_counted():
    watch = SourceWatch('/image_raw', 'this detector')
    assert watch.observe('camera', 0.0) is None
    assert watch.observe('camera', 0.03) is None
    text = watch.observe('cam_b', 0.05)
    assert text is None                                  # a switch alone may be a renamed frame_id
    text = watch.observe('camera', 0.07)                 # ... but the first one comes back: two sources
    assert text and '2 frame_ids' in text and '/image_raw' in text and '--namespace' in text
    assert watch.observe('cam_b', 0.09) is None and watch.observe('camera', 0.1) is None   # warned once
    assert dict(watch.counters())['frames_from_mixed_sources'] == 3 and watch.mixed


def test_a_renamed_frame_id_or_a_restarted_camera_is_not_mixed():
    watch = SourceWatch('/image_raw')
    for i in range(5):
        assert watch.observe('camera', i * 0.1, publisher={'data': [1] * 16}, sequence=i + 1) is None
    for i in range(5, 10):                               # new frame_id and a new publisher (restart), for good
        assert watch.observe('front', i * 0.1, publisher={'data': [2] * 16}, sequence=i - 4) is None
    assert not watch.mixed and dict(watch.counters())['publishers_seen'] == 2
    # an old source that comes back after the window is not mixed either
    assert watch.observe('camera', 5.0, publisher={'data': [1] * 16}) is None


def test_two_publishers_with_the_same_frame_id_and_sequence_gaps():
    watch = SourceWatch('/ns/image_raw', 'this overlay')
    a, b = {'data': [1] * 16}, {'data': [2] * 16}
    assert watch.observe('camera', 0.0, a, 1) is None
    assert watch.observe('camera', 0.01, b, 1) is None
    assert '2 publishers' in watch.observe('camera', 0.02, a, 4)   # a's frames 2 and 3 never arrived
    assert dict(watch.counters())['frames_missed'] == 2
    assert gid_key({'data': [1, 2]}) == b'\x01\x02' and gid_key(None) is None


def test_the_graph_count_warns_once_when_there_are_more_publishers_than_expected():
    watch = SourceWatch('/image_raw', 'this detector', expected_publishers=1)
    assert dict(watch.counters())['input_publishers'] == -1          # not checked yet
    assert watch.graph(['/camera']) is None and not watch.mixed
    text = watch.graph(['/camera', '/camera'])
    assert '2 publishers (/camera, /camera)' in text and 'ROS_DOMAIN_ID' in text and watch.mixed
    assert watch.graph(['/camera', '/camera']) is None
    assert 'expects 1' in neighbour_text('/detections', ['/detector', '/detector'], 1)


def test_qos_mismatch_names_both_sides_and_the_fix():
    best, reliable = {'reliability': 'best_effort', 'durability': 'volatile'}, {'reliability': 'reliable',
                                                                              'durability': 'volatile'}
    assert incompatible_policies(best, reliable) == ['RELIABILITY'] and incompatible_policies(reliable, best) == []
    assert incompatible_policies({'durability': 'volatile'}, {'durability': 'transient_local'}) == ['DURABILITY']
    text = qos_mismatch_text('/image_raw', 'subscription', 'RELIABILITY', reliable,
                             [('/camera', best), ('/other', reliable)])
    assert 'this subscription requests reliability=reliable' in text
    assert 'publisher /camera offers reliability=best_effort' in text and '/other' not in text
    assert 'qos_reliability' in text and 'receives nothing' in text
    text = qos_mismatch_text('/image_raw', 'publisher', 'RELIABILITY', best, [('/probe', reliable)])
    assert 'this publisher offers reliability=best_effort' in text and 'subscription /probe requests' in text

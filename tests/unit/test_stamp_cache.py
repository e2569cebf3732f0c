"""StampPairer: pairing in either order, bounded memory with eviction counts, duplicates, stamp keys."""
import pytest
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from face_ssd_ros.stamp_cache import StampPairer, stamp_key


def test_pairs_in_either_order():
    p = StampPairer(4)
    assert p.add_a((1, 0), 'img1') is None
    assert p.add_b((1, 0), 'det1') == ('img1', 'det1')
    assert p.add_b((2, 5), 'det2') is None
    assert p.add_a((2, 5), 'img2') == ('img2', 'det2')
    assert p.add_a((2, 6), 'img3') is None          # nanoseconds matter
    assert p.pending() == (1, 0)
    assert p.counters() == {'matched': 2, 'unmatched_a': 0, 'unmatched_b': 0, 'duplicates': 0}


def test_bounded_oldest_evicted_and_counted():
    p = StampPairer(2)
    for i in range(5):
        p.add_a((i, 0), i)
    assert p.pending() == (2, 0) and p.unmatched_a == 3
    assert p.add_b((0, 0), 'late') is None            # its image was evicted
    assert p.add_b((4, 0), 'ok') == (4, 'ok')
    p.add_b((7, 0), 'x')
    p.add_b((8, 0), 'y')                               # evicts 'late' (0, 0)
    assert p.unmatched_b == 1 and p.pending() == (1, 2)
    p.clear()
    assert p.pending() == (0, 0)


def test_duplicate_key_replaces():
    p = StampPairer(3)
    p.add_a((1, 1), 'first')
    p.add_a((1, 1), 'second')
    assert p.duplicates == 1 and p.add_b((1, 1), 'd') == ('second', 'd')


def test_capacity_and_stamp_key():
    with pytest.raises(ValueError):
        StampPairer(0)
    t = Time(sec=12, nanosec=345)
    assert stamp_key(t) == (12, 345)
    assert stamp_key(Header(stamp=t, frame_id='cam')) == (12, 345)


def test_ordered_streams_drop_what_can_no_longer_match():
    p = StampPairer(30, ordered=True)
    for k in [(0, 1), (0, 2), (0, 3), (0, 4)]:  # images; the detector skipped 1 and 2
        assert p.add_a(k, 'img%d' % k[1]) is None
    assert p.add_b((0, 3), 'det3') == ('img3', 'det3')
    assert p.pending() == (1, 0)  # img1 and img2 can never be paired: dropped now, not when the cache overflows
    assert p.counters()['unmatched_a'] == 2
    assert p.add_b((0, 4), 'det4') == ('img4', 'det4')
    assert p.pending() == (0, 0)


def test_unordered_keeps_older_items_until_overflow():
    p = StampPairer(30)
    for k in [(0, 1), (0, 2), (0, 3)]:
        p.add_a(k, k)
    assert p.add_b((0, 3), 'd') is not None
    assert p.pending() == (2, 0) and p.counters()['unmatched_a'] == 0
    assert p.add_b((0, 1), 'late') == ((0, 1), 'late')  # e.g. a bag evaluation: late partners still pair

"""stats: rolling latency numbers, window eviction, counters, summary/format, thread safety."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from face_ssd_ros.detect.inference import StageTimes
from face_ssd_ros.stats import PipelineStats, RollingLatency, percentile


def test_rolling_latency_matches_numpy_over_the_window():
    lat = RollingLatency(window=5)
    assert lat.summary() == {'count': 0, 'mean': 0.0, 'p50': 0.0, 'p95': 0.0, 'max': 0.0}
    for v in [100.0, 1, 2, 3, 4, 10]:
        lat.add(v)
    s = lat.summary()
    window = np.array([1, 2, 3, 4, 10], float)       # 100 fell out of the window
    assert s['count'] == 6
    assert s['mean'] == pytest.approx(window.mean()) and s['max'] == 10.0
    assert s['p50'] == pytest.approx(3.0) and s['p95'] == pytest.approx(np.percentile(window, 95))
    with pytest.raises(ValueError):
        RollingLatency(0)


def test_percentile_golden_values():
    assert percentile([7.0], 95) == 7.0                                # one sample: every percentile is it
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5                 # halfway between the middle two
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert percentile([1.0, 2.0, 3.0], 100) == 3.0 and percentile([1.0, 2.0, 3.0], 0) == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=400), st.floats(0.0, 100.0))
def test_percentile_matches_numpy(values, q):
    assert percentile(sorted(values), q) == pytest.approx(np.percentile(values, q), rel=1e-9, abs=1e-9)


class FakeClock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_pipeline_stats_summary_rate_and_reset():
    clock = FakeClock()
    stats = PipelineStats(window=10, clock=clock)
    stats.record_times(StageTimes(1.0, 20.0, 0.5))
    stats.record_times(StageTimes(3.0, 30.0, 1.5))
    stats.record('publish', 0.2)
    stats.increment('frames_in', 3)
    stats.increment('processed')
    stats.increment('processed')
    stats.increment('skipped.unsupported_encoding')
    clock.now += 2.0
    s = stats.summary()
    assert list(s['stages']) == ['preprocess', 'inference', 'postprocess', 'publish']
    assert s['stages']['inference']['mean'] == pytest.approx(25.0) and s['stages']['inference']['count'] == 2
    assert dict(s['counters']) == {'frames_in': 3, 'processed': 2, 'skipped.unsupported_encoding': 1}
    assert s['elapsed_s'] == pytest.approx(2.0)
    assert stats.rate('processed') == pytest.approx(1.0) and stats.counter('missing') == 0
    assert stats.counters() == s['counters']                  # the same counters, without the stage percentiles
    stats.counters()['processed'] = 99                        # a copy: the stats are untouched
    assert stats.counter('processed') == 2
    text = stats.format_summary('detector')
    assert text.startswith('detector (2.0 s)')
    assert 'inference' in text and '25.00' in text and 'processed=2' in text
    stats.reset()
    assert stats.summary()['stages'] == {} and stats.rate('processed') == 0.0
    assert '(no timings recorded)' in stats.format_summary()


def test_counters_are_thread_safe():
    stats = PipelineStats()

    def work():
        for _ in range(2000):
            stats.increment('n')
            stats.record('stage', 1.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.counter('n') == 8000 and stats.summary()['stages']['stage']['count'] == 8000

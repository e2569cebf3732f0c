"""Rolling per-stage latency statistics and named counters (detector diagnostics, summaries, benchmarks)."""
import collections
import threading
import time


def percentile(sorted_values, q):
    """Percentile ``q`` (0-100) of a non-empty ascending sequence, linearly interpolated between the two nearest
    ranks (numpy.percentile's default method). Pure Python: for the few hundred samples of a window this is several
    times cheaper than numpy, which matters in a node that builds its /diagnostics while frames arrive."""
    n = len(sorted_values)
    pos = (n - 1) * float(q) / 100.0
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


class RollingLatency(object):
    """Durations in ms of one stage over the last ``window`` samples (``count`` is the all-time total)."""

    def __init__(self, window=300):
        if int(window) < 1:
            raise ValueError('window must be >= 1, got %r' % (window,))
        self._samples = collections.deque(maxlen=int(window))
        self.count = 0

    def add(self, ms):
        self._samples.append(float(ms))
        self.count += 1

    def summary(self):
        """``{'count', 'mean', 'p50', 'p95', 'max'}`` in ms over the window (zeros before the first sample)."""
        if not self._samples:
            return {'count': self.count, 'mean': 0.0, 'p50': 0.0, 'p95': 0.0, 'max': 0.0}
        values = sorted(self._samples)
        return {'count': self.count, 'mean': sum(values) / len(values), 'p50': percentile(values, 50.0),
                'p95': percentile(values, 95.0), 'max': values[-1]}


class PipelineStats(object):
    """Thread-safe latency per named stage (insertion-ordered) plus named integer counters.

    ``window``: samples per stage for the rolling statistics; ``clock``: seconds source (for tests).
    """

    def __init__(self, window=300, clock=time.monotonic):
        self.window = int(window)
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._stages = collections.OrderedDict()
        self._counters = collections.OrderedDict()

    def record(self, stage, ms):
        """Add one duration (ms) of ``stage``."""
        with self._lock:
            if stage not in self._stages:
                self._stages[stage] = RollingLatency(self.window)
            self._stages[stage].add(ms)

    def record_times(self, times, prefix=''):
        """Record every field of a namedtuple of ``*_ms`` durations (e.g. ``StageTimes``) as a stage."""
        for field, value in zip(times._fields, times):
            self.record(prefix + (field[:-3] if field.endswith('_ms') else field), value)

    def increment(self, name, amount=1):
        """Add ``amount`` to counter ``name`` (created at 0)."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + int(amount)

    def counter(self, name):
        with self._lock:
            return self._counters.get(name, 0)

    def counters(self):
        """A copy of every counter ``{name: int}`` (cheap: no stage percentiles, unlike :meth:`summary`)."""
        with self._lock:
            return collections.OrderedDict(self._counters)

    def reset(self):
        with self._lock:
            self._stages.clear()
            self._counters.clear()
            self._start = self._clock()

    def summary(self):
        """``{'elapsed_s': float, 'stages': {stage: {count, mean, p50, p95, max}}, 'counters': {name: int}}``."""
        with self._lock:
            return {'elapsed_s': self._clock() - self._start,
                    'stages': collections.OrderedDict((k, v.summary()) for k, v in self._stages.items()),
                    'counters': collections.OrderedDict(self._counters)}

    def rate(self, counter):
        """Counter ``counter`` per second since start (or the last reset); 0 before any time passed."""
        with self._lock:  # no summary(): the percentiles of every stage are not needed for a rate
            elapsed = self._clock() - self._start
            count = self._counters.get(counter, 0)
        return count / elapsed if elapsed > 0 else 0.0

    def format_summary(self, title='pipeline statistics'):
        """Human-readable table: one row per stage (count, mean, p50, p95, max in ms), then the counters."""
        summary = self.summary()
        lines = ['%s (%.1f s)' % (title, summary['elapsed_s'])]
        if summary['stages']:
            width = max(12, max(len(k) for k in summary['stages']))
            lines.append('%-*s %8s %9s %9s %9s %9s' % (width, 'stage [ms]', 'count', 'mean', 'p50', 'p95', 'max'))
            for name, s in summary['stages'].items():
                lines.append('%-*s %8d %9.2f %9.2f %9.2f %9.2f' % (width, name, s['count'], s['mean'], s['p50'],
                                                                   s['p95'], s['max']))
        else:
            lines.append('(no timings recorded)')
        if summary['counters']:
            lines.append('counters: ' + ', '.join('%s=%d' % kv for kv in summary['counters'].items()))
        return '\n'.join(lines)

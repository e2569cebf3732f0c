"""Pair two message streams (e.g. images and detection arrays) by exact header stamp, in bounded memory."""
import collections
import threading


def stamp_to_ns(stamp):
    """builtin_interfaces/Time (or a Header, whose ``stamp`` is used) -> int nanoseconds."""
    stamp = getattr(stamp, 'stamp', stamp)
    return int(stamp.sec) * 1000000000 + int(stamp.nanosec)


def ns_to_stamp(ns):
    """Nanoseconds -> ``(sec, nanosec)``."""
    ns = int(ns)
    return ns // 1000000000, ns % 1000000000


def stamp_key(stamp):
    """``(sec, nanosec)`` of a builtin_interfaces/Time (or a Header, whose ``stamp`` is used)."""
    stamp = getattr(stamp, 'stamp', stamp)
    return (int(stamp.sec), int(stamp.nanosec))


class StampPairer(object):
    """Holds unmatched items of streams A and B until their partner with the same key arrives.

    ``capacity``: how many unmatched items each side keeps; when a side overflows its oldest item is evicted
    and counted in ``unmatched_a`` / ``unmatched_b``. A second item with a key already waiting on the same side
    replaces the first (counted in ``duplicates``). Thread-safe.

    ``ordered``: both streams arrive in stamp order and neither ever goes back (camera images and the detections
    of a detector that always takes the latest frame). Then, once key ``k`` is matched, an item waiting with a key
    older than ``k`` can never be matched: it is dropped at once (counted as unmatched) instead of occupying the
    cache until it overflows, so memory holds only the frames still in flight.
    """

    def __init__(self, capacity, ordered=False):
        if int(capacity) < 1:
            raise ValueError('capacity must be >= 1, got %r' % (capacity,))
        self.capacity = int(capacity)
        self.ordered = bool(ordered)
        self._waiting = (collections.OrderedDict(), collections.OrderedDict())
        self._lock = threading.Lock()
        self.matched = 0
        self.unmatched_a = 0
        self.unmatched_b = 0
        self.duplicates = 0

    def add_a(self, key, item):
        """Offer an A item; returns ``(a_item, b_item)`` if its B partner was waiting, else None."""
        return self._add(0, key, item)

    def add_b(self, key, item):
        """Offer a B item; returns ``(a_item, b_item)`` if its A partner was waiting, else None."""
        return self._add(1, key, item)

    def _add(self, side, key, item):
        mine, other = self._waiting[side], self._waiting[1 - side]
        with self._lock:
            if key in other:
                partner = other.pop(key)
                self.matched += 1
                if self.ordered:
                    self._drop_older(key)
                return (item, partner) if side == 0 else (partner, item)
            if key in mine:
                self.duplicates += 1
                del mine[key]
            mine[key] = item
            while len(mine) > self.capacity:
                mine.popitem(last=False)
                if side == 0:
                    self.unmatched_a += 1
                else:
                    self.unmatched_b += 1
            return None

    def _drop_older(self, key):
        for side, waiting in enumerate(self._waiting):
            while waiting:
                oldest = next(iter(waiting))
                if oldest >= key:
                    break
                del waiting[oldest]
                if side == 0:
                    self.unmatched_a += 1
                else:
                    self.unmatched_b += 1

    def pending(self):
        """``(number of A items waiting, number of B items waiting)``."""
        with self._lock:
            return len(self._waiting[0]), len(self._waiting[1])

    def clear(self):
        """Drop everything waiting (not counted as unmatched)."""
        with self._lock:
            self._waiting[0].clear()
            self._waiting[1].clear()

    def counters(self):
        """``{'matched', 'unmatched_a', 'unmatched_b', 'duplicates'}`` as a dict of ints."""
        with self._lock:
            return {'matched': self.matched, 'unmatched_a': self.unmatched_a, 'unmatched_b': self.unmatched_b,
                    'duplicates': self.duplicates}

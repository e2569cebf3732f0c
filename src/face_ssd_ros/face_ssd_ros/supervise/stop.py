"""SIGINT and SIGTERM as one clean stop request (standard library only; no rclpy).

Ctrl-C sends SIGINT; ``docker stop``, systemd and ``timeout`` send SIGTERM. A face_ssd process must end the same
way after either: finish the frame in hand, flush its files (JSONL, video), log its summary, exit 0. Python's
default SIGTERM action kills the process on the spot instead, losing all of that.

:class:`StopRequest` turns the first of these signals into a flag that the main loop polls (``is_set()``;
``signal_name`` says which signal it was): nothing is raised inside the callback that is running, so that frame is
finished. A second signal while the process is already stopping raises KeyboardInterrupt, so a process stuck in
its shutdown can still be interrupted. Handlers can only be installed from the main thread; elsewhere
:meth:`StopRequest.install` leaves the handlers alone (``installed`` stays False). :meth:`StopRequest.restore`
(also on leaving a ``with`` block) puts the previous handlers back.
"""
import signal
import threading

#: The signals that ask a face_ssd process to stop.
STOP_SIGNALS = ('SIGINT', 'SIGTERM')


def _default_handler(signum):
    """What Python does for ``signum`` without a handler of ours (SIGINT: KeyboardInterrupt)."""
    return signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL


class StopRequest(object):
    """A stop flag set by SIGINT / SIGTERM (see the module docstring) or by :meth:`request`."""

    def __init__(self, signals=STOP_SIGNALS):
        self._event = threading.Event()
        self._numbers = [getattr(signal, name) for name in signals if hasattr(signal, name)]
        self._previous = {}
        self.signal_name = None
        self.installed = False

    def install(self):
        """Install the handlers (main thread only; elsewhere a no-op). Returns self."""
        if threading.current_thread() is not threading.main_thread() or self.installed:
            return self
        for number in self._numbers:
            self._previous[number] = signal.signal(number, self._handle)
        self.installed = True
        return self

    def _handle(self, signum, frame):
        if self._event.is_set():
            raise KeyboardInterrupt('second %s while stopping' % signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name
        self._event.set()

    def request(self, why):
        """Ask for a stop without a signal (``signal_name`` = ``why``)."""
        if not self._event.is_set():
            self.signal_name = why
            self._event.set()

    def is_set(self):
        return self._event.is_set()

    def wait(self, timeout=None):
        return self._event.wait(timeout)

    def restore(self):
        """Put back the handlers that were there before :meth:`install` (idempotent)."""
        if not self.installed:
            return
        for number, previous in self._previous.items():
            # None: the previous handler was not set from Python (e.g. by rclpy's C code); use Python's default
            signal.signal(number, previous if previous is not None else _default_handler(number))
        self._previous = {}
        self.installed = False

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc_info):
        self.restore()

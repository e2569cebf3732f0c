"""Which rclpy executor spins face_ssd's nodes: rclpy's events executor where it has one, else the single-threaded one.

rclpy's SingleThreadedExecutor rebuilds its wait set in Python on every wake-up, and a node's parameter services,
QoS event handlers and timers all count: receiving a 640x480 image at 30 Hz with nothing in the callback costs
4.4 % of a core with it, 2.8 % with the events executor (rclpy >= 9, Kilted; ``python benchmarks/bench_cpu_budget.py
--part receive``). Humble and Jazzy have no events executor in rclpy, and ``auto`` falls back to the single-threaded
one there. ``FACE_SSD_EXECUTOR`` (``auto`` | ``events`` | ``single``) chooses for every node and the runner.
"""
import io
import os
import sys

from rclpy.executors import SingleThreadedExecutor

#: environment variable read by :func:`make_executor`
ENV_VARIABLE = 'FACE_SSD_EXECUTOR'
#: the kinds :func:`make_executor` accepts
KINDS = ('auto', 'events', 'single')


class ExecutorChoiceError(ValueError):
    """An unknown executor kind, or ``events`` where rclpy has no events executor; the message says what to use."""


def events_executor_factory():
    """rclpy's EventsExecutor factory (``EventsExecutor(context=...)``), or None where this rclpy has none (Humble,
    Jazzy)."""
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:
        return None
    return EventsExecutor


def resolve_kind(kind=None, environ=None):
    """``kind`` (None = ``$FACE_SSD_EXECUTOR``, default ``auto``) -> ``'events'`` or ``'single'``.

    Raises :class:`ExecutorChoiceError` for an unknown kind, or ``events`` where rclpy has none.
    """
    environ = os.environ if environ is None else environ
    source = 'executor'
    if kind is None:
        kind = environ.get(ENV_VARIABLE, '').strip().lower() or 'auto'
        source = ENV_VARIABLE
    if kind not in KINDS:
        raise ExecutorChoiceError('%s must be one of %s, got %r' % (source, ', '.join(KINDS), kind))
    available = events_executor_factory() is not None
    if kind == 'events' and not available:
        raise ExecutorChoiceError('%s=events, but this rclpy has no events executor (it came with Kilted); use auto '
                                  'or single' % source)
    if kind == 'auto':
        return 'events' if available else 'single'
    return kind


def make_executor(kind=None, context=None, environ=None):
    """A new executor of :func:`resolve_kind` ``(kind, environ)`` in ``context`` (None = the default context).

    rclpy's events executor enables :mod:`faulthandler` on ``sys.stderr``, which fails where that is not a file
    (a captured or redirected stream); it then writes to the process's real stderr, and where there is none the
    single-threaded executor spins instead (subscriptions built for the events executor work under both).
    """
    if resolve_kind(kind, environ) != 'events':
        return SingleThreadedExecutor(context=context)
    events = events_executor_factory()
    stderr = sys.stderr
    try:
        for stream in (stderr, sys.__stderr__):
            sys.stderr = stream
            try:
                return events(context=context)
            except (io.UnsupportedOperation, AttributeError, ValueError, RuntimeError):
                pass
    finally:
        sys.stderr = stderr
    return SingleThreadedExecutor(context=context)

"""Which executor spins the nodes (``face_ssd_ros.nodes.executor``): the choice from the argument or
``FACE_SSD_EXECUTOR``, the fallback where rclpy has no events executor, one-line refusals, and the message-info
rule that keeps subscriptions working under the events executor."""
import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from face_ssd_ros.nodes import common, executor  # noqa: E402
from face_ssd_ros.nodes.executor import ExecutorChoiceError, make_executor, resolve_kind  # noqa: E402

HAS_EVENTS = executor.events_executor_factory() is not None


def test_auto_takes_the_events_executor_where_rclpy_has_one(monkeypatch):
    assert resolve_kind(environ={}) == ('events' if HAS_EVENTS else 'single')
    assert resolve_kind('auto', environ={'FACE_SSD_EXECUTOR': 'single'}) == ('events' if HAS_EVENTS else 'single')
    monkeypatch.setattr(executor, 'events_executor_factory', lambda: None)   # Humble / Jazzy
    assert resolve_kind(environ={}) == 'single'
    with pytest.raises(ExecutorChoiceError, match='no events executor.*use auto or single'):
        resolve_kind('events', environ={})
    with pytest.raises(ExecutorChoiceError, match='^FACE_SSD_EXECUTOR=events'):
        resolve_kind(environ={'FACE_SSD_EXECUTOR': 'events'})


def test_the_environment_chooses_when_no_argument_does():
    assert resolve_kind(environ={'FACE_SSD_EXECUTOR': ' Single '}) == 'single'
    assert resolve_kind(environ={'FACE_SSD_EXECUTOR': ''}) == resolve_kind(environ={})
    with pytest.raises(ExecutorChoiceError, match="FACE_SSD_EXECUTOR must be one of auto, events, single, got 'multi'"):
        resolve_kind(environ={'FACE_SSD_EXECUTOR': 'multi'})
    with pytest.raises(ExecutorChoiceError, match="^executor must be one of"):
        resolve_kind('threads', environ={})


def test_make_executor_builds_the_chosen_class():
    context = rclpy.context.Context()
    rclpy.init(context=context)
    try:
        single = make_executor('single', context)
        assert type(single) is SingleThreadedExecutor
        single.shutdown()
        if HAS_EVENTS:
            events = make_executor(None, context, environ={})
            assert type(events).__name__ == "EventsExecutor"
            events.shutdown()
    finally:
        context.try_shutdown()


def test_subscriptions_take_message_info_only_where_the_executor_hands_it_over(monkeypatch):
    monkeypatch.setenv('FACE_SSD_EXECUTOR', 'single')
    assert common.message_info_delivered() is common.MESSAGE_INFO
    if HAS_EVENTS:
        monkeypatch.setenv('FACE_SSD_EXECUTOR', 'events')
        assert common.message_info_delivered() is False   # rclpy 9's events executor fails on (msg, info)
    monkeypatch.setattr(common, 'MESSAGE_INFO', False)   # Humble
    monkeypatch.setenv('FACE_SSD_EXECUTOR', 'single')
    assert common.message_info_delivered() is False


@pytest.mark.skipif(not HAS_EVENTS, reason='this rclpy has no events executor')
def test_events_executor_where_stderr_is_no_file(monkeypatch):
    import io
    context = rclpy.context.Context()
    rclpy.init(context=context)
    try:
        monkeypatch.setattr('sys.stderr', io.StringIO())          # faulthandler.enable() cannot use it
        ex = make_executor('events', context)
        assert type(ex).__name__ == "EventsExecutor"   # written to the real stderr instead
        ex.shutdown()
        monkeypatch.setattr('sys.__stderr__', None)                  # no stderr at all
        ex = make_executor('events', context)
        assert type(ex) is SingleThreadedExecutor
        ex.shutdown()
    finally:
        context.try_shutdown()


@pytest.mark.timeout(60)
def test_a_node_process_refuses_an_unknown_executor_in_one_line():
    import os
    import random
    import subprocess
    import sys
    env = dict(os.environ, FACE_SSD_EXECUTOR='threads', ROS_DOMAIN_ID=str(random.randint(10, 99)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    proc = subprocess.run([sys.executable, '-m', 'face_ssd_ros.nodes.detector_node'], env=env, timeout=50,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 2, proc.stdout
    assert "FACE_SSD_EXECUTOR must be one of auto, events, single, got 'threads'" in proc.stdout
    assert 'Traceback' not in proc.stdout

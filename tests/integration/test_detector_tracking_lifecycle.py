"""Track ids and the managed detector on a live ROS graph (real rclpy nodes, real DDS, the shipped model).

* detector_node: the same face photo sent three times gives no id (tentative), then one id per face that stays the
  same; tracking switched off at run time gives empty ids; tracker parameters are validated.
* lifecycle_detector_node, driven only through real lifecycle_msgs ChangeState / GetState service calls: nothing is
  published before configure or while inactive, activation publishes with the settings made while inactive,
  deactivate keeps the model loaded, reactivation resumes, cleanup releases, shutdown from active finalizes;
  /diagnostics reports the lifecycle state; a missing model fails configure with the reason.
* The in-process runner starts the managed detector (autostart) from the same pipeline description.
"""
import os

import cv2
import pytest

from face_ssd_ros import runner
from face_ssd_ros.config.pipeline import build_pipeline
from face_ssd_ros.nodes.common import StartupError


def _photo(frames):
    """The first photo of the ``frames`` fixture (a dlib validation photo with large faces), RGB uint8."""
    folder, listing = frames
    return cv2.cvtColor(cv2.imread(os.path.join(folder, listing[0][0])), cv2.COLOR_BGR2RGB)


class _Graph(object):
    """A detector (plain or managed, from the pipeline description) + a test node that publishes ``image_raw``
    (reliable), collects ``detections`` and ``/diagnostics``, and calls the lifecycle services."""

    def __init__(self, context, namespace, helpers, model_path, **overrides):
        from diagnostic_msgs.msg import DiagnosticArray
        from lifecycle_msgs.srv import ChangeState, GetState
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        values = {'detector.model_path': model_path, 'detector.qos_reliability': 'reliable'}
        values.update(overrides)
        self.desc = build_pipeline(namespace=namespace, nodes=['detector'], overrides=values)
        self.detector = runner.create_nodes(self.desc, context)['detector']
        self.col = helpers.make_collector(context, '/' + namespace)
        self.pub = self.col.create_publisher(Image, 'image_raw', QoSProfile(depth=1,
                                                                          reliability=ReliabilityPolicy.RELIABLE))
        self.states = []  # lifecycle_state values seen on /diagnostics, in order
        self.diagnostics = []
        self.col.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        name = '/%s/detector' % namespace
        self.change = self.col.create_client(ChangeState, name + '/change_state')
        self.get = self.col.create_client(GetState, name + '/get_state')
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.detector)
        self.executor.add_node(self.col)
        self.helpers = helpers
        self.namespace = namespace
        self._stamp = 0

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.startswith('/%s/detector' % self.namespace):
                values = dict((kv.key, kv.value) for kv in status.values)
                self.diagnostics.append((status.level, status.message, values))
                state = values.get('lifecycle_state')
                if state and (not self.states or self.states[-1] != state):
                    self.states.append(state)

    def spin(self):
        self.executor.spin_once(timeout_sec=0.05)

    def wait(self, predicate, what, timeout=20):
        self.helpers.wait_for(predicate, timeout, what, spin=self.spin)

    def spin_for(self, seconds):
        import time
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.spin()

    def call(self, client, request):
        self.wait(lambda: client.service_is_ready(), 'service %s' % client.srv_name)
        future = client.call_async(request)
        self.wait(future.done, 'the answer of %s' % client.srv_name)
        return future.result()

    def state(self):
        from lifecycle_msgs.srv import GetState
        return self.call(self.get, GetState.Request()).current_state.label

    def transition(self, transition_id):
        from lifecycle_msgs.srv import ChangeState
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self.call(self.change, request).success

    def image_subscribers(self):
        """Subscribers of image_raw other than the collector (which records image_raw too): the detector's."""
        return self.pub.get_subscription_count() - 1

    def send(self, image_msg):
        """Publish ``image_msg`` with the next stamp; returns the stamp (sec, nanosec)."""
        self._stamp += 1
        image_msg.header.stamp.sec, image_msg.header.stamp.nanosec = 100 + self._stamp, 5
        image_msg.header.frame_id = 'tracking'
        self.pub.publish(image_msg)
        return (100 + self._stamp, 5)

    def detect(self, image_msg):
        """Send one frame and wait for its detection array; returns its [Detection]."""
        self.wait(lambda: self.image_subscribers() >= 1, 'the detector subscription')
        stamp = self.send(image_msg)
        self.wait(lambda: any(s == stamp for s, _, _ in self.col.arrays), 'the array of frame %s' % (stamp,))
        return [d for s, _, d in self.col.arrays if s == stamp][0]

    def close(self):
        self.detector.destroy_node()
        self.col.destroy_node()


def _image_msg(rgb):
    from std_msgs.msg import Header

    from face_ssd_ros.msgs.convert import array_to_image_msg
    return array_to_image_msg(rgb, Header(), 'rgb8')


@pytest.mark.timeout(90)
def test_track_ids_over_dds_and_runtime_tracking_parameters(ros_context, helpers, model_path, frames):
    from rclpy.parameter import Parameter
    photo = _image_msg(_photo(frames))
    g = _Graph(ros_context, 'trk_ids', helpers, model_path)
    try:
        first, second, third = [g.detect(photo) for _ in range(3)]
        assert len(first) >= 2, 'the test photo has several large faces'
        assert all(d.track_id is None for d in first)            # tentative: track_min_hits is 2
        ids = [d.track_id for d in second]
        assert all(i is not None and i >= 1 for i in ids) and len(set(ids)) == len(ids)
        assert sorted(ids) == list(range(1, len(ids) + 1))
        by_box = lambda dets: sorted((round(d.x1), round(d.y1), d.track_id) for d in dets)  # noqa: E731
        assert by_box(third) == by_box(second)                    # same faces, same ids

        bad = g.detector.set_parameters([Parameter('track_min_hits', value=0)])[0]
        assert not bad.successful and 'track_min_hits' in bad.reason
        bad = g.detector.set_parameters([Parameter('track_match_iou', value=1)])[0]
        assert not bad.successful and 'floating-point' in bad.reason
        assert g.detector.set_parameters([Parameter('tracking', value=False)])[0].successful
        assert g.detector.tracker is None
        untracked = g.detect(photo)
        assert len(untracked) == len(first) and all(d.track_id is None for d in untracked)
        ok = g.detector.set_parameters([Parameter('tracking', value=True), Parameter('track_min_hits', value=1)])
        assert all(r.successful for r in ok) and g.detector.tracker.min_hits == 1
        fresh = g.detect(photo)                                   # a new tracker: new ids, at once (min_hits 1)
        assert sorted(d.track_id for d in fresh) == list(range(1, len(fresh) + 1))
    finally:
        g.close()


@pytest.mark.timeout(120)
def test_lifecycle_transitions_over_services(ros_context, helpers, model_path, frames):
    from lifecycle_msgs.msg import Transition
    from rclpy.parameter import Parameter
    photo = _image_msg(_photo(frames))
    g = _Graph(ros_context, 'managed', helpers, model_path, **{'detector.managed': True, 'detector.autostart': False,
                                                              'detector.diagnostics_period': 0.2})
    try:
        assert type(g.detector).__name__ == 'LifecycleDetectorNode'
        assert g.state() == 'unconfigured' and g.detector.detector is None
        g.wait(lambda: g.states[-1:] == ['unconfigured'], '/diagnostics with lifecycle_state unconfigured')
        g.spin_for(0.5)
        assert g.image_subscribers() == 0 and g.col.arrays == []

        assert g.transition(Transition.TRANSITION_CONFIGURE)
        assert g.state() == 'inactive'
        model = g.detector.detector
        assert model is not None and g.detector.sub is None      # loaded, not subscribed
        g.send(photo)
        g.spin_for(1.0)
        assert g.col.arrays == [] and g.detector.stats.counter('frames_received') == 0

        # settings changed while inactive are the ones used once active
        assert g.detector.set_parameters([Parameter('score_threshold', value=0.9)])[0].successful
        assert g.transition(Transition.TRANSITION_ACTIVATE) and g.state() == 'active'
        active = g.detect(photo)
        assert active and all(d.score >= 0.9 for d in active) and all(d.track_id is None for d in active)
        assert g.detect(photo) and all(d.track_id is not None for d in g.col.arrays[-1][2])
        # two frames take a few ms: stay active until /diagnostics has reported it (every 0.2 s)
        g.wait(lambda: g.states[-1:] == ['active'], '/diagnostics with lifecycle_state active')

        assert g.transition(Transition.TRANSITION_DEACTIVATE) and g.state() == 'inactive'
        assert g.detector.detector is model and g.detector.sub is None   # the model stays loaded (warm)
        g.wait(lambda: g.image_subscribers() == 0, 'the subscription to go')
        arrays, received = len(g.col.arrays), g.detector.stats.counter('frames_received')
        g.send(photo)
        g.spin_for(1.0)
        assert len(g.col.arrays) == arrays and g.detector.stats.counter('frames_received') == received

        assert g.transition(Transition.TRANSITION_ACTIVATE)
        resumed = g.detect(photo)
        assert g.detector.detector is model and g.detector.detector.score_threshold == 0.9
        assert by_score(resumed) == by_score(active)             # same settings, same boxes
        assert all(d.track_id is None for d in resumed)          # tracks were forgotten while inactive
        assert g.detector.tracker.last_id >= 1                   # ... but ids are never reused

        assert g.transition(Transition.TRANSITION_DEACTIVATE)
        assert g.transition(Transition.TRANSITION_CLEANUP) and g.state() == 'unconfigured'
        assert g.detector.detector is None and g.detector.pub is None
        assert not g.transition(Transition.TRANSITION_ACTIVATE)  # not from unconfigured
        assert g.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN) and g.state() == 'finalized'
        g.wait(lambda: 'active' in g.states and g.states.index('inactive') < g.states.index('active'),
               lambda: '/diagnostics states, got %s' % g.states)
        assert g.states[0] == 'unconfigured'
    finally:
        g.close()


def by_score(dets):
    return [(round(d.x1), round(d.y1), round(d.x2), round(d.y2), round(d.score, 3)) for d in dets]


@pytest.mark.timeout(90)
def test_configure_with_a_missing_model_fails_with_the_reason(ros_context, helpers, model_path, tmp_path):
    from lifecycle_msgs.msg import Transition
    missing = str(tmp_path / 'no_such_model.onnx')
    g = _Graph(ros_context, 'managed_bad', helpers, missing, **{'detector.managed': True, 'detector.autostart': False,
                                                               'detector.diagnostics_period': 0.2})
    try:
        assert not g.transition(Transition.TRANSITION_CONFIGURE)
        assert g.state() == 'unconfigured' and g.detector.detector is None
        assert 'no_such_model.onnx' in g.detector.core.load_error
        g.wait(lambda: any(level == b'\x02' or level == 2 for level, _, _ in g.diagnostics), '/diagnostics ERROR')
        level, message, values = [d for d in g.diagnostics if d[0] in (b'\x02', 2)][-1]
        assert 'cannot load the model' in message and 'no_such_model.onnx' in message
        assert values['lifecycle_state'] == 'unconfigured'
        assert g.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN) and g.state() == 'finalized'
    finally:
        g.close()
    # with autostart the same model is a start-up error, as for detector_node
    with pytest.raises(StartupError, match='cannot load the model.*no_such_model.onnx'):
        runner.create_nodes(build_pipeline(namespace='managed_bad2', nodes=['detector'], overrides={
            'detector.model_path': missing, 'detector.managed': True}), ros_context)


@pytest.mark.timeout(90)
def test_autostart_and_shutdown_from_active(ros_context, helpers, model_path, frames):
    from lifecycle_msgs.msg import Transition
    photo = _image_msg(_photo(frames))
    g = _Graph(ros_context, 'managed_auto', helpers, model_path, **{'detector.managed': True})
    try:
        assert g.state() == 'active'
        assert g.detect(photo)
        assert g.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN) and g.state() == 'finalized'
        assert g.detector.detector is None and g.detector.sub is None
        arrays = len(g.col.arrays)
        g.send(photo)
        g.spin_for(0.5)
        assert len(g.col.arrays) == arrays
    finally:
        g.close()


@pytest.mark.timeout(90)
def test_runner_starts_the_managed_detector(frames, model_path, tmp_path):
    folder, listing = frames
    jsonl = str(tmp_path / 'managed.jsonl')
    overrides = {'camera.source': folder, 'camera.publish_rate': 4.0, 'camera.qos_reliability': 'reliable',
                 'detector.qos_reliability': 'reliable', 'detector.model_path': model_path, 'detector.managed': True}
    summary = runner.run(build_pipeline(namespace='managed_run', nodes=['camera', 'detector'], overrides=overrides),
                         jsonl=jsonl)
    assert type(summary['nodes']['detector']).__name__ == 'LifecycleDetectorNode'
    assert (summary['frames'], summary['processed'], summary['arrays_recorded']) == (3, 3, 3)
    assert summary['nodes']['detector'].lifecycle_state() in ('finalized', 'unknown')  # shut down at the end


@pytest.mark.timeout(60)
def test_lifecycle_process_with_a_missing_model_exits_1_with_one_clear_line(tmp_path):
    import subprocess
    import sys
    missing = str(tmp_path / 'gone.onnx')
    proc = subprocess.run([sys.executable, '-m', 'face_ssd_ros.nodes.lifecycle_detector_node', '--ros-args', '-p',
                           'model_path:=%s' % missing], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=50)
    assert proc.returncode == 1, proc.stdout
    assert 'Traceback' not in proc.stdout
    errors = [line for line in proc.stdout.splitlines() if '[ERROR]' in line]
    assert len(errors) == 1 and 'cannot load the model' in errors[0] and missing in errors[0], proc.stdout

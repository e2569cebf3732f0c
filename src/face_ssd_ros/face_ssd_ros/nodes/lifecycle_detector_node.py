"""lifecycle_detector_node: the face detector as a managed (lifecycle) node, ``rclpy.lifecycle`` (Humble and newer).

Same parameters, topics, messages and tracking as ``detector_node`` (the work is
:class:`face_ssd_ros.nodes.detector_core.DetectorCore`); the lifecycle decides when it runs:

==============  ===============================================================================================
transition      what happens
==============  ===============================================================================================
configure       loads and warms up the model (and the tracker), creates the ``detections`` lifecycle publisher.
                A missing or mismatched model fails the transition (the node stays unconfigured); the reason is
                logged and reported on ``/diagnostics`` (level ERROR).
activate        subscribes ``image_raw`` and starts publishing.
deactivate      unsubscribes and stops publishing; the model (or TensorRT engine) stays loaded and warm, the
                parameters stay as they are, the tracks are forgotten.
cleanup         releases the model and the publisher (back to unconfigured).
shutdown        from any state: releases everything (finalized).
==============  ===============================================================================================

Parameters can be changed in every state (validated as in detector_node; ``class_filter`` is checked against the
model's labels once it is loaded). ``/diagnostics`` is published in every state, with ``lifecycle_state``.
With ``autostart`` (default true) the node configures and activates itself at start-up, so it runs without a
lifecycle manager; a model that cannot be loaded then is a start-up error (one log line, exit code 1), as for
detector_node. With ``autostart:=false`` it waits, unconfigured, for ``ros2 lifecycle set <node> configure`` or
a lifecycle manager.

Run: ``ros2 run face_ssd_ros lifecycle_detector_node --ros-args -p autostart:=false -p model_path:=/m/face.onnx``
"""
from rclpy.lifecycle import TransitionCallbackReturn

from face_ssd_ros.nodes.common import FaceSsdLifecycleNode, StartupError, exit_with, run_node
from face_ssd_ros.nodes.detector_core import DetectorCore, DetectorCoreViews


class LifecycleDetectorNode(DetectorCoreViews, FaceSsdLifecycleNode):
    """Managed face detector (see the module docstring). ``stats``, ``detector``, ``tracker``, ``pub``, ``sub``
    as for :class:`face_ssd_ros.nodes.detector_node.DetectorNode` (None where the state has none)."""

    DEFAULT_NAME = 'detector'

    def __init__(self, node_name=DEFAULT_NAME, **kwargs):
        self.core = None
        self._autostarting = False
        super(LifecycleDetectorNode, self).__init__(node_name, **kwargs)
        self.core = DetectorCore(self)
        p = self.core.values()
        self.start_diagnostics(p['diagnostics_period'])
        if p['autostart']:
            self._autostarting = True  # a failure is raised as one StartupError line, not logged here too
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise StartupError('%s: %s' % (self.get_name(), self.core.load_error or 'configure failed'))
            if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                raise StartupError('%s: activate failed (see the log above)' % self.get_name())
            self._autostarting = False
        self._summary_logged = False  # from here on, shutdown() logs the summary
        if not p['autostart']:
            self.get_logger().info('unconfigured, waiting for a lifecycle manager (autostart is false): '
                                   'ros2 lifecycle set %s configure' % self.get_fully_qualified_name())

    # ------------------------------------------------------------------ transitions
    def on_configure(self, state):
        try:
            self.core.load()
        except StartupError as exc:
            if not self._autostarting:
                self.get_logger().error('configure failed: %s' % exc)
            return TransitionCallbackReturn.FAILURE
        self.core.create_publisher(lifecycle=True)
        return super(LifecycleDetectorNode, self).on_configure(state)

    def on_activate(self, state):
        result = super(LifecycleDetectorNode, self).on_activate(state)  # enables the lifecycle publisher
        self.core.subscribe()
        self.get_logger().info('active: detecting on %s' % self.core.sub.topic_name)
        return result

    def on_deactivate(self, state):
        self.core.unsubscribe()
        self.get_logger().info('inactive: not subscribed, model kept loaded')
        return super(LifecycleDetectorNode, self).on_deactivate(state)

    def on_cleanup(self, state):
        self._release()
        self.get_logger().info('cleaned up: model released')
        return super(LifecycleDetectorNode, self).on_cleanup(state)

    def on_shutdown(self, state):
        self._release()
        return super(LifecycleDetectorNode, self).on_shutdown(state)

    def on_error(self, state):
        self.get_logger().error('error in a transition from %s; releasing everything' % state.label)
        self._release()
        return TransitionCallbackReturn.SUCCESS  # -> unconfigured

    def _release(self):
        self.core.unsubscribe()
        self.core.destroy_publisher(lifecycle=True)
        self.core.release()

    # ------------------------------------------------------------------ diagnostics / summary
    def diagnostics_status(self):
        """The detector's DiagnosticStatus with ``lifecycle_state``; no image warning unless active."""
        state = self.lifecycle_state()
        return self.core.diagnostics_status(state=state, expect_images=state == 'active')

    def summary_text(self):
        return self.core.summary_text()

    def shutdown(self):
        """Take the node to finalized (releasing the model) and log the summary (idempotent)."""
        if self.core is None:
            return
        # after Ctrl-C the context is shut down: the transition could not announce itself; just release below
        if self.context.ok() and self.lifecycle_state() in ('unconfigured', 'inactive', 'active'):
            try:
                self.trigger_shutdown()
            except Exception:  # release directly below
                pass
        self._release()
        self.log_summary()


def main(args=None):
    exit_with(run_node(LifecycleDetectorNode, args=args))


if __name__ == '__main__':
    main()

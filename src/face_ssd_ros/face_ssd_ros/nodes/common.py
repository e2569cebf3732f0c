"""rclpy glue shared by the face_ssd nodes: parameters from ParamSpec tables, image QoS, the node base class
(summary, shutdown, diagnostics, clean-up of a node that fails to start) and the main() loop.

Works on ROS 2 Humble (Python 3.6 on JetPack 4.6, 3.8+ elsewhere) and newer.
"""
import array
import numbers
import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType, \
    SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_ssd_ros.config import params

_ROS_TYPES = {
    'bool': ParameterType.PARAMETER_BOOL,
    'int': ParameterType.PARAMETER_INTEGER,
    'double': ParameterType.PARAMETER_DOUBLE,
    'string': ParameterType.PARAMETER_STRING,
    'string_array': ParameterType.PARAMETER_STRING_ARRAY,
}
_PARAMETER_TYPES = {
    'bool': Parameter.Type.BOOL,
    'int': Parameter.Type.INTEGER,
    'double': Parameter.Type.DOUBLE,
    'string': Parameter.Type.STRING,
    'string_array': Parameter.Type.STRING_ARRAY,
}


class StartupError(RuntimeError):
    """A node cannot start (missing model, unopenable file, invalid setting); the message says what to do."""


def descriptor_for(spec):
    """rcl_interfaces/ParameterDescriptor of a :class:`face_ssd_ros.config.params.ParamSpec`.

    Numbers get an integer / floating-point range; choices go into ``additional_constraints``. Every parameter
    is declared dynamically typed, so a wrongly typed value reaches the node's on-set callback, which rejects
    it with a reason naming the parameter and the expected type (rclpy's own type check would only say
    "Wrong parameter type, expected '3' got '4'"); the type check itself is :meth:`ParameterHandler.check`.
    (String arrays need it anyway: an empty list cannot be typed by ROS.)
    """
    d = ParameterDescriptor(name=spec.name, description=spec.description, read_only=bool(spec.read_only))
    d.type = _ROS_TYPES[spec.type]
    d.dynamic_typing = True
    if spec.type == 'int' and spec.min is not None and spec.max is not None:
        d.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max), step=0)]
    if spec.type == 'double' and spec.min is not None and spec.max is not None:
        d.floating_point_range = [FloatingPointRange(from_value=float(spec.min), to_value=float(spec.max),
                                                     step=0.0)]
    constraints = []
    if spec.choices:
        constraints.append('one of: ' + ', '.join(str(c) for c in spec.choices))
    constraints.append('read-only (set at start-up)' if spec.read_only else 'changeable at run time')
    d.additional_constraints = '; '.join(constraints)
    return d


def to_parameter(spec, value):
    """rclpy Parameter with the spec's explicit type (so an empty string array is typed, not a byte array)."""
    return Parameter(spec.name, _PARAMETER_TYPES[spec.type], list(value) if spec.type == 'string_array' else value)


def _ros_type_reason(spec, value):
    """Why ``value`` is not of the ROS type of ``spec`` beyond :func:`face_ssd_ros.config.params.validate` (which also
    accepts integers for doubles, as YAML writes them): None if fine. ROS stores a double only as a float."""
    if value is None:
        return '%s cannot be unset (it is a parameter of this node; set a value instead)' % spec.name
    if spec.type == 'double' and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return '%s must be a floating-point number, got the integer %r: write %r' % (spec.name, value, float(value))
    return None


def _normalise(spec, value):
    """A parameter value as the spec's Python type (ROS hands arrays out as array.array / lists / tuples).
    Anything else is returned as it is, for the validation to reject (a string is not a list of its letters)."""
    if spec.type == 'string_array':
        if value is None:
            return []
        if isinstance(value, (list, tuple, array.array)):
            return list(value)
    return value


class ParameterHandler(object):
    """Declares a node's parameters from a ParamSpec table and validates every later change.

    ``extra_checks``: ``{name: fn(value) -> reason or None}`` for checks beyond the spec (e.g. class_filter
    against the model's labels). ``on_change``: ``fn({name: value})`` called with the accepted runtime changes
    (after validation of the whole batch, before the new values are stored: Humble has no post-set callback).
    Rejections carry the reason (visible to ``ros2 param set``) and are logged.
    """

    def __init__(self, node, specs, extra_checks=None, on_change=None):
        self.node = node
        self.specs = dict((s.name, s) for s in specs)
        self.extra_checks = dict(extra_checks or {})
        self.on_change = on_change
        self._declared = False
        self._rejected = None  # reason of the last rejection (start-up: it names the problem better than rclpy)
        node.add_on_set_parameters_callback(self._on_set)
        for spec in specs:
            default = list(spec.default) if spec.type == 'string_array' else spec.default
            self._rejected = None
            try:
                node.declare_parameter(spec.name, default, descriptor_for(spec))
            except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
                raise StartupError('%s: invalid start-up parameter %s: %s' % (
                    node.get_name(), spec.name, self._rejected or (exc.args[0] if exc.args else exc)))
        self._declared = True

    def values(self):
        """``{name: value}`` of every spec'd parameter (current values)."""
        return dict((name, self.get(name)) for name in self.specs)

    def get(self, name):
        return _normalise(self.specs[name], self.node.get_parameter(name).value)

    def check(self, name, value):
        """Reason why ``value`` is not acceptable for ``name``, or None."""
        spec = self.specs.get(name)
        if spec is None:
            return None  # not ours (use_sim_time, ...): rclpy validates it
        reason = _ros_type_reason(spec, value)
        if reason is not None:
            return reason
        value = _normalise(spec, value)
        reason = params.validate(spec, value)
        if reason is None and name in self.extra_checks:
            reason = self.extra_checks[name](value)
        return reason

    def _on_set(self, parameters):
        reasons = [r for r in (self.check(p.name, p.value) for p in parameters) if r]
        if reasons:
            reason = self._rejected = '; '.join(reasons)
            if self._declared:
                self.node.get_logger().warning('parameter change rejected: %s' % reason)
            return SetParametersResult(successful=False, reason=reason)
        if self._declared and self.on_change is not None:
            changes = dict((p.name, _normalise(self.specs[p.name], p.value)) for p in parameters
                           if p.name in self.specs)
            if changes:
                try:
                    self.on_change(changes)
                except ValueError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)


def join_thread(thread, timeout=5.0):
    """Wait up to ``timeout`` s for a worker ``thread`` (None, or the calling thread itself: no wait).
    Returns True when it is not running any more."""
    if thread is None:
        return True
    if thread is not threading.current_thread():
        thread.join(timeout=timeout)
    return not thread.is_alive()


class _DestroyedOnFailedStart(type):
    """Metaclass of :class:`FaceSsdNode`: when a constructor raises (a :class:`StartupError`, a bad parameter),
    the part of the node already built (rcl node, /rosout logger, publishers, timers) is destroyed before the
    error propagates. Otherwise it would live on in its context: a process that reuses the context (the in-process
    runner, tests) would keep its endpoints and rclpy would warn that the /rosout publisher of the next node of the
    same name is already registered."""

    def __call__(cls, *args, **kwargs):
        node = cls.__new__(cls)
        try:
            node.__init__(*args, **kwargs)
        except BaseException:
            _destroy_unfinished(node)
            raise
        return node


def _destroy_unfinished(node):
    try:
        node.handle
    except AttributeError:
        return  # rclpy's Node.__init__ itself failed: there is nothing to destroy
    try:
        node.destroy_node()
    except Exception as exc:  # the start-up error matters more than a failed clean-up
        rclpy.logging.get_logger(getattr(type(node), 'DEFAULT_NAME', 'face_ssd')).warning(
            'cleaning up after the failed start also failed: %s: %s' % (type(exc).__name__, exc))


class FaceSsdNodeMixin(object):
    """What the face_ssd nodes share around their own work (mixed into an rclpy ``Node`` or ``LifecycleNode``,
    see :class:`FaceSsdNode` and :class:`FaceSsdLifecycleNode`).

    * A node that fails in its constructor is destroyed (see :class:`_DestroyedOnFailedStart`), so ``shutdown()``
      must cope with a partly built node: set the attributes it uses before ``super().__init__``.
    * ``summary_text()`` (subclasses) is logged once by :meth:`log_summary`; ``_summary_logged`` stays True (the
      class default: nothing to summarise) until the subclass sets it False once the node is fully built.
    * :meth:`shutdown` (subclasses extend it: stop threads, release devices and files) runs before
      :meth:`destroy_node`; both are idempotent.
    * :meth:`start_diagnostics` publishes ``diagnostics_status()`` (subclasses) on ``/diagnostics`` periodically.
    """

    _summary_logged = True

    def summary_text(self):
        raise NotImplementedError('%s must define summary_text()' % type(self).__name__)

    def log_summary(self):
        """Log :meth:`summary_text` once (no-op before the node is fully built)."""
        if not self._summary_logged:
            self._summary_logged = True
            self.get_logger().info(self.summary_text())

    def shutdown(self):
        """Stop the node's own work and log its summary (idempotent). Subclasses extend it."""
        self.log_summary()

    def destroy_node(self):
        try:
            self.shutdown()
        finally:
            result = super(FaceSsdNodeMixin, self).destroy_node()
        return result

    # ------------------------------------------------------------------ /diagnostics
    def start_diagnostics(self, period_s):
        """Publish ``diagnostics_status()`` (a diagnostic_msgs/DiagnosticStatus) on ``/diagnostics`` every
        ``period_s`` seconds (``diag_pub``)."""
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diag_timer = self.create_timer(period_s, self.publish_diagnostics)

    def set_diagnostics_period(self, period_s):
        """Change the period of :meth:`start_diagnostics` (a runtime ``diagnostics_period`` change)."""
        self._diag_timer.cancel()
        self.destroy_timer(self._diag_timer)
        self._diag_timer = self.create_timer(period_s, self.publish_diagnostics)

    def publish_diagnostics(self):
        self.diag_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                              status=[self.diagnostics_status()]))


class FaceSsdNode(FaceSsdNodeMixin, Node, metaclass=_DestroyedOnFailedStart):
    """Base class of the face_ssd nodes (see :class:`FaceSsdNodeMixin`)."""


class FaceSsdLifecycleNode(FaceSsdNodeMixin, LifecycleNode, metaclass=_DestroyedOnFailedStart):
    """Base class of the managed (lifecycle) face_ssd nodes (see :class:`FaceSsdNodeMixin`); the subclass's
    ``on_configure`` / ``on_activate`` / ... callbacks do the work of each transition."""

    def lifecycle_state(self):
        """Label of the current lifecycle state: unconfigured, inactive, active, finalized, or a transition state
        (configuring, ...). rclpy has no public getter; its state machine is read directly."""
        try:
            return str(self._state_machine.current_state[1])
        except Exception:  # before the state machine exists, or after the node was destroyed
            return 'unknown'


def image_qos(reliability):
    """Image-topic QoS: sensor-data style, KEEP_LAST depth 1, VOLATILE; ``reliability`` 'best_effort'|'reliable'."""
    if reliability not in params.QOS_CHOICES:
        raise StartupError('qos_reliability must be one of %s, got %r' % (', '.join(params.QOS_CHOICES),
                                                                           reliability))
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, durability=DurabilityPolicy.VOLATILE,
                      reliability=(ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                                   else ReliabilityPolicy.BEST_EFFORT))


def image_topic(node, transport, base='image_raw'):
    """``(message class, topic name)`` of an image endpoint as image_transport names it: ``raw`` =
    sensor_msgs/Image on ``base``; ``compressed`` = sensor_msgs/CompressedImage on the resolved ``base`` (namespace
    and remapping applied, so ``-r image_raw:=/cam/image`` gives ``/cam/image/compressed``) + ``/compressed``."""
    if transport not in params.IMAGE_TRANSPORTS:
        raise StartupError('image_transport must be one of %s, got %r' % (', '.join(params.IMAGE_TRANSPORTS),
                                                                          transport))
    if transport == 'raw':
        return Image, base
    return CompressedImage, node.resolve_topic_name(base) + '/compressed'


def detections_qos():
    """QoS of the small detection arrays: reliable, KEEP_LAST 10 (a reliable subscriber can always connect)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def describe_qos(qos):
    return '%s, %s depth %d, %s' % (qos.reliability.name.lower(), qos.history.name.lower(), qos.depth,
                                    qos.durability.name.lower())


def log_qos(node, role, topic_name, qos):
    """Log the QoS an endpoint uses, so a reliable subscriber on a best_effort publisher is not a silent mismatch."""
    node.get_logger().info('%s %s with QoS %s (a reliable subscriber receives nothing from a best_effort '
                           'publisher; set qos_reliability to match)' % (role, topic_name, describe_qos(qos)))


def run_node(node_class, args=None, done=None):
    """Standard main(): init, construct ``node_class()``, spin until Ctrl-C or ``node.finished`` is set, clean up.

    ``node.finished`` (a threading.Event, optional) ends the spin cleanly (e.g. the camera reached the end of its
    file). A :class:`StartupError` is logged as one line and exits non-zero (no traceback; a
    :class:`FaceSsdNode` has already destroyed what it had built). The node's ``shutdown()`` (optional) runs
    before destruction and prints its summary. Returns the exit code.
    """
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        try:
            node = node_class()
        except StartupError as exc:
            rclpy.logging.get_logger(getattr(node_class, 'DEFAULT_NAME', 'face_ssd')).error(str(exc))
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        finished = getattr(node, 'finished', None) or threading.Event()
        try:
            while rclpy.ok() and not finished.is_set():
                executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        code = getattr(node, 'exit_code', 0)
    finally:
        if node is not None:
            shutdown = getattr(node, 'shutdown', None)
            if shutdown is not None:
                shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


def exit_with(code):
    """sys.exit for console-script entry points (keeps main() returning the code for tests)."""
    sys.exit(code)

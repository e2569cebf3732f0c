"""rclpy glue shared by the face_ssd nodes: parameters from ParamSpec tables, image QoS, and the main() loop.

Works on ROS 2 Humble (Python 3.8) and newer.
"""
import sys
import threading

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType, \
    SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from face_ssd_ros import params

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
    """rcl_interfaces/ParameterDescriptor of a :class:`face_ssd_ros.params.ParamSpec`.

    Numbers get an integer / floating-point range; choices go into ``additional_constraints``. String arrays
    are dynamically typed so that an empty list (which ROS cannot type) is accepted; the on-set callback
    still checks that every entry is a string.
    """
    d = ParameterDescriptor(name=spec.name, description=spec.description, read_only=bool(spec.read_only))
    d.type = _ROS_TYPES[spec.type]
    if spec.type == 'string_array':
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


def _normalise(spec, value):
    """A parameter value as the spec's Python type (ROS hands arrays out as array.array / lists)."""
    if spec.type == 'string_array':
        return [] if value is None else list(value)
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
        node.add_on_set_parameters_callback(self._on_set)
        for spec in specs:
            default = list(spec.default) if spec.type == 'string_array' else spec.default
            try:
                node.declare_parameter(spec.name, default, descriptor_for(spec))
            except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
                raise StartupError('%s: invalid start-up parameter: %s' % (node.get_name(), exc))
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
        value = _normalise(spec, value)
        reason = params.validate(spec, value)
        if reason is None and name in self.extra_checks:
            reason = self.extra_checks[name](value)
        return reason

    def _on_set(self, parameters):
        reasons = [r for r in (self.check(p.name, p.value) for p in parameters) if r]
        if reasons:
            reason = '; '.join(reasons)
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


def image_qos(reliability):
    """Image-topic QoS: sensor-data style, KEEP_LAST depth 1, VOLATILE; ``reliability`` 'best_effort'|'reliable'."""
    if reliability not in params.QOS_CHOICES:
        raise StartupError('qos_reliability must be one of %s, got %r' % (', '.join(params.QOS_CHOICES),
                                                                           reliability))
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, durability=DurabilityPolicy.VOLATILE,
                      reliability=(ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                                   else ReliabilityPolicy.BEST_EFFORT))


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
    file). A :class:`StartupError` is logged as one line and exits non-zero (no traceback). The node's
    ``shutdown()`` (optional) runs before destruction and prints its summary. Returns the exit code.
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

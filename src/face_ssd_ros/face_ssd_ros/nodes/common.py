"""rclpy glue shared by the face_ssd nodes: parameters from ParamSpec tables, image QoS, the node base class
(summary, shutdown, diagnostics, clean-up of a node that fails to start) and the main() loop.

Works on ROS 2 Humble (Python 3.6 on JetPack 4.6, 3.8+ elsewhere) and newer.
"""
import array
import numbers
import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType, \
    SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

try:  # Iron and newer
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks

from face_ssd_ros.config import params
from face_ssd_ros.nodes.executor import ExecutorChoiceError, make_executor, resolve_kind
from face_ssd_ros.supervise.graph import SourceWatch, qos_mismatch_text
from face_ssd_ros.supervise.memory import keep_frame_buffers
from face_ssd_ros.supervise.stop import StopRequest

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
        self.check_graph()
        self.diag_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                              status=[self.diagnostics_status()]))

    # ------------------------------------------------------------------ watched endpoints (neighbours, QoS)
    def _watch_state(self):
        if '_watches' not in self.__dict__:
            self._watches = []          # [(subscription, SourceWatch, label)]
            self.qos_mismatches = 0     # incompatible endpoints reported by the QoS events
            self._qos_warned = set()
        return self._watches

    def watched_subscription(self, msg_type, topic, callback, qos, what, label='', expected_publishers=1):
        """``create_subscription`` that also watches who feeds the topic (:class:`SourceWatch`: other frame_ids or
        publishers, sequence gaps where rclpy gives message info, the graph's publisher count at each
        /diagnostics) and reports incompatible-QoS publishers (:meth:`on_incompatible_qos`). ``what`` names the
        node's part in the warnings ('this detector'); ``label`` prefixes its /diagnostics keys."""
        watches = self._watch_state()
        events, holder = self._qos_events(SubscriptionEventCallbacks, 'subscription', qos)
        watch = SourceWatch(topic, what, expected_publishers)
        if message_info_delivered():
            def deliver(msg, info):
                self._observe(watch, msg, info)
                callback(msg)
        else:
            def deliver(msg):
                self._observe(watch, msg, None)
                callback(msg)
        sub = self.create_subscription(msg_type, topic, deliver, qos, event_callbacks=events)
        holder.append(sub)
        watch.topic = sub.topic_name
        watches.append((sub, watch, label))
        return sub

    def qos_watched_subscription(self, msg_type, topic, callback, qos):
        """``create_subscription`` whose incompatible-QoS publishers are reported (:meth:`on_incompatible_qos`),
        without the source watch (inputs that several publishers may feed by design)."""
        events, holder = self._qos_events(SubscriptionEventCallbacks, 'subscription', qos)
        sub = self.create_subscription(msg_type, topic, callback, qos, event_callbacks=events)
        holder.append(sub)
        return sub

    def watched_publisher(self, msg_type, topic, qos, lifecycle=False):
        """``create_publisher`` whose incompatible-QoS subscriptions are reported (:meth:`on_incompatible_qos`);
        ``lifecycle``: ``create_lifecycle_publisher`` (a managed node's publisher, silent while inactive)."""
        events, holder = self._qos_events(PublisherEventCallbacks, 'publisher', qos)
        create = self.create_lifecycle_publisher if lifecycle else self.create_publisher
        pub = create(msg_type, topic, qos, event_callbacks=events)
        holder.append(pub)
        return pub

    def _qos_events(self, callbacks_class, role, qos):
        """``(event callbacks, holder)`` that report an incompatible-QoS event of the endpoint the caller appends to
        ``holder`` once created (:meth:`on_incompatible_qos`; ``role`` 'subscription' or 'publisher')."""
        self._watch_state()
        holder = []
        events = callbacks_class(
            incompatible_qos=lambda event: self.on_incompatible_qos(role, holder[0], qos, event))
        return events, holder

    def unwatch(self, sub):
        """Forget the source watch of ``sub`` (before it is destroyed: a managed node's deactivation)."""
        self._watches = [w for w in self._watch_state() if w[0] is not sub]

    def _observe(self, watch, msg, info):
        header = getattr(msg, 'header', None)
        info = info or {}
        text = watch.observe(header.frame_id if header is not None else '', time.monotonic(),
                             info.get('publisher_gid'), info.get('publication_sequence_number'))
        if text:
            self.get_logger().warning(text)

    def check_graph(self):
        """Compare each watched topic's publishers in the ROS graph with what the node expects (warns once)."""
        for sub, watch, _ in self._watch_state():
            try:
                infos = self.get_publishers_info_by_topic(sub.topic_name)
            except Exception:  # the context is shutting down
                return
            text = watch.graph(endpoint_name(i) for i in infos)
            if text:
                self.get_logger().warning(text)

    def on_incompatible_qos(self, role, endpoint, own_qos, event):
        """An incompatible-QoS event (rclpy calls this within the executor as soon as DDS discovers the other
        endpoint): counted in ``qos_mismatches``, explained in one warning per topic and side."""
        self._watch_state()
        self.qos_mismatches += max(1, int(getattr(event, 'total_count_change', 1) or 1))
        topic = endpoint.topic_name
        try:
            infos = (self.get_publishers_info_by_topic(topic) if role == 'subscription'
                     else self.get_subscriptions_info_by_topic(topic))
        except Exception:
            infos = []
        others = [(endpoint_name(i), qos_to_dict(i.qos_profile)) for i in infos]
        text = qos_mismatch_text(topic, role, policy_name(getattr(event, 'last_policy_kind', None)),
                                 qos_to_dict(own_qos), others)
        if (role, topic) not in self._qos_warned:
            self._qos_warned.add((role, topic))
            self.get_logger().warning(text + ' Counted on /diagnostics (qos_mismatches).')

    def watch_values(self):
        """``[(key, str)]`` of the watched topics for /diagnostics, and a warning text or ''."""
        values, problems = [('qos_mismatches', str(self.__dict__.get('qos_mismatches', 0)))], []
        if self.__dict__.get('qos_mismatches'):
            problems.append('QoS mismatch (%d)' % self.qos_mismatches)
        for sub, watch, label in self._watch_state():
            values += [((label + '_' if label else '') + k, str(v)) for k, v in watch.counters()]
            if watch.mixed:
                problems.append('%s fed by several sources' % watch.topic)
        return values, '; '.join(problems)


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


def image_qos(reliability, depth=1):
    """Image-topic QoS: sensor-data style, KEEP_LAST ``depth`` (1: only the newest frame), VOLATILE;
    ``reliability`` 'best_effort'|'reliable'."""
    if reliability not in params.QOS_CHOICES:
        raise StartupError('qos_reliability must be one of %s, got %r' % (', '.join(params.QOS_CHOICES),
                                                                           reliability))
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth), durability=DurabilityPolicy.VOLATILE,
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


#: rclpy hands subscription callbacks the message info (publisher gid, sequence number) from Iron on.
MESSAGE_INFO = hasattr(getattr(Subscription, 'CallbackType', None), 'WithMessageInfo')


def message_info_delivered():
    """Whether subscription callbacks can take the message info here: rclpy has it (Iron on) and the executor this
    process uses (:func:`face_ssd_ros.nodes.executor.resolve_kind`) hands it over; rclpy 9's events executor
    does not (it fails on a two-argument callback), so the source watch then works from frame_ids and the graph."""
    if not MESSAGE_INFO:
        return False
    try:
        return resolve_kind() != 'events'
    except ExecutorChoiceError:
        return True   # run_node refuses the setting with its reason before anything spins


def endpoint_name(info):
    """'/namespace/node' of a TopicEndpointInfo."""
    return '%s/%s' % (info.node_namespace.rstrip('/'), info.node_name)


def _enum_name(value):
    name = getattr(value, 'name', None)
    return name.lower() if name else str(value).lower()


def qos_to_dict(qos):
    """A QoSProfile as the dict :mod:`face_ssd_ros.supervise.graph` compares (lower-case policy values)."""
    return {'reliability': _enum_name(qos.reliability), 'durability': _enum_name(qos.durability),
            'liveliness': _enum_name(qos.liveliness), 'history': _enum_name(qos.history), 'depth': int(qos.depth)}


def policy_name(kind):
    """'RELIABILITY', 'DURABILITY', ... of an event's ``last_policy_kind`` (enum or int)."""
    try:
        from rclpy.qos import qos_policy_name_from_kind
        return qos_policy_name_from_kind(kind)
    except Exception:
        name = getattr(kind, 'name', None)
        return name if name else 'RELIABILITY'


def describe_qos(qos):
    return '%s, %s depth %d, %s' % (qos.reliability.name.lower(), qos.history.name.lower(), qos.depth,
                                    qos.durability.name.lower())


def log_qos(node, role, topic_name, qos):
    """Log the QoS an endpoint uses, so a reliable subscriber on a best_effort publisher is not a silent mismatch."""
    node.get_logger().info('%s %s with QoS %s (a reliable subscriber receives nothing from a best_effort '
                           'publisher; set qos_reliability to match)' % (role, topic_name, describe_qos(qos)))


def init_rclpy(args=None, context=None, prog='face_ssd'):
    """``rclpy.init``; malformed ROS arguments (``--ros-args -p`` without a rule) become a
    :class:`StartupError` with rcl's reason instead of a traceback."""
    try:
        rclpy.init(args=args, context=context)
    except Exception as exc:  # rclpy's RCLError: "Couldn't parse trailing -p flag ..."
        text = str(exc).split(', at /')[0].replace('failed to initialize rcl: ', '')
        raise StartupError('%s: invalid ROS arguments: %s (see ros2 run --help: --ros-args -p NAME:=VALUE, '
                           '-r FROM:=TO)' % (prog, text))


def run_node(node_class, args=None, done=None):
    """Standard main(): init, construct ``node_class()``, spin until SIGINT / SIGTERM or ``node.finished`` is set,
    clean up.

    ``node.finished`` (a threading.Event, optional) ends the spin cleanly (e.g. the camera reached the end of its
    file). SIGINT (Ctrl-C) and SIGTERM (docker stop, systemd, timeout) both end it the same way
    (:class:`face_ssd_ros.supervise.stop.StopRequest`): the callback in hand finishes, then the node's ``shutdown()``
    runs (files flushed, summary logged) and the exit code is 0; a second signal interrupts at once. A
    :class:`StartupError` (also malformed ROS arguments) is logged as one line and exits non-zero (no traceback; a
    :class:`FaceSsdNode` has already destroyed what it had built). Frame-sized buffers are kept in the heap
    (:func:`face_ssd_ros.supervise.memory.keep_frame_buffers`). Returns the exit code.
    """
    name = getattr(node_class, 'DEFAULT_NAME', 'face_ssd')
    keep_frame_buffers()
    try:
        init_rclpy(args, prog=name)
    except StartupError as exc:
        rclpy.logging.get_logger(name).error(str(exc))
        return 2
    stop = StopRequest().install()  # after rclpy.init, which installs its own handlers
    node = None
    code = 0
    try:
        try:
            node = node_class()
        except StartupError as exc:
            rclpy.logging.get_logger(name).error(str(exc))
            return 1
        try:
            executor = make_executor()
        except ExecutorChoiceError as exc:
            rclpy.logging.get_logger(name).error(str(exc))
            return 2
        warn_unknown_overrides(node)
        executor.add_node(node)
        finished = getattr(node, 'finished', None) or threading.Event()
        try:
            while rclpy.ok() and not finished.is_set() and not stop.is_set():
                executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        if stop.is_set():
            node.get_logger().info('stopping on %s' % stop.signal_name)
        code = getattr(node, 'exit_code', 0)
    finally:
        try:
            if node is not None:
                shutdown = getattr(node, 'shutdown', None)
                if shutdown is not None:
                    shutdown()
                node.destroy_node()
            rclpy.try_shutdown()
        finally:
            stop.restore()
    return code


def warn_unknown_overrides(node):
    """Log one warning naming the parameter overrides given to ``node`` (``-p``, params files) that it never
    declared: rclpy ignores them silently (``-p score_treshold:=0.9`` would leave the threshold at its default).
    Returns the warning text ('' when none). rclpy keeps the overrides in ``Node._parameter_overrides`` (Humble
    to Kilted); where it has no such attribute, nothing is checked."""
    overrides = getattr(node, '_parameter_overrides', None) or {}
    unknown = [name for name in overrides if not node.has_parameter(name)]
    text = params.unknown_parameters_text(node.get_name(), unknown, list(getattr(node, '_parameters', {})))
    if text:
        node.get_logger().warning(text)
    return text


def exit_with(code):
    """sys.exit for console-script entry points (keeps main() returning the code for tests)."""
    sys.exit(code)

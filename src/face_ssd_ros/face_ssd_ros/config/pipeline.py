"""The one description of the face_ssd pipeline, shared by the launch files and the in-process runner (rclpy-free).

``config/pipeline.yaml`` (camera -> detector -> overlay) and ``config/bag_eval.yaml`` (replay -> detector ->
evaluator, see docs/BAG_EVAL.md) hold the parameters of their nodes in the ROS 2 parameter-file layout
(``node_name: {ros__parameters: {...}}``). :func:`build_pipeline` reads it (plus optional extra parameter files),
applies overrides, validates every value with :mod:`face_ssd_ros.config.params` and returns one
:class:`NodeDescription` per node: package, executable, node name, namespace, parameters, remappings. The launch
files turn these into ``launch_ros`` Node actions; ``face_ssd_ros.runner`` constructs the same node classes in one
process. So launch and runner cannot diverge.

Overrides are ``{key: value}`` (or ``"key=value"`` strings) where ``key`` is ``node.param``
(``detector.score_threshold``) or a shortcut (``score_threshold``, ``model_path``, ``source``, ... see
:data:`SHORTCUTS`). String values (from the command line or launch arguments) are converted to the parameter's
type (``"0.5"`` -> 0.5, ``"true"`` -> True, ``"face,plate"`` / ``"[face, plate]"`` -> a list).
"""
import collections
import json
import os
import sys

import yaml

from face_ssd_ros.config import bag_params, params

PACKAGE = 'face_ssd_ros'
NODE_KEYS = ('camera', 'detector', 'overlay')
#: The bag-evaluation pipeline (config/bag_eval.yaml, launch/bag_eval.launch.py).
BAG_EVAL_NODES = ('replay', 'detector', 'evaluator')
BAG_EVAL_CONFIG = 'bag_eval.yaml'


class NodeType(collections.namedtuple('NodeType', 'executable module class_name specs')):
    """Where a pipeline node's code lives: console script, module, node class, and its ParamSpec table."""
    __slots__ = ()


NODE_TYPES = collections.OrderedDict([
    ('camera', NodeType('camera_node', 'face_ssd_ros.nodes.camera_node', 'CameraNode', params.CAMERA_PARAMS)),
    ('detector', NodeType('detector_node', 'face_ssd_ros.nodes.detector_node', 'DetectorNode',
                          params.DETECTOR_PARAMS)),
    ('overlay', NodeType('overlay_node', 'face_ssd_ros.nodes.overlay_node', 'OverlayNode', params.OVERLAY_PARAMS)),
    ('replay', NodeType('replay_node', 'face_ssd_ros.nodes.replay_node', 'ReplayNode', bag_params.REPLAY_PARAMS)),
    ('evaluator', NodeType('evaluator_node', 'face_ssd_ros.nodes.evaluator_node', 'EvaluatorNode',
                           bag_params.EVALUATOR_PARAMS)),
])
#: The detector as a managed (lifecycle) node: chosen instead of NODE_TYPES['detector'] by ``detector.managed``.
MANAGED_DETECTOR = NodeType('lifecycle_detector_node', 'face_ssd_ros.nodes.lifecycle_detector_node',
                            'LifecycleDetectorNode', params.DETECTOR_PARAMS)

#: Short override keys -> (node, parameter).
SHORTCUTS = collections.OrderedDict([
    ('source', ('camera', 'source')),
    ('camera_source', ('camera', 'source')),
    ('source_type', ('camera', 'source_type')),
    ('publish_rate', ('camera', 'publish_rate')),
    ('loop', ('camera', 'loop')),
    ('frame_id', ('camera', 'frame_id')),
    ('max_frames', ('camera', 'max_frames')),
    ('camera_info_url', ('camera', 'camera_info_url')),
    ('model_path', ('detector', 'model_path')),
    ('backend', ('detector', 'backend')),
    ('score_threshold', ('detector', 'score_threshold')),
    ('nms_iou', ('detector', 'nms_iou')),
    ('max_detections', ('detector', 'max_detections')),
    ('class_filter', ('detector', 'class_filter')),
    ('input_width', ('detector', 'input_width')),
    ('input_height', ('detector', 'input_height')),
    ('num_threads', ('detector', 'num_threads')),
    ('tracking', ('detector', 'tracking')),
    ('managed', ('detector', 'managed')),
    ('autostart', ('detector', 'autostart')),
    ('video_path', ('overlay', 'video_path')),
    ('bag', ('replay', 'bag_path')),
    ('replay_mode', ('replay', 'mode')),
    ('replay_rate', ('replay', 'rate')),
    ('output_dir', ('evaluator', 'output_dir')),
])

#: Short override keys that set one parameter of several nodes: key -> ((node, parameter), ...).
GROUP_SHORTCUTS = collections.OrderedDict([
    ('image_transport', (('detector', 'image_transport'), ('overlay', 'image_transport'))),
])

#: Launch arguments shared by the launch files: (name, default, description). '' = keep the config's value.
LAUNCH_ARGUMENTS = (
    ('config_file', '', 'Pipeline parameter file ("" = the installed config/pipeline.yaml; bag_eval.yaml for '
                        'bag_eval.launch.py)'),
    ('params_file', '', 'Extra parameter file merged over config_file (e.g. config/csi_camera.yaml)'),
    ('namespace', '', 'Namespace of all nodes (e.g. front_camera)'),
    ('model_path', '', 'Model file (.onnx/.engine/.pt); "" = the config\'s (default: the shipped model)'),
    ('score_threshold', '', 'Detector score threshold 0..1 ("" = the config\'s)'),
    ('nms_iou', '', 'Detector NMS IoU 0..1 ("" = the config\'s)'),
    ('input_width', '', 'Network input width ("" = the config\'s; 640 with input_height 480 runs the shipped '
                        'model\'s 640x480 export)'),
    ('input_height', '', 'Network input height ("" = the config\'s; see input_width)'),
    ('source', '', 'Camera source: "0", /dev/video0, GStreamer pipeline, video file, image folder/glob'),
    ('loop', '', 'Restart video files / image folders at the end: true|false ("" = the config\'s)'),
    ('publish_rate', '', 'Camera publish rate in Hz: 0 = source rate, -1 = as fast as possible ("" = the config\'s)'),
    ('image_topic', '', 'Image topic the detector and overlay subscribe to ("" = image_raw of the camera)'),
    ('tracking', '', 'Track ids on detections: true|false ("" = the config\'s)'),
    ('managed', '', 'Start the detector as a lifecycle node: true|false ("" = the config\'s)'),
    ('autostart', '', 'Managed detector: configure and activate it at start-up: true|false ("" = the config\'s)'),
    ('image_transport', '', 'raw | compressed: how the detector and overlay receive images (compressed = '
                            'sensor_msgs/CompressedImage on IMAGE_TOPIC/compressed) ("" = the config\'s)'),
)
#: Extra launch arguments of launch files that start the replay / evaluator nodes.
BAG_LAUNCH_ARGUMENTS = (
    ('bag', '', 'rosbag2 folder to replay (written by face-ssd-make-bag); "" = the config\'s'),
    ('replay_mode', '', 'lockstep (no frame dropped) | rate (recorded timing) ("" = the config\'s)'),
    ('replay_rate', '', 'Playback speed multiplier of replay_mode rate ("" = the config\'s)'),
    ('output_dir', '', 'Folder of the evaluation reports ("" = the config\'s)'),
)
_LAUNCH_OVERRIDES = ('model_path', 'score_threshold', 'nms_iou', 'input_width', 'input_height', 'image_transport',
                     'source', 'loop', 'publish_rate', 'tracking', 'managed', 'autostart', 'bag', 'replay_mode',
                     'replay_rate', 'output_dir')

FASTDDS_PROFILE = 'fastdds_large_shm.xml'


class PipelineConfigError(ValueError):
    """A pipeline config or override is invalid; the message lists every problem and where it comes from."""


class NodeDescription(collections.namedtuple('NodeDescription', 'key package executable name namespace parameters '
                                                                'remappings module class_name')):
    """One node of the pipeline.

    ``key`` ('camera' | 'detector' | 'overlay'), ``package``, ``executable`` (console script), ``name`` (node
    name), ``namespace`` ('' or '/ns'), ``parameters`` (OrderedDict name -> validated value, every parameter of
    the node), ``remappings`` (list of (from, to) topic pairs), ``module`` / ``class_name`` (the rclpy node class
    for in-process use; the lifecycle detector when ``detector.managed``).
    """
    __slots__ = ()

    @property
    def specs(self):
        return NODE_TYPES[self.key].specs

    @property
    def managed(self):
        """True for a lifecycle (managed) node (the detector with ``managed: true``)."""
        return bool(self.parameters.get('managed', False)) and self.key == 'detector'

    def explicit_parameters(self):
        """``parameters`` without empty lists (ROS cannot type an empty array from YAML; the default is [])."""
        return collections.OrderedDict((k, v) for k, v in self.parameters.items()
                                       if not (isinstance(v, (list, tuple)) and not v))

    def ros_arguments(self):
        """Command-line ``--ros-args`` list that starts this node as a separate process with these settings."""
        args = ['--ros-args', '-r', '__node:=' + self.name]
        if self.namespace:
            args += ['-r', '__ns:=' + self.namespace]
        for src, dst in self.remappings:
            args += ['-r', '%s:=%s' % (src, dst)]
        for name, value in self.explicit_parameters().items():
            args += ['-p', '%s:=%s' % (name, yaml_scalar(value))]
        return args

    def command(self, python=None):
        """``[python, -m, module, --ros-args, ...]``: run the node from the sources (tests, no install needed)."""
        return [python or sys.executable, '-m', self.module] + self.ros_arguments()

    def launch_kwargs(self):
        """Keyword arguments for ``launch_ros.actions.Node`` (``launch_ros.actions.LifecycleNode`` when
        :attr:`managed`: it needs the namespace as a string)."""
        namespace = self.namespace if self.managed else (self.namespace or None)
        return dict(package=self.package, executable=self.executable, name=self.name,
                    namespace=namespace, parameters=[dict(self.explicit_parameters())],
                    remappings=list(self.remappings), output='screen', emulate_tty=True)


def yaml_scalar(value):
    """A value as ROS ``-p name:=VALUE`` text (YAML): strings always quoted, so "0" stays a string."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(yaml_scalar(v) for v in value) + ']'
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


# ---------------------------------------------------------------------------------------------- finding files
def _source_tree_config_dir():
    """<repo>/config when running from a source checkout (src/face_ssd_ros/face_ssd_ros/config/pipeline.py)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, '..', '..', '..', '..', 'config'))


def _share_config_dirs():
    dirs = []
    try:
        from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
        try:
            dirs.append(os.path.join(get_package_share_directory(PACKAGE), 'config'))
        except (PackageNotFoundError, EnvironmentError):  # not installed / AMENT_PREFIX_PATH unset
            pass
    except ImportError:
        pass
    dirs.append(os.path.join(sys.prefix, 'share', PACKAGE, 'config'))
    return dirs


def find_config(name='pipeline.yaml'):
    """Path of config file ``name``: the source tree's config/ first, then the installed share/face_ssd_ros/config.

    Raises PipelineConfigError naming every place that was searched.
    """
    candidates = [_source_tree_config_dir()] + _share_config_dirs()
    for folder in candidates:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise PipelineConfigError('config file %r not found in %s; pass its path explicitly (--config / config_file:=) '
                              'or reinstall face_ssd_ros' % (name, ', '.join(candidates)))


def default_environment():
    """Environment variables the pipeline needs, to be set only where the user has not set them.

    FASTDDS_DEFAULT_PROFILES_FILE -> config/fastdds_large_shm.xml (shared-memory segments that hold full frames).
    Discovery (ROS_AUTOMATIC_DISCOVERY_RANGE / ROS_LOCALHOST_ONLY) is left to the user.
    """
    env = {}
    try:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = find_config(FASTDDS_PROFILE)
    except PipelineConfigError:
        pass
    return env


# ---------------------------------------------------------------------------------------------- values
def _spec(node, name):
    try:
        return params.find_spec(NODE_TYPES[node].specs, name)
    except KeyError as exc:
        raise PipelineConfigError('%s: %s' % (node, exc.args[0]))


def _parse_bool(text):
    low = text.strip().lower()
    if low in ('true', 'yes', 'on', '1'):
        return True
    if low in ('false', 'no', 'off', '0'):
        return False
    raise ValueError('not a boolean')


def _parse_list(text):
    text = text.strip()
    if text.startswith('['):
        value = yaml.safe_load(text)
        if not isinstance(value, list):
            raise ValueError('not a list')
        return [str(v) for v in value]
    return [v.strip() for v in text.split(',') if v.strip()]


def coerce(spec, value):
    """``value`` converted to ``spec``'s type where that is lossless (text -> number/bool/list, int -> double).

    Anything else is returned unchanged, so :func:`params.validate` reports the type error.
    """
    try:
        if isinstance(value, str):
            if spec.type == 'string':
                return value
            if spec.type == 'bool':
                return _parse_bool(value)
            if spec.type == 'int':
                return int(value.strip())
            if spec.type == 'double':
                return float(value.strip())
            return _parse_list(value)
        if spec.type == 'double' and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if spec.type == 'string' and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # `source: 0` in YAML means the device "0"
        if spec.type == 'string_array' and isinstance(value, tuple):
            return list(value)
    except ValueError:
        pass
    return value


def resolve_keys(key):
    """``[(node, param), ...]`` of an override key: one for ``node.param`` and :data:`SHORTCUTS`, several for
    :data:`GROUP_SHORTCUTS` (``image_transport`` sets the detector's and the overlay's)."""
    key = str(key).strip()
    if key in GROUP_SHORTCUTS:
        return list(GROUP_SHORTCUTS[key])
    return [resolve_key(key)]


def resolve_key(key):
    """``(node, param)`` of an override key: ``node.param`` or a shortcut from :data:`SHORTCUTS`."""
    key = str(key).strip()
    if key in SHORTCUTS:
        return SHORTCUTS[key]
    node, dot, name = key.partition('.')
    if not dot or node not in NODE_TYPES:
        raise PipelineConfigError('unknown override %r: use NODE.PARAM with NODE one of %s, or a shortcut (%s)'
                                  % (key, ', '.join(NODE_TYPES), ', '.join(list(SHORTCUTS) + list(GROUP_SHORTCUTS))))
    _spec(node, name)
    return node, name


def parse_override(text):
    """``"detector.score_threshold=0.5"`` -> ``('detector.score_threshold', '0.5')`` (value still text)."""
    key, eq, value = str(text).partition('=')
    if not eq or not key.strip():
        raise PipelineConfigError('override %r must look like NODE.PARAM=VALUE (e.g. detector.score_threshold=0.5)'
                                  % (text,))
    return key.strip(), value.strip()


def _override_items(overrides):
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    items = []
    for entry in overrides:
        items.append(parse_override(entry) if isinstance(entry, str) else tuple(entry))
    return items


# ---------------------------------------------------------------------------------------------- config files
def load_config(path):
    """Read a ROS 2 parameter file into ``{node: {param: value}}`` (values not yet validated).

    Top-level keys must be pipeline node names (a ``/`` prefix or ``/**/`` wildcard namespace is accepted), each
    holding ``ros__parameters``; unknown nodes or parameters are errors.
    """
    if not os.path.isfile(path):
        raise PipelineConfigError('pipeline config %r not found' % (path,))
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise PipelineConfigError('%s is not a valid YAML text file: %s' % (path, ' '.join(str(exc).split())))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PipelineConfigError('%s: expected a mapping of node names (%s) to {ros__parameters: ...}'
                                  % (path, ', '.join(NODE_TYPES)))
    out = {}
    for raw_key, body in data.items():
        node = str(raw_key).split('/')[-1]
        if node not in NODE_TYPES:
            raise PipelineConfigError('%s: unknown node %r; the pipeline nodes are %s'
                                      % (path, raw_key, ', '.join(NODE_TYPES)))
        if not isinstance(body, dict) or not isinstance(body.get('ros__parameters'), dict) or len(body) != 1:
            raise PipelineConfigError('%s: %r must contain exactly one "ros__parameters:" mapping' % (path, raw_key))
        values = body['ros__parameters']
        for name in values:
            try:
                params.find_spec(NODE_TYPES[node].specs, name)
            except KeyError as exc:
                raise PipelineConfigError('%s: %s: %s' % (path, node, exc.args[0]))
        out.setdefault(node, {}).update(values)
    return out


def _normalise_namespace(namespace):
    namespace = (namespace or '').strip().strip('/')
    return '/' + namespace if namespace else ''


def build_pipeline(config_path=None, overrides=None, namespace='', nodes=NODE_KEYS, image_topic='',
                   params_files=()):
    """Validated node descriptions of the pipeline.

    ``config_path``: parameter file (None/'' = :func:`find_config`); ``params_files``: more parameter files merged
    over it in order; ``overrides``: dict / list of ``(key, value)`` / list of ``"key=value"`` applied last;
    ``namespace``: namespace of every node; ``nodes``: which nodes to describe, in order; ``image_topic``: remap
    ``image_raw`` of the detector and overlay to this topic ('' = the camera's ``image_raw``).
    Returns a list of :class:`NodeDescription`. Raises :class:`PipelineConfigError` listing every problem.
    """
    for node in nodes:
        if node not in NODE_TYPES:
            raise PipelineConfigError('unknown pipeline node %r; choose from %s' % (node, ', '.join(NODE_TYPES)))
    config_path = config_path or find_config()
    values = dict((node, params.defaults(NODE_TYPES[node].specs)) for node in NODE_TYPES)
    origin = {}
    for path in [config_path] + [p for p in params_files if p]:
        for node, entries in load_config(path).items():
            for name, value in entries.items():
                values[node][name] = coerce(_spec(node, name), value)
                origin[(node, name)] = path
    for key, value in _override_items(overrides):
        for node, name in resolve_keys(key):
            values[node][name] = coerce(_spec(node, name), value)
            origin[(node, name)] = 'override %s' % key

    problems = []
    for node in nodes:
        for spec in NODE_TYPES[node].specs:
            reason = params.validate(spec, values[node][spec.name])
            if reason:
                problems.append('%s.%s (from %s): %s' % (node, spec.name, origin.get((node, spec.name), 'default'),
                                                         reason))
    if 'camera' in nodes:
        cam = values['camera']
        if cam['reconnect_initial_delay'] > cam['reconnect_max_delay']:
            problems.append('camera.reconnect_initial_delay (%s) must not exceed camera.reconnect_max_delay (%s)'
                            % (cam['reconnect_initial_delay'], cam['reconnect_max_delay']))
    if 'detector' in nodes:
        det = values['detector']
        if bool(det['input_width']) != bool(det['input_height']):
            problems.append('detector.input_width and input_height must both be 0 (the manifest size) or both set '
                            '(got %sx%s)' % (det['input_width'], det['input_height']))
    if 'evaluator' in nodes:
        reason = bag_params.check_fppi(values['evaluator']['fppi'])
        if reason:
            problems.append('evaluator.fppi (from %s): %s' % (origin.get(('evaluator', 'fppi'), 'default'), reason))
    if problems:
        raise PipelineConfigError('invalid pipeline configuration (%s):\n  %s' % (config_path, '\n  '.join(problems)))

    namespace = _normalise_namespace(namespace)
    remap = [('image_raw', image_topic)] if image_topic else []
    out = []
    for node in nodes:
        kind = MANAGED_DETECTOR if node == 'detector' and values[node]['managed'] else NODE_TYPES[node]
        ordered = collections.OrderedDict((s.name, values[node][s.name]) for s in kind.specs)
        out.append(NodeDescription(node, PACKAGE, kind.executable, node, namespace, ordered,
                                   list(remap) if node in ('detector', 'overlay') else [], kind.module,
                                   kind.class_name))
    return out


def bag_nodes(nodes, explicit=False, video=False):
    """The nodes of a run that replays a bag (``face_ssd_pipeline --bag``): ``--bag`` always means replay.

    ``nodes``: those of the config file, or (``explicit``) of ``--nodes``. A config's ``camera`` is replaced by
    ``replay`` (so ``--config config/pipeline.yaml --bag BAG`` replays the bag through that config's detector and
    overlay) and an ``evaluator`` is added for the latency and drop report; an explicit list is taken as given
    but must not hold ``camera`` (PipelineConfigError: the run would open a camera instead of the bag), and
    gets ``replay`` in front when it lacks one. ``video``: add an ``overlay`` after the detector (its video file).
    """
    nodes = list(nodes)
    if 'camera' in nodes:
        if explicit:
            raise PipelineConfigError('--bag replays a bag instead of a camera: leave camera out of --nodes (e.g. '
                                      '--nodes replay,detector,evaluator)')
        nodes[nodes.index('camera')] = 'replay'
    if 'replay' not in nodes:
        nodes.insert(0, 'replay')
    if not explicit and 'evaluator' not in nodes:
        nodes.append('evaluator')
    if video and 'overlay' not in nodes:
        nodes.insert(nodes.index('detector') + 1 if 'detector' in nodes else len(nodes), 'overlay')
    out = []
    for node in nodes:
        if node not in out:
            out.append(node)
    return out


def config_nodes(path):
    """Pipeline node keys of a parameter file, in file order (e.g. ``['replay', 'detector', 'evaluator']``)."""
    return list(load_config(path))


def _launch_arguments(nodes):
    if any(n in nodes for n in ('replay', 'evaluator')):
        return LAUNCH_ARGUMENTS + BAG_LAUNCH_ARGUMENTS
    return LAUNCH_ARGUMENTS


def from_launch_arguments(arguments, nodes=NODE_KEYS, config_name='pipeline.yaml'):
    """Node descriptions from launch-argument strings (``{name: text}``; '' = keep the config's value).

    ``config_name``: the config file used when ``config_file`` is empty (searched with :func:`find_config`).
    """
    overrides = [(name, arguments[name]) for name in _LAUNCH_OVERRIDES if arguments.get(name, '') != '']
    return build_pipeline(config_path=arguments.get('config_file') or find_config(config_name), overrides=overrides,
                          namespace=arguments.get('namespace', ''), nodes=nodes,
                          image_topic=arguments.get('image_topic', ''),
                          params_files=[arguments['params_file']] if arguments.get('params_file') else [])


def launch_description(nodes=NODE_KEYS, image_topic_default='', config_name='pipeline.yaml'):
    """A ``launch.LaunchDescription`` starting ``nodes`` (needs the ROS ``launch`` / ``launch_ros`` packages).

    Declares :data:`LAUNCH_ARGUMENTS` (+ :data:`BAG_LAUNCH_ARGUMENTS` with a replay or evaluator node); the
    parameters come from ``config_file`` or else the installed ``config_name``. Sets FASTDDS_DEFAULT_PROFILES_FILE
    to the installed profile when unset. A managed detector (``detector.managed``) is a ``LifecycleNode`` action
    running ``lifecycle_detector_node``; with ``autostart`` it configures and activates itself, without it a
    lifecycle manager (or ``ros2 lifecycle set``) drives it.
    """
    arguments = _launch_arguments(nodes)
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import LifecycleNode, Node

    def create_nodes(context):
        values = dict((name, LaunchConfiguration(name).perform(context)) for name, _, _ in arguments)
        actions = [SetEnvironmentVariable(k, v) for k, v in default_environment().items() if k not in os.environ]
        return actions + [(LifecycleNode if d.managed else Node)(**d.launch_kwargs())
                          for d in from_launch_arguments(values, nodes, config_name)]

    declared = [DeclareLaunchArgument(name, default_value=image_topic_default if name == 'image_topic' else default,
                                      description=text)
                for name, default, text in arguments]
    return LaunchDescription(declared + [OpaqueFunction(function=create_nodes)])


# ---------------------------------------------------------------------------------------------- launch files
class LaunchFile(collections.namedtuple('LaunchFile', 'nodes config_name image_topic_default')):
    """What a launch file of ``launch/`` starts: ``nodes`` (keys of :data:`NODE_TYPES`, in order), the config file
    it reads when ``config_file`` is empty, and the default of its ``image_topic`` argument."""
    __slots__ = ()


#: The launch files (launch/*.launch.py) and what each passes to :func:`launch_description`; tests/unit/
#: test_launch_files.py checks this table against the files, docs/PARAMETERS.md is generated from it.
LAUNCH_FILES = collections.OrderedDict([
    ('face_ssd.launch.py', LaunchFile(NODE_KEYS, 'pipeline.yaml', '')),
    ('camera.launch.py', LaunchFile(('camera',), 'pipeline.yaml', '')),
    ('detector.launch.py', LaunchFile(('detector', 'overlay'), 'pipeline.yaml', 'image_raw')),
    ('bag_eval.launch.py', LaunchFile(BAG_EVAL_NODES, BAG_EVAL_CONFIG, '')),
])


def launch_arguments(nodes):
    """The ``(name, default, description)`` launch arguments a launch file starting ``nodes`` declares."""
    return _launch_arguments(nodes)


def launch_argument_targets(name):
    """``[(node, param), ...]`` a launch argument overrides; [] for the ones that are not a parameter
    (``config_file``, ``params_file``, ``namespace``, ``image_topic``)."""
    return resolve_keys(name) if name in _LAUNCH_OVERRIDES else []

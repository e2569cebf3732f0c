"""Launch files: they compile, use only face_ssd_ros.config.pipeline, and produce the pipeline's nodes.

The ROS `launch` / `launch_ros` packages are not installable here, so the description is built against minimal
stand-ins that record what the launch file creates; with the real packages importable it is built for real too.
"""
import ast
import glob
import importlib.util
import os
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCH_FILES = sorted(glob.glob(os.path.join(ROOT, 'launch', '*.launch.py')))


def _load(path):
    spec = importlib.util.spec_from_file_location('launch_under_test_' + os.path.basename(path).split('.')[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_launch_files_exist():
    names = [os.path.basename(p) for p in LAUNCH_FILES]
    assert names == ['bag_eval.launch.py', 'camera.launch.py', 'detector.launch.py', 'face_ssd.launch.py']


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=os.path.basename)
def test_compiles_and_only_uses_the_pipeline_module(path):
    source = open(path).read()
    tree = ast.parse(source, path)
    compile(tree, path, 'exec')
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports, 'a launch file must import face_ssd_ros.config.pipeline'
    for node in imports:
        assert isinstance(node, ast.ImportFrom) and node.module == 'face_ssd_ros.config.pipeline', ast.dump(node)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ['generate_launch_description']
    # Thin: no node names, parameters or topics spelled out in the launch file itself.
    for word in ('score_threshold=', 'Node(', 'parameters=', 'remappings='):
        assert word not in source


class _Recorder(object):
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


@pytest.fixture
def fake_launch(monkeypatch):
    """Minimal launch / launch_ros modules that record the actions a launch description creates."""
    class LaunchConfiguration(object):
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context[self.name]

    mods = {
        'launch': types.ModuleType('launch'), 'launch.actions': types.ModuleType('launch.actions'),
        'launch.substitutions': types.ModuleType('launch.substitutions'),
        'launch_ros': types.ModuleType('launch_ros'), 'launch_ros.actions': types.ModuleType('launch_ros.actions'),
    }
    mods['launch'].LaunchDescription = type('LaunchDescription', (_Recorder,), {})
    for name in ('DeclareLaunchArgument', 'OpaqueFunction', 'SetEnvironmentVariable'):
        setattr(mods['launch.actions'], name, type(name, (_Recorder,), {}))
    mods['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    mods['launch_ros.actions'].Node = type('Node', (_Recorder,), {})
    mods['launch_ros.actions'].LifecycleNode = type('LifecycleNode', (_Recorder,), {})
    for name, module in mods.items():
        monkeypatch.setitem(sys.modules, name, module)
    return mods


def _expand(description, **arguments):
    """Declared argument defaults overridden by ``arguments``, then the OpaqueFunction's actions."""
    declared = [a for a in description.args[0] if type(a).__name__ == 'DeclareLaunchArgument']
    context = dict((a.args[0], a.kwargs['default_value']) for a in declared)
    context.update(arguments)
    opaque = [a for a in description.args[0] if type(a).__name__ == 'OpaqueFunction'][0]
    return declared, opaque.kwargs['function'](context)


def test_full_pipeline_description(fake_launch, monkeypatch):
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    description = _load(os.path.join(ROOT, 'launch', 'face_ssd.launch.py')).generate_launch_description()
    declared, actions = _expand(description, score_threshold='0.55', source='/data/clip.mp4', namespace='front')
    assert set(a.args[0] for a in declared) >= set(['model_path', 'score_threshold', 'nms_iou', 'input_width',
                                                    'input_height', 'source', 'namespace', 'config_file'])
    env = [a for a in actions if type(a).__name__ == 'SetEnvironmentVariable']
    assert len(env) == 1 and env[0].args[0] == 'FASTDDS_DEFAULT_PROFILES_FILE'
    assert env[0].args[1].endswith('fastdds_large_shm.xml') and os.path.isfile(env[0].args[1])
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert [n['executable'] for n in nodes] == ['camera_node', 'detector_node', 'overlay_node']
    assert all(n['package'] == 'face_ssd_ros' and n['namespace'] == '/front' for n in nodes)
    assert nodes[0]['parameters'][0]['source'] == '/data/clip.mp4'
    assert nodes[1]['parameters'][0]['score_threshold'] == 0.55


def test_user_profile_is_respected(fake_launch, monkeypatch):
    monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', '/my/profile.xml')
    description = _load(os.path.join(ROOT, 'launch', 'camera.launch.py')).generate_launch_description()
    _, actions = _expand(description)
    assert not [a for a in actions if type(a).__name__ == 'SetEnvironmentVariable']
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert [n['executable'] for n in nodes] == ['camera_node'] and nodes[0]['namespace'] is None


def test_detector_launch_remaps_image_topic(fake_launch):
    description = _load(os.path.join(ROOT, 'launch', 'detector.launch.py')).generate_launch_description()
    _, actions = _expand(description, image_topic='/usb_cam/image_raw')
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert [n['executable'] for n in nodes] == ['detector_node', 'overlay_node']
    assert all(n['remappings'] == [('image_raw', '/usb_cam/image_raw')] for n in nodes)


def test_bag_eval_launch_uses_bag_eval_config(fake_launch):
    description = _load(os.path.join(ROOT, 'launch', 'bag_eval.launch.py')).generate_launch_description()
    declared, actions = _expand(description, bag='/data/bags/wider', output_dir='/tmp/eval', replay_mode='rate',
                                replay_rate='2.5', model_path='/m/face.onnx')
    assert set(a.args[0] for a in declared) >= set(['bag', 'replay_mode', 'replay_rate', 'output_dir', 'model_path',
                                                    'score_threshold', 'config_file'])
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert [n['executable'] for n in nodes] == ['replay_node', 'detector_node', 'evaluator_node']
    replay, detector, evaluator = [n['parameters'][0] for n in nodes]
    assert (replay['bag_path'], replay['mode'], replay['rate']) == ('/data/bags/wider', 'rate', 2.5)
    assert evaluator['output_dir'] == '/tmp/eval' and detector['model_path'] == '/m/face.onnx'
    assert detector['score_threshold'] == 0.05 and detector['qos_reliability'] == 'reliable'  # bag_eval.yaml's
    camera = _load(os.path.join(ROOT, 'launch', 'camera.launch.py')).generate_launch_description()
    assert 'bag' not in [a.args[0] for a in camera.args[0] if type(a).__name__ == 'DeclareLaunchArgument']


def test_managed_detector_is_a_lifecycle_node_action(fake_launch):
    description = _load(os.path.join(ROOT, 'launch', 'face_ssd.launch.py')).generate_launch_description()
    declared, actions = _expand(description, managed='true', autostart='false')
    assert set(['managed', 'autostart', 'tracking']) <= set(a.args[0] for a in declared)
    kinds = [(type(a).__name__, a.kwargs['executable']) for a in actions if 'executable' in a.kwargs]
    assert kinds == [('Node', 'camera_node'), ('LifecycleNode', 'lifecycle_detector_node'), ('Node', 'overlay_node')]
    detector = [a.kwargs for a in actions if type(a).__name__ == 'LifecycleNode'][0]
    assert detector['name'] == 'detector' and detector['namespace'] == ''
    assert detector['parameters'][0]['autostart'] is False and detector['parameters'][0]['managed'] is True
    _, actions = _expand(description)   # the config's default: unmanaged
    assert not [a for a in actions if type(a).__name__ == 'LifecycleNode']


def test_invalid_launch_argument_fails_with_the_reason(fake_launch):
    from face_ssd_ros.config.pipeline import PipelineConfigError
    description = _load(os.path.join(ROOT, 'launch', 'detector.launch.py')).generate_launch_description()
    with pytest.raises(PipelineConfigError, match='score_threshold'):
        _expand(description, score_threshold='1.5')


def test_real_launch_package_if_available():
    pytest.importorskip('launch')
    pytest.importorskip('launch_ros')
    from launch import LaunchDescription
    for path in LAUNCH_FILES:
        assert isinstance(_load(path).generate_launch_description(), LaunchDescription)


def test_image_transport_argument_sets_detector_and_overlay(fake_launch):
    """image_transport:=compressed (as image_transport users expect): both nodes read IMAGE_TOPIC/compressed."""
    description = _load(os.path.join(ROOT, 'launch', 'detector.launch.py')).generate_launch_description()
    declared, actions = _expand(description, image_topic='/raspicam_node/image', image_transport='compressed')
    assert 'image_transport' in [a.args[0] for a in declared]
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert [n['parameters'][0]['image_transport'] for n in nodes] == ['compressed', 'compressed']
    assert all(n['remappings'] == [('image_raw', '/raspicam_node/image')] for n in nodes)
    _, actions = _expand(description)
    assert [a.kwargs['parameters'][0]['image_transport'] for a in actions if type(a).__name__ == 'Node'] == \
        ['raw', 'raw']

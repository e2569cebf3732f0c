"""The rclpy-free runtime must run on a Jetson's ROS 2 Humble / Python 3.8 and import without side effects."""
import ast
import json
import os
import subprocess
import sys

import pytest

PKG = os.path.join(os.path.dirname(__file__), '..', '..', 'src', 'face_ssd_ros', 'face_ssd_ros')
#: every module of the runtime package, as a path relative to PKG without ".py" (e.g. "detect/inference")
ALL = sorted(os.path.relpath(os.path.join(d, f), PKG)[:-3] for d, _, files in os.walk(PKG) for f in files
             if f.endswith('.py'))
#: the ROS side: the nodes and the two programs that spin them; every other module must run without rclpy
ROS_SIDE = ('nodes/', 'runner', 'demo')
CORE = [m for m in ALL if not m.startswith(ROS_SIDE)]


def _source(name):
    with open(os.path.join(PKG, name + '.py')) as f:
        return f.read()


def test_the_module_lists_cover_the_layout():
    assert 'detect/inference' in CORE and 'evaluation/metrics/wider' in CORE and 'engine/build' in CORE
    assert 'nodes/detector_node' in ALL and 'nodes/detector_node' not in CORE


@pytest.mark.parametrize('name', ALL)
def test_python38_syntax_and_no_new_apis(name):
    src = _source(name)
    tree = ast.parse(src, feature_version=(3, 8))        # rejects match, parenthesised context managers, ...
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and _in_annotation(tree, node):
            pytest.fail('%s: "X | Y" annotation needs Python 3.10' % name)
        if isinstance(node, ast.Attribute) and (node.attr in ('removeprefix', 'removesuffix') or (
                node.attr == 'cache' and isinstance(node.value, ast.Name) and node.value.id == 'functools')):
            pytest.fail('%s uses %s (Python 3.9+)' % (name, node.attr))
    for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        for ann in [a.annotation for a in fn.args.args if a.annotation is not None] + [fn.returns]:
            if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name) and \
                    ann.value.id in ('list', 'dict', 'tuple', 'set', 'type'):
                pytest.fail('%s.%s: builtin generic annotation needs Python 3.9' % (name, fn.name))


def _in_annotation(tree, target):
    for node in ast.walk(tree):
        anns = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            anns = [a.annotation for a in node.args.args if a.annotation is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            anns = [node.annotation]
        if any(a is not None and any(n is target for n in ast.walk(a)) for a in anns):
            return True
    return False


@pytest.mark.parametrize('name', CORE)
def test_core_does_not_import_rclpy(name):
    tree = ast.parse(_source(name))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ''] if isinstance(node, ast.ImportFrom) else []
        assert not any(n == 'rclpy' or n.startswith('rclpy.') for n in names), name


def modules_loaded_by(modules, watched):
    """The names in ``watched`` that are in ``sys.modules`` after a fresh interpreter imports ``modules``."""
    code = ('import importlib, json, sys\n'
            'for name in %r: importlib.import_module(name)\n'
            'print(json.dumps([m for m in %r if m in sys.modules]))\n' % (list(modules), list(watched)))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_core_loads_no_heavy_or_ros_runtime():
    loaded = modules_loaded_by(['face_ssd_ros.detect.inference', 'face_ssd_ros.msgs.convert', 'face_ssd_ros.stats',
                                'face_ssd_ros.stamp_cache'], ['rclpy', 'torch', 'onnxruntime', 'onnx', 'tensorrt'])
    assert loaded == [], 'importing the core pulled in %s' % loaded

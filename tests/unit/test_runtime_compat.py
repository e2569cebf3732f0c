"""The runtime must run on a Jetson Nano's ROS 2 Humble / Python 3.6 (JetPack 4.6) and import without side effects.

Three independent checks of "Python 3.6": the 3.6 grammar of ``ast`` (below), vermin's database of the standard
library's version history (``test_vermin_minimum_version_is_36``), and, where a real Python 3.6 interpreter is
available, compiling every module with it.
"""
import ast
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..'))
RUNTIME = os.path.join(REPO, 'src', 'face_ssd_ros')
PKG = os.path.join(RUNTIME, 'face_ssd_ros')
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
def test_python36_syntax_and_no_new_apis(name):
    src = _source(name)
    tree = ast.parse(src, feature_version=(3, 6))        # rejects walrus, positional-only parameters, match, ...
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


# ---------------------------------------------------------------------------------------------- vermin: Python >= 3.6
#: vermin settings: the package must run on 3.6; annotations are evaluated at definition time on 3.6 (no PEP 563), so
#: they count; no PyPI backport (dataclasses, typing_extensions, ...) is assumed to be installed on the robot; and no
#: "# novm" comment may silence a finding (exemptions are the explicit, checked list below).
VERMIN_ARGS = ['--no-config-file', '--target=3.6-', '--no-tips', '--violations', '--eval-annotations',
               '--no-backport', '--no-parse-comments', '--format', 'parsable', '--processes=1']
#: newer modules the runtime may name only inside ``try: ... except ImportError:`` with a 3.6 fallback
GUARDED_IMPORTS = ('importlib.metadata',)
#: what runs on the robot: the package (with its setup.py) and the launch files
ROBOT_CODE = [RUNTIME, os.path.join(REPO, 'launch')]


def run_vermin(paths, extra=()):
    """``(exit code, violation lines 'file:line:col:py2:py3:feature')`` of vermin with :data:`VERMIN_ARGS`."""
    pytest.importorskip('vermin', reason='vermin not installed (requirements/dev.txt)')
    code = 'import sys, vermin; sys.argv[0] = "vermin"; sys.exit(vermin.main())'
    out = subprocess.run([sys.executable, '-c', code] + VERMIN_ARGS + list(extra) + list(paths),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.split(':')[0] and line.split(':')[1].isdigit()]
    return out.returncode, lines


def test_vermin_minimum_version_is_36():
    excludes = [arg for name in GUARDED_IMPORTS for arg in ('--exclude', name)]
    code, violations = run_vermin(ROBOT_CODE, excludes)
    assert code == 0 and violations == [], 'needs Python newer than 3.6:\n' + '\n'.join(violations)


def test_vermin_settings_catch_what_36_lacks(tmp_path):
    """The settings above really find each construct a Jetson Nano's Python 3.6 lacks (one canary line each)."""
    canary = {
        'from __future__ import annotations': 'annotations',
        'import dataclasses': 'dataclasses',
        'import importlib.resources': 'importlib.resources',
        'import contextlib; contextlib.nullcontext()': 'contextlib.nullcontext',
        'import subprocess; subprocess.run(["true"], capture_output=True)': 'capture_output',
        'import subprocess; subprocess.run(["true"], text=True)': 'subprocess.run(text)',
        'import time; time.perf_counter_ns()': 'perf_counter_ns',
        'import time; time.monotonic_ns()': 'monotonic_ns',
        'import datetime; datetime.datetime.fromisoformat("2020-01-01")': 'fromisoformat',
        'breakpoint()': 'breakpoint',
        'import typing; x: typing.Final = 1': 'typing.Final',
        'def f(x: list[int]): pass': 'list[..]',
        'if (n := 1): pass': 'named expressions',
        'def g(a, /): pass': 'positional-only',
        'print(f"{1=}")': 'self-documenting',
    }
    path = tmp_path / 'canary.py'
    path.write_text('\n'.join(canary) + '\n')
    code, violations = run_vermin([str(path)])
    assert code != 0
    found = dict((int(v.split(':')[1]), v) for v in violations)
    for line, (snippet, word) in enumerate(canary.items(), 1):
        assert word in found.get(line, ''), 'vermin missed %r (line %d): %s' % (snippet, line, violations)


@pytest.mark.parametrize('name', ALL)
def test_newer_modules_only_with_an_import_fallback(name):
    """Each :data:`GUARDED_IMPORTS` module (exempt from vermin) is imported in a ``try`` that catches ImportError."""
    tree = ast.parse(_source(name))
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ''] if isinstance(node, ast.ImportFrom) else []
        if any(n == g or n.startswith(g + '.') for n in names for g in GUARDED_IMPORTS):
            assert id(node) in guarded, '%s:%d imports %s without an ImportError fallback' % (name, node.lineno, names)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'importlib':
            assert node.attr not in [g.split('.')[1] for g in GUARDED_IMPORTS], '%s uses importlib.%s' % (
                name, node.attr)


def _catches_import_error(handler):
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in ('ImportError', 'ModuleNotFoundError') for k in kinds)


def test_packaging_accepts_python36():
    with open(os.path.join(RUNTIME, 'setup.py')) as f:
        setup = f.read()
    assert "python_requires='>=3.6'" in setup
    with open(os.path.join(REPO, 'src', 'face_ssd_training', 'setup.py')) as f:
        assert "python_requires='>=3.8'" in f.read()  # training stays on 3.8+ (torch)


def python36():
    """A real Python 3.6 interpreter ($FACE_SSD_PYTHON36, python3.6 on PATH, or a pyenv one), else None."""
    candidates = [os.environ.get('FACE_SSD_PYTHON36'), shutil.which('python3.6')]
    candidates += sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.6*/bin/python3.6')))
    for exe in [c for c in candidates if c]:
        try:
            out = subprocess.run([exe, '-c', 'import sys; print(sys.version_info[:2] == (3, 6))'],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                                 timeout=30)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == 'True':
            return exe
    return None


def test_a_real_python36_compiles_every_module(tmp_path):
    exe = python36()
    if exe is None:
        pytest.skip('no Python 3.6 interpreter here (set FACE_SSD_PYTHON36)')
    files = sorted(os.path.join(d, f) for root in ROBOT_CODE for d, _, fs in os.walk(root) for f in fs
                   if f.endswith('.py'))
    code = ('import py_compile, sys\n'
            'bad = []\n'
            'for i, path in enumerate(sys.argv[1:]):\n'
            '    try:\n'
            '        py_compile.compile(path, cfile=%r + "/%%d.pyc" %% i, doraise=True)\n'
            '    except py_compile.PyCompileError as exc:\n'
            '        bad.append(str(exc))\n'
            'print("\\n".join(bad))\n'
            'sys.exit(1 if bad else 0)\n' % str(tmp_path))
    out = subprocess.run([exe, '-c', code] + files, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=120)
    assert out.returncode == 0 and len(files) > 50, out.stdout

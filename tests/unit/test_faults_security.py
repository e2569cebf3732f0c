"""Untrusted files: nothing in src/ unpickles (every torch.load is weights_only=True, no pickle/marshal/yaml.load,
no np.load(allow_pickle=True), no eval/exec), and a checkpoint that would run code when unpickled is refused
by every loader before anything runs."""
import ast
import builtins
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, 'src')
UNSAFE_MODULES = ('pickle', 'cPickle', '_pickle', 'dill', 'cloudpickle', 'shelve', 'marshal', 'joblib', 'jsonpickle')


def _python_files():
    for base, dirs, files in os.walk(SRC):
        dirs[:] = sorted(d for d in dirs if d not in ('__pycache__', 'build', 'dist') and not d.endswith('.egg-info'))
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(base, name)


def _dotted(node):
    """'a.b.c' of a Name/Attribute chain, or None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return '.'.join(reversed(parts))
    return None


def _keyword(call, name):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def unsafe_deserialisation(source, filename='<src>'):
    """Problems in Python ``source``: list of 'file:line: what' strings (empty = nothing unsafe)."""
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        where = '%s:%d' % (filename, getattr(node, 'lineno', 0))
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.split('.')[0] in UNSAFE_MODULES]
            problems += ['%s: imports %s' % (where, b) for b in bad]
        elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] in UNSAFE_MODULES:
            problems.append('%s: imports from %s' % (where, node.module))
        elif isinstance(node, ast.ImportFrom) and node.module == 'torch' and any(a.name == 'load' for a in node.names):
            problems.append('%s: from torch import load (call torch.load(..., weights_only=True))' % where)
        elif isinstance(node, ast.Call):
            name = _dotted(node.func) or ''
            if name.endswith('torch.load'):
                flag = _keyword(node, 'weights_only')
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    problems.append('%s: torch.load without weights_only=True' % where)
            elif name in ('torch.jit.load', 'torch.package.PackageImporter'):
                problems.append('%s: %s (runs code from the file)' % (where, name))
            elif name in ('yaml.load', 'yaml.unsafe_load', 'yaml.full_load', 'yaml.load_all', 'yaml.unsafe_load_all'):
                problems.append('%s: %s (use yaml.safe_load)' % (where, name))
            elif name in ('np.load', 'numpy.load'):
                flag = _keyword(node, 'allow_pickle')
                if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                    problems.append('%s: %s with allow_pickle' % (where, name))
            elif name in ('eval', 'exec', 'compile', '__import__'):
                problems.append('%s: %s()' % (where, name))
    return problems


def test_the_scanner_finds_what_it_looks_for():
    bad = ('import pickle\nfrom marshal import loads\nimport torch, yaml, numpy as np\n'
           'torch.load(p)\ntorch.load(p, weights_only=False)\nyaml.load(f)\nnp.load(p, allow_pickle=True)\n'
           'eval("1")\ntorch.jit.load(p)\nfrom torch import load\n')
    problems = unsafe_deserialisation(bad)
    assert sorted(int(p.split(':')[1]) for p in problems) == [1, 2, 4, 5, 6, 7, 8, 9, 10], problems
    good = ('import torch, yaml, numpy as np\ntorch.load(p, weights_only=True)\nyaml.safe_load(f)\nnp.load(p)\n'
            'm.eval()\n')
    assert unsafe_deserialisation(good) == []


def test_no_source_file_unpickles_or_evaluates_untrusted_data():
    files = list(_python_files())
    assert len(files) > 40 and any(f.endswith(os.path.join('face_ssd_ros', 'detect', 'manifest.py')) for f in files)
    problems = []
    for path in files:
        with open(path) as f:
            problems += unsafe_deserialisation(f.read(), os.path.relpath(path, ROOT))
    assert problems == []


class _RunsCodeWhenUnpickled(object):
    """Unpickling this calls open(marker, 'w'): the file appears if a loader unpickles arbitrary objects."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (self.marker, 'w'))


@pytest.fixture
def hostile_checkpoint(tmp_path, manifest_dict):
    """A checkpoint with a valid manifest and a payload that creates ``tmp_path/pwned`` when unpickled."""
    torch = pytest.importorskip('torch')
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'hostile.pt')
    torch.save({'model': {'w': torch.zeros(1)}, 'manifest': manifest_dict(), 'config': {}, 'epoch': 1,
                'optimizer': _RunsCodeWhenUnpickled(marker)}, path)
    assert not os.path.exists(marker)
    return path, marker


def test_hostile_checkpoint_is_refused_by_the_runtime(hostile_checkpoint):
    from face_ssd_ros.detect.inference import FaceDetector
    from face_ssd_ros.detect.manifest import ManifestError, load_manifest
    path, marker = hostile_checkpoint
    with pytest.raises(ManifestError, match='weights_only=True'):
        load_manifest(path)
    with pytest.raises(ManifestError):
        FaceDetector(model_path=path, backend='torch')
    assert not os.path.exists(marker)


def test_hostile_checkpoint_is_refused_by_training_and_export(hostile_checkpoint):
    pytest.importorskip('face_ssd_training')
    from face_ssd_training.models import load_checkpoint, load_for_inference
    path, marker = hostile_checkpoint
    for load in (load_checkpoint, load_for_inference):
        with pytest.raises(ValueError, match='cannot load checkpoint'):
            load(path)
    assert not os.path.exists(marker)


def test_a_plain_checkpoint_still_loads(tmp_path, manifest_dict):
    """The refusal above is about the payload, not about .pt files in general."""
    torch = pytest.importorskip('torch')
    from face_ssd_ros.detect.manifest import load_manifest
    path = str(tmp_path / 'plain.pt')
    torch.save({'model': {'w': torch.zeros(1)}, 'manifest': manifest_dict(), 'config': {}, 'epoch': 1}, path)
    assert load_manifest(path).labels == ('background', 'face')

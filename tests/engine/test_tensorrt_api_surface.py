"""Every TensorRT name the runtime uses, and every name the test fakes offer, checked against NVIDIA's own type stubs.

The stubs (``tensorrt-stubs`` 10.x, requirements/dev-nodeps.txt) are read with ``ast``; ``tensorrt`` is never
imported. What the runtime touches is found in its source (engine/build.py, detect/backends/tensorrt_backend.py,
engine/tools.py): ``trt.X`` and ``trt.X.Y``, attributes of the variables that hold TensorRT objects (:data:`HOLDS`),
of what their methods return (the stubs' return annotations), ``hasattr`` / ``getattr`` probes and the callbacks of
the classes derived from TensorRT interfaces. Two version lists complete the 10.x stubs:

* :data:`LEGACY_8X`: TensorRT 7/8 names that 10.x no longer has (the binding-index path of JetPack 4.6's
  TensorRT 8.0/8.2, and the builder branches below 8.4); each must really be absent from the stubs;
* :data:`REMOVED_IN_11`: names 10.x has and TensorRT 11 removed (strongly typed networks only, checked in the 11.4
  Python bindings); each must be present in the stubs, absent from the TensorRT 11 fakes, and reached only behind a
  feature check (the TensorRT 11 tests of test_tensorrt_build.py / test_tensorrt_backend.py run those paths).
"""
import ast
import importlib.util
import keyword
import os
import re

import pytest

from tensorrt_testutils import REPO, FakeBuilderTRT, FakeCuda, fake_plan, make_fake_trt

RUNTIME = os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros')
SOURCES = ['engine/build.py', 'detect/backends/tensorrt_backend.py', 'engine/tools.py']
MODULE = '<module>'
#: variable / attribute name -> the stub class of the TensorRT object it holds, in SOURCES
HOLDS = {'logger': 'Logger', '_logger': 'Logger', 'builder': 'Builder', 'network': 'INetworkDefinition',
         'parser': 'OnnxParser', 'config': 'IBuilderConfig', 'opt_profile': 'IOptimizationProfile',
         'input_tensor': 'ITensor', 'serialized': 'IHostMemory', 'engine': 'ICudaEngine', '_engine': 'ICudaEngine',
         'context': 'IExecutionContext', '_context': 'IExecutionContext', '_runtime': 'Runtime'}
#: names of TensorRT 7/8 that 10.x dropped, used on the 8.x paths only
LEGACY_8X = {('ICudaEngine', 'num_bindings'), ('ICudaEngine', 'get_binding_index'),
             ('ICudaEngine', 'get_binding_name'), ('ICudaEngine', 'binding_is_input'),
             ('ICudaEngine', 'get_binding_shape'), ('ICudaEngine', 'get_binding_dtype'),
             ('ICudaEngine', 'get_profile_shape'), ('IExecutionContext', 'execute_async_v2'),
             ('IExecutionContext', 'set_binding_shape'), ('IExecutionContext', 'get_binding_shape'),
             ('IBuilderConfig', 'max_workspace_size'), ('Builder', 'build_engine')}
#: names of 10.x that TensorRT 11 removed (its builder makes strongly typed networks only)
REMOVED_IN_11 = {('BuilderFlag', 'FP16'), ('BuilderFlag', 'INT8'), (MODULE, 'IInt8EntropyCalibrator2'),
                 ('IBuilderConfig', 'int8_calibrator'), ('IBuilderConfig', 'set_calibration_profile'),
                 ('Builder', 'platform_has_fast_fp16'), ('Builder', 'platform_has_fast_int8'),
                 ('NetworkDefinitionCreationFlag', 'EXPLICIT_BATCH')}
#: methods of our TensorRT-derived classes that are ours, not TensorRT callbacks
OWN_METHODS = {'free'}


# ---------------------------------------------------------------------------------------------- the stubs
def _stub_dir():
    spec = importlib.util.find_spec('tensorrt_stubs')
    if spec is None or not spec.origin:
        pytest.skip('tensorrt-stubs not installed (pip install --no-deps -r requirements/dev-nodeps.txt)')
    return os.path.dirname(os.path.dirname(spec.origin))  # site-packages


def _balanced_end(text, start):
    depth = 0
    for i in range(start, len(text)):
        depth += {'(': 1, '[': 1, '{': 1, ')': -1, ']': -1, '}': -1}.get(text[i], 0)
        if depth == 0:
            return i
    return len(text) - 1


def _split_top(text):
    parts, current, depth = [], '', 0
    for ch in text:
        depth += {'(': 1, '[': 1, '{': 1, ')': -1, ']': -1, '}': -1}.get(ch, 0)
        if ch == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += ch
    return parts + [current]


def _repair(line):
    """The stubs are generated and not all valid Python: parameters named like keywords (``in``) and defaults before
    required parameters. Rename the former, drop every default of the signature on this line."""
    for word in keyword.kwlist:
        line = re.sub(r'(?<=[(,\s])%s(?=\s*[:,)=])' % word, word + '_', line)
    if 'def ' not in line or '(' not in line:
        return line
    start = line.index('(')
    end = _balanced_end(line, start)
    params = []
    for param in _split_top(line[start + 1:end]):
        depth, cut = 0, None
        for i, ch in enumerate(param):
            depth += {'(': 1, '[': 1, '{': 1, ')': -1, ']': -1, '}': -1}.get(ch, 0)
            if ch == '=' and depth == 0:
                cut = i
                break
        params.append(param[:cut].rstrip() if cut is not None else param)
    return line[:start + 1] + ','.join(params) + line[end:]


def parse_stub(path):
    with open(path) as f:
        lines = f.read().split('\n')
    for _ in range(500):
        try:
            return ast.parse('\n'.join(lines))
        except SyntaxError as exc:
            fixed = _repair(lines[exc.lineno - 1])
            if fixed == lines[exc.lineno - 1]:
                raise
            lines[exc.lineno - 1] = fixed
    raise AssertionError('could not repair %s' % path)


class Stubs(object):
    """Classes of ``tensorrt_bindings/tensorrt.pyi`` (members with inheritance, method arity and return class) and
    the names of the ``tensorrt`` module (its ``__all__`` and ``__version__``)."""

    def __init__(self, site):
        self.classes = {}
        tree = parse_stub(os.path.join(site, 'tensorrt_bindings', 'tensorrt.pyi'))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                members = {}
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        positional = [a.arg for a in item.args.args][1:]  # without self
                        returns = item.returns.id if isinstance(item.returns, ast.Name) else None
                        prop = any(getattr(d, 'id', None) == 'property' for d in item.decorator_list)
                        old = members.get(item.name)
                        arity = max(len(positional), old[1] if old else 0)
                        members[item.name] = ('property' if prop else 'method', arity, returns)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        members[item.target.id] = ('attribute', 0, None)
                self.classes[node.name] = ([b.id for b in node.bases if isinstance(b, ast.Name)], members)
        module = parse_stub(os.path.join(site, 'tensorrt', '__init__.pyi'))
        self.module = {'__version__'}
        for node in module.body:
            if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
                self.module.update(ast.literal_eval(node.value))

    def member(self, cls, name):
        """``(kind, arity, return class)`` of ``cls.name`` (inherited members included), or None."""
        if cls == MODULE:
            return ('attribute', 0, None) if name in self.module else None
        bases, members = self.classes.get(cls, ([], {}))
        if name in members:
            return members[name]
        for base in bases:
            found = self.member(base, name)
            if found:
                return found
        return None

    def has(self, cls, name):
        return self.member(cls, name) is not None


@pytest.fixture(scope='module')
def stubs():
    return Stubs(_stub_dir())


def test_the_stub_reader_sees_the_api(stubs):
    """The reader (with its repairs) finds what every TensorRT 10 user knows is there, and nothing invented."""
    assert stubs.member('Builder', 'build_serialized_network')[:2] == ('method', 2)
    assert stubs.member('INetworkDefinition', 'get_input')[2] == 'ITensor'
    assert stubs.member('ICudaEngine', 'num_io_tensors')[0] == 'property'
    assert stubs.has('Logger', 'WARNING') and stubs.has('IInt8EntropyCalibrator2', 'get_batch')  # inherited
    assert stubs.has(MODULE, 'nptype') and stubs.has(MODULE, '__version__') and stubs.has(MODULE, 'Runtime')
    assert not stubs.has('ICudaEngine', 'num_bindings') and not stubs.has('Builder', 'no_such_method')


# ---------------------------------------------------------------------------------------------- the runtime's use
def _holder(node):
    """The HOLDS name of ``x`` / ``self.x``, else None."""
    if isinstance(node, ast.Name) and node.id in HOLDS:
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'self' \
            and node.attr in HOLDS:
        return node.attr
    return None


def _is_trt(node):
    return (isinstance(node, ast.Name) and node.id == 'trt') or (
        isinstance(node, ast.Attribute) and node.attr == '_trt' and isinstance(node.value, ast.Name))


def _type_of(node, stubs):
    """The stub class of the TensorRT object ``node`` evaluates to, as far as HOLDS and return annotations tell."""
    name = _holder(node)
    if name:
        return HOLDS[name]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = _type_of(node.func.value, stubs)
        if owner:
            found = stubs.member(owner, node.func.attr)
            return found[2] if found else None
        if _is_trt(node.func.value) and node.func.attr in stubs.classes:  # trt.Builder(logger) -> Builder
            return node.func.attr
    return None


def runtime_uses(stubs):
    """``{(stub class or MODULE, name): ['file:line', ...]}`` of every TensorRT name used in SOURCES."""
    uses = {}

    def add(cls, name, where):
        if not (name.startswith('__') and name != '__version__'):  # __path__, __file__: Python's, not TensorRT's
            uses.setdefault((cls, name), []).append(where)

    for rel in SOURCES:
        with open(os.path.join(RUNTIME, rel)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            where = '%s:%d' % (rel, getattr(node, 'lineno', 0))
            if isinstance(node, ast.Attribute):
                if _is_trt(node.value):
                    add(MODULE, node.attr, where)
                elif isinstance(node.value, ast.Attribute) and _is_trt(node.value.value):
                    add(node.value.attr, node.attr, where)  # trt.Class.MEMBER
                else:
                    owner = _type_of(node.value, stubs)
                    if owner:
                        add(owner, node.attr, where)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ('hasattr', 'getattr') and len(node.args) >= 2 and \
                    isinstance(node.args[1], ast.Str):
                target = node.args[0]
                if _is_trt(target):
                    add(MODULE, node.args[1].s, where)
                elif isinstance(target, ast.Attribute) and _is_trt(target.value):
                    add(target.attr, node.args[1].s, where)
                elif _type_of(target, stubs):
                    add(_type_of(target, stubs), node.args[1].s, where)
            elif isinstance(node, ast.ClassDef):
                bases = [b.attr for b in node.bases if isinstance(b, ast.Attribute) and _is_trt(b.value)]
                for base in bases:
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef) and not item.name.startswith('__') \
                                and item.name not in OWN_METHODS:
                            add(base, item.name, '%s:%d' % (rel, item.lineno))
    return uses


def test_the_collector_sees_every_kind_of_use(stubs):
    """Each way the code reaches TensorRT is picked up (so the next test checks real uses, not an empty set)."""
    uses = runtime_uses(stubs)
    expected = [(MODULE, 'Builder'), ('Logger', 'WARNING'), ('Builder', 'create_network'),   # trt.X, trt.X.Y
                ('ITensor', 'name'),                                       # network.get_input(i).name
                ('IBuilderConfig', 'set_memory_pool_limit'),               # hasattr(config, ...)
                ('IExecutionContext', 'execute_async_v3'), ('ICudaEngine', 'get_tensor_profile_shape'),
                ('IInt8EntropyCalibrator2', 'get_batch'), ('IProgressMonitor', 'phase_start'),  # callbacks
                ('ICudaEngine', 'num_bindings'), ('NetworkDefinitionCreationFlag', 'STRONGLY_TYPED')]
    missing = [e for e in expected if e not in uses]
    assert not missing, missing


def test_every_tensorrt_name_the_runtime_uses_exists(stubs):
    unknown = ['%s.%s (%s)' % (cls, name, ', '.join(where)) for (cls, name), where in
               sorted(runtime_uses(stubs).items()) if not stubs.has(cls, name) and (cls, name) not in LEGACY_8X]
    assert not unknown, 'not in the TensorRT 10 stubs nor a known 8.x name:\n' + '\n'.join(unknown)


def test_the_version_lists_are_true_and_used(stubs):
    uses = runtime_uses(stubs)
    still_there = sorted(pair for pair in LEGACY_8X if stubs.has(*pair))
    assert not still_there, 'these are in the 10.x stubs, so not legacy: %s' % still_there
    not_there = sorted(pair for pair in REMOVED_IN_11 if not stubs.has(*pair))
    assert not not_there, 'not even in 10.x: %s' % not_there
    unused = sorted(pair for pair in LEGACY_8X | REMOVED_IN_11 if pair not in uses)
    assert not unused, 'stale entries (the code no longer uses them): %s' % unused


# ---------------------------------------------------------------------------------------------- the test fakes
def _public(obj):
    return sorted(n for n in vars(obj) if not n.startswith('_')) if isinstance(obj, type) else \
        sorted(set(n for n in dir(obj) if not n.startswith('_')))


def _arity(function):
    code = function.__code__
    return code.co_argcount - 1  # without self


def _check_fake(stubs, cls, fake, version, ignore=()):
    """Problems of one fake class/object: members the stub class lacks (8.x names allowed below 10, none of the
    removed names at 11), or methods taking more positional arguments than the real ones."""
    major = int(version.split('.')[0])
    problems = []
    for name in _public(fake):
        if name in ignore:
            continue
        pair = (cls, name)
        if major >= 11 and pair in REMOVED_IN_11:
            problems.append('%s.%s was removed in TensorRT 11 (fake %s)' % (cls, name, version))
        found = stubs.member(cls, name)
        if found is None:
            if not (major < 10 and pair in LEGACY_8X):
                problems.append('%s.%s is not in the TensorRT API (fake %s)' % (cls, name, version))
            continue
        value = vars(fake).get(name) if isinstance(fake, type) else getattr(type(fake), name, None)
        if found[0] == 'method' and callable(value) and hasattr(value, '__code__') and _arity(value) > found[1]:
            problems.append('%s.%s takes %d arguments, the real one %d' % (cls, name, _arity(value), found[1]))
    return problems


BUILDER_VERSIONS = ['8.2.1.8', '8.6.1', '10.3.0', '11.4.0.106']


@pytest.mark.parametrize('version', BUILDER_VERSIONS)
def test_builder_fake_follows_the_real_api(stubs, version):
    trt = FakeBuilderTRT(version)
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    network = builder.create_network(0)
    objects = [(MODULE, trt, ('calls', 'parsed', 'called', 'config')), ('Builder', type(builder), ()),
               ('IBuilderConfig', type(builder.create_builder_config()), ()),
               ('INetworkDefinition', type(network), ()), ('ITensor', network.get_input(0), ()),
               ('OnnxParser', trt.OnnxParser, ()),
               ('IOptimizationProfile', type(builder.create_optimization_profile()), ()),
               ('Logger', trt.Logger, ()), ('BuilderFlag', trt.BuilderFlag, ()),
               ('MemoryPoolType', trt.MemoryPoolType, ()),
               ('NetworkDefinitionCreationFlag', trt.NetworkDefinitionCreationFlag, ())]
    for optional in ('IInt8EntropyCalibrator2', 'IProgressMonitor'):
        if hasattr(trt, optional):
            objects.append((optional, getattr(trt, optional), ()))
    problems = [p for cls, fake, ignore in objects for p in _check_fake(stubs, cls, fake, version, ignore)]
    assert not problems, '\n'.join(problems)
    typed_only = version.startswith('11.')
    assert hasattr(trt.BuilderFlag, 'FP16') != typed_only and hasattr(trt, 'IInt8EntropyCalibrator2') != typed_only


@pytest.mark.parametrize('api,version', [('tensor', '10.3.0'), ('bindings', '8.2.1.8'), ('tensor', '11.4.0.106')])
def test_runtime_fake_follows_the_real_api(stubs, api, version):
    cuda = FakeCuda()
    trt = make_fake_trt(cuda, api=api, version=version)
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(fake_plan((1, 3, 240, 320)))
    objects = [(MODULE, trt), ('Runtime', trt.Runtime), ('Logger', trt.Logger), ('TensorIOMode', trt.TensorIOMode),
               ('BuilderFlag', trt.BuilderFlag), ('ICudaEngine', engine),
               ('IExecutionContext', engine.create_execution_context())]
    problems = [p for cls, fake in objects for p in _check_fake(stubs, cls, fake, version)]
    assert not problems, '\n'.join(problems)


def test_the_fake_check_catches_an_invented_name(stubs):
    class IExecutionContext(object):
        def execute_async_v3(self, stream_handle, extra):  # one argument too many
            return True

        def execute_async_v4(self, stream_handle):  # no such method
            return True

    problems = _check_fake(stubs, 'IExecutionContext', IExecutionContext, '10.3.0')
    assert len(problems) == 2 and 'takes 2 arguments' in problems[0] and 'execute_async_v4' in problems[1]

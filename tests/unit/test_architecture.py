"""The package layout of docs/ARCHITECTURE.md holds: subpackages by concept, each importing only the layers below
it, no import cycle between the project's files, and a runtime that never imports the training package.

The import graph is read statically (ast) and includes imports inside functions: a lazy import is still a
dependency."""
import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIME = os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros')
ROOTS = {'face_ssd_ros': os.path.join(REPO, 'src', 'face_ssd_ros'),
         'face_ssd_training': os.path.join(REPO, 'src', 'face_ssd_training'),
         '': os.path.join(REPO, 'benchmarks')}

#: unit of the runtime (a subpackage or a top-level module) -> the units it may import (besides itself).
#: The same map opens docs/ARCHITECTURE.md.
ALLOWED = {
    'stats': set(),
    'stamp_cache': set(),
    'cli': set(),
    'supervise': set(),
    'config': set(),
    'camera': set(),
    'detect': {'config', 'camera', 'cli'},
    'msgs': {'detect', 'camera'},
    'evaluation': {'detect', 'msgs', 'config', 'camera', 'stats', 'stamp_cache', 'cli'},
    'engine': {'detect', 'evaluation', 'cli'},
    'nodes': {'config', 'detect', 'camera', 'msgs', 'evaluation', 'engine', 'stats', 'stamp_cache', 'supervise',
              'cli'},
    'runner': {'config', 'detect', 'msgs', 'evaluation', 'nodes', 'stats', 'stamp_cache', 'supervise', 'cli'},
    'demo': {'config', 'nodes', 'runner', 'cli'},
    'models': set(),
}
#: data folders of the runtime package (no Python modules)
DATA_DIRS = {'models'}


def _modules():
    """{dotted module name: file path} of both packages and the benchmarks (top-level modules there)."""
    out = {}
    for prefix, root in ROOTS.items():
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if x not in ('__pycache__', 'build') and not x.endswith('.egg-info')]
            for f in files:
                if not f.endswith('.py') or f == 'setup.py':
                    continue
                rel = os.path.relpath(os.path.join(d, f), root)[:-3].replace(os.sep, '.')
                if prefix == '' and '.' in rel:
                    continue
                rel = rel[:-len('.__init__')] if rel.endswith('.__init__') else rel
                out[rel] = os.path.join(d, f)
    return out


def _imports(name, path, known):
    """Project modules that ``name`` imports (absolute and relative, at any depth of the file)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ''
            targets = [base + '.' + a.name if base + '.' + a.name in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:          # "a.b.c" where c is a name: the module is "a.b"
                t = t.rpartition('.')[0]
            if t and t != name:
                found.add(t)
    return found


@pytest.fixture(scope='module')
def graph():
    mods = _modules()
    return dict((m, _imports(m, p, mods)) for m, p in mods.items())


def _unit(module):
    """face_ssd_ros.detect.backends.base -> 'detect'; face_ssd_ros.stats -> 'stats'."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def test_the_graph_covers_both_packages(graph):
    assert 'face_ssd_ros.detect.inference' in graph and 'face_ssd_training.train' in graph and 'benchlib' in graph
    assert 'face_ssd_ros.detect.backends' in graph['face_ssd_ros.detect.inference']


def test_no_import_cycles(graph):
    """Tarjan's strongly connected components: every one must be a single module."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_runtime_never_imports_the_training_package(graph):
    bad = sorted((m, t) for m, targets in graph.items() if m.startswith('face_ssd_ros')
                 for t in targets if t.startswith('face_ssd_training'))
    assert bad == []


def test_every_unit_imports_only_the_layers_below_it(graph):
    bad = []
    for m, targets in graph.items():
        if not m.startswith('face_ssd_ros.'):
            continue
        unit = _unit(m)
        for t in targets:
            if t.startswith('face_ssd_ros.') and _unit(t) != unit and _unit(t) not in ALLOWED[unit]:
                bad.append('%s imports %s (%s may import %s)' % (m, t, unit, sorted(ALLOWED[unit]) or 'nothing'))
    assert bad == []


def test_the_layout_is_the_documented_one():
    entries = [e for e in os.listdir(RUNTIME) if e != '__pycache__']
    units = set(e[:-3] if e.endswith('.py') else e for e in entries) - {'__init__'}
    assert units == set(ALLOWED), 'add the new unit to ALLOWED and to the map of docs/ARCHITECTURE.md'
    top_modules = [e for e in entries if e.endswith('.py') and e != '__init__.py']
    assert len(top_modules) <= 5, top_modules
    with open(os.path.join(REPO, 'docs', 'ARCHITECTURE.md')) as f:
        doc = f.read()
    for unit in units:
        assert '`%s`' % (unit + '/' if unit not in top_modules and unit + '.py' not in entries else unit + '.py') \
            in doc, unit


@pytest.mark.parametrize('unit', sorted(u for u in set(ALLOWED) - DATA_DIRS if os.path.isdir(os.path.join(RUNTIME, u))))
def test_each_subpackage_states_its_purpose_in_one_line(unit):
    with open(os.path.join(RUNTIME, unit, '__init__.py')) as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    assert doc and len(doc.splitlines()[0]) > 20, '%s/__init__.py needs a one-line purpose' % unit

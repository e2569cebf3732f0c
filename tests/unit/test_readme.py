"""Everything the README (and the docs' links) names exists: files, console commands, make targets, modules, launch
files, link targets and their #anchors.

What counts as a file path: a word with a `/` whose first part is a top-level folder of the repository (`config/`,
`docs/`, `scripts/`, `src/`, ...) or whose last part has a file extension (`face_ssd_ros/detect/tracker.py`, looked
up under `src/face_ssd_ros` and `src/face_ssd_training` too). Absolute paths (`/dev/video0`, topics) are not
checked. Allowed without existing: what the README's commands create (`out/...`, `runs/...`, the files in
CREATED_BY_COMMANDS), and `../shared/data/...` where that folder is not beside the repository.
"""
import ast
import glob
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, 'README.md')
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data'))
#: Folders the README's commands write into (their files need not exist).
OUTPUT_PREFIXES = ('out/', 'runs/')
#: Single files the README names that a command creates.
CREATED_BY_COMMANDS = {
    # face-ssd-import-onnx in "Train your own detector" (the shipped model's training checkpoint)
    'src/face_ssd_ros/face_ssd_ros/models/face_default.pt',
}
if not os.path.isfile(os.path.join(ROOT, 'docs', 'demo_frame.png')):
    # `make demo` writes out/demo/annotated_frame.png; it is copied to docs/demo_frame.png when the demo is re-run.
    CREATED_BY_COMMANDS.add('docs/demo_frame.png')
FILE_EXTENSIONS = ('.py', '.md', '.yaml', '.yml', '.png', '.onnx', '.json', '.jsonl', '.xml', '.txt', '.sh', '.csv',
                   '.pt', '.mp4', '.cfg', '.msg', '.engine')
PACKAGE_ROOTS = ('src/face_ssd_ros', 'src/face_ssd_training')
NOT_CHECKED_DIRS = {'.git', '.venv', 'out', 'runs', '.pytest_cache', '.hypothesis', 'build', 'install', 'log'}
PATH_RE = re.compile(r'(?<![\w$/.:~-])((?:\.\./)*[\w.-]+/(?:[\w.*-]+/?)*)')
COMMAND_RE = re.compile(r'(?<![\w./:-])(face[-_]ssd[-_][a-z0-9_-]+)(?![\w./:-])')
MAKE_RE = re.compile(r'(?<![\w-])make ([a-z][\w-]*)')
PYTHON_M_RE = re.compile(r'\bpython3? -m ([\w.]+)')
ROS2_RE = re.compile(r'\bros2 (launch|run) face_ssd_ros ([\w.-]+)')


def _read(path):
    with open(path) as f:
        return f.read()


def code_of(text):
    """The code of a Markdown text: fenced blocks (comments after `#` dropped) and inline `spans`, one per line."""
    parts, prose = [], []
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith('```'):
            fence = not fence
            continue
        if fence:
            parts.append(re.sub(r'(^|\s)#.*$', '', line))
        else:
            prose.append(line)
    parts += re.findall(r'`([^`\n]+)`', '\n'.join(prose))
    return '\n'.join(parts)


def _top_level_dirs():
    return set(n for n in os.listdir(ROOT) if os.path.isdir(os.path.join(ROOT, n)) and n not in NOT_CHECKED_DIRS)


def paths_in(text):
    """File paths a Markdown text names (see the module docstring), in order, without duplicates."""
    top = _top_level_dirs()
    out = []
    for match in PATH_RE.finditer(text):
        path = match.group(1).rstrip('.')
        first = path.split('/')[0]
        if path.startswith('../shared/') or first in top or first + '/' in OUTPUT_PREFIXES \
                or os.path.splitext(path.rstrip('/'))[1] in FILE_EXTENSIONS:
            if path not in out:
                out.append(path)
    return out


def console_scripts():
    """Console-script names of both packages' setup.py entry_points."""
    names = set()
    for setup in ('src/face_ssd_ros/setup.py', 'src/face_ssd_training/setup.py'):
        tree = ast.parse(_read(os.path.join(ROOT, setup)))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == 'entry_points':
                entry_points = ast.literal_eval(node.value)
                names.update(e.split('=')[0].strip() for e in entry_points.get('console_scripts', []))
    return names


def make_targets():
    return set(re.findall(r'^([a-z][\w-]*):', _read(os.path.join(ROOT, 'Makefile')), re.M))


def _module_exists(name):
    for root in PACKAGE_ROOTS:
        base = os.path.join(ROOT, root, *name.split('.'))
        if os.path.isfile(base + '.py') or os.path.isfile(os.path.join(base, '__init__.py')):
            return True
    if name.split('.')[0] in ('face_ssd_ros', 'face_ssd_training'):
        return False
    return importlib.util.find_spec(name.split('.')[0]) is not None  # pytest, pip, ...


def problems(text):
    """Every path, command, make target, module and launch file of a README text that does not exist."""
    found = []
    for path in paths_in(text):
        clean = path.rstrip('/')
        if clean.startswith('../shared/data'):
            if os.path.isdir(SHARED) and not glob.glob(os.path.normpath(os.path.join(ROOT, clean))):
                found.append('file %s' % path)
            continue
        if path.startswith(OUTPUT_PREFIXES) or clean in CREATED_BY_COMMANDS:
            continue
        candidates = [os.path.join(ROOT, clean)] + [os.path.join(ROOT, r, clean) for r in PACKAGE_ROOTS]
        if not any(glob.glob(c) for c in candidates):
            found.append('file %s' % path)
    code = code_of(text)
    packages = set(os.path.basename(r) for r in PACKAGE_ROOTS)
    scripts = console_scripts()
    for name in sorted(set(COMMAND_RE.findall(code)) - packages):
        if name not in scripts:
            found.append('command %s' % name)
    targets = make_targets()
    for target in sorted(set(MAKE_RE.findall(code))):
        if target not in targets:
            found.append('make target %s' % target)
    for module in sorted(set(PYTHON_M_RE.findall(code))):
        if not _module_exists(module):
            found.append('module %s' % module)
    for kind, name in sorted(set(ROS2_RE.findall(code))):
        if (kind == 'launch' and not os.path.isfile(os.path.join(ROOT, 'launch', name))) or \
                (kind == 'run' and name not in scripts):
            found.append('ros2 %s face_ssd_ros %s' % (kind, name))
    return found


def test_every_path_and_command_in_the_readme_exists():
    text = _read(README)
    missing = problems(text)
    assert not missing, 'README.md names what does not exist: %s' % ', '.join(missing)


def test_the_readme_check_is_not_vacuous():
    """It sees the README's files and commands, and it reports made-up ones."""
    text = _read(README)
    paths = paths_in(text)
    for expected in ('config/pipeline.yaml', 'docs/PARAMETERS.md', 'docs/MODEL.md', 'docker/README.md',
                     'scripts/eval_tracking.py', 'docs/demo_frame.png', 'face_ssd_ros/detect/tracker.py', 'interfaces/'):
        assert expected in paths
    code = code_of(text)
    assert {'demo', 'test', 'eval-default'} <= set(MAKE_RE.findall(code))
    assert {'face_ssd_pipeline', 'face-ssd-train', 'face-ssd-make-bag'} <= set(COMMAND_RE.findall(code))
    fake = ('See `docs/NOPE.md` and [x](scripts/gone.py); face_ssd_ros/detect/nothing.py, src/nowhere/.\n'
            '```bash\nface-ssd-nope --x out/fine.json\nmake no-such-target\npython -m face_ssd_ros.nothing\n'
            'ros2 launch face_ssd_ros nope.launch.py\nros2 run face_ssd_ros nope_node\n'
            'face_ssd_pipeline --config config/pipeline.yaml   # make comment-is-ignored\n```\n')
    assert problems(fake) == ['file docs/NOPE.md', 'file scripts/gone.py', 'file face_ssd_ros/detect/nothing.py',
                              'file src/nowhere/',
                              'command face-ssd-nope', 'make target no-such-target', 'module face_ssd_ros.nothing',
                              'ros2 launch face_ssd_ros nope.launch.py', 'ros2 run face_ssd_ros nope_node']


def test_the_readme_follows_the_agreed_order():
    headings = [h for h in re.findall(r'^## (.+)$', _read(README), re.M)]
    assert headings == ['Try it: two commands', 'On a robot', 'Nodes, topics and messages', 'Evaluate on your bag',
                        'Train your own detector', 'The shipped model', 'Benchmarks', 'Faults', 'Links']


# ---------------------------------------------------------------------------------------------- links in the docs
DOCS = ['README.md', 'docker/README.md', 'benchmarks/README.md'] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'docs', '*.md')))
LINK_RE = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces -> `-`."""
    text = re.sub(r'[`*]', '', heading.strip().lower())
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    seen, out = {}, set()
    fence = False
    for line in _read(path).splitlines():
        if line.lstrip().startswith('```'):
            fence = not fence
        match = re.match(r'^#{1,6} (.+)$', line)
        if match and not fence:
            base = slug(match.group(1))
            out.add(base if base not in seen else '%s-%d' % (base, seen[base]))
            seen[base] = seen.get(base, 0) + 1
    return out


def test_slug_golden():
    assert slug('6. A robot\'s bag: compressed images, no ground truth') == \
        '6-a-robots-bag-compressed-images-no-ground-truth'
    assert slug('`detector_node` and `lifecycle_detector_node`') == 'detector_node-and-lifecycle_detector_node'


@pytest.mark.parametrize('doc', DOCS)
def test_links_and_anchors_resolve(doc):
    source = os.path.join(ROOT, doc)
    broken = []
    for target in LINK_RE.findall(_read(source)):
        if re.match(r'^[a-z]+:', target):       # http:, https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        full = os.path.normpath(os.path.join(os.path.dirname(source), path)) if path else source
        rel = os.path.relpath(full, ROOT).replace(os.sep, '/')
        if not os.path.exists(full):
            if rel not in CREATED_BY_COMMANDS:
                broken.append(target)
            continue
        if anchor and full.endswith('.md') and anchor not in anchors(full):
            broken.append(target)
    assert not broken, '%s: broken links %s' % (doc, broken)

"""docs/PARAMETERS.md, generated from the ParamSpec tables the nodes declare and the launch arguments (no rclpy).

    make docs        (= PYTHONPATH=src/face_ssd_ros python -m face_ssd_ros.config.docs --out docs/PARAMETERS.md)
    python -m face_ssd_ros.config.docs --check docs/PARAMETERS.md   (exit 1 when the file is out of date)

(PYTHONPATH: the sources, not an older installed copy of the package.)

:func:`render` returns the whole page as one string: per node a table of every parameter (name, type, default,
range or choices, changeable at run time or read-only, description) from :mod:`face_ssd_ros.config.params` and
:mod:`face_ssd_ros.config.bag_params`, the values the shipped parameter files (``config/pipeline.yaml``,
``config/bag_eval.yaml``) set differently, the launch files and their arguments
(:data:`face_ssd_ros.config.pipeline.LAUNCH_FILES`) and the override shortcuts. The page is a pure function of
those tables and files, so a test compares the committed file with a fresh rendering.
"""
import argparse
import re
import sys

from face_ssd_ros.config import pipeline

#: The command that rewrites the committed page (repository root), and what it runs.
REGENERATE = 'make docs'
REGENERATE_PYTHON = 'PYTHONPATH=src/face_ssd_ros python -m face_ssd_ros.config.docs --out docs/PARAMETERS.md'
#: Parameter files of config/ whose values are listed under the node tables, in this order.
CONFIG_FILES = ('pipeline.yaml', pipeline.BAG_EVAL_CONFIG)

_INTRO = """\
Every parameter of every face_ssd node, with its type, default, allowed values and whether it changes at run time,
and every launch argument. The tables are the ParamSpec tables the nodes declare
(`src/face_ssd_ros/face_ssd_ros/config/params.py`, `src/face_ssd_ros/face_ssd_ros/config/bag_params.py`) and the
launch arguments of `src/face_ssd_ros/face_ssd_ros/config/pipeline.py`; each node declares its parameters from the
same table, with the description and range shown here (`ros2 param describe /detector score_threshold`).

Setting a parameter:

* in a parameter file: `config/pipeline.yaml` (camera, detector, overlay) or `config/bag_eval.yaml` (replay,
  detector, evaluator), or your own file given as `config_file:=` / `params_file:=` (launch) or `--config` /
  `--params-file` (`face_ssd_pipeline`);
* one value: `face_ssd_pipeline --set detector.score_threshold=0.5` (`NODE.PARAM=VALUE`, or a
  [shortcut](#override-shortcuts)), or a [launch argument](#launch-arguments);
* while the node runs, when the "run time" column says yes: `ros2 param set /detector score_threshold 0.5`.
  The node names are `camera`, `detector`, `overlay`, `replay` and `evaluator` (plus the namespace, if any).

Every value is checked (type, range, choices) at start-up and on every change: a bad start-up value stops the node
with one line naming the parameter, a bad change is rejected with the reason and the old value stays. Given to a
node directly (`ros2 param set`, `--ros-args -p`), a `double` takes only a floating-point number (`1.0`, not `1`)
and a `string_array` a list (`"['face']"`); the parameter files, launch arguments and `--set` go through the
pipeline description, which converts `1` to `1.0` and `face,plate` to a list.
The "default" column is the node's own default, what a node started without a parameter file gets; the values the
shipped parameter files set differently are listed under each table.
"""

_CROSS_CHECKS = {
    'camera': ['`reconnect_initial_delay` must not exceed `reconnect_max_delay` (checked at start-up and on every '
               'change).'],
    'detector': ['`input_width` and `input_height` are both 0 or both set.',
                 '`class_filter` entries must be labels of the loaded model (checked once the model is loaded).'],
    'evaluator': ['`fppi` must be comma-separated positive numbers (`0.1,0.5,1`).'],
}


def _escape(text):
    """Markdown table cell text: ``|`` escaped, ``<name>`` kept visible (not read as an HTML tag)."""
    text = str(text).replace('|', '\\|')
    return re.sub(r'<(?=[A-Za-z/])', '&lt;', text)


def format_value(value):
    """A parameter value as the page shows it, in code: ``0.6``, ``true``, ``"0"``, ``""``, ``[]``, ``auto``."""
    if isinstance(value, bool):
        text = 'true' if value else 'false'
    elif isinstance(value, (list, tuple)):
        text = '[' + ', '.join(str(v) for v in value) + ']'
    elif isinstance(value, str):
        # Strings that YAML would read as another type (or empty) are quoted, as a parameter file must write them.
        text = '"%s"' % value if value == '' or re.match(r'^[-+.\d]', value) or value in ('true', 'false') \
            else value
    else:
        text = repr(value)
    return '`%s`' % text


def format_range(spec):
    """``[0.0, 1.0]``, ``>= 0``, ``<= 7``, ``a, b, c`` (choices) or ``-``."""
    if spec.choices is not None:
        return ', '.join('`%s`' % c for c in spec.choices)
    if spec.min is not None and spec.max is not None:
        return '%s to %s' % (spec.min, spec.max)
    if spec.min is not None:
        return '>= %s' % spec.min
    if spec.max is not None:
        return '<= %s' % spec.max
    return '-'


def parameter_table(specs):
    """Markdown table (list of lines) of a ParamSpec table, in declaration order."""
    lines = ['| parameter | type | default | range / choices | run time | description |',
             '|---|---|---|---|---|---|']
    for spec in specs:
        lines.append('| `%s` | %s | %s | %s | %s | %s |' % (
            spec.name, spec.type, format_value(spec.default), format_range(spec),
            'yes' if spec.runtime_changeable else 'read-only', _escape(spec.description)))
    return lines


def config_differences(node):
    """``[(config file name, [(param, value), ...]), ...]``: values of ``node`` that the shipped parameter files set
    to something other than the node's default (files without the node, or without differences, left out)."""
    specs = pipeline.NODE_TYPES[node].specs
    out = []
    for name in CONFIG_FILES:
        values = pipeline.load_config(pipeline.find_config(name)).get(node)
        if values is None:
            continue
        changed = []
        for spec in specs:
            if spec.name in values:
                value = pipeline.coerce(spec, values[spec.name])
                if value != spec.default:
                    changed.append((spec.name, value))
        if changed:
            out.append((name, changed))
    return out


def _executables(node):
    names = [pipeline.NODE_TYPES[node].executable]
    if node == 'detector':
        names.append(pipeline.MANAGED_DETECTOR.executable)
    return names


def node_section(node):
    """Lines of one node's section: heading, table, shipped config values, checks across parameters."""
    executables = _executables(node)
    lines = ['## %s' % ' and '.join('`%s`' % e for e in executables), '']
    lines.append('Node name `%s`; `%s.PARAM` in `face_ssd_pipeline --set`; `%s:` in a parameter file.%s' % (
        node, node, node, ' `lifecycle_detector_node` (chosen with `managed: true`) takes the same parameters.'
        if node == 'detector' else ''))
    lines += [''] + parameter_table(pipeline.NODE_TYPES[node].specs) + ['']
    for name, changed in config_differences(node):
        lines.append('`config/%s` sets %s.' % (name, ', '.join('`%s: %s`' % (p, format_value(v).strip('`'))
                                                               for p, v in changed)))
        lines.append('')
    for check in _CROSS_CHECKS.get(node, []):
        lines.append('Also checked: %s' % check)
        lines.append('')
    return lines


def _launch_sets(name):
    targets = pipeline.launch_argument_targets(name)
    if targets:
        return ', '.join('`%s.%s`' % t for t in targets)
    return {'config_file': 'the parameter file', 'params_file': 'a file merged over it',
            'namespace': 'every node\'s namespace', 'image_topic': 'remaps `image_raw` of the detector and overlay'
            }.get(name, '-')


def launch_section():
    """Lines of the launch files table and the launch arguments table."""
    lines = ['## Launch files', '',
             '`ros2 launch face_ssd_ros FILE [ARG:=VALUE ...]`; `ros2 launch face_ssd_ros FILE --show-args` lists the '
             'arguments with these descriptions. Every file is a thin wrapper over the pipeline description that '
             '`face_ssd_pipeline` uses too, so a launch file and the runner start the same nodes with the same '
             'parameters.', '',
             '| launch file | nodes | parameters from | arguments |', '|---|---|---|---|']
    for name, entry in pipeline.LAUNCH_FILES.items():
        arguments = pipeline.launch_arguments(entry.nodes)
        extra = [a[0] for a in arguments if a not in pipeline.LAUNCH_ARGUMENTS]
        lines.append('| `%s` | %s | `config/%s` | the common ones%s |' % (
            name, ' -> '.join('`%s`' % pipeline.NODE_TYPES[n].executable for n in entry.nodes), entry.config_name,
            ' + ' + ', '.join('`%s`' % a for a in extra) if extra else ''))
    lines += ['', '## Launch arguments', '',
              'An empty value (the default) keeps the value of the parameter file. An argument for a node the file '
              'does not start has no effect (`model_path:=` in `camera.launch.py`).', '',
              '| argument | default | sets | launch files | description |', '|---|---|---|---|---|']
    seen = []
    for entry in pipeline.LAUNCH_FILES.values():
        for argument in pipeline.launch_arguments(entry.nodes):
            if argument[0] not in [a[0] for a in seen]:
                seen.append(argument)
    for name, default, description in seen:
        files = [f for f, e in pipeline.LAUNCH_FILES.items()
                 if name in [a[0] for a in pipeline.launch_arguments(e.nodes)]]
        defaults = format_value(default)
        others = ['%s: %s' % (f, format_value(e.image_topic_default)) for f, e in pipeline.LAUNCH_FILES.items()
                  if name == 'image_topic' and e.image_topic_default != default]
        if others:
            defaults += ' (%s)' % '; '.join(others)
        lines.append('| `%s` | %s | %s | %s | %s |' % (
            name, defaults, _launch_sets(name),
            'all' if len(files) == len(pipeline.LAUNCH_FILES) else ', '.join('`%s`' % f for f in files),
            _escape(description)))
    return lines + ['']


def shortcuts_section():
    """Lines of the override shortcuts table (``face_ssd_pipeline --set KEY=VALUE``)."""
    lines = ['## Override shortcuts', '',
             '`face_ssd_pipeline --set KEY=VALUE` (and the pipeline description\'s overrides) take `NODE.PARAM` or '
             'one of these keys:', '',
             '| key | sets |', '|---|---|']
    for key, (node, name) in pipeline.SHORTCUTS.items():
        lines.append('| `%s` | `%s.%s` |' % (key, node, name))
    for key, targets in pipeline.GROUP_SHORTCUTS.items():
        lines.append('| `%s` | %s |' % (key, ', '.join('`%s.%s`' % t for t in targets)))
    return lines + ['']


def render():
    """The whole docs/PARAMETERS.md page (str, ending in one newline)."""
    lines = ['# Parameters', '',
             '> Generated from the tables by `%s` (`%s`): edit the tables, not this page. '
             '`tests/unit/test_parameters_doc.py` fails when it is out of date.' % (REGENERATE, REGENERATE_PYTHON),
             '',
             _INTRO.rstrip('\n'), '']
    nodes = list(pipeline.NODE_TYPES)
    lines.append('Contents: %s, [launch files](#launch-files), [launch arguments](#launch-arguments), '
                 '[override shortcuts](#override-shortcuts).' % ', '.join(
                     '[%s](#%s)' % (' and '.join(_executables(n)), '-and-'.join(_executables(n))) for n in nodes))
    lines.append('')
    for node in nodes:
        lines += node_section(node)
    lines += launch_section()
    lines += shortcuts_section()
    while lines and lines[-1] == '':
        lines.pop()
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m face_ssd_ros.config.docs',
                                     description='Write docs/PARAMETERS.md from the nodes\' ParamSpec tables.')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--out', help='write the page to this file (default: print it)')
    group.add_argument('--check', metavar='FILE', help='exit 1 when FILE differs from a fresh rendering')
    args = parser.parse_args(argv)
    try:
        text = render()
    except pipeline.PipelineConfigError as exc:
        sys.stderr.write('error: %s\n' % exc)
        return 2
    if args.check:
        try:
            with open(args.check) as f:
                current = f.read()
        except (IOError, OSError) as exc:
            current = None
            sys.stderr.write('%s cannot be read (%s)\n' % (args.check, exc))
        if current != text:
            sys.stderr.write('%s is out of date: regenerate it with `%s` (%s)\n' % (args.check, REGENERATE,
                                                                                   REGENERATE_PYTHON))
            return 1
        return 0
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())

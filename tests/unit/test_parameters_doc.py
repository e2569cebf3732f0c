"""docs/PARAMETERS.md is generated from the ParamSpec tables (face_ssd_ros.config.docs) and must be up to date.

When a test here fails after a parameter changed: run `make docs` (repository root) and commit docs/PARAMETERS.md.
"""
import os

import pytest

from face_ssd_ros.config import bag_params, docs, params, pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE = os.path.join(ROOT, 'docs', 'PARAMETERS.md')
TABLES = {'camera': params.CAMERA_PARAMS, 'detector': params.DETECTOR_PARAMS, 'overlay': params.OVERLAY_PARAMS,
          'replay': bag_params.REPLAY_PARAMS, 'evaluator': bag_params.EVALUATOR_PARAMS}


def _read_page():
    with open(PAGE) as f:
        return f.read()


def _section(text, executable):
    """The text of the page's section whose heading starts with `executable`."""
    start = text.index('\n## `%s`' % executable)
    end = text.find('\n## ', start + 1)
    return text[start:end if end > 0 else len(text)]


def test_the_committed_page_is_up_to_date():
    fresh = docs.render()
    if _read_page() != fresh:
        pytest.fail('docs/PARAMETERS.md is out of date with the ParamSpec tables / launch arguments / config files: '
                    'regenerate it with `%s` (= %s) and commit it' % (docs.REGENERATE, docs.REGENERATE_PYTHON))


def test_the_tables_cover_every_node_type():
    assert set(TABLES) == set(pipeline.NODE_TYPES)
    assert all(TABLES[k] is pipeline.NODE_TYPES[k].specs for k in TABLES)


@pytest.mark.parametrize('node', sorted(TABLES))
def test_every_parameter_has_one_row_in_its_node_section(node):
    text = docs.render()
    section = _section(text, pipeline.NODE_TYPES[node].executable)
    rows = [line for line in section.splitlines() if line.startswith('| `')]
    assert [r.split('`')[1] for r in rows] == [s.name for s in TABLES[node]]
    for spec, row in zip(TABLES[node], rows):
        cells = [c.strip() for c in row.strip('|').split(' | ')]
        assert len(cells) == 6, row
        assert cells[1] == spec.type and cells[2] == docs.format_value(spec.default)
        assert cells[3] == docs.format_range(spec)
        assert cells[4] == ('read-only' if spec.read_only else 'yes')
        assert spec.description and cells[5].startswith(spec.description[:15].replace('<', '&lt;'))


def test_golden_rows():
    text = docs.render()
    assert '| `score_threshold` | double | `0.6` | 0.0 to 1.0 | yes | Minimum class score of a reported detection |' \
        in text
    assert '| `source` | string | `"0"` | - | read-only | Capture source:' in text
    assert ('| `backend` | string | `auto` | `auto`, `onnxruntime`, `tensorrt`, `torch` | read-only | Inference '
            'backend (auto = by model file extension) |') in text
    assert '| `class_filter` | string_array | `[]` | - | yes |' in text
    assert '| `fppi` | string | `"0.1,0.5,1"` | - | yes |' in text
    # "<stem>" stays visible in Markdown, pipes do not break a table
    assert '(&lt;stem>_&lt;W>x&lt;H>.onnx' in text
    assert 'lockstep (no frame dropped) \\| rate (recorded timing)' in text


def test_values_of_the_shipped_config_files():
    camera = dict(docs.config_differences('camera'))
    assert camera == {'pipeline.yaml': [('width', 640), ('height', 480), ('fps', 30.0)]}
    detector = dict(docs.config_differences('detector'))
    assert 'pipeline.yaml' not in detector  # pipeline.yaml's detector keeps every node default
    assert detector['bag_eval.yaml'] == [('score_threshold', 0.05), ('qos_reliability', 'reliable'),
                                         ('tracking', False)]
    assert docs.config_differences('overlay') == []
    text = docs.render()
    assert '`config/pipeline.yaml` sets `width: 640`, `height: 480`, `fps: 30.0`.' in text


def test_every_launch_argument_is_on_the_page_with_its_description():
    text = docs.render()
    section = text[text.index('\n## Launch arguments'):text.index('\n## Override shortcuts')]
    arguments = pipeline.LAUNCH_ARGUMENTS + pipeline.BAG_LAUNCH_ARGUMENTS
    rows = [line for line in section.splitlines() if line.startswith('| `')]
    assert [r.split('`')[1] for r in rows] == [a[0] for a in arguments]
    for (name, default, description), row in zip(arguments, rows):
        assert description.strip(), name
        assert row.rstrip(' |').endswith(docs._escape(description)), row
    assert '| `image_topic` | `""` (detector.launch.py: `image_raw`) |' in section
    assert '| `score_threshold` | `""` | `detector.score_threshold` | all |' in section
    assert '| `bag` | `""` | `replay.bag_path` | `bag_eval.launch.py` |' in section
    assert ('| `image_transport` | `""` | `detector.image_transport`, `overlay.image_transport` | all |') in section


def test_format_value_and_range():
    assert [docs.format_value(v) for v in (True, 0, 0.5, '', '0', 'auto', [], ['a', 'b'], 'true')] == \
        ['`true`', '`0`', '`0.5`', '`""`', '`"0"`', '`auto`', '`[]`', '`[a, b]`', '`"true"`']
    spec = params.ParamSpec
    assert docs.format_range(spec('x', 1, 'd', 'int', min=1)) == '>= 1'
    assert docs.format_range(spec('x', 1, 'd', 'int', max=9)) == '<= 9'
    assert docs.format_range(spec('x', 'a', 'd', 'string', choices=('a', 'b'))) == '`a`, `b`'
    assert docs.format_range(spec('x', 'a', 'd', 'string')) == '-'


def test_a_changed_table_changes_the_page_and_check_says_how_to_regenerate(monkeypatch, tmp_path, capsys):
    page = tmp_path / 'PARAMETERS.md'
    assert docs.main(['--out', str(page)]) == 0
    assert page.read_text() == docs.render()
    assert docs.main(['--check', str(page)]) == 0
    changed = tuple(s._replace(default=0.42) if s.name == 'score_threshold' else s for s in params.DETECTOR_PARAMS)
    monkeypatch.setitem(pipeline.NODE_TYPES, 'detector', pipeline.NODE_TYPES['detector']._replace(specs=changed))
    assert '| `score_threshold` | double | `0.42` |' in docs.render()
    capsys.readouterr()
    assert docs.main(['--check', str(page)]) == 1
    err = capsys.readouterr().err
    assert 'out of date' in err and 'make docs' in err and 'face_ssd_ros.config.docs --out docs/PARAMETERS.md' in err
    assert docs.main(['--check', str(tmp_path / 'missing.md')]) == 1


def test_the_make_target_runs_the_generator():
    with open(os.path.join(ROOT, 'Makefile')) as f:
        makefile = f.read()
    target = makefile[makefile.index('\ndocs:'):]
    target = target[:target.index('\n\n')]
    assert 'PYTHONPATH=src/face_ssd_ros' in target and '-m face_ssd_ros.config.docs --out docs/PARAMETERS.md' in target

"""Per-image accuracy (golden cases), ``face-ssd-eval config`` (a model on a training config's held-out data) and
``face-ssd-eval table``, end to end with the 3-class grid model on synthetic images."""
import json

import numpy as np
import pytest

from face_ssd_training.eval import cli
from face_ssd_training.eval.accuracy import format_accuracy, image_accuracy, image_outcome
from face_ssd_training.eval.table import markdown_table, parse_row, training_time
from grid_model import build_grid_onnx, make_manifest

GT = {
    'a': {'boxes': [[0, 0, 10, 10], [20, 0, 30, 10]], 'labels': ['cat', 'dog']},
    'b': {'boxes': [[0, 0, 10, 10]], 'labels': ['dog']},
    'c': {'boxes': [[0, 0, 10, 10]], 'labels': ['cat'], 'ignore': [True]},     # only an ignore region: not counted
    'd': {'boxes': np.zeros((0, 4)), 'labels': []},                            # no object: not counted
    'e': {'boxes': [[0, 0, 10, 10]], 'labels': ['cat']},
}
PRED = {
    'a': [(20, 0, 30, 10, 0.9, 'dog'), (0, 0, 10, 10, 0.4, 'cat')],   # dog found; the cat only below the threshold
    'b': [(0, 0, 10, 10, 0.95, 'cat')],                             # found, but as the wrong class
    'e': [(1, 1, 11, 11, 0.8, 'cat'), (50, 50, 60, 60, 0.99, 'dog')],  # IoU 0.68: found; a false box changes nothing
}


def test_image_accuracy_golden():
    r = image_accuracy(PRED, GT, iou_threshold=0.5, score_threshold=0.5)
    assert (r['images'], r['correct'], r['wrong_class'], r['images_without_objects']) == (3, 2, 1, 2)
    assert r['accuracy'] == pytest.approx(2 / 3)
    assert r['classes'] == {'cat': {'images': 2, 'correct': 1, 'accuracy': 0.5},
                            'dog': {'images': 2, 'correct': 1, 'accuracy': 0.5}}
    assert r['per_image']['a'] == {'correct': True, 'classes': {'cat': False, 'dog': True}, 'found_as': ['dog']}
    assert r['per_image']['b']['found_as'] == ['cat'] and not r['per_image']['b']['correct']
    # a lower score threshold lets the 0.4 cat count too; a stricter IoU loses the shifted box of e
    low = image_accuracy(PRED, GT, 0.5, 0.3)
    assert low['classes']['cat'] == {'images': 2, 'correct': 2, 'accuracy': 1.0}
    assert image_accuracy(PRED, GT, 0.75, 0.5)['per_image']['e']['correct'] is False
    assert image_accuracy({}, {'d': GT['d']})['accuracy'] is None
    text = format_accuracy(r)
    assert '66.7' in text and '(2 of 3 images; 1 found only as another class' in text


def test_image_outcome_without_detections():
    out = image_outcome([], np.array([[0, 0, 5, 5]], float), ['cat'])
    assert out == {'correct': False, 'classes': {'cat': False}, 'found_as': []}


def _write(path, value, square, square_value):
    import cv2
    img = np.full((48, 64, 3), value, np.uint8)
    x1, y1, x2, y2 = square
    img[y1:y2, x1:x2] = square_value
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def held_out(tmp_path):
    """A training config whose data.val is a 3-image CSV set: a bright square ("bright"), a black square ("dark")
    and a greyish square labelled "dark" that the grid model calls "bright"; plus the 3-class grid model."""
    (tmp_path / 'images').mkdir()
    _write(tmp_path / 'images' / 'one.png', 128, (16, 16, 32, 32), 255)
    _write(tmp_path / 'images' / 'two.png', 128, (32, 16, 48, 32), 0)
    _write(tmp_path / 'images' / 'three.png', 128, (0, 0, 16, 16), 200)
    (tmp_path / 'boxes.csv').write_text('image,xmin,ymin,xmax,ymax,label\none.png,16,16,32,32,bright\n'
                                        'two.png,32,16,48,32,dark\nthree.png,0,0,16,16,dark\n')
    (tmp_path / 'split.txt').write_text('one.png\ntwo.png\nthree.png\n')
    (tmp_path / 'cfg.yaml').write_text(
        'data:\n  labels: [background, bright, dark]\n  val:\n'
        '    - {format: csv, images: images, annotations: boxes.csv, image_list: split.txt}\n')
    model = str(tmp_path / 'grid3.onnx')
    build_grid_onnx(model, make_manifest(labels=('background', 'bright', 'dark')))
    return tmp_path, model


def test_eval_config_runs_a_model_on_the_held_out_split(held_out, capsys):
    tmp_path, model = held_out
    out = str(tmp_path / 'r.json')
    assert cli.main(['config', '--config', str(tmp_path / 'cfg.yaml'), '--model', model, '--quiet', '--threads', '1',
                     '--accuracy-threshold', '0.5', '--json', out, '--save-pred', str(tmp_path / 'p.jsonl')]) == 0
    rep = json.load(open(out))
    # bright: the one bright square first (0.98), then the 200-grey one (0.90, FP) -> AP 1; dark: one of two found
    assert rep['classes']['bright']['ap'] == pytest.approx(1.0) and rep['classes']['bright']['num_gt'] == 1
    assert rep['classes']['dark']['ap'] == pytest.approx(0.5) and rep['classes']['dark']['num_gt'] == 2
    assert rep['map'] == pytest.approx(0.75) and rep['images'] == 3 and rep['detect']['images'] == 3
    acc = rep['image_accuracy']
    assert (acc['accuracy'], acc['correct'], acc['wrong_class']) == (pytest.approx(2 / 3), 2, 1)
    assert acc['classes']['dark'] == {'images': 2, 'correct': 1, 'accuracy': 0.5}
    assert rep['section'] == 'val' and rep['model'].endswith('grid3.onnx') and rep['name'] == 'grid3'
    assert 'per-image accuracy' in capsys.readouterr().out
    # the same from the saved predictions
    assert cli.main(['config', '--config', str(tmp_path / 'cfg.yaml'), '--pred', str(tmp_path / 'p.jsonl'),
                     '--accuracy-threshold', '0.5', '--json', str(tmp_path / 'r2.json')]) == 0
    assert json.load(open(str(tmp_path / 'r2.json')))['image_accuracy']['correct'] == 2


def test_eval_config_errors_are_one_line(held_out, capsys):
    tmp_path, model = held_out
    (tmp_path / 'empty.yaml').write_text('data:\n  labels: [background, bright]\n')
    assert cli.main(['config', '--config', str(tmp_path / 'empty.yaml'), '--model', model, '--quiet']) == 2
    assert 'no data.val datasets' in capsys.readouterr().err
    (tmp_path / 'split.txt').write_text('four.png\n')
    assert cli.main(['config', '--config', str(tmp_path / 'cfg.yaml'), '--model', model, '--quiet']) == 2
    err = capsys.readouterr().err
    assert "'four.png'" in err and len(err.strip().splitlines()) == 1


def test_table_of_a_recipe(held_out, capsys):
    tmp_path, model = held_out
    out = str(tmp_path / 'r.json')
    assert cli.main(['config', '--config', str(tmp_path / 'cfg.yaml'), '--model', model, '--quiet',
                     '--accuracy-threshold', '0.5', '--json', out]) == 0
    (tmp_path / 'metrics.csv').write_text('epoch,loss,seconds\n1,2.0,60.0\n2,1.5,90.0\n')
    assert training_time(str(tmp_path / 'metrics.csv')) == (150.0, 2)
    assert parse_row('a, b=x.json,m.csv') == ('a, b', 'x.json', 'm.csv') and parse_row('a=x.json')[2] is None
    with pytest.raises(ValueError, match='NAME=EVAL_JSON'):
        parse_row('x.json')
    md = str(tmp_path / 't.md')
    assert cli.main(['table', 'trained=%s,%s' % (out, tmp_path / 'metrics.csv'), 'as shipped=%s' % out,
                     '--out', md]) == 0
    lines = open(md).read().splitlines()
    assert lines[0] == ('| model | training (min, epochs) | mAP@0.5 | AP bright | AP dark | image accuracy | '
                        'accuracy bright | accuracy dark |')
    assert lines[2] == '| trained | 2.5 (2) | 75.0 | 100.0 | 50.0 | 66.7 | 100.0 | 50.0 |'
    assert lines[3].startswith('| as shipped | - | 75.0 |')
    no_acc = markdown_table([{'name': 'x', 'map': None, 'ap': {'a': None}, 'accuracy': None, 'class_accuracy': {},
                              'seconds': None, 'epochs': None}])
    assert no_acc.splitlines()[2] == '| x | - | - | - |'

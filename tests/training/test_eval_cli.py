"""face-ssd-eval end to end on synthetic data: wider --pred / --model, voc on a WIDER-format file, plot."""
import json
import os

import numpy as np
import pytest

from face_ssd_ros.detect.predictions import make_error_record, make_record, write_predictions
from face_ssd_ros.evaluation.wider_gt import evaluate_wider, load_wider_eval_gt
from face_ssd_training.eval import cli
from grid_model import build_grid_onnx, write_square
from test_eval_wider import write_synthetic_mats

# two 64x48 images, one face each (the white 16 px square of write_square), counted in every setting
EVENTS = {'0--Parade': [('0_P_a', [[16, 16, 16, 16]], {'easy': [1], 'medium': [1], 'hard': [1]}),
                        ('0_P_b', [[32, 16, 16, 16], [0, 0, 6, 6]], {'easy': [1], 'medium': [1], 'hard': [1, 2]})]}


@pytest.fixture
def wider_dir(tmp_path):
    d = tmp_path / 'wider_dev'
    write_synthetic_mats(str(d / 'eval_ground_truth'), EVENTS)
    (d / 'images' / '0--Parade').mkdir(parents=True)
    write_square(d / 'images' / '0--Parade' / '0_P_a.jpg', square=(16, 16, 32, 32))
    write_square(d / 'images' / '0--Parade' / '0_P_b.jpg', square=(32, 16, 48, 32))
    (d / 'images.txt').write_text('0--Parade/0_P_a.jpg\n0--Parade/0_P_b.jpg\n')
    return str(d)


def test_wider_from_predictions(tmp_path, wider_dir, capsys):
    pred = str(tmp_path / 'p.jsonl')
    write_predictions(pred, [make_record('images/0--Parade/0_P_a.jpg', 64, 48, [(16, 16, 32, 32, 0.9, 'face'),
                                                                               (40, 0, 60, 20, 0.8, 'face')]),
                             make_error_record('0--Parade/0_P_b.jpg', 'unreadable')])
    out_json, out_png = str(tmp_path / 'r.json'), str(tmp_path / 'r.png')
    rc = cli.main(['wider', '--pred', pred, '--gt-dir', wider_dir, '--json', out_json, '--plot', out_png])
    assert rc == 0
    rep = json.load(open(out_json))
    # the error line is treated as "no predictions"; a missing face and a FP ranked below the TP
    expected = evaluate_wider({'0--Parade/0_P_a': np.array([[16, 16, 32, 32, 0.9], [40, 0, 60, 20, 0.8]])},
                              load_wider_eval_gt(wider_dir, ['0--Parade/0_P_a.jpg', '0--Parade/0_P_b.jpg']))
    assert rep['ap'] == pytest.approx(expected.ap)
    assert rep['ap']['easy'] == pytest.approx(0.5) and rep['ap']['hard'] == pytest.approx(1 / 3)
    assert rep['num_faces'] == {'easy': 2, 'medium': 2, 'hard': 3} and rep['errors'][0]['error'] == 'unreadable'
    assert len(rep['curves']['hard']['recall']) == 1000 and os.path.getsize(out_png) > 1000
    text = capsys.readouterr().out
    assert 'easy' in text and '50.0' in text and 'images that failed' in text


def test_wider_runs_a_model(tmp_path, wider_dir):
    model = str(tmp_path / 'grid.onnx')
    build_grid_onnx(model)
    out_json, pred = str(tmp_path / 'm.json'), str(tmp_path / 'kept.jsonl')
    rc = cli.main(['wider', '--model', model, '--gt-dir', wider_dir, '--json', out_json, '--save-pred', pred,
                   '--bench-runs', '3', '--threads', '1', '--quiet'])
    assert rc == 0
    rep = json.load(open(out_json))
    assert rep['ap']['easy'] == pytest.approx(1.0)     # the grid model finds both squares exactly
    assert rep['ap']['hard'] == pytest.approx(2 / 3)   # the 6 px face is never found
    assert rep['model']['params'] > 0 and rep['model']['input_size'] == [32, 24]
    assert rep['model']['latency_ms']['runs'] == 3 and rep['detect']['images'] == 2
    assert len(open(pred).read().splitlines()) == 2 and rep['name'] == 'grid'


def write_wider_txt(path):
    # image a: one face + one 'invalid' face (ignore region); image b: one face, none predicted
    path.write_text('a.jpg\n2\n10 10 20 20 0 0 0 0 0 0\n50 10 20 20 0 0 0 1 0 0\n'
                    'b.jpg\n1\n5 5 10 10 0 0 0 0 0 0\n'
                    'c.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n')
    return str(path)


def test_voc_on_wider_format_ground_truth(tmp_path, capsys):
    gt_file = write_wider_txt(tmp_path / 'gt.txt')
    pred = str(tmp_path / 'p.jsonl')
    write_predictions(pred, [make_record('x/a.jpg', 100, 100, [(50, 10, 70, 30, 0.95, 'face'),   # on the invalid box
                                                               (10, 10, 30, 30, 0.9, 'face')]),
                             make_record('x/c.jpg', 100, 100, [(0, 0, 9, 9, 0.8, 'face')]),       # FP
                             make_record('x/zzz.jpg', 10, 10, [])])
    out_json = str(tmp_path / 'v.json')
    rc = cli.main(['voc', '--pred', pred, '--format', 'wider', str(tmp_path), gt_file, '--json', out_json,
                   '--plot', str(tmp_path / 'v.png')])
    assert rc == 0
    rep = json.load(open(out_json))
    # TP (0.9), FP (0.8); b's face missed: recall .5 at precision 1 -> AP .5; the invalid box is ignored
    assert rep['classes']['face'] == {'ap': pytest.approx(0.5), 'num_gt': 2, 'num_det': 3}
    assert rep['map'] == pytest.approx(0.5) and rep['images'] == 3 and rep['unmatched_predictions'] == 1
    assert rep['recall_at_fppi']['0.5'] == pytest.approx(0.5)
    assert 'matched no ground-truth image' in capsys.readouterr().out


def test_voc_with_a_dataset_loader(tmp_path, shared_data):
    """Ground truth through face_ssd_training.data (Open Images plates, test split): perfect predictions -> AP 1."""
    from face_ssd_training.data.validate import build_dataset
    root = os.path.join(shared_data, 'plates')
    ds = build_dataset('openimages', [root], split='test', verify='header')
    recs = [make_record(r.image_path, r.width, r.height, [tuple(b) + (1.0, ds.labels[int(lab)])
                                                          for b, lab in zip(r.boxes.tolist(), r.labels)])
            for r in ds.records]
    pred = str(tmp_path / 'p.jsonl')
    write_predictions(pred, recs)
    out_json = str(tmp_path / 'v.json')
    assert cli.main(['voc', '--pred', pred, '--format', 'openimages', root, '--split', 'test',
                     '--json', out_json]) == 0
    rep = json.load(open(out_json))
    assert rep['map'] == pytest.approx(1.0) and rep['images'] == len(ds.records) == 60


def test_plot_several_results_and_errors(tmp_path, wider_dir, capsys):
    pred = str(tmp_path / 'p.jsonl')
    write_predictions(pred, [make_record('0--Parade/0_P_a.jpg', 64, 48, [(16, 16, 32, 32, 0.9, 'face')])])
    for name in ('m1', 'm2'):
        assert cli.main(['wider', '--pred', pred, '--gt-dir', wider_dir, '--json', str(tmp_path / (name + '.json')),
                         '--name', name]) == 0
    out = str(tmp_path / 'cmp.png')
    assert cli.main(['plot', str(tmp_path / 'm1.json'), str(tmp_path / 'm2.json'), '--out', out]) == 0
    assert open(out, 'rb').read(4) == b'\x89PNG'
    capsys.readouterr()
    assert cli.main(['wider', '--pred', str(tmp_path / 'none.jsonl'), '--gt-dir', wider_dir]) == 2
    assert 'not found' in capsys.readouterr().err
    assert cli.main(['wider', '--pred', pred, '--gt-dir', str(tmp_path)]) == 2
    assert 'wider_face_val.mat' in capsys.readouterr().err


def test_voc_difficult_objects_are_ignored(tmp_path, jpeg_writer):
    root = tmp_path / 'voc'
    for d in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (root / d).mkdir(parents=True)
    jpeg_writer(str(root / 'JPEGImages' / 'a.jpg'), 100, 80)
    obj = ('<object><name>cartoon_face</name><difficult>%d</difficult><bndbox><xmin>%d</xmin><ymin>10</ymin>'
           '<xmax>%d</xmax><ymax>40</ymax></bndbox></object>')
    (root / 'Annotations' / 'a.xml').write_text(
        '<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height></size>%s%s'
        '</annotation>' % (obj % (0, 10, 40), obj % (1, 50, 90)))
    (root / 'ImageSets' / 'Main' / 'test.txt').write_text('a\n')
    (root / 'labels.txt').write_text('cartoon_face\n')
    pred = str(tmp_path / 'p.jsonl')
    write_predictions(pred, [make_record('JPEGImages/a.jpg', 100, 80, [(50, 10, 90, 40, 0.95, 'cartoon_face'),
                                                                       (10, 10, 40, 40, 0.9, 'cartoon_face')])])
    out_json = str(tmp_path / 'v.json')
    assert cli.main(['voc', '--pred', pred, '--format', 'voc', str(root), '--image-set', 'test',
                     '--json', out_json]) == 0
    rep = json.load(open(out_json))
    # the detection on the difficult box is neither TP nor FP; the other box is found -> AP 1 with 1 positive
    assert rep['classes']['cartoon_face'] == {'ap': pytest.approx(1.0), 'num_gt': 1, 'num_det': 2}


def test_scoring_options_out_of_range_are_refused_like_bag_eval():
    import argparse
    from face_ssd_training.eval.cli import range_problem

    def args(**kw):
        base = dict(iou=0.5, accuracy_threshold=None, min_size=0.0, fppi='0.1,1')
        base.update(kw)
        return argparse.Namespace(**base)

    assert range_problem(args()) is None
    assert range_problem(args(fppi='')) is None          # "" = skip
    assert range_problem(argparse.Namespace()) is None   # table / plot have no scoring options
    for bad, word in ((dict(iou=float('nan')), '--iou'), (dict(iou=0.0), '--iou'), (dict(iou=1.0), '--iou'),
                      (dict(accuracy_threshold=2.0), '--accuracy-threshold'), (dict(min_size=-1.0), '--min-size'),
                      (dict(fppi='-1'), '--fppi'), (dict(fppi='a,b'), '--fppi')):
        assert range_problem(args(**bad)).startswith(word)

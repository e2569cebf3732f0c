"""ValidationReport, image probing (truncated / non-image / missing files), and the face-ssd-validate-data CLI."""
import os
import subprocess
import sys

import pytest

from face_ssd_training.data.validate import (ImageProblem, Issue, ValidationReport, check_boxes, main,
                                             probe_image)


def test_probe_image_kinds(tmp_path, jpeg_writer, truncator):
    good = jpeg_writer(str(tmp_path / 'g.jpg'), 320, 200)
    assert probe_image(good) == (320, 200)
    # header intact, scan data cut: only a decode (or the missing end marker) reveals it
    cut = truncator(jpeg_writer(str(tmp_path / 'cut.jpg'), 320, 200, seed=1), 0.8)
    for verify in ('decode', 'header'):
        with pytest.raises(ImageProblem) as e:
            probe_image(cut, verify=verify)
        assert e.value.kind == 'corrupt_image'
    text = tmp_path / 't.jpg'
    text.write_text('hello')
    with pytest.raises(ImageProblem) as e:
        probe_image(str(text))
    assert e.value.kind == 'unreadable_image'
    with pytest.raises(ImageProblem) as e:
        probe_image(str(tmp_path / 'none.jpg'))
    assert e.value.kind == 'missing_image'
    png = tmp_path / 'p.png'
    import cv2
    import numpy as np
    cv2.imwrite(str(png), np.zeros((7, 9, 3), np.uint8))
    assert probe_image(str(png), verify='header') == (9, 7)


def test_check_boxes_rules():
    rep = ValidationReport('t')
    boxes = [[0, 0, 10, 10], [5, 5, 5, 9], [float('nan'), 0, 1, 1], [-20, -20, -1, -1], [-0.5, 2, 100.9, 20],
             [-10, 2, 50, 20]]
    b, l = check_boxes(rep, boxes, [1, 1, 1, 1, 2, 3], 100, 50, 'ann.txt', lines=[1, 2, 3, 4, 5, 6])
    assert b.tolist() == [[0, 0, 10, 10], [0, 2, 100, 20], [0, 2, 50, 20]] and l.tolist() == [1, 2, 3]
    assert [(i.kind, i.line, i.severity) for i in rep.issues] == [
        ('degenerate_box', 2, 'error'), ('degenerate_box', 3, 'error'), ('box_outside_image', 4, 'error'),
        ('box_outside_image', 6, 'warning')]  # line 5 is within the 1 px tolerance: clipped silently
    assert not rep.ok and rep.counts() == {'degenerate_box': 2, 'box_outside_image': 2}


def test_report_format_and_issue_kinds():
    rep = ValidationReport('demo')
    assert rep.ok and 'no issues' in rep.format()
    rep.add('box_outside_image', 'f.txt', 3, 'clipped', severity='warning')
    assert rep.ok
    for k in range(5):
        rep.add('missing_image', 'f.txt', 10 + k, 'gone %d' % k)
    text = rep.format(max_issues=2)
    assert 'f.txt:3: warning box_outside_image: clipped' in text and '... 4 more' in text
    assert not rep.ok and len(rep.errors) == 5
    with pytest.raises(ValueError):
        Issue('no_such_kind', 'f', None, 'x')


@pytest.fixture
def small_wider(tmp_path, jpeg_writer):
    jpeg_writer(str(tmp_path / 'images' / 'a.jpg'))
    gt = tmp_path / 'gt.txt'
    gt.write_text('a.jpg\n1\n1 1 10 10 0 0 0 0 0 0\n')
    return str(tmp_path / 'images'), str(gt)


def test_cli_exit_codes(small_wider, capsys):
    images, gt = small_wider
    assert main(['--format', 'wider', images, gt, '--strict']) == 0
    assert 'images: 1 kept of 1 listed' in capsys.readouterr().out
    with open(gt, 'a') as f:
        f.write('missing.jpg\n1\n1 1 10 10 0 0 0 0 0 0\n')
    assert main(['--format', 'wider', images, gt]) == 0  # reported, not fatal
    out = capsys.readouterr().out
    assert 'missing_image' in out and 'gt.txt:4' in out
    assert main(['--format', 'wider', images, gt, '--strict']) == 1
    assert main(['--format', 'wider', images]) == 2  # wrong number of paths
    assert 'IMAGES_DIR GT_FILE' in capsys.readouterr().err
    assert main(['--format', 'coco', images, gt + '.none']) == 2


def test_cli_other_formats(tmp_path, jpeg_writer, capsys):
    jpeg_writer(str(tmp_path / 'neg' / 'a.jpg'))
    assert main(['--format', 'folder', str(tmp_path / 'neg')]) == 0
    voc = tmp_path / 'voc'
    (voc / 'Annotations').mkdir(parents=True)
    jpeg_writer(str(voc / 'JPEGImages' / 'x.jpg'))
    (voc / 'Annotations' / 'x.xml').write_text(
        '<annotation><filename>x.jpg</filename><object><name>face</name><bndbox><xmin>1</xmin><ymin>1</ymin>'
        '<xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>')
    (voc / 'ImageSets' / 'Main').mkdir(parents=True)
    (voc / 'ImageSets' / 'Main' / 'default.txt').write_text('x\n')
    assert main(['--format', 'voc', str(voc), '--image-set', 'default', '--strict']) == 0
    assert 'face=1' in capsys.readouterr().out
    assert main(['--format', 'voc', str(voc)]) == 2  # no trainval.txt
    assert "image_set='default'" in capsys.readouterr().err
    # --root, as the README writes it, is the same as the positional folder
    assert main(['--format', 'voc', '--root', str(voc), '--image-set', 'default', '--strict']) == 0
    assert 'face=1' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(['--format', 'voc'])
    assert exit_info.value.code == 2 and '--root' in capsys.readouterr().err


def test_module_entry_point_runs(small_wider):
    env = dict(os.environ)
    r = subprocess.run([sys.executable, '-m', 'face_ssd_training.data.validate', '--format', 'wider',
                        small_wider[0], small_wider[1] + '.nope'], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 2 and 'not found' in r.stderr

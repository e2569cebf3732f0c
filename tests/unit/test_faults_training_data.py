"""Training-data faults: empty or malformed annotation files, corrupt images, boxes outside the image and labels
missing from the labels file are reported with file and line, skipped, or (data.strict) refused before any
training step runs (``face_ssd_training.train.make_datasets``, what the Trainer calls first)."""
import os

import cv2
import numpy as np
import pytest

pytest.importorskip('torch')

from face_ssd_training.config import load_config  # noqa: E402
from face_ssd_training.data import DatasetError  # noqa: E402
from face_ssd_training.data.coco import COCODataset  # noqa: E402
from face_ssd_training.data.labels import load_labels  # noqa: E402
from face_ssd_training.data.openimages import OpenImagesDataset  # noqa: E402
from face_ssd_training.data.voc import VOCDataset  # noqa: E402
from face_ssd_training.data.wider import WiderFaceDataset  # noqa: E402
from face_ssd_training.train import TrainingError, make_datasets  # noqa: E402

OBJECT = ('  <object>\n    <name>{}</name>\n    <bndbox>\n      <xmin>{}</xmin>\n      <ymin>{}</ymin>\n'
          '      <xmax>{}</xmax>\n      <ymax>{}</ymax>\n    </bndbox>\n  </object>\n')


def _jpeg(path, width=64, height=48):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    assert cv2.imwrite(path, np.stack([xx * 4, yy * 5, xx + yy], -1).astype(np.uint8))
    return path


def _voc_xml(filename, objects):
    body = ''.join(OBJECT.format(name, *box) for name, box in objects)
    return ('<annotation>\n  <filename>%s</filename>\n  <size>\n    <width>64</width>\n    <height>48</height>\n'
            '    <depth>3</depth>\n  </size>\n%s</annotation>\n' % (filename, body))


@pytest.fixture
def faulty_voc(tmp_path):
    """A VOC root: one good image, one truncated JPEG, one box entirely outside the image, one unknown label."""
    root = tmp_path / 'voc'
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'Annotations').mkdir()
    items = {'good': [('face', (4, 4, 30, 30))], 'corrupt': [('face', (4, 4, 30, 30))],
             'outside': [('face', (100, 80, 140, 120))], 'dog': [('dog', (4, 4, 30, 30))]}
    for image_id, objects in items.items():
        _jpeg(str(root / 'JPEGImages' / (image_id + '.jpg')))
        (root / 'Annotations' / (image_id + '.xml')).write_text(_voc_xml(image_id + '.jpg', objects))
    data = (root / 'JPEGImages' / 'corrupt.jpg').read_bytes()
    (root / 'JPEGImages' / 'corrupt.jpg').write_bytes(data[:len(data) // 3])
    (root / 'ImageSets' / 'Main' / 'default.txt').write_text('\n'.join(items) + '\n')
    return str(root)


def _config(tmp_path, train, strict):
    cfg = load_config(overrides=['data.strict=%s' % ('true' if strict else 'false')])
    cfg['data']['train'] = train
    cfg['data']['val'], cfg['data']['negatives'] = [], []
    return cfg


def test_strict_training_refuses_faulty_data_before_it_starts_naming_files_and_lines(tmp_path, faulty_voc):
    cfg = _config(tmp_path, [{'format': 'voc', 'root': faulty_voc, 'image_set': 'default'}], strict=True)
    with pytest.raises(TrainingError) as err:
        make_datasets(cfg, ['background', 'face'], None, None, str(tmp_path))
    text = str(err.value)
    assert 'data.strict' in text
    assert 'corrupt.xml:2' in text and 'corrupt_image' in text
    assert 'outside.xml:8' in text and 'box_outside_image' in text
    assert 'dog.xml:8' in text and 'unknown_label' in text and "'dog'" in text   # line of the <object> element


def test_without_strict_the_bad_items_are_skipped_and_reported(tmp_path, faulty_voc, capsys):
    cfg = _config(tmp_path, [{'format': 'voc', 'root': faulty_voc, 'image_set': 'default'}], strict=False)
    train, val = make_datasets(cfg, ['background', 'face'], None, None, str(tmp_path))
    assert len(train) == 1 and val is None
    image, target = train[0]
    assert target['image_id'] == 'good' and image.shape == (48, 64, 3)
    assert '[data] VOCDataset' in capsys.readouterr().err


def test_without_strict_every_skipped_item_is_printed_as_file_line_and_kept_in_a_file(tmp_path, faulty_voc, capsys):
    cfg = _config(tmp_path, [{'format': 'voc', 'root': faulty_voc, 'image_set': 'default'}], strict=False)
    issues = str(tmp_path / 'run' / 'data_issues.txt')
    make_datasets(cfg, ['background', 'face'], None, None, str(tmp_path), issues_path=issues)
    err = capsys.readouterr().err
    for where, kind in (('corrupt.xml:2', 'corrupt_image'), ('outside.xml:8', 'box_outside_image'),
                        ('dog.xml:8', 'unknown_label')):
        line = [ln for ln in err.splitlines() if where in ln]
        assert line and kind in line[0], err          # file:line and the reason, one item per line
    assert 'report.format()' not in err and issues in err
    written = open(issues).read().splitlines()
    assert len(written) == 5 and any('dog.xml:8' in ln and "'dog'" in ln for ln in written)


def test_training_with_only_empty_annotation_files_is_refused(tmp_path):
    os.makedirs(str(tmp_path / 'images'))
    (tmp_path / 'gt.txt').write_text('')
    cfg = _config(tmp_path, [{'format': 'wider', 'images': str(tmp_path / 'images'), 'gt': str(tmp_path / 'gt.txt')}],
                  strict=False)
    with pytest.raises(TrainingError, match='no training images'):
        make_datasets(cfg, ['background', 'face'], None, None, str(tmp_path))


def test_empty_wider_file_is_reported_at_line_1(tmp_path):
    os.makedirs(str(tmp_path / 'images'))
    gt = tmp_path / 'gt.txt'
    gt.write_text('\n\n')
    ds = WiderFaceDataset(str(tmp_path / 'images'), str(gt))
    assert len(ds) == 0 and not ds.report.ok
    issue = ds.report.issues[0]
    assert (issue.kind, issue.file, issue.line) == ('malformed_line', str(gt), 1) and 'empty' in issue.message
    with pytest.raises(DatasetError, match='gt.txt:1'):
        WiderFaceDataset(str(tmp_path / 'images'), str(gt), strict=True)


def test_empty_voc_image_set_is_reported(tmp_path):
    root = tmp_path / 'voc'
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'Annotations').mkdir()
    (root / 'labels.txt').write_text('face\n')
    (root / 'ImageSets' / 'Main' / 'default.txt').write_text('')
    ds = VOCDataset(str(root), 'default')
    assert len(ds) == 0 and [(i.kind, i.line) for i in ds.report.issues] == [('malformed_line', 1)]
    assert ds.report.issues[0].file.endswith('default.txt') and 'empty' in ds.report.issues[0].message
    with pytest.raises(DatasetError):
        VOCDataset(str(root), 'default', strict=True)
    ds = VOCDataset(str(root), None)   # every XML under Annotations/: there is none
    assert 'no .xml' in ds.report.issues[0].message


def test_malformed_or_empty_annotation_files_name_the_file(tmp_path):
    os.makedirs(str(tmp_path / 'images'))
    bad_json = tmp_path / 'coco.json'
    bad_json.write_text('{"images": [')
    with pytest.raises(DatasetError, match=r'coco.json is not valid JSON.*line 1 column'):
        COCODataset(str(tmp_path / 'images'), str(bad_json))
    bad_json.write_text('{"images": [], "annotations": []}')
    with pytest.raises(DatasetError, match=r'coco.json has no "categories"'):
        COCODataset(str(tmp_path / 'images'), str(bad_json))
    (tmp_path / 'oi').mkdir()
    (tmp_path / 'oi' / 'sub-train-annotations-bbox.csv').write_text('')
    with pytest.raises(DatasetError, match='sub-train-annotations-bbox.csv: missing column'):
        OpenImagesDataset(str(tmp_path / 'oi'))
    (tmp_path / 'labels.txt').write_text('')
    with pytest.raises(ValueError, match='labels.txt'):
        load_labels(str(tmp_path / 'labels.txt'))

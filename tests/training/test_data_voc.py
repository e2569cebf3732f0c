"""Pascal VOC / CVAT loader: float 0-based boxes, difficult, unknown labels, missing XML/image, labels files."""
import os

import numpy as np
import pytest

from face_ssd_training.data import DatasetError, VOCDataset

OBJ = ('  <object>\n    <name>{name}</name>\n    <difficult>{difficult}</difficult>\n    <bndbox>\n'
       '      <xmin>{0}</xmin>\n      <ymin>{1}</ymin>\n      <xmax>{2}</xmax>\n      <ymax>{3}</ymax>\n'
       '    </bndbox>\n  </object>\n')


def xml(filename, objects, w=64, h=48):
    body = ''.join(OBJ.format(*box, name=name, difficult=int(diff)) for name, box, diff in objects)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n  <filename>%s</filename>\n'
            '  <size>\n    <width>%d</width>\n    <height>%d</height>\n    <depth>3</depth>\n  </size>\n%s'
            '</annotation>\n' % (filename, w, h, body))


@pytest.fixture
def voc_root(tmp_path, jpeg_writer, truncator):
    root = tmp_path / 'voc'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    ann = {
        'a': [('face', (0.0, 1.5, 20.25, 30.0), False), ('cartoon', (30, 10, 70, 40), False)],  # 2nd clipped at 64
        'empty': [],
        'diff': [('face', (5, 5, 15, 15), True), ('face', (20, 20, 30, 30), False)],
        'unknown': [('dog', (5, 5, 15, 15), False), ('face', (20, 20, 30, 30), False)],
        'onlyunknown': [('dog', (5, 5, 15, 15), False)],
        'corrupt': [('face', (5, 5, 15, 15), False)],
        'noimage': [('face', (5, 5, 15, 15), False)],
    }
    for image_id, objs in ann.items():
        (root / 'Annotations' / (image_id + '.xml')).write_text(xml(image_id + '.jpg', objs))
        if image_id != 'noimage':
            jpeg_writer(str(root / 'JPEGImages' / (image_id + '.jpg')))
    truncator(str(root / 'JPEGImages' / 'corrupt.jpg'), 0.3)
    (root / 'Annotations' / 'broken.xml').write_text('<annotation>\n<filename>x.jpg\n</annotation>')
    ids = list(ann) + ['broken', 'noxml']
    (root / 'ImageSets' / 'Main' / 'default.txt').write_text('\n'.join(ids) + '\n')
    (root / 'labelmap.txt').write_text('# label:color_rgb:parts:actions\nbackground:0,0,0::\nface:1,2,3::\n'
                                       'cartoon:4,5,6::\n')
    return str(root)


def test_cvat_export_is_read_and_problems_reported(voc_root):
    ds = VOCDataset(voc_root, 'default')
    assert ds.labels == ['background', 'face', 'cartoon']
    recs = {r.image_id: r for r in ds.records}
    assert set(recs) == {'a', 'empty', 'diff', 'unknown'}
    np.testing.assert_allclose(recs['a'].boxes, [[0.0, 1.5, 20.25, 30.0], [30, 10, 64, 40]])
    assert recs['a'].labels.tolist() == [1, 2]
    assert recs['empty'].boxes.shape == (0, 4)
    assert recs['diff'].boxes.tolist() == [[20, 20, 30, 30]]  # difficult dropped by default
    assert recs['unknown'].labels.tolist() == [1]
    by_kind = {}
    for i in ds.report.issues:
        by_kind.setdefault(i.kind, []).append(i)
    unknown = [i for i in by_kind['unknown_label'] if i.file.endswith('unknown.xml')][0]
    assert unknown.line == 9 and "'dog'" in unknown.message  # line of the <object> element
    assert any(i.file.endswith('onlyunknown.xml') for i in by_kind['empty_annotation'])
    assert by_kind['corrupt_image'][0].file.endswith('corrupt.xml') and by_kind['corrupt_image'][0].line == 3
    assert by_kind['missing_image'][0].image.endswith('noimage.jpg')
    malformed = sorted((os.path.basename(i.file), i.line) for i in by_kind['malformed_line'])
    assert malformed == [('broken.xml', 3), ('default.txt', 9)]
    assert ds.class_counts() == {'face': 3, 'cartoon': 1}


def test_keep_difficult_and_explicit_labels(voc_root, tmp_path):
    labels = tmp_path / 'labels.txt'
    labels.write_text('BACKGROUND\nface\ncartoon\ndog\n')
    ds = VOCDataset(voc_root, 'default', labels_file=str(labels), keep_difficult=True)
    recs = {r.image_id: r for r in ds.records}
    assert len(recs['diff'].boxes) == 2 and recs['onlyunknown'].labels.tolist() == [3]
    assert not any(i.kind == 'unknown_label' for i in ds.report.issues)
    ds = VOCDataset(voc_root, 'default', labels=['background', 'cartoon', 'face'])  # e.g. a training run's list
    assert {r.image_id: r.labels.tolist() for r in ds.records}['a'] == [2, 1]


def test_strict_image_set_path_and_all(voc_root, tmp_path):
    with pytest.raises(DatasetError):
        VOCDataset(voc_root, 'default', strict=True)
    lst = tmp_path / 'mine.txt'
    lst.write_text('a\nempty\n')
    ds = VOCDataset(voc_root, str(lst), strict=True)
    assert [r.image_id for r in ds.records] == ['a', 'empty'] and ds.report.ok
    image, target = ds[0]
    assert image.shape == (48, 64, 3) and target['labels'].dtype == np.int64
    assert len(VOCDataset(voc_root, None).records) == 4  # every XML under Annotations/


def test_missing_image_set_names_the_alternatives(voc_root):
    with pytest.raises(DatasetError, match="image_set='default'"):
        VOCDataset(voc_root)  # trainval does not exist in a CVAT export
    with pytest.raises(DatasetError, match='Annotations'):
        VOCDataset(os.path.dirname(voc_root))


def test_real_cartoon(shared_data):
    root = os.path.join(shared_data, 'cartoon')
    a = VOCDataset(root, 'default')
    b = VOCDataset(root, 'trainval', labels_file=os.path.join(root, 'labels.txt'), verify='header')
    assert len(a) == len(b) == 51 and a.report.ok
    assert a.class_counts() == {'cartoon_face': 66}
    image, target = a[0]
    h, w = image.shape[:2]
    assert (target['boxes'][:, 2] <= w).all() and (target['boxes'][:, 3] <= h).all()

"""WIDER bbx_gt loader: parsing, validation issues (file + line), strict mode, item contract, real data counts."""
import os

import numpy as np
import pytest

from face_ssd_training.data import DatasetError, WiderFaceDataset, load_wider_gt
from face_ssd_training.data.wider import parse_wider_gt

GT = """\
ok/a.jpg
2
4.5 5.25 20.5 10 0 0 0 0 0 0
50 30 30 40 0 0 0 0 0 0
ok/empty.jpg
0
0 0 0 0 0 0 0 0 0 0
bad/truncated.jpg
1
1 1 10 10 0 0 0 0 0 0
bad/missing.jpg
1
1 1 10 10 0 0 0 0 0 0
ok/flags.jpg
3
1 1 10 10 0 0 0 1 0 0
2 2 1 1 0 0 0 0 0 0
20 20 8 8 0 0 0 0 0 0
bad/degenerate.jpg
1
5 5 0 10 0 0 0 0 0 0
bad/outside.jpg
1
100 100 10 10 0 0 0 0 0 0
ok/short.jpg
1
3 3 12 12
"""


@pytest.fixture
def wider_dir(tmp_path, jpeg_writer, truncator):
    img = tmp_path / 'images'
    for rel in ('ok/a.jpg', 'ok/empty.jpg', 'ok/flags.jpg', 'bad/degenerate.jpg', 'bad/outside.jpg', 'ok/short.jpg'):
        jpeg_writer(str(img / rel), 64, 48)
    truncator(jpeg_writer(str(img / 'bad/truncated.jpg'), 64, 48))
    gt = tmp_path / 'x_bbx_gt.txt'
    gt.write_text(GT)
    return str(img), str(gt)


def _by_id(ds):
    return {r.image_id: r for r in ds.records}


def test_load_wider_gt_parses_floats_attrs_and_empty_images(wider_dir):
    entries = load_wider_gt(wider_dir[1])
    assert [e[0] for e in entries][:2] == ['ok/a.jpg', 'ok/empty.jpg']
    rel, boxes, attrs = entries[0]
    assert boxes.dtype == np.float32 and boxes.shape == (2, 4) and attrs.shape == (2, 6)
    np.testing.assert_allclose(boxes[0], [4.5, 5.25, 20.5, 10])
    assert entries[1][1].shape == (0, 4)  # N = 0 with its dummy line
    assert entries[4][2][0, 3] == 1  # invalid flag column
    assert entries[-1][1].shape == (1, 4) and entries[-1][2].tolist() == [[0] * 6]  # attrs optional


def test_dataset_keeps_valid_items_and_reports_bad_ones_with_line(wider_dir):
    ds = WiderFaceDataset(*wider_dir)
    recs = _by_id(ds)
    assert set(recs) == {'ok/a.jpg', 'ok/empty.jpg', 'ok/flags.jpg', 'ok/short.jpg'}
    # x y w h -> x1 y1 x2 y2; the second box (50..80, 30..70) is clipped to the 64x48 image
    np.testing.assert_allclose(recs['ok/a.jpg'].boxes, [[4.5, 5.25, 25.0, 15.25], [50, 30, 64, 48]])
    assert recs['ok/empty.jpg'].boxes.shape == (0, 4)
    # invalid flag and the 1x1 box are filtered, the 8x8 box stays
    np.testing.assert_allclose(recs['ok/flags.jpg'].boxes, [[20, 20, 28, 28]])
    issues = {(i.kind, i.line) for i in ds.report.issues}
    assert ('corrupt_image', 8) in issues
    assert ('missing_image', 11) in issues
    assert ('degenerate_box', 21) in issues and ('empty_annotation', 19) in issues
    assert ('box_outside_image', 24) in issues and ('empty_annotation', 22) in issues
    assert ('box_outside_image', 4) in issues  # clipped: a warning
    clipped = [i for i in ds.report.issues if i.line == 4][0]
    assert clipped.severity == 'warning' and clipped.file == wider_dir[1]
    missing = [i for i in ds.report.issues if i.kind == 'missing_image'][0]
    assert missing.image.endswith('bad/missing.jpg') and 'missing.jpg' in missing.format()
    assert not ds.report.ok
    assert ds.report.stats['boxes_filtered_invalid'] == 1 and ds.report.stats['boxes_filtered_small'] == 1
    assert 'x_bbx_gt.txt:11' in ds.report.format()


def test_strict_refuses_to_build(wider_dir):
    with pytest.raises(DatasetError) as err:
        WiderFaceDataset(*wider_dir, strict=True)
    assert 'missing_image' in str(err.value) and err.value.report is not None


def test_item_contract_and_transform(wider_dir):
    ds = WiderFaceDataset(*wider_dir)
    image, target = ds[0]
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    assert target['boxes'].dtype == np.float32 and target['labels'].dtype == np.int64
    assert target['labels'].tolist() == [1, 1] and target['image_id'] == 'ok/a.jpg'
    # the fixture JPEG was written (BGR) with blue = x gradient: in RGB order channel 2 grows to the right
    assert int(image[24, 60, 2]) > int(image[24, 3, 2]) + 150
    assert abs(int(image[24, 60, 0]) - int(image[24, 3, 0])) < 10
    ds.transform = lambda img, tgt: (img[:10], dict(tgt, seen=True))
    assert ds[1][1]['seen'] and ds[1][0].shape[0] == 10
    assert ds.class_counts() == {'face': 4}
    assert ds.num_classes == 2


def test_image_broken_after_indexing_is_replaced_by_next(wider_dir, caplog, truncator):
    ds = WiderFaceDataset(*wider_dir)
    with open(ds.records[0].image_path, 'wb') as f:
        f.write(b'not a jpeg')
    image, target = ds[0]
    assert target['image_id'] == ds.records[1].image_id
    assert 'no longer decodes' in caplog.text


def test_image_list_and_labels(wider_dir, tmp_path):
    lst = tmp_path / 'list.txt'
    lst.write_text('ok/a.jpg\nnot/in_gt.jpg\n')
    ds = WiderFaceDataset(*wider_dir, image_list=str(lst), labels=['head'])
    assert [r.image_id for r in ds.records] == ['ok/a.jpg'] and ds.labels == ['background', 'head']
    assert ds.report.stats['image_list_not_in_gt'] == 1
    with pytest.raises(ValueError, match='class_name'):
        WiderFaceDataset(*wider_dir, labels=['a', 'b'])
    ds = WiderFaceDataset(*wider_dir, labels=['plate', 'face'], image_list=['ok/a.jpg'])
    assert ds[0][1]['labels'].tolist() == [2, 2]  # mixed with other classes: boxes are 'face'
    ds = WiderFaceDataset(*wider_dir, labels=['plate', 'head'], class_name='head', image_list=['ok/a.jpg'])
    assert ds.class_counts() == {'plate': 0, 'head': 2}


def test_malformed_lines_are_reported_and_parser_resyncs(tmp_path, jpeg_writer):
    for n in ('a', 'b', 'c'):
        jpeg_writer(str(tmp_path / 'images' / (n + '.jpg')))
    gt = tmp_path / 'gt.txt'
    gt.write_text('a.jpg\nthree\n1 1 5 5\nb.jpg\n2\n1 1 5 5 0 0 0 0 0 0\nc.jpg\n1\n2 2 9 9 0 0 0 0 0 0\n')
    from face_ssd_training.data.validate import ValidationReport
    rep = ValidationReport()
    report_entries = parse_wider_gt(str(gt), rep)
    assert [(i.kind, i.line) for i in rep.issues][:2] == [('malformed_line', 2), ('malformed_line', 3)]
    ds = WiderFaceDataset(str(tmp_path / 'images'), str(gt))
    # a.jpg (bad count) and b.jpg (count 2 but one box line) are skipped, c.jpg survives the resync
    assert [r.image_id for r in ds.records] == ['c.jpg']
    assert any(i.kind == 'malformed_line' and i.line == 7 for i in ds.report.issues)
    with pytest.raises(ValueError, match='gt.txt:2'):
        load_wider_gt(str(gt))
    assert len(report_entries) >= 3


def test_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match='not found'):
        WiderFaceDataset(str(tmp_path), str(tmp_path / 'nope.txt'))
    with pytest.raises(DatasetError, match='images directory'):
        WiderFaceDataset(str(tmp_path / 'nodir'), str(tmp_path / 'nope.txt'))


def test_real_fddb_counts_match_readme(shared_data):
    d = os.path.join(shared_data, 'faces', 'fddb')
    ds = WiderFaceDataset(os.path.join(d, 'images'), os.path.join(d, 'fddb_bbx_gt.txt'), verify='header')
    assert len(ds) == 2751 and ds.report.ok
    assert ds.class_counts() == {'face': 5049}


def test_real_cmu_mit_keeps_images_without_faces(shared_data):
    d = os.path.join(shared_data, 'faces', 'cmu_mit')
    ds = WiderFaceDataset(os.path.join(d, 'images'), os.path.join(d, 'cmu_mit_bbx_gt.txt'), verify='header')
    assert len(ds) == 180 and sum(1 for r in ds.records if len(r.boxes) == 0) == 13
    image, target = ds[0]
    assert image.ndim == 3 and image.shape[2] == 3  # greyscale JPEGs come back as RGB

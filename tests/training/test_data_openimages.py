"""Open Images CSV loader: normalised coords, default labels, unknown classes, bad rows, missing/corrupt images."""
import os

import numpy as np
import pytest

from face_ssd_training.data import DatasetError, OpenImagesDataset

HEADER = 'ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,' \
         'IsDepiction,IsInside,id,ClassName\n'


def row(image_id, xmin, xmax, ymin, ymax, cls='Plate', label='/m/x'):
    return '%s,src,%s,1,%s,%s,%s,%s,0,0,0,0,0,%s,%s\n' % (image_id, label, xmin, xmax, ymin, ymax, label, cls)


@pytest.fixture
def oi_root(tmp_path, jpeg_writer, truncator):
    root = tmp_path / 'oi'
    for name in ('a', 'b', 'bad', 'unk'):
        jpeg_writer(str(root / 'train' / (name + '.jpg')), 100, 50)
    truncator(jpeg_writer(str(root / 'train' / 'corrupt.jpg'), 100, 50), 0.4)
    (root / 'sub-train-annotations-bbox.csv').write_text(
        HEADER + row('a', 0.1, 0.5, 0.2, 0.6) + row('a', 0.5, 1.0, 0.0, 1.0, cls='Car') +
        row('b', 0.0, 0.25, 0.5, 1.0, cls='Car') + row('bad', 'x', 0.5, 0.2, 0.6) + row('bad', 0.1, 0.2, 0.1, 0.2) +
        row('missing', 0.1, 0.5, 0.2, 0.6) + row('corrupt', 0.1, 0.5, 0.2, 0.6) + row('unk', 0.3, 0.2, 0.1, 0.9))
    return str(root)


def test_rows_grouped_scaled_and_problems_reported(oi_root):
    ds = OpenImagesDataset(oi_root)
    assert ds.labels == ['background', 'Car', 'Plate']  # sorted ClassNames
    recs = {r.image_id: r for r in ds.records}
    assert set(recs) == {'a', 'b'}
    np.testing.assert_allclose(recs['a'].boxes, [[10, 10, 50, 30], [50, 0, 100, 50]], atol=1e-4)
    assert recs['a'].labels.tolist() == [2, 1]
    kinds = sorted((i.kind, i.line) for i in ds.report.issues)
    assert kinds == [('corrupt_image', 8), ('degenerate_box', 9), ('empty_annotation', 9), ('malformed_line', 5),
                     ('missing_image', 7)]
    assert all(i.file.endswith('sub-train-annotations-bbox.csv') for i in ds.report.issues)


def test_explicit_labels_unknown_class_and_strict(oi_root, tmp_path):
    ds = OpenImagesDataset(oi_root, labels=['Plate'])
    unknown = [i for i in ds.report.issues if i.kind == 'unknown_label']
    assert [i.line for i in unknown] == [3, 4]
    assert [r.image_id for r in ds.records] == ['a']  # b had only a Car: empty_annotation
    with pytest.raises(DatasetError, match='strict'):
        OpenImagesDataset(oi_root, strict=True)
    with pytest.raises(DatasetError, match='splits present: train'):
        OpenImagesDataset(oi_root, split='validation')


def test_label_name_without_class_name_column(tmp_path, jpeg_writer):
    root = tmp_path / 'oi2'
    jpeg_writer(str(root / 'test' / 'a.jpg'), 40, 40)
    (root / 'class-descriptions-boxable.csv').write_text('/m/01jfm_,License_Plate\n')
    (root / 'sub-test-annotations-bbox.csv').write_text('ImageID,LabelName,XMin,XMax,YMin,YMax\n'
                                                        'a,/m/01jfm_,0.25,0.75,0.25,0.5\n')
    ds = OpenImagesDataset(str(root), 'test')
    assert ds.labels == ['background', 'License_Plate']
    np.testing.assert_allclose(ds[0][1]['boxes'], [[10, 10, 30, 20]])


def test_real_plates(shared_data):
    ds = OpenImagesDataset(os.path.join(shared_data, 'plates'), 'test')
    assert len(ds) == 60 and ds.report.ok and ds.class_counts() == {'License_Plate': 60}

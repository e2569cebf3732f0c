"""COCO JSON loader: xywh, crowd skipped, category names, unknown categories, negatives, bad files."""
import json

import numpy as np
import pytest

from face_ssd_training.data import COCODataset, DatasetError


@pytest.fixture
def coco(tmp_path, jpeg_writer, truncator):
    img = tmp_path / 'img'
    for n in ('a', 'neg', 'crowd'):
        jpeg_writer(str(img / (n + '.jpg')), 80, 60)
    truncator(jpeg_writer(str(img / 'c.jpg'), 80, 60), 0.4)
    data = {
        'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 80, 'height': 60},
                   {'id': 2, 'file_name': 'neg.jpg'}, {'id': 3, 'file_name': 'crowd.jpg'},
                   {'id': 4, 'file_name': 'c.jpg'}, {'id': 5, 'file_name': 'gone.jpg'}],
        'annotations': [
            {'id': 10, 'image_id': 1, 'category_id': 7, 'bbox': [10.5, 5, 20, 30], 'iscrowd': 0},
            {'id': 11, 'image_id': 1, 'category_id': 3, 'bbox': [70, 50, 30, 30], 'iscrowd': 0},
            {'id': 12, 'image_id': 1, 'category_id': 99, 'bbox': [1, 1, 5, 5]},
            {'id': 13, 'image_id': 1, 'category_id': 3, 'bbox': 'oops'},
            {'id': 14, 'image_id': 3, 'category_id': 3, 'bbox': [1, 1, 50, 50], 'iscrowd': 1},
            {'id': 15, 'image_id': 4, 'category_id': 3, 'bbox': [1, 1, 5, 5]},
            {'id': 16, 'image_id': 5, 'category_id': 3, 'bbox': [1, 1, 5, 5]}],
        'categories': [{'id': 7, 'name': 'plate'}, {'id': 3, 'name': 'face'}],
    }
    path = tmp_path / 'instances.json'
    path.write_text(json.dumps(data))
    return str(img), str(path)


def test_coco_loader(coco):
    ds = COCODataset(*coco)
    assert ds.labels == ['background', 'face', 'plate']  # ordered by category id
    recs = {r.image_id: r for r in ds.records}
    assert set(recs) == {'a.jpg', 'neg.jpg'}
    np.testing.assert_allclose(recs['a.jpg'].boxes, [[10.5, 5, 30.5, 35], [70, 50, 80, 60]])
    assert recs['a.jpg'].labels.tolist() == [2, 1]
    assert recs['neg.jpg'].boxes.shape == (0, 4)  # an image without annotations is a negative
    assert ds.report.stats['boxes_filtered_crowd'] == 1 and ds.report.stats['images_all_boxes_filtered'] == 1
    kinds = sorted(i.kind for i in ds.report.issues)
    assert kinds == ['box_outside_image', 'corrupt_image', 'malformed_line', 'missing_image', 'unknown_label']
    unknown = [i for i in ds.report.issues if i.kind == 'unknown_label'][0]
    assert 'annotation id 12' in unknown.message and unknown.line is None


def test_coco_labels_subset_and_errors(coco, tmp_path):
    ds = COCODataset(*coco, labels=['face'])
    assert ds.labels == ['background', 'face'] and ds.class_counts() == {'face': 1}
    with pytest.raises(DatasetError):
        COCODataset(*coco, strict=True)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"annotations": []}')
    with pytest.raises(DatasetError, match='images'):
        COCODataset(coco[0], str(bad))
    with pytest.raises(DatasetError, match='not found'):
        COCODataset(coco[0], str(tmp_path / 'none.json'))

"""Box CSV datasets, the dataset-entry keys of a training config (image_list, exhaustive, class_name), and what
``exhaustive: false`` does to the matched priors (no negatives from images labelled in part)."""
import os

import numpy as np
import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.data.base import read_id_list
from face_ssd_training.data.checks import DatasetError
from face_ssd_training.data.csv_boxes import CSVBoxesDataset
from face_ssd_training.data.labels import IGNORE_LABEL
from face_ssd_training.data.mosaic import mosaic_canvas
from face_ssd_training.train import MatchTargets, build_dataset


def _csv_set(tmp_path, jpeg_writer, text):
    for name in ('a.jpg', 'sub/b.jpg', 'c.jpg'):
        jpeg_writer(str(tmp_path / 'images' / name), 64, 48)
    path = tmp_path / 'boxes.csv'
    path.write_text(text)
    return str(tmp_path / 'images'), str(path)


def test_csv_boxes_classes_negatives_and_problems(tmp_path, jpeg_writer):
    images, csv_file = _csv_set(tmp_path, jpeg_writer,
                                'image,xmin,ymin,xmax,ymax,label\n'
                                'a.jpg,1,2,30,40,nsf\n'
                                'a.jpg,32.5,2,60,40,my_face\n'
                                'sub/b.jpg,,,,,\n'          # a negative
                                'c.jpg,1,2,x,40,nsf\n'      # malformed: image skipped
                                'sub/b.jpg,5,5,20,20,cat\n'  # unknown class: box dropped, b keeps none -> skipped
                                )
    ds = CSVBoxesDataset(images, csv_file, labels=['background', 'my_face', 'nsf'])
    assert [r.image_id for r in ds.records] == ['a.jpg']
    r = ds.records[0]
    np.testing.assert_allclose(r.boxes, [[1, 2, 30, 40], [32.5, 2, 60, 40]])
    assert r.labels.tolist() == [2, 1] and ds.labels == ['background', 'my_face', 'nsf']
    kinds = sorted(i.kind for i in ds.report.issues)
    assert kinds == ['empty_annotation', 'malformed_line', 'unknown_label']
    assert any(i.line == 5 for i in ds.report.issues if i.kind == 'malformed_line')
    # without the bad rows: b is a negative (K = 0), labels default to the sorted names in the file
    images, csv_file = _csv_set(tmp_path, jpeg_writer, 'filename,class,xmin,ymin,xmax,ymax\n'
                                                       'a.jpg,nsf,1,2,30,40\nsub/b.jpg,,,,,\n')
    ds = CSVBoxesDataset(images, csv_file)
    assert ds.labels == ['background', 'nsf'] and [len(r.boxes) for r in ds.records] == [1, 0]
    image, target = ds[1]
    assert image.shape == (48, 64, 3) and target['boxes'].shape == (0, 4) and 'exhaustive' not in target


def test_csv_missing_columns_is_one_clear_error(tmp_path, jpeg_writer):
    images, csv_file = _csv_set(tmp_path, jpeg_writer, 'image,x,y,w,h,label\na.jpg,1,2,3,4,nsf\n')
    with pytest.raises(DatasetError, match='missing column'):
        CSVBoxesDataset(images, csv_file)


def test_image_list_keeps_a_split_and_refuses_unknown_ids(tmp_path, jpeg_writer):
    images, csv_file = _csv_set(tmp_path, jpeg_writer, 'image,xmin,ymin,xmax,ymax,label\n'
                                                       'a.jpg,1,2,30,40,nsf\nsub/b.jpg,1,1,9,9,nsf\n'
                                                       'c.jpg,2,2,9,9,nsf\n')
    split = tmp_path / 'test.txt'
    split.write_text('# held out\nc.jpg\n\nsub/b.jpg\n')
    assert read_id_list(str(split)) == ['c.jpg', 'sub/b.jpg']
    spec = {'format': 'csv', 'images': 'images', 'annotations': 'boxes.csv', 'image_list': 'test.txt'}
    ds = build_dataset(spec, ['background', 'nsf'], None, str(tmp_path))
    assert [r.image_id for r in ds.records] == ['c.jpg', 'sub/b.jpg']
    split.write_text('c.jpg\nd.jpg\n')
    with pytest.raises(DatasetError, match="1 entry is not.*'d.jpg'"):
        build_dataset(spec, ['background', 'nsf'], None, str(tmp_path))
    with pytest.raises(DatasetError, match='image list not found'):
        build_dataset(dict(spec, image_list='nope.txt'), ['background', 'nsf'], None, str(tmp_path))


def test_exhaustive_false_ignores_every_prior_but_the_positives(tmp_path, jpeg_writer):
    from face_ssd_training.data.transforms import build_transform
    from face_ssd_training.models import build_model
    images, csv_file = _csv_set(tmp_path, jpeg_writer, 'image,xmin,ymin,xmax,ymax,label\na.jpg,10,8,40,40,nsf\n')
    model = build_model('rfb', 2)
    priors = model.priors(64, 48)
    tf = MatchTargets(build_transform('eval', (64, 48)), priors, model.prior_spec.variances, 0.35)
    spec = {'format': 'csv', 'images': images, 'annotations': csv_file}
    full = build_dataset(spec, ['background', 'nsf'], tf)
    part = build_dataset(dict(spec, exhaustive=False), ['background', 'nsf'], tf)
    assert full.exhaustive and not part.exhaustive
    _, t_full = full[0]
    _, t_part = part[0]
    pos = t_full['labels'] > 0
    assert pos.any() and (t_full['labels'] == 0).sum() > 100
    assert torch.equal(t_part['labels'] > 0, pos)                              # the same positives
    assert bool((t_part['labels'][~pos] == IGNORE_LABEL).all())                # and nothing else is a negative
    assert part.load(0)[1]['exhaustive'] is False


def test_a_mosaic_with_a_tile_labelled_in_part_takes_no_negatives():
    rng = np.random.default_rng(0)
    tile = np.full((40, 40, 3), 90, np.uint8)
    whole = {'boxes': np.array([[5, 5, 30, 30]], np.float32), 'labels': np.array([1]), 'image_id': 'a'}
    part = dict(whole, image_id='b', exhaustive=False)
    _, t = mosaic_canvas([(tile, whole)] * 4, (80, 60), rng)
    assert 'exhaustive' not in t
    _, t = mosaic_canvas([(tile, whole)] * 3 + [(tile, part)], (80, 60), rng)
    assert t['exhaustive'] is False
    _, t = mosaic_canvas([(tile, part)] + [(tile, whole)] * 3, (80, 60), rng)
    assert t['exhaustive'] is False


def test_dataset_entry_keys_are_checked():
    ok = load_config(overrides=['data.labels=[background, face, nsf]',
                                'data.train=[{format: csv, images: a, annotations: b.csv, image_list: l.txt, '
                                'exhaustive: false}, {format: wider, images: a, gt: b, class_name: face}]'])
    assert ok['data']['train'][0]['exhaustive'] is False
    bad = [('{format: csv, images: a, annotations: b, exhaustive: maybe}', 'exhaustive must be true or false'),
           ('{format: voc, root: a, image_lst: x}', "did you mean 'image_list'"),
           ('{format: voc, root: a, class_name: face}', "'class_name' is only for format: wider"),
           ('{format: csv, images: a, annotations: b, image_list: ""}', 'image_list must be a non-empty string'),
           ('{format: yolo, images: a}', 'needs format: wider|voc|openimages|coco|csv')]
    for entry, words in bad:
        with pytest.raises(ConfigError, match=words.replace('|', r'\|')):
            load_config(overrides=['data.val=[%s]' % entry])


def test_wider_entry_class_name_puts_its_faces_in_a_multi_class_run(tmp_path, jpeg_writer):
    jpeg_writer(str(tmp_path / 'img' / 'p.jpg'), 64, 48)
    (tmp_path / 'gt.txt').write_text('p.jpg\n1\n4 4 20 20 0 0 0 0 0 0\n')
    spec = {'format': 'wider', 'images': 'img', 'gt': 'gt.txt', 'class_name': 'face'}
    ds = build_dataset(spec, ['background', 'cartoon_face', 'face'], None, str(tmp_path))
    assert ds.records[0].labels.tolist() == [2]
    with pytest.raises(ValueError, match="class_name 'dog'"):
        build_dataset(dict(spec, class_name='dog'), ['background', 'cartoon_face', 'face'], None, str(tmp_path))


def test_gt_from_a_dataset_with_ignore_regions(tmp_path, jpeg_writer):
    """Ignore regions of a loader (label -1) become ignore boxes of every class in the evaluation ground truth."""
    from face_ssd_training.eval.cli import gt_from_dataset
    jpeg_writer(str(tmp_path / 'img' / 'p.jpg'), 64, 48)
    (tmp_path / 'gt.txt').write_text('p.jpg\n2\n4 4 20 20 0 0 0 0 0 0\n30 4 20 20 0 0 0 1 0 0\n')
    ds = build_dataset({'format': 'wider', 'images': 'img', 'gt': 'gt.txt', 'invalid': 'ignore'},
                       ['background', 'face', 'mask'], None, str(tmp_path))
    gt, paths = gt_from_dataset(ds)
    # the ignore region is an ignore box of every class
    assert gt['p.jpg']['labels'] == ['face', 'face', 'mask'] and gt['p.jpg']['ignore'].tolist() == [False, True, True]
    np.testing.assert_allclose(gt['p.jpg']['boxes'], [[4, 4, 24, 24], [30, 4, 50, 24], [30, 4, 50, 24]])
    assert paths['p.jpg'] == os.path.join(str(tmp_path), 'img', 'p.jpg')


def test_face_ssd_train_reports_a_bad_split_or_checkpoint_in_one_line(tmp_path, jpeg_writer, capsys):
    from face_ssd_training import train
    images, csv_file = _csv_set(tmp_path, jpeg_writer, 'image,xmin,ymin,xmax,ymax,label\na.jpg,1,2,30,40,nsf\n')
    (tmp_path / 'split.txt').write_text('a.jpg\nzzz.jpg\n')
    cfg = tmp_path / 'cfg.yaml'
    cfg.write_text('data:\n  labels: [background, nsf]\n  train:\n'
                   '    - {format: csv, images: images, annotations: boxes.csv, image_list: split.txt}\n'
                   'output:\n  dir: %s\n' % (tmp_path / 'run'))
    assert train.main(['--config', str(cfg), '--no-progress']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'zzz.jpg'" in err[0] and err[0].startswith('face-ssd-train: ')
    (tmp_path / 'split.txt').write_text('a.jpg\n')
    assert train.main(['--config', str(cfg), '--no-progress', '--set', 'train.init_checkpoint=missing.pt']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'missing.pt does not exist' in err[0]

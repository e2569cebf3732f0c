"""Unlabelled image folders: filelists ("relpath W H"), recursive listing, K = 0 targets, broken images."""
import os

import pytest

from face_ssd_training.data import DatasetError, ImageFolderDataset, build_transform


def test_folder_recursive_and_filelist(tmp_path, jpeg_writer, truncator):
    d = tmp_path / 'images'
    jpeg_writer(str(d / 'x' / 'a.jpg'))
    jpeg_writer(str(d / 'b with space.jpg'))
    truncator(jpeg_writer(str(d / 'c.jpg')), 0.3)
    (d / 'notes.md').write_text('not an image')
    ds = ImageFolderDataset(str(d))
    assert sorted(r.image_id for r in ds.records) == ['b with space.jpg', os.path.join('x', 'a.jpg')]
    assert [i.kind for i in ds.report.issues] == ['corrupt_image']
    image, target = ds[0]
    assert image.shape == (48, 64, 3) and target['boxes'].shape == (0, 4) and target['labels'].shape == (0,)
    x, t = build_transform('face', (32, 24))(image, target)
    assert tuple(x.shape) == (3, 24, 32) and t['boxes'].shape == (0, 4)
    fl = tmp_path / 'filelist.txt'
    fl.write_text('b with space.jpg 64 48\nx/a.jpg\nmissing.jpg 10 10\n')
    ds = ImageFolderDataset(str(d), str(fl), labels=['background', 'face', 'plate'])
    assert len(ds) == 2 and ds.num_classes == 3
    missing = ds.report.issues[0]
    assert missing.kind == 'missing_image' and missing.line == 3 and missing.file == str(fl)
    with pytest.raises(DatasetError):
        ImageFolderDataset(str(d), str(fl), strict=True)
    with pytest.raises(DatasetError, match='not found'):
        ImageFolderDataset(str(d), str(tmp_path / 'nolist.txt'))


def test_real_negatives(shared_data):
    d = os.path.join(shared_data, 'negatives')
    ds = ImageFolderDataset(os.path.join(d, 'images'), os.path.join(d, 'filelist.txt'), verify='header')
    assert len(ds) == 400 and ds.report.ok

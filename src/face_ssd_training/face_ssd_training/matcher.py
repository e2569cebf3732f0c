"""Assign ground-truth boxes to priors (the SSD matching rule), with ignore regions."""
import torch

from .box_coder import box_iou, center_to_corner
from .data.labels import IGNORE_LABEL  # also the label of an ignored prior


def match(gt_boxes, gt_labels, priors_center, iou_threshold, ignore_iou_threshold=0.2):
    """Match ground truth to priors.

    Each prior takes the ground-truth box it overlaps most; priors whose best IoU is below
    ``iou_threshold`` become background (label 0). Every ground-truth box additionally claims its
    single best prior, so no object is left without a positive, however small it is.

    Boxes labelled :data:`IGNORE_LABEL` (< 0) are ignore regions: they never make a positive, and a prior that
    would otherwise be background becomes ignored (label -1: no classification loss, never a hard negative) when
    it overlaps one with IoU >= ``ignore_iou_threshold`` or is its best prior.

    Args:
        gt_boxes: [K, 4] corner form, normalised; K may be 0.
        gt_labels: [K] int64 labels (>= 1 objects, -1 ignore regions).
        priors_center: [N, 4] centre form, normalised.
        iou_threshold: float.
        ignore_iou_threshold: float, IoU with an ignore region above which a background prior is ignored.

    Returns:
        (boxes [N, 4] corner form: the matched ground truth per prior (zeros where no object box exists),
         labels [N] int64: the matched label, 0 for background, -1 for ignored).
    """
    n = priors_center.shape[0]
    ignore = gt_labels < 0
    objects = ~ignore
    boxes = torch.zeros((n, 4), dtype=priors_center.dtype, device=priors_center.device)
    labels = torch.zeros((n,), dtype=torch.int64, device=priors_center.device)
    if gt_boxes.numel() == 0:
        return boxes, labels
    priors_corner = center_to_corner(priors_center)
    if bool(objects.any()):
        obj_boxes, obj_labels = gt_boxes[objects], gt_labels[objects]
        ious = box_iou(obj_boxes, priors_corner)                       # [K, N]
        best_gt_iou, best_gt = ious.max(dim=0)                          # per prior
        best_prior = ious.argmax(dim=1)                                 # per ground truth
        # Force each ground-truth box onto its best prior (later boxes win a shared prior).
        best_gt_iou[best_prior] = 2.0
        best_gt[best_prior] = torch.arange(obj_boxes.shape[0], device=gt_boxes.device)
        labels = obj_labels[best_gt].clone()
        labels[best_gt_iou < iou_threshold] = 0
        boxes = obj_boxes[best_gt]
    if bool(ignore.any()):
        ign_ious = box_iou(gt_boxes[ignore], priors_corner)             # [M, N]
        near = ign_ious.max(dim=0)[0] >= ignore_iou_threshold
        near[ign_ious.argmax(dim=1)] = True
        labels[near & (labels == 0)] = IGNORE_LABEL
    return boxes, labels

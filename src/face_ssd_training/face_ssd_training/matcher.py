"""Assign ground-truth boxes to priors (the SSD matching rule)."""
import torch

from .box_coder import box_iou, center_to_corner


def match(gt_boxes, gt_labels, priors_center, iou_threshold):
    """Match ground truth to priors.

    Each prior takes the ground-truth box it overlaps most; priors whose best IoU is below
    ``iou_threshold`` become background (label 0). Every ground-truth box additionally claims its
    single best prior, so no object is left without a positive, however small it is.

    Args:
        gt_boxes: [K, 4] corner form, normalised; K may be 0.
        gt_labels: [K] int64 labels (>= 1).
        priors_center: [N, 4] centre form, normalised.
        iou_threshold: float.

    Returns:
        (boxes [N, 4] corner form: the matched ground truth per prior (zeros where K == 0),
         labels [N] int64: the matched label, 0 for background).
    """
    n = priors_center.shape[0]
    if gt_boxes.numel() == 0:
        return (torch.zeros((n, 4), dtype=priors_center.dtype, device=priors_center.device),
                torch.zeros((n,), dtype=torch.int64, device=priors_center.device))
    ious = box_iou(gt_boxes, center_to_corner(priors_center))       # [K, N]
    best_gt_iou, best_gt = ious.max(dim=0)                          # per prior
    best_prior = ious.argmax(dim=1)                                 # per ground truth
    # Force each ground-truth box onto its best prior (later boxes win a shared prior).
    best_gt_iou[best_prior] = 2.0
    best_gt[best_prior] = torch.arange(gt_boxes.shape[0], device=gt_boxes.device)
    labels = gt_labels[best_gt].clone()
    labels[best_gt_iou < iou_threshold] = 0
    return gt_boxes[best_gt], labels

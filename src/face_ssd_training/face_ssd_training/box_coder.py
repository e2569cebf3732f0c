"""Box formats, IoU and the SSD box coder (offsets relative to priors, scaled by variances).

Shapes: ``[..., 4]`` everywhere; ``corner`` = (x1, y1, x2, y2), ``center`` = (cx, cy, w, h).
All functions work on torch tensors.
"""
import torch


def corner_to_center(boxes):
    """[..., 4] (x1, y1, x2, y2) -> [..., 4] (cx, cy, w, h)."""
    return torch.cat([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], dim=-1)


def center_to_corner(boxes):
    """[..., 4] (cx, cy, w, h) -> [..., 4] (x1, y1, x2, y2)."""
    return torch.cat([boxes[..., :2] - boxes[..., 2:] / 2, boxes[..., :2] + boxes[..., 2:] / 2], dim=-1)


def box_area(boxes):
    """[..., 4] corner boxes -> [...] areas (0 for degenerate boxes)."""
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_iou(a, b):
    """Pairwise IoU. a: [M, 4], b: [N, 4] corner boxes -> [M, N]."""
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=-1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union.clamp(min=1e-12)


def encode(boxes_center, priors_center, variances):
    """Regression targets of ``boxes`` w.r.t. ``priors`` (both centre form, normalised).

    Args:
        boxes_center: [..., N, 4]; priors_center: [N, 4]; variances: (center_var, size_var).
    Returns:
        [..., N, 4] offsets ``((c - pc) / (pw * v0), log(w / pw) / v1)``.
    """
    c = (boxes_center[..., :2] - priors_center[..., :2]) / (priors_center[..., 2:] * variances[0])
    s = torch.log(boxes_center[..., 2:].clamp(min=1e-8) / priors_center[..., 2:]) / variances[1]
    return torch.cat([c, s], dim=-1)


def decode(offsets, priors_center, variances):
    """Inverse of :func:`encode`: [..., N, 4] offsets -> [..., N, 4] centre-form boxes."""
    c = offsets[..., :2] * variances[0] * priors_center[..., 2:] + priors_center[..., :2]
    s = torch.exp(offsets[..., 2:] * variances[1]) * priors_center[..., 2:]
    return torch.cat([c, s], dim=-1)

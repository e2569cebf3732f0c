"""Detection evaluation: VOC AP / mAP, the official WIDER FACE protocol, PR plots, predictions JSONL, FLOPs, latency.

Modules (import the one you need; nothing here runs at import time):

* ``boxes``       IoU helpers (re-exported from face_ssd_ros.metrics.boxes).
* ``predictions`` read / write the predictions JSON Lines written by ``face-ssd-detect``.
* ``voc``         Pascal VOC AP, mAP, recall at FPPI (re-exported from face_ssd_ros.metrics.voc).
* ``wider``       the official WIDER FACE Easy / Medium / Hard protocol on the official ``.mat`` ground truth.
* ``plots``       precision-recall curve PNGs.
* ``flops``       parameters and convolution MACs of an ONNX graph.
* ``latency``     median ONNX Runtime latency at batch 1.
* ``cli``         ``face-ssd-eval``.
"""

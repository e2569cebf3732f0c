"""Detection evaluation: VOC AP / mAP, the official WIDER FACE protocol, PR plots, predictions JSONL, FLOPs, latency.

Modules (import the one you need; nothing here runs at import time):

* ``boxes``       IoU helpers (re-exported from face_ssd_ros.evaluation.metrics.boxes).
* ``voc``         Pascal VOC AP, mAP, recall at FPPI (re-exported from face_ssd_ros.evaluation.metrics.voc).
* ``plots``       precision-recall curve PNGs.
* ``flops``       parameters and convolution MACs of an ONNX graph.
* ``latency``     median ONNX Runtime latency at batch 1.
* ``cli``         ``face-ssd-eval``.

The predictions JSON Lines format (``face_ssd_ros.detect.predictions``) and the official WIDER FACE protocol on the
``.mat`` ground truth (``face_ssd_ros.evaluation.wider_gt``) live in the runtime package: the robot's tools
(face-ssd-detect, face-ssd-trt-parity, face-ssd-bag-eval) use them without this package.
"""

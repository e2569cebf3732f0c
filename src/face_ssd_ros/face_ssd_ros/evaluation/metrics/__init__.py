"""Detection metrics shared by the runtime (bag evaluator) and face_ssd_training.eval (numpy only; no rclpy, torch
or scipy; matplotlib is imported lazily by ``plots``).

* ``boxes``  IoU helpers (corner form, optional +1 pixel convention) and xywh/xyxy conversion.
* ``voc``    Pascal VOC AP per class, mAP, recall at fixed false positives per image.
* ``wider``  the official WIDER FACE Easy / Medium / Hard protocol (numpy core; the .mat loaders stay in training).
* ``bootstrap`` paired bootstrap over the images of an AP difference between two models (how sure it is).
* ``plots``  precision-recall curve PNGs.
"""

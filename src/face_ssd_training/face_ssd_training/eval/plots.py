"""Precision-recall curve figures (PNG via matplotlib's Agg backend).

Moved to :mod:`face_ssd_ros.evaluation.metrics.plots` (the runtime bag evaluator draws the same figures);
re-exported here.
"""
from face_ssd_ros.evaluation.metrics.plots import plot_models, plot_pr_curves, voc_curves, wider_curves  # noqa: F401

"""Precision-recall curve figures (PNG, matplotlib's Agg backend; nothing is shown on screen).

A curve is ``(recall [D], precision [D], ap)``; curves are given as ``{name: curve}``.
"""
import os

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    return plt


def _draw(ax, curves, title):
    for name, (recall, precision, ap) in curves.items():
        r = np.asarray(recall, dtype=np.float64)
        p = np.asarray(precision, dtype=np.float64)
        order = np.argsort(r, kind='stable')
        ap_text = 'n/a' if ap is None or np.isnan(ap) else '%.3f' % ap
        ax.plot(r[order], p[order], linewidth=1.8, label='%s (AP %s)' % (name, ap_text))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel('recall')
    ax.set_ylabel('precision')
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(loc='lower left', fontsize='small')


def _save(fig, plt, out_path):
    parent = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(parent, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100, format='png')
    plt.close(fig)
    return out_path


def plot_pr_curves(curves, out_path, title='precision-recall'):
    """One figure, one curve per class or per WIDER setting, AP in the legend.

    Args:
        curves: ``{name: (recall [D], precision [D], ap)}``.
        out_path: PNG path (parent folders are created).
    Returns:
        out_path.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    _draw(ax, curves, title)
    return _save(fig, plt, out_path)


def plot_models(models, out_path, title='precision-recall'):
    """Several models on one figure: one panel per setting / class, one curve per model.

    Args:
        models: ``{model_name: {setting: (recall, precision, ap)}}``; panels are the union of the settings, in
            first-seen order.
        out_path: PNG path.
    Returns:
        out_path.
    """
    panels = []
    for per_setting in models.values():
        for s in per_setting:
            if s not in panels:
                panels.append(s)
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5 * max(1, len(panels)), 4.5), squeeze=False)
    for ax, s in zip(axes[0], panels):
        _draw(ax, {m: c[s] for m, c in models.items() if s in c}, '%s: %s' % (title, s))
    return _save(fig, plt, out_path)


def wider_curves(result):
    """:class:`~face_ssd_ros.evaluation.metrics.wider.WiderResult` -> ``{setting: (recall, precision, ap)}``."""
    return {s: (r, p, result.ap[s]) for s, (r, p) in result.curves.items()}


def voc_curves(result):
    """:class:`~face_ssd_ros.evaluation.metrics.voc.VOCResult` -> ``{label: (recall, precision, ap)}``."""
    return {str(k): (r, p, result.ap[k]) for k, (r, p) in result.curves.items()}

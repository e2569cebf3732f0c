"""How sure is an AP difference on a small evaluation set: a paired bootstrap over its images.

Two models' predictions on the same images are scored on the same resamples (images drawn with replacement, as many
as there are), so what varies is which images are in the set, not the models; the spread of the AP difference over
the resamples says how much of a measured difference the choice of images alone could make. Numpy only.
"""
import numpy as np

from .wider import SETTINGS, curve_from_counts


class BootstrapResult(object):
    """``ap_a[setting]``, ``ap_b[setting]``: the APs on the whole set; ``diffs[setting]``: float64 ``[R]`` AP(a) -
    AP(b) on each resample, and ``diffs['mean']`` the difference of the three settings' means."""

    def __init__(self, ap_a, ap_b, diffs):
        self.ap_a = ap_a
        self.ap_b = ap_b
        self.diffs = diffs

    def interval(self, key, level=0.95):
        """``(low, high)`` percentile interval of the resampled difference ``key`` (a setting or 'mean'), over the
        resamples where it is defined (a resample without a counted face of a setting has no AP: NaN)."""
        d = self.diffs[key]
        tail = (1.0 - level) / 2.0 * 100.0
        return float(np.nanpercentile(d, tail)), float(np.nanpercentile(d, 100.0 - tail))

    def share_above(self, key, margin=0.0):
        """Share of the resamples (where the difference is defined) in which AP(a) - AP(b) > ``margin``."""
        d = self.diffs[key]
        d = d[~np.isnan(d)]
        return float(np.mean(d > margin)) if len(d) else float('nan')


def resample_weights(n, resamples=1000, seed=0):
    """How often each of ``n`` images is drawn in each of ``resamples`` resamples of ``n`` draws with replacement:
    float64 ``[R, n]`` (rows sum to n). The same ``(n, resamples, seed)`` gives the same draws."""
    rng = np.random.RandomState(seed)
    return np.stack([np.bincount(rng.randint(0, n, n), minlength=n) for _ in range(int(resamples))]).astype(np.float64)


def share_bootstrap(found_a, false_a, found_b, false_b, weights):
    """Paired bootstrap of the share of an operating point's boxes that are faces, ``found / (found + false)``.

    Args:
        found_a, false_a, found_b, false_b: int ``[I]`` per image, faces found and clear false positives of models a
            and b at their threshold.
        weights: ``[R, I]`` from :func:`resample_weights`.
    Returns:
        ``(share_a, share_b, diffs [R])``: the shares on the whole set and share(a) - share(b) per resample (a
        resample where a model has no box counts as share 0).
    """
    def shares(found, false, w):
        f, x = w.dot(np.asarray(found, np.float64)), w.dot(np.asarray(false, np.float64))
        return np.where(f + x > 0, f / np.maximum(f + x, 1e-12), 0.0)
    ones = np.ones((1, len(found_a)))
    return (float(shares(found_a, false_a, ones)[0]), float(shares(found_b, false_b, ones)[0]),
            shares(found_a, false_a, weights) - shares(found_b, false_b, weights))


def paired_bootstrap(counts_a, counts_b, faces, resamples=1000, seed=0, settings=SETTINGS):
    """Paired bootstrap of the AP difference of two models on the same images.

    Args:
        counts_a, counts_b: ``{setting: [I, T, 2]}`` per-image counts of each model
            (:func:`~face_ssd_ros.evaluation.metrics.wider.wider_image_counts`, same images in the same order).
        faces: ``{setting: [I]}`` counted boxes per image.
        resamples: R, number of resamples; seed: of the resampling (the same seed gives the same result).
    Returns:
        :class:`BootstrapResult`. Scores keep the normalisation of the whole set (the official min-max range
        barely moves between resamples).
    Raises:
        ValueError: the two models' counts are not over the same number of images.
    """
    n = len(faces[settings[0]])
    for s in settings:
        if counts_a[s].shape[0] != n or counts_b[s].shape[0] != n:
            raise ValueError('both models need counts for the same %d images (%s: %d and %d)'
                             % (n, s, counts_a[s].shape[0], counts_b[s].shape[0]))
    draws = resample_weights(n, resamples, seed)
    ap_a, ap_b, diffs = {}, {}, {}
    for s in settings:
        total = float(faces[s].sum())
        ap_a[s] = curve_from_counts(counts_a[s].sum(axis=0), total)[2]
        ap_b[s] = curve_from_counts(counts_b[s].sum(axis=0), total)[2]
        sums_a = np.tensordot(draws, counts_a[s], axes=1)    # [R, T, 2]
        sums_b = np.tensordot(draws, counts_b[s], axes=1)
        num = draws.dot(faces[s].astype(np.float64))         # [R]
        diffs[s] = np.array([curve_from_counts(sums_a[r], num[r])[2] - curve_from_counts(sums_b[r], num[r])[2]
                             for r in range(len(draws))])
    diffs['mean'] = np.mean([diffs[s] for s in settings], axis=0)
    return BootstrapResult(ap_a, ap_b, diffs)

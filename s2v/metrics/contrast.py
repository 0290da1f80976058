"""Contrast between two regions: CNR and the generalized CNR (gCNR), in the caller's domain."""

from __future__ import annotations

import numpy as np

from ._common import _finite_array


def cnr(target_values, background_values) -> float:
    r"""Contrast-to-noise ratio between a target and a background region.

    .. math:: \mathrm{CNR} = \frac{|\mu_t - \mu_b|}{\sqrt{\sigma_t^2 + \sigma_b^2}}

    The domain is the caller's choice (envelope, intensity or B-mode); CNR changes with it,
    which is why :func:`gcnr` exists.

    Parameters
    ----------
    target_values, background_values : array_like
        Samples of each region (any shape), at least 2 each.

    Returns
    -------
    float
        CNR (linear, not dB).

    References
    ----------
    A. Rodriguez-Molares et al., "The generalized contrast-to-noise ratio: a formal
    definition for lesion detectability", IEEE TUFFC 67(4), 2020, eq. (1).
    """
    target = _finite_array(target_values, "target_values", min_size=2)
    background = _finite_array(background_values, "background_values", min_size=2)
    spread = np.sqrt(target.var(ddof=1) + background.var(ddof=1))
    if spread == 0.0:
        raise ValueError("both regions are constant; CNR is undefined")
    return float(abs(target.mean() - background.mean()) / spread)


def gcnr(target_values, background_values, bins=256) -> float:
    r"""Generalized contrast-to-noise ratio: one minus the overlap of the two histograms.

    .. math:: \mathrm{gCNR} = 1 - \sum_k \min\{p_t(k), p_b(k)\}

    where ``p_t`` and ``p_b`` are the histograms of the two regions over **common bins**,
    each normalised to sum 1. gCNR is 0 for identical distributions (up to sampling noise),
    1 for disjoint ones, and it is invariant to any strictly monotonic transform of the
    data (e.g. log compression) up to binning.

    Parameters
    ----------
    target_values, background_values : array_like
        Samples of each region (any shape, any domain).
    bins : int or array_like, optional
        Number of equal-width bins spanning the pooled range of both regions, or explicit
        bin edges.

    Returns
    -------
    float
        gCNR in [0, 1].

    References
    ----------
    A. Rodriguez-Molares et al., "The generalized contrast-to-noise ratio: a formal
    definition for lesion detectability", IEEE TUFFC 67(4), 2020, eq. (8).
    """
    target = _finite_array(target_values, "target_values").ravel()
    background = _finite_array(background_values, "background_values").ravel()
    if np.ndim(bins) == 0:
        if int(bins) < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        low = min(target.min(), background.min())
        high = max(target.max(), background.max())
        if high == low:
            return 0.0  # both regions hold the same single value: full overlap
        edges = np.linspace(low, high, int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
    p_target = np.histogram(target, bins=edges)[0] / target.size
    p_background = np.histogram(background, bins=edges)[0] / background.size
    return float(1.0 - np.minimum(p_target, p_background).sum())

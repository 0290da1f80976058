"""No-reference speckle statistics: ENL and the ratio image on INTENSITY, speckle SNR on the envelope."""

from __future__ import annotations

import numpy as np

from ._common import _finite_array, _image_pair, _region_mask


def _ratio(noisy: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """``noisy / estimate`` after checking that both are valid intensities."""
    if noisy.min() < 0:
        raise ValueError("noisy has negative values; intensity must be >= 0")
    non_positive = int(np.count_nonzero(estimate <= 0))
    if non_positive:
        raise ValueError(
            f"estimate has {non_positive} pixels <= 0; the ratio image is undefined there "
            "(exclude them with a mask in ratio_statistics)"
        )
    return noisy / estimate


def enl(values) -> float:
    r"""Equivalent number of looks of a homogeneous region of an **intensity** image.

    .. math:: \mathrm{ENL} = \frac{\hat\mu^2}{\hat\sigma^2}

    (sample mean and unbiased sample variance). For fully developed speckle with ``L``
    looks, intensity ``y = x n`` with ``n ~ Gamma(L, 1/L)`` over a constant ``x``, the ENL is
    ``L``; a despeckler raises it. On amplitude data the same formula does *not* give ``L``.

    Parameters
    ----------
    values : array_like
        Intensity samples of one homogeneous region, any shape (e.g. ``image[mask]``), at
        least 2 values.

    Returns
    -------
    float
        ENL; ``inf`` for a constant non-zero region.

    Raises
    ------
    ValueError
        Fewer than two values (empty region), non-finite values, or a zero mean.

    References
    ----------
    J.-S. Lee, E. Pottier, *Polarimetric Radar Imaging*, CRC Press, 2009, sec. 4.3.
    """
    samples = _finite_array(values, "values", min_size=2).ravel()
    mean = samples.mean()
    if mean == 0.0:
        raise ValueError("region has zero mean intensity (all zeros?); ENL is undefined")
    var = samples.var(ddof=1)
    if var == 0.0:
        return float("inf")
    return float(mean**2 / var)


def ratio_image(noisy, estimate) -> np.ndarray:
    r"""Ratio image ``noisy / estimate`` in the **intensity** domain.

    For a perfect despeckler the ratio is the pure speckle ``n``: mean 1, variance ``1/L``,
    and no visible structure. Structure in the ratio image means the filter removed signal.

    Parameters
    ----------
    noisy, estimate : array_like, shape (H, W)
        Noisy and despeckled **intensity**; ``estimate`` must be strictly positive.

    Returns
    -------
    ndarray, shape (H, W), float64

    References
    ----------
    A. Lopes, R. Touzi, E. Nezry, "Adaptive speckle filters and scene heterogeneity",
    IEEE TGRS 28(6), 1990.
    """
    noisy_arr, est = _image_pair(noisy, estimate)
    return _ratio(noisy_arr, est)


def ratio_statistics(noisy, estimate, mask=None) -> dict[str, float]:
    r"""Mean and variance of the intensity ratio image (ideal: 1 and ``1/L``).

    .. math:: \bar r = \frac{1}{N}\sum_i \frac{y_i}{\hat x_i}, \qquad
              s_r^2 = \frac{1}{N-1}\sum_i \left(\frac{y_i}{\hat x_i} - \bar r\right)^2

    A mean away from 1 reveals a radiometric bias; a variance below ``1/L`` means the filter
    left speckle in (or copied the input), above ``1/L`` that it also removed structure.

    Parameters
    ----------
    noisy, estimate : array_like, shape (H, W)
        Noisy and despeckled **intensity**.
    mask : array_like of bool, shape (H, W), optional
        Pixels to use (e.g. homogeneous areas); default all.

    Returns
    -------
    dict
        ``{"mean": float, "var": float}``.
    """
    noisy_arr, est = _image_pair(noisy, estimate)
    if mask is not None:
        mask = _region_mask(mask, noisy_arr.shape)
        noisy_arr, est = noisy_arr[mask], est[mask]
    ratio = _ratio(noisy_arr, est)
    return {"mean": float(ratio.mean()), "var": float(ratio.var(ddof=1))}


def speckle_snr(envelope_values) -> float:
    r"""Speckle signal-to-noise ratio of an **envelope** (amplitude) region.

    .. math:: \mathrm{SNR}_s = \mu / \sigma

    Fully developed speckle has a Rayleigh envelope with
    ``SNR = sqrt(pi / (4 - pi)) = 1.913``; despeckling raises it.

    Parameters
    ----------
    envelope_values : array_like
        Envelope (amplitude, ``sqrt(intensity)``) samples of one homogeneous region.

    Returns
    -------
    float

    References
    ----------
    C. B. Burckhardt, "Speckle in ultrasound B-mode scans", IEEE Trans. Sonics Ultrason.
    25(1), 1978; R. F. Wagner et al., "Statistics of speckle in ultrasound B-scans",
    IEEE Trans. Sonics Ultrason. 30(3), 1983.
    """
    samples = _finite_array(envelope_values, "envelope_values", min_size=2)
    std = samples.std(ddof=1)
    if std == 0.0:
        raise ValueError("region is constant; speckle SNR is undefined")
    return float(samples.mean() / std)

"""Image-quality metrics for despeckling: fidelity, speckle statistics, contrast, edges, runtime.

Every function takes NumPy arrays and returns Python floats (or a dict of floats), so the
comparison harness can tabulate them directly. Each docstring states the domain its input is
expected in; most speckle-metric mistakes are domain mistakes (an ENL computed on amplitude,
a PSNR computed on intensity with an arbitrary peak, ...).

Conventions
-----------
* Fidelity (``psnr``, ``ssim``) needs a ground truth. For the synthetic SAR protocol
  (clean intensity ``x = ((gray + 1) / 256) ** 2``, noisy ``y = x * n``) the literature
  scores on **amplitude** ``sqrt(x)`` with a **peak of 1** (the clean amplitude lies in
  (0, 1]); :func:`synthetic_protocol_scores` applies exactly that convention.
* No-reference speckle statistics (``enl``, ``ratio_statistics``) work on **intensity**
  (linear power): homogeneous intensity speckle with ``L`` looks has mean 1 and variance
  ``1/L`` for the normalised noise ``n ~ Gamma(L, 1/L)``.
* ``speckle_snr`` works on the **envelope** (amplitude), where fully developed speckle is
  Rayleigh distributed.
* Contrast (``cnr``, ``gcnr``) works on whatever domain the caller passes; gCNR is invariant to
  any strictly monotonic mapping (e.g. log compression), CNR is not.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from scipy import ndimage

__all__ = [
    "psnr",
    "ssim",
    "synthetic_protocol_scores",
    "enl",
    "ratio_image",
    "ratio_statistics",
    "cnr",
    "gcnr",
    "speckle_snr",
    "edge_preservation_index",
    "time_call",
]


def _finite_array(values, name: str, *, min_size: int = 1) -> np.ndarray:
    """Return ``values`` as a float64 array, or raise a ``ValueError`` naming ``name``."""
    array = np.asarray(values)
    if np.iscomplexobj(array):
        raise ValueError(f"{name} is complex; pass a real image (intensity or amplitude)")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.size < min_size:
        raise ValueError(
            f"{name} has {array.size} values, at least {min_size} needed "
            "(empty region of interest?)"
        )
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _image_pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    """Validate two same-shaped 2-D images and return them as float64."""
    ref = _finite_array(reference, "reference")
    est = _finite_array(estimate, "estimate")
    if ref.ndim != 2 or est.ndim != 2:
        raise ValueError(
            f"reference and estimate must be 2-D (H, W) images, got shapes "
            f"{ref.shape} and {est.shape}"
        )
    if ref.shape != est.shape:
        raise ValueError(
            f"reference and estimate shapes differ: {ref.shape} vs {est.shape}"
        )
    return ref, est


def _data_range(reference: np.ndarray, data_range) -> float:
    """The dynamic range used by PSNR/SSIM: given, or the reference's max - min."""
    if data_range is None:
        data_range = float(reference.max() - reference.min())
        if data_range == 0.0:
            raise ValueError(
                "reference image is constant (e.g. all zeros), so its data range is 0; "
                "pass data_range explicitly"
            )
    data_range = float(data_range)
    if not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive finite number, got {data_range}")
    return data_range


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


def psnr(reference, estimate, *, data_range=None) -> float:
    r"""Peak signal-to-noise ratio in dB.

    .. math:: \mathrm{PSNR} = 10 \log_{10} \frac{D^2}{\frac{1}{N}\sum_i (r_i - e_i)^2}

    Parameters
    ----------
    reference, estimate : array_like, shape (H, W)
        Ground truth and estimate, real, in the same domain (for the synthetic SAR protocol:
        amplitude; see :func:`synthetic_protocol_scores`).
    data_range : float, optional
        Peak value ``D``. Default: ``reference.max() - reference.min()``. Unlike scikit-image,
        the default never depends on the dtype, because intensity images have no natural
        dtype range.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when the images are identical.

    Raises
    ------
    ValueError
        Mismatched shapes, non-2-D or non-finite inputs, or a constant reference without
        an explicit ``data_range``.

    References
    ----------
    Same definition as ``skimage.metrics.peak_signal_noise_ratio``.

    Examples
    --------
    >>> round(psnr([[0.0, 1.0]], [[0.0, 0.9]]), 2)
    23.01
    """
    ref, est = _image_pair(reference, estimate)
    peak = _data_range(ref, data_range)
    mse = float(np.mean((ref - est) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / mse))


def ssim(reference, estimate, *, data_range=None) -> float:
    r"""Mean structural similarity index (Wang et al. 2004 convention).

    .. math::
        \mathrm{SSIM}(r, e) = \frac{(2\mu_r\mu_e + C_1)(2\sigma_{re} + C_2)}
        {(\mu_r^2 + \mu_e^2 + C_1)(\sigma_r^2 + \sigma_e^2 + C_2)},
        \quad C_1 = (0.01 D)^2,\ C_2 = (0.03 D)^2

    with local statistics from a Gaussian window (sigma 1.5, 11 taps), population
    covariances, averaged over the image minus a 5-pixel border. This is
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)``, which is what MATLAB's ``ssim`` and most despeckling
    papers report; scikit-image's own default (7x7 uniform window) gives other numbers.

    Parameters
    ----------
    reference, estimate : array_like, shape (H, W)
        Ground truth and estimate in the same domain, each side at least 11 pixels.
    data_range : float, optional
        ``D``; default ``reference.max() - reference.min()`` (1 for the synthetic protocol
        on amplitude, see :func:`synthetic_protocol_scores`).

    Returns
    -------
    float
        Mean SSIM, 1 for identical images.

    References
    ----------
    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
    error visibility to structural similarity", IEEE TIP 13(4), 2004.
    """
    from skimage.metrics import structural_similarity

    ref, est = _image_pair(reference, estimate)
    if min(ref.shape) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {ref.shape}")
    return float(
        structural_similarity(
            ref,
            est,
            data_range=_data_range(ref, data_range),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def synthetic_protocol_scores(clean_intensity, estimate_intensity) -> dict[str, float]:
    """PSNR and SSIM of the synthetic SAR despeckling protocol (amplitude, peak 1).

    Both images are converted to amplitude ``sqrt(intensity)`` and scored with
    ``data_range=1``, the convention of the SAR-CNN protocol where the clean amplitude is
    ``(gray + 1) / 256`` in (0, 1]. Estimates are **not** clipped: an estimate brighter than
    1 is penalised like any other error.

    Parameters
    ----------
    clean_intensity, estimate_intensity : array_like, shape (H, W)
        Clean and estimated **intensity** (linear power), non-negative.

    Returns
    -------
    dict
        ``{"psnr": dB, "ssim": mean SSIM}``.
    """
    clean, est = _image_pair(clean_intensity, estimate_intensity)
    for name, image in (("clean_intensity", clean), ("estimate_intensity", est)):
        if image.min() < 0:
            raise ValueError(f"{name} has negative values; intensity must be >= 0")
    clean_amp, est_amp = np.sqrt(clean), np.sqrt(est)
    return {
        "psnr": psnr(clean_amp, est_amp, data_range=1.0),
        "ssim": ssim(clean_amp, est_amp, data_range=1.0),
    }


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
        mask = np.asarray(mask)
        if mask.shape != noisy_arr.shape:
            raise ValueError(f"mask shape {mask.shape} differs from image shape {noisy_arr.shape}")
        mask = mask.astype(bool)
        if np.count_nonzero(mask) < 2:
            raise ValueError("mask selects fewer than 2 pixels (empty region of interest)")
        noisy_arr, est = noisy_arr[mask], est[mask]
    ratio = _ratio(noisy_arr, est)
    return {"mean": float(ratio.mean()), "var": float(ratio.var(ddof=1))}


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


def edge_preservation_index(reference, estimate, mask=None) -> float:
    r"""Edge preservation index of Sattar et al.: correlation of the Laplacians.

    .. math::
        \mathrm{EPI} = \frac{\sum (\Delta r - \overline{\Delta r})(\Delta e - \overline{\Delta e})}
        {\sqrt{\sum (\Delta r - \overline{\Delta r})^2 \sum (\Delta e - \overline{\Delta e})^2}}

    with ``Delta`` the 3x3 discrete Laplacian (``scipy.ndimage.laplace``, reflect borders).
    1 means the estimate's edges match the reference's exactly.

    Parameters
    ----------
    reference, estimate : array_like, shape (H, W)
        Reference (the clean image when known, else the noisy image) and estimate in the
        same domain (amplitude is a good choice: intensity over-weights bright edges).
    mask : array_like of bool, optional
        Region over which the correlation is taken (e.g. around an edge); default all.

    Returns
    -------
    float
        EPI in [-1, 1].

    References
    ----------
    F. Sattar, L. Floreby, G. Salomonsson, B. Lovstrom, "Image enhancement based on a
    nonlinear multiscale method", IEEE TIP 6(6), 1997.
    """
    ref, est = _image_pair(reference, estimate)
    lap_ref, lap_est = ndimage.laplace(ref), ndimage.laplace(est)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != ref.shape:
            raise ValueError(f"mask shape {mask.shape} differs from image shape {ref.shape}")
        if np.count_nonzero(mask) < 2:
            raise ValueError("mask selects fewer than 2 pixels (empty region of interest)")
        lap_ref, lap_est = lap_ref[mask], lap_est[mask]
    lap_ref = lap_ref - lap_ref.mean()
    lap_est = lap_est - lap_est.mean()
    norm = np.sqrt(np.sum(lap_ref**2) * np.sum(lap_est**2))
    if norm == 0.0:
        raise ValueError("an image has no edges (zero Laplacian); EPI is undefined")
    return float(np.sum(lap_ref * lap_est) / norm)


def time_call(func: Callable[..., Any], *args, repeat: int = 1, **kwargs) -> tuple[Any, float]:
    """Run ``func(*args, **kwargs)`` and return its result and the wall-clock time.

    Parameters
    ----------
    func : callable
    *args, **kwargs
        Passed to ``func``.
    repeat : int, optional
        Number of runs; the **fastest** is reported (the least disturbed by other load on
        the machine), the result of the last run is returned.

    Returns
    -------
    result : object
        What ``func`` returned.
    seconds : float
        Wall-clock seconds (``time.perf_counter``) of the fastest run.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best

"""Full-reference fidelity: PSNR and SSIM (on amplitude or on the B-mode display) and EPI.

Both images must be in the same domain; :func:`synthetic_protocol_scores` and the B-mode
scores take INTENSITY and convert it themselves (amplitude, peak 1; B-mode dB).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._common import _image_pair, _region_mask


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


def _bmode_pair(reference_intensity, estimate_intensity, dynamic_range) -> tuple[np.ndarray, np.ndarray, float]:
    """Both intensities log-compressed to dB relative to the reference's maximum, clipped."""
    from s2v.domains import intensity_to_bmode  # the one log-compression convention

    ref, est = _image_pair(reference_intensity, estimate_intensity)
    for name, image in (("reference_intensity", ref), ("estimate_intensity", est)):
        if image.min() < 0:
            raise ValueError(f"{name} has negative values; intensity must be >= 0 (pass linear power)")
    dynamic_range = float(dynamic_range)
    if not np.isfinite(dynamic_range) or dynamic_range <= 0:
        raise ValueError(f"dynamic_range must be a positive number of dB, got {dynamic_range}")
    peak = float(ref.max())
    if peak <= 0:
        raise ValueError("reference_intensity is all zeros; its B-mode (relative to its maximum) is undefined")
    to_db = lambda image: intensity_to_bmode(  # noqa: E731
        image, dynamic_range=dynamic_range, scale="db", reference=peak
    ).astype(np.float64)
    return to_db(ref), to_db(est), dynamic_range


def bmode_psnr(reference_intensity, estimate_intensity, *, dynamic_range=60.0) -> float:
    r"""PSNR of two **intensity** images on their log-compressed B-mode (dB) display.

    Both images are log-compressed with the reference's maximum at 0 dB,
    ``b = clip(10 log10(I / max(I_ref)), -DR, 0)`` (:func:`s2v.domains.intensity_to_bmode`),
    and compared with the peak ``DR``:

    .. math:: \mathrm{PSNR}_{B} = 10 \log_{10} \frac{DR^2}{\frac{1}{N}\sum_i (b^{ref}_i - b^{est}_i)^2}

    This is the image a clinician reads: dark regions (cysts, vessels) weigh as much as
    bright ones, unlike PSNR on amplitude, which over-smoothing of dark detail hardly
    changes. Errors below ``-DR`` (under the display floor) are not counted.

    Parameters
    ----------
    reference_intensity, estimate_intensity : array_like, shape (H, W)
        Ground truth and estimate, LINEAR INTENSITY (non-negative).
    dynamic_range : float, optional
        ``DR`` in dB (60, a common abdominal display setting; state it with the score).

    Returns
    -------
    float
        PSNR in dB; ``inf`` when the two B-mode images are identical.

    Examples
    --------
    >>> round(bmode_psnr([[1.0, 0.1]], [[1.0, 0.2]]), 2)  # errors 0 and 3.01 dB
    29.0
    """
    ref, est, dynamic_range = _bmode_pair(reference_intensity, estimate_intensity, dynamic_range)
    return psnr(ref, est, data_range=dynamic_range)


def bmode_ssim(reference_intensity, estimate_intensity, *, dynamic_range=60.0) -> float:
    r"""Mean SSIM of two **intensity** images on their log-compressed B-mode (dB) display.

    The log compression of :func:`bmode_psnr` (reference maximum at 0 dB, clipped to
    ``[-DR, 0]``), then :func:`ssim` with ``data_range = DR`` (Wang et al. 2004 settings:
    Gaussian window sigma 1.5, population covariances).

    Parameters
    ----------
    reference_intensity, estimate_intensity : array_like, shape (H, W)
        Ground truth and estimate, LINEAR INTENSITY (non-negative), each side >= 11.
    dynamic_range : float, optional
        ``DR`` in dB (60).

    Returns
    -------
    float
        Mean SSIM, 1 for identical B-mode images.
    """
    ref, est, dynamic_range = _bmode_pair(reference_intensity, estimate_intensity, dynamic_range)
    return ssim(ref, est, data_range=dynamic_range)


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
        mask = _region_mask(mask, ref.shape)
        lap_ref, lap_est = lap_ref[mask], lap_est[mask]
    lap_ref = lap_ref - lap_ref.mean()
    lap_est = lap_est - lap_est.mean()
    norm = np.sqrt(np.sum(lap_ref**2) * np.sum(lap_est**2))
    if norm == 0.0:
        raise ValueError("an image has no edges (zero Laplacian); EPI is undefined")
    return float(np.sum(lap_ref * lap_est) / norm)

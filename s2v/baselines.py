"""Classical despeckling filters, all with one signature: ``f(intensity, *, looks=1.0, ...)``.

Every filter takes a 2-D **intensity** image (linear power ``|z|^2``, speckle model
``y = x * n`` with ``n ~ Gamma(L, 1/L)``), returns an intensity image of the same shape, and
keeps float32 as float32 (integer and float16 inputs give float32, float64 stays float64).
Algorithm settings default to the values of the original papers, or to common practice
where the paper leaves them open (noted in each docstring). Each docstring states the domain
the filter works in internally (intensity, amplitude or log-intensity) and how the result is
brought back to intensity without a radiometric bias.

Speckle is often spatially correlated (ultrasound: over the point-spread function). The
non-local filters (NLM-log, OBNLM, BM3D-log) therefore take their noise model from the data
by default: the log-speckle autocorrelation is estimated in the most homogeneous windows of
the image (:func:`estimate_log_speckle_correlation`) and sets the smoothing parameter of the
patch filters (:func:`patch_distance_inflation`) and BM3D's noise power spectrum
(:func:`estimate_log_noise_psd`). ``noise_correlation=None`` / ``noise_psd=None`` restore
the white-speckle filters as published; an array gives the model explicitly.

``BASELINES`` maps short names to the filters, so a comparison is a loop over it.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
from scipy import ndimage, special, stats

__all__ = [
    "denoise_boxcar",
    "denoise_median",
    "denoise_lee",
    "denoise_enhanced_lee",
    "denoise_kuan",
    "denoise_frost",
    "denoise_srad",
    "denoise_obnlm",
    "denoise_nlm_log",
    "denoise_bm3d_log",
    "log_speckle_moments",
    "homogeneous_windows",
    "estimate_log_speckle_correlation",
    "estimate_log_noise_psd",
    "log_noise_psd",
    "patch_distance_inflation",
    "BASELINES",
]

# Zero intensities are raised to this fraction of the image mean before a logarithm or a
# division: exponential (single-look) speckle puts only a 1e-6 fraction of pixels below it.
_RELATIVE_FLOOR = 1e-6


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------
def _validate(intensity, looks, name: str) -> tuple[np.ndarray, np.dtype, float]:
    """Check a denoiser input; return (float64 working copy, output dtype, looks)."""
    image = np.asarray(intensity)
    if np.iscomplexobj(image):
        raise ValueError(
            f"{name}: input is complex; pass intensity |z|**2 "
            "(s2v.domains.intensity_from_complex)"
        )
    if image.dtype == bool or not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"{name}: input must be a numeric intensity image, got dtype {image.dtype}")
    if image.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) intensity image, got shape {image.shape}")
    if min(image.shape) < 3:
        raise ValueError(f"{name}: image must be at least 3x3 pixels, got shape {image.shape}")
    work = image.astype(np.float64)
    if not np.all(np.isfinite(work)):
        raise ValueError(f"{name}: intensity contains NaN or infinite values")
    if work.min() < 0:
        raise ValueError(
            f"{name}: intensity has negative values (min {work.min():.3g}); "
            "pass linear power |z|**2, not log or dB data"
        )
    if work.max() == 0:
        raise ValueError(f"{name}: intensity image is all zeros; nothing to despeckle")
    looks = float(looks)
    if not np.isfinite(looks) or looks <= 0:
        raise ValueError(f"{name}: looks must be a positive number, got {looks}")
    out_dtype = np.result_type(image.dtype, np.float32)
    return work, out_dtype, looks


def _check_window(value: int, name: str, what: str = "window_size") -> int:
    """An odd window size >= 3."""
    if int(value) != value or value < 3 or value % 2 == 0:
        raise ValueError(f"{name}: {what} must be an odd integer >= 3, got {value}")
    return int(value)


def _check_positive(value: float, name: str, what: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: {what} must be a positive number, got {value}")
    return value


def _floored(image: np.ndarray) -> np.ndarray:
    """Strictly positive copy of an intensity image (zeros raised to a tiny floor)."""
    return np.maximum(image, _RELATIVE_FLOOR * image.mean())


def _local_moments(image: np.ndarray, window_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Local mean and (population) variance over a square window, reflect borders."""
    mean = ndimage.uniform_filter(image, window_size, mode="reflect")
    mean_sq = ndimage.uniform_filter(image * image, window_size, mode="reflect")
    return mean, np.maximum(mean_sq - mean * mean, 0.0)


def _squared_variation(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Squared local coefficient of variation ``var / mean**2`` (0 where the mean is 0)."""
    return np.divide(var, mean * mean, out=np.zeros_like(var), where=mean > 0)


def _noise_to_local_variation(mean: np.ndarray, var: np.ndarray, looks: float) -> np.ndarray:
    """``C_u^2 / C_i^2`` with ``C_u^2 = 1/L``; ``inf`` where the window is constant."""
    ci2 = _squared_variation(mean, var)
    return np.divide(1.0 / looks, ci2, out=np.full_like(ci2, np.inf), where=ci2 > 0)


def log_speckle_moments(looks: float) -> tuple[float, float]:
    r"""Mean and standard deviation of log-speckle ``log n`` for ``n ~ Gamma(L, 1/L)``.

    .. math:: E[\log n] = \psi(L) - \ln L, \qquad \mathrm{Var}[\log n] = \psi_1(L)

    (digamma and trigamma functions). For ``L = 1``: mean ``-0.5772`` (minus the
    Euler-Mascheroni constant), standard deviation ``pi / sqrt(6) = 1.2825``.

    References
    ----------
    H. Xie, L. E. Pierce, F. T. Ulaby, "Statistical properties of logarithmically
    transformed speckle", IEEE TGRS 40(3), 2002.
    """
    looks = _check_positive(looks, "log_speckle_moments", "looks")
    return float(special.digamma(looks) - np.log(looks)), float(np.sqrt(special.polygamma(1, looks)))


# ---------------------------------------------------------------------------------------
# noise model of the log-speckle, estimated from the data
# ---------------------------------------------------------------------------------------
def _check_fraction(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name}: fraction must be in (0, 1], got {value}")
    return value


def _psd_window(shape: tuple[int, int], window: int, name: str) -> int:
    """The side of the estimation windows: ``window``, shrunk to fit twice in each direction."""
    if int(window) != window or window < 4:
        raise ValueError(f"{name}: window must be an integer >= 4, got {window}")
    fitted = min(int(window), shape[0] // 2, shape[1] // 2)
    if fitted < 4:
        raise ValueError(
            f"{name}: image {shape} is too small to estimate the noise correlation "
            "(at least 8x8 pixels); pass the noise model explicitly"
        )
    return fitted


def homogeneous_windows(log_image, *, window=32, fraction=0.1) -> np.ndarray:
    r"""The most homogeneous square windows of a **log-intensity** image, trend removed.

    The image is tiled by ``window x window`` windows with half-window steps. From each
    window its least-squares plane ``a + b row + c col`` is subtracted (a smooth shading of
    the echo level is signal, not speckle); in a homogeneous area what remains is the
    log-speckle alone, and any structure (edges, cysts, texture) adds variance, so the
    ``fraction`` of windows with the lowest residual variance are kept. Log-speckle is
    scale-free (its law does not depend on the echo level), so dark and bright homogeneous
    areas count alike.

    Parameters
    ----------
    log_image : array_like, shape (H, W)
        LOG-INTENSITY image (``log y``), finite.
    window : int, optional
        Window side (32). Smaller windows find homogeneous areas even in busy scenes (with
        64, the residual structure of natural images passed for correlated noise, e.g.
        ``A`` of :func:`patch_distance_inflation` up to 1.6 on white-speckled Set12
        images, against at most 1.05 with 32), yet hold the correlation of ultrasound
        speckle (a few pixels). Shrunk to ``min(H, W) // 2`` on small images.
    fraction : float, optional
        Share of the windows kept (0.1, at least 4 windows or all there are). On
        white-speckled Set12 images the estimated lag-1 correlation, all of it leaked
        image structure, fell from up to 0.06 with 0.25 to at most 0.05 with 0.1, while
        the estimate on ultrasound phantoms did not change (``A`` within 2 %).

    Returns
    -------
    ndarray, shape (K, w, w)
        The selected windows, each with its plane removed (zero mean).
    """
    name = "homogeneous_windows"
    image = np.asarray(log_image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D log-intensity image, got shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{name}: log-intensity contains NaN or infinite values")
    fraction = _check_fraction(fraction, name)
    side = _psd_window(image.shape, window, name)
    step = max(side // 2, 1)
    windows = np.lib.stride_tricks.sliding_window_view(image, (side, side))[::step, ::step]
    flat = windows.reshape(-1, side * side)
    rows, cols = np.mgrid[0:side, 0:side]
    design = np.stack([np.ones(side * side), rows.ravel(), cols.ravel()], axis=1)
    coefficients = np.linalg.lstsq(design, flat.T, rcond=None)[0]
    residuals = flat - (design @ coefficients).T
    keep = max(min(4, len(residuals)), int(round(fraction * len(residuals))))
    chosen = np.argsort(residuals.var(axis=1), kind="stable")[:keep]
    return residuals[chosen].reshape(-1, side, side)


def estimate_log_speckle_correlation(intensity, *, window=32, fraction=0.1, significance=3.0) -> np.ndarray:
    r"""Autocorrelation coefficient of the log-speckle, estimated from the image itself.

    Speckle of an imaging system is correlated over its point-spread function (ultrasound:
    a few pixels axially and laterally; SAR: depends on the spectral weighting), and so is
    the log-speckle ``log n``. Over the ``K`` homogeneous windows ``w_k`` of
    :func:`homogeneous_windows` (``w x w`` pixels, plane removed) the estimate is

    .. math::
        \hat c(\tau) = \frac{\sum_k \sum_p w_k(p)\, w_k(p + \tau)}
                            {K (w - |\tau_0|)(w - |\tau_1|)}, \qquad
        \hat\rho(\tau) = \hat c(\tau) / \hat c(0), \qquad |\tau_0|, |\tau_1| \le w / 2,

    the averaged sample autocorrelation normalised by the number of pixel pairs at each
    lag, computed from the windows' zero-padded periodograms. Lags beyond ``w / 2`` are
    dropped (too few pairs). Lags that do not stand out of the sampling noise are then set
    to 0: by Bartlett's formula the standard error of :math:`\hat\rho(\tau)` is about
    :math:`\sqrt{\sum_k \rho(k)^2 / N_\tau}` (``N_tau`` the pixel pairs at lag ``tau``
    over all windows), and lags below ``significance`` times it are dropped. Without this
    step the ~1000 noisy lags made the spectrum of white speckle swing between 0 and 2.4
    times its mean, and BM3D lost 0.15 dB against the white model on such an image.
    The plane removal biases the far lags slightly negative (about -0.05 at 3 to 5
    correlation lengths for 32-pixel windows), which leaves a small dip at zero frequency
    in the derived spectrum; BM3D was measured insensitive to it (within 0.15 dB against
    64-pixel windows without the dip).

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy **intensity** (linear power); zeros are raised to a tiny floor before the log.
    window, fraction : optional
        See :func:`homogeneous_windows`.
    significance : float, optional
        Lags whose estimate is below ``significance`` standard errors are set to 0 (3; 0
        keeps every lag).

    Returns
    -------
    ndarray, shape (2m + 1, 2m + 1), ``m = w // 2``
        ``rho`` with lag ``(0, 0)`` at the centre (value 1), axis 0 the row (axial, in
        ultrasound) lag. White speckle gives a centred delta, up to sampling noise of order
        ``1 / sqrt(K w^2)``. For fully developed speckle whose complex amplitude has
        correlation ``mu`` at some lag, the log-intensity correlation there is
        ``Li2(|mu|^2) / Li2(1)`` (``Li2`` the dilogarithm, ``Li2(1) = pi^2 / 6``).

    References
    ----------
    H. Xie, L. E. Pierce, F. T. Ulaby, "Statistical properties of logarithmically
    transformed speckle", IEEE TGRS 40(3), 2002 (the log of correlated speckle is
    correlated too, slightly less than the intensity).
    """
    image, _, _ = _validate(intensity, 1.0, "estimate_log_speckle_correlation")
    significance = float(significance)
    if not np.isfinite(significance) or significance < 0:
        raise ValueError(f"estimate_log_speckle_correlation: significance must be >= 0, got {significance}")
    windows = homogeneous_windows(np.log(_floored(image)), window=window, fraction=fraction)
    side = windows.shape[-1]
    spectrum = np.mean(np.abs(np.fft.fft2(windows, s=(2 * side, 2 * side))) ** 2, axis=0)
    products = np.fft.fftshift(np.real(np.fft.ifft2(spectrum)))  # lag 0 at [side, side]
    half = side // 2
    lags = np.arange(-half, half + 1)
    pairs = (side - np.abs(lags))[:, None] * (side - np.abs(lags))[None, :]
    covariance = products[side - half : side + half + 1, side - half : side + half + 1] / pairs
    if covariance[half, half] <= 0:
        raise ValueError("estimate_log_speckle_correlation: the homogeneous windows are constant")
    rho = covariance / covariance[half, half]
    # Keep only the lags that stand out of the sampling noise (Bartlett's formula:
    # std of rho_hat(tau) ~ sqrt(sum_k rho(k)^2 / N_tau), N_tau = the pixel pairs at lag tau).
    standard_error = np.sqrt(np.sum(rho**2) / (len(windows) * pairs))
    rho[np.abs(rho) < significance * standard_error] = 0.0
    rho[half, half] = 1.0
    return rho


def log_noise_psd(correlation, shape, variance) -> np.ndarray:
    r"""Noise power spectrum on an ``(H, W)`` frequency grid from an autocorrelation.

    .. math:: S(f) = \sigma^2 \sum_\tau \rho(\tau)\, e^{-2 i \pi f \cdot \tau},
              \qquad \frac{1}{HW} \sum_f S(f) = \sigma^2

    (``rho`` embedded circularly in the ``H x W`` grid, lags beyond the grid dropped).
    Negative values, possible only for a ``rho`` that is not positive definite or that
    had to be cropped, are set to 0.

    Parameters
    ----------
    correlation : array_like, shape (2a + 1, 2b + 1)
        Autocorrelation coefficient with lag 0 at the centre (e.g.
        :func:`estimate_log_speckle_correlation`).
    shape : (int, int)
        ``(H, W)`` of the image to denoise.
    variance : float
        ``sigma^2``, the per-pixel noise variance (log-speckle: ``psi_1(L)``).

    Returns
    -------
    ndarray, shape (H, W)
        ``S``, unshifted (frequency 0 at ``[0, 0]``), mean ``variance``. White noise of
        standard deviation ``s`` is ``np.full(shape, s**2)``.
    """
    rho = np.asarray(correlation, dtype=np.float64)
    if rho.ndim != 2 or rho.shape[0] % 2 == 0 or rho.shape[1] % 2 == 0:
        raise ValueError(f"log_noise_psd: correlation must be 2-D with odd sides, got {rho.shape}")
    height, width = int(shape[0]), int(shape[1])
    half0, half1 = rho.shape[0] // 2, rho.shape[1] // 2
    keep0, keep1 = min(half0, (height - 1) // 2), min(half1, (width - 1) // 2)
    rho = rho[half0 - keep0 : half0 + keep0 + 1, half1 - keep1 : half1 + keep1 + 1]
    grid = np.zeros((height, width))
    grid[: rho.shape[0], : rho.shape[1]] = rho
    grid = np.roll(grid, (-keep0, -keep1), axis=(0, 1))  # lag 0 to [0, 0]
    psd = np.maximum(np.real(np.fft.fft2(grid)), 0.0)
    return psd * (float(variance) / psd.mean())


def estimate_log_noise_psd(intensity, *, looks=1.0, window=32, fraction=0.1, significance=3.0) -> np.ndarray:
    r"""Power spectral density of the log-speckle of an intensity image, from the image.

    The spectrum's **shape** comes from the data (the autocorrelation of the log-speckle in
    the most homogeneous windows, :func:`estimate_log_speckle_correlation`), its **level**
    from the speckle model: for ``L``-look fully developed speckle the per-pixel variance
    of ``log n`` is ``psi_1(L)`` (:func:`log_speckle_moments`) whatever the correlation,
    so the PSD is normalised to that mean (:func:`log_noise_psd`).

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy **intensity**, non-negative.
    looks : float, optional
        Number of looks ``L`` (sets the total power ``psi_1(L)``; 1 for single-look SAR and
        for the envelope of ultrasound IQ).
    window, fraction, significance : optional
        See :func:`estimate_log_speckle_correlation`.

    Returns
    -------
    ndarray, shape (H, W)
        PSD of the LOG-INTENSITY noise, unshifted, mean ``psi_1(L)`` (the convention of
        ``denoise_bm3d_log(noise_psd=...)``).
    """
    image, _, looks = _validate(intensity, looks, "estimate_log_noise_psd")
    rho = estimate_log_speckle_correlation(image, window=window, fraction=fraction, significance=significance)
    return log_noise_psd(rho, image.shape, log_speckle_moments(looks)[1] ** 2)


def patch_distance_inflation(correlation, patch_size) -> float:
    r"""How much noise correlation widens the spread of a patch distance.

    For two patches of pure noise with per-pixel variance ``sigma^2`` and correlation
    ``rho``, the mean squared difference ``d^2`` over a ``P = p x p`` patch has mean
    ``2 sigma^2`` with or without correlation, but (for Gaussian noise) variance

    .. math::
        \mathrm{Var}[d^2] = \frac{8\sigma^4}{P} A, \qquad
        A = \sum_{\tau} \rho(\tau)^2 \Big(1 - \frac{|\tau_0|}{p}\Big)\Big(1 - \frac{|\tau_1|}{p}\Big),

    i.e. ``A`` times that of white noise (``A = 1`` for white noise, at most ``P``): ``A``
    is the number of pixels per independent sample inside a patch. A patch-similarity
    filter whose smoothing parameter ``h^2`` is scaled to the spread of noise distances
    should therefore use ``h * A**(1/4)`` on correlated noise.

    Parameters
    ----------
    correlation : array_like, shape (2a + 1, 2b + 1)
        Autocorrelation coefficient, lag 0 at the centre.
    patch_size : int
        Patch side ``p``.

    Returns
    -------
    float
        ``A >= 1``.
    """
    rho = np.asarray(correlation, dtype=np.float64)
    patch_size = int(patch_size)
    half0, half1 = rho.shape[0] // 2, rho.shape[1] // 2
    lag0 = np.arange(-half0, half0 + 1)[:, None]
    lag1 = np.arange(-half1, half1 + 1)[None, :]
    weight = np.clip(1 - np.abs(lag0) / patch_size, 0, None) * np.clip(1 - np.abs(lag1) / patch_size, 0, None)
    return float(max(np.sum(rho**2 * weight), 1.0))


# ---------------------------------------------------------------------------------------
# local-statistics filters (intensity domain)
# ---------------------------------------------------------------------------------------
def denoise_boxcar(intensity, *, looks=1.0, window_size=7):
    """Boxcar (moving average, multilook) filter.

    Works on **intensity**, where averaging ``N`` independent pixels of a homogeneous area
    is unbiased and raises the ENL from ``L`` to ``N L``; edges and texture are blurred.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks (unused: the boxcar does not adapt; kept for the common signature).
    window_size : int, optional
        Odd side of the square window (7: the usual 7x7 multilook).

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity (float32 for float32 input).
    """
    image, dtype, _ = _validate(intensity, looks, "denoise_boxcar")
    window_size = _check_window(window_size, "denoise_boxcar")
    return ndimage.uniform_filter(image, window_size, mode="reflect").astype(dtype)


def denoise_median(intensity, *, looks=1.0, window_size=7):
    """Median filter with the speckle bias corrected.

    Works on **intensity**. The median of ``x * n`` over a homogeneous area is ``x`` times the
    median of ``Gamma(L, 1/L)`` (``ln 2 = 0.693`` for ``L = 1``), so the output is divided by
    that median to stay unbiased in homogeneous areas.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks ``L`` (sets the bias correction).
    window_size : int, optional
        Odd side of the square window.

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_median")
    window_size = _check_window(window_size, "denoise_median")
    speckle_median = stats.gamma.median(looks, scale=1.0 / looks)
    filtered = ndimage.median_filter(image, size=window_size, mode="reflect")
    return (filtered / speckle_median).astype(dtype)


def denoise_lee(intensity, *, looks=1.0, window_size=7):
    r"""Lee filter (local linear MMSE estimate for multiplicative noise).

    .. math::
        \hat x = \bar y + W (y - \bar y), \quad
        W = \max\left(0, 1 - \frac{C_u^2}{C_i^2}\right), \quad
        C_u^2 = \frac{1}{L}, \quad C_i^2 = \frac{\sigma_y^2}{\bar y^2}

    with the local mean and variance over the window. Works on **intensity**.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks ``L`` (noise coefficient of variation ``1/sqrt(L)``).
    window_size : int, optional
        Odd side of the square window (7, as in Lee 1980's examples and common practice).

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    J.-S. Lee, "Digital image enhancement and noise filtering by use of local statistics",
    IEEE TPAMI 2(2), 1980. A. Lopes, R. Touzi, E. Nezry, "Adaptive speckle filters and scene
    heterogeneity", IEEE TGRS 28(6), 1990 (the form used here).
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_lee")
    window_size = _check_window(window_size, "denoise_lee")
    mean, var = _local_moments(image, window_size)
    weight = np.clip(1.0 - _noise_to_local_variation(mean, var, looks), 0.0, 1.0)
    return (mean + weight * (image - mean)).astype(dtype)


def denoise_kuan(intensity, *, looks=1.0, window_size=7):
    r"""Kuan filter (local linear MMSE without Lee's linearisation of the noise model).

    .. math::
        \hat x = \bar y + W (y - \bar y), \quad
        W = \max\left(0, \frac{1 - C_u^2 / C_i^2}{1 + C_u^2}\right)

    with :math:`C_u^2 = 1/L` and :math:`C_i^2 = \sigma_y^2 / \bar y^2` over the window.
    Works on **intensity**.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks ``L``.
    window_size : int, optional
        Odd side of the square window.

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    D. T. Kuan, A. A. Sawchuk, T. C. Strand, P. Chavel, "Adaptive noise smoothing filter for
    images with signal-dependent noise", IEEE TPAMI 7(2), 1985.
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_kuan")
    window_size = _check_window(window_size, "denoise_kuan")
    mean, var = _local_moments(image, window_size)
    ratio = _noise_to_local_variation(mean, var, looks)
    weight = np.clip((1.0 - ratio) / (1.0 + 1.0 / looks), 0.0, 1.0)
    return (mean + weight * (image - mean)).astype(dtype)


def denoise_enhanced_lee(intensity, *, looks=1.0, window_size=7, damping=1.0):
    r"""Enhanced Lee filter (Lopes et al. 1990): three classes of local heterogeneity.

    With :math:`C_u = 1/\sqrt{L}`, :math:`C_{max} = \sqrt{1 + 2/L}` and the local
    coefficient of variation :math:`C_i`:

    * :math:`C_i \le C_u` (homogeneous): :math:`\hat x = \bar y`;
    * :math:`C_u < C_i < C_{max}`: :math:`\hat x = \bar y W + y (1 - W)`,
      :math:`W = \exp(-K (C_i - C_u) / (C_{max} - C_i))`;
    * :math:`C_i \ge C_{max}` (point target): :math:`\hat x = y`.

    Works on **intensity**.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks ``L``.
    window_size : int, optional
        Odd side of the square window.
    damping : float, optional
        ``K`` (1 in Lopes et al.).

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    A. Lopes, R. Touzi, E. Nezry, "Adaptive speckle filters and scene heterogeneity",
    IEEE TGRS 28(6), 1990.
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_enhanced_lee")
    window_size = _check_window(window_size, "denoise_enhanced_lee")
    damping = _check_positive(damping, "denoise_enhanced_lee", "damping")
    mean, var = _local_moments(image, window_size)
    ci = np.sqrt(_squared_variation(mean, var))
    cu, cmax = np.sqrt(1.0 / looks), np.sqrt(1.0 + 2.0 / looks)
    # Clipping C_i into (C_u, C_max) makes W = 1 in homogeneous areas and W -> 0 at targets.
    ci_mid = np.clip(ci, cu, np.nextafter(cmax, 0.0))
    weight = np.exp(-damping * (ci_mid - cu) / (cmax - ci_mid))
    return (mean * weight + image * (1.0 - weight)).astype(dtype)


def denoise_frost(intensity, *, looks=1.0, window_size=7, damping=0.5):
    r"""Frost filter: an exponentially damped average adapted to the local variation.

    .. math::
        \hat x(p) = \frac{\sum_{t} m_p(t)\, y(p + t)}{\sum_t m_p(t)}, \quad
        m_p(t) = \exp\left(-K\, \frac{C_i^2(p)}{C_u^2}\, |t|\right), \quad C_u^2 = \frac{1}{L}

    i.e. the damping is the local squared coefficient of variation normalised by the noise
    one (so that a homogeneous area gets the same kernel for any number of looks), times
    ``K``, times the Euclidean distance ``|t|`` in pixels. Homogeneous
    areas get a wide kernel, edges a narrow one. Works on **intensity**; the kernel is
    normalised, so the filter is unbiased in homogeneous areas.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks ``L``.
    window_size : int, optional
        Odd side of the square window.
    damping : float, optional
        ``K`` (Frost et al. leave it free). 0.5 scored best among 0.25, 0.5, 1 and 2 on
        single-look speckle over BSD68 images (the protocol's training set, not its test
        set); with 2 the kernel is almost a delta for single-look data.

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    V. S. Frost, J. A. Stiles, K. S. Shanmugan, J. C. Holtzman, "A model for radar images and
    its application to adaptive digital filtering of multiplicative noise", IEEE TPAMI 4(2),
    1982.
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_frost")
    window_size = _check_window(window_size, "denoise_frost")
    damping = _check_positive(damping, "denoise_frost", "damping")
    mean, var = _local_moments(image, window_size)
    rate = damping * looks * _squared_variation(mean, var)
    radius = window_size // 2
    padded = np.pad(image, radius, mode="reflect")
    height, width = image.shape
    numerator = np.zeros_like(image)
    denominator = np.zeros_like(image)
    # One pass per window offset: vectorised over pixels, the per-pixel kernel is formed
    # on the fly from the rate map.
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            kernel = np.exp(-rate * np.hypot(dy, dx))
            shifted = padded[radius + dy : radius + dy + height, radius + dx : radius + dx + width]
            numerator += kernel * shifted
            denominator += kernel
    return (numerator / denominator).astype(dtype)


# ---------------------------------------------------------------------------------------
# anisotropic diffusion
# ---------------------------------------------------------------------------------------
def denoise_srad(intensity, *, looks=1.0, n_iter=200, dt=0.05, rho=1.0 / 6.0, q0=None):
    r"""Speckle reducing anisotropic diffusion (Yu & Acton 2002).

    Solves :math:`\partial_t I = \mathrm{div}(c(q)\nabla I)` with the instantaneous
    coefficient of variation

    .. math::
        q^2 = \frac{\frac12 (|\nabla I|/I)^2 - \frac1{16} (\nabla^2 I / I)^2}
                   {\left(1 + \frac14 \nabla^2 I / I\right)^2}

    and the diffusion coefficient
    :math:`c(q) = 1 / \left(1 + \frac{q^2 - q_0^2}{q_0^2 (1 + q_0^2)}\right)`, where the
    speckle scale :math:`q_0(t) = q_0 \exp(-\rho t)` decays with diffusion time as in the
    paper. The explicit scheme is the paper's discretisation: one-sided differences for
    :math:`|\nabla I|^2`, the 4-neighbour Laplacian, :math:`I \leftarrow I + \frac{\Delta t}{4}
    \mathrm{div}`, Neumann borders. ``c`` is clipped to [0, 1], which keeps the scheme
    stable for ``dt <= 1/4``.

    Works on **intensity**: ``q0`` defaults to ``1/sqrt(L)``, the coefficient of variation of
    homogeneous ``L``-look intensity speckle (the value the paper estimates from a
    homogeneous region). Zero pixels are raised to a tiny floor first (``q`` divides by I).

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative.
    looks : float, optional
        Number of looks ``L``.
    n_iter : int, optional
        Number of explicit steps; the diffusion time is ``n_iter * dt = 10`` by default
        (the paper leaves it to the user; on single-look BSD68 images PSNR stops improving
        after about 200 steps of 0.05, since ``q0(t)`` has decayed to ``0.19 q0``).
    dt : float, optional
        Time step (0.05 in the paper's experiments), at most 0.25.
    rho : float, optional
        Decay rate of ``q0(t)`` (1/6 in the paper).
    q0 : float, optional
        Initial speckle scale; default ``1/sqrt(looks)``.

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    Y. Yu, S. T. Acton, "Speckle reducing anisotropic diffusion", IEEE TIP 11(11), 2002.
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_srad")
    if int(n_iter) != n_iter or n_iter < 0:
        raise ValueError(f"denoise_srad: n_iter must be a non-negative integer, got {n_iter}")
    dt = _check_positive(dt, "denoise_srad", "dt")
    if dt > 0.25:
        raise ValueError(f"denoise_srad: dt must be <= 0.25 for a stable explicit scheme, got {dt}")
    rho = float(rho)
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"denoise_srad: rho must be a non-negative number, got {rho}")
    q0 = 1.0 / np.sqrt(looks) if q0 is None else _check_positive(q0, "denoise_srad", "q0")

    current = _floored(image)
    for step in range(int(n_iter)):
        padded = np.pad(current, 1, mode="edge")
        north = padded[:-2, 1:-1] - current
        south = padded[2:, 1:-1] - current
        west = padded[1:-1, :-2] - current
        east = padded[1:-1, 2:] - current
        grad2 = (north**2 + south**2 + west**2 + east**2) / current**2
        lap = (north + south + west + east) / current
        q2 = (0.5 * grad2 - lap**2 / 16.0) / (1.0 + 0.25 * lap) ** 2
        q0_t2 = (q0 * np.exp(-rho * step * dt)) ** 2
        coeff = np.clip(1.0 / (1.0 + (q2 - q0_t2) / (q0_t2 * (1.0 + q0_t2))), 0.0, 1.0)
        coeff_padded = np.pad(coeff, 1, mode="edge")
        divergence = (
            coeff_padded[2:, 1:-1] * south
            + coeff * north
            + coeff_padded[1:-1, 2:] * east
            + coeff * west
        )
        current = current + 0.25 * dt * divergence
    return current.astype(dtype)


# ---------------------------------------------------------------------------------------
# non-local filters
# ---------------------------------------------------------------------------------------
def _noise_correlation(image: np.ndarray, noise_correlation, name: str) -> np.ndarray | None:
    """Resolve a ``noise_correlation`` option: "auto" (estimated), None (white) or an array."""
    if noise_correlation is None:
        return None
    if isinstance(noise_correlation, str):
        if noise_correlation != "auto":
            raise ValueError(
                f"{name}: noise_correlation must be 'auto', None or an array, got {noise_correlation!r}"
            )
        return estimate_log_speckle_correlation(image)
    rho = np.asarray(noise_correlation, dtype=np.float64)
    if rho.ndim != 2 or rho.shape[0] % 2 == 0 or rho.shape[1] % 2 == 0 or not np.all(np.isfinite(rho)):
        raise ValueError(
            f"{name}: noise_correlation must be a finite 2-D array with odd sides (lag 0 at "
            f"the centre), got shape {rho.shape}"
        )
    centre = rho[rho.shape[0] // 2, rho.shape[1] // 2]
    if centre <= 0:
        raise ValueError(f"{name}: noise_correlation must be positive at lag 0, got {centre}")
    return rho / centre


def denoise_obnlm(
    intensity, *, looks=1.0, search_radius=7, patch_radius=3, h=0.7, gamma=0.5, noise_correlation="auto"
):
    r"""Bayesian non-local means with the Pearson distance (OBNLM, Coupé et al. 2009).

    Pixelwise variant of the paper's estimator: every pixel is a weighted average over a
    :math:`(2M+1)^2` search area (``M = search_radius``) with weights from the Pearson
    distance between :math:`(2\alpha+1)^2` patches (``alpha = patch_radius``),

    .. math::
        d_P(B_i, B_j) = \frac{1}{|B|} \sum_{p} \frac{(u_i(p) - u_j(p))^2}{u_j(p)^{2\gamma}},
        \qquad w_{ij} = \exp\left(-\frac{d_P}{h_{\mathrm{eff}}^2 \bar d}\right),
        \qquad h_{\mathrm{eff}} = h\, A^{1/4}

    derived from the noise model :math:`u = v + v^\gamma \eta` (``gamma = 0.5`` fits
    log-compressed ultrasound images). As in the authors' code, the centre pixel gets the
    largest weight found among its neighbours rather than 1.

    **Domain.** Coupé et al. work on the B-mode (log-compressed display) image, normalised to
    [0, 255] plus an offset of 100 (their MATLAB code; the offset keeps the Pearson
    denominator away from 0). Here the intensity is turned into such an image,
    ``u = 100 + 255 * clip((log y - a) / (b - a), 0, 1)`` with ``a, b`` the 0.1 and 99.9
    percentiles of ``log y``, and the patch distances are computed on ``u``. Two choices are
    ours (the C++ code of the paper is not public, and its MATLAB port uses another,
    unstated, scale for ``h``):

    * the distance is divided by :math:`\bar d = 2\sigma_u^2 / \bar u^{2\gamma}`, its expected
      value for two patches of pure speckle at the mean level, with
      :math:`\sigma_u = 255\sqrt{\psi_1(L)} / (b - a)` the log-speckle standard deviation on
      that scale, so ``h`` is in units of the noise level and works for any number of looks;
    * the weights average the **intensity** ``y`` rather than ``u``, which keeps the result
      unbiased in homogeneous areas (an average of log-compressed values is not).

    **Noise level from the data.** Correlation does not change the per-pixel variance of
    the log-speckle (``psi_1(L)`` for fully developed speckle) nor the mean of a
    pure-noise patch distance, but it widens the spread of that distance by the factor
    ``A`` of :func:`patch_distance_inflation` (ultrasound speckle: ``A`` about 4-8 for 7x7
    patches), so a smoothing parameter fitted to white speckle separates signal from noise
    too finely. With ``noise_correlation="auto"`` the log-speckle autocorrelation is
    estimated on the image (:func:`estimate_log_speckle_correlation`) and ``h`` is scaled
    by ``A**(1/4)``, the scaling of the standard deviation of ``d_P`` with ``h**2``
    (``A = 1``, no change, on white speckle). The rule is derived, not fitted; on four
    tuning phantoms (``simulated_ultrasound_set(4, seed=500)``, ``A**(1/4)`` about 1.5) it
    gave B-mode SSIM 0.871 against 0.804 for the white model, B-mode PSNR 29.28 against
    29.13 dB (a grid of multipliers put the B-mode PSNR optimum nearer 1.25 than 1.5;
    that tuned value is not used). On white-speckled Set12 images (synthetic protocol,
    ``L = 1``) it changed the mean PSNR by -0.003 dB.

    On three single-look Set12 images ``h = 0.5`` scored 0.8 dB higher in PSNR than
    the authors' default ``h = 0.7`` kept here.

    Vectorised: one pass per search offset (224 for the defaults) with box-filtered Pearson
    terms, not a loop over pixels.

    The method is patented (INRIA, WO/2009/133307): commercial use needs a licence.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative (zeros are raised to a tiny floor before the log).
    looks : float, optional
        Number of looks ``L`` (sets the distance normalisation).
    search_radius : int, optional
        ``M``: search area (2M+1)x(2M+1) = 15x15 (Coupé et al.'s ``M = 7``).
    patch_radius : int, optional
        ``alpha``: patch (2 alpha+1)x(2 alpha+1) = 7x7 (Coupé et al.'s ``alpha = 3``).
    h : float, optional
        Smoothing parameter for white speckle (0.7, the authors' default), scaled by
        ``A**(1/4)`` for correlated speckle.
    gamma : float, optional
        Exponent of the noise model (0.5, the paper's value for ultrasound).
    noise_correlation : "auto", None or array_like, optional
        Autocorrelation coefficient of the log-speckle (lag 0 at the centre, odd sides):
        ``"auto"`` estimates it on the image, ``None`` assumes white speckle (``A = 1``, the
        filter as published), an array gives it explicitly (e.g. measured once on a
        phantom scan of the same probe).

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    P. Coupé, P. Hellier, C. Kervrann, C. Barillot, "Nonlocal means-based speckle filtering
    for ultrasound images", IEEE TIP 18(10), 2009.
    """
    image, dtype, looks = _validate(intensity, looks, "denoise_obnlm")
    for value, what in ((search_radius, "search_radius"), (patch_radius, "patch_radius")):
        if int(value) != value or value < 1:
            raise ValueError(f"denoise_obnlm: {what} must be a positive integer, got {value}")
    h = _check_positive(h, "denoise_obnlm", "h")
    gamma = float(gamma)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"denoise_obnlm: gamma must be in [0, 1], got {gamma}")
    search_radius, patch_radius = int(search_radius), int(patch_radius)
    patch = 2 * patch_radius + 1
    rho = _noise_correlation(image, noise_correlation, "denoise_obnlm")
    if rho is not None:
        h = h * patch_distance_inflation(rho, patch) ** 0.25

    log_image = np.log(_floored(image))
    low, high = np.percentile(log_image, [0.1, 99.9])
    span = max(high - low, np.finfo(np.float64).eps)
    bmode = 100.0 + 255.0 * np.clip((log_image - low) / span, 0.0, 1.0)
    sigma_u = 255.0 * log_speckle_moments(looks)[1] / span
    expected = 2.0 * sigma_u**2 / bmode.mean() ** (2.0 * gamma)
    scale = 1.0 / (h * h * expected)

    pad = search_radius
    padded_bmode = np.pad(bmode, pad, mode="reflect")
    padded_int = np.pad(image, pad, mode="reflect")
    height, width = image.shape
    numerator = np.zeros_like(image)
    denominator = np.zeros_like(image)
    max_weight = np.zeros_like(image)
    for dy in range(-search_radius, search_radius + 1):
        for dx in range(-search_radius, search_radius + 1):
            if dy == 0 and dx == 0:
                continue
            rows = slice(pad + dy, pad + dy + height)
            cols = slice(pad + dx, pad + dx + width)
            neighbour = padded_bmode[rows, cols]
            pearson = (bmode - neighbour) ** 2 / neighbour ** (2.0 * gamma)
            distance = ndimage.uniform_filter(pearson, patch, mode="reflect")
            weight = np.exp(-distance * scale)
            numerator += weight * padded_int[rows, cols]
            denominator += weight
            np.maximum(max_weight, weight, out=max_weight)
    # Centre weight: the best neighbour weight (Coupé's convention), floored so that a
    # pixel without any similar neighbour keeps its own value.
    centre = np.maximum(max_weight, np.finfo(np.float64).tiny)
    estimate = (numerator + centre * image) / (denominator + centre)
    return estimate.astype(dtype)


def denoise_nlm_log(
    intensity, *, looks=1.0, patch_size=7, patch_distance=11, h_factor=0.6, noise_correlation="auto"
):
    r"""Homomorphic non-local means: scikit-image NL-means on log-intensity.

    The log turns speckle into additive noise with mean :math:`\psi(L) - \ln L` and
    standard deviation :math:`\sigma = \sqrt{\psi_1(L)}` (:func:`log_speckle_moments`);
    ``skimage.restoration.denoise_nl_means`` (fast mode) runs with that ``sigma`` and

    .. math:: h = h_{\mathrm{factor}}\, \sigma\, A^{1/4},

    the mean of the log-speckle is subtracted and the result exponentiated back to
    **intensity**.

    **Noise level from the data.** scikit-image weighs a patch pair by
    ``exp(-max(d^2 - 2 sigma^2, 0) / h^2)``: ``2 sigma^2`` is the mean squared difference
    of two pure-noise patches, which correlation leaves unchanged, and ``h^2`` should match
    the spread of that difference, which correlation widens by the factor ``A`` of
    :func:`patch_distance_inflation` (the standard deviation by ``sqrt(A)``, hence
    ``h`` by ``A**(1/4)``). With ``noise_correlation="auto"`` ``A`` is computed from the
    log-speckle autocorrelation estimated on the image itself
    (:func:`estimate_log_speckle_correlation`); on white speckle ``A = 1`` and nothing
    changes. The rule is derived, not fitted: on four tuning phantoms
    (``simulated_ultrasound_set(4, seed=500)``, ``A**(1/4)`` about 1.5) it sat at the
    amplitude-PSNR optimum of a grid of ``h`` multipliers (1 to 3) and gained 1.1 dB of
    B-mode PSNR (60 dB) and 0.064 of B-mode SSIM over the white model; on
    white-speckled Set12 images (synthetic protocol, ``L = 1``) it changed the mean PSNR
    by -0.002 dB. A per-pixel noise level from a high-pass residual
    (the MAD of the finest wavelet band, ``skimage.restoration.estimate_sigma``) is
    **not** used: on correlated speckle it sees only the little noise power at the highest
    frequencies (0.1 instead of 1.28 for single-look ultrasound) and the filter then does
    almost nothing.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative (zeros are raised to a tiny floor before the log).
    looks : float, optional
        Number of looks ``L``.
    patch_size, patch_distance : int, optional
        scikit-image's patch side (7) and search radius (11), its documented defaults for
        textured images.
    h_factor : float, optional
        ``h / sigma`` for white speckle. scikit-image suggests a value slightly below 1
        (0.8) when ``sigma`` is given; 0.6 scored 0.3 dB higher on single-look BSD68 images
        (the protocol's training set).
    noise_correlation : "auto", None or array_like, optional
        Autocorrelation coefficient of the log-speckle (lag 0 at the centre, odd sides):
        ``"auto"`` estimates it on the image, ``None`` assumes white speckle (``A = 1``),
        an array gives it explicitly.

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    References
    ----------
    A. Buades, B. Coll, J.-M. Morel, "A non-local algorithm for image denoising", CVPR 2005.
    """
    from skimage.restoration import denoise_nl_means

    image, dtype, looks = _validate(intensity, looks, "denoise_nlm_log")
    h_factor = _check_positive(h_factor, "denoise_nlm_log", "h_factor")
    bias, sigma = log_speckle_moments(looks)
    rho = _noise_correlation(image, noise_correlation, "denoise_nlm_log")
    inflation = 1.0 if rho is None else patch_distance_inflation(rho, int(patch_size))
    log_image = np.log(_floored(image))
    filtered = denoise_nl_means(
        log_image,
        patch_size=int(patch_size),
        patch_distance=int(patch_distance),
        h=h_factor * sigma * inflation**0.25,
        sigma=sigma,
        fast_mode=True,
    )
    return np.exp(filtered - bias).astype(dtype)


_TRAPZ_LOCK = threading.Lock()
_TRAPZ_USERS = 0


@contextlib.contextmanager
def _numpy_trapz_for_bm3d():
    """Provide ``np.trapz`` while the ``bm3d`` package runs, where numpy no longer has it.

    ``bm3d`` 4.x (through ``bm4d``) calls ``np.trapz`` when it derives its thresholds from a
    coloured-noise PSD; numpy 2.0 renamed the function ``np.trapezoid`` and numpy 2.4
    removed the old name. The alias is the same function; it is added only when missing,
    only for the duration of the call, and removed afterwards (reference-counted, so
    concurrent calls from threads are safe). Drop this once ``bm3d`` uses ``np.trapezoid``.
    """
    global _TRAPZ_USERS
    if hasattr(np, "trapz") and _TRAPZ_USERS == 0:
        yield  # numpy < 2.4: nothing to do
        return
    with _TRAPZ_LOCK:
        if _TRAPZ_USERS == 0:
            np.trapz = np.trapezoid
        _TRAPZ_USERS += 1
    try:
        yield
    finally:
        with _TRAPZ_LOCK:
            _TRAPZ_USERS -= 1
            if _TRAPZ_USERS == 0:
                del np.trapz


def _bm3d_noise_psd(image: np.ndarray, noise_psd, looks: float) -> np.ndarray | None:
    """Resolve a ``noise_psd`` option into a log-noise PSD (mean = variance) or None (white)."""
    name = "denoise_bm3d_log"
    if noise_psd is None:
        return None
    if isinstance(noise_psd, str):
        if noise_psd != "auto":
            raise ValueError(f"{name}: noise_psd must be 'auto', None or an array, got {noise_psd!r}")
        return estimate_log_noise_psd(image, looks=looks)
    psd = np.asarray(noise_psd, dtype=np.float64)
    if psd.shape != image.shape:
        raise ValueError(f"{name}: noise_psd must have the image's shape {image.shape}, got {psd.shape}")
    if not np.all(np.isfinite(psd)) or psd.min() < 0 or psd.max() == 0:
        raise ValueError(f"{name}: noise_psd must be finite, non-negative and not all zero")
    return psd


def denoise_bm3d_log(intensity, *, looks=1.0, noise_psd="auto", profile="np"):
    r"""Homomorphic BM3D: the PyPI ``bm3d`` package on log-intensity, bias corrected.

    With ``z = log y = log x + log n``, the log-speckle has mean :math:`\psi(L) - \ln L`
    and per-pixel variance :math:`\sigma^2 = \psi_1(L)` (:func:`log_speckle_moments`); BM3D
    treats it as additive Gaussian noise, white or with a power spectrum ``S``. The estimate
    of ``E[z] = log x + psi(L) - ln L`` is corrected by that mean and exponentiated back to
    **intensity**.

    **Noise model.** Speckle is correlated over the imaging system's point-spread function
    (in ultrasound, over several pixels), and BM3D given a white model then takes the
    speckle grains for signal. The ``bm3d`` package handles coloured noise from its power
    spectral density (Mäkinen et al. 2020); with ``noise_psd="auto"`` that PSD is estimated
    on the image itself, its shape from the log-speckle autocorrelation in the most
    homogeneous windows and its total power from the speckle model, ``psi_1(L)``
    (:func:`estimate_log_noise_psd`). On two of the tuning phantoms of :func:`denoise_nlm_log`
    it raised B-mode PSNR (60 dB) from 23.0 to 28.5 dB. On white speckle the estimate is
    flat up to sampling noise and leaked image structure: on the ten Set12 images of the
    synthetic protocol (``L = 1``) the mean PSNR was unchanged (24.27 dB both, SSIM 0.709
    against 0.697) but single images moved by -0.34 to +0.23 dB. Where the speckle is
    known to be white (that protocol), ``noise_psd=None`` is the model the data call for.

    With a coloured PSD, BM3D-log flattens isolated point targets (wires, calcifications):
    on the six held-out phantoms of ``benchmarks/baselines_ultrasound.py`` their peak fell
    by 3 to 20 dB (mean -9 dB; the sharper the PSF, the worse: -20 dB at 10 MHz, into
    the background), with the estimated PSD and with the exact one alike, and with the
    'refilter' and 'vn' profiles too; the white model keeps them (its B-mode PSNR is 4 dB
    lower). Read its scores together with a resolution figure
    (:func:`s2v.metrics.point_fwhm`). On strongly correlated speckle (PSF standard
    deviation about 5 pixels) the exact PSD scored no better than the estimated one
    (23.61 against 23.55 dB B-mode PSNR).

    BM3D's block-matching thresholds (``tau_match``) are fixed for images on a [0, 1] scale,
    so the log image is mapped affinely to [0, 1] between its 0.1 and 99.9 percentiles
    (the noise standard deviation is divided by the same span, its PSD by the span squared)
    and mapped back afterwards; single-look log-speckle has a long dark tail, which the
    percentiles ignore.

    Parameters
    ----------
    intensity : array_like, shape (H, W)
        Noisy intensity, non-negative (zeros are raised to a tiny floor before the log).
    looks : float, optional
        Number of looks ``L``.
    noise_psd : "auto", None or array_like, optional
        Power spectral density of the LOG-INTENSITY noise: ``"auto"`` (estimated, above),
        ``None`` (white noise of standard deviation ``sqrt(psi_1(L))``, the classical
        homomorphic BM3D), or an ``(H, W)`` array, unshifted (frequency 0 at ``[0, 0]``)
        and scaled so that its mean is the per-pixel noise variance (white noise of
        standard deviation ``s`` is ``np.full((H, W), s**2)``; :func:`log_noise_psd`
        builds one from an autocorrelation).
    profile : str, optional
        ``bm3d`` profile ('np' is the package default, whose thresholds are derived from
        the PSD when one is given; 'refilter', 'vn', 'high' ...).

    Returns
    -------
    ndarray, shape (H, W)
        Filtered intensity.

    Notes
    -----
    The coloured-noise path of ``bm3d`` 4.x calls ``np.trapz``, which numpy 2.4 removed; the
    call runs under a scoped alias to ``np.trapezoid`` (see ``_numpy_trapz_for_bm3d``).

    References
    ----------
    K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image denoising by sparse 3-D
    transform-domain collaborative filtering", IEEE TIP 16(8), 2007; Y. Mäkinen, L. Azzari,
    A. Foi, "Collaborative filtering of correlated noise: exact transform-domain variance
    for improved shrinkage and patch matching", IEEE TIP 29, 2020 (the package and its
    PSD convention).
    """
    import bm3d

    image, dtype, looks = _validate(intensity, looks, "denoise_bm3d_log")
    bias, sigma = log_speckle_moments(looks)
    psd = _bm3d_noise_psd(image, noise_psd, looks)
    log_image = np.log(_floored(image))
    low, high = np.percentile(log_image, [0.1, 99.9])
    span = max(high - low, sigma)
    scaled = (log_image - low) / span
    if psd is None:
        noise = sigma / span
    else:
        # bm3d's convention: E|FFT(noise)|^2, i.e. mean(PSD) = H * W * variance.
        noise = (psd * (image.size / span**2))[:, :, None]
    with _numpy_trapz_for_bm3d():
        filtered = np.asarray(bm3d.bm3d(scaled, sigma_psd=noise, profile=profile))
    return np.exp(filtered.reshape(image.shape) * span + low - bias).astype(dtype)


BASELINES = {
    "boxcar": denoise_boxcar,
    "median": denoise_median,
    "lee": denoise_lee,
    "enhanced_lee": denoise_enhanced_lee,
    "kuan": denoise_kuan,
    "frost": denoise_frost,
    "srad": denoise_srad,
    "obnlm": denoise_obnlm,
    "nlm_log": denoise_nlm_log,
    "bm3d_log": denoise_bm3d_log,
}
"""Name -> baseline despeckler, every one ``f(intensity, *, looks=1.0) -> intensity``."""

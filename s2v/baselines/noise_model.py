"""The noise model of the log-speckle, estimated from the data.

Speckle is often spatially correlated (ultrasound: over the point-spread function). The
log-speckle autocorrelation is estimated in the most homogeneous windows of the image
(:func:`estimate_log_speckle_correlation`); it sets the smoothing parameter of the patch
filters (:func:`patch_distance_inflation`) and BM3D's noise power spectrum
(:func:`estimate_log_noise_psd`). All inputs and outputs here are about the
LOG-INTENSITY noise ``log n``.
"""

from __future__ import annotations

import numpy as np

from ._common import _floored, _validate, log_speckle_moments


def _check_fraction(value: float, name: str) -> float:
    """A fraction in (0, 1], as float."""
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
    areas count alike. Windows that are not speckle at all are left out first: those with
    more than :data:`MAX_CLIPPED_SHARE` of their pixels at the image's minimum or maximum
    (the black background around an ultrasound sector, saturated reflectors) and those in
    which one value covers more than :data:`MAX_REPEATED_SHARE` of the pixels (flat
    overlays, text boxes); otherwise they are the "most homogeneous" and make the speckle
    look perfectly correlated (the OBNLM liver B-mode, a convex sector in a black frame:
    lag-1 to lag-8 correlation 1.0 instead of 0.60 axial, 0.93 lateral). When no window is
    left, all are used.

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
    speckle = _speckle_windows(image, flat)
    if speckle.any():
        residuals = residuals[speckle]
    keep = max(min(4, len(residuals)), int(round(fraction * len(residuals))))
    chosen = np.argsort(residuals.var(axis=1), kind="stable")[:keep]
    return residuals[chosen].reshape(-1, side, side)


#: Largest share of a window's pixels at the image's minimum or maximum (clipped: black
#: background, saturation) for :func:`homogeneous_windows` to count it as speckle.
MAX_CLIPPED_SHARE = 0.01
#: Largest share of a window's pixels holding one same value (8-bit speckle of a 32-pixel
#: window, even smoothed by a scanner, repeats its commonest level on under 10 % of them).
MAX_REPEATED_SHARE = 0.25


def _speckle_windows(image: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Which windows (rows of ``flat``) may hold speckle: neither clipped nor flat."""
    clipped = ((flat <= image.min()) | (flat >= image.max())).mean(axis=1)
    ordered = np.sort(flat, axis=1)
    # Longest run of one value in each sorted window = the commonest value's count.
    same = np.diff(ordered, axis=1) == 0
    runs = np.zeros(len(flat), dtype=np.int64)
    current = np.zeros(len(flat), dtype=np.int64)
    for column in same.T:
        current = np.where(column, current + 1, 0)
        runs = np.maximum(runs, current)
    repeated = (runs + 1) / flat.shape[1]
    return (clipped <= MAX_CLIPPED_SHARE) & (repeated <= MAX_REPEATED_SHARE)


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


def _noise_option(option, what: str, name: str, estimate):
    """Resolve a noise-model option: None (white) -> None, "auto" -> ``estimate()``, else a
    float64 array for the caller to check; any other string is an error."""
    if option is None:
        return None
    if isinstance(option, str):
        if option != "auto":
            raise ValueError(f"{name}: {what} must be 'auto', None or an array, got {option!r}")
        return estimate()
    return np.asarray(option, dtype=np.float64)


def _noise_correlation(image: np.ndarray, noise_correlation, name: str) -> np.ndarray | None:
    """Resolve a ``noise_correlation`` option: "auto" (estimated), None (white) or an array."""
    rho = _noise_option(noise_correlation, "noise_correlation", name,
                        lambda: estimate_log_speckle_correlation(image))
    if rho is None or isinstance(noise_correlation, str):
        return rho
    if rho.ndim != 2 or rho.shape[0] % 2 == 0 or rho.shape[1] % 2 == 0 or not np.all(np.isfinite(rho)):
        raise ValueError(
            f"{name}: noise_correlation must be a finite 2-D array with odd sides (lag 0 at "
            f"the centre), got shape {rho.shape}"
        )
    centre = rho[rho.shape[0] // 2, rho.shape[1] // 2]
    if centre <= 0:
        raise ValueError(f"{name}: noise_correlation must be positive at lag 0, got {centre}")
    return rho / centre

"""Input checks, spectral helpers and the correlation diagnostics of the decorrelator.

The lowest module of :mod:`s2v.decorrelation`: the conventions (axes, shifts,
cut-offs, lag correlation) are those of the package docstring.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from s2v.signals import analytic_signal

# --------------------------------------------------------------------------
# Input checks and small spectral helpers
# --------------------------------------------------------------------------

def _complex_input(image, domain):
    """Return ``(z, out_dtype)``: the image as complex128 and the dtype to return.

    complex64 / float32 inputs come back as complex64, everything else as
    complex128. Real input is accepted only as RF (``domain='rf'``) and turned
    into its analytic signal along axis 0 (fast time).
    """
    array = np.asarray(image)
    if domain not in (None, "complex", "rf"):
        raise ValueError(f"slc: domain must be 'complex' or 'rf', got {domain!r}")
    if array.ndim != 2:
        raise ValueError(
            f"slc: expected a 2-D (H, W) complex image, got shape {array.shape}; "
            "stack real/imaginary channels as real + 1j * imag first")
    if min(array.shape) < 8:
        raise ValueError(f"slc: image {array.shape} is too small; need at least 8 x 8 pixels")
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise ValueError(f"slc: expected a numeric image, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError("slc: contains NaN or Inf values")
    if not np.any(array):
        raise ValueError("slc: the image is all zeros")
    single = array.dtype in (np.complex64, np.float32, np.float16)
    out_dtype = np.complex64 if single else np.complex128
    if np.iscomplexobj(array):
        if domain == "rf":
            raise ValueError("slc: domain='rf' expects real RF lines, got complex data")
        return array.astype(np.complex128), out_dtype
    if domain != "rf":
        raise ValueError(
            f"slc: got real data (dtype {array.dtype}); whitening needs the phase: pass a "
            "complex SLC / IQ image, or real RF lines with domain='rf' (axis 0 = fast time). "
            "Intensity or B-mode images cannot be whitened: see residual_correlation_vs_stride "
            "and S2VConfig(pixel_shuffle=...).")
    return analytic_signal(array, axis=0).astype(np.complex128), out_dtype


def _pair(value, name, low, high):
    """Broadcast a scalar or a (y, x) pair to two floats inside [low, high]."""
    pair = np.broadcast_to(np.asarray(value, dtype=np.float64), (2,))
    if not np.all(np.isfinite(pair)) or np.any(pair < low) or np.any(pair > high):
        raise ValueError(f"{name} must be a number or (y, x) pair in [{low}, {high}], got {value!r}")
    return float(pair[0]), float(pair[1])


def _frequencies(n):
    """Normalised frequencies (units of pi rad/sample) of the fftshifted bins."""
    return 2.0 * (np.arange(n) - n // 2) / n


def _marginals(power):
    """Power spectrum summed over the other axis, fft order: (P_y over rows, P_x over columns)."""
    return power.sum(axis=1), power.sum(axis=0)


def _lag_rho(marginal, lag):
    """|R(lag)| / R(0) from a 1-D power marginal in fft order."""
    n = marginal.size
    phase = np.exp(2j * np.pi * lag * np.arange(n) / n)
    return float(abs(np.sum(marginal * phase)) / np.sum(marginal))


def _modulation(n, m):
    """exp(-1j*pi*m*k), k = 0..n-1: moves spectral content at m to zero frequency."""
    return np.exp(-1j * np.pi * m * np.arange(n))


def _band_bins(n, r):
    """Bins cut at each edge for cut-off fraction r (at least two bins are kept)."""
    return int(min(round(n * r), (n - 2) // 2))


def _demodulate(z, shift):
    """``z * exp(-1j * pi * (m_y * row + m_x * col))``, a new array."""
    return z * _modulation(z.shape[0], shift[0])[:, None] * _modulation(z.shape[1], shift[1])[None, :]


def _extend(z):
    """Half-sample symmetric extension of an (H, W) image: ``[[z, z[:, ::-1]], [z[::-1], z[::-1, ::-1]]]``.

    Its periodic repetition (period 2H, 2W) is continuous at the image
    borders, so the circular FFT sees no jump there. Its periodogram is that
    of the image symmetrised in frequency (``|Z(f)| = |Z(-f)|``), a good
    model once the band is demodulated to zero frequency.
    """
    z = np.concatenate([z, z[::-1]], axis=0)
    return np.concatenate([z, z[:, ::-1]], axis=1)


def _centred_extension_spectrum(z):
    """Centred (fftshift) 2-D FFT of the symmetric extension of an (H, W) image, shape (2H, 2W)."""
    return np.fft.fftshift(scipy.fft.fft2(_extend(z), overwrite_x=True, workers=-1))


def _to_image_grid(values, size):
    """Samples of a centred profile over the extension's 2 * size bins at the image's own frequencies."""
    return values[size % 2::2]

# --------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------

def lag_correlation(image, lag=1, *, power_spectrum=False):
    """Lag correlation coefficients along both axes.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Complex SLC / IQ image (domain 'complex'), or, with
        ``power_spectrum=True``, its periodogram ``|fft2(z)|**2`` (real, fft
        order, not shifted), or a real image (intensity, amplitude, B-mode).
    lag : int
        Pixel lag (>= 1).
    power_spectrum : bool
        Treat ``image`` as a periodogram.

    Returns
    -------
    rho_y, rho_x : float
        Along axis 0 and axis 1. For complex data (or a periodogram) this is
        ``|R(lag)| / R(0)`` of the circular autocorrelation ``R = ifft2(S)``,
        the reference's definition (no mean removal: speckle is zero-mean).
        For real data it is the Pearson coefficient of the pixel pairs ``lag``
        apart (non-circular, mean removed).

    Examples
    --------
    >>> z = np.random.default_rng(0).standard_normal((64, 64)) * (1 + 0j)
    >>> rho_y, rho_x = lag_correlation(z)
    >>> bool(rho_y < 0.05 and rho_x < 0.05)
    True
    """
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"lag_correlation: expected a 2-D (H, W) array, got shape {array.shape}")
    lag = int(lag)
    if lag < 1 or lag >= min(array.shape):
        raise ValueError(f"lag_correlation: lag must be in [1, {min(array.shape) - 1}], got {lag}")
    if power_spectrum or np.iscomplexobj(array):
        power = np.real(array).astype(np.float64) if power_spectrum else np.abs(np.fft.fft2(array)) ** 2
        if power_spectrum and np.any(power < 0):
            raise ValueError("lag_correlation: a periodogram cannot have negative values")
        marg_y, marg_x = _marginals(power)
        return _lag_rho(marg_y, lag), _lag_rho(marg_x, lag)
    values = array.astype(np.float64)
    return (_pearson(values[:-lag], values[lag:]), _pearson(values[:, :-lag], values[:, lag:]))


def _pearson(a, b):
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def spectrum_profiles(slc, *, shift=(0.0, 0.0), domain=None):
    """Amplitude profiles of the centred periodogram (the ``inspect_spectrum.m`` view).

    Parameters
    ----------
    slc : ndarray, shape (H, W), complex
        SLC / IQ image (or real RF with ``domain='rf'``).
    shift : float or (m_y, m_x)
        Frequency shift applied first (units of pi rad/sample).
    domain : {None, 'complex', 'rf'}

    Returns
    -------
    frequencies_y, profile_y, frequencies_x, profile_x : ndarray
        Normalised frequencies (units of pi rad/sample, fftshift order) and
        ``sqrt(mean |FFT|^2)`` over the other axis, divided by its maximum.
    """
    z, _ = _complex_input(slc, domain)
    z = _demodulate(z, _pair(shift, "shift", -1.0, 1.0))
    marg_y, marg_x = _marginals(np.abs(np.fft.fft2(z)) ** 2)
    prof_y = np.sqrt(np.fft.fftshift(marg_y))
    prof_x = np.sqrt(np.fft.fftshift(marg_x))
    return (_frequencies(z.shape[0]), prof_y / prof_y.max(),
            _frequencies(z.shape[1]), prof_x / prof_x.max())


# --------------------------------------------------------------------------
# B-mode without phase: correlation left by pixel-shuffle sub-sampling
# --------------------------------------------------------------------------

def _check_stride(stride):
    if int(stride) != stride or int(stride) < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def residual_correlation_vs_stride(intensity, strides=(1, 2, 3, 4, 5), *, threshold=0.1):
    """Speckle correlation left between the neighbours of pixel-shuffled sub-images.

    Parameters
    ----------
    intensity : ndarray, shape (H, W), real
        INTENSITY image (for a B-mode image, convert first with
        ``s2v.domains.bmode_to_intensity``); best a homogeneous speckle
        region, where the correlation is that of the speckle, not of the
        scene.
    strides : sequence of int
        Strides ``s`` to measure (each smaller than the image).
    threshold : float
        |correlation| regarded as negligible.

    Returns
    -------
    dict
        ``stride`` (int array), ``rho_y``, ``rho_x`` (float arrays: Pearson
        correlation of pixels ``s`` apart along axis 0 / 1, i.e. of
        horizontally / vertically adjacent pixels of the stride-``s``
        sub-images), ``threshold`` and ``recommended_stride``: the smallest
        measured stride whose |rho| is at most ``threshold`` on both axes,
        or ``None``.

    Notes
    -----
    Guidance for the blind spot. Speckle2Void's network hides the pixel
    itself with shift 1 and, with shift 3 (the reference's units,
    ``S2VConfig.shift_list``), its vertical neighbours too. A blind-spot
    network is unbiased when the noise it can see is independent of the
    hidden pixel's, so with ``L = recommended_stride``:

    - ``L = 1``: speckle is already white, shift 1;
    - ``L = 2``: the lag-1 correlation remains; whiten the complex data
      (:func:`decorrelate`) when the phase is available, else sub-sample;
    - ``L >= 2`` without phase: train and denoise with
      ``S2VConfig(pixel_shuffle=L)``, which runs the network on the mosaic
      of :func:`s2v.transforms.pixel_unshuffle` (zero padding: every pixel
      appears once, so no copy of a pixel reaches its own blind spot) and
      shuffles the maps back. Sub-sampling divides the patch context by the
      stride, so prefer the smallest that works.
    """
    array = np.asarray(intensity)
    if array.ndim != 2 or np.iscomplexobj(array):
        raise ValueError(f"residual_correlation_vs_stride: expected a real 2-D (H, W) intensity "
                         f"image, got shape {array.shape} and dtype {array.dtype}")
    stride = np.array([_check_stride(s) for s in np.atleast_1d(strides)], dtype=int)
    if stride.size == 0 or stride.max() >= min(array.shape):
        raise ValueError(f"strides must be non-empty and smaller than the image {array.shape}, "
                         f"got {tuple(strides)}")
    rho = np.array([lag_correlation(array, int(s)) for s in stride])
    ok = np.flatnonzero(np.max(np.abs(rho), axis=1) <= threshold)
    return {"stride": stride, "rho_y": rho[:, 0], "rho_x": rho[:, 1], "threshold": float(threshold),
            "recommended_stride": int(stride[ok[0]]) if ok.size else None}

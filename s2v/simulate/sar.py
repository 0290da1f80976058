"""SAR-like single-look complex (SLC) speckle with a tapered, band-limited, off-centre spectrum.

The test bed of the blind speckle decorrelator (:mod:`s2v.decorrelation`), with optional
point targets.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ._checks import _check_intensity, _check_pair, _check_shape

__all__ = ["simulate_correlated_slc"]


def _band_window(n: int, fraction: float, shift: float, taper: str) -> tuple[np.ndarray, dict]:
    """1-D transfer function in FFT order: a taper over about ``fraction * n`` bins.

    ``shift`` is in Nyquist units (1 = half the sampling rate): the band centre is at
    ``shift / 2`` cycles/pixel, i.e. ``shift * n / 2`` bins. The first and last bins are
    rounded separately so that the realised centre is the requested one to within half a
    bin (a zero shift is exactly zero: the bin count becomes odd when needed).
    """
    center = shift * n / 2.0
    half_width = (fraction * n - 1) / 2.0
    first, last = int(round(center - half_width)), int(round(center + half_width))
    last = min(last, first + n - 1)
    bins = last - first + 1
    if bins < 2:
        raise ValueError(f"window_fraction {fraction} leaves fewer than 2 frequency bins out of {n}")
    try:
        weights = signal.get_window(taper, bins, fftbins=False)
    except ValueError as error:
        raise ValueError(f"unknown taper {taper!r} (any scipy.signal.get_window name): {error}") from None
    window = np.zeros(n)
    window[np.arange(first, last + 1) % n] = weights
    return window, {"bins": bins, "fraction": bins / n, "shift": (first + last) / n}


def simulate_correlated_slc(
    clean_intensity=None,
    *,
    shape=(256, 256),
    window_fraction=(0.8, 0.8),
    taper="hamming",
    frequency_shift=(0.0, 0.0),
    point_targets=0,
    point_target_db=30.0,
    seed=None,
):
    r"""Simulate SAR-like single-look complex (SLC) speckle with a tapered, band-limited spectrum.

    Model of a focused SAR image (Lapini et al. 2014, "Blind speckle decorrelation for SAR
    image despeckling"): a white complex reflectivity ``s = sqrt(x) w`` (``w`` circular
    complex Gaussian, unit power, ``x`` the clean intensity), plus deterministic point
    scatterers, filtered by the system transfer function ``H``:

    .. math:: \mathrm{slc} = \mathcal{F}^{-1}\{H\,\mathcal{F}\{s\}\}, \qquad
              H(f_y, f_x) = W_y(f_y)\, W_x(f_x)

    ``W`` is a ``taper`` window (``scipy.signal.get_window`` name: 'hamming', 'hann',
    'boxcar', ...) over ``round(window_fraction * N)`` frequency bins, ZERO outside, centred on
    the normalised frequency ``frequency_shift``. ``H`` is scaled so that
    ``mean(|H|**2) = 1``, hence ``sum |h|**2 = 1`` for the impulse response ``h`` and the
    mean intensity is preserved: ``E|slc|**2 = |h|**2 (*) x`` (``expected_intensity``), which
    equals ``x`` in homogeneous areas. Whitening ``slc`` by ``1/H`` inside the band gives back
    white speckle on ``x``, so ``clean_intensity`` is the ground truth of a decorrelated image.
    The filtering is circular (periodic boundaries), which keeps the spectrum exactly zero
    outside the band.

    FREQUENCY CONVENTION: ``frequency_shift = (m_y, m_x)`` is in units of half the sampling
    rate (Nyquist units, ``m = 1`` is 0.5 cycles/pixel), as in the reference MATLAB
    ``exp(-1i*pi*m*n)``: the band is centred at ``m / 2`` cycles/pixel and multiplying ``slc``
    by ``exp(-1j * pi * (m_y * row + m_x * col))`` moves it back to zero frequency. The band
    is realised on whole bins; the realised fractions and shifts are in ``params``.

    Parameters
    ----------
    clean_intensity : array_like, (H, W), optional
        Clean LINEAR INTENSITY ``x`` (non-negative). ``None``: a constant 1 of ``shape``.
    shape : (int, int), optional
        (H, W) when ``clean_intensity`` is ``None``; ignored otherwise.
    window_fraction : float or (float, float), optional
        Occupied fraction of the sampled band along (axis 0 = azimuth, axis 1 = range), in
        ``(0, 1]``.
    taper : str, optional
        Window name (``scipy.signal.get_window``), the same on both axes.
    frequency_shift : float or (float, float), optional
        Band centres ``(m_y, m_x)`` in Nyquist units, in ``[-1, 1]``.
    point_targets : int, optional
        Number of bright deterministic point scatterers, placed at random at least 8 px from
        the borders, with random phase.
    point_target_db : float, optional
        Point-scatterer intensity ``|a|**2`` above the mean clean intensity, in dB.
    seed : None, int or numpy.random.Generator, optional
        Seed of the speckle and of the point targets.

    Returns
    -------
    dict
        ``slc``: complex64 (H, W) COMPLEX SLC; ``clean_intensity``: float32 (H, W) INTENSITY
        ``x``; ``expected_intensity``: float32 INTENSITY ``E|slc|**2`` (blurred ``x`` plus the
        point-target responses); ``transfer_function``: float64 (H, W) ``H`` in FFT order
        (unshifted); ``point_targets``: (N, 2) int array of (row, col); ``params``: dict with
        ``window_fraction`` (realised bins / N per axis), ``window_bins``, ``frequency_shift``
        (realised, Nyquist units), ``center_frequency_cycles_per_pixel`` (= shift / 2),
        the requested values (``*_requested``), ``taper``, ``point_target_db``, ``rho_y`` /
        ``rho_x`` (theoretical lag-1 correlation coefficients of the complex SLC along
        axis 0 / 1, complex when the band is shifted).
    """
    if clean_intensity is None:
        height, width = _check_shape(shape, minimum=4)
        clean = np.ones((height, width))
    else:
        clean = _check_intensity(clean_intensity, "clean_intensity").astype(np.float64)
        height, width = clean.shape
    fractions = _check_pair(window_fraction, "window_fraction")
    if not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"window_fraction must be in (0, 1] on each axis, got {window_fraction!r}")
    shifts = _check_pair(frequency_shift, "frequency_shift")
    if not all(-1 <= m <= 1 for m in shifts):
        raise ValueError(f"frequency_shift must be in [-1, 1] (Nyquist units) on each axis, got {frequency_shift!r}")
    n_points = int(point_targets)
    if n_points < 0:
        raise ValueError(f"point_targets must be a count >= 0, got {point_targets}")
    if n_points and min(height, width) <= 16:
        raise ValueError(f"point targets need an image larger than 16 x 16, got {(height, width)}")

    rng = np.random.default_rng(seed)
    window_y, info_y = _band_window(height, fractions[0], shifts[0], taper)
    window_x, info_x = _band_window(width, fractions[1], shifts[1], taper)
    transfer = np.outer(window_y, window_x)
    transfer /= np.sqrt(np.mean(transfer**2))

    reflectivity = np.sqrt(clean / 2.0) * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
    positions = np.empty((0, 2), dtype=np.int64)
    points = np.zeros(clean.shape, dtype=complex)
    if n_points:
        positions = np.stack(
            [rng.integers(8, height - 8, size=n_points), rng.integers(8, width - 8, size=n_points)], axis=1
        )
        amplitude = np.sqrt(10 ** (float(point_target_db) / 10) * clean.mean())
        np.add.at(points, (positions[:, 0], positions[:, 1]),
                  amplitude * np.exp(2j * np.pi * rng.uniform(size=n_points)))
    slc = np.fft.ifft2(np.fft.fft2(reflectivity + points) * transfer)
    psf_power = np.abs(np.fft.ifft2(transfer)) ** 2
    expected = np.real(np.fft.ifft2(np.fft.fft2(clean) * np.fft.fft2(psf_power)))
    expected = np.clip(expected, 0, None) + np.abs(np.fft.ifft2(np.fft.fft2(points) * transfer)) ** 2

    def lag1(window: np.ndarray) -> complex:
        """Correlation coefficient at lag 1 = normalised DFT of the power spectrum |W|^2."""
        power = window**2
        return complex(np.sum(power * np.exp(2j * np.pi * np.fft.fftfreq(window.size))) / np.sum(power))

    params = {
        "window_fraction": (info_y["fraction"], info_x["fraction"]),
        "window_bins": (info_y["bins"], info_x["bins"]),
        "frequency_shift": (info_y["shift"], info_x["shift"]),
        "center_frequency_cycles_per_pixel": (info_y["shift"] / 2.0, info_x["shift"] / 2.0),
        "window_fraction_requested": fractions,
        "frequency_shift_requested": shifts,
        "taper": taper,
        "point_target_db": float(point_target_db),
        "rho_y": lag1(window_y),
        "rho_x": lag1(window_x),
    }
    return {
        "slc": slc.astype(np.complex64),
        "clean_intensity": clean.astype(np.float32),
        "expected_intensity": expected.astype(np.float32),
        "transfer_function": transfer,
        "point_targets": positions,
        "params": params,
    }

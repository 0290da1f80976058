"""Signal-level conversions of the samples that carry a phase: complex IQ / SLC and real RF lines.

``complex`` samples ``z`` (ultrasound IQ, SAR SLC) give the INTENSITY ``|z|**2`` and the
AMPLITUDE ``|z|``; real ``rf`` lines (axis 0 = fast time) give the complex analytic signal and
baseband IQ. The domain words are those of :mod:`s2v.domains`, which re-exports these
functions; this module is the lowest layer (numpy and scipy only), so that both
:mod:`s2v.domains` and :mod:`s2v.decorrelation` build on it.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["intensity_from_complex", "amplitude_from_complex", "analytic_signal", "iq_from_rf"]


def _real_float(array, name: str) -> np.ndarray:
    """Return ``array`` as a finite real float array (float32 unless it is float64)."""
    array = np.asarray(array)
    if np.iscomplexobj(array):
        raise ValueError(f"{name}: got complex data, expected a real array")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name}: the array is empty (shape {array.shape})")
    out = array if array.dtype in (np.float32, np.float64) else array.astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name}: contains NaN or Inf values")
    return out


def intensity_from_complex(z) -> np.ndarray:
    """Intensity ``|z|**2`` of COMPLEX IQ/SLC samples.

    Parameters
    ----------
    z : array_like of complex, any shape (typically (H, W))
        COMPLEX IQ or SLC.

    Returns
    -------
    ndarray of float32 (float64 for complex128 input)
        INTENSITY ``real**2 + imag**2``.
    """
    z = np.asarray(z)
    if not np.iscomplexobj(z):
        raise ValueError(f"intensity_from_complex: expected complex IQ/SLC data, got dtype {z.dtype} "
                         "(real/imaginary pairs: read them with s2v.io.read_image, which joins them)")
    return (z.real * z.real + z.imag * z.imag).astype(z.real.dtype, copy=False)


def amplitude_from_complex(z) -> np.ndarray:
    """Amplitude (envelope) ``|z|`` of COMPLEX IQ/SLC samples.

    Parameters
    ----------
    z : array_like of complex, any shape
        COMPLEX IQ or SLC.

    Returns
    -------
    ndarray of float32 (float64 for complex128 input)
        AMPLITUDE ``|z|``.
    """
    z = np.asarray(z)
    if not np.iscomplexobj(z):
        raise ValueError(f"amplitude_from_complex: expected complex IQ/SLC data, got dtype {z.dtype}")
    return np.abs(z)


def analytic_signal(rf, axis=0) -> np.ndarray:
    r"""Analytic signal of real RF lines (Hilbert transform along fast time).

    ``rf + j H{rf}`` keeps the positive frequencies only; its modulus is the envelope, so
    ``|analytic_signal(rf)|**2`` is the speckle INTENSITY.

    Parameters
    ----------
    rf : array_like, real, any shape; ``axis`` = fast time (depth)
        RF samples.
    axis : int, optional
        Fast-time axis (0 for (depth, lines) images).

    Returns
    -------
    ndarray of complex64 (complex128 for float64 input)
        COMPLEX analytic signal at the RF carrier.
    """
    rf = _real_float(rf, "rf")
    if rf.shape[axis] < 2:
        raise ValueError(f"rf: needs at least 2 samples along axis {axis}, got shape {rf.shape}")
    out_dtype = np.complex128 if rf.dtype == np.float64 else np.complex64
    return signal.hilbert(rf, axis=axis).astype(out_dtype)


def iq_from_rf(rf, *, fs=None, fc=None, axis=0) -> np.ndarray:
    r"""Complex baseband IQ from real RF lines.

    ``iq[n] = a[n] exp(-j 2 pi fc n / fs)`` with ``a`` the :func:`analytic_signal`: the
    spectrum is moved from the carrier ``fc`` down to zero frequency. The modulus is not
    changed by the demodulation, so the intensity of the IQ equals that of the analytic
    signal; ``fc`` matters for phase-sensitive processing (decorrelation, spectra). Without
    ``fc`` the analytic signal itself is returned (IQ at the carrier).

    Parameters
    ----------
    rf : array_like, real, any shape; ``axis`` = fast time
        RF samples.
    fs : float, optional
        Sampling frequency in Hz (needed with ``fc``).
    fc : float, optional
        Centre (demodulation) frequency in Hz.
    axis : int, optional
        Fast-time axis.

    Returns
    -------
    ndarray of complex64 (complex128 for float64 input)
        COMPLEX IQ, same shape as ``rf``.
    """
    analytic = analytic_signal(rf, axis=axis)
    if fc is None:
        return analytic
    if fs is None:
        raise ValueError("iq_from_rf: demodulation at fc needs the sampling frequency fs (Hz)")
    fs, fc = float(fs), float(fc)
    if not (np.isfinite(fs) and fs > 0 and np.isfinite(fc) and 0 <= fc < fs / 2):
        raise ValueError(f"iq_from_rf: need fs > 0 and 0 <= fc < fs / 2 (Hz), got fs={fs}, fc={fc}")
    shape = [1] * analytic.ndim
    shape[axis] = analytic.shape[axis]
    time = np.arange(analytic.shape[axis]).reshape(shape) / fs
    return (analytic * np.exp(-2j * np.pi * fc * time)).astype(analytic.dtype)

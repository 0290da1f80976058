"""The scaffold every baseline filter shares: input checks and the log-intensity domain.

Every filter validates its input with :func:`_validate` (a float64 working copy, the
output dtype, the number of looks); the filters that work on log-intensity go there with
:func:`_log_intensity` and use the log-speckle moments of :func:`log_speckle_moments` to
set their noise level and to remove the log-domain bias on the way back to intensity.
"""

from __future__ import annotations

import numpy as np

from ..domains import log_speckle_moments  # noqa: F401  (its one home; re-exported here)

# Parameter and Returns entries that the filters share, filled into their docstrings by
# :func:`_filter_doc` (entries at the indentation of a top-level function's docstring).
_INTENSITY = "intensity : array_like, shape (H, W)\n        Noisy intensity, non-negative"
_LOOKS = "looks : float, optional\n        Number of looks ``L``."
_WINDOW_SIZE = "window_size : int, optional\n        Odd side of the square window."
_SHARED_DOC = {
    "%(intensity)s": _INTENSITY + ".",
    "%(log_intensity)s": _INTENSITY + " (zeros are raised to a tiny floor before the log).",
    "%(looks)s": _LOOKS,
    "%(window_size)s": _WINDOW_SIZE,
    "%(local_parameters)s": "\n    ".join((_INTENSITY + ".", _LOOKS, _WINDOW_SIZE)),
    "%(returns)s": "Returns\n    -------\n    ndarray, shape (H, W)\n        Filtered intensity.",
}

# Zero intensities are raised to this fraction of the image mean before a logarithm or a
# division: exponential (single-look) speckle puts only a 1e-6 fraction of pixels below it.
_RELATIVE_FLOOR = 1e-6


def _filter_doc(func):
    """Fill the shared entries (``%(intensity)s``, ``%(looks)s``, ...) into ``func``'s docstring."""
    if func.__doc__:  # None under python -OO
        for key, text in _SHARED_DOC.items():
            func.__doc__ = func.__doc__.replace(key, text)
    return func


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
    """A finite number > 0, as float."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: {what} must be a positive number, got {value}")
    return value


def _floored(image: np.ndarray) -> np.ndarray:
    """Strictly positive copy of an intensity image (zeros raised to a tiny floor)."""
    return np.maximum(image, _RELATIVE_FLOOR * image.mean())


def _log_intensity(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Log-intensity of a validated image and its 0.1 and 99.9 percentiles.

    The percentiles bound the display-like range that OBNLM and BM3D-log rescale to
    (single-look log-speckle has a long dark tail, which they ignore).
    """
    log_image = np.log(_floored(image))
    low, high = np.percentile(log_image, [0.1, 99.9])
    return log_image, low, high


def _from_log(log_estimate: np.ndarray, bias: float, dtype) -> np.ndarray:
    """Back from a LOG-INTENSITY estimate of ``E[log y] = log x + bias`` to intensity ``x``."""
    return np.exp(log_estimate - bias).astype(dtype)

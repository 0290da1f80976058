"""Argument checks shared by the simulators (NumPy only)."""

from __future__ import annotations

import numpy as np


def _check_intensity(image, name: str, *, ndim: int | None = 2) -> np.ndarray:
    """Return ``image`` as an array after checking it is a finite, non-negative intensity."""
    array = np.asarray(image)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a real-valued intensity array, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D (H, W) array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf values")
    if np.any(array < 0):
        raise ValueError(f"{name} is a linear intensity and must be non-negative, got min {array.min()}")
    return array


def _check_shape(shape, name: str = "shape", minimum: int = 1) -> tuple[int, int]:
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (H, W) of integers, got {shape!r}") from None
    if height < minimum or width < minimum:
        raise ValueError(f"{name} must be at least ({minimum}, {minimum}), got {(height, width)}")
    return height, width


def _check_pair(value, name: str) -> tuple[float, float]:
    """Accept a scalar (same for both axes) or an (axis-0, axis-1) pair of finite floats."""
    try:
        pair = np.broadcast_to(np.asarray(value, dtype=float), (2,))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a pair (axis 0, axis 1) of numbers, got {value!r}") from None
    if not np.all(np.isfinite(pair)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(pair[0]), float(pair[1])

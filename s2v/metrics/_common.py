"""Input checks shared by the metrics: finite real arrays, image pairs, region masks."""

from __future__ import annotations

import numpy as np


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


def _single_image(image) -> np.ndarray:
    """Validate one finite 2-D image and return it as float64."""
    values = _finite_array(image, "image")
    if values.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {values.shape}")
    return values


def _region_mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean mask of the image's shape selecting at least 2 pixels."""
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask shape {mask.shape} differs from image shape {shape}")
    mask = mask.astype(bool)
    if np.count_nonzero(mask) < 2:
        raise ValueError("mask selects fewer than 2 pixels (empty region of interest)")
    return mask

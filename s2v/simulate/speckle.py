"""Multiplicative Gamma speckle and the single-look synthetic protocol of the SAR literature.

Fully developed, spatially WHITE speckle ``y = x * n``, ``n ~ Gamma(L, 1/L)``; the protocol's
clean intensity is ``((gray + 1) / 256) ** 2`` of an 8-bit grey image (Set12 01-10, 10
realisations).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from ._checks import _check_intensity

__all__ = ["gamma_speckle", "synthetic_protocol_pair", "synthetic_protocol_set"]


def _float_dtype(array: np.ndarray) -> np.dtype:
    """float32 in -> float32 out, float64 stays float64, anything else becomes float32."""
    return array.dtype if array.dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _check_looks(looks) -> float:
    looks = float(looks)
    if not np.isfinite(looks) or looks <= 0:
        raise ValueError(f"looks must be a positive number, got {looks}")
    return looks


def gamma_speckle(clean_intensity, looks=1.0, *, seed=None):
    r"""Multiply a clean intensity by spatially white Gamma(L, 1/L) speckle.

    .. math:: y = x \, n, \qquad n \sim \Gamma(L, 1/L),\ \ E[n] = 1,\ \ \mathrm{Var}[n] = 1/L

    which is the intensity of an ``L``-look average of fully developed speckle (``L = 1``:
    exponential intensity, Rayleigh amplitude).

    Parameters
    ----------
    clean_intensity : array_like, any shape, typically (H, W)
        Noise-free LINEAR INTENSITY ``x`` (non-negative, finite).
    looks : float, optional
        Number of looks ``L > 0`` (need not be an integer).
    seed : None, int or numpy.random.Generator, optional
        Seed of the noise.

    Returns
    -------
    noisy_intensity : ndarray, same shape
        Speckled INTENSITY ``y``; float32 for float32 or integer input, float64 for float64.

    Examples
    --------
    >>> import numpy as np
    >>> y = gamma_speckle(np.ones((64, 64), np.float32), looks=4, seed=0)
    >>> y.dtype, bool(abs(y.mean() - 1) < 0.05)
    (dtype('float32'), True)
    """
    clean = _check_intensity(clean_intensity, "clean_intensity", ndim=None)
    looks = _check_looks(looks)
    rng = np.random.default_rng(seed)
    noise = rng.gamma(shape=looks, scale=1.0 / looks, size=clean.shape)
    dtype = _float_dtype(clean)
    return (clean.astype(dtype) * noise.astype(dtype)).astype(dtype, copy=False)


def synthetic_protocol_pair(gray, looks=1.0, *, seed=None):
    """Clean and speckled intensities of the SAR-literature synthetic protocol.

    The clean intensity of an 8-bit grey image is ``x = ((gray + 1) / 256) ** 2`` (so
    ``sqrt(x)`` is an amplitude with peak 1, the scale on which PSNR/SSIM are reported), and
    the noisy one is ``y = x * n`` with ``n ~ Gamma(L, 1/L)`` (:func:`gamma_speckle`).

    Parameters
    ----------
    gray : array_like of int, (H, W)
        8-bit grey image, values in 0..255 (uint8 or any integer dtype within that range).
    looks : float, optional
        Number of looks ``L`` (the protocol uses 1).
    seed : None, int or numpy.random.Generator, optional
        Seed of the speckle.

    Returns
    -------
    clean_intensity, noisy_intensity : ndarray of float32, (H, W)
        LINEAR INTENSITIES, clean in ``[1/65536, 1]``.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"gray must be a 2-D (H, W) 8-bit image, got shape {gray.shape}")
    if not np.issubdtype(gray.dtype, np.integer):
        raise ValueError(f"gray must be an integer 8-bit image (0..255), got dtype {gray.dtype}")
    if gray.size == 0 or gray.min() < 0 or gray.max() > 255:
        raise ValueError("gray must hold 8-bit values in 0..255")
    clean = ((gray.astype(np.float32) + 1.0) / 256.0) ** 2
    return clean, gamma_speckle(clean, looks, seed=seed)


def synthetic_protocol_set(images, looks=1.0, *, realisations=10, seed=0) -> Iterator[dict]:
    """Yield the noisy realisations of the synthetic protocol for a set of grey images.

    The speckle of realisation ``r`` of the ``i``-th image is seeded by
    ``numpy.random.SeedSequence([seed, i, r])``, so any single pair can be regenerated on
    its own, independently of the iteration order.

    Parameters
    ----------
    images : mapping name -> (H, W) uint8 array, or sequence of (H, W) uint8 arrays
        The clean 8-bit grey images (the protocol: Set12 ``01.png`` .. ``10.png``, loaded
        with :func:`s2v.io.read_image`). Sequences are named ``"00"``, ``"01"``, ...
    looks : float, optional
        Number of looks ``L``.
    realisations : int, optional
        Noise realisations per image (the protocol: 10).
    seed : int, optional
        Base seed.

    Yields
    ------
    dict
        ``name``, ``realisation`` (int), ``clean_intensity`` and ``noisy_intensity``
        (float32 (H, W) LINEAR INTENSITIES, see :func:`synthetic_protocol_pair`).
    """
    if isinstance(images, Mapping):
        items = list(images.items())
    elif isinstance(images, Sequence) or isinstance(images, np.ndarray):
        items = [(f"{i:02d}", image) for i, image in enumerate(images)]
    else:
        raise ValueError(f"images must be a mapping name -> image or a sequence of images, got {type(images)}")
    realisations = int(realisations)
    if realisations < 1:
        raise ValueError(f"realisations must be >= 1, got {realisations}")
    for index, (name, gray) in enumerate(items):
        for r in range(realisations):
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), index, r]))
            clean, noisy = synthetic_protocol_pair(gray, looks, seed=rng)
            yield {"name": str(name), "realisation": r, "clean_intensity": clean, "noisy_intensity": noisy}

"""Runtime: wall-clock seconds of a call, and seconds per megapixel of a denoiser."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np


def time_call(func: Callable[..., Any], *args, repeat: int = 1, **kwargs) -> tuple[Any, float]:
    """Run ``func(*args, **kwargs)`` and return its result and the wall-clock time.

    Parameters
    ----------
    func : callable
    *args, **kwargs
        Passed to ``func``.
    repeat : int, optional
        Number of runs; the **fastest** is reported (the least disturbed by other load on
        the machine), the result of the last run is returned.

    Returns
    -------
    result : object
        What ``func`` returned.
    seconds : float
        Wall-clock seconds (``time.perf_counter``) of the fastest run.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def time_per_megapixel(func: Callable[..., Any], image, *args, repeat: int = 1, **kwargs) -> tuple[Any, float]:
    """Run a denoiser ``func(image, *args, **kwargs)``; return its result and seconds per megapixel.

    Wall-clock time of the fastest of ``repeat`` runs (:func:`time_call`) divided by the
    image size in megapixels (``image.size / 1e6``; for a stack, all its pixels), so that
    methods timed on different image sizes can be compared (assuming a cost linear in the
    number of pixels, true of every filter in :mod:`s2v.baselines`).

    Parameters
    ----------
    func : callable
        Called as ``func(image, *args, **kwargs)``.
    image : array_like
        The input image (any domain; only its size matters here).
    repeat : int, optional
        Number of runs (the fastest is reported).

    Returns
    -------
    result : object
        What ``func`` returned.
    seconds_per_megapixel : float
    """
    size = np.asarray(image).size
    if size == 0:
        raise ValueError("image is empty (0 pixels); time per megapixel is undefined")
    result, seconds = time_call(func, image, *args, repeat=repeat, **kwargs)
    return result, seconds / (size / 1e6)

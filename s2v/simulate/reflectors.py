"""Bright specular reflectors (tissue interfaces) for ultrasound phantoms.

Clinical B-modes hold bright, thin, elongated structures -- organ capsules, the diaphragm,
vessel walls, fascia -- 15 to 30 dB above the surrounding parenchyma and mostly
perpendicular to the beam (where specular reflection returns to the probe). The phantoms of
:func:`s2v.simulate.ultrasound_phantom` have none brighter than their +8 dB fascia, so a
model trained on them meets such intensities for the first time on a scanner image. This
module draws them onto any echogenicity map.
"""

from __future__ import annotations

import numpy as np

from ._checks import _check_intensity

__all__ = ["add_specular_reflectors"]


def _check_range(value, name, *, low=None, high=None):
    pair = tuple(float(v) for v in np.broadcast_to(np.asarray(value, float), (2,)))
    if not all(np.isfinite(pair)) or pair[0] > pair[1] or (low is not None and pair[0] < low) \
            or (high is not None and pair[1] > high):
        bounds = f" within [{low}, {high}]" if low is not None or high is not None else ""
        raise ValueError(f"{name} must be a number or an increasing (min, max) pair{bounds}, got {value!r}")
    return pair


def add_specular_reflectors(echogenicity, *, count=3, level_db=(15.0, 30.0), length=(0.15, 0.6),
                            thickness=(1.0, 3.0), max_angle=25.0, curvature=0.15, seed=None):
    """Add bright curved bands (specular tissue interfaces) to an echogenicity map.

    Each reflector is a band along a gently curved line (a parabola of random sign and
    ``curvature``) through a random centre, at a random angle to the lateral axis, of random
    length and axial thickness; inside it the echogenicity is multiplied by a random
    ``level_db`` (dB, relative to the tissue it crosses, with a smooth raised-cosine profile
    across the band). Values are drawn uniformly in each ``(min, max)`` range.

    Parameters
    ----------
    echogenicity : array_like, (H, W)
        LINEAR INTENSITY echogenicity (non-negative), e.g. :func:`ultrasound_phantom`'s.
    count : int
        Number of reflectors (>= 0).
    level_db : float or (float, float)
        Brightness above the local echogenicity, dB (>= 0).
    length : float or (float, float)
        Length as a fraction of the image width, in (0, 2].
    thickness : float or (float, float)
        Full axial thickness in pixels (>= 0.5).
    max_angle : float
        Largest angle to the lateral axis, degrees, in [0, 90].
    curvature : float
        Largest sagitta of the arc as a fraction of its length, in [0, 1].
    seed : None, int or numpy.random.Generator

    Returns
    -------
    echogenicity : ndarray of float32, (H, W)
        The map with the reflectors (a new array; the input is not modified).
    mask : ndarray of bool, (H, W)
        Pixels brightened by more than 1 dB.
    """
    image = _check_intensity(echogenicity, "echogenicity").astype(np.float64)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    levels = _check_range(level_db, "level_db", low=0.0)
    lengths = _check_range(length, "length", low=1e-6, high=2.0)
    widths = _check_range(thickness, "thickness", low=0.5)
    max_angle = float(max_angle)
    curvature = float(curvature)
    if not 0.0 <= max_angle <= 90.0:
        raise ValueError(f"max_angle must be in [0, 90] degrees, got {max_angle!r}")
    if not 0.0 <= curvature <= 1.0:
        raise ValueError(f"curvature must be in [0, 1], got {curvature!r}")
    rng = np.random.default_rng(seed)
    height, width = image.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    gain_db = np.zeros(image.shape)
    for _ in range(int(count)):
        centre = rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width
        angle = np.deg2rad(rng.uniform(-max_angle, max_angle))
        half = 0.5 * rng.uniform(*lengths) * width
        half_thickness = 0.5 * rng.uniform(*widths)
        sagitta = rng.uniform(-curvature, curvature) * 2.0 * half
        level = rng.uniform(*levels)
        # Coordinates along (u) and across (v) the reflector's chord.
        u = (cols - centre[1]) * np.cos(angle) + (rows - centre[0]) * np.sin(angle)
        v = -(cols - centre[1]) * np.sin(angle) + (rows - centre[0]) * np.cos(angle)
        across = np.abs(v - sagitta * (1.0 - (u / half) ** 2))
        inside = (np.abs(u) <= half) & (across <= half_thickness + 1.0)
        # Raised-cosine profile: full level on the centre line, 0 one pixel beyond the half-thickness.
        profile = np.where(inside, 0.5 * (1.0 + np.cos(np.pi * np.clip(across / (half_thickness + 1.0), 0, 1))), 0.0)
        gain_db = np.maximum(gain_db, level * profile)
    out = image * 10.0 ** (gain_db / 10.0)
    return out.astype(np.float32), gain_db > 1.0

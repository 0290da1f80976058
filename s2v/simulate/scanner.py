"""What a clinical scanner does to an image before the user sees it: gain, log compression, 8 bits.

A scanner's exported B-mode is not the 60 dB log compression of the beamformed intensity
that :func:`s2v.simulate.simulate_ultrasound` writes: the operator's time-gain compensation
(TGC) rarely cancels the attenuation exactly, so brightness drifts with depth and the near
field is often bright; the dynamic range of the display is a knob (typically 40-90 dB);
and the result is quantised to 8 bits. A user who converts such an image back to intensity
assumes some dynamic range (60 dB in :func:`s2v.despeckle`) that need not be the scanner's.
:func:`scanner_export` applies these steps to a simulation, with the ground truth carried
through the same mapping, so that the B-mode pipeline can be measured on data like a
scanner's.
"""

from __future__ import annotations

import numpy as np

from ._checks import _check_intensity

__all__ = ["scanner_export", "depth_gain"]


def depth_gain(shape, *, near_field_db=(0.0, 15.0), near_field_depth=(0.05, 0.25), slope_db=(-15.0, 15.0),
               lateral_db=(0.0, 3.0), seed=None) -> np.ndarray:
    """A smooth random gain field of imperfect time-gain compensation, in linear intensity.

    In dB: ``near * exp(-z / depth) + slope * (z - 1/2) + lateral * sin(pi x + phase)``,
    with ``z`` and ``x`` the depth (rows) and lateral position (columns) in [0, 1]:
    a bright near field that fades over ``depth`` of the image, a residual linear drift with
    depth (under- or over-compensated attenuation) and a gentle lateral variation. Each
    coefficient is drawn uniformly in its ``(min, max)`` range.

    Parameters
    ----------
    shape : tuple of int
        (rows, columns); rows are depth.
    near_field_db, near_field_depth, slope_db, lateral_db : (min, max)
        Ranges of the near-field boost (dB), its decay depth (fraction of the image height),
        the drift over the whole depth (dB) and the lateral amplitude (dB).
    seed : None, int or numpy.random.Generator

    Returns
    -------
    ndarray, (rows, columns) float32
        Multiplicative INTENSITY gain (> 0).
    """
    rng = np.random.default_rng(seed)
    rows, cols = (int(v) for v in shape)
    near, depth = rng.uniform(*near_field_db), rng.uniform(*near_field_depth)
    slope, lateral, phase = rng.uniform(*slope_db), rng.uniform(*lateral_db), rng.uniform(0, 2 * np.pi)
    z = (np.arange(rows) + 0.5)[:, None] / rows
    x = (np.arange(cols) + 0.5)[None, :] / cols
    gain_db = near * np.exp(-z / depth) + slope * (z - 0.5) + lateral * np.sin(np.pi * x + phase)
    return (10.0 ** (gain_db / 10.0)).astype(np.float32)


def scanner_export(intensity, ground_truth, *, dynamic_range=(45.0, 85.0), assumed_dynamic_range=60.0,
                   gain=True, seed=None) -> dict:
    """An 8-bit scanner B-mode of a simulation, and what a user reads back from it.

    Steps: multiply the intensity (and the ground truth) by a :func:`depth_gain` field;
    log-compress with a random display dynamic range ``DR`` (0 dB at the 99.9th percentile
    of the gained intensity, as a scanner's gain puts bright tissue near white); quantise to
    8 bits. The user converts the grey levels back to intensity with
    ``assumed_dynamic_range`` (``DR_a``), which gives ``(I / I_ref) ** (DR_a / DR)`` up to
    quantisation: the ground truth is mapped the same way (``reference_intensity``).

    Parameters
    ----------
    intensity : array_like, (H, W)
        Speckled linear INTENSITY of a simulation (e.g. ``simulate_ultrasound(...)["intensity"]``).
    ground_truth : array_like, (H, W) or None
        Its noise-free INTENSITY (e.g. ``blurred_echogenicity``), same scale; None when only
        the export is needed (training).
    dynamic_range : float or (min, max)
        The scanner's display dynamic range in dB, or the range it is drawn from.
    assumed_dynamic_range : float
        The dynamic range the user assumes when converting back (dB).
    gain : bool
        Apply a random :func:`depth_gain` (False: uniform gain).
    seed : None, int or numpy.random.Generator

    Returns
    -------
    dict
        ``bmode`` (uint8 grey levels), ``intensity`` (float32: the user's intensity,
        ``10 ** (DR_a (g / 255 - 1) / 10)``), ``reference_intensity`` (float32: the ground
        truth under the same mapping, without quantisation; only with ``ground_truth``), ``gain`` (the field applied) and
        ``params`` (``dynamic_range``, ``assumed_dynamic_range``, ``reference``).
    """
    intensity = _check_intensity(intensity, "intensity")
    if ground_truth is not None:
        ground_truth = _check_intensity(ground_truth, "ground_truth")
        if intensity.shape != ground_truth.shape:
            raise ValueError(f"intensity and ground_truth must have the same shape, got {intensity.shape} "
                             f"and {ground_truth.shape}")
    low, high = (float(v) for v in np.broadcast_to(np.asarray(dynamic_range, float), (2,)))
    if not (0 < low <= high and np.isfinite(high)):
        raise ValueError(f"dynamic_range must be a positive number or an increasing pair, got {dynamic_range!r}")
    if not (np.isfinite(assumed_dynamic_range) and assumed_dynamic_range > 0):
        raise ValueError(f"assumed_dynamic_range must be a positive number, got {assumed_dynamic_range!r}")
    from s2v.domains import bmode_to_intensity, intensity_to_bmode  # the one log-compression convention

    rng = np.random.default_rng(seed)
    display_range = float(rng.uniform(low, high))
    field = depth_gain(intensity.shape, seed=rng) if gain else np.ones(intensity.shape, np.float32)
    gained = intensity.astype(np.float64) * field
    reference = float(np.percentile(gained, 99.9))
    grey = intensity_to_bmode(gained, dynamic_range=display_range, scale="uint8", reference=reference)
    user = bmode_to_intensity(grey, dynamic_range=assumed_dynamic_range, scale="uint8")
    result = {"bmode": grey, "intensity": user.astype(np.float32), "gain": field,
              "params": {"dynamic_range": display_range, "assumed_dynamic_range": float(assumed_dynamic_range),
                         "reference": reference}}
    if ground_truth is not None:
        truth = (ground_truth.astype(np.float64) * field / reference) ** (assumed_dynamic_range / display_range)
        result["reference_intensity"] = truth.astype(np.float32)
    return result

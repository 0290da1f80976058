"""Classical despeckling filters, all with one signature: ``f(intensity, *, looks=1.0, ...)``.

Every filter takes a 2-D **intensity** image (linear power ``|z|^2``, speckle model
``y = x * n`` with ``n ~ Gamma(L, 1/L)``), returns an intensity image of the same shape, and
keeps float32 as float32 (integer and float16 inputs give float32, float64 stays float64).
Algorithm settings default to the values of the original papers, or to common practice
where the paper leaves them open (noted in each docstring). Each docstring states the domain
the filter works in internally (intensity, amplitude or log-intensity) and how the result is
brought back to intensity without a radiometric bias.

Speckle is often spatially correlated (ultrasound: over the point-spread function). The
non-local filters (NLM-log, OBNLM, BM3D-log) therefore take their noise model from the data
by default: the log-speckle autocorrelation is estimated in the most homogeneous windows of
the image (:func:`estimate_log_speckle_correlation`) and sets the smoothing parameter of the
patch filters (:func:`patch_distance_inflation`) and BM3D's noise power spectrum
(:func:`estimate_log_noise_psd`). ``noise_correlation=None`` / ``noise_psd=None`` restore
the white-speckle filters as published; an array gives the model explicitly.

``BASELINES`` maps short names to the filters, so a comparison is a loop over it.

Modules, by concern: :mod:`._common` (input checks, the log-intensity domain and the
log-speckle moments), :mod:`.noise_model` (the log-speckle correlation and PSD estimated
from the data), :mod:`.local_stats` (boxcar, median, Lee, Kuan, enhanced Lee, Frost),
:mod:`.diffusion` (SRAD), :mod:`.obnlm` (OBNLM) and :mod:`.homomorphic` (NLM-log,
BM3D-log). Every public name is importable from ``s2v.baselines``.
"""

from __future__ import annotations

from ._common import log_speckle_moments
from .diffusion import denoise_srad
from .homomorphic import denoise_bm3d_log, denoise_nlm_log
from .local_stats import (
    denoise_boxcar,
    denoise_enhanced_lee,
    denoise_frost,
    denoise_kuan,
    denoise_lee,
    denoise_median,
)
from .noise_model import (
    estimate_log_noise_psd,
    estimate_log_speckle_correlation,
    homogeneous_windows,
    log_noise_psd,
    patch_distance_inflation,
)
from .obnlm import denoise_obnlm

__all__ = [
    "denoise_boxcar",
    "denoise_median",
    "denoise_lee",
    "denoise_enhanced_lee",
    "denoise_kuan",
    "denoise_frost",
    "denoise_srad",
    "denoise_obnlm",
    "denoise_nlm_log",
    "denoise_bm3d_log",
    "log_speckle_moments",
    "homogeneous_windows",
    "estimate_log_speckle_correlation",
    "estimate_log_noise_psd",
    "log_noise_psd",
    "patch_distance_inflation",
    "BASELINES",
]

BASELINES = {
    "boxcar": denoise_boxcar,
    "median": denoise_median,
    "lee": denoise_lee,
    "enhanced_lee": denoise_enhanced_lee,
    "kuan": denoise_kuan,
    "frost": denoise_frost,
    "srad": denoise_srad,
    "obnlm": denoise_obnlm,
    "nlm_log": denoise_nlm_log,
    "bm3d_log": denoise_bm3d_log,
}
"""Name -> baseline despeckler, every one ``f(intensity, *, looks=1.0) -> intensity``."""

"""Blind speckle decorrelation (spectral whitening) of complex SAR and ultrasound images.

Blind-spot despecklers assume that the speckle of neighbouring pixels is
independent. The transfer function of a SAR processor (spectral weighting,
Doppler centroid, oversampling) or of an ultrasound system (pulse spectrum,
beam pattern) correlates it. This package estimates that transfer function from
the complex image itself and inverts it (Lapini et al., 2014), as the
Speckle2Void reference does with its MATLAB scripts ``decorrelate.m``,
``equalizeIQ.m`` and ``inspect_spectrum.m``.

Conventions used throughout
---------------------------
- Images are (H, W); axis 0 = rows (azimuth for SAR, depth for ultrasound),
  axis 1 = columns (range / lateral). Pairs of per-axis values are ``(y, x)``
  = ``(axis 0, axis 1)``.
- A frequency *shift* ``m`` is a normalised frequency in units of pi rad/sample
  (Nyquist = 1, range [-1, 1]), as in ``equalizeIQ.m``: the image is multiplied
  by ``exp(-1j * pi * (m_y * row + m_x * col))``.
- A *cut-off* ``r`` is the fraction of the N frequency bins dropped at each edge
  of the centred spectrum: the kept band has ``N - 2 * round(N * r)`` bins. This
  is what ``equalizeIQ.m`` computes (its header comment, "frequencies in
  [-pi(1-r), pi(1-r)]", describes half that cut).
- Lag correlation of a complex image is ``|R(lag)| / R(0)`` with ``R`` the
  circular autocorrelation (inverse FFT of the periodogram), as in the
  reference; for circular Gaussian speckle the intensity correlation is its
  square.

- The FFT is taken of the image's half-sample symmetric extension (2H, 2W), whose
  periodic repetition has no jump at the borders (a jump has a flat spectrum,
  which whitening would amplify where the speckle spectrum is weak).

Images without phase (intensity, B-mode) cannot be whitened:
:func:`residual_correlation_vs_stride` measures the correlation that a
pixel-shuffle sub-sampling (:func:`s2v.transforms.pixel_unshuffle`,
``S2VConfig(pixel_shuffle=...)``) leaves between the neighbours it creates.

Modules, lowest first: :mod:`~s2v.decorrelation.spectra` (input checks, spectral
helpers, the correlation diagnostics), :mod:`~s2v.decorrelation.estimate` (profile
fit, automatic shift and cut-off), :mod:`~s2v.decorrelation.targets` (point
targets), :mod:`~s2v.decorrelation.whiten` (:func:`decorrelate`) and
:mod:`~s2v.decorrelation.plot` (:func:`inspect_spectrum`). The command line is
``s2v decorrelate`` (:mod:`s2v.cli`). Depends on numpy and scipy (matplotlib for
the figure).
"""

from __future__ import annotations

from .estimate import AUTO_TARGET_RHO, AUTO_THRESHOLDS, estimate_parameters, fit_profile
from .plot import inspect_spectrum
from .spectra import lag_correlation, residual_correlation_vs_stride, spectrum_profiles
from .whiten import DecorrelationReport, decorrelate

__all__ = [
    "DecorrelationReport",
    "decorrelate",
    "estimate_parameters",
    "fit_profile",
    "inspect_spectrum",
    "lag_correlation",
    "spectrum_profiles",
    "residual_correlation_vs_stride",
]

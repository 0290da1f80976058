"""Speckle simulators with ground truth: Gamma intensity speckle, ultrasound IQ, SAR-like SLC.

Three families, all seeded and all returning the noise-free quantity next to the noisy one:

* :func:`gamma_speckle` and :func:`synthetic_protocol_pair` / :func:`synthetic_protocol_set`
  -- the fully developed, spatially WHITE multiplicative model ``y = x * n``,
  ``n ~ Gamma(L, 1/L)``, and the single-look synthetic protocol of the SAR despeckling
  literature (clean intensity ``((gray + 1) / 256) ** 2``, Set12 01-10, 10 realisations).
* :func:`ultrasound_phantom` (layers, organ-like texture, anechoic / hyperechoic cysts, point
  targets), :func:`vessel_phantom` (a second layout: oblique vessels, irregular lesions),
  :func:`add_specular_reflectors` (bright tissue interfaces drawn onto either) and
  :func:`simulate_ultrasound` -- an echogenicity phantom times complex
  circular Gaussian scatterers, convolved with a baseband point-spread function given in
  physical units: complex IQ with spatially CORRELATED speckle, its envelope, intensity and
  B-mode, plus the echogenicity and the PSF-blurred echogenicity as ground truth;
  :func:`simulate_ultrasound_pymust` does the same with a physical array simulation
  (plane-wave transmit, delay-and-sum) when the optional package ``pymust`` is installed;
  :func:`scanner_export` turns a simulation into the 8-bit B-mode a clinical scanner
  exports (depth-dependent gain, its own display dynamic range) and what a user reads back.
* :func:`simulate_correlated_slc` -- SAR-like single-look complex (SLC) speckle whose spectrum
  is a tapered, band-limited, optionally off-centre window, with optional point targets: the
  test bed of the blind speckle decorrelator (:mod:`s2v.decorrelation`).

Every ``seed`` argument accepts ``None``, an integer or a :class:`numpy.random.Generator`
(as :func:`numpy.random.default_rng` does). This package needs numpy and scipy, plus
:mod:`s2v.domains` for the B-mode log-compression (imported when a B-mode is made).

Modules: :mod:`~s2v.simulate.speckle` (Gamma speckle, synthetic protocol),
:mod:`~s2v.simulate.ultrasound` (phantom, PSF, convolution simulator),
:mod:`~s2v.simulate.reflectors` (specular interfaces), :mod:`~s2v.simulate.scanner`
(scanner export),
:mod:`~s2v.simulate.ultrasound_pymust` (the ``pymust`` bridge), :mod:`~s2v.simulate.sar`
(correlated SLC); every public name is importable from :mod:`s2v.simulate`.
"""

from __future__ import annotations

from .reflectors import add_specular_reflectors
from .sar import simulate_correlated_slc
from .scanner import depth_gain, scanner_export
from .speckle import gamma_speckle, synthetic_protocol_pair, synthetic_protocol_set
from .ultrasound import simulate_ultrasound, ultrasound_phantom, ultrasound_psf, vessel_phantom
from .ultrasound_pymust import simulate_ultrasound_pymust

__all__ = [
    "gamma_speckle",
    "synthetic_protocol_pair",
    "synthetic_protocol_set",
    "ultrasound_phantom",
    "vessel_phantom",
    "add_specular_reflectors",
    "ultrasound_psf",
    "simulate_ultrasound",
    "simulate_ultrasound_pymust",
    "simulate_correlated_slc",
    "depth_gain",
    "scanner_export",
]

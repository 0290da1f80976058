"""Image-quality metrics for despeckling: fidelity, speckle statistics, contrast, edges, runtime.

Every function takes NumPy arrays and returns Python floats (or a dict of floats), so the
comparison harness can tabulate them directly. Each docstring states the domain its input is
expected in; most speckle-metric mistakes are domain mistakes (an ENL computed on amplitude,
a PSNR computed on intensity with an arbitrary peak, ...).

Conventions
-----------
* Fidelity (``psnr``, ``ssim``) needs a ground truth. For the synthetic SAR protocol
  (clean intensity ``x = ((gray + 1) / 256) ** 2``, noisy ``y = x * n``) the literature
  scores on **amplitude** ``sqrt(x)`` with a **peak of 1** (the clean amplitude lies in
  (0, 1]); :func:`synthetic_protocol_scores` applies exactly that convention.
* No-reference speckle statistics (``enl``, ``ratio_statistics``) work on **intensity**
  (linear power): homogeneous intensity speckle with ``L`` looks has mean 1 and variance
  ``1/L`` for the normalised noise ``n ~ Gamma(L, 1/L)``.
* ``speckle_snr`` works on the **envelope** (amplitude), where fully developed speckle is
  Rayleigh distributed.
* Contrast (``cnr``, ``gcnr``) works on whatever domain the caller passes; gCNR is invariant to
  any strictly monotonic mapping (e.g. log compression), CNR is not.
* For ultrasound the primary full-reference figures are ``bmode_psnr`` / ``bmode_ssim``: both
  **intensities** log-compressed to B-mode dB with the reference's maximum at 0 dB and a stated
  dynamic range (default 60 dB), the image clinicians read; PSNR on amplitude is secondary.
* Resolution (``point_fwhm``, ``edge_spread_width`` with ``radial_profile``) works on a linear
  scale, amplitude (envelope) for ultrasound: a filter that blurs widens both; compare with the
  same figure on the ground truth.
* Artefacts: ``mosaic_peak`` looks for the period-``s`` pattern a pixel-shuffle
  despeckler can leave, in the power spectrum of the image as displayed (B-mode dB).
* Runtime: ``time_call`` (seconds) and ``time_per_megapixel`` (seconds per megapixel).

Modules, by concern: :mod:`.fidelity` (PSNR, SSIM, their B-mode versions, EPI),
:mod:`.speckle` (ENL, ratio image, speckle SNR), :mod:`.contrast` (CNR, gCNR),
:mod:`.resolution` (FWHM, edge-spread width, radial profile), :mod:`.artefacts` (mosaic)
and :mod:`.timing`. Every
public name is importable from ``s2v.metrics``.
"""

from __future__ import annotations

from .artefacts import mosaic_peak
from .contrast import cnr, gcnr
from .fidelity import bmode_psnr, bmode_ssim, edge_preservation_index, psnr, ssim, synthetic_protocol_scores
from .resolution import edge_spread_width, point_fwhm, radial_profile
from .speckle import enl, ratio_image, ratio_statistics, speckle_snr
from .timing import time_call, time_per_megapixel

__all__ = [
    "psnr",
    "ssim",
    "synthetic_protocol_scores",
    "enl",
    "ratio_image",
    "ratio_statistics",
    "cnr",
    "gcnr",
    "speckle_snr",
    "edge_preservation_index",
    "bmode_psnr",
    "bmode_ssim",
    "point_fwhm",
    "edge_spread_width",
    "radial_profile",
    "time_call",
    "time_per_megapixel",
    "mosaic_peak",
]

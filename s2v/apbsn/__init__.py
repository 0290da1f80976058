r"""AP-BSN for speckle: asymmetric pixel-shuffle downsampling + blind-spot network.

Lee, Son & Lee, "AP-BSN: Self-Supervised Denoising for Real-World Images via
Asymmetric PD and Blind-Spot Network", CVPR 2022, written in Keras 3 from the paper
and the authors' code (wooseoklee4/AP-BSN); the study's "other paper" (its README,
notebook and measurements are in ``autre_papier/``).

* **PD** (pixel-shuffle downsampling) with stride ``s`` splits an image into
  ``s x s`` sub-images of every ``s``-th pixel (:mod:`s2v.transforms`, zero fill),
  each framed by ``pd_pad`` zeros, tiled into one mosaic. Spatially correlated
  noise becomes nearly independent inside a sub-image when ``s`` exceeds the
  correlation length.
* **Blind-spot network** (DBSNl of the official code): a 1x1 head, two branches
  (centre-masked 3x3 conv then modules of 3x3 convs dilated by 2; centre-masked
  5x5 conv then modules dilated by 3), a 1x1 tail. The output at a pixel never
  sees the input at that pixel.
* **Asymmetric strides**: train with ``s = 5`` (breaks the correlation),
  predict with ``s = 2`` (less aliasing of the image detail).
* **R^3** (random-replacing refinement): ``T`` times, replace a random fraction
  ``p`` of the denoised pixels with the noisy ones and run the network without
  PD; average the ``T`` outputs.

Speckle adaptation (the paper treats additive zero-mean noise). Two losses:

``"log_l1"`` (default)
    The network works on log-intensity, where speckle is additive,
    ``log y = log x + log n``. With the paper's L1 loss it learns the
    conditional *median* of ``log y``, i.e. ``log x + m_L`` with
    ``m_L = log(P^{-1}(L, 1/2) / L)`` the median of ``log n`` for
    ``n ~ Gamma(L, 1/L)``; ``m_L`` is subtracted before ``exp``
    (:func:`log_speckle_bias`).
``"gamma"``
    The loss of Speckle2Void on intensity: the network outputs the
    inverse-gamma prior ``(alpha, beta)`` of the clean intensity and minimises
    the Gamma(L) marginal negative log-likelihood of :mod:`s2v.bayes`; the
    estimate is the posterior mean ``(beta + L y) / (alpha + L - 1)``.
    (:mod:`s2v.bayes` is written with ``keras.ops``: any Keras backend.)

The network input is always ``log(y / mean(y))`` (scale-free).

Modules: :mod:`~s2v.apbsn.config` (``APBSNConfig``, no TensorFlow),
:mod:`~s2v.apbsn.pd` (PD on :mod:`s2v.transforms`, NumPy),
:mod:`~s2v.apbsn.model` (Keras layers and the model), :mod:`~s2v.apbsn.data`
(training crops on :class:`s2v.patches.PatchSampler`, simulated B-mode items),
:mod:`~s2v.apbsn.training` (``fit`` with the checkpoints of :mod:`s2v.training`),
:mod:`~s2v.apbsn.pipeline` (``load_model``, ``despeckle``). Domains: every public
function takes and returns **intensity** (linear power) images (H, W) float32
unless it says otherwise.

>>> from s2v import apbsn                                     # doctest: +SKIP
>>> estimate = apbsn.despeckle(intensity, looks=1.0)           # doctest: +SKIP

The names are imported lazily: ``import s2v.apbsn`` loads neither TensorFlow nor Keras.
"""

from __future__ import annotations

from s2v._shared import checkpoint_root, lazy_exports

#: The shipped AP-BSN model (trained on ultrasound B-mode; model card in the same folder).
DEFAULT_CHECKPOINT = checkpoint_root() / "apbsn" / "apbsn.keras"

_LAZY = {
    "APBSNConfig": "config",
    "PRESETS": "config",
    "LOSSES": "config",
    "log_speckle_bias": "config",
    "APBSN": "model",
    "BlindSpotNetwork": "model",
    "pd_down": "pd",
    "pd_up": "pd",
    "APBSNPatchSampler": "data",
    "simulated_bmode_items": "data",
    "train": "training",
    "make_optimizer": "training",
    "load_model": "pipeline",
    "save_model": "pipeline",
    "despeckle": "pipeline",
    "denoiser": "pipeline",
}

__all__ = [*_LAZY, "DEFAULT_CHECKPOINT"]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

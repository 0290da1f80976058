r"""Gamma speckle likelihood with an inverse-gamma prior: the Speckle2Void model.

Domain: **intensity** throughout (``y`` noisy, ``x`` clean, both >= 0).

Model (Bordone Molini et al., TGRS 2022, Sec. III):

.. math::

    y \mid x \sim \mathrm{Gamma}(L, L / x), \qquad
    x \sim \mathrm{InvGamma}(\alpha, \beta),

so ``E[y | x] = x`` and ``Var[y | x] = x^2 / L``. Integrating ``x`` out gives
the marginal

.. math::

    \log p(y) = L \log L + (L - 1) \log y + \alpha \log \beta
        - (L + \alpha) \log(\beta + L y) - \log B(\alpha, L),

with ``B`` the beta function, and the posterior is conjugate:
``x | y ~ InvGamma(alpha + L, beta + L y)``.

Every function accepts numpy arrays or tensors of any (broadcastable) shape,
computes in float32 with ``keras.ops`` (any Keras backend) and returns a
tensor of the current backend (``numpy.asarray`` converts it).
"""

from __future__ import annotations

import math

from ._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras
from keras import ops

__all__ = [
    "negative_log_likelihood",
    "posterior_mean",
    "prior_mean",
    "posterior_std",
    "LOG_EPS",
]

#: Added to ``beta`` and ``y`` inside logarithms, as the reference does
#: (1e-19), so a zero ``beta`` or intensity gives a large finite loss.
LOG_EPS = 1e-19


def _float(*values):
    return [ops.cast(ops.convert_to_tensor(v), "float32") for v in values]


def log_gamma(x):
    """``log |Gamma(x)|`` elementwise, on the current Keras backend.

    ``keras.ops`` (3.15) has no log-gamma function, so this dispatches to the
    backend's own: ``tf.math.lgamma``, ``jax.scipy.special.gammaln``,
    ``torch.lgamma`` (``scipy.special.gammaln`` for the numpy backend).
    """
    x = ops.convert_to_tensor(x)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.math.lgamma(x)
    if backend == "jax":
        import jax

        return jax.scipy.special.gammaln(x)
    if backend == "torch":
        import torch

        return torch.lgamma(x)
    from scipy.special import gammaln

    return ops.convert_to_tensor(gammaln(ops.convert_to_numpy(x)), dtype=x.dtype)


def negative_log_likelihood(y, alpha, beta, looks):
    """Per-pixel negative log marginal likelihood ``-log p(y | alpha, beta)``.

    Parameters
    ----------
    y : array_like
        Noisy intensity (>= 0).
    alpha, beta : array_like
        Inverse-gamma prior parameters (``alpha > 0``, ``beta >= 0``), same
        shape as ``y`` or broadcastable.
    looks : float or array_like
        Number of looks ``L`` of the Gamma speckle: one number, or one per pixel
        (broadcastable to ``y``: training on a range of looks,
        ``S2VConfig.looks_range``).

    Returns
    -------
    Tensor
        ``-log p(y)``, same shape as ``y``. The training loss is its mean over
        the pixels that are not point targets.
    """
    y, alpha, beta = _float(y, alpha, beta)
    if isinstance(looks, (int, float)):
        looks = float(looks)
        log_gamma_looks, log_looks = math.lgamma(looks), math.log(looks)
    else:
        looks = _float(looks)[0]
        log_gamma_looks, log_looks = log_gamma(looks), ops.log(looks)
    log_beta_fn = log_gamma(alpha) + log_gamma_looks - log_gamma(alpha + looks)
    log_p = (
        looks * log_looks
        + (looks - 1.0) * ops.log(y + LOG_EPS)
        + alpha * ops.log(beta + LOG_EPS)
        - (looks + alpha) * ops.log(beta + looks * y + LOG_EPS)
        - log_beta_fn
    )
    return -log_p


def posterior_mean(y, alpha, beta, looks):
    """MMSE estimate of the clean intensity: ``(beta + L y) / (alpha + L - 1)``."""
    y, alpha, beta = _float(y, alpha, beta)
    return (beta + looks * y) / (alpha + looks - 1.0)


def prior_mean(alpha, beta):
    """Mean of the inverse-gamma prior, ``beta / (alpha - 1)``.

    It ignores the pixel's own value: the blind-spot network's prediction from
    the surroundings only. Defined for ``alpha > 1``; the reference adds 1e-19
    to the denominator, and so do we.
    """
    alpha, beta = _float(alpha, beta)
    return beta / (alpha - 1.0 + LOG_EPS)


def posterior_std(y, alpha, beta, looks):
    """Posterior standard deviation of the clean intensity (uncertainty map).

    ``x | y ~ InvGamma(a, b)`` with ``a = alpha + L``, ``b = beta + L y`` has
    variance ``b^2 / ((a - 1)^2 (a - 2))`` for ``a > 2``, i.e.
    ``std = posterior_mean / sqrt(a - 2)``. Where ``a <= 2`` the variance is
    infinite; ``a - 2`` is floored at 1e-6 so the map stays finite and such
    pixels stand out as 1000 x the posterior mean.
    """
    a = _float(alpha)[0] + looks
    return posterior_mean(y, alpha, beta, looks) / ops.sqrt(ops.maximum(a - 2.0, 1e-6))

"""Configuration of AP-BSN (network, refinement, training) and the log-speckle bias.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from s2v.config import ValidatedConfig

__all__ = ["APBSNConfig", "PRESETS", "LOSSES", "AUGMENTATIONS", "log_speckle_bias", "check_looks"]

LOSSES = ("log_l1", "gamma")
AUGMENTATIONS = ("hflip", "vflip", "rot")


def check_looks(looks, name: str = "looks") -> float:
    """``looks`` as a float: a finite number > 0 (:func:`s2v.utils.check_number`).

    ``looks=inf`` would turn every Gamma(L) formula into NaN (issue 16), so it is refused
    where it enters, with zero, negative and NaN values.
    """
    from s2v.utils import check_number

    return check_number(looks, name)


def log_speckle_bias(looks: float = 1.0, statistic: str = "median") -> float:
    r"""Bias of log-speckle, ``log n`` with ``n ~ Gamma(L, 1/L)`` (mean 1).

    Parameters
    ----------
    looks : float
        Number of looks ``L`` (finite, > 0).
    statistic : {"median", "mean"}
        ``"mean"``: :math:`E[\log n] = \psi(L) - \log L` (-0.5772 for L=1),
        the correction after an L2 loss on log-intensity (the same value as
        :func:`s2v.baselines.log_speckle_moments`). ``"median"``:
        :math:`\log(P^{-1}(L, 1/2) / L)` (:math:`\log\log 2 = -0.3665` for
        L=1, :math:`P^{-1}` the inverse regularised lower incomplete gamma
        function), the correction after the L1 loss, which estimates medians.

    Returns
    -------
    float
        The value to subtract from a log-domain estimate before ``exp``.

    Examples
    --------
    >>> round(log_speckle_bias(1.0, "mean"), 4)
    -0.5772
    >>> round(log_speckle_bias(1.0, "median"), 4)
    -0.3665
    """
    from scipy import special

    looks = check_looks(looks)
    if statistic == "mean":
        from s2v.baselines import log_speckle_moments

        return log_speckle_moments(looks)[0]
    if statistic == "median":
        return float(math.log(special.gammaincinv(looks, 0.5) / looks))
    raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}")


@dataclasses.dataclass(frozen=True)
class APBSNConfig(ValidatedConfig):
    """AP-BSN network, refinement and training configuration.

    Use :meth:`from_preset`: ``"paper"`` is the official configuration
    (``conf/APBSN_SIDD.yaml`` of wooseoklee4/AP-BSN); ``"cpu"`` a lighter
    network chosen by measuring training-step times on two CPU cores
    (``autre_papier/README.md``). Every field is checked by type and range at
    construction, all problems reported at once.

    Parameters
    ----------
    base_channels : int
        Feature maps of the blind-spot network (paper: 128, even).
    num_modules : int
        Dilated residual modules per branch (paper: 9).
    train_stride, inference_stride : int
        PD strides ``a`` for training and ``b`` for prediction (paper: 5, 2).
    pd_pad : int
        Zero pixels around every PD sub-image (paper: 2).
    r3_passes, r3_probability : int, float
        R^3 refinement: number of passes ``T`` (paper 8; 0 disables R^3) and
        replacement probability ``p`` (paper 0.16).
    loss : {"log_l1", "gamma"}
        Speckle adaptation (see :mod:`s2v.apbsn`). The paper's loss is L1.
    looks : float
        Number of looks ``L`` of the training speckle (1: fully developed).
    patch_size, batch_size : int
        Square training crop side and batch (paper: 120, 8).
    learning_rate : float
        Adam initial learning rate (paper: 1e-4).
    total_steps : int
        Training steps. The paper trains 20 epochs over SIDD-Medium crops; the
        ``"paper"`` value 70 000 is our estimate of that (about 28 000 crops
        of 512x512 / batch 8 x 20 epochs), not a number the paper states.
    decay_at : tuple of float
        Fractions of ``total_steps`` where the learning rate is divided by 10
        (paper: epochs 8 and 16 of 20, i.e. 0.4 and 0.8).
    checkpoint_every : int
        Steps between checkpoints (also the Keras "epoch" length).
    augment : tuple of str
        Random "hflip", "vflip" and "rot" (90 degrees) of training crops
        (paper: hflip and rot). The blind spot is a centred, isotropic hole,
        so rotations keep it.
    seed : int
        Seed of weight initialisation and patch sampling.
    """

    base_channels: int = 128
    num_modules: int = 9
    train_stride: int = 5
    inference_stride: int = 2
    pd_pad: int = 2
    r3_passes: int = 8
    r3_probability: float = 0.16
    loss: str = "log_l1"
    looks: float = 1.0
    patch_size: int = 120
    batch_size: int = 8
    learning_rate: float = 1e-4
    total_steps: int = 70_000
    decay_at: tuple[float, ...] = (0.4, 0.8)
    checkpoint_every: int = 1000
    augment: tuple[str, ...] = ("hflip", "rot")
    seed: int = 0

    def validate(self) -> list[str]:
        """Return every problem of the values of this configuration (empty when valid).

        Types are checked before, from the annotations (:class:`s2v.config.ValidatedConfig`).
        """
        problems = self._positive("train_stride", "inference_stride", "batch_size", "total_steps",
                                  "checkpoint_every", "looks", "learning_rate")
        problems += self._at_least(base_channels=2, num_modules=0, pd_pad=0, r3_passes=0, patch_size=8)
        problems += self._seed_in_range()
        if self.base_channels % 2:
            problems.append(f"base_channels must be even (the tail halves it), got {self.base_channels}")
        if not 0.0 <= self.r3_probability <= 1.0:
            problems.append(f"r3_probability must be a number in [0, 1], got {self.r3_probability!r}")
        problems += self._one_of("loss", LOSSES)
        decay = self.decay_at
        if not all(0.0 < v < 1.0 for v in decay) or list(decay) != sorted(decay):
            problems.append(f"decay_at must be increasing fractions in (0, 1), got {decay!r}")
        if not all(a in AUGMENTATIONS for a in self.augment):
            problems.append(f"augment entries must be among {AUGMENTATIONS}, got {self.augment!r}")
        if self.train_stride > 0 and self.patch_size % self.train_stride:
            problems.append(f"patch_size ({self.patch_size}) must be a multiple of train_stride "
                            f"({self.train_stride}) so every training sub-image has the same size")
        return problems


PRESETS: dict[str, dict[str, Any]] = {
    # Official AP-BSN (conf/APBSN_SIDD.yaml): 128 channels x 9 modules, PD 5/2,
    # pad 2, R^3 T=8 p=0.16, crops 120, batch 8, Adam 1e-4 / 10 at epochs 8, 16.
    "paper": {},
    # Two shared CPU cores (autre_papier/README.md, results/steptime.json and
    # sizes_*.json): a paper step costs 38.7 CPU-s, 16 channels x 4 modules
    # 0.49 CPU-s (79x less); for the same ~220 CPU-s of training, 16x4 (400
    # steps) reached 25.3 dB B-mode PSNR on simulated ultrasound against 23.7 dB
    # for 32x4 (120 steps). Strides, pad, R^3, crops, batch and the L1 loss stay
    # the paper's; a higher learning rate suits the short schedule.
    "cpu": {
        "base_channels": 16,
        "num_modules": 4,
        "learning_rate": 5e-4,
        "total_steps": 800,
        "checkpoint_every": 100,
    },
}
APBSNConfig.PRESETS = PRESETS

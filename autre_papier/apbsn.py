r"""AP-BSN for speckle: asymmetric pixel-shuffle downsampling + blind-spot network.

Lee, Son & Lee, "AP-BSN: Self-Supervised Denoising for Real-World Images via
Asymmetric PD and Blind-Spot Network", CVPR 2022. Written here in Keras 3
(TensorFlow backend) from the paper and the authors' code (wooseoklee4/AP-BSN):

* **PD** (pixel-shuffle downsampling) with stride ``s`` splits an image into
  ``s x s`` sub-images of every ``s``-th pixel, each padded by ``pd_pad``
  zeros, tiled into one mosaic. Spatially correlated noise becomes nearly
  independent inside a sub-image when ``s`` exceeds the correlation length.
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

``"log_l1"``
    The network works on log-intensity, where speckle is additive,
    ``log y = log x + log n``. With the paper's L1 loss it learns the
    conditional *median* of ``log y``, i.e. ``log x + m_L`` with
    ``m_L = log(P^{-1}(L, 1/2) / L)`` the median of ``log n`` for
    ``n ~ Gamma(L, 1/L)`` (``P^{-1}`` the inverse regularised incomplete
    gamma function); ``m_L`` is subtracted before ``exp``. The *mean* bias
    ``psi(L) - log L`` is the right correction for an L2 loss only; both are
    in :func:`log_speckle_bias`.
``"gamma"``
    The loss of Speckle2Void on intensity: the network outputs the
    inverse-gamma prior ``(alpha, beta)`` of the clean intensity and minimises
    the Gamma(L) marginal negative log-likelihood of :mod:`s2v.bayes`; the
    estimate is the posterior mean ``(beta + L y) / (alpha + L - 1)``.

The network input is always ``log(y / mean(y))`` (scale-free), so the two
losses differ only in the output head and the loss.

Domains: every public function takes and returns **intensity** (linear power,
``|z|^2``) images (H, W) float32 unless it says otherwise.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from s2v.config import ValidatedConfig
from s2v.utils import atomic_write_text, check_intensity

__all__ = [
    "APBSNConfig",
    "PRESETS",
    "LOSSES",
    "pixel_shuffle_down",
    "pixel_shuffle_up",
    "log_speckle_bias",
    "PixelShuffleDownsampling",
    "PixelShuffleUpsampling",
    "CentreMaskedConv2D",
    "DilatedResidualBlock",
    "BlindSpotBranch",
    "BlindSpotNetwork",
    "APBSN",
    "PatchSampler",
    "train_apbsn",
    "save_apbsn",
    "load_apbsn",
    "despeckle",
    "DEFAULT_CHECKPOINT",
]

#: Folder of the checkpoint trained here on ultrasound B-mode (model card inside).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoint"

LOSSES = ("log_l1", "gamma")
AUGMENTATIONS = ("hflip", "vflip", "rot")

#: Normalised intensities are floored here before the log: B-mode black
#: (0 -> -60 dB) and exact zeros stay finite without touching real speckle.
INTENSITY_FLOOR = 1e-8

_register = keras.saving.register_keras_serializable(package="autre_papier")


# ----------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class APBSNConfig(ValidatedConfig):
    """AP-BSN network, refinement and training configuration.

    Use :meth:`from_preset`: ``"paper"`` is the official configuration
    (``conf/APBSN_SIDD.yaml`` of wooseoklee4/AP-BSN); ``"cpu"`` a lighter
    network chosen by measuring training-step times on two CPU cores
    (``python -m autre_papier.experiments steptime``, see the README).

    Parameters
    ----------
    base_channels : int
        Feature maps of the blind-spot network (paper: 128, even).
    num_modules : int
        Dilated residual modules per branch (paper: 9).
    train_stride, inference_stride : int
        PD strides ``a`` for training and ``b`` for prediction (paper: 5, 2).
    pd_pad : int
        Zero pixels between the PD sub-images (paper: 2).
    r3_passes, r3_probability : int, float
        R^3 refinement: number of passes ``T`` (paper 8; 0 disables R^3) and
        replacement probability ``p`` (paper 0.16).
    loss : {"log_l1", "gamma"}
        Speckle adaptation (module docstring). The paper's loss is L1.
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
        (paper: hflip and rot).
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
        """Return every problem of this configuration (empty when valid)."""
        problems = []

        def integer(name, minimum):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                problems.append(f"{name} must be an integer >= {minimum}, got {value!r}")

        for name, minimum in (("base_channels", 2), ("num_modules", 0), ("train_stride", 1),
                              ("inference_stride", 1), ("pd_pad", 0), ("r3_passes", 0),
                              ("patch_size", 8), ("batch_size", 1), ("total_steps", 1),
                              ("checkpoint_every", 1), ("seed", 0)):
            integer(name, minimum)
        if isinstance(self.base_channels, int) and self.base_channels % 2:
            problems.append(f"base_channels must be even (the tail halves it), got {self.base_channels}")
        if not 0.0 <= float(self.r3_probability) <= 1.0:
            problems.append(f"r3_probability must be in [0, 1], got {self.r3_probability!r}")
        if self.loss not in LOSSES:
            hint = difflib.get_close_matches(str(self.loss), LOSSES, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"loss must be one of {LOSSES}, got {self.loss!r}{extra}")
        if not float(self.looks) > 0:
            problems.append(f"looks must be > 0, got {self.looks!r}")
        if not float(self.learning_rate) > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if any(not 0.0 < v < 1.0 for v in self.decay_at) or list(self.decay_at) != sorted(self.decay_at):
            problems.append(f"decay_at must be increasing fractions in (0, 1), got {list(self.decay_at)}")
        bad = [a for a in self.augment if a not in AUGMENTATIONS]
        if bad:
            problems.append(f"augment entries must be among {AUGMENTATIONS}, got {bad}")
        if isinstance(self.patch_size, int) and isinstance(self.train_stride, int) \
                and self.train_stride > 0 and self.patch_size % self.train_stride:
            problems.append(f"patch_size ({self.patch_size}) must be a multiple of train_stride "
                            f"({self.train_stride}) so every training sub-image has the same size")
        return problems


PRESETS: dict[str, dict[str, Any]] = {
    # Official AP-BSN (conf/APBSN_SIDD.yaml): 128 channels x 9 modules, PD 5/2,
    # pad 2, R^3 T=8 p=0.16, crops 120, batch 8, Adam 1e-4 / 10 at epochs 8, 16.
    "paper": {},
    # Two shared CPU cores (README, results/steptime.json and sizes_*.json):
    # a paper step costs 38.7 CPU-s, 16 channels x 4 modules 0.49 CPU-s (79x
    # less); for the same ~220 CPU-s of training, 16x4 (400 steps) reached
    # 25.3 dB B-mode PSNR on simulated ultrasound against 23.7 dB for 32x4
    # (120 steps). Strides, pad, R^3, crops, batch and the L1 loss stay the
    # paper's; a higher learning rate suits the short schedule.
    "cpu": {
        "base_channels": 16,
        "num_modules": 4,
        "learning_rate": 5e-4,
        "total_steps": 800,
        "checkpoint_every": 100,
    },
}
APBSNConfig.PRESETS = PRESETS


# ----------------------------------------------------------------------------
# pixel-shuffle downsampling
# ----------------------------------------------------------------------------
def _check_stride(stride: int, pad: int) -> None:
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"PD stride must be a positive integer, got {stride!r}")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"PD pad must be a non-negative integer, got {pad!r}")


def pixel_shuffle_down(images, stride: int, *, pad: int = 0):
    """Pixel-shuffle downsampling (PD) of a batch into one mosaic of sub-images.

    Parameters
    ----------
    images : Tensor or ndarray, shape (B, H, W, C)
        Any domain (the network uses log-intensity). ``H`` and ``W`` need not
        be multiples of ``stride``: the bottom and right edges are first
        extended with zeros to the next multiple (as the official code does).
        Mirror padding would be wrong here: the mirror image of an edge pixel
        can land in that pixel's own sub-image, next to it, and the blind-spot
        network would then see the pixel it must predict.
    stride : int
        PD factor ``s``. Pixel ``(i, j)`` goes to sub-image ``(i % s, j % s)``.
    pad : int, optional
        Zero border added around every sub-image (AP-BSN ``pd_pad``) so the
        convolutions of one sub-image do not read its neighbours.

    Returns
    -------
    Tensor, shape (B, s * (ceil(H/s) + 2 pad), s * (ceil(W/s) + 2 pad), C)
        Sub-image ``(u, v)`` occupies block-row ``u`` and block-column ``v``.
        :func:`pixel_shuffle_up` inverts it exactly.
    """
    _check_stride(stride, pad)
    images = tf.convert_to_tensor(images)
    height, width = images.shape[1], images.shape[2]
    if height is not None and width is not None and (height < stride or width < stride):
        raise ValueError(f"image of {height}x{width} pixels is too small for PD stride {stride} "
                         f"(each side must be at least {stride})")
    shape = tf.shape(images)
    batch, channels = shape[0], shape[3]
    pad_h = (-shape[1]) % stride
    pad_w = (-shape[2]) % stride
    x = tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
    rows, cols = (shape[1] + pad_h) // stride, (shape[2] + pad_w) // stride
    x = tf.reshape(x, [batch, rows, stride, cols, stride, channels])
    x = tf.transpose(x, [0, 2, 4, 1, 3, 5])  # (B, u, v, rows, cols, C)
    x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [pad, pad], [pad, pad], [0, 0]])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])  # (B, u, rows+2p, v, cols+2p, C)
    return tf.reshape(x, [batch, stride * (rows + 2 * pad), stride * (cols + 2 * pad), channels])


def pixel_shuffle_up(mosaic, stride: int, size, *, pad: int = 0):
    """Inverse of :func:`pixel_shuffle_down`: mosaic of sub-images back to images.

    Parameters
    ----------
    mosaic : Tensor, shape (B, s * (h + 2 pad), s * (w + 2 pad), C)
        Output of :func:`pixel_shuffle_down` (or of a per-pixel network on it);
        the channel count may differ from the input's.
    stride, pad : int
        The values used for the downsampling.
    size : (int, int) or Tensor
        ``(H, W)`` of the original images; the mirror padding is cropped.

    Returns
    -------
    Tensor, shape (B, H, W, C)
    """
    _check_stride(stride, pad)
    mosaic = tf.convert_to_tensor(mosaic)
    shape = tf.shape(mosaic)
    batch, channels = shape[0], shape[3]
    rows, cols = shape[1] // stride, shape[2] // stride
    x = tf.reshape(mosaic, [batch, stride, rows, stride, cols, channels])
    x = x[:, :, pad:rows - pad, :, pad:cols - pad, :]
    x = tf.transpose(x, [0, 2, 1, 4, 3, 5])  # (B, rows, u, cols, v, C)
    x = tf.reshape(x, [batch, (rows - 2 * pad) * stride, (cols - 2 * pad) * stride, channels])
    return x[:, :size[0], :size[1], :]


@_register
class PixelShuffleDownsampling(keras.layers.Layer):
    """Keras layer of :func:`pixel_shuffle_down` (input (B, H, W, C), any H, W)."""

    def __init__(self, stride: int, pad: int = 0, **kwargs):
        super().__init__(**kwargs)
        _check_stride(stride, pad)
        self.stride, self.pad = int(stride), int(pad)

    def call(self, images):
        return pixel_shuffle_down(images, self.stride, pad=self.pad)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "pad": self.pad}


@_register
class PixelShuffleUpsampling(keras.layers.Layer):
    """Keras layer of :func:`pixel_shuffle_up`.

    ``layer(mosaic, reference)`` returns images of the height and width of
    ``reference`` (the tensor that was downsampled).
    """

    def __init__(self, stride: int, pad: int = 0, **kwargs):
        super().__init__(**kwargs)
        _check_stride(stride, pad)
        self.stride, self.pad = int(stride), int(pad)

    def call(self, mosaic, reference):
        size = tf.shape(reference)[1:3]
        return pixel_shuffle_up(mosaic, self.stride, size, pad=self.pad)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "pad": self.pad}


def log_speckle_bias(looks: float = 1.0, statistic: str = "median") -> float:
    r"""Bias of log-speckle, ``log n`` with ``n ~ Gamma(L, 1/L)`` (mean 1).

    Parameters
    ----------
    looks : float
        Number of looks ``L``.
    statistic : {"median", "mean"}
        ``"mean"``: :math:`E[\log n] = \psi(L) - \log L` (-0.5772 for L=1),
        the correction after an L2 loss on log-intensity. ``"median"``:
        :math:`\log(P^{-1}(L, 1/2) / L)` (:math:`\log\log 2 = -0.3665` for
        L=1), the correction after the L1 loss, which estimates medians.

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

    if not looks > 0:
        raise ValueError(f"looks must be > 0, got {looks!r}")
    if statistic == "mean":
        return float(special.digamma(looks) - math.log(looks))
    if statistic == "median":
        return float(math.log(special.gammaincinv(looks, 0.5) / looks))
    raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}")


# ----------------------------------------------------------------------------
# blind-spot network (DBSNl of the official code)
# ----------------------------------------------------------------------------
@_register
class CentreMaskedConv2D(keras.layers.Layer):
    """2-D convolution whose kernel centre is always zero (the blind spot).

    The mask is applied in ``call``, so the centre weight neither acts nor
    receives a gradient, whatever the optimiser does. Zero "same" padding.
    """

    def __init__(self, filters: int, kernel_size: int, **kwargs):
        super().__init__(**kwargs)
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 3, got {kernel_size}")
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        mask = np.ones((kernel_size, kernel_size, 1, 1), np.float32)
        mask[kernel_size // 2, kernel_size // 2] = 0.0
        self._mask = mask

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, input_shape[-1], self.filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, inputs):
        return tf.nn.conv2d(inputs, self.kernel * self._mask, strides=1, padding="SAME") + self.bias

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@_register
class DilatedResidualBlock(keras.layers.Layer):
    """``x + conv1x1(relu(conv3x3_dilated(x)))`` (DCl of the official code)."""

    def __init__(self, filters: int, dilation: int, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.dilation = int(filters), int(dilation)
        self.dilated = keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation,
                                           activation="relu")
        self.pointwise = keras.layers.Conv2D(filters, 1)

    def call(self, inputs):
        return inputs + self.pointwise(self.dilated(inputs))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dilation": self.dilation}


@_register
class BlindSpotBranch(keras.layers.Layer):
    """One DBSNl branch: centre-masked ``(2d-1)^2`` conv, then convs dilated by ``d``.

    Blind spot: the masked conv reads offsets ``m`` with ``|m|_inf <= d-1``,
    ``m != 0``; every later 3x3 conv moves by multiples of ``d``. An offset
    ``m + d k`` is zero only if ``m`` is a multiple of ``d``, i.e. ``m = 0``,
    which the mask removed, so the centre pixel is never read.
    """

    def __init__(self, filters: int, dilation: int, num_modules: int, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.dilation, self.num_modules = int(filters), int(dilation), int(num_modules)
        self.masked = CentreMaskedConv2D(filters, 2 * dilation - 1)
        self.pre = [keras.layers.Conv2D(filters, 1, activation="relu") for _ in range(2)]
        self.blocks = [DilatedResidualBlock(filters, dilation) for _ in range(num_modules)]
        self.post = keras.layers.Conv2D(filters, 1, activation="relu")

    def call(self, inputs):
        x = tf.nn.relu(self.masked(inputs))
        for layer in self.pre:
            x = layer(x)
        for block in self.blocks:
            x = block(x)
        return self.post(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dilation": self.dilation,
                "num_modules": self.num_modules}


@_register
class BlindSpotNetwork(keras.layers.Layer):
    """Dilated blind-spot network (DBSNl): 1x1 head, branches d=2 and d=3, 1x1 tail.

    Input (B, H, W, 1) -> output (B, H, W, ``out_channels``); output pixel
    ``(i, j)`` does not depend on input pixel ``(i, j)``.
    """

    def __init__(self, out_channels: int = 1, base_channels: int = 128, num_modules: int = 9,
                 **kwargs):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)
        self.base_channels, self.num_modules = int(base_channels), int(num_modules)
        c = self.base_channels
        self.head = keras.layers.Conv2D(c, 1, activation="relu")
        self.branches = [BlindSpotBranch(c, d, num_modules) for d in (2, 3)]
        self.tail = [keras.layers.Conv2D(c, 1, activation="relu"),
                     keras.layers.Conv2D(c // 2, 1, activation="relu"),
                     keras.layers.Conv2D(c // 2, 1, activation="relu"),
                     keras.layers.Conv2D(out_channels, 1)]

    def call(self, inputs):
        x = self.head(inputs)
        x = tf.concat([branch(x) for branch in self.branches], axis=-1)
        for layer in self.tail:
            x = layer(x)
        return x

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels,
                "base_channels": self.base_channels, "num_modules": self.num_modules}


# ----------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------
def _log_input(intensity):
    """Network input: log of the normalised intensity, floored (log domain)."""
    return tf.math.log(tf.maximum(intensity, INTENSITY_FLOOR))


@_register
class APBSN(keras.Model):
    """AP-BSN: PD + blind-spot network, trained self-supervised on noisy images.

    ``model(log_intensity, stride=s)`` maps normalised log-intensity
    (B, H, W, 1) to the raw network output (B, H, W, 1 or 2) through PD with
    stride ``s`` (default ``train_stride``). Use :meth:`denoise` for images.
    ``fit`` takes batches of normalised *intensity* crops (B, P, P, 1).
    """

    def __init__(self, config: APBSNConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = APBSNConfig()
        elif isinstance(config, dict):
            config = APBSNConfig.from_dict(config)
        self.config = config
        out_channels = 1 if config.loss == "log_l1" else 2
        self.bsn = BlindSpotNetwork(out_channels, config.base_channels, config.num_modules)
        strides = sorted({config.train_stride, config.inference_stride})
        self._down = {s: PixelShuffleDownsampling(s, config.pd_pad, name=f"pd_down_{s}") for s in strides}
        self._up = {s: PixelShuffleUpsampling(s, config.pd_pad, name=f"pd_up_{s}") for s in strides}
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, log_intensity, stride=None, training=None):
        stride = self.config.train_stride if stride is None else int(stride)
        if stride not in self._down:
            raise ValueError(f"stride {stride} is neither train_stride nor inference_stride "
                             f"of this model ({sorted(self._down)})")
        mosaic = self._down[stride](log_intensity)
        return self._up[stride](self.bsn(mosaic), log_intensity)

    def build(self, input_shape=None):
        """Create the weights (the network is fully convolutional: any H, W)."""
        if not self.bsn.built:
            self.bsn(tf.zeros((1, 8, 8, 1)))
        self.built = True

    # -- loss -----------------------------------------------------------------
    def gamma_parameters(self, output):
        """Inverse-gamma ``(alpha, beta)`` from the 2-channel output (loss "gamma").

        Channel 0 is the log prior mean ``mu``, channel 1 sets
        ``alpha = 1 + softplus(a) + 1e-3``; ``beta = exp(mu) (alpha - 1)`` so
        the prior mean ``beta / (alpha - 1) = exp(mu)`` is always defined.
        """
        alpha = 1.0 + tf.nn.softplus(output[..., 1:2]) + 1e-3
        beta = tf.exp(tf.clip_by_value(output[..., 0:1], -30.0, 30.0)) * (alpha - 1.0)
        return alpha, beta

    def self_supervised_loss(self, intensity, output, valid=None):
        """Mean loss of a batch: L1 on log-intensity, or the Gamma marginal NLL.

        ``intensity`` (B, H, W, 1) is the normalised noisy intensity, which is
        both the input (through its log) and the target. ``valid`` (same
        shape, 0/1) restricts the mean to B-mode pixels (not text or colour).
        """
        if self.config.loss == "log_l1":
            per_pixel = tf.abs(output - _log_input(intensity))
        else:
            from s2v.bayes import negative_log_likelihood

            alpha, beta = self.gamma_parameters(output)
            per_pixel = negative_log_likelihood(intensity, alpha, beta, self.config.looks)
        if valid is None:
            return tf.reduce_mean(per_pixel)
        return tf.reduce_sum(per_pixel * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)

    def _step_loss(self, data, training):
        """``data``: intensity crops, or ``(crops, valid)`` as :class:`PatchSampler` yields."""
        if isinstance(data, (tuple, list)):
            intensity, valid = data[0], (data[1] if len(data) > 1 else None)
        else:
            intensity, valid = data, None
        output = self(_log_input(intensity), training=training)
        return self.self_supervised_loss(intensity, output, valid)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = self._step_loss(data, training=True)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.loss_tracker.update_state(self._step_loss(data, training=False))
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]

    # -- prediction -----------------------------------------------------------
    def _estimate(self, output, intensity, looks, gamma_estimate):
        """Network output -> estimate: log domain ("log_l1", still biased) or intensity."""
        if self.config.loss == "log_l1":
            return output
        from s2v.bayes import posterior_mean, prior_mean

        alpha, beta = self.gamma_parameters(output)
        if gamma_estimate == "posterior":
            return posterior_mean(intensity, alpha, beta, looks)
        return prior_mean(alpha, beta)

    def denoise(self, intensity, *, looks: float | None = None, r3_passes: int | None = None,
                seed: int = 0, gamma_estimate: str = "posterior") -> np.ndarray:
        """Despeckle one image: PD with ``inference_stride``, then R^3.

        Parameters
        ----------
        intensity : ndarray, shape (H, W)
            Noisy **intensity** (linear, >= 0), any scale.
        looks : float, optional
            Number of looks ``L`` (default: the training ``looks``). Sets the
            log-bias correction (loss "log_l1") or the likelihood (loss "gamma").
        r3_passes : int, optional
            R^3 passes ``T`` (default ``config.r3_passes``; 0 disables R^3).
        seed : int
            Seed of the R^3 replacement masks: equal seeds give equal outputs.
        gamma_estimate : {"posterior", "prior"}
            Loss "gamma" only: posterior mean (uses the pixel's own value) or
            prior mean (blind-spot prediction from the surroundings).

        Returns
        -------
        ndarray, shape (H, W), float32
            Despeckled intensity, same scale as the input.
        """
        y = check_intensity(intensity)
        looks = float(self.config.looks if looks is None else looks)
        if not looks > 0:
            raise ValueError(f"looks must be > 0, got {looks!r}")
        if gamma_estimate not in ("posterior", "prior"):
            raise ValueError(f"gamma_estimate must be 'posterior' or 'prior', got {gamma_estimate!r}")
        passes = self.config.r3_passes if r3_passes is None else int(r3_passes)
        scale = float(y.mean(dtype=np.float64))
        if scale == 0.0:
            return np.zeros_like(y)
        noisy = tf.constant((y / scale)[None, :, :, None])
        log_noisy = _log_input(noisy)
        first = self._estimate(self(log_noisy, stride=self.config.inference_stride),
                               noisy, looks, gamma_estimate)
        if passes:
            first = self._refine(first, noisy, log_noisy, passes, seed, looks, gamma_estimate)
        if self.config.loss == "log_l1":
            first = tf.exp(first - log_speckle_bias(looks, "median"))
        return (first.numpy()[0, :, :, 0] * scale).astype(np.float32)

    def _refine(self, estimate, noisy, log_noisy, passes, seed, looks, gamma_estimate):
        """R^3: average of ``passes`` PD-free runs on estimate with noisy pixels put back.

        The border is padded with ``pd_pad`` zeros, the surroundings the
        sub-images had in training. (The official code pads by reflection,
        which puts a copy of the pixel two rows/columns from the border into
        its own receptive field.)
        """
        rng = np.random.default_rng(seed)
        pad = self.config.pd_pad
        log_domain = self.config.loss == "log_l1"
        log_estimate = estimate if log_domain else _log_input(estimate)
        total = tf.zeros_like(estimate)
        for _ in range(passes):
            replace = rng.random(log_noisy.shape) < self.config.r3_probability
            mixed = tf.where(replace, log_noisy, log_estimate)
            if pad:
                mixed = tf.pad(mixed, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            output = self.bsn(mixed)
            if pad:
                output = output[:, pad:-pad, pad:-pad, :]
            total += self._estimate(output, noisy, looks, gamma_estimate)
        return total / passes

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(APBSNConfig.from_dict(config["config"]), name=config.get("name"))


# ----------------------------------------------------------------------------
# training data and training
# ----------------------------------------------------------------------------
class PatchSampler:
    """Random square crops of normalised intensity, for :meth:`APBSN.fit`.

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Noisy **intensity** images; each is divided by its own mean, as
        :meth:`APBSN.denoise` does at prediction.
    patch_size : int
        Crop side.
    masks : sequence of ndarray (H, W) bool, optional
        Valid pixels (e.g. the grey imaging area of a B-mode screenshot,
        without text or colour Doppler). A crop needs at least ``min_valid``
        of its pixels valid, and only those enter the loss. Images without
        such a crop position raise ``ValueError``.
    min_valid : float
        Smallest valid fraction of a crop.
    augment : tuple of str
        "hflip", "vflip", "rot" (random 90-degree rotations).
    seed : int
        Seed of the sampling.
    """

    def __init__(self, images: Sequence[np.ndarray], patch_size: int, *,
                 masks: Sequence[np.ndarray | None] | None = None,
                 min_valid: float = 0.75, augment: Iterable[str] = ("hflip", "rot"), seed: int = 0):
        if len(images) == 0:
            raise ValueError("PatchSampler needs at least one training image")
        masks = [None] * len(images) if masks is None else list(masks)
        if len(masks) != len(images):
            raise ValueError(f"got {len(images)} images but {len(masks)} masks")
        self.patch_size = int(patch_size)
        self.min_valid = float(min_valid)
        self.augment = tuple(augment)
        self.rng = np.random.default_rng(seed)
        self.images, self.masks, self.positions = [], [], []
        for index, (image, mask) in enumerate(zip(images, masks)):
            image = check_intensity(image, name=f"training image {index}")
            mean = image.mean(dtype=np.float64)
            if mean <= 0:
                raise ValueError(f"training image {index} is all zero")
            positions = self._valid_positions(image.shape, mask)
            if positions.size == 0:
                raise ValueError(f"training image {index} ({image.shape[0]}x{image.shape[1]}) has no "
                                 f"{self.patch_size}x{self.patch_size} crop inside its valid area")
            self.images.append((image / mean).astype(np.float32))
            self.masks.append(np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool))
            self.positions.append(positions)
        counts = np.array([len(p) for p in self.positions], np.float64)
        self.weights = counts / counts.sum()

    def _valid_positions(self, shape, mask):
        """Flat indices of top-left corners of crops with enough valid pixels."""
        p = self.patch_size
        if shape[0] < p or shape[1] < p:
            return np.zeros(0, np.int64)
        if mask is None:
            valid = np.ones((shape[0] - p + 1, shape[1] - p + 1), bool)
        else:
            mask = np.asarray(mask, bool)
            if mask.shape != tuple(shape):
                raise ValueError(f"mask shape {mask.shape} differs from image shape {tuple(shape)}")
            bad = np.pad(np.cumsum(np.cumsum(~mask, 0), 1), ((1, 0), (1, 0)))
            invalid = bad[p:, p:] - bad[:-p, p:] - bad[p:, :-p] + bad[:-p, :-p]
            valid = invalid <= (1.0 - self.min_valid) * p * p
        return np.flatnonzero(valid.ravel()) if valid.any() else np.zeros(0, np.int64)

    def batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Crops (batch_size, P, P, 1) float32 of normalised intensity, and their
        valid-pixel masks (same shape, float32 0/1)."""
        p = self.patch_size
        out = np.empty((batch_size, p, p, 1), np.float32)
        valid = np.empty((batch_size, p, p, 1), np.float32)
        chosen = self.rng.choice(len(self.images), size=batch_size, p=self.weights)
        for k, index in enumerate(chosen):
            image = self.images[index]
            flat = self.positions[index][self.rng.integers(len(self.positions[index]))]
            top, left = divmod(int(flat), image.shape[1] - p + 1)
            crop = np.stack([image[top:top + p, left:left + p],
                             self.masks[index][top:top + p, left:left + p]], axis=-1)
            if "hflip" in self.augment and self.rng.random() < 0.5:
                crop = crop[:, ::-1]
            if "vflip" in self.augment and self.rng.random() < 0.5:
                crop = crop[::-1]
            if "rot" in self.augment:
                crop = np.rot90(crop, self.rng.integers(4))
            out[k, :, :, 0], valid[k, :, :, 0] = crop[..., 0], crop[..., 1]
        return out, valid

    def generator(self, batch_size: int):
        """Endless generator of ``(crops, valid)`` batches for ``fit``."""
        while True:
            yield self.batch(batch_size)


def _optimizer(config: APBSNConfig):
    boundaries = [int(f * config.total_steps) for f in config.decay_at]
    values = [config.learning_rate * 0.1 ** k for k in range(len(boundaries) + 1)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return keras.optimizers.Adam(schedule)


class _ExportEachCheckpoint(keras.callbacks.Callback):
    """Every "epoch" (``checkpoint_every`` steps): full resumable model + light export."""

    def __init__(self, out_dir: Path, started: float, wall_before: float):
        super().__init__()
        self.out_dir, self.started, self.wall_before = out_dir, started, wall_before

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.out_dir / "resume.keras")
        wall = self.wall_before + time.perf_counter() - self.started
        step = int(self.model.optimizer.iterations.numpy())
        save_apbsn(self.model, self.out_dir / "export",
                   extra={"steps": step, "wall_clock_s": round(wall, 1),
                          "loss": float((logs or {}).get("loss", float("nan")))})


def train_apbsn(images: Sequence[np.ndarray], config: APBSNConfig | None = None, *,
                masks: Sequence[np.ndarray | None] | None = None, out_dir: str | Path | None = None,
                resume: bool = False, verbose: int = 1) -> tuple[APBSN, dict]:
    """Train AP-BSN self-supervised on noisy intensity images.

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Noisy **intensity** images (each at least ``patch_size`` on both sides).
    config : APBSNConfig, optional
        Default: the "cpu" preset.
    masks : sequence of bool ndarray, optional
        Valid crop areas (see :class:`PatchSampler`).
    out_dir : path, optional
        Run folder: ``resume.keras`` (full model with optimiser state),
        ``export/`` (config + weights, see :func:`save_apbsn`) and
        ``history.csv``, written every ``checkpoint_every`` steps.
    resume : bool
        Continue from ``out_dir/resume.keras`` if present.
    verbose : int
        Keras ``fit`` verbosity.

    Returns
    -------
    model : APBSN
    info : dict
        ``steps``, ``wall_clock_s`` (this call plus resumed runs), ``loss``
        (per checkpoint interval).
    """
    config = APBSNConfig.from_preset("cpu") if config is None else config
    out_dir = None if out_dir is None else Path(out_dir)
    keras.utils.set_random_seed(config.seed)
    model, initial_epoch, wall_before = None, 0, 0.0
    if resume and out_dir is not None and (out_dir / "resume.keras").exists():
        model = keras.saving.load_model(out_dir / "resume.keras")
        initial_epoch = int(model.optimizer.iterations.numpy()) // config.checkpoint_every
        state = out_dir / "export" / "config.json"
        if state.exists():
            wall_before = float(json.loads(state.read_text()).get("training", {}).get("wall_clock_s", 0.0))
    if model is None:
        model = APBSN(config)
        model.compile(optimizer=_optimizer(config))
    # A different sampling seed after a resume, so crops are not replayed.
    sampler = PatchSampler(images, config.patch_size, masks=masks, augment=config.augment,
                           seed=config.seed + 7919 * initial_epoch)
    epochs = math.ceil(config.total_steps / config.checkpoint_every)
    callbacks = []
    started = time.perf_counter()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        callbacks = [keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=initial_epoch > 0),
                     _ExportEachCheckpoint(out_dir, started, wall_before)]
    history = model.fit(sampler.generator(config.batch_size), steps_per_epoch=config.checkpoint_every,
                        epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                        shuffle=False, verbose=verbose)
    info = {"steps": int(model.optimizer.iterations.numpy()),
            "wall_clock_s": round(wall_before + time.perf_counter() - started, 1),
            "loss": [float(v) for v in history.history.get("loss", [])]}
    return model, info


# ----------------------------------------------------------------------------
# persistence and the default denoiser
# ----------------------------------------------------------------------------
WEIGHTS_NAME = "model.weights.h5"


def save_apbsn(model: APBSN, directory: str | Path, *, extra: dict | None = None) -> Path:
    """Save ``config.json`` (configuration + ``extra`` training facts) and weights.

    The folder is small (no optimiser state): what :func:`load_apbsn` and the
    default :func:`despeckle` read.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (WEIGHTS_NAME + ".tmp.weights.h5")
    model.save_weights(tmp)
    tmp.replace(directory / WEIGHTS_NAME)
    payload = {"apbsn": model.config.to_dict(), "training": dict(extra or {})}
    atomic_write_text(directory / "config.json", json.dumps(payload, indent=2) + "\n")
    return directory


def load_apbsn(directory: str | Path = DEFAULT_CHECKPOINT) -> APBSN:
    """Load a model saved by :func:`save_apbsn` (default: the shipped checkpoint)."""
    directory = Path(directory)
    config_path, weights_path = directory / "config.json", directory / WEIGHTS_NAME
    for path in (config_path, weights_path):
        if not path.exists():
            raise ValueError(f"{directory}: not an AP-BSN model folder ({path.name} is missing; "
                             "train one with `python -m autre_papier.main train`)")
    try:
        payload = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config_path}: invalid JSON ({exc})") from None
    model = APBSN(APBSNConfig.from_dict(payload["apbsn"]))
    model.build()
    model.load_weights(weights_path)
    return model


@functools.lru_cache(maxsize=4)
def _cached_model(directory: str) -> APBSN:
    return load_apbsn(directory)


def despeckle(intensity, *, looks: float = 1.0, model: APBSN | str | Path | None = None,
              seed: int = 0) -> np.ndarray:
    """Despeckle an intensity image with AP-BSN (the harness's denoiser interface).

    Parameters
    ----------
    intensity : ndarray, shape (H, W)
        Noisy **intensity** (linear power; for B-mode use
        ``s2v.domains.bmode_to_intensity`` first). Any scale.
    looks : float
        Number of looks ``L`` (1 for fully developed speckle).
    model : APBSN or path, optional
        Default: the checkpoint trained on ultrasound B-mode shipped in
        ``autre_papier/checkpoint`` (see its model card).
    seed : int
        Seed of the R^3 masks.

    Returns
    -------
    ndarray, shape (H, W), float32
        Despeckled intensity.
    """
    if model is None or isinstance(model, (str, Path)):
        model = _cached_model(str(Path(model or DEFAULT_CHECKPOINT).resolve()))
    return model.denoise(intensity, looks=looks, seed=seed)

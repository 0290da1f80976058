r"""AP-BSN in Keras 3: the blind-spot network (DBSNl) and the model.

Every layer is written with ``keras.ops`` (backend-agnostic: the same model runs
under TensorFlow, the default, and JAX), registered for serialisation under the
package ``"s2v"``, and has a ``get_config``, so a model saved as ``.keras`` loads
with ``keras.saving.load_model(path, safe_mode=True)``.

Domains: :class:`APBSN` takes **normalised intensity** (intensity divided by
its image mean) of shape (B, H, W, 1) -- an image, or a PD mosaic of
:func:`s2v.apbsn.pd.pd_down` -- and works on its logarithm;
:meth:`APBSN.denoise` takes and returns **intensity** in the caller's units.

Pixel-shuffle downsampling happens outside the network, in NumPy, through the one
pixel shuffle of :mod:`s2v.transforms` (:mod:`s2v.apbsn.pd`): on the training crops
(:class:`s2v.apbsn.APBSNPatchSampler`) and on the image in :meth:`APBSN.denoise`, as
Speckle2Void does for ``pixel_shuffle > 1``.
"""

from __future__ import annotations

import numpy as np

from s2v._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras
from keras import ops

from s2v.utils import check_finite_output, check_intensity

from .config import APBSNConfig, check_looks, log_speckle_bias
from .pd import pd_down, pd_up

__all__ = [
    "INTENSITY_FLOOR",
    "log_input",
    "CentreMaskedConv2D",
    "DilatedResidualBlock",
    "BlindSpotBranch",
    "BlindSpotNetwork",
    "APBSN",
]

#: Normalised intensities are floored here before the log: B-mode black
#: (0 -> -60 dB) and exact zeros stay finite without touching real speckle.
INTENSITY_FLOOR = 1e-8

_register = keras.saving.register_keras_serializable(package="s2v")


def log_input(intensity):
    """Network input: log of the normalised intensity, floored (log-intensity domain)."""
    return ops.log(ops.maximum(intensity, INTENSITY_FLOOR))


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
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) \
                or kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 3, got {kernel_size!r}")
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
        return ops.conv(inputs, self.kernel * self._mask, strides=1, padding="same") + self.bias

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
        x = ops.relu(self.masked(inputs))
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
    ``(i, j)`` does not depend on input pixel ``(i, j)``. Receptive-field
    radius ``2 + 3 num_modules`` (the d=3 branch).
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
        x = ops.concatenate([branch(x) for branch in self.branches], axis=-1)
        for layer in self.tail:
            x = layer(x)
        return x

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels,
                "base_channels": self.base_channels, "num_modules": self.num_modules}


# ----------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------
@_register
class APBSN(keras.Model):
    """AP-BSN: blind-spot network on PD mosaics, trained self-supervised on noisy images.

    ``model(intensity)`` maps **normalised intensity** (B, H, W, 1), usually a PD mosaic
    (:func:`s2v.apbsn.pd.pd_down` with ``train_stride`` in training, ``inference_stride``
    at prediction), to the raw network output (B, H, W, 1 or 2): the log, then the
    blind-spot network. Use :meth:`denoise` for images. ``fit`` takes batches
    ``(normalised intensity mosaics, valid)`` (:class:`s2v.apbsn.APBSNPatchSampler`), the
    intensity being both the input and the target (:meth:`compute_loss`).
    """

    def __init__(self, config: APBSNConfig | dict | str | None = None, **kwargs):
        super().__init__(**kwargs)
        config = APBSNConfig.coerce(config, "paper")
        self.config = config
        out_channels = 1 if config.loss == "log_l1" else 2
        self.bsn = BlindSpotNetwork(out_channels, config.base_channels, config.num_modules)
        self.build()

    def call(self, intensity, training=None):
        return self.bsn(log_input(intensity))

    def build(self, input_shape=None):
        """Create the weights (the network is fully convolutional: any H, W)."""
        if not self.bsn.built:
            self.bsn(ops.zeros((1, 8, 8, 1)))
        self.built = True

    def predict_pd(self, normalised: np.ndarray, stride: int) -> np.ndarray:
        """Raw output (H, W, C) on an (H, W) normalised-intensity image, through PD of ``stride``.

        The image is shuffled into its mosaic (:func:`s2v.apbsn.pd.pd_down`, frames of
        ``pd_pad``), the network runs on the mosaic, and every output channel is shuffled
        back (:func:`s2v.apbsn.pd.pd_up`).
        """
        pad = self.config.pd_pad
        mosaic, _ = pd_down(normalised, stride, pad)
        output = ops.convert_to_numpy(self(mosaic[None, :, :, None]))[0]
        return np.stack([pd_up(output[..., c], stride, pad, shape=normalised.shape)
                         for c in range(output.shape[-1])], axis=-1)

    # -- loss -----------------------------------------------------------------
    def gamma_parameters(self, output):
        """Inverse-gamma ``(alpha, beta)`` from the 2-channel output (loss "gamma").

        Channel 0 is the log prior mean ``mu``, channel 1 sets
        ``alpha = 1 + softplus(a) + 1e-3``; ``beta = exp(mu) (alpha - 1)`` so
        the prior mean ``beta / (alpha - 1) = exp(mu)`` is always defined.
        """
        alpha = 1.0 + ops.softplus(output[..., 1:2]) + 1e-3
        beta = ops.exp(ops.clip(output[..., 0:1], -30.0, 30.0)) * (alpha - 1.0)
        return alpha, beta

    def self_supervised_loss(self, intensity, output, valid=None):
        """Mean loss of a batch: L1 on log-intensity, or the Gamma marginal NLL.

        ``intensity`` (B, H, W, 1) is the normalised noisy intensity, which is
        both the input (through its log) and the target. ``valid`` (same
        shape, 0/1) restricts the mean to valid pixels (B-mode, not text,
        colour or padding), over the whole batch.
        """
        if self.config.loss == "log_l1":
            per_pixel = ops.abs(output - log_input(intensity))
        else:
            from s2v.bayes import negative_log_likelihood

            alpha, beta = self.gamma_parameters(output)
            per_pixel = negative_log_likelihood(intensity, alpha, beta, self.config.looks)
        if valid is None:
            return ops.mean(per_pixel)
        valid = ops.cast(valid, per_pixel.dtype)
        return ops.sum(per_pixel * valid) / ops.maximum(ops.sum(valid), 1.0)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3 hook used by ``fit`` on every backend: ``x`` the crops, ``y`` their valid mask."""
        del sample_weight, training
        return self.self_supervised_loss(x, y_pred, y)

    # -- prediction -----------------------------------------------------------
    def _estimate(self, output, intensity, looks, gamma_estimate):
        """Network output -> estimate: log domain ("log_l1", still biased) or intensity."""
        if self.config.loss == "log_l1":
            return output
        from s2v.bayes import posterior_mean, prior_mean

        alpha, beta = self.gamma_parameters(output)
        if gamma_estimate == "posterior":
            return ops.convert_to_tensor(posterior_mean(intensity, alpha, beta, looks))
        return ops.convert_to_tensor(prior_mean(alpha, beta))

    def denoise(self, intensity, *, looks: float | None = None, r3_passes: int | None = None,
                seed: int = 0, gamma_estimate: str = "posterior") -> np.ndarray:
        """Despeckle one image: PD with ``inference_stride``, then R^3.

        Parameters
        ----------
        intensity : ndarray, shape (H, W)
            Noisy **intensity** (linear, >= 0, finite), any scale; each side
            at least ``inference_stride``.
        looks : float, optional
            Number of looks ``L`` (finite, > 0; default: the training
            ``looks``). Sets the log-bias correction (loss "log_l1") or the
            likelihood (loss "gamma").
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
            Despeckled **intensity**, same scale as the input (all zeros for an
            all-zero input).
        """
        y = check_intensity(intensity)
        looks = check_looks(self.config.looks if looks is None else looks)
        if gamma_estimate not in ("posterior", "prior"):
            raise ValueError(f"gamma_estimate must be 'posterior' or 'prior', got {gamma_estimate!r}")
        passes = self.config.r3_passes if r3_passes is None else r3_passes
        if isinstance(passes, bool) or not isinstance(passes, (int, np.integer)) or passes < 0:
            raise ValueError(f"r3_passes must be an integer >= 0, got {passes!r}")
        scale = float(y.mean(dtype=np.float64))
        if scale == 0.0:
            return np.zeros_like(y)
        normalised = (y / scale).astype(np.float32)
        noisy = ops.convert_to_tensor(normalised[None, :, :, None])
        output = self.predict_pd(normalised, self.config.inference_stride)[None]
        first = self._estimate(ops.convert_to_tensor(output), noisy, looks, gamma_estimate)
        if passes:
            first = self._refine(first, noisy, int(passes), seed, looks, gamma_estimate)
        if self.config.loss == "log_l1":
            first = ops.exp(first - log_speckle_bias(looks, "median"))
        estimate = (ops.convert_to_numpy(first)[0, :, :, 0] * scale).astype(np.float32)
        return check_finite_output(estimate, "AP-BSN")

    def _refine(self, estimate, noisy, passes, seed, looks, gamma_estimate):
        """R^3: average of ``passes`` PD-free runs on estimate with noisy pixels put back.

        The border is padded with ``pd_pad`` zeros, the surroundings the
        sub-images had in training. (The official code pads by reflection,
        which puts a copy of the pixel two rows/columns from the border into
        its own receptive field.)
        """
        rng = np.random.default_rng(seed)
        pad = self.config.pd_pad
        log_noisy = log_input(noisy)
        log_estimate = estimate if self.config.loss == "log_l1" else log_input(estimate)
        total = ops.zeros_like(estimate)
        for _ in range(passes):
            replace = rng.random(tuple(log_noisy.shape)) < self.config.r3_probability
            mixed = ops.where(replace, log_noisy, log_estimate)
            if pad:
                mixed = ops.pad(mixed, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
            output = self.bsn(mixed)
            if pad:
                output = output[:, pad:-pad, pad:-pad, :]
            total = total + self._estimate(output, noisy, looks, gamma_estimate)
        return total / passes

    # -- serialisation ----------------------------------------------------------
    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(APBSNConfig.from_dict(config["config"]), name=config.get("name"))

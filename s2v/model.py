"""The Speckle2Void model: four-rotation blind-spot network + Bayesian head.

Domain: the network sees **normalised intensity** (see :class:`S2VConfig`,
``normalization``); :meth:`Speckle2Void.predict_maps` takes and returns
intensity in the caller's own units.

The network and its loss are written with ``keras.ops``: the model trains
(``fit``, through :meth:`Speckle2Void.compute_loss`) and predicts under any
Keras backend (``KERAS_BACKEND=tensorflow``, the default and tested one,
``jax`` or ``torch``), and a ``.keras`` file written under one loads under
another.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from . import __version__, bayes
from .config import ConfigError, S2VConfig, shift_rows
from .distribute import scale_loss_for_replicas, step_logs
from .nets import CausalBranch, rotate, shift_down
from .utils import check_intensity

__all__ = ["Speckle2Void", "normalise_intensity", "MAP_NAMES", "TRAINING_PLANES", "pack_batch",
           "unpack_batch", "draw_shift_rows"]

#: Names of the maps returned by :meth:`Speckle2Void.predict_maps`.
MAP_NAMES = ("posterior_mean", "prior_mean", "alpha", "beta", "posterior_std")

_DEFAULT_TILE = 512


def normalise_intensity(intensity: np.ndarray, config: S2VConfig):
    """Scale an intensity image for the network and find its point targets.

    Parameters
    ----------
    intensity : ndarray, (H, W) float32
        Intensity in the data's own units.
    config : S2VConfig
        Gives ``normalization``, ``norm`` and ``clip``.

    Returns
    -------
    normalised : ndarray, (H, W) float32
        ``intensity / scale`` with point targets replaced by the median of the
        other normalised pixels (the reference's treatment).
    valid : ndarray, (H, W) bool
        False on point targets (excluded from the loss).
    scale : float
        The divisor used (``norm``, or the image median).
    """
    constants = normalisation_constants(intensity, config)
    return (*apply_normalisation(intensity, *constants), constants[0])


def normalisation_constants(intensity: np.ndarray, config: S2VConfig):
    """Whole-image constants of :func:`normalise_intensity`: ``(scale, clip_value, fill)``.

    Computed once per image, so that tiles normalised separately with
    :func:`apply_normalisation` match the whole image exactly. Memory: one
    temporary copy of the image at most (for the medians).
    """
    if config.normalization == "fixed":
        scale = float(config.norm)
        clip_value = float(config.clip)
    else:
        scale = float(np.median(intensity))
        if not scale > 0:  # mostly-zero images (masked screenshots): use the non-zero part
            positive = intensity[intensity > 0]
            scale = float(np.median(positive)) if positive.size else 1.0
        clip_value = float(config.clip) * scale
    clip_value = min(clip_value, float(np.finfo(np.float32).max))  # compared in float32
    targets = intensity > np.float32(clip_value)
    fill = 0.0
    if targets.any():
        rest = np.divide(intensity[~targets], np.float32(scale), dtype=np.float32)
        fill = float(np.median(rest, overwrite_input=True)) if rest.size else 0.0
    return scale, clip_value, fill


def apply_normalisation(intensity: np.ndarray, scale: float, clip_value: float, fill: float):
    """``(normalised, valid)`` of an image or a tile, with constants from :func:`normalisation_constants`."""
    targets = intensity > np.float32(clip_value)
    normalised = np.divide(intensity, np.float32(scale), dtype=np.float32)
    normalised[targets] = fill
    return normalised, ~targets


#: Planes of a training batch, on its last axis (see :func:`pack_batch`); ``target`` only
#: when supervised.
TRAINING_PLANES = ("noisy", "valid", "shift", "target")


def draw_shift_rows(config: S2VConfig, step: int) -> int:
    """Rows of the vertical blind-spot shift of training step ``step``.

    Drawn from ``shift_list``/``prob`` by a numpy generator keyed by
    ``(seed, step)`` (a stream of its own, apart from the patches'), so a
    resumed run draws the same shifts, and every backend the same ones.
    """
    u = np.random.default_rng([int(config.seed), int(step), 1]).random()
    index = min(int(np.sum(np.cumsum(config.prob) <= u)), len(config.shift_list) - 1)
    return shift_rows(config.shift_list[index])


def pack_batch(noisy, valid, rows, target=None) -> np.ndarray:
    """One training batch as one float32 array (B, P, P, 3 or 4), planes :data:`TRAINING_PLANES`.

    Parameters
    ----------
    noisy, valid, target : arrays (B, P, P, 1)
        Normalised noisy intensity, loss mask (False on point targets and
        padding), and for supervised training the normalised clean intensity.
    rows : int or array (B,)
        Blind-spot shift of the vertical branches, in rows (see
        :func:`draw_shift_rows`); it travels as a constant plane.

    Notes
    -----
    One tensor rather than a tuple: ``fit`` hands it whole to
    :meth:`Speckle2Void.call` (which reads the noisy and shift planes) and to
    :meth:`Speckle2Void.compute_loss` (which reads the rest), on every
    backend; and Keras 3 reduces a whole first batch across workers with a
    call that accepts a single distributed tensor but not a tuple of them
    (MultiWorkerMirroredStrategy).
    """
    noisy = np.asarray(noisy, np.float32)
    rows = np.broadcast_to(np.asarray(rows, np.float32).reshape(-1, 1, 1, 1), noisy.shape)
    planes = [noisy, np.asarray(valid, np.float32), rows]
    if target is not None:
        planes.append(np.asarray(target, np.float32))
    return np.concatenate(planes, axis=-1)


def unpack_batch(batch):
    """``(noisy, valid, rows, target or None)`` of a batch from :func:`pack_batch` (``keras.ops``).

    ``noisy``, ``valid`` and ``target`` are (B, P, P, 1); ``rows`` is (B,) int32.
    """
    channels = batch.shape[-1]
    if channels not in (3, 4):
        raise ValueError(f"a training batch has 3 or 4 planes {TRAINING_PLANES} on its last axis, "
                         f"got {channels}")
    target = batch[..., 3:4] if channels == 4 else None
    return batch[..., 0:1], batch[..., 1:2], ops.cast(batch[:, 0, 0, 2], "int32"), target


def to_mosaic(image: np.ndarray, stride: int):
    """Pixel-shuffle mosaic of an (H, W) image: :func:`s2v.transforms.pixel_unshuffle`.

    Zero padding to multiples of ``stride``, not reflection: a reflected copy of a border
    pixel could land in the receptive field of that very pixel and leak it past the blind spot.

    Returns
    -------
    mosaic : ndarray
        The mosaic of the stride x stride sub-images.
    inside : ndarray of bool
        False on the padding (excluded from the training loss).
    """
    from .transforms import pixel_unshuffle

    return pixel_unshuffle(image, stride)


@keras.saving.register_keras_serializable(package="s2v")
class Speckle2Void(keras.Model):
    """Speckle2Void blind-spot network (Bordone Molini et al., TGRS 2022).

    The input (B, H, W, 1) normalised intensity is rotated by 0°, 90°, 180°
    and 270°; each rotation goes through a causal branch (one set of weights
    for 0°/180°, another for 90°/270°), is shifted down (the blind spot) and
    rotated back; a 1x1 convolution mixes the four, two more 1x1 layers give
    ``alpha = out_0 + 1`` and ``beta = out_1`` (ReLU) of the inverse-gamma
    prior. :meth:`call` returns (B, H, W, 2) = ``[alpha, beta]``.

    Parameters
    ----------
    config : S2VConfig, dict or str, optional
        Configuration, a dict of its fields, or a preset name (default
        ``"paper"``).
    batched_rotations : bool
        Run the two rotations that share weights as one batch. Default False:
        four separate passes, each with its own BatchNorm statistics in
        training mode, as the reference does; on 2 CPU cores batching was
        measured no faster (0.5-1.1x, ``benchmarks/core_speed.py``), it may pay
        off on a GPU. Identical results at inference.
    """

    def __init__(self, config=None, *, batched_rotations: bool = False, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = S2VConfig.from_preset("paper")
        elif isinstance(config, str):
            config = S2VConfig.from_preset(config)
        elif isinstance(config, dict):
            config = S2VConfig.from_dict(config)
        elif not isinstance(config, S2VConfig):
            raise ConfigError(f"config must be an S2VConfig, a dict or a preset name, got {type(config).__name__}")
        self.s2v_config = config
        self.batched_rotations = bool(batched_rotations)
        f = config.filters
        self.branch_vertical = CausalBranch(f, config.depth, config.batch_norm, name="branch_vertical")
        self.branch_horizontal = CausalBranch(f, config.depth, config.batch_norm, name="branch_horizontal")
        init = "glorot_normal"
        self.merge = layers.Conv2D(f, 1, kernel_initializer=init, name="merge")
        self.fuse = layers.Conv2D(f, 1, kernel_initializer=init, name="fuse")
        self.head = layers.Conv2D(2, 1, kernel_initializer=init, name="head")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.tv_tracker = keras.metrics.Mean(name="tv")
        self._predict_fn = None
        # Build eagerly so weights exist before any load/save/summary.
        self(ops.zeros((1, 8, 8, 1)), training=False)

    # -- network --------------------------------------------------------------
    @property
    def receptive_field_radius(self) -> int:
        """Context (pixels) each output uses at prediction, on every side."""
        return self.s2v_config.receptive_field_radius

    def _branch(self, branch, images, rows, max_rows, training):
        if self.batched_rotations and len({tuple(im.shape[1:3]) for im in images}) == 1:
            if not isinstance(rows, int) and len(rows.shape) == 1:  # one shift per image
                rows = ops.concatenate([rows] * len(images), axis=0)
            out = shift_down(branch(ops.concatenate(images, axis=0), training=training), rows, max_rows)
            return ops.split(out, len(images), axis=0)
        return [shift_down(branch(im, training=training), rows, max_rows) for im in images]

    def call(self, inputs, training=None, vertical_shift=None):
        """Return (B, H, W, 2): ``alpha`` and ``beta`` per pixel.

        ``inputs`` is a (B, H, W, 1) normalised intensity, or a training batch
        from :func:`pack_batch` (B, H, W, 3 or 4), whose shift plane gives the
        vertical shift (what ``fit`` passes). ``vertical_shift`` is the
        blind-spot shift of the 0°/180° branches in rows: an int, or a tensor
        (scalar or one per image) in ``1 .. max_shift_rows``; default 1 (the
        prediction setting) or the batch's shift plane.
        """
        x = inputs
        rows = 1
        if x.shape[-1] != 1:
            x, _, rows, _ = unpack_batch(inputs)
        if vertical_shift is not None:
            rows = vertical_shift
        max_rows = max(self.s2v_config.max_shift_rows, 1)
        v0, v180 = self._branch(self.branch_vertical, [x, rotate(x, 2)], rows, max_rows, training)
        h90, h270 = self._branch(self.branch_horizontal, [rotate(x, 1), rotate(x, 3)], 1, 1, training)
        stacked = ops.concatenate([v0, rotate(v180, 2), rotate(h90, 3), rotate(h270, 1)], axis=-1)
        z = ops.leaky_relu(self.merge(stacked), negative_slope=0.2)
        z = ops.leaky_relu(self.fuse(z), negative_slope=0.2)
        z = ops.relu(self.head(z))
        return ops.concatenate([z[..., :1] + 1.0, z[..., 1:]], axis=-1)

    # -- training -----------------------------------------------------------------
    def draw_vertical_shift(self, step) -> int:
        """Rows of the vertical blind-spot shift of training step ``step`` (:func:`draw_shift_rows`)."""
        return draw_shift_rows(self.s2v_config, step)

    def loss_parts(self, y, valid, alpha_beta, target=None):
        """Loss and its parts for a batch (tensors of shape (B, H, W, 1)/(B, H, W, 2)).

        Self-supervised (``target`` None): mean negative log marginal
        likelihood over valid pixels + ``k_penalty_tv`` x batch-mean total
        variation of the posterior mean. Supervised: mean squared error of the
        posterior mean against ``target`` over valid pixels (same network).
        """
        looks = self.s2v_config.looks
        alpha, beta = alpha_beta[..., :1], alpha_beta[..., 1:]
        weight = ops.cast(valid, "float32")
        count = ops.maximum(ops.sum(weight), 1.0)
        estimate = bayes.posterior_mean(y, alpha, beta, looks)
        if target is not None:
            mse = ops.sum(ops.square(estimate - target) * weight) / count
            return {"loss": mse, "nll": mse, "tv": ops.zeros((), "float32")}
        nll = ops.sum(bayes.negative_log_likelihood(y, alpha, beta, looks) * weight) / count
        tv = ops.mean(total_variation(estimate))
        return {"loss": nll + self.s2v_config.k_penalty_tv * tv, "nll": nll, "tv": tv}

    @property
    def metrics(self):
        return [self.loss_tracker, self.nll_tracker, self.tv_tracker]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss of a batch from :func:`pack_batch` (``x``); ``fit`` and ``evaluate`` call it.

        ``y_pred`` is ``self(x)``: the network already ran with the batch's
        blind-spot shift. ``y`` and ``sample_weight`` are unused (the mask and
        the target travel in ``x``). Updates the ``loss``/``nll``/``tv``
        trackers with the replica's own mean loss and returns it divided by
        the number of ``tf.distribute`` replicas (Keras' ``train_step`` does
        not scale a custom loss; the optimizer sums the replicas' gradients).
        """
        noisy, valid, _, target = unpack_batch(x)
        parts = self.loss_parts(noisy, valid, y_pred, target)
        self.loss_tracker.update_state(parts["loss"])
        self.nll_tracker.update_state(parts["nll"])
        self.tv_tracker.update_state(parts["tv"])
        return scale_loss_for_replicas(parts["loss"])

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return step_logs(super().compute_metrics(x, y, y_pred, sample_weight))

    # -- prediction -----------------------------------------------------------
    def _infer(self, x):
        return self(x, training=False)

    def _network(self, normalised: np.ndarray) -> np.ndarray:
        """(h, w, 2) alpha and beta of a normalised (h, w) image or tile, inference mode."""
        if self._predict_fn is None:
            self._predict_fn = self._make_predict_fn()
        return self._predict_fn(np.ascontiguousarray(normalised[None, :, :, None], np.float32))[0]

    def _make_predict_fn(self):
        """numpy (1, h, w, 1) -> numpy (1, h, w, 2), compiled once for every tile shape.

        TensorFlow: one ``tf.function`` with a shape-free signature. Other
        backends: Keras' own compiled ``predict_on_batch`` (JAX compiles once
        per tile shape; the tiles of an image have at most four shapes).
        """
        if keras.backend.backend() != "tensorflow":
            return lambda x: np.asarray(self.predict_on_batch(x))
        import tensorflow as tf

        function = tf.function(self._infer, reduce_retracing=True, autograph=False,
                               input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32)])
        return lambda x: function(tf.constant(x)).numpy()

    def predict_maps(self, intensity, *, looks=None, tile_size=None, outputs=MAP_NAMES,
                     progress=True):
        """Despeckle an intensity image and return the Bayesian maps.

        Parameters
        ----------
        intensity : array_like, (H, W)
            Noisy intensity (>= 0, finite), any size (1 pixel to 1e8 pixels).
        looks : float, optional
            Number of looks ``L`` used in the posterior (default: the
            configuration's).
        tile_size : int, optional
            Side of the tiles processed at once (default 512). Tiles overlap
            by the receptive field, so the result does not depend on it
            (up to float rounding); memory grows with its square.
        outputs : sequence of str
            Which maps to compute, among :data:`MAP_NAMES`.
        progress : bool
            Show a progress bar when there are many tiles.

        Returns
        -------
        dict of str to ndarray
            (H, W) float32 maps in the input's intensity units:
            ``posterior_mean`` (the estimate; point targets copied back),
            ``prior_mean``, ``alpha``, ``beta`` (of the normalised image) and
            ``posterior_std`` (uncertainty of the estimate). With
            ``pixel_shuffle`` > 1 the network runs on the mosaic of
            sub-images and the maps are shuffled back to the image grid.
        """
        y = check_intensity(intensity)
        unknown = [name for name in outputs if name not in MAP_NAMES]
        if unknown:
            raise ValueError(f"unknown output(s) {unknown}; choose among {MAP_NAMES}")
        looks = float(self.s2v_config.looks if looks is None else looks)
        if not (np.isfinite(looks) and looks > 0):
            raise ValueError(f"looks must be a finite positive number, got {looks}")
        stride = self.s2v_config.pixel_shuffle
        if stride > 1:
            from .transforms import pixel_shuffle

            maps = self._maps(to_mosaic(y, stride)[0], looks, tile_size, outputs, progress)
            return {name: pixel_shuffle(value, stride, shape=y.shape) for name, value in maps.items()}
        return self._maps(y, looks, tile_size, outputs, progress)

    def _maps(self, y, looks, tile_size, outputs, progress):
        """The requested maps of an (H, W) intensity image, by exact overlapping tiles.

        The normalisation constants come from the whole image; then each tile is
        normalised, predicted and turned into maps on its own, so memory holds
        the input (possibly memory-mapped), the requested outputs and one tile --
        no whole-image temporaries, which matters at 10^8 pixels.
        """
        scale, clip_value, fill = normalisation_constants(y, self.s2v_config)
        core = int(tile_size or _DEFAULT_TILE)
        if core < 1:
            raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
        margin = self.receptive_field_radius
        height, width = y.shape
        maps = {name: np.empty((height, width), np.float32) for name in outputs}
        tiles = [(r, c) for r in range(0, height, core) for c in range(0, width, core)]
        iterator = tiles
        if progress and len(tiles) > 4:
            from tqdm.auto import tqdm
            iterator = tqdm(tiles, desc="Speckle2Void tiles", unit="tile")
        for r0, c0 in iterator:
            r1, c1 = min(r0 + core, height), min(c0 + core, width)
            a0, a1 = max(r0 - margin, 0), min(r1 + margin, height)
            b0, b1 = max(c0 - margin, 0), min(c1 + margin, width)
            normalised, valid = apply_normalisation(y[a0:a1, b0:b1], scale, clip_value, fill)
            inner = (slice(r0 - a0, r1 - a0), slice(c0 - b0, c1 - b0))
            alpha_beta = self._network(normalised)[inner]
            tile = _tile_maps(y[r0:r1, c0:c1], normalised[inner], valid[inner], alpha_beta[..., 0],
                              alpha_beta[..., 1], scale, looks, outputs)
            for name, value in tile.items():
                maps[name][r0:r1, c0:c1] = value
        return maps

    # -- serialisation ----------------------------------------------------------
    def get_config(self):
        return {"config": self.s2v_config.to_dict(), "batched_rotations": self.batched_rotations,
                "s2v_version": __version__, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        version = config.pop("s2v_version", None)
        if version is not None and version.split(".")[0] != __version__.split(".")[0]:
            raise ConfigError(
                f"checkpoint was written by s2v {version}, incompatible with s2v {__version__} "
                "(different major version)")
        config.pop("trainable", None)
        try:
            settings = S2VConfig.from_dict(config.pop("config"))
        except (ConfigError, KeyError, TypeError) as exc:
            raise ConfigError(f"checkpoint has an incompatible configuration: {exc}") from None
        return cls(settings, **config)


def total_variation(images):
    """Total variation of each of a batch of (B, H, W, C) images: shape (B,).

    The sum of the absolute differences of vertically and of horizontally
    neighbouring pixels, over every channel: the definition of
    ``tf.image.total_variation``, in ``keras.ops``.
    """
    rows = ops.sum(ops.abs(images[:, 1:, :, :] - images[:, :-1, :, :]), axis=(1, 2, 3))
    cols = ops.sum(ops.abs(images[:, :, 1:, :] - images[:, :, :-1, :]), axis=(1, 2, 3))
    return rows + cols


def _tile_maps(y, normalised, valid, alpha, beta, scale, looks, outputs) -> dict:
    """The requested maps of one tile, in the input's intensity units (see ``predict_maps``)."""
    maps = {}
    if "posterior_mean" in outputs:
        estimate = np.asarray(bayes.posterior_mean(normalised, alpha, beta, looks)) * scale
        maps["posterior_mean"] = np.where(valid, estimate, y)
    if "prior_mean" in outputs:
        maps["prior_mean"] = np.asarray(bayes.prior_mean(alpha, beta)) * scale
    if "posterior_std" in outputs:
        std = np.asarray(bayes.posterior_std(normalised, alpha, beta, looks)) * scale
        maps["posterior_std"] = np.where(valid, std, 0.0)
    if "alpha" in outputs:
        maps["alpha"] = alpha
    if "beta" in outputs:
        maps["beta"] = beta
    return maps


def count_flops(config: S2VConfig, height: int, width: int) -> float:
    """Multiply-adds x 2 of one inference pass on an (H, W) image (convolutions only)."""
    f, d = config.filters, config.depth
    per_branch = 9 * (1 * f + (d - 1) * f * f)
    head = 4 * f * f + f * f + 2 * f
    return 2.0 * height * width * (4 * per_branch + head)

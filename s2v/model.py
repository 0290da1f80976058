"""The Speckle2Void model: four-rotation blind-spot network + Bayesian head.

Domain: the network sees **normalised intensity** (see :class:`S2VConfig`,
``normalization``); :meth:`Speckle2Void.predict_maps` takes and returns
intensity in the caller's own units.

The network and its loss are written with ``keras.ops``: the model trains
(``fit``, through :meth:`Speckle2Void.compute_loss`) and predicts under any
Keras backend (``KERAS_BACKEND=tensorflow``, the default and tested one,
``jax`` or ``torch``), and a ``.keras`` file written under one loads under
another. The NumPy side (normalisation, training batches) is :mod:`s2v.batches`; its
names are also importable from here.
"""

from __future__ import annotations

import numpy as np

from ._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras
from keras import layers, ops

from . import __version__, bayes
from .batches import (TRAINING_PLANES, apply_normalisation, draw_shift_rows,  # noqa: F401 (re-exported)
                      local_level, normalisation_constants, normalise_intensity, pack_batch, to_mosaic)
from .config import LOG_INPUT_FLOOR, LOG_LOSS_FLOOR, ConfigError, S2VConfig
from .distribute import scale_loss_for_replicas, step_logs
from .nets import CausalBranch, rotate, shift_down
from .transforms import pixel_shuffle
from .utils import check_intensity

__all__ = ["Speckle2Void", "normalise_intensity", "MAP_NAMES", "TRAINING_PLANES", "pack_batch",
           "unpack_batch", "batch_looks", "draw_shift_rows"]

#: Names of the maps returned by :meth:`Speckle2Void.predict_maps`.
MAP_NAMES = ("posterior_mean", "prior_mean", "alpha", "beta", "posterior_std")

_DEFAULT_TILE = 512


def unpack_batch(batch, *, looks_plane: bool = False):
    """``(noisy, valid, rows, target or None)`` of a batch from :func:`pack_batch` (``keras.ops``).

    ``noisy``, ``valid`` and ``target`` are (B, P, P, 1); ``rows`` is (B,) int32. With
    ``looks_plane`` the batch carries a looks plane after the shift plane
    (:func:`batch_looks`), and the target comes after it.
    """
    channels = batch.shape[-1]
    first_target = 4 if looks_plane else 3
    if channels not in (first_target, first_target + 1):
        raise ValueError(f"a training batch has {first_target} or {first_target + 1} planes of "
                         f"{TRAINING_PLANES} on its last axis, got {channels}")
    target = batch[..., first_target:first_target + 1] if channels == first_target + 1 else None
    return batch[..., 0:1], batch[..., 1:2], ops.cast(batch[:, 0, 0, 2], "int32"), target


def batch_looks(batch):
    """The (B, P, P, 1) looks plane of a batch packed with ``looks`` (``S2VConfig.looks_range``)."""
    return batch[..., 3:4]


class _OurRetracingWarnings:
    """Logging filter: drops TensorFlow's "triggered tf.function retracing" warning for
    :meth:`Speckle2Void._make_predict_fn`'s function only.

    Every loaded model compiles its own prediction function, once, for any tile shape (a
    shape-free signature); TensorFlow's detector counts those first traces across all
    functions and warns about "excessive retracing" as soon as a study loads a few models.
    Warnings about any other function pass.
    """

    def filter(self, record) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and "_make_predict_fn" in message)


def _drop_our_retracing_warnings(tf) -> None:
    logger = tf.get_logger()
    if not any(isinstance(f, _OurRetracingWarnings) for f in logger.filters):
        logger.addFilter(_OurRetracingWarnings())


@keras.saving.register_keras_serializable(package="s2v")
class Speckle2Void(keras.Model):
    """Speckle2Void blind-spot network (Bordone Molini et al., TGRS 2022).

    The input (B, H, W, 1) normalised intensity is rotated by 0°, 90°, 180°
    and 270°; each rotation goes through a causal branch (one set of weights
    for 0°/180°, another for 90°/270°), is shifted down (the blind spot) and
    rotated back; a 1x1 convolution mixes the four, two more 1x1 layers give
    ``alpha = out_0 + 1`` and ``beta = out_1`` (ReLU) of the inverse-gamma
    prior (``network_input="log"``: the network sees the log of the normalised
    intensity and ``beta = exp(out_1)``). :meth:`call` returns (B, H, W, 2) = ``[alpha, beta]``.

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
        config = S2VConfig.coerce(config, "paper")
        self.s2v_config = config
        self.batched_rotations = bool(batched_rotations)
        f = config.filters
        dilations = config.branch_dilations
        self.branch_vertical = CausalBranch(f, config.depth, config.batch_norm, dilations,
                                            name="branch_vertical")
        self.branch_horizontal = CausalBranch(f, config.depth, config.batch_norm, dilations,
                                              name="branch_horizontal")
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
            x, rows = inputs[..., 0:1], ops.cast(inputs[:, 0, 0, 2], "int32")  # noisy and shift planes
        if vertical_shift is not None:
            rows = vertical_shift
        max_rows = max(self.s2v_config.max_shift_rows, 1)
        log_domain = self.s2v_config.network_input == "log"
        if log_domain:
            x = ops.log(ops.maximum(x, LOG_INPUT_FLOOR))
        v0, v180 = self._branch(self.branch_vertical, [x, rotate(x, 2)], rows, max_rows, training)
        h90, h270 = self._branch(self.branch_horizontal, [rotate(x, 1), rotate(x, 3)], 1, 1, training)
        stacked = ops.concatenate([v0, rotate(v180, 2), rotate(h90, 3), rotate(h270, 1)], axis=-1)
        z = ops.leaky_relu(self.merge(stacked), negative_slope=0.2)
        z = ops.leaky_relu(self.fuse(z), negative_slope=0.2)
        z = self.head(z)
        # 'log': beta = exp(.) reaches the darkest intensities; clipped so that exp stays finite.
        beta = ops.exp(ops.clip(z[..., 1:], -60.0, 30.0)) if log_domain else ops.relu(z[..., 1:])
        return ops.concatenate([ops.relu(z[..., :1]) + 1.0, beta], axis=-1)

    # -- training -----------------------------------------------------------------
    def draw_vertical_shift(self, step) -> int:
        """Rows of the vertical blind-spot shift of training step ``step`` (:func:`draw_shift_rows`)."""
        return draw_shift_rows(self.s2v_config, step)

    def loss_parts(self, y, valid, alpha_beta, target=None, looks=None):
        """Loss and its parts for a batch (tensors of shape (B, H, W, 1)/(B, H, W, 2)).

        Self-supervised (``target`` None): mean negative log marginal
        likelihood over valid pixels + ``k_penalty_tv`` x batch-mean total
        variation of the posterior mean. Supervised: mean squared error of the
        posterior mean (or of its logarithm, ``supervised_loss="mse_log"``, or of
        its square root, ``"mse_amplitude"``)
        against ``target`` over valid pixels (same network).
        """
        if looks is None:  # else a (B, H, W, 1) plane: training on a range of looks
            looks = self.s2v_config.looks
        alpha, beta = alpha_beta[..., :1], alpha_beta[..., 1:]
        weight = ops.cast(valid, "float32")
        count = ops.maximum(ops.sum(weight), 1.0)
        estimate = bayes.posterior_mean(y, alpha, beta, looks)
        if target is not None:
            if self.s2v_config.supervised_loss == "mse_log":
                error = ops.log(estimate + LOG_LOSS_FLOOR) - ops.log(target + LOG_LOSS_FLOOR)
            elif self.s2v_config.supervised_loss == "mse_amplitude":
                # The floor keeps the gradient of sqrt finite at a zero estimate (linear input: beta = relu).
                error = ops.sqrt(estimate + LOG_LOSS_FLOOR) - ops.sqrt(target + LOG_LOSS_FLOOR)
            else:
                error = estimate - target
            mse = ops.sum(ops.square(error) * weight) / count
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
        looks_plane = bool(self.s2v_config.looks_range)
        noisy, valid, _, target = unpack_batch(x, looks_plane=looks_plane)
        parts = self.loss_parts(noisy, valid, y_pred, target, batch_looks(x) if looks_plane else None)
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

        _drop_our_retracing_warnings(tf)

        def infer(x):
            return self._infer(x)

        function = tf.function(infer, reduce_retracing=True, autograph=False,
                               input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32)])
        return lambda x: function(tf.constant(x)).numpy()

    def predict_maps(self, intensity, *, looks=None, tile_size=None, outputs=MAP_NAMES,
                     progress=True, pixel_shuffle=None, offsets=None, mosaic_notch=None,
                     ratio_calibration=None, flips=None):
        """Despeckle an intensity image and return the Bayesian maps.

        Parameters
        ----------
        intensity : array_like, (H, W)
            Noisy intensity (>= 0, finite), any size (1 pixel to 1e8 pixels).
        looks : float, optional
            Number of looks ``L`` used in the posterior (default:
            :meth:`default_looks`, the configuration's, or measured on the
            image for a model trained on a range of looks).
        tile_size : int, optional
            Side of the tiles processed at once (default 512). Tiles overlap
            by the receptive field, so the result does not depend on it
            (up to float rounding); memory grows with its square.
        outputs : sequence of str
            Which maps to compute, among :data:`MAP_NAMES`.
        progress : bool
            Show a progress bar when there are many tiles (or mosaic offsets).
        pixel_shuffle : int, optional
            Stride of the pixel shuffle at prediction, an integer >= 1 (default: the
            configuration's rule, :meth:`prediction_stride`).
        offsets : bool, optional
            Average over all ``s x s`` offsets of the mosaic grid (default: the
            configuration's ``predict_offsets``); every map is the mean of the ``s**2``
            predictions.
        mosaic_notch : float, optional
            Width of the notches of :func:`s2v.strides.remove_mosaic`, applied to the
            intensity maps (``posterior_mean``, ``prior_mean``, ``posterior_std``) of a
            prediction stride >= 2, in [0, 0.5]; 0 = off (default: the configuration's
            ``predict_mosaic_notch``). A map with a zero is left as it is (its log is
            undefined there).
        ratio_calibration : bool, optional
            Scale the intensity maps so that the ratio image ``intensity / posterior_mean``
            has mean 1 over the pixels that are not point targets (default: the
            configuration's ``predict_ratio_calibration``; needs ``posterior_mean`` among
            ``outputs``, added to the computation when missing).
        flips : {1, 2, 4}, optional
            Average the maps over this many mirror images of the input (default: the
            configuration's ``predict_flips``; 1 = none, 2 = left-right, 4 = also up-down).

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
        looks = self.default_looks(y) if looks is None else float(looks)
        if not (np.isfinite(looks) and looks > 0):
            raise ValueError(f"looks must be a finite positive number, got {looks}")
        if pixel_shuffle is None:
            stride = self.prediction_stride(y)
        elif isinstance(pixel_shuffle, bool) or not isinstance(pixel_shuffle, (int, np.integer)) \
                or pixel_shuffle < 1:
            raise ValueError(f"pixel_shuffle must be an integer >= 1, got {pixel_shuffle!r}")
        else:
            stride = int(pixel_shuffle)
        offsets = self.s2v_config.predict_offsets if offsets is None else bool(offsets)
        notch = self.s2v_config.predict_mosaic_notch if mosaic_notch is None else float(mosaic_notch)
        if not 0.0 <= notch <= 0.5:
            raise ValueError(f"mosaic_notch must lie in [0, 0.5] (0: off), got {mosaic_notch!r}")
        calibrate = self.s2v_config.predict_ratio_calibration if ratio_calibration is None \
            else bool(ratio_calibration)
        flips = self.s2v_config.predict_flips if flips is None else flips
        if flips not in (1, 2, 4) or isinstance(flips, bool):
            raise ValueError(f"flips must be 1, 2 or 4, got {flips!r}")
        wanted = tuple(outputs) + (("posterior_mean",) if calibrate and "posterior_mean" not in outputs else ())
        views = ((False, False), (False, True), (True, False), (True, True))[:int(flips)]
        maps = {}
        for flip_rows, flip_cols in views:
            view = y[::-1 if flip_rows else 1, ::-1 if flip_cols else 1]
            if stride == 1:
                predicted = self._maps(view, looks, tile_size, wanted, progress,
                                       level=self._point_target_level(view))
            else:
                predicted = self._shuffled_maps(view, stride, offsets, looks, tile_size, wanted, progress)
            for name, value in predicted.items():
                value = value[::-1 if flip_rows else 1, ::-1 if flip_cols else 1]
                maps[name] = value if name not in maps else maps[name] + value
        if len(views) > 1:
            maps = {name: (value / np.float32(len(views))).astype(np.float32) for name, value in maps.items()}
        if notch > 0 and stride > 1:
            from .strides import remove_mosaic

            for name in ("posterior_mean", "prior_mean", "posterior_std"):
                if name in maps and maps[name].min() > 0:
                    maps[name] = remove_mosaic(maps[name], stride, width=notch)
        if calibrate:
            gain = self._ratio_gain(y, maps["posterior_mean"])
            for name in ("posterior_mean", "prior_mean", "posterior_std"):
                if name in maps:
                    maps[name] = maps[name] * np.float32(gain)
        return {name: maps[name] for name in outputs}

    def _point_target_level(self, y):
        """The local median of ``y`` under ``predict_point_targets='local'``, else None."""
        if self.s2v_config.predict_point_targets != "local":
            return None
        return local_level(y)

    def _ratio_gain(self, y, estimate) -> float:
        """Mean of ``y / estimate`` over the pixels that are neither point targets nor zero."""
        _, clip_value, _ = normalisation_constants(y, self.s2v_config, prediction=True)
        level = self._point_target_level(y)
        if level is not None:
            clip_value = np.float32(self.s2v_config.clip) * level
        usable = (y <= clip_value) & (estimate > 0)
        if not usable.any():
            return 1.0
        return float(np.mean(y[usable].astype(np.float64) / estimate[usable]))

    def _shuffled_maps(self, y, stride, offsets, looks, tile_size, outputs, progress):
        """The maps of a pixel-shuffle prediction: one mosaic grid, or the mean over all offsets."""
        if not offsets:
            return self._mosaic_maps(y, stride, looks, tile_size, outputs, progress)
        shifts = [(dy, dx) for dy in range(stride) for dx in range(stride)]
        iterator = shifts
        if progress and y.size * len(shifts) > 4 * _DEFAULT_TILE**2:
            from tqdm.auto import tqdm
            iterator = tqdm(shifts, desc="Speckle2Void mosaic offsets", unit="offset")
        total = {name: np.zeros(y.shape, np.float64) for name in outputs}
        for dy, dx in iterator:
            # The grid moves by (dy, dx): mirrored rows and columns on top and left, cut off after.
            shifted = np.pad(y, ((dy, 0), (dx, 0)), mode="symmetric")
            maps = self._mosaic_maps(shifted, stride, looks, tile_size, outputs, False)
            for name, value in maps.items():
                total[name] += value[dy:, dx:]
        return {name: (value / len(shifts)).astype(np.float32) for name, value in total.items()}

    def default_looks(self, intensity) -> float:
        """The number of looks :meth:`predict_maps` assumes when none is given.

        ``looks`` of the configuration; for a model trained on a range of looks
        (``looks_range``), the equivalent number of looks measured on the image
        (:func:`s2v.domains.estimate_looks`), brought into the trained range.

        Parameters
        ----------
        intensity : array_like, (H, W)
            Noisy intensity (>= 0, finite).
        """
        config = self.s2v_config
        if not config.looks_range:
            return float(config.looks)
        from .domains import estimate_looks

        y = check_intensity(intensity)
        try:
            measured = estimate_looks(y)
        except ValueError:  # too small or too uniform to measure
            return float(config.looks)
        return float(np.clip(measured, min(config.looks_range), max(config.looks_range)))

    def prediction_stride(self, intensity) -> int:
        """The pixel-shuffle stride :meth:`predict_maps` uses on this image by default.

        :func:`s2v.strides.image_stride` at prediction: ``predict_pixel_shuffle`` when set,
        the stride measured on the image with ``stride_from_correlation``, else
        ``pixel_shuffle``.

        Parameters
        ----------
        intensity : array_like, (H, W)
            Noisy intensity (>= 0, finite).
        """
        from .strides import image_stride

        return image_stride(intensity, self.s2v_config, prediction=True)

    def with_prediction_settings(self, **changes) -> "Speckle2Void":
        """The same weights under other prediction-time settings (``predict_*``, ``complex_input``).

        Returns a new model; ``self`` is unchanged. Raises ``ValueError`` for a field that
        would change what the weights mean (anything else of :class:`S2VConfig`).
        """
        training_fields = sorted(k for k in changes if not (k.startswith("predict_") or k == "complex_input"))
        if training_fields:
            raise ValueError(f"with_prediction_settings: {', '.join(training_fields)} change what the "
                             "weights mean; only predict_* fields and complex_input may change")
        model = Speckle2Void(self.s2v_config.replace(**changes))
        model.set_weights(self.get_weights())
        return model

    def _mosaic_maps(self, y, stride, looks, tile_size, outputs, progress):
        """:meth:`_maps` of the stride x stride mosaic of ``y``, shuffled back to its grid."""
        level = self._point_target_level(y)  # of the image, not of the mosaic's sub-images
        level = None if level is None else to_mosaic(level, stride)[0]
        maps = self._maps(to_mosaic(y, stride)[0], looks, tile_size, outputs, progress, level=level)
        return {name: pixel_shuffle(value, stride, shape=y.shape) for name, value in maps.items()}

    def predict(self, x, *, looks=None, tile_size=None, progress=True):
        """Despeckle an intensity image or a stack of them: the posterior-mean estimate.

        Unlike :meth:`keras.Model.predict`, whose outputs would be the raw ``[alpha, beta]``
        maps of an already normalised batch, this returns the estimate in the input's units:
        ``predict_maps(x, outputs=("posterior_mean",))["posterior_mean"]``, frame by frame
        for a stack. ``fit`` and ``evaluate`` do not use this method; the raw maps of a
        normalised (B, H, W, 1) batch are ``model(x)`` or :meth:`predict_on_batch`.

        Parameters
        ----------
        x : array_like, (H, W) or (N, H, W)
            Noisy **intensity** (>= 0, finite), any size (:meth:`predict_maps`).
        looks, tile_size, progress
            As in :meth:`predict_maps`.

        Returns
        -------
        ndarray, float32, the shape of ``x``
            Despeckled **intensity** (point targets copied back).

        Raises
        ------
        ValueError
            ``x`` is not an (H, W) image or an (N, H, W) stack (a trailing axis of size 1 is
            refused as a channel axis), or a frame is not a valid intensity.
        """
        array = np.asarray(x)
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] == 1):
            raise ValueError(
                f"predict: expected an (H, W) intensity image or an (N, H, W) stack of them, got shape "
                f"{array.shape}; drop a channel axis first, and call the model itself (model(x)) for "
                "the raw [alpha, beta] outputs of a normalised (B, H, W, 1) batch")

        def estimate(image):
            return self.predict_maps(image, looks=looks, tile_size=tile_size, outputs=("posterior_mean",),
                                     progress=progress)["posterior_mean"]

        if array.ndim == 2:
            return estimate(array)
        if array.shape[0] == 0:
            raise ValueError(f"predict: the stack holds no frame (shape {array.shape})")
        frames = []
        for index, frame in enumerate(array):
            try:
                frames.append(estimate(frame))
            except ValueError as exc:
                raise ValueError(f"frame {index} of the stack: {exc}") from None
        return np.stack(frames)

    def _maps(self, y, looks, tile_size, outputs, progress, level=None):
        """The requested maps of an (H, W) intensity image, by exact overlapping tiles.

        The normalisation constants come from the whole image; then each tile is
        normalised, predicted and turned into maps on its own, so memory holds
        the input (possibly memory-mapped), the requested outputs and one tile --
        no whole-image temporaries, which matters at 10^8 pixels -- and, under the
        local point-target rule, the float32 level map ``level`` aligned with ``y``
        (:meth:`_point_target_level`; the pixel-shuffle path passes the mosaic of the
        image's); None keeps the global rule.
        """
        scale, clip_value, fill = normalisation_constants(y, self.s2v_config, prediction=True)
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
            if level is not None:  # the local rule: clip times the local median, filled with it
                local = level[a0:a1, b0:b1]
                clip_value, fill = np.float32(self.s2v_config.clip) * local, local / np.float32(scale)
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

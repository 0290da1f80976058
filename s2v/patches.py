"""Training patches for Speckle2Void: sampling and the ``tf.data`` pipeline.

Domain: intensity in, **normalised intensity** out (see
:func:`s2v.batches.normalise_intensity`). Images are kept whole in memory once
(memory proportional to the data, not to patches x images, unlike the
reference which pre-extracts 2000 patches of 256x256 per image); each batch is
cut at random positions, with a generator keyed by ``(seed, step)`` so that a
resumed training run sees exactly the batches it would have seen.

Augmentation: only **flips** are used. With the anisotropic training shift
(the 0°/180° branches hide two rows, the 90°/270° ones one column), a flip
keeps each axis's blind spot on the same axis, while a 90° rotation or a
transpose would swap the axial and lateral roles — wrong for ultrasound, whose
speckle correlation differs between depth and lateral directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import S2VConfig
from .batches import (apply_normalisation, draw_shift_rows, local_level, normalisation_constants,
                      normalise_intensity, pack_batch, to_mosaic)
from .strides import image_stride
from .utils import check_intensity

__all__ = ["PatchSampler", "SimulatedUltrasoundPatchSampler", "SyntheticSpecklePatchSampler", "make_dataset"]


@dataclass
class _Prepared:
    image: np.ndarray   # normalised intensity, padded to at least one patch
    valid: np.ndarray   # False on point targets and padding
    target: np.ndarray | None


class PatchSampler:
    """Random patches from a list of intensity images, deterministic per step.

    Parameters
    ----------
    images : sequence of (H, W) arrays
        Noisy intensity images (any sizes; smaller than a patch is padded with
        zeros and the padding is excluded from the loss).
    config : S2VConfig
        Gives ``patch_size``, ``batch_size``, ``seed`` and the normalisation.
    targets : sequence of (H, W) arrays, optional
        Clean intensities for supervised training (same normalisation scale).
    augment : bool
        Random horizontal and vertical flips (safe with the blind spot).
    """

    def __init__(self, images, config: S2VConfig, *, targets=None, augment: bool = True):
        images = list(images)
        if not images:
            raise ValueError("no training images were given")
        if config.looks_range:
            raise ValueError(f"looks_range={list(config.looks_range)} needs speckle of known looks drawn "
                             "for each patch: train on clean images with s2v.training.train_synthetic")
        if targets is not None and len(targets) != len(images):
            raise ValueError(f"got {len(images)} images but {len(targets)} targets")
        self.config = config
        self.augment = bool(augment)
        self.items, self.strides = [], []
        for index, image in enumerate(images):
            y = check_intensity(image, name=f"training image {index}")
            target = None
            if targets is not None:
                target = check_intensity(targets[index], name=f"training target {index}")
                if target.shape != y.shape:
                    raise ValueError(f"training target {index} has shape {target.shape}, image {y.shape}")
            self.strides.append(image_stride(y, config))
            self.items.append(self._prepare(y, target, self.strides[-1]))
        sizes = np.array([item.image.size for item in self.items], float)
        self.weights = sizes / sizes.sum()  # big images give proportionally more patches

    def _prepare(self, y, target, stride) -> _Prepared:
        """One image as the network sees it: mosaic at ``stride``, normalised, padded."""
        inside = None
        # Of the image, not of the mosaic's sub-images: as at prediction (Speckle2Void._mosaic_maps).
        level = local_level(y) if self.config.point_targets == "local" else None
        if stride > 1:  # the network sees the mosaic of sub-images, as at prediction
            y, inside = to_mosaic(y, stride)
            level = None if level is None else to_mosaic(level, stride)[0]
            target = None if target is None else to_mosaic(target, stride)[0]
        if self.config.point_targets == "local":
            normalised, valid, scale = _normalise_local(y, level, self.config)
        else:
            normalised, valid, scale = normalise_intensity(y, self.config)
        if inside is not None:
            valid &= inside
        if target is not None:
            target = target / np.float32(scale)
        return self._pad(normalised, valid, target)

    def _pad(self, image, valid, target):
        p = self.config.patch_size
        pad = [(0, max(0, p - image.shape[0])), (0, max(0, p - image.shape[1]))]
        if any(after for _, after in pad):
            # Zeros, not a reflection: a mirrored copy of a border pixel would sit next to it,
            # inside its receptive field, and leak the pixel past the blind spot.
            image = np.pad(image, pad)
            valid = np.pad(valid, pad, constant_values=False)
            target = None if target is None else np.pad(target, pad)
        return _Prepared(image, valid, target)

    @property
    def supervised(self) -> bool:
        return self.items[0].target is not None

    def _windows(self, rng):
        """The step's ``(image index, window, flip_rows, flip_cols)`` for each patch of the batch."""
        p, b = self.config.patch_size, self.config.batch_size
        picks = rng.choice(len(self.items), size=b, p=self.weights)
        for index in picks:
            item = self.items[index]
            r = rng.integers(0, item.image.shape[0] - p + 1)
            c = rng.integers(0, item.image.shape[1] - p + 1)
            flip_rows, flip_cols = rng.integers(0, 2, size=2) if self.augment else (0, 0)
            yield index, (slice(r, r + p), slice(c, c + p)), flip_rows, flip_cols

    def _item(self, index: int, step: int) -> _Prepared:
        """The prepared image ``index`` as it is at step ``step`` (fixed here)."""
        return self.items[index]

    @staticmethod
    def _flipped(plane, flip_rows, flip_cols):
        return plane[::-1 if flip_rows else 1, ::-1 if flip_cols else 1]

    def batch(self, step: int):
        """Return the batch of training step ``step``: arrays (B, P, P, 1).

        ``(normalised, valid)`` or, when supervised, ``(normalised, valid, target)``.
        """
        rng = np.random.default_rng([self.config.seed, int(step)])
        p, b = self.config.patch_size, self.config.batch_size
        out = np.empty((3 if self.supervised else 2, b, p, p, 1), np.float32)
        for k, (index, window, *flips) in enumerate(self._windows(rng)):
            item = self._item(index, step)
            stack = [item.image[window], item.valid[window]]
            if item.target is not None:
                stack.append(item.target[window])
            for j, plane in enumerate(stack):
                out[j, k, :, :, 0] = self._flipped(plane, *flips)
        return tuple(out)

    def training_batch(self, step: int) -> np.ndarray:
        """The batch of step ``step`` as ``fit`` takes it: one (B, P, P, 3 or 4) float32 array.

        The planes of :meth:`batch` and the step's blind-spot shift
        (:func:`s2v.batches.draw_shift_rows`), packed by :func:`s2v.batches.pack_batch`.
        """
        noisy, valid, *target = self.batch(step)
        return pack_batch(noisy, valid, draw_shift_rows(self.config, step), *target)


def _normalise_local(y, level, config: S2VConfig):
    """:func:`s2v.batches.normalise_intensity` under ``point_targets='local'``.

    The scale is the image median, as under the global rule; the point targets are the
    pixels above ``clip`` times the local level ``level`` (aligned with ``y``), replaced by
    that level: what prediction does under ``predict_point_targets='local'``.
    """
    scale = normalisation_constants(y, config)[0]
    normalised, valid = apply_normalisation(y, scale, np.float32(config.clip) * level,
                                            level / np.float32(scale))
    return normalised, valid, scale


class SyntheticSpecklePatchSampler(PatchSampler):
    """Patches of clean intensities with a **new speckle realisation at every step**.

    The usual regime for synthetic despeckling experiments: the network never sees
    the same noisy patch twice, instead of learning from one fixed noisy copy of
    each image (:class:`PatchSampler`). Self-supervised training still sees only
    the noisy patches (the clean ones are the targets of a supervised run only).

    Parameters
    ----------
    clean_images : sequence of (H, W) arrays
        Clean **intensity** images (any sizes, any units).
    config : S2VConfig
        As for :class:`PatchSampler`; the speckle is fully developed Gamma speckle
        of ``config.looks`` looks (mean 1, variance ``1/looks``), independent
        between pixels (see :func:`s2v.simulate.gamma_speckle`).
    supervised : bool
        Also return the clean patch (normalised with the same scale) as target.
    augment : bool
        Random horizontal and vertical flips.

    Notes
    -----
    Each image's normalisation constants (median scale, point-target clip) are
    those of one noisy realisation of the whole image, as at prediction, where
    they come from the noisy input; the noise of step ``s`` is drawn from a
    generator keyed by ``(seed, s)``, so that a resumed run sees the same batches.
    """

    def __init__(self, clean_images, config: S2VConfig, *, supervised: bool = False, augment: bool = True):
        from .simulate import gamma_speckle

        clean_images = list(clean_images)
        if not clean_images:
            raise ValueError("no training images were given")
        if config.point_targets != "global":
            raise ValueError(f"point_targets={config.point_targets!r} is for noisy images and simulated "
                             "phantoms: synthetic speckle of clean images uses the global rule")
        self.config = config
        self.augment = bool(augment)
        self.looks = float(config.looks)
        self.looks_values = tuple(float(v) for v in config.looks_range) or (self.looks,)
        self.return_target = bool(supervised)
        self.items, self.constants = [], []
        for index, image in enumerate(clean_images):
            clean = check_intensity(image, name=f"clean training image {index}")
            inside = np.ones(clean.shape, bool)
            reference = gamma_speckle(clean, self.looks, seed=[config.seed, index])
            stride = image_stride(reference, config)
            if stride > 1:  # i.i.d. speckle: the mosaic of clean x noise is clean's mosaic x noise
                clean, inside = to_mosaic(clean, stride)
                reference = to_mosaic(reference, stride)[0]
            scale, clip_value, fill = normalisation_constants(reference, config)
            # Per number of looks: (clip, fill, clean rescaling) in this image's normalised units,
            # from a realisation of that many looks (the median of speckle depends on L).
            per_looks = {self.looks: (np.float32(clip_value / scale), np.float32(fill), np.float32(1.0))}
            for looks in self.looks_values:
                if looks not in per_looks:
                    other = gamma_speckle(clean, looks, seed=[config.seed, index])
                    other_scale, other_clip, other_fill = normalisation_constants(other, config)
                    per_looks[looks] = (np.float32(other_clip / other_scale), np.float32(other_fill),
                                        np.float32(scale / other_scale))
            self.constants.append(per_looks)
            normalised = np.divide(clean, np.float32(scale), dtype=np.float32)
            self.items.append(self._pad(normalised, inside, normalised))
        sizes = np.array([item.image.size for item in self.items], float)
        self.weights = sizes / sizes.sum()

    @property
    def supervised(self) -> bool:
        return self.return_target

    def patch_looks(self, step: int) -> np.ndarray:
        """Number of looks of each patch of step ``step``, (B,) float32 (all ``looks`` without a range)."""
        b = self.config.batch_size
        if not self.config.looks_range:
            return np.full(b, self.looks, np.float32)
        rng = np.random.default_rng([self.config.seed, int(step), 2])
        return np.asarray(self.looks_values, np.float32)[rng.integers(0, len(self.looks_values), size=b)]

    def batch(self, step: int):
        """Return the batch of step ``step``: ``(noisy, valid)`` or ``(noisy, valid, clean)``."""
        rng = np.random.default_rng([self.config.seed, int(step)])
        noise_rng = np.random.default_rng([self.config.seed, int(step), 1])
        p, b = self.config.patch_size, self.config.batch_size
        out = np.empty((3 if self.supervised else 2, b, p, p, 1), np.float32)
        patch_looks = self.patch_looks(step)
        for k, (index, window, *flips) in enumerate(self._windows(rng)):
            item = self.items[index]
            looks = float(patch_looks[k])
            clip_value, fill, rescale = self.constants[index][looks]
            clean = item.target[window] * rescale  # rescale 1 (exact) at config.looks
            noisy = clean * noise_rng.gamma(looks, 1.0 / looks, size=clean.shape).astype(np.float32)
            point_targets = noisy > clip_value  # treated as at prediction (normalise_intensity)
            noisy[point_targets] = fill
            planes = [noisy, item.valid[window] & ~point_targets]
            if self.supervised:
                planes.append(clean)
            for j, plane in enumerate(planes):
                out[j, k, :, :, 0] = self._flipped(plane, *flips)
        return tuple(out)

    def training_batch(self, step: int) -> np.ndarray:
        """As :meth:`PatchSampler.training_batch`, with the looks plane under a ``looks_range``."""
        if not self.config.looks_range:
            return super().training_batch(step)
        noisy, valid, *target = self.batch(step)
        return pack_batch(noisy, valid, draw_shift_rows(self.config, step), *target,
                          looks=self.patch_looks(step))


#: Keyword arguments of :func:`s2v.simulate.simulate_ultrasound` that a simulation's ``params`` repeat.
_PROBE_SETTINGS = ("center_frequency", "fractional_bandwidth", "lateral_beam_width", "pixel_size",
                   "sound_speed", "demodulation_frequency", "dynamic_range")


class SimulatedUltrasoundPatchSampler(PatchSampler):
    """Ultrasound patches with a **new speckle realisation of each phantom at every step**.

    :class:`PatchSampler` learns from one fixed realisation per phantom, so a network
    can learn the speckle of its few training images by heart. Here every step
    re-simulates the phantoms it draws patches from (new scatterers, same echogenicity,
    point targets and probe, :func:`s2v.simulate.simulate_ultrasound`, about 10 ms for a
    257 x 193 image), and each realisation is prepared exactly as a fixed image is
    (mosaic, normalisation and point targets from that realisation, as at prediction).
    Self-supervised only: the network still sees only noisy intensities.

    Parameters
    ----------
    simulations : sequence of dict
        Outputs of :func:`s2v.simulate.simulate_ultrasound` (e.g.
        :func:`s2v.datasets.randomised_ultrasound_set`): ``echogenicity`` (linear
        INTENSITY), ``point_targets``, ``params`` (the probe) and ``intensity`` (the
        realisation that sets the image's pixel-shuffle stride, once).
    config : S2VConfig
        As for :class:`PatchSampler`.
    images : sequence of (H, W) arrays, optional
        Fixed noisy intensities trained on as by :class:`PatchSampler` (real frames,
        which have no echogenicity to re-simulate).
    augment : bool
        Random horizontal and vertical flips.
    scanner : bool
        Export each realisation as a clinical scanner would and train on what a user reads
        back (:func:`s2v.simulate.scanner_export`: random depth-dependent gain, display
        dynamic range 45-85 dB, 8 bits, read at 60 dB), drawn anew at every step.

    Notes
    -----
    The scatterers of phantom ``i`` at step ``s`` are drawn from a generator keyed by
    ``(seed, s, i)``, the scanner export from ``(seed, s, i, 2)``: a resumed run sees the same
    batches.
    """

    def __init__(self, simulations, config: S2VConfig, *, images=(), augment: bool = True,
                 scanner: bool = False):
        simulations = list(simulations)
        if not simulations:
            raise ValueError("no simulations were given")
        for index, simulation in enumerate(simulations):
            missing = {"echogenicity", "point_targets", "params", "intensity"} - set(simulation)
            if missing:
                raise ValueError(f"simulation {index} lacks {sorted(missing)}: give the outputs of "
                                 "s2v.simulate.simulate_ultrasound")
        images = list(images)
        super().__init__([sim["intensity"] for sim in simulations] + images, config, augment=augment)
        # Each phantom keeps the stride measured on its given realisation (self.strides).
        self.probes = [{key: sim["params"][key] for key in _PROBE_SETTINGS} for sim in simulations]
        self.echogenicities = [np.asarray(sim["echogenicity"]) for sim in simulations]
        self.point_targets = [np.asarray(sim["point_targets"]) for sim in simulations]
        self.scanner = bool(scanner)
        self._cache = (None, {})

    def _item(self, index: int, step: int) -> _Prepared:
        if index >= len(self.probes):  # a fixed image
            return self.items[index]
        cached_step, prepared = self._cache
        if cached_step != step:  # one realisation per phantom and step, however many patches
            prepared = {}
            self._cache = (step, prepared)
        if index not in prepared:
            from .simulate import simulate_ultrasound

            realisation = simulate_ultrasound(
                self.echogenicities[index], point_targets=self.point_targets[index],
                seed=[self.config.seed, int(step), index], **self.probes[index])
            intensity = realisation["intensity"]
            if self.scanner:  # a power law: the log-speckle correlation (so the stride) stays, up to rounding
                from .simulate import scanner_export

                export = scanner_export(intensity, None, seed=[self.config.seed, int(step), index, 2])
                intensity = export["intensity"]
            prepared[index] = self._prepare(intensity, None, self.strides[index])
        return prepared[index]


def make_dataset(sampler: PatchSampler, start_step: int, stop_step: int):
    """The batches of steps ``start_step .. stop_step-1`` for ``fit``, in order.

    Under the TensorFlow backend a prefetched ``tf.data`` pipeline; under the others (JAX,
    PyTorch: a GPU machine without TensorFlow) a plain generator of the same NumPy batches,
    which Keras' ``fit`` takes as it is.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return ((sampler.training_batch(step),) for step in range(start_step, stop_step))
    import tensorflow as tf

    p, b = sampler.config.patch_size, sampler.config.batch_size
    planes = 3 + int(sampler.supervised) + int(bool(sampler.config.looks_range))
    spec = tf.TensorSpec((b, p, p, planes), tf.float32)

    def generate():
        for step in range(start_step, stop_step):
            yield sampler.training_batch(step)

    dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return dataset.prefetch(tf.data.AUTOTUNE)

"""Training batches and normalisation of Speckle2Void, in NumPy (no TensorFlow, no Keras).

Domain: intensity in, **normalised intensity** out (:func:`normalise_intensity`). Used by
the patch sampler (:mod:`s2v.patches`) and by the model's tiled prediction
(:mod:`s2v.model`, which also unpacks a batch with ``keras.ops``).
"""

from __future__ import annotations

import numpy as np

from .config import S2VConfig, shift_rows
from .transforms import pixel_unshuffle

__all__ = ["normalise_intensity", "normalisation_constants", "apply_normalisation", "local_level", "TRAINING_PLANES",
           "draw_shift_rows", "pack_batch", "to_mosaic"]


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


def normalisation_constants(intensity: np.ndarray, config: S2VConfig, *, prediction: bool = False):
    """Whole-image constants of :func:`normalise_intensity`: ``(scale, clip_value, fill)``.

    Computed once per image, so that tiles normalised separately with
    :func:`apply_normalisation` match the whole image exactly. Memory: one
    temporary copy of the image at most (for the medians). At ``prediction`` the clip
    value is raised so that at most ``config.predict_point_target_share`` of the pixels
    are point targets (when that cap is set).
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
    share = config.predict_point_target_share if prediction else 0.0
    if share > 0 and intensity.size:
        # The (1 - share) quantile by partition: the k-th largest value, one temporary copy.
        k = int(np.floor(share * intensity.size))  # share < 0.5, so k < size
        flat = np.array(intensity, dtype=np.float32, copy=True).ravel()
        kth = float(np.partition(flat, flat.size - 1 - k)[flat.size - 1 - k])
        clip_value = max(clip_value, kth)  # "> clip" then leaves at most k pixels
    clip_value = min(clip_value, float(np.finfo(np.float32).max))  # compared in float32
    targets = intensity > np.float32(clip_value)
    fill = 0.0
    if targets.any():
        rest = np.divide(intensity[~targets], np.float32(scale), dtype=np.float32)
        fill = float(np.median(rest, overwrite_input=True)) if rest.size else 0.0
    return scale, clip_value, fill


def apply_normalisation(intensity: np.ndarray, scale: float, clip_value, fill):
    """``(normalised, valid)`` of an image or a tile, with constants from :func:`normalisation_constants`.

    ``clip_value`` and ``fill`` are numbers, or arrays of the tile's shape (the local
    point-target rule: :func:`local_level`).
    """
    clip_value = np.asarray(clip_value, dtype=np.float32)
    targets = intensity > clip_value
    normalised = np.divide(intensity, np.float32(scale), dtype=np.float32)
    normalised[targets] = fill[targets] if np.ndim(fill) else fill
    return normalised, ~targets


#: Median over geometric mean of single-look (exponential) speckle: ``ln 2 * exp(euler_gamma)``.
_MEDIAN_OVER_GEOMETRIC_MEAN = float(np.log(2.0) * np.exp(np.euler_gamma))


def local_level(intensity: np.ndarray, *, block: int = 8, window: int = 5) -> np.ndarray:
    """Smooth local level of an intensity image: the local median of its speckle, (H, W) float32.

    The geometric mean of ``intensity`` over ``block`` x ``block`` blocks, averaged (in log)
    over ``window`` x ``window`` blocks (40 x 40 pixels by default), interpolated bilinearly
    (in log) to every pixel and multiplied by ``ln 2 * exp(gamma) = 1.2345``, the median over
    the geometric mean of single-look speckle. The log mean is what makes it robust: a point
    target 40 dB above the tissue in a 40 x 40 window moves it by 0.6 %, where it would move
    an arithmetic mean by a factor of 7. It follows depth-dependent gain (time-gain
    compensation, attenuation, a bright near field) that a single image median does not.

    Parameters
    ----------
    intensity : ndarray, (H, W)
        Linear INTENSITY (>= 0, finite). Zeros count as 1e-6 of the image's positive median
        (masked screenshots), so that their log stays finite.
    block, window : int, optional
        Block side in pixels, and width of the moving average in blocks.

    Returns
    -------
    ndarray, (H, W) float32
        The level, in the input's units.
    """
    from scipy import ndimage

    height, width = intensity.shape
    positive = intensity[intensity > 0]
    floor = 1e-6 * (float(np.median(positive)) if positive.size else 1.0)
    row_starts = np.arange(0, height, block)
    col_starts = np.arange(0, width, block)
    sums = np.empty((row_starts.size, col_starts.size), np.float64)
    counts = np.outer(np.diff(np.append(row_starts, height)), np.diff(np.append(col_starts, width)))
    for i, r0 in enumerate(row_starts):  # one stripe of rows at a time: no whole-image temporary
        logs = np.log(np.maximum(intensity[r0:r0 + block], floor).astype(np.float64))
        sums[i] = np.add.reduceat(logs.sum(axis=0), col_starts)
    # The moving average weighs each block by its pixels: partial blocks at the edges count less.
    grid = ndimage.uniform_filter(sums, size=window, mode="nearest") / ndimage.uniform_filter(
        counts.astype(np.float64), size=window, mode="nearest")

    def weights(n_pixels, n_blocks):
        # Pixel centre (k + 0.5) lies at block coordinate (k + 0.5) / block - 0.5.
        u = np.clip((np.arange(n_pixels) + 0.5) / block - 0.5, 0.0, n_blocks - 1)
        low = np.floor(u).astype(int)
        return low, np.minimum(low + 1, n_blocks - 1), u - low

    r_lo, r_hi, r_w = weights(height, row_starts.size)
    c_lo, c_hi, c_w = weights(width, col_starts.size)
    level = np.empty((height, width), np.float32)
    for r0 in range(0, height, 1024):  # stripes again: the only whole-image array is the result
        part = slice(r0, r0 + 1024)
        rows = grid[r_lo[part]] * (1.0 - r_w[part])[:, None] + grid[r_hi[part]] * r_w[part][:, None]
        level[part] = np.exp(rows[:, c_lo] * (1.0 - c_w) + rows[:, c_hi] * c_w) * _MEDIAN_OVER_GEOMETRIC_MEAN
    return level


#: Planes of a training batch, on its last axis (see :func:`pack_batch`); ``target`` only
#: when supervised.
#: Planes of a packed training batch; ``looks`` only with ``S2VConfig.looks_range``, ``target``
#: only when supervised.
TRAINING_PLANES = ("noisy", "valid", "shift", "looks", "target")


def draw_shift_rows(config: S2VConfig, step: int) -> int:
    """Rows of the vertical blind-spot shift of training step ``step``.

    Drawn from ``shift_list``/``prob`` by a numpy generator keyed by
    ``(seed, step)`` (a stream of its own, apart from the patches'), so a
    resumed run draws the same shifts, and every backend the same ones.
    """
    u = np.random.default_rng([int(config.seed), int(step), 1]).random()
    index = min(int(np.sum(np.cumsum(config.prob) <= u)), len(config.shift_list) - 1)
    return shift_rows(config.shift_list[index])


def pack_batch(noisy, valid, rows, target=None, looks=None) -> np.ndarray:
    """One training batch as one float32 array (B, P, P, 3 to 5), planes :data:`TRAINING_PLANES`.

    Parameters
    ----------
    noisy, valid, target : arrays (B, P, P, 1)
        Normalised noisy intensity, loss mask (False on point targets and
        padding), and for supervised training the normalised clean intensity.
    rows : int or array (B,)
        Blind-spot shift of the vertical branches, in rows (see
        :func:`draw_shift_rows`); it travels as a constant plane.
    looks : array (B,), optional
        Number of looks of each patch's speckle (``S2VConfig.looks_range``): a constant
        plane after the shift plane, before the target.

    Notes
    -----
    One tensor rather than a tuple: ``fit`` hands it whole to
    :meth:`s2v.model.Speckle2Void.call` (which reads the noisy and shift planes) and to
    :meth:`s2v.model.Speckle2Void.compute_loss` (which reads the rest), on every
    backend; and Keras 3 reduces a whole first batch across workers with a
    call that accepts a single distributed tensor but not a tuple of them
    (MultiWorkerMirroredStrategy).
    """
    noisy = np.asarray(noisy, np.float32)
    rows = np.broadcast_to(np.asarray(rows, np.float32).reshape(-1, 1, 1, 1), noisy.shape)
    planes = [noisy, np.asarray(valid, np.float32), rows]
    if looks is not None:
        planes.append(np.broadcast_to(np.asarray(looks, np.float32).reshape(-1, 1, 1, 1), noisy.shape))
    if target is not None:
        planes.append(np.asarray(target, np.float32))
    return np.concatenate(planes, axis=-1)


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
    return pixel_unshuffle(image, stride)

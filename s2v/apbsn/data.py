"""AP-BSN's training crops and B-mode data, on top of the shared pieces.

* :class:`APBSNPatchSampler` is :class:`s2v.patches.PatchSampler` (crops drawn by a
  generator keyed by ``(seed, step)``, so a resumed run sees exactly the batches it would
  have seen) with what AP-BSN adds: each image divided by its own **mean** intensity (as
  :meth:`s2v.apbsn.APBSN.denoise` does), a valid-pixel mask per image, the paper's
  90-degree rotations (its blind spot is a centred, isotropic hole, unlike Speckle2Void's
  shifted one, so rotations keep it) and the PD of every crop with ``train_stride``
  (:func:`s2v.apbsn.pd.pd_down`).
* :func:`simulated_bmode_items` -- harness items of simulated ultrasound seen as 8-bit
  B-mode pictures, converted back with the one conversion :func:`s2v.domains.to_intensity`.

NumPy code; importing it loads TensorFlow only because :mod:`s2v.patches` imports
:mod:`s2v.model` today.
"""

from __future__ import annotations

import numpy as np

from s2v.config import S2VConfig
from s2v.patches import PatchSampler
from s2v.utils import check_intensity

from .config import APBSNConfig
from .pd import pd_down

__all__ = ["APBSNPatchSampler", "simulated_bmode_items"]

# No point-target clipping in AP-BSN: the sampler's clip level is the float32 maximum.
_NO_CLIP = float(np.finfo(np.float32).max)


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask)
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


class APBSNPatchSampler(PatchSampler):
    """Training crops for AP-BSN: :class:`s2v.patches.PatchSampler`, mean-normalised and masked.

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Noisy **intensity** images. Each is divided by its own mean intensity; the crops
        are **normalised intensity**.
    config : APBSNConfig
        Gives ``patch_size``, ``batch_size``, ``seed`` and ``augment``.
    masks : sequence of (bool ndarray (H, W) or None), optional
        Valid pixels (e.g. the grey imaging area of a B-mode screenshot, without text or
        colour Doppler). Crops are drawn inside the bounding box of the mask, and only
        valid pixels enter the loss (the ``valid`` plane of every batch).

    Notes
    -----
    ``batch(step)`` is the parent's crop draw (uniform positions, images weighted by their
    area), then the augmentations of ``config.augment`` ("hflip", "vflip", "rot"), drawn
    from a second generator keyed by ``(seed, step, 1)`` (the same step always gives the
    same batch), then the PD of each crop with ``train_stride`` and ``pd_pad``: the network
    trains on mosaics of ``s (P/s + 2 pad)`` pixels a side, whose frames are invalid.

    The previous AP-BSN sampler (``autre_papier``, before the move into ``s2v``) drew from
    one running generator (inexact resume) and only from crop positions with at least 75 %
    valid pixels; here any crop position inside the mask's bounding box can be drawn, with
    its invalid pixels out of the loss.
    """

    def __init__(self, images, config: APBSNConfig, *, masks=None):
        images = list(images)
        if not images:
            raise ValueError("no training images were given")
        masks = [None] * len(images) if masks is None else list(masks)
        if len(masks) != len(images):
            raise ValueError(f"got {len(images)} images but {len(masks)} masks")
        prepared, windows = [], []
        for index, (image, mask) in enumerate(zip(images, masks)):
            y = check_intensity(image, name=f"training image {index}")
            mean = float(y.mean(dtype=np.float64))
            if not mean > 0:
                raise ValueError(f"training image {index} is all zero")
            window = (slice(None), slice(None))
            if mask is not None:
                mask = np.asarray(mask, bool)
                if mask.shape != y.shape:
                    raise ValueError(f"mask {index} has shape {mask.shape}, image {y.shape}")
                if not mask.any():
                    raise ValueError(f"mask {index} has no valid pixel")
                window = _bounding_box(mask)
                mask = mask[window]
            prepared.append((y / np.float32(mean))[window])
            windows.append(mask)
        # Normalisation "fixed" with norm 1 and no clipping: the images are already divided by
        # their means, and AP-BSN has no point-target treatment.
        self.apbsn_config = config
        super().__init__(prepared, S2VConfig(patch_size=config.patch_size, batch_size=config.batch_size,
                                             seed=config.seed, normalization="fixed", norm=1.0,
                                             clip=_NO_CLIP),
                         augment=False)
        for item, mask in zip(self.items, windows):
            if mask is not None:  # the parent pads images smaller than a patch: pad the mask too
                item.valid &= np.pad(mask, [(0, item.valid.shape[0] - mask.shape[0]),
                                            (0, item.valid.shape[1] - mask.shape[1])])

    def batch(self, step: int):
        """``(normalised intensity mosaics, valid)`` of training step ``step``, float32 (B, M, M, 1).

        ``M = s (P / s + 2 pad)`` for ``train_stride`` ``s``, ``patch_size`` ``P`` and ``pd_pad``.
        """
        crops, valid = super().batch(step)
        config = self.apbsn_config
        rng = np.random.default_rng([config.seed, int(step), 1])
        stride, pad = config.train_stride, config.pd_pad
        side = stride * (config.patch_size // stride + 2 * pad)
        mosaics = np.empty((crops.shape[0], side, side, 1), np.float32)
        inside = np.empty_like(mosaics)
        for k in range(crops.shape[0]):
            crop, mask = crops[k, :, :, 0], valid[k, :, :, 0]
            if "hflip" in config.augment and rng.random() < 0.5:
                crop, mask = crop[:, ::-1], mask[:, ::-1]
            if "vflip" in config.augment and rng.random() < 0.5:
                crop, mask = crop[::-1], mask[::-1]
            if "rot" in config.augment:
                turns = int(rng.integers(4))
                crop, mask = np.rot90(crop, turns), np.rot90(mask, turns)
            mosaic, framed = pd_down(crop, stride, pad)
            mosaics[k, :, :, 0] = mosaic
            inside[k, :, :, 0] = framed & (pd_down(mask, stride, pad, fill=0.0)[0] > 0)
        return mosaics, inside


def simulated_bmode_items(count: int, *, seed: int = 0, shape=(257, 193)) -> list[dict]:
    """Simulated ultrasound seen as 8-bit 60 dB B-mode, back in intensity, with ground truth.

    Each image is :func:`s2v.datasets.simulated_ultrasound_set` (a new phantom per seed
    ``seed .. seed + count - 1``, each through its own probe: 3.5-7.5 MHz, 50-80 %
    bandwidth, 0.4-0.9 mm beam, so the speckle grain varies); its 8-bit ``bmode`` is
    converted with :func:`s2v.domains.to_intensity` (domain ``"bmode"``, 60 dB, 0 dB = 1).
    The ground truth is the PSF-blurred echogenicity on that scale (``blurred_echogenicity /
    bmode_reference``): the 8-bit quantisation and the clipping at -60 dB are part of the
    noise, as on a scanner picture. Use disjoint seed ranges for training and testing.

    Returns
    -------
    list of dict
        Harness items (:func:`s2v.compare.compare`): ``name``, ``intensity`` (float32 (H, W)
        linear **intensity**), ``ground_truth`` (same), ``regions`` (the phantom's
        homogeneous band and one anechoic-cyst / background pair per cyst), ``looks`` 1.
    """
    from s2v.datasets import simulated_ultrasound_set
    from s2v.domains import to_intensity

    items = []
    for k, sim in enumerate(simulated_ultrasound_set(int(count), seed=seed, shape=tuple(shape))):
        regions = sim["regions"]
        dynamic_range = sim["params"]["dynamic_range"]
        items.append({
            "name": f"sim_bmode_{seed + k}",
            "intensity": to_intensity(sim["bmode"], "bmode", dynamic_range=dynamic_range).astype(np.float32),
            "ground_truth": (sim["blurred_echogenicity"]
                             / sim["params"]["bmode_reference"]).astype(np.float32),
            "regions": {"homogeneous": [regions["homogeneous"]],
                        "pairs": [{"target": c["inside"], "background": c["background"]}
                                  for c in regions["cysts"] if c["kind"] == "anechoic"]},
            "looks": 1.0,
        })
    return items

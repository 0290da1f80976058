"""Clean natural-image sets of the synthetic speckle protocol (SAR-CNN protocol).

Train on BSD68, test on Set12 images 01-10 (``../shared/data/clean``). When
that folder is absent, images of the scikit-image gallery stand in, so code
runs everywhere (the numbers are then not comparable with the literature).
All images are returned as uint8 (H, W) grey levels.
"""

from __future__ import annotations

import numpy as np

from ._shared import shared_data_dir

__all__ = ["clean_training_images", "clean_test_images", "simulated_ultrasound_set",
           "real_ultrasound_intensities"]

_GALLERY_TRAIN = ("camera", "coins", "moon", "page", "text", "brick", "grass", "gravel")
_GALLERY_TEST = ("astronaut", "coffee", "chelsea", "rocket", "horse", "immunohistochemistry")


def _read_folder(folder, names=None) -> list[np.ndarray]:
    import imageio.v3 as iio

    files = sorted(folder.glob("*.png"))
    if names is not None:
        files = [f for f in files if f.stem in names]
    return [np.asarray(iio.imread(f)) for f in files]


def _gallery(names) -> list[np.ndarray]:
    from skimage import color, data, util

    images = []
    for name in names:
        image = getattr(data, name)()
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3])
        images.append(util.img_as_ubyte(image))
    return images


def clean_training_images() -> list[np.ndarray]:
    """BSD68 (68 images, 481x321 or 321x481) or the scikit-image stand-ins."""
    root = shared_data_dir()
    if root is not None and (root / "clean" / "BSD68").is_dir():
        return _read_folder(root / "clean" / "BSD68")
    return _gallery(_GALLERY_TRAIN)


def clean_test_images() -> dict[str, np.ndarray]:
    """Set12 images 01-10 (the protocol's test set) or scikit-image stand-ins, by name."""
    root = shared_data_dir()
    if root is not None and (root / "clean" / "Set12").is_dir():
        names = {f"{i:02d}" for i in range(1, 11)}
        folder = root / "clean" / "Set12"
        return {f.stem: img for f, img in zip(
            sorted(p for p in folder.glob("*.png") if p.stem in names),
            _read_folder(folder, names))}
    return dict(zip(_GALLERY_TEST, _gallery(_GALLERY_TEST)))


def simulated_ultrasound_set(count: int, *, seed: int = 0, shape=(257, 193)) -> list[dict]:
    """Simulated ultrasound images (complex IQ, intensity, ground truth) with varied systems.

    Each image is a new phantom (:func:`s2v.simulate.ultrasound_phantom`) seen
    through a different point-spread function: centre frequency 3.5-7.5 MHz,
    fractional bandwidth 0.5-0.8, lateral beam width 0.4-0.9 mm, so that a
    model trained on them is not tuned to one probe. Seeds ``seed .. seed+count-1``
    (use disjoint ranges for training and testing).

    Returns
    -------
    list of dict
        The outputs of :func:`s2v.simulate.simulate_ultrasound` (``iq``,
        ``intensity``, ``blurred_echogenicity`` = ground truth of the
        despeckled intensity, ``bmode``, ``regions``, ...).
    """
    from .simulate import simulate_ultrasound, ultrasound_phantom

    out = []
    for k in range(seed, seed + count):
        rng = np.random.default_rng([k, 7919])
        echogenicity, regions = ultrasound_phantom(shape, seed=k, return_regions=True)
        simulation = simulate_ultrasound(
            echogenicity, shape=shape, seed=k,
            center_frequency=rng.uniform(3.5e6, 7.5e6),
            fractional_bandwidth=rng.uniform(0.5, 0.8),
            lateral_beam_width=rng.uniform(0.4e-3, 0.9e-3))
        simulation["regions"] = regions
        out.append(simulation)
    return out


def real_ultrasound_intensities() -> dict[str, np.ndarray]:
    """Real ultrasound speckle as linear intensity, from ``../shared/data`` (empty when absent).

    The MUST rotating-disk IQ frames (|IQ|^2) and the PICMUS contrast-speckle
    envelopes (envelope^2, 1/3/11/75 compounded plane waves).
    """
    root = shared_data_dir()
    if root is None:
        return {}
    folder = root / "ultrasound"
    images = {}
    iq_file = folder / "must_pwi_disk_iq_das_4frames.npy"
    if iq_file.is_file():
        iq = np.load(iq_file, allow_pickle=False)
        for frame in range(iq.shape[-1]):
            images[f"must_disk_iq_frame{frame}"] = (np.abs(iq[..., frame]) ** 2).astype(np.float32)
    picmus_file = folder / "picmus_exp_contrast_speckle_DAS_envelope.npz"
    if picmus_file.is_file():
        with np.load(picmus_file, allow_pickle=False) as data:
            for envelope, waves in zip(data["envelope"], data["n_plane_waves"]):
                images[f"picmus_{int(waves)}pw"] = (envelope.astype(np.float32) ** 2)
    return images

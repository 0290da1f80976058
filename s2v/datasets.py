"""Clean natural-image sets of the synthetic speckle protocol (SAR-CNN protocol).

Train on BSD68, test on Set12 images 01-10 (``../shared/data/clean``). When
that folder is absent, images of the scikit-image gallery stand in, so code
runs everywhere (the numbers are then not comparable with the literature).
All images are returned as uint8 (H, W) grey levels.
"""

from __future__ import annotations

import numpy as np

from ._shared import shared_data_dir

__all__ = ["clean_training_images", "clean_test_images"]

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

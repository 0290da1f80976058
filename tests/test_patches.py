"""s2v.patches: the patch sampler is NumPy-only at import (TensorFlow only inside make_dataset)."""

import subprocess
import sys


def test_import_loads_neither_tensorflow_nor_keras():
    code = ("import s2v.patches, sys; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _bright_band_image(shape=(203, 157), seed=3):
    """Single-look speckle on a unit level, +30 dB on the top third, one point target in each part."""
    import numpy as np

    rng = np.random.default_rng(seed)
    level = np.ones(shape, np.float32)
    level[: shape[0] // 3] = 1000.0
    image = (level * rng.exponential(1.0, shape)).astype(np.float32)
    image[shape[0] // 10, shape[1] // 4] = 1e6 * 1000.0  # far above the bright band's local level
    image[3 * shape[0] // 4, shape[1] // 2] = 1e6  # far above the unit level
    return image


def test_local_training_rule_trains_on_bright_tissue_and_keeps_point_targets_out():
    """point_targets='local': the +30 dB band (above clip x the image median) is training data,
    the two isolated reflectors are not, and replaced pixels hold the local level."""
    import numpy as np

    from s2v.batches import local_level
    from s2v.config import S2VConfig
    from s2v.patches import PatchSampler

    config = S2VConfig.from_preset("cpu", normalization="median", clip=50.0, norm=1.0, patch_size=32)
    image = _bright_band_image()
    global_rule = PatchSampler([image], config).items[0]
    local_rule = PatchSampler([image], config.replace(point_targets="local")).items[0]
    band = np.zeros(image.shape, bool)
    band[: image.shape[0] // 3] = True
    assert (~global_rule.valid[band]).mean() > 0.9  # the global rule hides the band from the loss
    inside = band.copy()
    inside[image.shape[0] // 3 - 24:] = False  # 24 px from the step: the 40-px level is the band's
    assert (~local_rule.valid[inside]).sum() == 1  # the local rule trains on it, but for its reflector
    assert (~local_rule.valid[band]).mean() < 0.05  # near the step the level is smoothed down
    assert not local_rule.valid[20, 39] and not local_rule.valid[152, 78]
    scale = float(np.median(image))
    level = local_level(image)
    replaced = ~local_rule.valid
    np.testing.assert_allclose(local_rule.image[replaced], level[replaced] / np.float32(scale), rtol=1e-6)
    np.testing.assert_array_equal(local_rule.image[~replaced], (image / np.float32(scale))[~replaced])


def test_local_training_rule_under_pixel_shuffle_uses_the_image_level():
    """With a stride, the level is the image's, mosaicked like the image (as at prediction)."""
    import numpy as np

    from s2v.batches import local_level, to_mosaic
    from s2v.config import S2VConfig
    from s2v.patches import PatchSampler

    config = S2VConfig.from_preset("cpu", normalization="median", clip=50.0, norm=1.0, patch_size=32,
                                   pixel_shuffle=3, point_targets="local")
    image = _bright_band_image((101, 79), seed=5)
    item = PatchSampler([image], config).items[0]
    mosaic, _ = to_mosaic(image, 3)
    level = to_mosaic(local_level(image), 3)[0]
    scale = float(np.median(mosaic))
    targets = mosaic > np.float32(50.0) * level
    assert 2 <= targets.sum() < 0.02 * targets.size  # the reflectors, and grains at the band's edge
    expected = np.where(targets, level / np.float32(scale), mosaic / np.float32(scale))
    np.testing.assert_allclose(item.image[: mosaic.shape[0], : mosaic.shape[1]], expected, rtol=1e-6)


def test_local_training_rule_errors():
    import numpy as np
    import pytest

    from s2v.config import ConfigError, S2VConfig
    from s2v.patches import SyntheticSpecklePatchSampler

    with pytest.raises(ConfigError, match="point_targets='local'"):
        S2VConfig.from_preset("paper", point_targets="local")  # the paper's normalisation is fixed
    with pytest.raises(ConfigError, match="point_targets"):
        S2VConfig.from_preset("cpu", normalization="median", point_targets="nearby")
    config = S2VConfig.from_preset("cpu", normalization="median", clip=50.0, norm=1.0, point_targets="local")
    with pytest.raises(ValueError, match="synthetic speckle"):
        SyntheticSpecklePatchSampler([np.ones((70, 70), np.float32)], config)

"""s2v.fine_tune: self-supervised adaptation of a model to a folder of the user's noisy images."""

import numpy as np
import pytest

import s2v
from s2v.config import S2VConfig
from s2v.domains import intensity_to_bmode
from s2v.model import unpack_batch
from s2v.patches import PatchSampler
from s2v.simulate import simulate_ultrasound, ultrasound_phantom

TINY = S2VConfig.from_preset("cpu", filters=8, depth=4, patch_size=32, batch_size=4, pixel_shuffle=2)


def _scan_folder(folder, count=3, shape=(97, 83)):
    """8-bit B-mode PNGs of simulated phantoms (one probe), the user's case."""
    import imageio.v3 as iio

    folder.mkdir()
    for seed in range(count):
        sim = simulate_ultrasound(ultrasound_phantom(shape, seed=300 + seed), shape=shape, seed=300 + seed)
        iio.imwrite(folder / f"scan{seed}.png", intensity_to_bmode(sim["intensity"], scale="uint8"))
    return folder


def _nll(model, images, config):
    """The self-supervised loss of the model on fixed batches of the images."""
    sampler = PatchSampler(images, config, augment=False)
    losses = []
    for step in range(4):
        batch = sampler.training_batch(step)
        noisy, valid, _, _ = unpack_batch(batch)
        losses.append(float(model.loss_parts(noisy, valid, model(batch, training=False))["nll"]))
    return np.mean(losses)


def test_fine_tune_adapts_to_a_folder_and_resumes(tmp_path):
    folder = _scan_folder(tmp_path / "scans")
    base = s2v.Speckle2Void(TINY)
    from s2v.finetune import _folder_intensities

    images = _folder_intensities(folder, "bmode", "*")
    assert len(images) == 3 and all(image.dtype == np.float32 and image.min() >= 0 for image in images)
    before = _nll(base, images, TINY)
    tuned = s2v.fine_tune(folder, base, out_dir=tmp_path / "tuned", steps=60, domain="bmode",
                          learning_rate=3e-3, verbose=0)
    assert (tmp_path / "tuned" / "model.keras").is_file()
    assert tuned.s2v_config.pixel_shuffle == 2 and tuned.s2v_config.lr_schedule == "cosine"
    assert _nll(tuned, images, TINY) < before - 0.05  # the blind-spot loss on the user's own images
    assert any(not np.array_equal(a, b) for a, b in zip(tuned.get_weights(), base.get_weights()))
    # The same folder, more steps: continues from step 60 rather than from the base weights.
    longer = s2v.fine_tune(folder, base, out_dir=tmp_path / "tuned", steps=70, domain="bmode",
                           learning_rate=3e-3, verbose=0)
    assert (tmp_path / "tuned" / "checkpoints" / "ckpt-00000070.keras").is_file()
    assert any(not np.array_equal(a, b) for a, b in zip(longer.get_weights(), tuned.get_weights()))
    despeckled = s2v.despeckle(images[0], longer, progress=False)
    assert despeckled.shape == images[0].shape and np.all(np.isfinite(despeckled))


def test_fine_tune_refuses_bad_input(tmp_path):
    base = s2v.Speckle2Void(TINY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no file matches"):
        s2v.fine_tune(tmp_path / "empty", base, out_dir=tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such folder or file"):
        s2v.fine_tune(tmp_path / "missing", base, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="steps"):
        s2v.fine_tune([np.ones((40, 40), np.float32)], base, out_dir=tmp_path / "out", steps=0)
    with pytest.raises(ValueError, match="image 0"):
        s2v.fine_tune([-np.ones((40, 40), np.float32)], base, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="Speckle2Void"):
        s2v.fine_tune([np.ones((40, 40), np.float32)], object(), out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written for a refused call

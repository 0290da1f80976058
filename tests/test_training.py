"""Training: patches deterministic per step, exact resume, and a short training that despeckles."""

import numpy as np
import pytest

import s2v
from s2v.config import S2VConfig
from s2v.metrics import psnr
from s2v.patches import PatchSampler
from s2v.simulate import gamma_speckle
from s2v.training import latest_checkpoint

TINY = dict(filters=8, depth=3, batch_size=4, patch_size=16, steps_per_epoch=3,
            checkpoint_every=2, total_steps=5)


def _scene(shape=(61, 67)):
    """Piecewise-constant clean intensity: two levels and a bright square."""
    clean = np.full(shape, 1.0, np.float32)
    clean[:, shape[1] // 2:] = 4.0
    clean[15:35, 10:30] = 9.0
    return clean


def test_patch_batches_are_deterministic_and_masked(rng):
    image = rng.gamma(1.0, 1.0, (40, 35)).astype(np.float32)
    image[5, 5] = 1e6  # point target
    config = S2VConfig.from_preset("cpu", **TINY, normalization="median", clip=50.0)
    sampler = PatchSampler([image, image[:10, :12]], config)  # the second is smaller than a patch
    a, b = sampler.batch(7), sampler.batch(7)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(sampler.batch(8)[0], a[0])
    assert a[0].shape == (4, 16, 16, 1) and a[1].shape == (4, 16, 16, 1)
    assert a[0].max() < 1e3, "point targets are replaced before the network"


def test_training_resumes_exactly_after_interruption(tmp_path, rng):
    noisy = gamma_speckle(_scene(), 1.0, seed=1)
    config = S2VConfig.from_preset("cpu", **TINY)
    straight = s2v.train([noisy], config, out_dir=tmp_path / "a", verbose=0, tensorboard=False)
    # Same run stopped at step 2 (as if killed after the first checkpoint), then resumed.
    s2v.train([noisy], config, out_dir=tmp_path / "b", total_steps=2, verbose=0, tensorboard=False)
    assert latest_checkpoint(tmp_path / "b" / "checkpoints").name == "ckpt-00000002.keras"
    resumed = s2v.train([noisy], config, out_dir=tmp_path / "b", verbose=0, tensorboard=False)
    assert int(resumed.optimizer.iterations.numpy()) == 5
    for x, y in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert (tmp_path / "b" / "model.keras").is_file() and (tmp_path / "b" / "config.json").is_file()


def test_resume_refuses_a_different_configuration(tmp_path):
    noisy = gamma_speckle(_scene(), 1.0, seed=1)
    s2v.train([noisy], S2VConfig.from_preset("cpu", **TINY), out_dir=tmp_path, total_steps=2,
              verbose=0, tensorboard=False)
    with pytest.raises(ValueError, match="differs"):
        s2v.train([noisy], S2VConfig.from_preset("cpu", **{**TINY, "filters": 4}), out_dir=tmp_path,
                  verbose=0, tensorboard=False)


def test_short_training_improves_psnr_by_3_db(tmp_path):
    """Self-supervised only: the network never sees the clean scene."""
    clean = _scene((97, 101))
    images = [gamma_speckle(clean, 1.0, seed=s) for s in range(3)]
    config = S2VConfig.from_preset("cpu", filters=16, depth=4, batch_size=8, patch_size=32,
                                   learning_rate=2e-3, steps_per_epoch=50, total_steps=150,
                                   checkpoint_every=150)
    model = s2v.train(images, config, out_dir=tmp_path, verbose=0, tensorboard=True)
    noisy = gamma_speckle(clean, 1.0, seed=99)
    estimate = model.predict_maps(noisy, progress=False)["posterior_mean"]
    peak = float(clean.max())
    gain = psnr(clean, estimate, data_range=peak) - psnr(clean, noisy, data_range=peak)
    assert gain >= 3.0, f"PSNR gain {gain:.2f} dB"
    assert any((tmp_path / "logs").rglob("events.out.tfevents.*")), "TensorBoard logs written"

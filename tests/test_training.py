"""Training: patches deterministic per step, exact resume, divergence, locks, a short training that despeckles."""

import keras
import numpy as np
import pytest

import s2v
from s2v.config import S2VConfig
from s2v.metrics import psnr
from s2v.patches import PatchSampler
from s2v.simulate import gamma_speckle
from s2v.config import ConfigError
from s2v.training import TrainingDivergedError, latest_checkpoint
from s2v.utils import FolderLock, FolderLockedError

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
    # Same run stopped at step 2 (as if killed after the first checkpoint), then resumed; the
    # lock file a killed run leaves behind is stale (its flock died with it) and taken over.
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".s2v.lock").write_text("999999999\n")
    s2v.train([noisy], config, out_dir=tmp_path / "b", total_steps=2, verbose=0, tensorboard=False)
    assert not (tmp_path / "b" / ".s2v.lock").exists(), "the lock is removed at the end"
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
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="differs.*filters: 8 in the checkpoint, 4 requested"):
        s2v.train([noisy], S2VConfig.from_preset("cpu", **{**TINY, "filters": 4}), out_dir=tmp_path,
                  verbose=0, tensorboard=False)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, "a refused resume writes nothing (config.json included)"
    # The error's advice works: resuming with the folder's own config.json continues the run.
    resumed = s2v.train([noisy], S2VConfig.load(tmp_path / "config.json"), out_dir=tmp_path, total_steps=3,
                        verbose=0, tensorboard=False)
    assert int(resumed.optimizer.iterations.numpy()) == 3


def test_resume_accepts_new_prediction_settings(tmp_path):
    """The ``predict_*`` fields act only at prediction time: a run resumes under new ones."""
    noisy = gamma_speckle(_scene(), 1.0, seed=1)
    config = S2VConfig.from_preset("cpu", **TINY)
    straight = s2v.train([noisy], config, out_dir=tmp_path / "a", total_steps=3, verbose=0,
                         tensorboard=False)
    s2v.train([noisy], config, out_dir=tmp_path / "b", total_steps=2, verbose=0, tensorboard=False)
    shipped = config.replace(predict_mosaic_notch=0.25, predict_ratio_calibration=True,
                             predict_stride_threshold=0.5)
    resumed = s2v.train([noisy], shipped, out_dir=tmp_path / "b", total_steps=3, verbose=0,
                        tensorboard=False)
    assert int(resumed.optimizer.iterations.numpy()) == 3
    for x, y in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert S2VConfig.load(tmp_path / "b" / "config.json").predict_mosaic_notch == 0.25


class _PoisonAfter(keras.callbacks.Callback):
    """Make the weights NaN at the end of a given step (as a diverging update would)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            self.model.set_weights([np.full_like(w, np.nan) for w in self.model.get_weights()])


def test_a_diverged_training_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    # Which guard fires depends on the CPU: where oneDNN's ReLU maps NaN to 0 the loss of step 4
    # stays finite and the weight check after fit() reports the divergence, at the same step.
    noisy = gamma_speckle(_scene(), 1.0, seed=1)
    config = S2VConfig.from_preset("cpu", **TINY)  # checkpoints at steps 2 and 4, total 5
    with pytest.raises(TrainingDivergedError, match=r"the (loss became nan at|weights became NaN/Inf by) step 4.*model.keras was not "
                       r"written.*the last good checkpoint is .*ckpt-00000002.keras") as info:
        s2v.train([noisy], config, out_dir=tmp_path, verbose=0, tensorboard=False, callbacks=[_PoisonAfter(3)])
    assert info.value.step == 4
    assert not (tmp_path / "model.keras").exists()
    kept = latest_checkpoint(tmp_path / "checkpoints")
    assert kept.name == "ckpt-00000002.keras" and sorted(p.name for p in kept.parent.glob("*.keras")) == [kept.name]
    model = keras.saving.load_model(kept, safe_mode=True)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert not (tmp_path / ".s2v.lock").exists()


def test_a_locked_folder_is_refused_before_anything_is_written(tmp_path):
    noisy = gamma_speckle(_scene(), 1.0, seed=1)
    with FolderLock(tmp_path / "run"):
        with pytest.raises(FolderLockedError, match=r"another s2v train process \(pid \d+\)"):
            s2v.train([noisy], S2VConfig.from_preset("cpu", **TINY), out_dir=tmp_path / "run", verbose=0)
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".s2v.lock"]
    assert not any((tmp_path / "run").iterdir()), "the lock is removed with its holder's release"


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


def test_a_fresh_run_never_deletes_its_own_checkpoints_for_an_older_runs(tmp_path):
    """resume=False into a folder of a longer earlier run: the new checkpoints are kept."""
    from s2v.model import Speckle2Void
    from s2v.training import CheckpointEvery

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for step in (1000, 1500, 2000):  # an earlier run's (contents do not matter here)
        (folder / f"ckpt-{step:08d}.keras").write_bytes(b"earlier run")
    model = Speckle2Void(S2VConfig.from_preset("cpu", **{**TINY, "filters": 4, "depth": 2}))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    checkpoint = CheckpointEvery(folder, every=2, last_step=4)
    checkpoint.set_model(model)
    path = checkpoint.save_now()
    assert path.is_file() and latest_checkpoint(folder) == path
    assert len(list(folder.glob("ckpt-*.keras"))) == 4, "nothing of either run deleted"


def test_cosine_schedule_decays_to_one_percent_and_constant_stays():
    """lr_schedule='cosine' starts at learning_rate and ends at 1 % of it after total_steps."""
    from s2v.training import make_optimizer

    config = S2VConfig.from_preset("cpu", total_steps=100, lr_schedule="cosine")
    rate = make_optimizer(config).learning_rate
    schedule = make_optimizer(config)._learning_rate
    assert float(schedule(0)) == pytest.approx(3e-4)
    assert float(schedule(50)) == pytest.approx(3e-4 * (0.01 + 0.99 * 0.5), rel=1e-5)
    assert float(schedule(100)) == pytest.approx(3e-6, rel=1e-5)
    assert float(schedule(1000)) == pytest.approx(3e-6, rel=1e-5)
    assert float(rate) == pytest.approx(3e-4)
    constant = make_optimizer(S2VConfig.from_preset("cpu"))
    assert float(constant.learning_rate) == pytest.approx(3e-4)


def test_unknown_lr_schedule_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'cosine'"):
        S2VConfig.from_preset("cpu", lr_schedule="cosin")


@pytest.mark.parametrize("loss", ["mse_intensity", "mse_log", "mse_amplitude"])
def test_supervised_loss_is_the_mean_squared_error_of_the_chosen_domain(loss, rng):
    """supervised_loss: squared error of the posterior mean on intensity, its log or its square root (valid pixels).

    Reference: the posterior mean written out in numpy (s2v.bayes' closed form,
    (beta + L y) / (alpha + L - 1) for the inverse-gamma prior), then the mean over valid pixels.
    """
    from s2v import bayes
    from s2v.config import LOG_LOSS_FLOOR

    config = S2VConfig.from_preset("cpu", **TINY, supervised_loss=loss)
    model = s2v.Speckle2Void(config)
    shape = (2, 7, 9, 1)
    y = rng.gamma(1.0, 1.0, shape).astype(np.float32)
    target = rng.gamma(4.0, 0.25, shape).astype(np.float32)
    alpha = (2.0 + rng.random(shape)).astype(np.float32)
    beta = rng.random(shape).astype(np.float32) + 0.1
    valid = (rng.random(shape) > 0.2).astype(np.float32)
    parts = model.loss_parts(y, valid, np.concatenate([alpha, beta], axis=-1), target)
    estimate = np.asarray(bayes.posterior_mean(y, alpha, beta, 1.0))
    np.testing.assert_allclose(estimate, (beta + y) / alpha, rtol=1e-5)
    if loss == "mse_log":
        error = np.log(estimate + LOG_LOSS_FLOOR) - np.log(target + LOG_LOSS_FLOOR)
    elif loss == "mse_amplitude":
        error = np.sqrt(estimate + LOG_LOSS_FLOOR) - np.sqrt(target + LOG_LOSS_FLOOR)
    else:
        error = estimate - target
    expected = np.sum(error**2 * valid) / np.sum(valid)
    assert float(parts["loss"]) == pytest.approx(expected, rel=1e-5)
    other = "mse_log" if loss == "mse_intensity" else "mse_intensity"
    assert float(s2v.Speckle2Void(config.replace(supervised_loss=other)).loss_parts(
        y, valid, np.concatenate([alpha, beta], axis=-1), target)["loss"]) != pytest.approx(expected, rel=1e-3)


def test_unknown_supervised_loss_is_refused():
    with pytest.raises(ConfigError, match="supervised_loss must be one of"):
        S2VConfig.from_preset("cpu", supervised_loss="l1")


def test_every_steps_calls_at_multiples_at_the_last_step_and_at_start(tmp_path):
    """EverySteps (the held-out curves of the training scripts) follows the optimizer's step."""
    from s2v.training import EverySteps

    noisy = gamma_speckle(_scene(), 1.0, seed=1)
    seen = []
    callback = EverySteps(2, lambda model, step, logs: seen.append((step, logs is None)), last_step=5,
                          at_start=True)
    s2v.train([noisy], S2VConfig.from_preset("cpu", **TINY), out_dir=tmp_path, verbose=0, tensorboard=False,
              callbacks=[callback])
    assert seen == [(0, True), (2, False), (4, False), (5, False)]


def _two_level_scene(shape=(61, 67)):
    clean = np.full(shape, 2.0, np.float32)
    clean[:, shape[1] // 2:] = 8.0
    return clean


@pytest.mark.parametrize("pixel_shuffle", [1, 3])
def test_fresh_speckle_batches_have_the_configured_looks_and_change_every_step(pixel_shuffle):
    from s2v.patches import SyntheticSpecklePatchSampler

    config = S2VConfig.from_preset("cpu", **{**TINY, "patch_size": 24, "batch_size": 64}, looks=4.0,
                                   pixel_shuffle=pixel_shuffle)
    sampler = SyntheticSpecklePatchSampler([_two_level_scene(), _two_level_scene((31, 29))], config,
                                           supervised=True)
    noisy, valid, clean = sampler.batch(5)
    np.testing.assert_array_equal(noisy, sampler.batch(5)[0])  # deterministic per step (exact resume)
    assert not np.array_equal(noisy, sampler.batch(6)[0]), "a new realisation at every step"
    ratio = noisy[valid > 0] / clean[valid > 0]
    # Gamma speckle of 4 looks: mean 1, variance 1/4 (s2v.simulate.gamma_speckle's law).
    assert abs(ratio.mean() - 1.0) < 0.02 and abs(ratio.var() - 0.25) < 0.02
    # The clean target is the same scene at every step, each image scaled by its own median:
    # two levels 1:4 per image.
    levels = np.unique(clean[valid > 0])
    assert len(levels) in (2, 4)
    np.testing.assert_allclose(levels[len(levels) // 2:] / levels[:len(levels) // 2], 4.0, rtol=1e-5)
    self_supervised = SyntheticSpecklePatchSampler([_two_level_scene()], config)
    assert len(self_supervised.batch(5)) == 2 and self_supervised.training_batch(5).shape[-1] == 3


def test_fresh_speckle_point_targets_are_excluded_from_the_loss():
    from s2v.patches import SyntheticSpecklePatchSampler

    config = S2VConfig.from_preset("cpu", **{**TINY, "patch_size": 24, "batch_size": 32}, clip=3.0)
    sampler = SyntheticSpecklePatchSampler([_two_level_scene()], config)
    noisy, valid = sampler.batch(0)
    clip = sampler.constants[0][config.looks][0]
    assert (valid == 0).any(), "single-look speckle exceeds 3x the median somewhere"
    assert noisy.max() <= clip, "pixels above the clip are replaced before the network"


def test_a_range_of_looks_draws_each_patch_s_looks_and_packs_them():
    """looks_range: per patch a number of looks from the range, its speckle of that law, the looks
    plane in the packed batch, and the loss computed with each patch's own looks."""
    from s2v.model import Speckle2Void, batch_looks, unpack_batch
    from s2v.patches import SyntheticSpecklePatchSampler

    config = S2VConfig.from_preset("cpu", **{**TINY, "patch_size": 24, "batch_size": 48},
                                   looks_range=(1.0, 2.0, 8.0))
    sampler = SyntheticSpecklePatchSampler([_two_level_scene(), _two_level_scene((31, 29))], config,
                                           supervised=True)
    looks = sampler.patch_looks(3)
    assert set(looks.tolist()) == {1.0, 2.0, 8.0}
    np.testing.assert_array_equal(looks, sampler.patch_looks(3))
    noisy, valid, clean = sampler.batch(3)
    for value in (1.0, 2.0, 8.0):
        picked = looks == value
        ratio = noisy[picked][valid[picked] > 0] / clean[picked][valid[picked] > 0]
        # Gamma(L, 1/L) speckle: variance 1/L (within 10 % at these sample sizes); L=1 is
        # clipped at point targets (50 x median), which lowers the variance a little.
        assert abs(ratio.var() * value - 1.0) < 0.15, (value, ratio.var())
    packed = sampler.training_batch(3)
    assert packed.shape[-1] == 5
    np.testing.assert_array_equal(batch_looks(packed)[:, 0, 0, 0], looks)
    _, _, _, target = unpack_batch(packed, looks_plane=True)
    np.testing.assert_array_equal(np.asarray(target)[..., 0], clean[..., 0])

    self_supervised = SyntheticSpecklePatchSampler([_two_level_scene()], config)
    batch = self_supervised.training_batch(4)
    model = Speckle2Void(config)
    y_pred = model(batch, training=False)
    noisy4, valid4, _, _ = unpack_batch(batch, looks_plane=True)
    per_patch = model.loss_parts(noisy4, valid4, y_pred, looks=batch_looks(batch))["nll"]
    loss = model.compute_loss(batch, y_pred=y_pred)
    np.testing.assert_allclose(float(loss), float(per_patch) + config.k_penalty_tv * float(
        model.loss_parts(noisy4, valid4, y_pred, looks=batch_looks(batch))["tv"]), rtol=1e-5)
    single = model.loss_parts(noisy4, valid4, y_pred)["nll"]  # every patch at config.looks = 1
    assert abs(float(single) - float(per_patch)) > 1e-3
    with pytest.raises(ValueError, match="train_synthetic"):
        PatchSampler([np.ones((40, 40), np.float32)], config)


def test_a_model_trained_on_a_range_of_looks_measures_them(rng):
    from s2v.model import Speckle2Void

    ranged = Speckle2Void(S2VConfig.from_preset("cpu", **TINY, looks_range=(1.0, 2.0, 4.0, 8.0)))
    scene = np.kron(rng.uniform(1, 5, (6, 6)), np.ones((30, 30)))
    assert abs(ranged.default_looks(gamma_speckle(scene, 4.0, seed=1)) - 4.0) < 0.5
    assert ranged.default_looks(gamma_speckle(scene, 30.0, seed=1)) == 8.0  # the trained range's end
    assert Speckle2Void(S2VConfig.from_preset("cpu", **TINY)).default_looks(scene) == 1.0


def test_train_synthetic_resumes_exactly_and_learns_self_supervised(tmp_path):
    from s2v.training import train_synthetic

    clean = _scene((97, 101))
    config = S2VConfig.from_preset("cpu", filters=16, depth=4, batch_size=8, patch_size=32,
                                   learning_rate=2e-3, steps_per_epoch=50, total_steps=150,
                                   checkpoint_every=50)
    straight = train_synthetic([clean], config, out_dir=tmp_path / "a", verbose=0, tensorboard=False)
    train_synthetic([clean], config, out_dir=tmp_path / "b", total_steps=50, verbose=0, tensorboard=False)
    resumed = train_synthetic([clean], config, out_dir=tmp_path / "b", verbose=0, tensorboard=False)
    for x, y in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(x, y)
    noisy = gamma_speckle(clean, 1.0, seed=99)
    estimate = straight.predict_maps(noisy, progress=False)["posterior_mean"]
    peak = float(clean.max())
    gain = psnr(clean, estimate, data_range=peak) - psnr(clean, noisy, data_range=peak)
    assert gain >= 3.0, f"PSNR gain {gain:.2f} dB"


def _small_simulations(count=2, shape=(45, 39)):
    """Seeded ultrasound phantoms (odd sizes, one with point targets) as the simulator returns them."""
    from s2v.simulate import simulate_ultrasound, ultrasound_phantom

    simulations = []
    for seed in range(count):
        echogenicity, regions = ultrasound_phantom(shape, seed=seed, return_regions=True)
        simulations.append(simulate_ultrasound(echogenicity, point_targets=regions["point_targets"],
                                               center_frequency=5e6 + 2e6 * seed, seed=seed))
    return simulations


@pytest.mark.parametrize("pixel_shuffle", [1, 2])
def test_simulated_ultrasound_batches_are_fresh_realisations_prepared_as_fixed_images(pixel_shuffle):
    from s2v.patches import SimulatedUltrasoundPatchSampler
    from s2v.simulate import simulate_ultrasound

    config = S2VConfig.from_preset("cpu", **{**TINY, "patch_size": 20, "batch_size": 6},
                                   pixel_shuffle=pixel_shuffle)
    simulations = _small_simulations()
    real = np.random.default_rng(3).gamma(1.0, 1.0, (33, 31)).astype(np.float32)
    sampler = SimulatedUltrasoundPatchSampler(simulations, config, images=[real])
    noisy, valid = sampler.batch(5)
    np.testing.assert_array_equal(noisy, sampler.batch(5)[0])  # deterministic per step (exact resume)
    assert not np.array_equal(noisy, sampler.batch(6)[0])
    # Each patch is the window a PatchSampler cuts from the realisation of (seed, step, phantom):
    # one road from intensity to patch, whether the image is fixed or re-simulated.
    settings = ("center_frequency", "fractional_bandwidth", "lateral_beam_width", "pixel_size",
                "sound_speed", "demodulation_frequency", "dynamic_range")
    realisations = [simulate_ultrasound(sim["echogenicity"], point_targets=sim["point_targets"],
                                        seed=[config.seed, 5, index], **{k: sim["params"][k] for k in settings})
                    for index, sim in enumerate(simulations)]
    fixed = PatchSampler([r["intensity"] for r in realisations] + [real], config)
    expected_noisy, expected_valid = fixed.batch(5)
    np.testing.assert_array_equal(noisy, expected_noisy)
    np.testing.assert_array_equal(valid, expected_valid)
    # The fixed (real) image is the same at every step; the phantoms are not.
    prepared = [sampler._item(index, 5).image for index in range(3)]
    later = [sampler._item(index, 9).image for index in range(3)]
    assert not np.array_equal(prepared[0], later[0]) and not np.array_equal(prepared[1], later[1])
    np.testing.assert_array_equal(prepared[2], later[2])
    with pytest.raises(ValueError, match="simulate_ultrasound"):
        SimulatedUltrasoundPatchSampler([{"intensity": real}], config)


def test_scanner_batches_are_the_scanner_exports_of_the_same_realisations():
    """scanner=True: each patch is cut from scanner_export(realisation of (seed, step, phantom),
    seed (seed, step, phantom, 2)) -- the same road as a fixed image -- with the stride of the
    given realisation."""
    from s2v.patches import SimulatedUltrasoundPatchSampler
    from s2v.simulate import scanner_export, simulate_ultrasound

    config = S2VConfig.from_preset("cpu", **{**TINY, "patch_size": 20, "batch_size": 4})
    simulations = _small_simulations()
    sampler = SimulatedUltrasoundPatchSampler(simulations, config, scanner=True)
    noisy, valid = sampler.batch(4)
    np.testing.assert_array_equal(noisy, sampler.batch(4)[0])  # deterministic per step (exact resume)
    settings = ("center_frequency", "fractional_bandwidth", "lateral_beam_width", "pixel_size",
                "sound_speed", "demodulation_frequency", "dynamic_range")
    exports = [scanner_export(simulate_ultrasound(sim["echogenicity"], point_targets=sim["point_targets"],
                                                  seed=[config.seed, 4, index],
                                                  **{k: sim["params"][k] for k in settings})["intensity"],
                              None, seed=[config.seed, 4, index, 2])["intensity"]
               for index, sim in enumerate(simulations)]
    fixed = PatchSampler(exports, config)
    fixed.strides = sampler.strides  # the strides of the given realisations, as the sampler keeps them
    fixed.items = [fixed._prepare(image, None, stride) for image, stride in zip(exports, sampler.strides)]
    expected_noisy, expected_valid = fixed.batch(4)
    np.testing.assert_array_equal(noisy, expected_noisy)
    np.testing.assert_array_equal(valid, expected_valid)
    plain = SimulatedUltrasoundPatchSampler(simulations, config).batch(4)[0]
    assert not np.array_equal(noisy, plain)


def test_train_simulated_ultrasound_resumes_exactly_and_learns(tmp_path):
    from s2v.metrics import bmode_psnr
    from s2v.simulate import simulate_ultrasound, ultrasound_phantom
    from s2v.training import train_simulated_ultrasound

    simulations = _small_simulations(2, shape=(97, 89))
    config = S2VConfig.from_preset("cpu", filters=16, depth=4, batch_size=8, patch_size=32,
                                   learning_rate=2e-3, steps_per_epoch=50, total_steps=150,
                                   checkpoint_every=50, pixel_shuffle=2, network_input="log")
    straight = train_simulated_ultrasound(simulations, config, out_dir=tmp_path / "a", verbose=0,
                                          tensorboard=False)
    train_simulated_ultrasound(simulations, config, out_dir=tmp_path / "b", total_steps=50, verbose=0,
                               tensorboard=False)
    resumed = train_simulated_ultrasound(simulations, config, out_dir=tmp_path / "b", verbose=0,
                                         tensorboard=False)
    for x, y in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(x, y)
    # A phantom it never trained on (seed 7), at the first phantom's probe.
    echogenicity = ultrasound_phantom((97, 89), seed=7)
    test = simulate_ultrasound(echogenicity, seed=70)
    estimate = straight.predict_maps(test["intensity"], progress=False)["posterior_mean"]
    truth = test["blurred_echogenicity"]
    gain = bmode_psnr(truth, estimate) - bmode_psnr(truth, test["intensity"])
    assert gain >= 3.0, f"B-mode PSNR gain {gain:.2f} dB"

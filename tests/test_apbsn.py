"""AP-BSN (autre_papier): PD inverse, blind-spot invariant, R^3 seeding, training, CLI, notebook."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from autre_papier import apbsn
from autre_papier.apbsn import (
    APBSN,
    APBSNConfig,
    BlindSpotNetwork,
    PatchSampler,
    PixelShuffleDownsampling,
    PixelShuffleUpsampling,
    log_speckle_bias,
    pixel_shuffle_down,
    pixel_shuffle_up,
)

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"base_channels": 16, "num_modules": 1, "patch_size": 40, "batch_size": 2}


@pytest.fixture(autouse=True)
def _seeded_weights():
    """Seeded weight initialisation: random networks are reproducible."""
    import keras

    keras.utils.set_random_seed(1234)


# --------------------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("stride", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize("shape", [(63, 71), (9, 7), (5, 13), (6, 5)])
def test_pixel_shuffle_inverse_is_exact(rng, stride, pad, shape):
    images = rng.standard_normal((2, *shape, 3)).astype(np.float32)
    mosaic = pixel_shuffle_down(images, stride, pad=pad)
    rows, cols = -(-shape[0] // stride), -(-shape[1] // stride)
    assert mosaic.shape == (2, stride * (rows + 2 * pad), stride * (cols + 2 * pad), 3)
    back = pixel_shuffle_up(mosaic, stride, shape, pad=pad)
    np.testing.assert_array_equal(back.numpy(), images)
    # The Keras layers do the same.
    layer_back = PixelShuffleUpsampling(stride, pad)(PixelShuffleDownsampling(stride, pad)(images), images)
    np.testing.assert_array_equal(layer_back.numpy(), images)


def test_pixel_shuffle_layout_matches_definition(rng):
    """Sub-image (u, v) is image[u::s, v::s] framed by ``pad`` zeros (official PD)."""
    s, pad = 3, 2
    image = rng.standard_normal((1, 12, 15, 1)).astype(np.float32)
    mosaic = pixel_shuffle_down(image, s, pad=pad).numpy()[0, :, :, 0]
    h, w = 12 // s + 2 * pad, 15 // s + 2 * pad
    for u in range(s):
        for v in range(s):
            block = mosaic[u * h:(u + 1) * h, v * w:(v + 1) * w]
            np.testing.assert_array_equal(block[pad:-pad, pad:-pad], image[0, u::s, v::s, 0])
            assert np.count_nonzero(block) == (h - 2 * pad) * (w - 2 * pad)


def test_pixel_shuffle_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        pixel_shuffle_down(np.zeros((1, 8, 8, 1), np.float32), 0)
    with pytest.raises(ValueError, match="too small"):
        pixel_shuffle_down(np.zeros((1, 4, 8, 1), np.float32), 5)


# --------------------------------------------------------------------------- blind spot
def _input_gradient(function, shape, pixel, seed=0):
    x = tf.constant(np.random.default_rng(seed).standard_normal((1, *shape, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = function(x)[0, pixel[0], pixel[1], 0]
    return tape.gradient(out, x).numpy()[0, :, :, 0]


@pytest.mark.parametrize("num_modules", [0, 1, 3])
@pytest.mark.parametrize("pixel", [(17, 20), (0, 0), (34, 1)])
def test_blind_spot_network_never_sees_its_own_pixel(num_modules, pixel):
    net = BlindSpotNetwork(out_channels=2, base_channels=16, num_modules=num_modules)
    grad = _input_gradient(net, (35, 41), pixel)
    assert grad[pixel] == 0.0  # exactly: the centre is masked, not merely small
    # Its 8 neighbours (inside the image) are read directly by the masked 3x3 conv.
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = pixel[0] + dr, pixel[1] + dc
            if (dr, dc) != (0, 0) and 0 <= r < 35 and 0 <= c < 41:
                assert grad[r, c] != 0.0, (dr, dc)
    # The receptive field grows with the modules (radius 2 + 3 * num_modules).
    radius = 2 + 3 * num_modules
    rows, cols = np.nonzero(grad)
    assert max(np.abs(rows - pixel[0]).max(), np.abs(cols - pixel[1]).max()) == min(
        radius, max(pixel[0], 34 - pixel[0], pixel[1], 40 - pixel[1]))


def test_blind_spot_survives_training_updates(rng):
    """The centre weight is masked in ``call``: no optimiser step can reopen the spot."""
    net = BlindSpotNetwork(out_channels=1, base_channels=16, num_modules=1)
    net(tf.zeros((1, 9, 9, 1)))
    for layer in (b.masked for b in net.branches):
        kernel = layer.kernel.numpy()
        k = layer.kernel_size // 2
        kernel[k, k] = 10.0
        layer.kernel.assign(kernel)
    assert _input_gradient(net, (21, 21), (10, 10))[10, 10] == 0.0


@pytest.mark.parametrize("stride", [2, 5])
@pytest.mark.parametrize("pixel", [(21, 23), (42, 44), (40, 46)])
def test_pd_network_reads_only_its_own_sub_image(stride, pixel):
    """PD + BSN: the pixel itself and every pixel closer than ``stride`` stay unseen.

    Also at the zero-padded bottom/right edges (43 x 47 is no multiple of 2 or
    5). The receptive field may cross the 2-pixel gap into the next sub-image
    of the mosaic (as in the official network); those pixels lie on the far
    side of the image.
    """
    model = APBSN(APBSNConfig.from_preset("cpu", **SMALL))
    shape = (43, 47)
    grad = _input_gradient(lambda x: model(x, stride=stride), shape, pixel)
    assert grad[pixel] == 0.0
    rows, cols = np.nonzero(grad)
    same_phase = ((rows - pixel[0]) % stride == 0) & ((cols - pixel[1]) % stride == 0)
    distance = np.maximum(np.abs(rows - pixel[0]), np.abs(cols - pixel[1]))
    assert np.all(same_phase | (distance >= 20))
    if pixel == (21, 23):  # interior: the whole field is inside its own sub-image
        assert np.all(same_phase)
    assert grad[pixel[0] - stride, pixel[1]] != 0.0 and grad[pixel[0], pixel[1] - stride] != 0.0


# --------------------------------------------------------------------------- R^3, model, config
@pytest.fixture(scope="module")
def small_model():
    model = APBSN(APBSNConfig.from_preset("cpu", **SMALL))
    model.build()
    return model


def test_r3_is_deterministic_for_a_seed(small_model, rng):
    noisy = rng.exponential(size=(37, 45)).astype(np.float32)
    first = small_model.denoise(noisy, seed=3)
    np.testing.assert_array_equal(first, small_model.denoise(noisy, seed=3))
    assert not np.array_equal(first, small_model.denoise(noisy, seed=4))
    assert first.dtype == np.float32 and first.shape == noisy.shape and np.all(first > 0)
    # Without R^3 the seed is irrelevant.
    np.testing.assert_array_equal(small_model.denoise(noisy, r3_passes=0, seed=1),
                                  small_model.denoise(noisy, r3_passes=0, seed=2))


def test_denoise_is_scale_equivariant(small_model, rng):
    """Each image is normalised by its mean: any calibration gives the same picture."""
    noisy = rng.exponential(size=(31, 33)).astype(np.float32)
    np.testing.assert_allclose(small_model.denoise(noisy * 1000.0), 1000.0 * small_model.denoise(noisy),
                               rtol=1e-4)


def test_denoise_rejects_bad_input(small_model):
    with pytest.raises(ValueError, match="negative"):
        small_model.denoise(-np.ones((20, 20), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        small_model.denoise(np.ones((2, 20, 20), np.float32))
    np.testing.assert_array_equal(small_model.denoise(np.zeros((20, 20), np.float32)), 0.0)


def test_log_speckle_bias_references(rng):
    # psi(1) = -Euler-Mascheroni; the median of log Exp(1) is log(log 2).
    assert log_speckle_bias(1.0, "mean") == pytest.approx(-0.5772156649, abs=1e-9)
    assert log_speckle_bias(1.0, "median") == pytest.approx(np.log(np.log(2.0)), abs=1e-9)
    # L = 4: Monte Carlo with 4e5 samples, tolerance ~ 5 standard errors.
    samples = np.log(rng.gamma(4.0, 1 / 4.0, size=400_000))
    assert log_speckle_bias(4.0, "mean") == pytest.approx(samples.mean(), abs=5e-3)
    assert log_speckle_bias(4.0, "median") == pytest.approx(np.median(samples), abs=5e-3)


def test_config_presets_and_validation(tmp_path):
    paper = APBSNConfig.from_preset("paper")
    assert (paper.base_channels, paper.num_modules, paper.train_stride, paper.inference_stride,
            paper.pd_pad, paper.r3_passes, paper.r3_probability) == (128, 9, 5, 2, 2, 8, 0.16)
    with pytest.raises(ValueError, match="did you mean 'paper'"):
        APBSNConfig.from_preset("papper")
    with pytest.raises(ValueError, match="did you mean 'num_modules'"):
        APBSNConfig.from_dict({"num_module": 3})
    with pytest.raises(ValueError) as err:
        APBSNConfig(base_channels=7, loss="l2", r3_probability=2.0, patch_size=121)
    for field in ("base_channels", "loss", "r3_probability", "patch_size"):
        assert field in str(err.value)
    cpu = APBSNConfig.from_preset("cpu", loss="gamma")
    assert APBSNConfig.load(cpu.save(tmp_path / "c.json")) == cpu


def test_patch_sampler_respects_mask(rng):
    image = rng.exponential(size=(50, 60)).astype(np.float32)
    image[:, 30:] = 1000.0  # outside the mask: may border a crop, never count in the loss
    mask = np.zeros(image.shape, bool)
    mask[:, :30] = True
    sampler = PatchSampler([image], 20, masks=[mask], min_valid=0.75, seed=0)
    crops, valid = sampler.batch(32)
    assert crops.shape == valid.shape == (32, 20, 20, 1) and crops.dtype == np.float32
    assert np.all(valid.mean(axis=(1, 2, 3)) >= 0.75)
    bright = 1000.0 / image.mean(dtype=np.float64)  # images are divided by their mean
    assert crops[valid == 1].max() < bright / 2
    np.testing.assert_allclose(crops[valid == 0], bright, rtol=1e-5)
    narrow = np.zeros(image.shape, bool)
    narrow[:, 50:] = True  # 10 columns: no 20x20 crop is 75 % inside
    with pytest.raises(ValueError, match="no 20x20 crop"):
        PatchSampler([image], 20, masks=[narrow], seed=0)


def test_save_load_round_trip(small_model, tmp_path, rng):
    noisy = rng.exponential(size=(25, 29)).astype(np.float32)
    folder = apbsn.save_apbsn(small_model, tmp_path / "m", extra={"steps": 0})
    loaded = apbsn.load_apbsn(folder)
    assert loaded.config == small_model.config
    np.testing.assert_array_equal(loaded.denoise(noisy), small_model.denoise(noisy))
    with pytest.raises(ValueError, match="not an AP-BSN model folder"):
        apbsn.load_apbsn(tmp_path)


# --------------------------------------------------------------------------- quality
def _db_psnr(truth, estimate):
    from autre_papier.experiments import score_estimate

    return score_estimate(truth, estimate)["psnr_db"]


def test_shipped_checkpoint_despeckles_simulated_ultrasound():
    """The default model (autre_papier/checkpoint) beats the noisy B-mode by a margin."""
    if not (apbsn.DEFAULT_CHECKPOINT / apbsn.WEIGHTS_NAME).exists():
        pytest.skip("no checkpoint in autre_papier/checkpoint (train one with main.py train)")
    from autre_papier.data import simulated_items

    item = simulated_items(1, shape=(129, 97), seed=4321)[0]
    estimate = apbsn.despeckle(item["intensity"], looks=1.0)
    assert estimate.dtype == np.float32 and estimate.shape == item["intensity"].shape
    assert _db_psnr(item, estimate) > _db_psnr(item, item["intensity"]) + 3.0


@pytest.mark.slow
def test_short_training_improves_psnr_on_correlated_speckle():
    """~150 steps on simulated ultrasound (correlated speckle) already beat the noisy input."""
    from autre_papier.data import simulated_items

    train = simulated_items(3, seed=0)
    test = simulated_items(1, seed=999)[0]
    config = APBSNConfig.from_preset("cpu", base_channels=16, num_modules=2, patch_size=60,
                                     total_steps=150, checkpoint_every=150, learning_rate=1e-3)
    model, info = apbsn.train_apbsn([i["intensity"] for i in train], config, verbose=0)
    assert info["steps"] == 150
    noisy, denoised = _db_psnr(test, test["intensity"]), _db_psnr(test, model.denoise(test["intensity"]))
    assert denoised > noisy + 2.0, (noisy, denoised)


# --------------------------------------------------------------------------- data and CLI
def test_kaggle_download_explains_what_is_missing(tmp_path, monkeypatch):
    from autre_papier import data

    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))  # an empty folder: no credentials
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    with pytest.raises(data.KaggleUnavailable, match="kaggle"):
        data.download_busi(tmp_path / "busi")
    assert not (tmp_path / "busi").exists()


def test_pydicom_ultrasound_masks_keep_grey_tissue_only():
    from pydicom.data import get_testdata_file

    from autre_papier.data import PYDICOM_ULTRASOUND, pydicom_items
    from s2v.io import read_image

    items = pydicom_items()
    assert len(items) == len(PYDICOM_ULTRASOUND)
    for name, item in zip(PYDICOM_ULTRASOUND, items):
        picture, _ = read_image(get_testdata_file(name), keep_colour=True)
        mask = item["mask"]
        assert item["intensity"].shape == mask.shape == picture.shape[:2]
        assert 0.3 < mask.mean() < 0.8  # the scan, not the black surround
        assert not mask[:20].any()  # header text
        # No colour (Doppler) pixel is a training pixel.
        spread = picture.max(axis=2).astype(int) - picture.min(axis=2)
        assert spread[mask].max() <= 0.05 * 255


def test_cli_prepare(tmp_path, monkeypatch):
    from autre_papier import main

    out = tmp_path / "data.npz"
    assert main.main(["prepare", "--out", str(out), "--simulated", "1"]) == 0
    images, masks, manifest = main.read_prepared(out)
    assert [i["source"] for i in manifest["images"]] == ["pydicom", "pydicom", "simulated"]
    assert images[0].dtype == np.float32 and masks[0].dtype == bool
    assert main.main(["prepare", "--out", str(out), "--no-pydicom", "--simulated", "0"]) == 1
    # No credentials here: a clear message and exit status 2, never a download attempt.
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    assert main.main(["prepare", "--out", str(tmp_path / "k.npz"), "--kaggle-busi", str(tmp_path / "b")]) == 2


def test_cli_predict_bmode_picture(tmp_path):
    """A B-mode PNG in, a despeckled B-mode PNG of the same size out (default checkpoint)."""
    if not (apbsn.DEFAULT_CHECKPOINT / apbsn.WEIGHTS_NAME).exists():
        pytest.skip("no checkpoint in autre_papier/checkpoint")
    from autre_papier import main
    from s2v.io import read_image, write_image
    from s2v.simulate import simulate_ultrasound

    bmode = simulate_ultrasound(shape=(65, 71), seed=5)["bmode"]
    source = write_image(tmp_path / "scan.png", bmode)
    assert main.main(["predict", str(source), "--out", str(tmp_path / "out")]) == 0
    result, meta = read_image(tmp_path / "out" / "scan_apbsn.png")
    assert result.shape == bmode.shape and result.dtype == np.uint8
    # Despeckled: far smoother than the input in the speckle (local differences).
    assert np.abs(np.diff(result.astype(float), axis=1)).mean() < 0.5 * np.abs(np.diff(bmode.astype(float), axis=1)).mean()


# --------------------------------------------------------------------------- notebook
@pytest.mark.notebook
def test_notebook_runs_in_quick_mode(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "autre_papier" / "Notebook.ipynb", as_version=4)
    assert not any("def " in c.source or "class " in c.source for c in notebook.cells
                   if c.cell_type == "code"), "the notebook must stay thin (no def/class)"
    monkeypatch.setenv("S2V_QUICK", "1")
    monkeypatch.setenv("S2V_OUT", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    assert (tmp_path / "compare" / "results.md").exists()

"""Ready-to-use despeckling: named checkpoints, per-domain pipelines, the study in quick mode."""

import numpy as np
import pytest

import s2v
from s2v.config import S2VConfig
from s2v.model import Speckle2Void
from s2v.pipeline import DEFAULT_CHECKPOINT, list_checkpoints


@pytest.fixture(scope="module")
def tiny_model():
    return Speckle2Void(S2VConfig.from_preset("cpu", filters=4, depth=2, normalization="median"))


def test_unknown_checkpoint_name_gets_a_hint():
    shipped = list_checkpoints()
    if not shipped:
        pytest.skip("no shipped checkpoints")
    name = next(iter(shipped))
    with pytest.raises(FileNotFoundError, match="did you mean"):
        s2v.load_model(name[:-1] + "x")


@pytest.mark.parametrize("name", sorted(set(DEFAULT_CHECKPOINT.values())))
def test_default_checkpoints_are_shipped_small_and_load(name):
    shipped = list_checkpoints()
    assert name in shipped, f"s2v_checkpoint/{name}/model.keras is missing"
    assert shipped[name].stat().st_size < 8e6
    assert (shipped[name].parent / "MODEL_CARD.md").is_file()
    assert isinstance(s2v.load_model(name), Speckle2Void)


def test_domains_give_intensity_and_bmode_round_trip(tiny_model, rng):
    intensity = rng.gamma(1.0, 1.0, (33, 29)).astype(np.float32)
    by_intensity = s2v.despeckle(intensity, tiny_model, domain="intensity", progress=False)
    by_amplitude = s2v.despeckle(np.sqrt(intensity), tiny_model, domain="amplitude", progress=False)
    np.testing.assert_allclose(by_amplitude, by_intensity, rtol=1e-5)
    bmode = (rng.random((33, 29)) * 255).astype(np.uint8)
    out = s2v.despeckle(bmode, tiny_model, domain="bmode", progress=False)
    assert out.dtype == np.uint8 and out.shape == bmode.shape


def test_complex_input_is_decorrelated_then_despeckled(tiny_model, rng):
    from s2v.simulate import simulate_correlated_slc

    slc = simulate_correlated_slc(shape=(64, 48), seed=3)["slc"]
    out = s2v.despeckle(slc, tiny_model, domain="complex", progress=False)
    assert out.shape == slc.shape and np.all(np.isfinite(out)) and out.min() >= 0


def test_bad_domain_and_bad_data_are_clear(tiny_model):
    with pytest.raises(ValueError, match="did you mean 'bmode'"):
        s2v.despeckle(np.ones((4, 4)), tiny_model, domain="bmod")
    with pytest.raises(ValueError, match="complex"):
        s2v.despeckle(np.ones((4, 4)), tiny_model, domain="complex")


def test_pixel_shuffle_model_keeps_the_image_grid(rng):
    model = Speckle2Void(S2VConfig.from_preset("cpu", filters=4, depth=2, pixel_shuffle=3))
    image = rng.gamma(1.0, 1.0, (31, 26)).astype(np.float32)
    maps = model.predict_maps(image, progress=False)
    assert all(m.shape == image.shape for m in maps.values())


def test_study_quick_writes_tables_and_figures(tmp_path):
    from s2v.study import run_study

    summary = run_study(tmp_path, quick=True, progress=False)
    text = summary.read_text()
    assert "Single-look synthetic protocol" in text and "Simulated ultrasound" in text
    assert (tmp_path / "ultrasound_simulated" / "results.md").is_file()
    assert any((tmp_path / "ultrasound_simulated" / "figures").glob("*.png"))


@pytest.mark.parametrize("kind", ["bmode_png", "complex_npy"])
def test_one_file_is_the_same_intensity_for_compare_denoise_and_train(kind, tmp_path):
    """The harness (s2v compare), s2v denoise and s2v.train read a file as the same intensity."""
    import imageio.v3 as iio

    from s2v.cli import _read_frames_domain
    from s2v.items import _read_item
    from s2v.pipeline import prepare_intensity
    from s2v.training import _load_intensities

    rng = np.random.default_rng(11)
    if kind == "bmode_png":
        path = tmp_path / "scan.png"
        iio.imwrite(path, rng.integers(0, 256, (37, 45), dtype=np.uint8))
    else:
        path = tmp_path / "iq.npy"
        np.save(path, (rng.normal(size=(37, 45)) + 1j * rng.normal(size=(37, 45))).astype(np.complex64))
    compared = _read_item(path)["intensity"]
    frames, domain, _ = _read_frames_domain(path, None, None)
    despeckled_input = prepare_intensity(frames[0], domain)  # what s2v.despeckle converts
    trained = _load_intensities([path])[0]
    np.testing.assert_array_equal(compared, despeckled_input)
    np.testing.assert_array_equal(compared, trained)
    assert compared.dtype == np.float32 and compared.shape == (37, 45)

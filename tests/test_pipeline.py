"""Ready-to-use despeckling: named checkpoints, per-domain pipelines, stacks and folders, the study."""

import numpy as np
import pytest

import s2v
from s2v.config import S2VConfig
from s2v.model import Speckle2Void
from s2v.io import read_frames, read_image, write_frames, write_image
from s2v.pipeline import DEFAULT_CHECKPOINT, despeckle_folder, list_checkpoints, read_frames_domain


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


@pytest.mark.parametrize("kind", ["bmode_png", "complex_npy"])
def test_one_file_is_the_same_intensity_for_compare_denoise_and_train(kind, tmp_path):
    """The harness (s2v compare), s2v denoise and s2v.train read a file as the same intensity."""
    import imageio.v3 as iio

    from s2v.cli import _read_frames_domain
    from s2v.items import read_file_items
    from s2v.pipeline import prepare_intensity
    from s2v.training import _load_intensities

    rng = np.random.default_rng(11)
    if kind == "bmode_png":
        path = tmp_path / "scan.png"
        iio.imwrite(path, rng.integers(0, 256, (37, 45), dtype=np.uint8))
    else:
        path = tmp_path / "iq.npy"
        np.save(path, (rng.normal(size=(37, 45)) + 1j * rng.normal(size=(37, 45))).astype(np.complex64))
    compared = read_file_items(path)[0]["intensity"]
    frames, domain, _ = _read_frames_domain(path, None, None)
    despeckled_input = prepare_intensity(frames[0], domain)  # what s2v.despeckle converts
    folder_frames, folder_domain, _ = read_frames_domain(path)  # what despeckle_folder reads
    assert folder_domain == domain
    np.testing.assert_array_equal(prepare_intensity(folder_frames[0], folder_domain), compared)
    trained = _load_intensities([path])[0]
    np.testing.assert_array_equal(compared, despeckled_input)
    np.testing.assert_array_equal(compared, trained)
    assert compared.dtype == np.float32 and compared.shape == (37, 45)


def test_a_stack_is_despeckled_frame_by_frame(tiny_model, rng):
    stack = rng.gamma(1.0, 1.0, (3, 21, 17)).astype(np.float32)
    out = s2v.despeckle(stack, tiny_model, progress=False)
    assert out.shape == stack.shape and out.dtype == np.float32
    for frame, estimate in zip(stack, out):
        np.testing.assert_array_equal(estimate, s2v.despeckle(frame, tiny_model, progress=False))
    cine = (rng.random((2, 21, 17)) * 255).astype(np.uint8)
    assert s2v.despeckle(cine, tiny_model, domain="bmode", progress=False).dtype == np.uint8
    with pytest.raises(ValueError, match="channel axis"):
        s2v.despeckle(rng.random((21, 17, 3)), tiny_model, progress=False)
    bad = stack.copy()
    bad[1, 0, 0] = -1.0
    with pytest.raises(ValueError, match="frame 1 of the stack"):
        s2v.despeckle(bad, tiny_model, progress=False)


@pytest.fixture
def scan_folder(tmp_path, rng):
    """Two odd-sized .npy images and a 3-frame .tif stack, two of them with the stem ``a``."""
    folder = tmp_path / "scans"
    images = {"a.npy": rng.gamma(1.0, 1.0, (23, 19)), "b.npy": rng.gamma(1.0, 1.0, (17, 31)),
              "a.tif": rng.gamma(1.0, 1.0, (3, 25, 21))}
    for name, array in images.items():
        array = array.astype(np.float32)
        if array.ndim == 3:
            write_frames(folder / name, array, domain="intensity")
        else:
            write_image(folder / name, array, domain="intensity")
    return folder, {name: array.astype(np.float32) for name, array in images.items()}


def test_despeckle_folder_writes_every_frame_of_every_file(tiny_model, scan_folder, tmp_path):
    folder, images = scan_folder
    out = tmp_path / "out"
    records = despeckle_folder(folder, out, model=tiny_model, domain="intensity", progress=False)
    assert [r["input"].name for r in records] == sorted(images)
    names = {r["input"].name: r["output"].name for r in records}
    assert names == {"a.npy": "a_npy_despeckled.npy", "a.tif": "a_tif_despeckled.tif",
                     "b.npy": "b_despeckled.npy"}  # a shared stem keeps the extension
    for record in records:
        original = images[record["input"].name]
        frames = original if original.ndim == 3 else original[None]
        written, meta = read_frames(record["output"])
        assert record["status"] == "written" and record["frames"] == len(frames)
        assert written.shape == frames.shape and written.dtype == np.float32
        for frame, estimate in zip(frames, written):
            np.testing.assert_array_equal(estimate, s2v.despeckle(frame, tiny_model, progress=False))
    assert read_image(out / "a_tif_despeckled.tif")[1]["domain"] == "intensity"
    # A second run keeps what is there (a stopped run resumes).
    again = despeckle_folder(folder, out, model=tiny_model, domain="intensity", progress=False)
    assert {r["status"] for r in again} == {"kept"}


def test_despeckle_folder_reports_bad_files_after_writing_the_others(tiny_model, scan_folder,
                                                                     tmp_path):
    folder, _ = scan_folder
    (folder / "broken.npy").write_bytes(b"not an array")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"1 of 4 files failed(.|\n)*broken\.npy"):
        despeckle_folder(folder, out, model=tiny_model, domain="intensity", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["a_npy_despeckled.npy", "a_tif_despeckled.tif",
                                                   "b_despeckled.npy"]


def test_despeckle_folder_refuses_an_empty_folder_and_a_bad_domain(tiny_model, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no file matches"):
        despeckle_folder(tmp_path / "empty", tmp_path / "out", model=tiny_model)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        despeckle_folder(tmp_path / "missing", tmp_path / "out", model=tiny_model)
    with pytest.raises(ValueError, match="did you mean 'bmode'"):
        despeckle_folder(tmp_path / "empty", tmp_path / "out", model=tiny_model, domain="bmod")


@pytest.mark.parametrize("shape", [
    (257, 193),
    (129, 97),  # failed before the ratio calibration of the shipped model (1.056-1.088)
])
def test_complex_iq_path_keeps_the_ratio_image_mean_at_one(shape):
    """s2v.despeckle(iq, domain="complex") on a seeded held-out phantom (seed 900, not a training
    or study seed): the ratio image noisy / estimate has mean 1 +- 0.05 (issue 13's bar; the
    IQ path used to whiten with SAR defaults and scored a ratio mean of 6.6-7.5)."""
    from s2v.simulate import simulate_ultrasound

    iq = simulate_ultrasound(shape=shape, seed=900)["iq"]
    estimate = s2v.despeckle(iq, domain="complex", progress=False)
    assert estimate.shape == iq.shape and np.isfinite(estimate).all()
    assert np.array_equal(estimate, s2v.despeckle(iq, domain="complex", progress=False)), \
        "the IQ path is deterministic"
    ratio = np.abs(iq) ** 2 / estimate
    assert abs(float(ratio.mean()) - 1.0) <= 0.05, float(ratio.mean())


def test_complex_input_whitened_models_decorrelate_first(rng):
    """A model with complex_input='whitened' sees the decorrelated |z|^2 (the sar model's
    preparation), any other model the raw |z|^2: checked against both preparations."""
    import s2v
    from s2v.decorrelation import decorrelate
    from s2v.simulate import simulate_correlated_slc

    slc = simulate_correlated_slc(shape=(67, 71), point_targets=0, seed=4)["slc"]
    config = s2v.S2VConfig.from_preset("cpu", filters=4, depth=2)
    plain = s2v.Speckle2Void(config)
    whitened = s2v.Speckle2Void(config.replace(complex_input="whitened"))
    whitened.set_weights(plain.get_weights())
    raw_intensity = np.abs(slc).astype(np.float32) ** 2
    white_intensity = np.abs(decorrelate(slc)[0]).astype(np.float32) ** 2
    np.testing.assert_allclose(s2v.despeckle(slc, model=plain, domain="complex", progress=False),
                               plain.predict(raw_intensity, progress=False), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s2v.despeckle(slc, model=whitened, domain="complex", progress=False),
                               plain.predict(white_intensity, progress=False), rtol=1e-5, atol=1e-6)
    assert not np.allclose(raw_intensity, white_intensity, rtol=0.05)
    with pytest.raises(s2v.ConfigError, match="complex_input must be one of"):
        config.replace(complex_input="decorrelated")


def test_recommended_bmode_pipeline_leaves_no_mosaic():
    """Issue 13: the B-mode output of s2v.despeckle (shipped model, its own stride rule and mosaic
    notch) has no peak at the mosaic frequencies of the stride it used; the same prediction
    without the notch has one (so this test can fail). A validation phantom, seed 609 (measured
    stride 6 with the model shipped 2026-12-03 evening, 5 with the one before; of seeds 608-611 the
    one whose un-notched mosaic is clearest: peaks 2.3, 6.9, 4.7, 2.0 without the notch, 0.2-0.5
    with it)."""
    from s2v.datasets import randomised_ultrasound_set
    from s2v.domains import intensity_to_bmode, to_intensity
    from s2v.metrics import mosaic_peak

    sim = randomised_ultrasound_set(1, seed=609)[0]
    bmode = intensity_to_bmode(sim["intensity"], scale="uint8")
    model = s2v.load_model(DEFAULT_CHECKPOINT["bmode"])
    intensity = to_intensity(bmode, "bmode")
    stride = model.prediction_stride(intensity)
    assert stride >= 2 and model.s2v_config.predict_mosaic_notch > 0
    out = s2v.despeckle(bmode, domain="bmode", progress=False)
    assert out.dtype == np.uint8 and out.shape == bmode.shape
    assert mosaic_peak(out.astype(np.float64), stride) < 1.5
    raw = model.predict_maps(intensity, mosaic_notch=0.0, outputs=("posterior_mean",),
                             progress=False)["posterior_mean"]
    assert mosaic_peak(intensity_to_bmode(raw, scale="db", reference=1.0), stride) > 2.5

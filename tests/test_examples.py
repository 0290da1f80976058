"""Tests of s2v.examples: every example loads, is deterministic, consistent with its ground
truth, and the real DICOM examples have the documented crops and masks."""

import time
from pathlib import Path

import numpy as np
import pytest

from s2v._shared import repo_root
from s2v.examples import list_examples, load_example

NAMES = ["us_phantom", "us_phantom_bmode", "sar_slc", "us_pelvis_aloka", "us_lymph_node_ge"]


def test_list_examples():
    assert list_examples() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_structure(name):
    example = load_example(name)
    data, intensity = example["data"], example["intensity"]
    assert example["domain"] in ("complex", "bmode")
    assert data.ndim == 2 and data.shape == intensity.shape
    assert data.dtype == (np.complex64 if example["domain"] == "complex" else np.uint8)
    assert intensity.dtype == np.float32 and np.all(np.isfinite(intensity)) and intensity.min() >= 0
    assert isinstance(example["description"], str) and len(example["description"]) > 50
    for key in ("ground_truth", "mask"):
        if key in example:
            assert example[key].shape == data.shape
    if "mask" in example:
        assert example["mask"].dtype == bool
    for region in example["regions"].values():
        assert region.dtype == bool and region.shape == data.shape and region.any()


@pytest.mark.parametrize("name", NAMES)
def test_examples_are_deterministic_copies_and_fast_when_cached(name):
    first = load_example(name)
    first["intensity"][:] = -1.0  # the caller's copy: must not leak into the cache
    start = time.perf_counter()
    second = load_example(name)
    assert time.perf_counter() - start < 0.5  # cached: a copy, no recomputation
    assert second["intensity"].min() >= 0
    np.testing.assert_array_equal(first["data"], second["data"])


def test_unknown_example():
    with pytest.raises(ValueError, match="unknown example 'nope'.*us_phantom"):
        load_example("nope")


def test_ultrasound_phantom_against_its_ground_truth():
    example = load_example("us_phantom")
    truth, intensity, regions = example["ground_truth"], example["intensity"], example["regions"]
    np.testing.assert_allclose(intensity, np.abs(example["data"].astype(np.complex128)) ** 2, rtol=1e-5)
    # Speckle is multiplicative with mean 1: in the untextured band, mean(I / E[I]) ~ 1; with
    # ~30-pixel speckle cells the band (~2200 px) holds ~70 independent cells: std error ~12 %.
    ratio = intensity[regions["homogeneous"]] / truth[regions["homogeneous"]]
    assert ratio.mean() == pytest.approx(1.0, abs=0.3)
    assert intensity[regions["anechoic"]].mean() < 0.05 * intensity[regions["background"]].mean()
    assert intensity[regions["hyperechoic"]].mean() > intensity[regions["background"]].mean()


def test_bmode_phantom_inverts_to_the_phantom_intensity():
    iq, bmode = load_example("us_phantom"), load_example("us_phantom_bmode")
    np.testing.assert_array_equal(iq["ground_truth"], bmode["ground_truth"])
    reference = bmode["params"]["bmode_reference"]
    visible = iq["intensity"] > reference * 10 ** (-60 / 10)
    error_db = 10 * np.log10(bmode["intensity"][visible] / iq["intensity"][visible])
    assert np.abs(error_db).max() <= 60 / 510 + 1e-3  # half an 8-bit grey level


def test_sar_slc_regions_match_the_scene():
    example = load_example("sar_slc")
    intensity, regions, truth = example["intensity"], example["regions"], example["ground_truth"]
    assert np.all(truth[regions["homogeneous"]] == 3.0) and np.all(truth[regions["bright"]] == 8.0)
    # Single-look exponential speckle, ~2000 px per region, correlated over a few pixels:
    # the region means are within ~10 % of the clean levels.
    for name, level in (("homogeneous", 3.0), ("bright", 8.0), ("background", 1.0)):
        assert intensity[regions[name]].mean() == pytest.approx(level, rel=0.15), name
    assert intensity[regions["dark"]].mean() < 0.1  # river at 0.05
    assert example["params"]["point_targets"].shape == (6, 2)


def test_real_aloka_example_crop_and_mask():
    example = load_example("us_pelvis_aloka")
    grey, mask, regions = example["data"], example["mask"], example["regions"]
    assert grey.shape == (392, 608)  # union of the two tissue regions of the DICOM region sequence
    assert example["params"]["crop"] == (24, 416, 32, 640)
    assert example["params"]["pixel_size"][0] == pytest.approx(0.383e-3, rel=1e-3)
    assert 0.6 < mask.mean() < 0.8  # sectors minus background, bladder, markers
    assert not mask[16:80, :32].any()  # the grey bar (DICOM region data type 13)
    assert regions["left_panel"][:, :304].all() and not regions["left_panel"][:, 304:].any()
    assert example["dynamic_range"] == 60.0 and example["dynamic_range_estimate"] > 0
    np.testing.assert_allclose(example["intensity"].max(), 10 ** (6 * (grey.max() / 255.0 - 1)), rtol=1e-5)


def test_real_ge_example_masks_out_colour():
    from pydicom.data import get_testdata_file

    from s2v.io import read_image

    example = load_example("us_lymph_node_ge")
    grey, mask = example["data"], example["mask"]
    assert grey.shape == (229, 623)
    r0, r1, c0, c1 = example["params"]["crop"]
    rgb, _ = read_image(get_testdata_file("US1_UNCR.dcm"), keep_colour=True)
    crop = rgb[r0:r1, c0:c1].astype(int)
    assert np.all(np.ptp(crop[mask], axis=-1) == 0)  # grey pixels only
    doppler = example["regions"]["colour_doppler"]
    assert 0.05 < doppler.mean() < 0.2 and not (doppler & mask).any()


def test_readme_describes_every_example():
    readme = Path(repo_root()) / "test_examples" / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name in NAMES:
        assert f"`{name}`" in text, name
    total = sum(p.stat().st_size for p in readme.parent.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024

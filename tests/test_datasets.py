"""Tests of s2v.datasets: the simulated ultrasound sets (training and held out)."""

import numpy as np
import pytest

from s2v.datasets import (
    EXTRAPOLATION_PROBES,
    HELD_OUT_PROBES,
    RANDOMISED_PROBE_RANGES,
    extrapolation_ultrasound_set,
    TRAINING_PROBE_RANGES,
    held_out_ultrasound_set,
    simulated_ultrasound_set,
)
from s2v.simulate import simulate_ultrasound, ultrasound_phantom

SMALL = (97, 81)  # the quick study's shape
DEFAULT_PIXEL_SIZE = (0.05e-3, 0.1e-3)

# The held-out probes of benchmarks/baselines_ultrasound.py (its PROBES list before it switched
# to held_out_ultrasound_set), copied here as literals so that the reference below does not
# depend on either implementation: (seed, PSF settings, ultrasound_phantom options).
BENCHMARK_PROBES = [
    (1000, {"center_frequency": 2.5e6, "fractional_bandwidth": 0.5, "lateral_beam_width": 1.2e-3},
     {"texture": 0.5}),
    (1001, {"center_frequency": 10e6, "fractional_bandwidth": 0.7, "lateral_beam_width": 0.3e-3},
     {"texture": 0.0}),
    (1002, {"center_frequency": 5e6, "fractional_bandwidth": 0.35, "lateral_beam_width": 0.7e-3},
     {"hyperechoic_db": 3.0}),
    (1003, {"center_frequency": 7e6, "fractional_bandwidth": 0.95, "lateral_beam_width": 0.5e-3},
     {"hyperechoic_db": 9.0}),
    (1004, {"center_frequency": 5e6, "fractional_bandwidth": 0.6, "lateral_beam_width": 0.6e-3,
            "demodulation_frequency": 4e6}, {}),
    (1005, {"center_frequency": 4e6, "fractional_bandwidth": 0.6, "lateral_beam_width": 0.8e-3,
            "pixel_size": (0.05e-3, 0.05e-3)}, {"texture": 0.5, "hyperechoic_db": 3.0}),
]


@pytest.fixture(scope="module")
def held_out_small():
    return held_out_ultrasound_set(shape=SMALL)


@pytest.fixture(scope="module")
def held_out_full():
    return held_out_ultrasound_set()


def _outside_training(params) -> list[str]:
    """The PSF settings of a simulation (its ``params``) that training never uses."""
    outside = [name for name, (low, high) in TRAINING_PROBE_RANGES.items() if not low <= params[name] <= high]
    if not np.allclose(params["pixel_size"], DEFAULT_PIXEL_SIZE, rtol=1e-12):
        outside.append("pixel_size")
    if params["demodulation_frequency"] != params["center_frequency"]:
        outside.append("demodulation_frequency")
    return outside


def test_held_out_set_has_eight_images_with_distinct_seeds(held_out_small):
    images = held_out_small
    assert len(images) == 8 == len(HELD_OUT_PROBES)
    assert [im["seed"] for im in images] == list(range(1000, 1008))
    assert [im["phantom"] for im in images] == ["cysts"] * 6 + ["vessels"] * 2
    assert [im["probe"] for im in images] == [p["name"] for p in HELD_OUT_PROBES]
    assert len({im["probe"] for im in images}) == 8
    for image, probe in zip(images, HELD_OUT_PROBES):
        assert image["intensity"].shape == SMALL and image["intensity"].dtype == np.float32
        # The settings of the constant are those the simulation used.
        for name, value in probe["psf"].items():
            assert np.allclose(image["params"][name], value, rtol=1e-12), (probe["name"], name)
        assert image["params"]["dynamic_range"] == 60.0
        np.testing.assert_array_equal(image["point_targets"], image["regions"]["point_targets"])
    # The vessel images carry the vessel phantom's regions (two vessels, two lesions).
    for image in images[6:]:
        kinds = [c["kind"] for c in image["regions"]["cysts"]]
        assert kinds == ["anechoic", "anechoic", "hypoechoic", "hyperechoic"]


def test_training_ranges_are_those_of_the_training_set():
    for sim in simulated_ultrasound_set(12, seed=0, shape=SMALL):
        params = sim["params"]
        assert _outside_training(params) == []
        for name, (low, high) in TRAINING_PROBE_RANGES.items():
            assert low <= params[name] <= high


def test_every_held_out_probe_is_outside_the_training_range(held_out_small):
    for image in held_out_small:
        assert _outside_training(image["params"]), image["probe"]
    # The vessel probes are outside on all three drawn settings.
    for image in held_out_small[6:]:
        assert set(_outside_training(image["params"])) >= set(TRAINING_PROBE_RANGES), image["probe"]
    # Never the training seeds 0-11, the study's test seeds 100+ or the tuning seeds 500-503.
    assert not {p["seed"] for p in HELD_OUT_PROBES} & (set(range(0, 200)) | set(range(500, 504)))


@pytest.mark.parametrize("shape", [SMALL, (257, 193)])
def test_first_six_are_the_benchmark_images(shape, held_out_small, held_out_full):
    """Reference: the benchmark's held_out_images(6, shape), recomputed from its literal settings."""
    images = held_out_small if shape == SMALL else held_out_full
    for image, (seed, psf, options) in zip(images[:6], BENCHMARK_PROBES):
        echogenicity, regions = ultrasound_phantom(shape, seed=seed, return_regions=True, **options)
        reference = simulate_ultrasound(echogenicity, seed=seed, dynamic_range=60.0,
                                        point_targets=regions["point_targets"], **psf)
        assert image["seed"] == seed
        assert np.array_equal(image["intensity"], reference["intensity"]), seed
        assert np.array_equal(image["blurred_echogenicity"], reference["blurred_echogenicity"]), seed
    assert len(held_out_ultrasound_set(6, shape=SMALL)) == 6


# Sum of the intensity at (97, 81), recorded with numpy 2.4.6 / scipy 1.17.1: seeds 1000-1005
# from benchmarks/baselines_ultrasound.py's held_out_images(6, (97, 81)) before its probes moved
# to s2v.datasets, seeds 1006-1007 from the first version of held_out_ultrasound_set.
PINNED_SUMS = {1000: 12487.841882558894, 1001: 13184.121199928559, 1002: 13039.68592237131,
               1003: 14971.593865603081, 1004: 13581.632154312967, 1005: 11320.220471022476,
               1006: 12213.140608993272, 1007: 13524.141713284334}


def test_held_out_intensities_are_pinned(held_out_small):
    """A change of phantom, PSF, simulator or seeding changes these sums (and the benchmark's numbers)."""
    for image in held_out_small:
        assert float(image["intensity"].astype(np.float64).sum()) == pytest.approx(
            PINNED_SUMS[image["seed"]], rel=1e-6), image["seed"]


@pytest.mark.parametrize("shape", [SMALL, (257, 193)])
def test_held_out_regions_are_non_empty(shape, held_out_small, held_out_full):
    images = held_out_small if shape == SMALL else held_out_full
    for image in images:
        regions = image["regions"]
        for name in ("anechoic", "hyperechoic", "background", "homogeneous"):
            assert regions[name].shape == shape and regions[name].sum() > 0, (image["seed"], name)
        for cyst in regions["cysts"]:
            assert cyst["inside"].sum() > 0 and cyst["background"].sum() > 0, (image["seed"], cyst["kind"])
            assert not np.any(cyst["inside"] & cyst["background"])


def test_held_out_regions_show_the_contrast_of_the_ground_truth(held_out_full):
    """At 257 x 193 every structure is resolved by every probe (at 97 x 81 the smallest
    cysts are not, for the 2.5 and 3 MHz probes)."""
    for image in held_out_full:
        truth = image["blurred_echogenicity"]
        for cyst in image["regions"]["cysts"]:
            ratio = truth[cyst["inside"]].mean() / truth[cyst["background"]].mean()
            if cyst["kind"] in ("anechoic", "hypoechoic"):
                assert ratio < 0.5, (image["seed"], cyst["kind"], ratio)
            else:
                assert ratio > 1.3, (image["seed"], cyst["kind"], ratio)
        # The homogeneous band is at the organ level (1) in the ground truth.
        assert truth[image["regions"]["homogeneous"]].mean() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("count", [0, 9, -1, 2.5, True, "all"])
def test_held_out_set_rejects_bad_count(count):
    with pytest.raises(ValueError, match="count"):
        held_out_ultrasound_set(count, shape=SMALL)


def test_held_out_set_count_and_small_shape():
    first = held_out_ultrasound_set(2, shape=SMALL)
    assert [im["seed"] for im in first] == [1000, 1001]
    with pytest.raises(ValueError, match="shape"):
        held_out_ultrasound_set(shape=(40, 40))


def test_held_out_set_refuses_an_empty_region(monkeypatch):
    import s2v.simulate

    real = s2v.simulate.vessel_phantom

    def vessel_phantom_with_an_empty_background(*args, **kwargs):
        echogenicity, regions = real(*args, **kwargs)
        regions["cysts"][1]["background"] = np.zeros_like(regions["cysts"][1]["background"])
        return echogenicity, regions

    monkeypatch.setattr(s2v.simulate, "vessel_phantom", vessel_phantom_with_an_empty_background)
    with pytest.raises(ValueError, match=r"cyst 1 \(anechoic\) background of seed 1006 is empty"):
        held_out_ultrasound_set(shape=SMALL)


def test_randomised_set_varies_phantom_probe_and_correlation():
    """Training that generalises: both phantom types, probes over the wide ranges, strides 1-8."""
    from s2v.datasets import RANDOMISED_PROBE_RANGES, randomised_ultrasound_set
    from s2v.strides import stride_from_correlation

    images = randomised_ultrasound_set(12, seed=0, shape=(129, 97))
    again = randomised_ultrasound_set(2, seed=1, shape=(129, 97))
    np.testing.assert_array_equal(images[1]["intensity"], again[0]["intensity"])  # per seed
    assert {image["phantom"] for image in images} == {"cysts", "vessels"}
    frequencies = [image["params"]["center_frequency"] for image in images]
    low, high = RANDOMISED_PROBE_RANGES["center_frequency"]
    assert low <= min(frequencies) and max(frequencies) <= high and max(frequencies) / min(frequencies) > 2
    assert any(image["params"]["demodulation_frequency"] < image["params"]["center_frequency"] for image in images)
    strides = {stride_from_correlation(image["intensity"]) for image in images}
    assert len(strides) >= 3
    for image in images:
        assert image["intensity"].shape == (129, 97) and np.all(np.isfinite(image["intensity"]))
        mean_ratio = image["intensity"].mean() / image["blurred_echogenicity"].mean()
        assert 0.8 < mean_ratio < 1.25  # the ground truth is the expected intensity


def _outside_randomised(probe) -> list[str]:
    """Names of the RANDOMISED_PROBE_RANGES bounds that a probe table entry breaks."""
    ranges, psf, options = RANDOMISED_PROBE_RANGES, probe["psf"], probe["phantom_options"]
    values = {"center_frequency": psf["center_frequency"],
              "fractional_bandwidth": psf["fractional_bandwidth"],
              "lateral_beam_width": psf["lateral_beam_width"],
              "lateral_pixel_size": psf.get("pixel_size", (0.05e-3, 0.1e-3))[1],
              "residual_carrier": psf["center_frequency"] - psf.get("demodulation_frequency", psf["center_frequency"]),
              "texture": options.get("texture", 0.3), "hyperechoic_db": options.get("hyperechoic_db", 6.0)}
    broken = [k for k, v in values.items() if not ranges[k][0] <= v <= ranges[k][1]]
    if values["residual_carrier"] == 0:  # no carrier is inside (70 % of the training images)
        broken.remove("residual_carrier")
    return broken


def test_extrapolation_probes_break_a_randomised_training_bound():
    assert len(EXTRAPOLATION_PROBES) == 8
    for probe in EXTRAPOLATION_PROBES:
        assert _outside_randomised(probe), probe["name"]
    # Every held-out probe of the first table is inside the randomised ranges (why this set exists).
    assert not any(_outside_randomised(p) for p in HELD_OUT_PROBES if "pixel_size" not in p["psf"])
    seeds = {p["seed"] for p in EXTRAPOLATION_PROBES}
    assert seeds == set(range(2000, 2008))
    assert not seeds & {p["seed"] for p in HELD_OUT_PROBES}


def test_extrapolation_set_is_deterministic_and_follows_its_table():
    first = extrapolation_ultrasound_set(2, shape=SMALL)
    again = extrapolation_ultrasound_set(2, shape=SMALL)
    assert [im["seed"] for im in first] == [2000, 2001]
    assert np.array_equal(first[1]["intensity"], again[1]["intensity"])
    # 1.5 MHz with a 2 mm beam gives a much coarser speckle than 15 MHz with 0.2 mm.
    assert first[0]["params"]["axial_sigma_px"] > 5 * first[1]["params"]["axial_sigma_px"]
    assert first[0]["params"]["lateral_sigma_px"] > 5 * first[1]["params"]["lateral_sigma_px"]
    with pytest.raises(ValueError, match="count must be"):
        extrapolation_ultrasound_set(9)


def test_randomised_reflectors_change_only_the_echogenicity_and_leave_the_regions():
    """The reflector option draws from its own generator: probes and phantoms stay those of the seed."""
    from s2v.datasets import randomised_ultrasound_set

    plain = randomised_ultrasound_set(3, seed=0, shape=(129, 97))
    with_reflectors = randomised_ultrasound_set(3, seed=0, shape=(129, 97), reflectors=True)
    for a, b in zip(plain, with_reflectors):
        probe = {k: v for k, v in a["params"].items() if k != "bmode_reference"}  # the maximum moves
        assert probe == {k: v for k, v in b["params"].items() if k != "bmode_reference"}
        assert a["phantom"] == b["phantom"]
        brighter = b["echogenicity"] > a["echogenicity"] * 10 ** 0.1
        assert brighter.any()
        assert (b["echogenicity"] / a["echogenicity"]).max() >= 10 ** 1.5  # +15 dB at least, somewhere
        for cyst in b["regions"]["cysts"]:
            assert not (cyst["background"] & brighter).any() and not (cyst["inside"] & brighter).any()
        assert not (b["regions"]["homogeneous"] & brighter).any()


def test_scanner_set_exports_the_randomised_phantoms_with_reflectors():
    """scanner_ultrasound_set: the phantoms and probes of randomised_ultrasound_set(reflectors=True)
    for the same seeds, each with an 8-bit scanner export of its own display dynamic range."""
    from s2v.datasets import randomised_ultrasound_set, scanner_ultrasound_set

    scanner = scanner_ultrasound_set(2, seed=600, shape=(129, 97))
    plain = randomised_ultrasound_set(2, seed=600, shape=(129, 97), reflectors=True)
    ranges = []
    for exported, original in zip(scanner, plain):
        np.testing.assert_array_equal(exported["intensity"], original["intensity"])
        export = exported["scanner"]
        assert export["bmode"].dtype == np.uint8 and export["intensity"].shape == (129, 97)
        assert 45.0 <= export["params"]["dynamic_range"] <= 85.0
        assert export["reference_intensity"].shape == (129, 97)
        ranges.append(export["params"]["dynamic_range"])
    assert ranges[0] != ranges[1]
    again = scanner_ultrasound_set(1, seed=600, shape=(129, 97))[0]["scanner"]
    np.testing.assert_array_equal(again["bmode"], scanner[0]["scanner"]["bmode"])

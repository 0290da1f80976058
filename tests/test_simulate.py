"""Tests of s2v.simulate: speckle statistics against their closed forms.

Tolerances are stated next to each check; Monte-Carlo ones are set at about 4-6 standard
errors of the estimate for the sample size used, so the seeded tests are far from flaky.
"""

import numpy as np
import pytest
from scipy import ndimage, stats

from s2v.simulate import (
    gamma_speckle,
    simulate_correlated_slc,
    simulate_ultrasound,
    synthetic_protocol_pair,
    synthetic_protocol_set,
    ultrasound_phantom,
    ultrasound_psf,
    vessel_phantom,
)

# Rayleigh amplitude: mean / std = sqrt(pi / (4 - pi)) (Goodman, Speckle Phenomena in Optics, 2007).
RAYLEIGH_SNR = np.sqrt(np.pi / (4 - np.pi))


def lag1_correlation(z, axis):
    """Sample correlation coefficient E[z(n+1) conj z(n)] / E|z|^2 of a zero-mean field."""
    z = np.moveaxis(np.asarray(z, dtype=np.complex128), axis, 0)
    return np.sum(z[1:] * np.conj(z[:-1])) / np.sqrt(np.sum(np.abs(z[1:]) ** 2) * np.sum(np.abs(z[:-1]) ** 2))


def lag1_correlation_real(x, axis):
    """Pearson correlation of neighbours along ``axis`` of a real image (mean removed)."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    return np.corrcoef(x[1:].ravel(), x[:-1].ravel())[0, 1]


# ---------------------------------------------------------------------------------------------
# Gamma speckle and the synthetic protocol
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("looks", [1.0, 2.5, 4.0, 16.0])
def test_gamma_speckle_moments_and_distribution(looks):
    clean = np.ones((301, 333), np.float32)  # ~1e5 samples
    noisy = gamma_speckle(clean, looks, seed=7)
    # Mean: standard error sqrt(1 / (L n)) <= 0.0032; tolerance 0.015.
    assert abs(noisy.mean() - 1.0) < 0.015
    # Variance: relative standard error sqrt((2 + 6 / L) / n) <= 0.009; tolerance 5 %.
    assert noisy.var() == pytest.approx(1.0 / looks, rel=0.05)
    # Reference distribution: scipy.stats.gamma(a=L, scale=1/L), KS test on a subsample.
    assert stats.kstest(noisy.ravel()[:5000], stats.gamma(a=looks, scale=1.0 / looks).cdf).pvalue > 1e-3


def test_gamma_speckle_is_multiplicative_seeded_and_keeps_dtype(rng):
    clean = rng.uniform(0.1, 2.0, size=(33, 41)).astype(np.float32)
    noisy = gamma_speckle(clean, 3.0, seed=5)
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape
    np.testing.assert_array_equal(noisy, gamma_speckle(clean, 3.0, seed=5))
    np.testing.assert_allclose(gamma_speckle(2 * clean, 3.0, seed=5), 2 * noisy, rtol=1e-6)
    assert not np.array_equal(noisy, gamma_speckle(clean, 3.0, seed=6))
    assert gamma_speckle(clean.astype(np.float64), seed=1).dtype == np.float64
    assert np.all(gamma_speckle(np.zeros((5, 5)), seed=1) == 0)


@pytest.mark.parametrize(
    "clean, looks, message",
    [
        (-np.ones((4, 4)), 1.0, "non-negative"),
        (np.full((4, 4), np.nan), 1.0, "NaN"),
        (np.ones((4, 4)), 0.0, "looks"),
        (np.ones((4, 4)), np.inf, "looks"),
        (np.ones((4, 4), complex), 1.0, "real-valued"),
    ],
)
def test_gamma_speckle_rejects_bad_input(clean, looks, message):
    with pytest.raises(ValueError, match=message):
        gamma_speckle(clean, looks, seed=0)


def test_synthetic_protocol_pair_uses_the_literature_scaling(rng):
    gray = rng.integers(0, 256, size=(31, 37)).astype(np.uint8)
    gray[0, :2] = (0, 255)
    clean, noisy = synthetic_protocol_pair(gray, looks=1, seed=3)
    assert clean.dtype == noisy.dtype == np.float32
    np.testing.assert_allclose(clean, ((gray.astype(np.float64) + 1) / 256) ** 2, rtol=1e-6)
    assert clean[0, 0] == pytest.approx(1 / 256**2) and clean[0, 1] == 1.0
    np.testing.assert_array_equal(noisy, gamma_speckle(clean, 1, seed=3))


@pytest.mark.parametrize(
    "gray, message",
    [(np.full((4, 4), 0.5), "integer"), (np.full((4, 4), 256), "0..255"), (np.zeros((2, 4, 4), np.uint8), "2-D")],
)
def test_synthetic_protocol_pair_rejects_non_8bit(gray, message):
    with pytest.raises(ValueError, match=message):
        synthetic_protocol_pair(gray)


def test_synthetic_protocol_set_is_complete_and_order_independent(rng):
    images = {"01": rng.integers(0, 256, (15, 17)).astype(np.uint8), "02": rng.integers(0, 256, (9, 11)).astype(np.uint8)}
    pairs = list(synthetic_protocol_set(images, realisations=3, seed=4))
    assert [(p["name"], p["realisation"]) for p in pairs] == [(n, r) for n in ("01", "02") for r in range(3)]
    assert not np.array_equal(pairs[0]["noisy_intensity"], pairs[1]["noisy_intensity"])
    # Any pair can be regenerated alone from SeedSequence([seed, image index, realisation]).
    alone = synthetic_protocol_pair(images["02"], seed=np.random.default_rng(np.random.SeedSequence([4, 1, 2])))
    np.testing.assert_array_equal(alone[1], pairs[5]["noisy_intensity"])
    assert [p["name"] for p in synthetic_protocol_set([images["01"]], realisations=1)] == ["00"]


# ---------------------------------------------------------------------------------------------
# Ultrasound
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def homogeneous_ultrasound():
    return simulate_ultrasound(np.ones((385, 383), np.float32), seed=11)


def test_ultrasound_envelope_snr_is_rayleigh(homogeneous_ultrasound):
    envelope = homogeneous_ultrasound["envelope"]
    # Fully developed speckle: envelope SNR 1.913 (Rayleigh); tolerance +-0.1 (issue 3).
    assert envelope.mean() / envelope.std() == pytest.approx(RAYLEIGH_SNR, abs=0.1)


def test_ultrasound_intensity_mean_equals_echogenicity(homogeneous_ultrasound):
    intensity = homogeneous_ultrasound["intensity"]
    # ~147k pixels / ~31 pixels per speckle cell -> standard error ~1.5 %; tolerance 5 %.
    assert intensity.mean() == pytest.approx(1.0, rel=0.05)
    np.testing.assert_allclose(homogeneous_ultrasound["blurred_echogenicity"], 1.0, rtol=1e-5)


def test_ultrasound_speckle_is_correlated_as_the_psf_predicts(homogeneous_ultrasound):
    iq, params = homogeneous_ultrasound["iq"], homogeneous_ultrasound["params"]
    for axis, key in ((0, "rho_iq_axial"), (1, "rho_iq_lateral")):
        measured = lag1_correlation(iq, axis)
        # Issue 3: lag-1 correlation above 0.5 on both axes with default parameters.
        assert abs(measured) > 0.5
        # Gaussian PSF: rho = exp(-1 / (4 sigma^2)); over 20 seeds the estimate scatters by
        # 0.001, tolerance 0.01.
        assert abs(measured - params[key]) < 0.01
        # Intensity correlation of circular Gaussian speckle is |rho_iq|^2 (Siegert relation);
        # seed-to-seed scatter 0.002, tolerance 0.02.
        assert lag1_correlation_real(homogeneous_ultrasound["intensity"], axis) == pytest.approx(
            params[key] ** 2, abs=0.02
        )


def test_ultrasound_outputs_types_and_bmode(homogeneous_ultrasound):
    out = homogeneous_ultrasound
    assert out["iq"].dtype == np.complex64 and out["iq"].shape == (385, 383)
    for key in ("envelope", "intensity", "bmode_db", "echogenicity", "blurred_echogenicity"):
        assert out[key].dtype == np.float32 and out[key].shape == (385, 383), key
    np.testing.assert_allclose(out["intensity"], np.abs(out["iq"]) ** 2, rtol=1e-5)
    assert out["bmode"].dtype == np.uint8 and out["bmode"].max() == 255
    assert out["bmode_db"].max() == pytest.approx(0.0, abs=1e-4) and out["bmode_db"].min() >= -60.0
    assert np.sum(np.abs(out["psf"]) ** 2) == pytest.approx(1.0, rel=1e-5)


def test_ultrasound_is_deterministic_for_a_seed():
    a = simulate_ultrasound(shape=(65, 71), seed=3)
    b = simulate_ultrasound(shape=(65, 71), seed=3)
    c = simulate_ultrasound(shape=(65, 71), seed=4)
    np.testing.assert_array_equal(a["iq"], b["iq"])
    np.testing.assert_array_equal(a["echogenicity"], b["echogenicity"])
    assert not np.array_equal(a["iq"], c["iq"])


def test_ultrasound_psf_matches_the_physical_widths():
    # Fine grid so the sampled FWHM is accurate. Axial FWHM of the envelope of a Gaussian
    # pulse-echo spectrum with -6 dB width B: (c / 2) * 4 ln2 / (pi B) = 0.2265 mm here.
    psf, info = ultrasound_psf(pixel_size=(0.002e-3, 0.01e-3))
    expected_axial = 1540 / 2 * 4 * np.log(2) / (np.pi * 0.6 * 5e6)
    assert info["axial_fwhm"] == pytest.approx(expected_axial, rel=1e-6)
    center = np.array(psf.shape) // 2
    profile_axial = np.abs(psf[:, center[1]])
    profile_lateral = np.abs(psf[center[0], :])
    axial_fwhm = np.sum(profile_axial >= profile_axial.max() / 2) * 0.002e-3
    lateral_fwhm = np.sum(profile_lateral >= profile_lateral.max() / 2) * 0.01e-3
    assert axial_fwhm == pytest.approx(expected_axial, rel=0.02)
    assert lateral_fwhm == pytest.approx(0.6e-3, rel=0.02)
    # Demodulating 0.5 MHz below the centre leaves a carrier of 0.5 MHz two-way along depth.
    psf, _ = ultrasound_psf(demodulation_frequency=4.5e6)
    row, col = np.array(psf.shape) // 2
    step = np.angle(psf[row + 1, col] / psf[row, col])
    assert step == pytest.approx(2 * np.pi * 0.5e6 * 2 * 0.05e-3 / 1540, rel=1e-4)


def test_simulate_ultrasound_has_the_psf_defaults():
    """The PSF keywords repeat in both public signatures: the defaults must stay the same."""
    import inspect

    psf = inspect.signature(ultrasound_psf).parameters
    simulator = inspect.signature(simulate_ultrasound).parameters
    shared = [name for name in psf if name != "truncation"]
    assert shared and all(simulator[name].default == psf[name].default for name in shared)


def test_ultrasound_blurred_echogenicity_is_the_expected_intensity():
    # A lateral step 1 -> 4; the column profile of the intensity, averaged over rows and
    # realisations (~600 independent samples per column, standard error ~4 %), follows the
    # blurred echogenicity to 20 % everywhere, including the transition.
    echogenicity = np.ones((512, 40), np.float32)
    echogenicity[:, 20:] = 4.0
    runs = [simulate_ultrasound(echogenicity, seed=s) for s in range(8)]
    profile = np.mean([r["intensity"].mean(axis=0) for r in runs], axis=0)
    truth = runs[0]["blurred_echogenicity"].mean(axis=0)
    assert 1.0 < truth[20] < 4.0 and truth[0] == pytest.approx(1.0) and truth[-1] == pytest.approx(4.0)
    np.testing.assert_allclose(profile, truth, rtol=0.2)


@pytest.mark.parametrize("shape", [(65, 71), (32, 96), (512, 512)])
def test_phantom_regions_are_disjoint_for_any_shape(shape):
    echogenicity, regions = ultrasound_phantom(shape, seed=1, return_regions=True)
    assert echogenicity.shape == shape
    names = ("anechoic", "hyperechoic", "background", "homogeneous")
    for i, a in enumerate(names):
        assert regions[a].sum() > 0, a
        for b in names[i + 1 :]:
            assert not np.any(regions[a] & regions[b]), (a, b)


def test_phantom_regions_and_contrast():
    echogenicity, regions = ultrasound_phantom((257, 193), seed=2, return_regions=True)
    assert echogenicity.dtype == np.float32 and echogenicity.shape == (257, 193) and echogenicity.min() > 0
    for name in ("anechoic", "hyperechoic", "background", "homogeneous"):
        assert regions[name].dtype == bool and regions[name].sum() > 300, name
    assert len(regions["cysts"]) == 6 and len({round(c["radius"], 3) for c in regions["cysts"]}) == 3
    np.testing.assert_allclose(echogenicity[regions["homogeneous"]], 1.0)
    np.testing.assert_allclose(echogenicity[regions["anechoic"]], 1e-4)
    np.testing.assert_allclose(echogenicity[regions["hyperechoic"]], 10 ** 0.6, rtol=1e-6)
    # Texture is on by default in the organ and off with texture=0.
    assert echogenicity[regions["background"]].std() > 0.05
    flat = ultrasound_phantom((257, 193), seed=2, texture=0)
    assert np.all(flat[regions["background"]] == 1.0)


def test_simulated_phantom_shows_cysts_and_point_targets():
    out = simulate_ultrasound(shape=(257, 193), seed=5)
    intensity, regions = out["intensity"], out["regions"]
    background = intensity[regions["background"]].mean()
    assert intensity[regions["anechoic"]].mean() < 0.05 * background
    assert intensity[regions["hyperechoic"]].mean() > 2 * background
    # Point targets are deterministic reflectors 30 dB above the organ: their pixel is always
    # far above the mean speckle intensity (expected ~65 x for the default PSF).
    targets = out["point_targets"]
    assert len(targets) == 4
    assert np.all(intensity[targets[:, 0], targets[:, 1]] > 20 * background)


def test_simulate_ultrasound_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        simulate_ultrasound(-np.ones((20, 20)), seed=0)
    with pytest.raises(ValueError, match="center_frequency"):
        simulate_ultrasound(np.ones((20, 20)), center_frequency=0, seed=0)
    with pytest.raises(ValueError, match="point_targets"):
        simulate_ultrasound(np.ones((20, 20)), point_targets=[[25, 3]], seed=0)
    with pytest.raises(ValueError, match="shape"):
        ultrasound_phantom((10, 40))


# ---------------------------------------------------------------------------------------------
# Vessel phantom (a second layout, for held-out evaluation)
# ---------------------------------------------------------------------------------------------
def _structure_angle(mask):
    """Angle (degrees from horizontal, sign dropped) of the principal axis of a mask's pixels."""
    rows, cols = np.nonzero(mask)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(np.stack([rows, cols]).astype(float)))
    d_row, d_col = eigenvectors[:, np.argmax(eigenvalues)]
    return np.degrees(np.arctan(abs(d_row / d_col)))


def test_vessel_phantom_is_deterministic_for_a_seed():
    a, regions_a = vessel_phantom((97, 81), seed=3, return_regions=True)
    b, regions_b = vessel_phantom((97, 81), seed=3, return_regions=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(regions_a["point_targets"], regions_b["point_targets"])
    for ca, cb in zip(regions_a["cysts"], regions_b["cysts"]):
        assert ca["center"] == cb["center"] and np.array_equal(ca["inside"], cb["inside"])
    assert not np.array_equal(a, vessel_phantom((97, 81), seed=4))
    np.testing.assert_array_equal(a, vessel_phantom((97, 81), seed=np.random.default_rng(3)))


@pytest.mark.parametrize("shape", [(97, 81), (131, 257), (257, 193), (257, 97), (80, 80)])
def test_vessel_phantom_regions_are_non_empty_and_disjoint(shape):
    echogenicity, regions = vessel_phantom(shape, seed=7, return_regions=True)
    assert echogenicity.shape == shape and echogenicity.dtype == np.float32 and echogenicity.min() > 0
    assert set(regions) == {"anechoic", "hyperechoic", "background", "homogeneous", "cysts", "point_targets", "layers"}
    names = ("anechoic", "hyperechoic", "background", "homogeneous")
    for i, a in enumerate(names):
        assert regions[a].dtype == bool and regions[a].shape == shape and regions[a].sum() > 0, a
        for b in names[i + 1:]:
            assert not np.any(regions[a] & regions[b]), (a, b)
    assert regions["layers"].dtype == np.int8 and np.all(regions["layers"] == 2)
    cysts = regions["cysts"]
    assert [c["kind"] for c in cysts] == ["anechoic", "anechoic", "hypoechoic", "hyperechoic"]
    insides = np.any([c["inside"] for c in cysts], axis=0)
    for c in cysts:
        assert c["inside"].sum() > 0 and c["background"].sum() > 0, c["kind"]
        # No background pixel lies inside any structure, the band or on a point target.
        assert not np.any(c["background"] & insides) and not np.any(c["background"] & regions["homogeneous"])
        assert not np.any(c["background"][tuple(regions["point_targets"].T)])
        assert c["inside"][int(round(c["center"][0])), int(round(c["center"][1]))]
    np.testing.assert_array_equal(regions["anechoic"], cysts[0]["inside"] | cysts[1]["inside"])
    np.testing.assert_array_equal(regions["hyperechoic"], cysts[3]["inside"])


def test_vessel_phantom_levels_and_point_targets():
    echogenicity, regions = vessel_phantom((257, 193), seed=2, texture=0.0, point_target_db=20.0,
                                           return_regions=True)
    cysts = regions["cysts"]
    np.testing.assert_allclose(echogenicity[regions["anechoic"]], 1e-4)
    np.testing.assert_allclose(echogenicity[cysts[2]["inside"]], 0.1, rtol=1e-6)  # -10 dB
    np.testing.assert_allclose(echogenicity[regions["hyperechoic"]], 10 ** 0.6, rtol=1e-6)  # +6 dB
    np.testing.assert_allclose(echogenicity[regions["homogeneous"]], 1.0)
    points = regions["point_targets"]
    assert points.dtype == np.int64 and points.shape == (6, 2)
    np.testing.assert_allclose(echogenicity[tuple(points.T)], 100.0, rtol=1e-6)  # 20 dB above the organ
    # A 2 x 3 grid: two depths, three lateral positions, every (depth, lateral) pair present.
    depths, laterals = np.unique(points[:, 0]), np.unique(points[:, 1])
    assert len(depths) == 2 and len(laterals) == 3
    assert {tuple(p) for p in points} == {(d, c) for d in depths for c in laterals}
    # Without texture, the organ is exactly 1: every other pixel is a structure, and the
    # point targets are at least 5 px from all of them.
    structure = echogenicity != 1.0
    structure[tuple(points.T)] = False
    distance = ndimage.distance_transform_edt(~structure)
    assert distance[tuple(points.T)].min() >= 5
    # Default texture: a textured organ; the same seed without texture has the same layout.
    textured, regions_textured = vessel_phantom((257, 193), seed=2, point_target_db=20.0, return_regions=True)
    assert textured[regions["background"]].std() > 0.05
    np.testing.assert_array_equal(regions_textured["point_targets"], points)
    np.testing.assert_allclose(textured[tuple(points.T)], 100.0, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_vessel_phantom_vessels_are_oblique_apart_and_of_the_stated_width(seed):
    shape = (257, 193)
    echogenicity, regions = vessel_phantom(shape, seed=seed, return_regions=True)
    labels, count = ndimage.label(echogenicity == np.float32(1e-4), structure=np.ones((3, 3)))
    assert count == 2  # two vessels that never touch
    vessels = sorted((labels == k for k in (1, 2)), key=lambda m: np.nonzero(m)[0].mean())
    angles = [_structure_angle(v) for v in vessels]
    # Drawn in 10-35 degrees, at least 5 apart (PCA of a clipped band: +-1.5 degrees).
    assert all(8.5 < a < 36.5 for a in angles) and abs(angles[0] - angles[1]) > 3.5
    # The thin vessel lies above the thick one at every column where both are present.
    for col in range(shape[1]):
        a, b = np.nonzero(vessels[0][:, col])[0], np.nonzero(vessels[1][:, col])[0]
        if a.size and b.size:
            assert a.max() < b.min()
    small = min(shape)
    for cyst, fraction in zip(regions["cysts"][:2], (0.03, 0.05)):
        assert cyst["radius"] == pytest.approx(fraction * small)
        # Inside: 0.8 half-width either side of the axis over 8 half-widths: area 12.8 hw^2.
        assert cyst["inside"].sum() == pytest.approx(12.8 * cyst["radius"] ** 2, rel=0.15)


def test_vessel_phantom_lesions_are_irregular_and_of_the_stated_size():
    echogenicity, regions = vessel_phantom((513, 513), seed=5, texture=0.0, return_regions=True)
    for cyst, level in zip(regions["cysts"][2:], (0.1, 10 ** 0.6)):
        lesion = np.isclose(echogenicity, level, rtol=1e-6)
        # Mean radius 6 % of the smaller side; area pi r0^2 (1 + sum a_k^2 / 2) within 10 %.
        assert cyst["radius"] == pytest.approx(0.06 * 513)
        assert lesion.sum() == pytest.approx(np.pi * cyst["radius"] ** 2, rel=0.1)
        edge = lesion & ~ndimage.binary_erosion(lesion)
        rows, cols = np.nonzero(edge)
        radii = np.hypot(rows - cyst["center"][0], cols - cyst["center"][1])
        # A pixelised disc of this radius scatters by ~0.01 r0; the harmonics by >= 0.037 r0.
        assert radii.std() / cyst["radius"] > 0.025


def test_vessel_phantom_regions_work_with_the_simulator():
    echogenicity, regions = vessel_phantom((257, 193), seed=8, return_regions=True)
    out = simulate_ultrasound(echogenicity, point_targets=regions["point_targets"], seed=8)
    intensity = out["intensity"]
    background = intensity[regions["background"]].mean()
    assert intensity[regions["anechoic"]].mean() < 0.1 * background
    assert intensity[regions["hyperechoic"]].mean() > 2 * background
    hypo = regions["cysts"][2]
    assert intensity[hypo["inside"]].mean() < 0.4 * intensity[hypo["background"]].mean()
    points = regions["point_targets"]
    assert np.all(intensity[tuple(points.T)] > 20 * background)


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": (64, 200)}, "shape"),
    ({"shape": "big"}, "shape"),
    ({"texture": -0.1}, "texture"),
    ({"texture": np.nan}, "texture"),
    ({"anechoic_level": 0.0}, "anechoic_level"),
    ({"anechoic_level": 1.5}, "anechoic_level"),
    ({"point_target_db": np.inf}, "point_target_db"),
])
def test_vessel_phantom_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vessel_phantom(**{"shape": (97, 81), **kwargs})


# ---------------------------------------------------------------------------------------------
# Correlated SAR-like SLC
# ---------------------------------------------------------------------------------------------
def test_slc_spectrum_support_matches_the_window():
    out = simulate_correlated_slc(
        shape=(127, 96), window_fraction=(0.7, 0.5), frequency_shift=(0.3, -0.5), seed=1
    )
    params = out["params"]
    assert params["window_fraction"] == pytest.approx((0.7, 0.5), abs=1.0 / 96)
    assert params["frequency_shift"] == pytest.approx((0.3, -0.5), abs=1.0 / 96)
    assert params["center_frequency_cycles_per_pixel"] == pytest.approx((0.15, -0.25), abs=0.5 / 96)
    power = np.abs(np.fft.fft2(out["slc"])) ** 2
    in_band = out["transfer_function"] > 0
    assert in_band.sum() == params["window_bins"][0] * params["window_bins"][1]
    # Exactly band-limited: out-of-band power is float32 round-off only.
    assert power[~in_band].max() < 1e-8 * power.max()
    assert power[in_band].min() > 0
    # Measured band centre (power-weighted mean frequency, circular) matches the shift.
    for axis, fy in ((0, np.fft.fftfreq(127)), (1, np.fft.fftfreq(96))):
        marginal = power.sum(axis=1 - axis)
        centre = np.angle(np.sum(marginal * np.exp(2j * np.pi * fy))) / (2 * np.pi)
        assert centre == pytest.approx(params["center_frequency_cycles_per_pixel"][axis], abs=0.01)


def test_slc_is_demodulated_by_the_reference_convention():
    # Multiplying by exp(-1j*pi*(m_y*row + m_x*col)) (the reference MATLAB exp(-1i*pi*m*n))
    # brings the band back to zero frequency: the lag-1 correlation becomes real.
    out = simulate_correlated_slc(shape=(128, 128), frequency_shift=(0.25, -0.4), seed=2)
    m_y, m_x = out["params"]["frequency_shift"]
    rows, cols = np.mgrid[:128, :128]
    centred = out["slc"] * np.exp(-1j * np.pi * (m_y * rows + m_x * cols))
    for axis in (0, 1):
        rho = lag1_correlation(centred, axis)
        assert abs(rho.imag) < 0.02 and rho.real > 0.5


def test_slc_mean_intensity_and_correlation():
    out = simulate_correlated_slc(shape=(256, 256), frequency_shift=(0.1, 0.0), seed=3)
    intensity = np.abs(out["slc"]) ** 2
    # ~65k pixels, a few pixels per speckle cell -> standard error < 1 %; tolerance 3 %.
    assert intensity.mean() == pytest.approx(1.0, rel=0.03)
    np.testing.assert_allclose(out["expected_intensity"], 1.0, rtol=1e-5)
    for axis, key in ((0, "rho_y"), (1, "rho_x")):
        # Theory: normalised DFT of |W|^2 at lag 1; Monte-Carlo tolerance 0.03.
        assert abs(lag1_correlation(out["slc"], axis) - out["params"][key]) < 0.03
    assert abs(out["params"]["rho_x"]) > 0.3  # hamming over 80 % of the band: correlated


def test_slc_whitening_recovers_white_speckle_on_the_clean_scene(rng):
    # The clean intensity is the ground truth of the decorrelated image: dividing by the
    # transfer function (full band, non-vanishing hamming) leaves white Gamma(1) speckle.
    clean = rng.uniform(0.5, 2.0, size=(96, 80)).astype(np.float32)
    out = simulate_correlated_slc(clean, window_fraction=1.0, seed=4)
    assert np.mean(out["expected_intensity"]) == pytest.approx(np.mean(clean), rel=1e-5)
    white = np.fft.ifft2(np.fft.fft2(out["slc"]) / out["transfer_function"])
    for axis in (0, 1):
        assert abs(lag1_correlation(white, axis)) < 0.03
    ratio = np.abs(white) ** 2 / clean
    assert ratio.mean() == pytest.approx(1.0, abs=0.03) and ratio.var() == pytest.approx(1.0, rel=0.1)


def test_slc_point_targets_and_determinism():
    out = simulate_correlated_slc(shape=(96, 97), point_targets=5, seed=8)
    targets = out["point_targets"]
    assert targets.shape == (5, 2) and targets.min() >= 8
    assert np.all(targets[:, 0] < 88) and np.all(targets[:, 1] < 89)
    intensity = np.abs(out["slc"]) ** 2
    assert np.all(intensity[targets[:, 0], targets[:, 1]] > 30 * np.median(intensity))
    np.testing.assert_array_equal(out["slc"], simulate_correlated_slc(shape=(96, 97), point_targets=5, seed=8)["slc"])
    assert not np.array_equal(out["slc"], simulate_correlated_slc(shape=(96, 97), point_targets=5, seed=9)["slc"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"window_fraction": 0.0}, "window_fraction"),
        ({"window_fraction": (0.5, 1.5)}, "window_fraction"),
        ({"frequency_shift": (2.0, 0.0)}, "frequency_shift"),
        ({"taper": "no-such-window"}, "taper"),
        ({"clean_intensity": -np.ones((8, 8))}, "non-negative"),
        ({"shape": (8,)}, "shape"),
        ({"point_targets": -1}, "point_targets"),
    ],
)
def test_simulate_correlated_slc_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_correlated_slc(**kwargs)


def test_pymust_simulation_has_correlated_speckle_and_point_target():
    pytest.importorskip("pymust", reason="optional physics simulator (pip install pymust)")
    from s2v.simulate import simulate_ultrasound_pymust

    echogenicity = np.ones((41, 41), np.float32)
    echogenicity[20, 20] = 1000.0
    out = simulate_ultrasound_pymust(
        echogenicity, point_targets=[[20, 20]], scatterer_density=150e6, margin=0.5e-3, seed=0
    )  # ~1400 scatterers, a few seconds
    assert out["iq"].dtype == np.complex64 and out["iq"].shape == (41, 41)
    assert out["bmode"].dtype == np.uint8 and out["params"]["center_frequency"] == 7.6e6
    intensity = out["intensity"]
    # The bright target wins over the speckle (interference may move the peak by one pixel).
    peak = np.unravel_index(np.argmax(intensity), intensity.shape)
    assert max(abs(peak[0] - 20), abs(peak[1] - 20)) <= 1 and intensity[peak] > 20 * np.median(intensity)
    # The beamformed response of the central scatterer peaks at the crop centre (DAS
    # interpolation leaves a ~3 % ripple on the top, so to within one pixel).
    psf_peak = np.unravel_index(np.argmax(np.abs(out["psf"])), out["psf"].shape)
    assert np.max(np.abs(np.array(psf_peak) - np.array(out["psf"].shape) // 2)) <= 1
    speckle = np.ones(intensity.shape, bool)
    speckle[12:29, 12:29] = False
    # Radiometry is calibrated at the centre; a few dozen speckle cells -> tolerance 40 %.
    assert intensity[speckle].mean() == pytest.approx(1.0, rel=0.4)
    for axis in (0, 1):
        assert abs(lag1_correlation(out["iq"], axis)) > 0.5


def test_specular_reflectors_brighten_thin_bands_by_the_drawn_level():
    from s2v.simulate import add_specular_reflectors

    echogenicity = ultrasound_phantom((129, 97), seed=4)
    bright, mask = add_specular_reflectors(echogenicity, count=3, level_db=(20.0, 20.0), thickness=2.0, seed=5)
    again, _ = add_specular_reflectors(echogenicity, count=3, level_db=(20.0, 20.0), thickness=2.0, seed=5)
    np.testing.assert_array_equal(bright, again)  # seeded
    gain_db = 10 * np.log10(bright.astype(np.float64) / echogenicity)
    # The centre line carries the full level, nothing is ever darkened or above it (float32 rounding).
    assert gain_db.max() == pytest.approx(20.0, abs=0.01) and gain_db.min() > -1e-5
    np.testing.assert_array_equal(mask, gain_db > 1.0)
    # Thin bands: each reflector covers at most (length <= 0.6 W) x (thickness + 2 px) pixels.
    assert 0 < mask.sum() <= 3 * 0.6 * 97 * 4
    rows_per_column = mask.sum(axis=0)
    assert rows_per_column.max() <= 3 * 8  # three bands of at most ~4-5 px across, tilted
    untouched, none = add_specular_reflectors(echogenicity, count=0, seed=5)
    np.testing.assert_array_equal(untouched, echogenicity)
    assert not none.any()
    with pytest.raises(ValueError, match="level_db"):
        add_specular_reflectors(echogenicity, level_db=(30.0, 10.0))
    with pytest.raises(ValueError, match="count"):
        add_specular_reflectors(echogenicity, count=-1)


def test_scanner_export_maps_intensity_and_truth_through_the_same_log_compression():
    """scanner_export: the user's intensity is (gain I / I_ref) ** (DR_a / DR) up to the 8-bit
    rounding, the ground truth goes through the same mapping, and the gain varies with depth."""
    from s2v.simulate import depth_gain, scanner_export

    rng = np.random.default_rng(3)
    truth = np.full((61, 47), 2.0, np.float32)
    noisy = (truth * rng.exponential(1.0, truth.shape)).astype(np.float32)
    out = scanner_export(noisy, truth, dynamic_range=80.0, seed=7)
    again = scanner_export(noisy, truth, dynamic_range=80.0, seed=7)
    np.testing.assert_array_equal(out["bmode"], again["bmode"])  # seeded
    assert out["bmode"].dtype == np.uint8 and out["params"]["dynamic_range"] == 80.0
    exponent = 60.0 / 80.0
    reference = out["params"]["reference"]
    expected = (noisy.astype(np.float64) * out["gain"] / reference) ** exponent
    visible = (out["bmode"] > 0) & (out["bmode"] < 255)  # clipped: below -80 dB, above the 99.9th percentile
    # One grey level is 80/255 dB of the scanner's scale, read as 60/255 dB: half of it is the rounding.
    error_db = np.abs(10 * np.log10(out["intensity"][visible] / expected[visible]))
    assert error_db.max() <= 0.5 * 60.0 / 255.0 + 1e-4
    np.testing.assert_allclose(out["reference_intensity"], (truth * out["gain"] / reference) ** exponent, rtol=1e-5)
    gain_db = 10 * np.log10(depth_gain((200, 30), near_field_db=(12.0, 12.0), near_field_depth=(0.1, 0.1),
                                       slope_db=(0.0, 0.0), lateral_db=(0.0, 0.0), seed=1))
    assert gain_db[0, 0] == pytest.approx(12.0 * np.exp(-0.5 / 200 / 0.1), abs=1e-3)
    assert gain_db[-1, 0] == pytest.approx(0.0, abs=0.01) and np.ptp(gain_db[:, 0]) > 11.0
    assert "reference_intensity" not in scanner_export(noisy, None, seed=1)
    flat = scanner_export(noisy, truth, gain=False, dynamic_range=(50.0, 50.0), seed=2)
    np.testing.assert_array_equal(flat["gain"], 1.0)
    with pytest.raises(ValueError, match="dynamic_range"):
        scanner_export(noisy, truth, dynamic_range=(80.0, 40.0))
    with pytest.raises(ValueError, match="same shape"):
        scanner_export(noisy, truth[:-1])

"""Tests of s2v.baselines: every filter despeckles simulated single-look speckle."""

import numpy as np
import pytest
from scipy import special

from s2v.baselines import BASELINES, denoise_lee, denoise_obnlm, denoise_srad, log_speckle_moments
from s2v.metrics import psnr, synthetic_protocol_scores, time_call

NAMES = sorted(BASELINES)


@pytest.fixture(scope="module")
def clean_intensity():
    """63x71 piecewise-smooth intensity: a ramp, a bright disc, a dark rectangle."""
    rows, cols = np.mgrid[0:63, 0:71]
    image = 0.05 + 0.3 * cols / 70.0
    image[(rows - 31) ** 2 + (cols - 20) ** 2 < 12**2] = 0.8
    image[40:58, 40:66] = 0.01
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def noisy_intensity(clean_intensity):
    rng = np.random.default_rng(7)
    return (clean_intensity * rng.gamma(1.0, 1.0, clean_intensity.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def estimates(noisy_intensity):
    """Every baseline's estimate of the single-look image (computed once)."""
    return {name: BASELINES[name](noisy_intensity, looks=1.0) for name in NAMES}


def test_registry_holds_the_contract_names():
    required = {"lee", "frost", "kuan", "srad", "obnlm", "nlm_log", "bm3d_log", "median", "boxcar"}
    assert required <= set(BASELINES)
    for name, func in BASELINES.items():
        assert func.__name__ == f"denoise_{name}"


@pytest.mark.parametrize("name", NAMES)
def test_baseline_improves_single_look_psnr(name, clean_intensity, noisy_intensity, estimates):
    # Single-look amplitude PSNR of the noisy image is about 12.6 dB here; every filter
    # (measured 21-24 dB) must gain at least 6 dB on the protocol's scale.
    before = synthetic_protocol_scores(clean_intensity, noisy_intensity)
    after = synthetic_protocol_scores(clean_intensity, estimates[name])
    assert after["psnr"] > before["psnr"] + 6.0
    assert after["ssim"] > before["ssim"]


@pytest.mark.parametrize("name", NAMES)
def test_baseline_keeps_shape_dtype_and_is_positive(name, noisy_intensity, estimates):
    estimate = estimates[name]
    assert estimate.shape == noisy_intensity.shape
    assert estimate.dtype == np.float32
    assert np.all(np.isfinite(estimate)) and estimate.min() >= 0
    assert BASELINES[name](noisy_intensity.astype(np.float64), looks=1.0).dtype == np.float64


@pytest.mark.parametrize("name", NAMES)
def test_baseline_is_unbiased_on_homogeneous_speckle(name, rng):
    # The ratio-image mean must stay near 1: a homogeneous area keeps its mean intensity.
    noisy = (0.3 * rng.gamma(2.0, 0.5, (63, 71))).astype(np.float32)
    estimate = BASELINES[name](noisy, looks=2.0)
    assert estimate.mean() == pytest.approx(noisy.mean(), rel=0.06)


@pytest.mark.parametrize("name", ["lee", "kuan", "frost"])
def test_adaptive_filters_keep_the_input_when_there_is_no_speckle(name, noisy_intensity):
    # With (almost) infinitely many looks the noise variation is 0: nothing to filter.
    np.testing.assert_allclose(BASELINES[name](noisy_intensity, looks=1e9), noisy_intensity, rtol=1e-4)


def test_srad_conserves_the_mean_and_smooths_with_time(noisy_intensity, clean_intensity):
    short = denoise_srad(noisy_intensity, n_iter=20)
    long = denoise_srad(noisy_intensity, n_iter=200)
    # divergence form with Neumann borders: the total intensity is conserved
    total = noisy_intensity.astype(np.float64).mean()
    assert long.astype(np.float64).mean() == pytest.approx(total, rel=1e-4)
    assert short.std() > long.std()
    amplitude = np.sqrt(clean_intensity)
    assert psnr(amplitude, np.sqrt(long), data_range=1) > psnr(amplitude, np.sqrt(short), data_range=1)


def test_obnlm_keeps_a_step_edge(rng):
    # A 10:1 step: the Pearson weights must not mix the two sides (a 15x15 mean would).
    clean = np.where(np.arange(71)[None, :] < 35, 0.05, 0.5) * np.ones((63, 1))
    noisy = clean * rng.gamma(4.0, 0.25, clean.shape)
    estimate = denoise_obnlm(noisy, looks=4.0)
    assert estimate[:, 28:33].mean() == pytest.approx(0.05, rel=0.25)
    assert estimate[:, 37:42].mean() == pytest.approx(0.5, rel=0.1)


def test_obnlm_matches_a_pixel_loop_reference(rng):
    # The vectorised filter against a direct transcription of Coupé et al.'s estimator (one
    # pixel, one neighbour, one patch at a time), on the interior where no padding is used.
    looks, radius, half, h, gamma = 2.0, 2, 1, 0.7, 0.5
    noisy = np.linspace(0.2, 1.0, 15)[None, :] * rng.gamma(looks, 1 / looks, (13, 15))
    log_image = np.log(noisy)
    low, high = np.percentile(log_image, [0.1, 99.9])
    bmode = 100 + 255 * np.clip((log_image - low) / (high - low), 0, 1)
    sigma_u = 255 * np.sqrt(special.polygamma(1, looks)) / (high - low)
    mean_distance = 2 * sigma_u**2 / bmode.mean() ** (2 * gamma)
    margin = radius + half
    expected = np.empty((13 - 2 * margin, 15 - 2 * margin))
    for i in range(margin, 13 - margin):
        for j in range(margin, 15 - margin):
            patch = bmode[i - half : i + half + 1, j - half : j + half + 1]
            weights, values = [], []
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    if dy or dx:
                        y, x = i + dy, j + dx
                        other = bmode[y - half : y + half + 1, x - half : x + half + 1]
                        distance = np.mean((patch - other) ** 2 / other ** (2 * gamma))
                        weights.append(np.exp(-distance / (h**2 * mean_distance)))
                        values.append(noisy[i + dy, j + dx])
            centre = max(weights)
            numerator = np.dot(weights, values) + centre * noisy[i, j]
            expected[i - margin, j - margin] = numerator / (sum(weights) + centre)
    estimate = denoise_obnlm(
        noisy, looks=looks, search_radius=radius, patch_radius=half, h=h, gamma=gamma
    )
    np.testing.assert_allclose(estimate[margin:-margin, margin:-margin], expected, rtol=1e-10)


def test_log_speckle_moments_match_closed_forms_and_monte_carlo(rng):
    mean, std = log_speckle_moments(1.0)
    assert mean == pytest.approx(-np.euler_gamma)
    assert std == pytest.approx(np.pi / np.sqrt(6))
    samples = np.log(rng.gamma(3.0, 1.0 / 3.0, 200_000))
    mean, std = log_speckle_moments(3.0)
    assert samples.mean() == pytest.approx(mean, abs=0.01)
    assert samples.std() == pytest.approx(std, rel=0.01)
    assert mean == pytest.approx(special.digamma(3.0) - np.log(3.0))


BAD_INPUTS = [
    (np.ones((5, 5, 2)), {}, "2-D"),
    (np.full((9, 9), np.nan), {}, "NaN"),
    (-np.ones((9, 9)), {}, "negative"),
    (np.zeros((9, 9)), {}, "all zeros"),
    (np.ones((9, 9)) * (1 + 1j), {}, "complex"),
    (np.ones((9, 9)), {"looks": 0.0}, "looks"),
    (np.ones((9, 9)), {"looks": -1.0}, "looks"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("image, kwargs, message", BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(name, image, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        BASELINES[name](image, **kwargs)
    assert f"denoise_{name}" in str(info.value)


def test_bad_parameters_raise_clear_errors(noisy_intensity):
    with pytest.raises(ValueError, match="window_size"):
        denoise_lee(noisy_intensity, window_size=4)
    with pytest.raises(ValueError, match="dt"):
        denoise_srad(noisy_intensity, dt=0.5)
    with pytest.raises(ValueError, match="patch_radius"):
        denoise_obnlm(noisy_intensity, patch_radius=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_baseline_runs_on_512x512_in_seconds(name, rng):
    noisy = (0.2 * rng.exponential(1.0, (512, 512))).astype(np.float32)
    _, seconds = time_call(BASELINES[name], noisy, looks=1.0)
    assert seconds < 60.0, f"{name} took {seconds:.1f} s on 512x512"

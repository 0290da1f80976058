"""Tests of s2v.metrics: references from scikit-image, closed forms and Monte Carlo."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from s2v.metrics import (
    cnr,
    edge_preservation_index,
    enl,
    gcnr,
    psnr,
    ratio_image,
    ratio_statistics,
    speckle_snr,
    ssim,
    synthetic_protocol_scores,
    time_call,
)


@pytest.fixture
def clean_intensity():
    """Smooth 63x71 intensity with an edge (a ramp plus a bright rectangle), values in (0, 1]."""
    rows, cols = np.mgrid[0:63, 0:71]
    image = 0.1 + 0.4 * cols / 70.0
    image[20:45, 25:55] += 0.5
    return image.astype(np.float32)


def speckle(clean, looks, rng):
    return (clean * rng.gamma(looks, 1.0 / looks, clean.shape)).astype(np.float32)


# --- PSNR / SSIM -----------------------------------------------------------------------
def test_psnr_matches_skimage(rng, clean_intensity):
    estimate = clean_intensity + 0.05 * rng.standard_normal(clean_intensity.shape)
    expected = peak_signal_noise_ratio(clean_intensity, estimate, data_range=1.0)
    assert psnr(clean_intensity, estimate, data_range=1.0) == pytest.approx(expected, rel=1e-12)
    # default peak: max - min of the reference
    span = float(np.ptp(clean_intensity.astype(np.float64)))
    expected = peak_signal_noise_ratio(clean_intensity, estimate, data_range=span)
    assert psnr(clean_intensity, estimate) == pytest.approx(expected, rel=1e-12)
    assert psnr(clean_intensity, clean_intensity) == np.inf


def test_ssim_matches_skimage_wang_convention(rng, clean_intensity):
    estimate = clean_intensity + 0.05 * rng.standard_normal(clean_intensity.shape)
    # Wang et al. 2004 settings, as documented in scikit-image's structural_similarity
    expected = structural_similarity(
        clean_intensity.astype(np.float64),
        estimate,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(clean_intensity, estimate, data_range=1.0) == pytest.approx(expected, rel=1e-10)
    assert ssim(clean_intensity, clean_intensity) == pytest.approx(1.0)


def test_synthetic_protocol_scores_use_amplitude_with_peak_one(rng, clean_intensity):
    noisy = speckle(clean_intensity, 1.0, rng)
    scores = synthetic_protocol_scores(clean_intensity, noisy)
    assert scores["psnr"] == pytest.approx(
        peak_signal_noise_ratio(np.sqrt(clean_intensity), np.sqrt(noisy), data_range=1.0)
    )
    expected_ssim = ssim(np.sqrt(clean_intensity), np.sqrt(noisy), data_range=1.0)
    assert scores["ssim"] == pytest.approx(expected_ssim)


def test_single_look_psnr_matches_closed_form(rng):
    # Constant clean intensity c: the amplitude error is sqrt(c) (sqrt(n) - 1), n ~ Exp(1), so
    # MSE = c E[(sqrt(n) - 1)^2] = c (2 - 2 E[sqrt n]) = c (2 - sqrt(pi)).
    c = 0.25
    clean = np.full((301, 303), c)
    noisy = clean * rng.exponential(1.0, clean.shape)
    expected = -10 * np.log10(c * (2 - np.sqrt(np.pi)))
    assert synthetic_protocol_scores(clean, noisy)["psnr"] == pytest.approx(expected, abs=0.1)


def test_noisier_input_scores_worse(rng, clean_intensity):
    scores = [
        synthetic_protocol_scores(clean_intensity, speckle(clean_intensity, looks, rng))
        for looks in (16, 4, 1)
    ]
    psnrs = [s["psnr"] for s in scores]
    ssims = [s["ssim"] for s in scores]
    assert psnrs[0] > psnrs[1] > psnrs[2]
    assert ssims[0] > ssims[1] > ssims[2]
    amplitude = np.sqrt(clean_intensity)
    epis = [
        edge_preservation_index(amplitude, np.sqrt(speckle(clean_intensity, looks, rng)))
        for looks in (64, 4, 1)
    ]
    assert epis[0] > epis[1] > epis[2]


# --- speckle statistics ---------------------------------------------------------------
@pytest.mark.parametrize("looks", [1.0, 4.0])
def test_enl_of_gamma_samples_is_the_number_of_looks(rng, looks):
    # Monte Carlo: 200 000 samples, relative std of the estimate ~ sqrt(2 (1 + 3/L) / N) < 1 %
    samples = 3.0 * rng.gamma(looks, 1.0 / looks, 200_000)
    assert enl(samples) == pytest.approx(looks, rel=0.03)


def test_ratio_statistics_of_the_exact_estimate(rng, clean_intensity):
    clean = np.tile(clean_intensity, (4, 4))
    noisy = speckle(clean, 2.0, rng)
    stats = ratio_statistics(noisy, clean)
    assert stats["mean"] == pytest.approx(1.0, abs=0.02)
    assert stats["var"] == pytest.approx(0.5, rel=0.05)
    # an "estimate" equal to the input leaves a constant ratio: variance 0
    identity = ratio_statistics(noisy, noisy)
    assert identity["mean"] == pytest.approx(1.0)
    assert identity["var"] == pytest.approx(0.0, abs=1e-12)
    mask = np.zeros(clean.shape, bool)
    mask[::2] = True
    masked = ratio_statistics(noisy, clean, mask=mask)
    assert masked["mean"] == pytest.approx(float(np.mean(noisy[mask] / clean[mask])))
    np.testing.assert_allclose(ratio_image(noisy, clean), noisy / clean, rtol=1e-6)


def test_speckle_snr_of_rayleigh_envelope(rng):
    envelope = rng.rayleigh(2.0, 200_000)
    assert speckle_snr(envelope) == pytest.approx(np.sqrt(np.pi / (4 - np.pi)), rel=0.01)


# --- contrast ----------------------------------------------------------------------------
def test_cnr_closed_form(rng):
    target = rng.normal(2.0, 1.0, 100_000)
    background = rng.normal(0.0, 1.0, 100_000)
    assert cnr(target, background) == pytest.approx(2.0 / np.sqrt(2.0), rel=0.02)


def test_gcnr_analytic_cases(rng):
    a = rng.normal(0.0, 1.0, 100_000)
    b = rng.normal(0.0, 1.0, 100_000)
    assert gcnr(a, b) < 0.03  # identical distributions: full overlap up to sampling noise
    assert gcnr(a, a + 100.0) == 1.0  # disjoint supports
    # U(0, 1) vs U(0.5, 1.5): the histograms overlap on half their mass
    u = rng.uniform(0.0, 1.0, 200_000)
    v = rng.uniform(0.5, 1.5, 200_000)
    assert gcnr(u, v, bins=60) == pytest.approx(0.5, abs=0.02)
    # invariance to a monotonic transform (log compression), up to binning
    x, y = rng.exponential(1.0, 50_000), rng.exponential(4.0, 50_000)
    log_edges = np.linspace(np.log(min(x.min(), y.min())), np.log(max(x.max(), y.max())), 101)
    assert gcnr(np.log(x), np.log(y), bins=log_edges) == pytest.approx(gcnr(x, y, bins=np.exp(log_edges)))


# --- edges, runtime -------------------------------------------------------------------
def test_edge_preservation_index(clean_intensity):
    assert edge_preservation_index(clean_intensity, clean_intensity) == pytest.approx(1.0)
    blurred = ndimage.uniform_filter(clean_intensity, 5)
    assert edge_preservation_index(clean_intensity, blurred) < 0.9


def test_time_call_returns_result_and_seconds():
    result, seconds = time_call(np.add, 2, 3, repeat=2)
    assert result == 5
    assert 0.0 <= seconds < 1.0


# --- bad inputs -------------------------------------------------------------------------
def test_mismatched_shapes_are_rejected(clean_intensity):
    other = clean_intensity[:-1]
    metrics = (psnr, ssim, ratio_image, ratio_statistics, edge_preservation_index, synthetic_protocol_scores)
    for metric in metrics:
        with pytest.raises(ValueError, match="shapes differ"):
            metric(clean_intensity, other)


def test_empty_regions_are_rejected(clean_intensity):
    with pytest.raises(ValueError, match="empty region"):
        enl([])
    with pytest.raises(ValueError, match="empty region"):
        cnr([], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty region"):
        gcnr(np.array([]), np.ones(5))
    with pytest.raises(ValueError, match="empty region"):
        ratio_statistics(clean_intensity, clean_intensity, mask=np.zeros(clean_intensity.shape, bool))


def test_all_zero_images_are_rejected(clean_intensity):
    zeros = np.zeros_like(clean_intensity)
    with pytest.raises(ValueError, match="constant"):
        psnr(zeros, clean_intensity)
    with pytest.raises(ValueError, match="zero mean"):
        enl(zeros)
    with pytest.raises(ValueError, match="<= 0"):
        ratio_image(clean_intensity, zeros)
    with pytest.raises(ValueError, match="no edges"):
        edge_preservation_index(zeros, clean_intensity)


def test_other_bad_inputs_are_rejected(clean_intensity):
    with pytest.raises(ValueError, match="NaN"):
        psnr(clean_intensity, np.full_like(clean_intensity, np.nan))
    with pytest.raises(ValueError, match="2-D"):
        psnr(clean_intensity[None], clean_intensity[None])
    with pytest.raises(ValueError, match="negative"):
        synthetic_protocol_scores(clean_intensity, -clean_intensity)
    with pytest.raises(ValueError, match="11x11"):
        ssim(clean_intensity[:5, :5], clean_intensity[:5, :5])

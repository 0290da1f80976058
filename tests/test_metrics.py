"""Tests of s2v.metrics: references from scikit-image, closed forms and Monte Carlo."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from s2v.metrics import (
    bmode_psnr,
    bmode_ssim,
    cnr,
    edge_preservation_index,
    edge_spread_width,
    enl,
    gcnr,
    point_fwhm,
    psnr,
    radial_profile,
    ratio_image,
    ratio_statistics,
    speckle_snr,
    ssim,
    synthetic_protocol_scores,
    time_call,
    time_per_megapixel,
)
from s2v.simulate import simulate_ultrasound


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


# --- B-mode fidelity ---------------------------------------------------------------------
def _bmode_db(intensity, peak, dynamic_range):
    """Reference log compression written out: 10 log10(I / peak) clipped to [-DR, 0]."""
    with np.errstate(divide="ignore"):
        return np.clip(10 * np.log10(np.asarray(intensity, np.float64) / peak), -dynamic_range, 0)


@pytest.mark.parametrize("dynamic_range", [40.0, 60.0])
def test_bmode_psnr_and_ssim_match_skimage_on_the_log_compressed_images(rng, clean_intensity, dynamic_range):
    clean = np.tile(clean_intensity, (2, 2)) ** 3  # a wider range of levels (about 50 dB)
    noisy = speckle(clean, 4.0, rng)
    peak = float(clean.max())
    ref, est = _bmode_db(clean, peak, dynamic_range), _bmode_db(noisy, peak, dynamic_range)
    expected_psnr = peak_signal_noise_ratio(ref, est, data_range=dynamic_range)
    expected_ssim = structural_similarity(ref, est, data_range=dynamic_range, gaussian_weights=True,
                                          sigma=1.5, use_sample_covariance=False)
    assert bmode_psnr(clean, noisy, dynamic_range=dynamic_range) == pytest.approx(expected_psnr, rel=1e-5)
    assert bmode_ssim(clean, noisy, dynamic_range=dynamic_range) == pytest.approx(expected_ssim, rel=1e-5)
    assert bmode_psnr(clean, clean) == np.inf
    assert bmode_ssim(clean, clean) == pytest.approx(1.0)


def test_bmode_scores_ignore_errors_below_the_display_floor(clean_intensity):
    # Below -DR both images are displayed black: a difference there is invisible.
    clean = clean_intensity.astype(np.float64).copy()
    clean[:10] = 1e-9 * clean.max()
    estimate = clean.copy()
    estimate[:10] *= 100.0  # still below -60 dB
    assert bmode_psnr(clean, estimate) == np.inf
    assert np.isfinite(bmode_psnr(clean, estimate, dynamic_range=90.0))


def test_bmode_psnr_weighs_dark_detail_like_clinicians_do():
    # Two distortions of equal area: a dark cyst (-30 dB) brightened 10x (to -20 dB: plainly
    # visible) and bright tissue brightened by 1 dB (barely visible). Amplitude PSNR calls the
    # first the smaller error, B-mode PSNR the larger one: the reason B-mode is the primary
    # figure for ultrasound.
    clean = np.full((64, 64), 1.0)
    rows, cols = np.mgrid[0:64, 0:64]
    cyst = (rows - 20) ** 2 + (cols - 20) ** 2 < 8**2
    patch = (rows - 44) ** 2 + (cols - 44) ** 2 < 8**2
    clean[cyst] = 1e-3
    cyst_filled, tissue_brighter = clean.copy(), clean.copy()
    cyst_filled[cyst] *= 10.0
    tissue_brighter[patch] *= 10 ** 0.1
    amplitude = {name: psnr(np.sqrt(clean), np.sqrt(image), data_range=1.0)
                 for name, image in (("cyst", cyst_filled), ("tissue", tissue_brighter))}
    bmode = {name: bmode_psnr(clean, image) for name, image in (("cyst", cyst_filled), ("tissue", tissue_brighter))}
    assert amplitude["cyst"] > amplitude["tissue"]
    assert bmode["cyst"] < bmode["tissue"] - 15.0
    noisier = [bmode_psnr(clean, speckle(clean, looks, np.random.default_rng(0))) for looks in (16, 4, 1)]
    assert noisier[0] > noisier[1] > noisier[2]


# --- resolution ----------------------------------------------------------------------------
@pytest.mark.parametrize("sigmas, centre", [((3.0, 5.0), (40.0, 50.0)), ((4.0, 2.5), (40.3, 49.6))])
def test_point_fwhm_of_a_gaussian_is_2_3548_sigma(sigmas, centre):
    # Analytic: FWHM = 2 sqrt(2 ln 2) sigma = 2.3548 sigma; linear interpolation between
    # samples and an off-grid centre stay within 2 % for sigma >= 2.5 px.
    rows, cols = np.mgrid[0:81, 0:101]
    spot = np.exp(-((rows - centre[0]) ** 2) / (2 * sigmas[0] ** 2) - (cols - centre[1]) ** 2 / (2 * sigmas[1] ** 2))
    width = point_fwhm(3.0 * spot + 0.5, (40, 50), background=0.5)
    assert width["axial"] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * sigmas[0], rel=0.02)
    assert width["lateral"] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * sigmas[1], rel=0.02)
    assert width["peak"] == (round(centre[0]), round(centre[1]))


def test_point_fwhm_of_the_simulated_envelope_is_the_probe_resolution():
    # simulate_ultrasound's lateral_beam_width is the FWHM of the pulse-echo amplitude PSF and
    # its axial_fwhm the one set by the bandwidth: an isolated point's envelope shows both.
    echogenicity = np.zeros((81, 81), np.float32)
    echogenicity[40, 40] = 1.0
    sim = simulate_ultrasound(echogenicity, point_targets=[[40, 40]], seed=0,
                              center_frequency=4e6, lateral_beam_width=0.75e-3)
    params = sim["params"]
    width = point_fwhm(sim["envelope"], (40, 40))
    assert width["axial"] == pytest.approx(params["axial_fwhm"] / params["pixel_size"][0], rel=0.02)
    assert width["lateral"] == pytest.approx(params["lateral_fwhm"] / params["pixel_size"][1], rel=0.02)
    blurred = ndimage.gaussian_filter(sim["envelope"], 2.0)
    assert point_fwhm(blurred, (40, 40))["lateral"] > width["lateral"] * 1.1


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_edge_spread_width_of_an_erf_edge_is_2_5631_sigma(sigma):
    # Analytic: a step blurred by a Gaussian is Phi(x / sigma); Phi(x) = 0.1 and 0.9 at
    # -/+ 1.2816, so the 10-90 % width is 2.5631 sigma (scipy.stats.norm.ppf(0.9) = 1.28155).
    from scipy import special, stats

    x = np.arange(-30, 31, 0.25)
    edge = 0.2 + 0.8 * 0.5 * (1 + special.erf(x / (np.sqrt(2) * sigma)))
    expected = 2 * stats.norm.ppf(0.9) * sigma
    assert edge_spread_width(edge, spacing=0.25) == pytest.approx(expected, rel=0.01)
    assert edge_spread_width(edge[::-1], spacing=0.25) == pytest.approx(expected, rel=0.01)  # falling


def test_edge_spread_width_of_a_noisy_blurred_edge(rng):
    # A straight edge across a 2-D region sampled every pixel, rows averaged. Mild noise
    # (16 looks, 400 rows): within 10 % of 2.5631 sigma (noise-free samples give +3 %, the
    # linear interpolation at 1-pixel spacing). Strong noise (2 looks, 50 rows, 100
    # regions): the mean stays within 6 % (measured +1.4 %; taking the first crossings from
    # the start of the profile instead gives +13 %).
    from scipy import special

    sigma = 2.0
    cols = np.arange(60)
    edge = 1.0 + 3.0 * 0.5 * (1 + special.erf((cols - 30) / (np.sqrt(2) * sigma)))
    region = edge[None, :] * rng.gamma(16.0, 1 / 16.0, (400, 60))
    width = edge_spread_width(region, axis=1)
    assert width == pytest.approx(2.5631 * sigma, rel=0.1)
    assert edge_spread_width(region.T, axis=0) == pytest.approx(width)
    assert edge_spread_width(ndimage.uniform_filter1d(region, 7, axis=1), axis=1) > 1.2 * width
    widths = [edge_spread_width(edge[None, :] * rng.gamma(2.0, 0.5, (50, 60)), axis=1) for _ in range(100)]
    assert np.mean(widths) == pytest.approx(2.5631 * sigma, rel=0.06)


def test_radial_profile_of_a_blurred_disc():
    # A disc of radius 20 blurred by sigma 2: its radial profile is an erf edge (curvature
    # negligible for R >> sigma), 10-90 % width 2.5631 sigma within 5 %.
    rows, cols = np.mgrid[0:81, 0:81]
    disc = np.where(np.hypot(rows - 40.2, cols - 39.7) < 20, 0.05, 1.0)
    blurred = ndimage.gaussian_filter(disc, 2.0)
    radii, profile = radial_profile(blurred, (40.2, 39.7), 32, bin_width=0.5)
    assert radii[0] == 0.25 and np.all(np.diff(radii) > 0)
    assert profile[0] == pytest.approx(0.05, abs=0.01) and profile[-1] == pytest.approx(1.0, abs=0.01)
    assert edge_spread_width(profile, spacing=0.5) == pytest.approx(2.5631 * 2.0, rel=0.05)


def test_time_per_megapixel_divides_by_the_image_size():
    import time

    image = np.zeros((1000, 100))  # 0.1 megapixel
    result, seconds = time_per_megapixel(lambda im: (time.sleep(0.02), im.shape)[1], image)
    assert result == (1000, 100)
    assert 0.2 <= seconds < 2.0  # 0.02 s / 0.1 MP = 0.2 s/MP (plus overhead)


# --- bad inputs -------------------------------------------------------------------------
def test_mismatched_shapes_are_rejected(clean_intensity):
    other = clean_intensity[:-1]
    metrics = (psnr, ssim, ratio_image, ratio_statistics, edge_preservation_index, synthetic_protocol_scores,
               bmode_psnr, bmode_ssim)
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
    with pytest.raises(ValueError, match="negative"):
        bmode_psnr(clean_intensity, -clean_intensity)
    with pytest.raises(ValueError, match="all zeros"):
        bmode_ssim(np.zeros_like(clean_intensity), clean_intensity)
    with pytest.raises(ValueError, match="dynamic_range"):
        bmode_psnr(clean_intensity, clean_intensity, dynamic_range=0)
    with pytest.raises(ValueError, match="outside the image"):
        point_fwhm(clean_intensity, (100, 5))
    with pytest.raises(ValueError, match="not above the background"):
        point_fwhm(clean_intensity, (5, 5), background=10.0)
    with pytest.raises(ValueError, match="no edge"):
        edge_spread_width(np.ones(20))
    with pytest.raises(ValueError, match="levels"):
        edge_spread_width(np.arange(20.0), levels=(0.9, 0.1))
    with pytest.raises(ValueError, match="empty"):
        time_per_megapixel(np.sum, np.zeros((0, 3)))


# --------------------------------------------------------------------------- mosaic_peak


def test_mosaic_peak_is_low_without_a_mosaic(rng):
    """White noise and a smooth field: no excess power at the mosaic frequencies."""
    from scipy.ndimage import gaussian_filter

    from s2v.metrics import mosaic_peak

    for stride in (2, 3, 4):
        white = rng.normal(size=(203, 187))
        smooth = gaussian_filter(rng.normal(size=(203, 187)), 3.0)
        assert mosaic_peak(white, stride) < 1.5
        assert mosaic_peak(smooth, stride) < 1.5
    assert mosaic_peak(np.ones((99, 97)), 2) == 0.0


@pytest.mark.parametrize("stride", [2, 3, 4])
def test_mosaic_peak_finds_the_dilated_filter_replicas(rng, stride):
    """A smoothing filter dilated by ``stride`` (what a network on the pixel-shuffle sub-images is,
    on the image grid) passes noise at every multiple of 1 / stride: a peak there, not at
    another stride's frequencies."""
    from scipy.ndimage import convolve

    from s2v.metrics import mosaic_peak

    kernel = np.zeros((4 * stride + 1,) * 2)
    kernel[::stride, ::stride] = 1.0 / 25  # a 5 x 5 box on the sub-grid
    image = 3.0 + convolve(rng.normal(size=(211, 197)), kernel, mode="wrap")
    assert mosaic_peak(image, stride) > 5.0
    other = {2: 3, 3: 2, 4: 3}[stride]
    assert mosaic_peak(image, other) < 1.5


@pytest.mark.parametrize("stride, shape, message", [
    (1, (64, 64), "stride must be an integer >= 2"),
    (2.0, (64, 64), "stride must be an integer >= 2"),
    (4, (63, 64), "at least 64 pixels on each side"),
    (2, (40, 40, 3), "must be 2-D"),
])
def test_mosaic_peak_refuses_bad_input(stride, shape, message):
    from s2v.metrics import mosaic_peak

    with pytest.raises(ValueError, match=message):
        mosaic_peak(np.zeros(shape), stride)

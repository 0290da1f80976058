"""Tests of s2v.domains: conversions against closed forms, the B-mode <-> intensity round trip,
and the speckle-based estimators (dynamic range, number of looks) on simulated speckle."""

import numpy as np
import pytest

from s2v.domains import (
    amplitude_from_complex,
    analytic_signal,
    bmode_to_intensity,
    estimate_dynamic_range,
    estimate_looks,
    imaging_mask,
    intensity_from_complex,
    intensity_to_bmode,
    iq_from_rf,
    log_intensity_std_db,
    overlay_mask,
    to_intensity,
)
from s2v.simulate import gamma_speckle, simulate_ultrasound

SHAPE = (63, 71)


def piecewise_scene(shape=(257, 193)):
    """Clean intensity with large homogeneous areas (levels 4, 1, 0.25, 2)."""
    height, width = shape
    scene = np.ones(shape, dtype=np.float32)
    scene[: height // 2, : width // 3] = 4.0
    scene[height // 2 :, width // 3 : 2 * width // 3] = 0.25
    scene[:, 2 * width // 3 :] = 2.0
    return scene


# ---------------------------------------------------------------------------------------------
# complex and RF
# ---------------------------------------------------------------------------------------------
def test_complex_to_intensity_and_amplitude(rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    intensity = intensity_from_complex(z)
    assert intensity.dtype == np.float32
    np.testing.assert_allclose(intensity, np.abs(z.astype(np.complex128)) ** 2, rtol=1e-6)
    np.testing.assert_allclose(amplitude_from_complex(z) ** 2, intensity, rtol=1e-5)
    assert intensity_from_complex(z.astype(np.complex128)).dtype == np.float64
    with pytest.raises(ValueError, match="expected complex"):
        intensity_from_complex(z.real)


def test_analytic_signal_envelope_of_a_pulse():
    # A Gaussian-windowed carrier: its envelope is the Gaussian (Hilbert pair of a narrow-band signal).
    fs, fc = 40e6, 5e6
    t = np.arange(1024) / fs
    envelope = np.exp(-0.5 * ((t - t.mean()) / 0.6e-6) ** 2)
    rf = (envelope * np.cos(2 * np.pi * fc * t + 0.7)).astype(np.float32)
    analytic = analytic_signal(np.stack([rf, 2 * rf], axis=1), axis=0)
    assert analytic.dtype == np.complex64 and analytic.shape == (1024, 2)
    np.testing.assert_allclose(np.abs(analytic[:, 0]), envelope, atol=2e-3)
    np.testing.assert_allclose(np.abs(analytic[:, 1]), 2 * envelope, atol=4e-3)

    iq = iq_from_rf(rf, fs=fs, fc=fc)
    inside = envelope > 0.1
    # Demodulated at the carrier: baseband, constant phase 0.7 rad where the pulse is.
    np.testing.assert_allclose(np.angle(iq[inside]), 0.7, atol=1e-2)
    np.testing.assert_allclose(np.abs(iq), np.abs(analytic[:, 0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_intensity(rf, "rf", fs=fs, fc=fc), np.abs(iq) ** 2, rtol=1e-4, atol=1e-7)


def test_iq_from_rf_checks_frequencies():
    rf = np.zeros((16, 3))
    with pytest.raises(ValueError, match="needs the sampling frequency"):
        iq_from_rf(rf, fc=5e6)
    with pytest.raises(ValueError, match="fc < fs / 2"):
        iq_from_rf(rf, fs=8e6, fc=5e6)


# ---------------------------------------------------------------------------------------------
# B-mode <-> intensity
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dynamic_range", [40.0, 60.0, 80.0])
def test_bmode_intensity_round_trip(rng, dynamic_range):
    intensity = gamma_speckle(np.full(SHAPE, 0.01, np.float32), 1.0, seed=rng)
    reference = float(intensity.max())
    bmode = intensity_to_bmode(intensity, dynamic_range=dynamic_range)
    assert bmode.dtype == np.uint8 and bmode.max() == 255
    back = bmode_to_intensity(bmode, dynamic_range=dynamic_range, reference=reference)
    visible = intensity >= reference * 10 ** (-dynamic_range / 10)
    # 8-bit quantisation: at most half a grey level, DR / 510 dB, off.
    ratio_db = 10 * np.log10(back[visible] / intensity[visible])
    assert np.abs(ratio_db).max() <= dynamic_range / 510 + 1e-4
    # Below the range, the floor: reference * 10^(-DR/10).
    np.testing.assert_allclose(back[~visible], reference * 10 ** (-dynamic_range / 10), rtol=1e-5)

    db = intensity_to_bmode(intensity, dynamic_range=dynamic_range, scale="db", reference=reference)
    assert db.dtype == np.float32 and db.min() >= -dynamic_range and db.max() == 0
    np.testing.assert_allclose(bmode_to_intensity(db, scale="db", reference=reference)[visible],
                               intensity[visible], rtol=1e-5)


def test_bmode_mapping_values_and_errors():
    # The documented mapping: 0 dB -> 255, -30 dB -> 127.5 (rounds to 128), -60 dB and below -> 0.
    np.testing.assert_array_equal(intensity_to_bmode(np.array([1.0, 1e-3, 1e-6, 0.0]), dynamic_range=60.0),
                                  [255, 128, 0, 0])
    np.testing.assert_allclose(bmode_to_intensity(np.array([255, 0], np.uint8), dynamic_range=60.0), [1.0, 1e-6],
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 255\].*scale='db'"):
        bmode_to_intensity(np.array([-3.0, -1.0]))
    with pytest.raises(ValueError, match="<= 0.*scale='uint8'"):
        bmode_to_intensity(np.array([3.0, 1.0]), scale="db")
    with pytest.raises(ValueError, match="all-zero"):
        intensity_to_bmode(np.zeros(SHAPE))
    with pytest.raises(ValueError, match="negative"):
        intensity_to_bmode(-np.ones(SHAPE))
    with pytest.raises(ValueError, match="scale"):
        intensity_to_bmode(np.ones(SHAPE), scale="log")


def test_log_intensity_std_matches_closed_form_and_monte_carlo(rng):
    # Single look: Var[ln n] = psi_1(1) = pi^2 / 6.
    assert log_intensity_std_db(1.0) == pytest.approx(np.pi / np.sqrt(6) * 10 / np.log(10), rel=1e-12)
    assert log_intensity_std_db(1.0) == pytest.approx(5.5700, abs=1e-4)
    samples = 10 * np.log10(rng.gamma(3.0, 1 / 3.0, size=400_000))
    # Monte Carlo, 400k samples: relative standard error of a std ~ 0.1 %.
    assert samples.std() == pytest.approx(log_intensity_std_db(3.0), rel=0.01)


@pytest.mark.parametrize("dynamic_range", [40.0, 60.0, 80.0])
def test_estimate_dynamic_range_on_simulated_bmode(dynamic_range):
    # Reference 30x the mean organ level: tissue sits mid-range, as a scanner's gain would put it.
    white = gamma_speckle(piecewise_scene(), 1.0, seed=1)
    bmode = intensity_to_bmode(white, dynamic_range=dynamic_range, reference=30.0)
    assert estimate_dynamic_range(bmode) == pytest.approx(dynamic_range, rel=0.05)
    correlated = simulate_ultrasound(shape=(257, 193), seed=1)["intensity"]
    bmode = intensity_to_bmode(correlated, dynamic_range=dynamic_range, reference=30.0)
    assert estimate_dynamic_range(bmode) == pytest.approx(dynamic_range, rel=0.15)


def test_estimate_dynamic_range_uses_the_mask_and_looks():
    white = gamma_speckle(piecewise_scene(), 4.0, seed=2)
    bmode = intensity_to_bmode(white, dynamic_range=50.0, reference=20.0)
    assert estimate_dynamic_range(bmode, looks=4.0) == pytest.approx(50.0, rel=0.05)
    # Single-look assumption on 4-look speckle: the log std is smaller, the range reads larger.
    assert estimate_dynamic_range(bmode, looks=1.0) > 1.5 * 50.0
    corrupted = bmode.copy()
    corrupted[:, :100] = np.where(np.arange(100) % 2, 0, 255)  # stripes: huge window stds
    mask = np.zeros(bmode.shape, bool)
    mask[:, 100:] = True
    assert estimate_dynamic_range(corrupted, looks=4.0, mask=mask) == pytest.approx(50.0, rel=0.05)
    with pytest.raises(ValueError, match="usable"):
        estimate_dynamic_range(np.full(SHAPE, 255, np.uint8), window=9)


@pytest.mark.parametrize("looks", [1.0, 3.0, 10.0])
def test_estimate_looks_on_white_gamma_speckle(looks):
    estimates = [estimate_looks(gamma_speckle(piecewise_scene(), looks, seed=seed)) for seed in range(3)]
    # Measured bias within 5 %; a single 257 x 193 image scatters by ~4 % (L = 1) to ~3 % (L = 10).
    assert np.mean(estimates) == pytest.approx(looks, rel=0.08)


def test_estimate_looks_on_correlated_ultrasound_and_with_a_mask(rng):
    intensity = simulate_ultrasound(piecewise_scene(), seed=3)["intensity"]
    # Fully developed (exponential) speckle, correlated over ~30 px: documented upward bias.
    assert 0.9 < estimate_looks(intensity) < 1.7
    noisy = gamma_speckle(piecewise_scene(), 4.0, seed=rng)
    noisy[:, :64] = rng.gamma(0.3, 1.0, size=(noisy.shape[0], 64))  # an area of other statistics
    mask = np.ones(noisy.shape, bool)
    mask[:, :64] = False
    assert estimate_looks(noisy, mask=mask) == pytest.approx(4.0, rel=0.1)
    with pytest.raises(ValueError, match="need 5"):
        estimate_looks(noisy[:40, :40], window=15)


# ---------------------------------------------------------------------------------------------
# imaging mask of screenshots
# ---------------------------------------------------------------------------------------------
def synthetic_screenshot(rng):
    """A black 240 x 320 screen with a speckle sector, an anechoic cyst, text and a colour box."""
    height, width = 240, 320
    rows, cols = np.mgrid[:height, :width]
    # Sector: apex above the screen, radii 60..230 px, +-35 degrees.
    radius = np.hypot(rows + 40, cols - 160)
    angle = np.degrees(np.arctan2(cols - 160, rows + 40))
    sector = (radius > 60) & (radius < 270) & (np.abs(angle) < 35) & (rows < 225)
    cyst = np.hypot(rows - 140, cols - 160) < 18
    echo = np.where(cyst, 1e-4, 1.0) * sector
    intensity = gamma_speckle(echo, 1.0, seed=rng)
    grey = intensity_to_bmode(np.maximum(intensity, 1e-12), dynamic_range=50.0, reference=20.0) * sector
    rgb = np.stack([grey] * 3, axis=-1).astype(np.uint8)
    rgb[5:15, 10:60] = 255  # "text" above the image (white blocks)
    rgb[228:236, 250:300] = 255  # "text" below it
    rgb[100:120, 200:230] = (230, 120, 0)  # a colour Doppler blob inside the sector
    expected = sector.copy()
    expected[99:121, 199:231] = False  # overlay and its 1-pixel dilation
    return rgb, expected, sector, cyst


def test_imaging_mask_of_a_synthetic_screenshot(rng):
    rgb, expected, sector, cyst = synthetic_screenshot(rng)
    mask = imaging_mask(rgb)
    assert mask.dtype == bool and mask.shape == sector.shape
    assert mask[cyst].all()  # the anechoic cyst is a filled hole
    assert not mask[5:15, 10:60].any() and not mask[228:236, 250:300].any()  # no text
    assert not mask[100:120, 200:230].any()  # no colour overlay
    overlap = (mask & expected).sum() / (mask | expected).sum()
    assert overlap > 0.97  # border pixels of the sector may go either way
    colour = overlay_mask(rgb)
    assert colour[100:120, 200:230].all() and not colour[130:150, 150:170].any()


def test_imaging_mask_accepts_grey_and_rejects_bad_shapes(rng):
    rgb, expected, _, _ = synthetic_screenshot(rng)
    grey_mask = imaging_mask(rgb[..., 0])  # red channel: the colour blob is bright, not coloured
    assert ((grey_mask & expected).sum() / (grey_mask | expected).sum()) > 0.97
    assert not imaging_mask(np.zeros(SHAPE, np.uint8)).any()
    with pytest.raises(ValueError, match="picture"):
        imaging_mask(np.zeros((4, 5, 6)))


def test_imaging_mask_of_the_ge_doppler_screenshot():
    from pydicom.data import get_testdata_file

    from s2v.io import read_image

    rgb, _ = read_image(get_testdata_file("US1_UNCR.dcm"), keep_colour=True)
    mask = imaging_mask(rgb)
    rows, cols = np.nonzero(mask)
    # The B-mode field of view spans rows 108-336 of the 480 x 640 screen (measured on the file).
    assert abs(rows.min() - 108) <= 3 and abs(rows.max() - 336) <= 3
    assert cols.min() < 20 and cols.max() > 620
    assert np.all(np.ptp(rgb[mask].astype(int), axis=-1) == 0)  # only grey pixels
    assert not mask[:100].any() and not mask[345:].any()  # no header or footer text


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------
def test_to_intensity_dispatch(rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    intensity = intensity_from_complex(z)
    np.testing.assert_array_equal(to_intensity(z, "complex"), intensity)
    np.testing.assert_allclose(to_intensity(np.abs(z), "amplitude"), intensity, rtol=1e-5)
    same = to_intensity(intensity, "intensity")
    np.testing.assert_array_equal(same, intensity)
    assert same is not intensity
    bmode = intensity_to_bmode(intensity, dynamic_range=50.0)
    np.testing.assert_allclose(to_intensity(bmode, "bmode", dynamic_range=50.0),
                               bmode_to_intensity(bmode, dynamic_range=50.0))
    db = intensity_to_bmode(intensity, scale="db")  # all <= 0: read as dB without being told
    np.testing.assert_allclose(to_intensity(db, "bmode"), bmode_to_intensity(db, scale="db"))
    with pytest.raises(ValueError, match="unknown domain 'unknown'"):
        to_intensity(intensity, "unknown")
    with pytest.raises(ValueError, match="unexpected options"):
        to_intensity(z, "complex", dynamic_range=60)


def test_to_intensity_with_estimated_dynamic_range():
    white = gamma_speckle(piecewise_scene(), 1.0, seed=4)
    bmode = intensity_to_bmode(white, dynamic_range=70.0, reference=30.0)
    estimated = to_intensity(bmode, "bmode", dynamic_range="estimate")
    dr = estimate_dynamic_range(bmode)
    np.testing.assert_allclose(estimated, bmode_to_intensity(bmode, dynamic_range=dr))
    assert dr == pytest.approx(70.0, rel=0.03)
    # With the range right, the inverse restores the speckle statistics of the original intensity.
    assert estimate_looks(estimated) == pytest.approx(estimate_looks(white), rel=0.05)


# ---------------------------------------------------------------------------------------------
# real speckle (skipped when ../shared/data is absent)
# ---------------------------------------------------------------------------------------------
def test_estimators_on_real_speckle(shared_data):
    from s2v.io import read_image

    def dr_of(intensity, dynamic_range):
        # White at the 99.9th percentile, as a scanner's gain would put the brightest tissue.
        reference = float(np.percentile(intensity, 99.9))
        return estimate_dynamic_range(intensity_to_bmode(intensity, dynamic_range=dynamic_range,
                                                         reference=reference))

    iq, _ = read_image(shared_data / "ultrasound" / "must_pwi_disk_iq_das_4frames.npy")
    assert dr_of(to_intensity(iq, "complex"), 60.0) == pytest.approx(60.0, rel=0.05)
    envelope, _ = read_image(shared_data / "ultrasound" / "picmus_exp_contrast_speckle_DAS_envelope.npz", frame=1)
    intensity = to_intensity(envelope, "amplitude")
    assert dr_of(intensity, 60.0) == pytest.approx(60.0, rel=0.05)
    # PICMUS DAS envelope, one plane wave: single-look speckle (measured 1.01; upward bias of
    # correlated speckle documented in estimate_looks).
    assert 0.9 < estimate_looks(intensity) < 1.3
    slc, _ = read_image(shared_data / "sar" / "terrasarx_slc_256.npy")
    assert dr_of(to_intensity(slc, "complex"), 50.0) == pytest.approx(50.0, rel=0.1)

"""Tests of s2v.whitened: whitening IQ onto the band grid, the way back, the whole route.

Seeded simulations (:func:`s2v.simulate.simulate_ultrasound`), odd sizes. Tolerances say
where they come from.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import signal

from s2v.decorrelation import lag_correlation
from s2v.simulate import simulate_ultrasound
from s2v.whitened import (MIN_BAND_SIDE, band_positions, despeckle_iq, real_iq_frames, to_input_grid,
                          whiten_iq, whitened_training_images)

SHAPE = (131, 99)


def _report(band_bins):
    """A stand-in DecorrelationReport: to_input_grid reads only these two fields."""
    return SimpleNamespace(resampled=True, band_bins=tuple(band_bins))


def _on_band_grid(function, shape, band_bins):
    """``function(y, x)`` at the band-grid positions (input-pixel units) and on the input grid."""
    rows, cols = band_positions(shape[0], band_bins[0]), band_positions(shape[1], band_bins[1])
    band = function(rows[:, None], cols[None, :])
    truth = function(np.arange(shape[0])[:, None], np.arange(shape[1])[None, :])
    return band, truth


@pytest.fixture(scope="module")
def homogeneous_iq():
    return simulate_ultrasound(np.ones(SHAPE, np.float32), seed=3)


# -- whiten_iq ----------------------------------------------------------------------------

def test_whitened_speckle_is_white_on_the_band_grid(homogeneous_iq):
    before = lag_correlation(homogeneous_iq["intensity"])
    band, report = whiten_iq(homogeneous_iq["iq"])
    assert band.dtype == np.float32 and band.shape == report.band_bins
    assert band.shape[0] < SHAPE[0] and band.shape[1] < SHAPE[1]  # oversampled IQ: a coarser grid
    after = lag_correlation(band)  # Pearson, intensity; that of complex Gaussian speckle is |rho|^2
    assert min(before) > 0.5       # the simulated speckle is correlated (the test can fail)
    assert max(abs(r) for r in after) < 0.1, after


def test_whiten_iq_keeps_the_mean_intensity_of_a_homogeneous_region():
    # Two levels (x4 on top): the local mean of the lower, homogeneous part must stay 1 (its
    # echogenicity; sum |psf|^2 = 1). Pooled over 3 seeds: about 4700 band pixels, so the
    # sampling error of the mean of exponential speckle is 1.5 %; measured 0.7 % off.
    shape = (193, 161)
    echogenicity = np.ones(shape, np.float32)
    echogenicity[:70] = 4.0
    values = []
    for seed in range(3):
        band, report = whiten_iq(simulate_ultrasound(echogenicity, seed=seed)["iq"])
        rows = band_positions(shape[0], report.band_bins[0]) >= 85  # 15 rows below the step
        values.append(band[rows].ravel())
    assert np.concatenate(values).mean() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("bad, message", [
    (np.ones(SHAPE, np.float32), "complex IQ"),
    (np.ones((3, 40, 40), np.complex64), r"shape \(H, W\)"),
    (np.ones((12, 40), np.complex64), f"at least {MIN_BAND_SIDE}"),
])
def test_whiten_iq_refuses_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        whiten_iq(bad)


def test_whiten_iq_refuses_a_band_grid_too_small():
    # 40 x 40 pixels of IQ oversampled about 3 times laterally: the band grid is narrower than 16.
    iq = simulate_ultrasound(np.ones((41, 41), np.float32), seed=0, lateral_beam_width=0.9e-3)["iq"]
    with pytest.raises(ValueError, match=f"only .* pixels.*at least {MIN_BAND_SIDE} x {MIN_BAND_SIDE}"):
        whiten_iq(iq)


# -- to_input_grid ------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["log-fourier", "fourier", "linear"])
def test_constant_band_image_is_that_constant_on_the_input_grid(method):
    out = to_input_grid(np.full((47, 27), 2.5, np.float32), _report((47, 27)), (129, 97), method=method)
    assert out.shape == (129, 97) and out.dtype == np.float32
    np.testing.assert_allclose(out, 2.5, rtol=0.01)


@pytest.mark.parametrize("method, tolerance", [("log-fourier", 0.003), ("fourier", 0.003), ("linear", 0.003)])
def test_smooth_ramp_comes_back(method, tolerance):
    # Relative RMS error against the exact ramp; measured 0.0012 (Fourier) and 0.0017
    # (linear), at the borders only (the half-sample-symmetric extension of a ramp has a kink).
    band, truth = _on_band_grid(lambda y, x: 0.5 + y / 129 + 0.5 * x / 97, (129, 97), (47, 27))
    out = to_input_grid(band, _report((47, 27)), (129, 97), method=method)
    assert np.sqrt(np.mean((out - truth) ** 2)) / truth.mean() < tolerance
    assert out.mean() == pytest.approx(truth.mean(), rel=0.002)


def test_band_limited_default_beats_linear_on_a_smooth_scene():
    # A Gaussian bump: Fourier interpolation is exact to 1e-4, linear errs by 0.3 % (measured).
    band, truth = _on_band_grid(lambda y, x: 1 + 0.8 * np.exp(-((y - 60) ** 2 / 128 + (x - 40) ** 2 / 72)),
                                (129, 97), (47, 27))
    errors = {m: np.sqrt(np.mean((to_input_grid(band, _report((47, 27)), (129, 97), method=m) - truth) ** 2))
              for m in ("log-fourier", "linear")}
    assert errors["log-fourier"] < 1e-3 < errors["linear"]


@pytest.mark.parametrize("k", [1, 7, 25])
def test_fourier_interpolation_is_exact_for_band_limited_scenes(k):
    # cos(pi k (u + 1/2) / n) (DCT-II basis, u the band coordinate) is band-limited and
    # symmetric about u = -1/2: its zero-padded interpolation is exact up to rounding, also
    # next to the band's Nyquist frequency (k = 25 of 27), where a dropped or halved bin shows.
    shape, bins = (129, 97), (47, 27)
    for axis in (0, 1):
        def scene(y, x):
            u = (y if axis == 0 else x) * bins[axis] / shape[axis]
            return 2.0 + np.cos(np.pi * k * (u + 0.5) / bins[axis]) + 0 * (x + y)
        band, truth = _on_band_grid(scene, shape, bins)
        out = to_input_grid(band, _report(bins), shape, method="fourier")
        np.testing.assert_allclose(out, truth, atol=1e-4)  # float32 output


@pytest.mark.parametrize("method", ["log-fourier", "fourier", "linear"])
@pytest.mark.parametrize("spot", [(10, 5), (23, 13), (45, 25)])
def test_a_blob_on_the_band_grid_lands_at_its_input_position(method, spot):
    # Band pixel (k, l) lies at input position (k N / n, l M / m): the centroid must land there,
    # within 0.5 px (measured: 0.03 px inside, up to 0.43 px next to the border), which the
    # centred-grid mistake ((k + 1/2) N / n - 1/2: 0.87 and 1.3 px off here) does not pass.
    shape, bins = (129, 97), (47, 27)
    band = np.full(bins, 1e-3)
    band[spot] = 1.0
    out = to_input_grid(band, _report(bins), shape, method=method).astype(np.float64)
    out -= np.median(out)
    expected = np.array([spot[0] * shape[0] / bins[0], spot[1] * shape[1] / bins[1]])
    peak = np.unravel_index(np.argmax(out), shape)
    window = tuple(slice(max(p - 6, 0), min(p + 7, n)) for p, n in zip(peak, shape))
    rows, cols = np.mgrid[window]
    weights = np.clip(out[window], 0, None)
    centroid = np.array([(weights * rows).sum(), (weights * cols).sum()]) / weights.sum()
    assert np.all(np.abs(centroid - expected) <= 0.5), (centroid, expected)


def test_a_point_target_in_the_iq_comes_back_at_its_pixel():
    # End to end: whitening (resample=True) then to_input_grid is the identity geometry.
    rng = np.random.default_rng(11)
    sim = simulate_ultrasound(np.ones(SHAPE, np.float32), seed=5)
    psf = sim["psf"].astype(np.complex128)
    half = np.array(psf.shape) // 2
    for target in [(40, 30), (77, 61), (100, 20)]:
        scatterers = np.zeros(np.add(SHAPE, 2 * half), complex)
        scatterers[target[0] + half[0], target[1] + half[1]] = 100.0 * np.exp(2j * np.pi * rng.uniform())
        iq = sim["iq"] + signal.fftconvolve(scatterers, psf, mode="valid")
        band, report = whiten_iq(iq)
        out = to_input_grid(band, report, SHAPE).astype(np.float64)
        rows, cols = np.mgrid[target[0] - 6:target[0] + 7, target[1] - 6:target[1] + 7]
        weights = out[rows, cols]
        centroid = np.array([(weights * rows).sum(), (weights * cols).sum()]) / weights.sum()
        assert np.all(np.abs(centroid - target) <= 1.0), (target, centroid)


@pytest.mark.parametrize("args, message", [
    ((np.ones((47, 28)), _report((47, 27)), (129, 97)), "band grid"),
    ((np.ones((47, 27)), _report((47, 27)), (40, 97)), "smaller than the band grid"),
    ((-np.ones((47, 27)), _report((47, 27)), (129, 97)), "negative"),
    ((np.ones((47, 27)), SimpleNamespace(resampled=False, band_bins=(47, 27)), (129, 97)), "resample=False"),
    ((np.ones((47, 27)), _report((47, 27)), "129x97"), r"shape must be \(H, W\)"),
])
def test_to_input_grid_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        to_input_grid(*args)


def test_to_input_grid_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        to_input_grid(np.ones((47, 27)), _report((47, 27)), (129, 97), method="cubic")


# -- training set and the whole route -----------------------------------------------------

def test_whitened_training_images_are_band_grid_intensities():
    images = whitened_training_images(2, seed=0, shape=(129, 97), real=False)
    assert len(images) == 2
    for image in images:
        assert image.dtype == np.float32 and image.ndim == 2
        assert image.shape[0] < 129 and image.shape[1] < 97 and image.min() >= 0


def test_real_iq_frames_are_complex(shared_data):
    frames = real_iq_frames()
    assert len(frames) == 4 and all(np.iscomplexobj(f) and f.shape == (251, 251) for f in frames)


def test_despeckle_iq_with_a_tiny_untrained_model(homogeneous_iq):
    import s2v

    model = s2v.Speckle2Void(s2v.S2VConfig.from_preset("cpu", filters=8, depth=3))
    out = despeckle_iq(homogeneous_iq["iq"], model)
    assert out.shape == SHAPE and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0
    with pytest.raises(ValueError, match="complex IQ"):
        despeckle_iq(homogeneous_iq["intensity"], model)
    with pytest.raises(ValueError, match="Speckle2Void"):
        despeckle_iq(homogeneous_iq["iq"], object())

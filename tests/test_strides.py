"""s2v.strides: the pixel-shuffle stride from an image's measured speckle correlation."""

import numpy as np
import pytest

from s2v.config import S2VConfig
from s2v.simulate import simulate_ultrasound
from s2v.strides import image_stride, stride_from_correlation


def _speckle(lateral_beam_width, center_frequency=5e6, seed=0, shape=(161, 131)):
    """Homogeneous simulated ultrasound intensity; the PSF sets the speckle correlation."""
    return simulate_ultrasound(np.ones(shape), shape=shape, seed=seed, center_frequency=center_frequency,
                               lateral_beam_width=lateral_beam_width)


def test_white_speckle_needs_no_shuffle(rng):
    assert stride_from_correlation(rng.exponential(1.0, (97, 83))) == 1


def test_the_stride_is_the_first_lag_below_the_threshold():
    """Against the simulator's own correlation: the intensity correlation at lag k along an axis
    is |rho_iq(k)|^2 = exp(-k^2 / (2 sigma^2)) (simulate_ultrasound's docstring), and the
    log-intensity correlation is a little lower (Xie et al. 2002) -- so the measured stride is
    at most the first lag where the intensity correlation is at most the threshold."""
    sim = _speckle(0.6e-3)
    sigma = max(sim["params"]["axial_sigma_px"], sim["params"]["lateral_sigma_px"])
    intensity_rho = lambda k: np.exp(-k**2 / (2 * sigma**2))  # noqa: E731
    bound = next(k for k in range(1, 20) if intensity_rho(k) <= 0.3)
    stride = stride_from_correlation(sim["intensity"], threshold=0.3)
    assert 2 <= stride <= bound
    assert stride_from_correlation(sim["intensity"], threshold=0.7) < stride


def test_a_longer_point_spread_function_gets_a_larger_stride():
    narrow = stride_from_correlation(_speckle(0.3e-3, center_frequency=9e6)["intensity"])
    wide = stride_from_correlation(_speckle(1.4e-3, center_frequency=2.5e6)["intensity"])
    assert narrow < wide


def test_max_stride_caps_the_answer():
    intensity = _speckle(1.4e-3, center_frequency=2.5e6)["intensity"]
    assert stride_from_correlation(intensity) > 2
    assert stride_from_correlation(intensity, max_stride=2) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 0.0}, r"threshold must lie in \(0, 1\)"),
    ({"threshold": 1.5}, r"threshold must lie in \(0, 1\)"),
    ({"max_stride": 0}, "max_stride must be an integer >= 1"),
    ({"max_stride": 2.0}, "max_stride must be an integer >= 1"),
])
def test_bad_options_are_refused(rng, kwargs, message):
    with pytest.raises(ValueError, match=message):
        stride_from_correlation(rng.exponential(1.0, (33, 35)), **kwargs)


def test_bad_images_are_refused(rng):
    with pytest.raises(ValueError, match="at least 8 x 8"):
        stride_from_correlation(rng.exponential(1.0, (7, 40)))
    with pytest.raises(ValueError):
        stride_from_correlation(-rng.exponential(1.0, (33, 35)))


def test_image_stride_follows_the_configuration():
    correlated = _speckle(0.9e-3)["intensity"]
    measured = stride_from_correlation(correlated)
    fixed = S2VConfig(pixel_shuffle=4)
    assert image_stride(correlated, fixed) == 4
    assert image_stride(correlated, fixed, prediction=True) == 4
    assert image_stride(correlated, fixed.replace(predict_pixel_shuffle=2), prediction=True) == 2
    assert image_stride(correlated, fixed.replace(predict_pixel_shuffle=2)) == 4  # training
    rule = S2VConfig(pixel_shuffle=4, stride_from_correlation=True)
    assert image_stride(correlated, rule) == measured
    loose = rule.replace(predict_stride_threshold=0.8)
    assert image_stride(correlated, loose) == measured
    assert image_stride(correlated, loose, prediction=True) == stride_from_correlation(correlated, threshold=0.8)
    assert image_stride(correlated[:6, :30], rule) == 4  # too small to measure: pixel_shuffle


# --------------------------------------------------------------------------- remove_mosaic


def _dilated_output(rng, stride, shape=(131, 117)):
    """exp of a smooth field plus noise through a filter dilated by ``stride``: a PD mosaic."""
    from scipy.ndimage import convolve, gaussian_filter

    kernel = np.zeros((4 * stride + 1,) * 2)
    kernel[::stride, ::stride] = 1.0 / 25
    smooth = 2.0 * gaussian_filter(rng.normal(size=shape), 8.0)
    return np.exp(smooth + 0.3 * convolve(rng.normal(size=shape), kernel, mode="wrap")).astype(np.float32), smooth


@pytest.mark.parametrize("stride", [2, 3, 4])
def test_remove_mosaic_takes_the_peak_away_and_keeps_the_mean(rng, stride):
    from s2v.metrics import mosaic_peak
    from s2v.strides import remove_mosaic

    image, smooth = _dilated_output(rng, stride)
    assert mosaic_peak(np.log(image), stride) > 5
    cleaned = remove_mosaic(image, stride, width=0.25)
    assert mosaic_peak(np.log(cleaned), stride) < 1.5
    assert cleaned.dtype == np.float32 and cleaned.shape == image.shape
    assert cleaned.mean() == pytest.approx(image.mean(), rel=1e-5)
    # An image without a mosaic (smooth, far below the mosaic frequencies) is left as it was.
    untouched = remove_mosaic(np.exp(smooth).astype(np.float32), stride, width=0.25)
    assert np.abs(np.log(untouched) - smooth).max() < 1e-3


def test_remove_mosaic_keeps_excluded_pixels_and_refuses_bad_options(rng):
    from s2v.strides import remove_mosaic

    image, _ = _dilated_output(rng, 2, shape=(64, 70))
    exclude = np.zeros(image.shape, bool)
    exclude[10, 12] = True
    image[10, 12] = 1e4
    cleaned = remove_mosaic(image, 2, exclude=exclude)
    assert cleaned[10, 12] == 1e4
    for stride, width, message in ((1, 0.2, "stride must be an integer >= 2"), (2, 0.0, "width"),
                                   (2, 0.6, "width")):
        with pytest.raises(ValueError, match=message):
            remove_mosaic(image, stride, width=width)


def test_prediction_with_the_notch_is_the_notched_prediction(rng):
    from s2v.model import Speckle2Void
    from s2v.strides import remove_mosaic

    model = Speckle2Void(S2VConfig.from_preset("cpu", filters=8, depth=4, pixel_shuffle=3))
    image = rng.gamma(1.0, 1.0, (61, 55)).astype(np.float32)
    plain = model.predict_maps(image, outputs=("posterior_mean", "alpha"), progress=False)
    notched = model.predict_maps(image, outputs=("posterior_mean", "alpha"), progress=False, mosaic_notch=0.2)
    np.testing.assert_allclose(notched["posterior_mean"], remove_mosaic(plain["posterior_mean"], 3, width=0.2),
                               rtol=1e-6)
    np.testing.assert_array_equal(notched["alpha"], plain["alpha"])  # not an intensity: left alone
    configured = Speckle2Void(model.s2v_config.replace(predict_mosaic_notch=0.2))
    configured.set_weights(model.get_weights())
    np.testing.assert_array_equal(configured.predict_maps(image, outputs=("posterior_mean",), progress=False)
                                  ["posterior_mean"], notched["posterior_mean"])
    with pytest.raises(ValueError, match="mosaic_notch"):
        model.predict_maps(image, mosaic_notch=0.7, progress=False)


def test_image_stride_measures_a_large_image_on_its_centre(rng):
    """A large image is measured on its central MEASURE_SIDE square only: correlated speckle all
    around a white centre gives the centre's stride (1), the whole image a larger one."""
    from s2v.strides import MEASURE_SIDE

    big = np.tile(_speckle(0.9e-3)["intensity"], (9, 9))[:1400, :1300]
    r0, c0 = ((n - MEASURE_SIDE) // 2 for n in big.shape)
    big[r0:r0 + MEASURE_SIDE, c0:c0 + MEASURE_SIDE] = rng.exponential(1.0, (MEASURE_SIDE, MEASURE_SIDE))
    rule = S2VConfig(pixel_shuffle=4, stride_from_correlation=True)
    assert stride_from_correlation(big) > 1
    assert image_stride(big, rule) == 1

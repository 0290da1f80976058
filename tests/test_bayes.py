"""Bayesian Gamma x inverse-gamma model against independent references (scipy)."""

import numpy as np
import pytest
from scipy import integrate, stats

from s2v import bayes


def _log_marginal_by_quadrature(y, alpha, beta, looks):
    """log of the integral over x of Gamma(y; L, scale x/L) * InvGamma(x; alpha, scale beta)."""
    def integrand(x):
        return stats.gamma.pdf(y, looks, scale=x / looks) * stats.invgamma.pdf(x, alpha, scale=beta)
    split = 50 * max(beta / (alpha + 1), y)  # quad takes break points on finite ranges only
    head, _ = integrate.quad(integrand, 0, split, points=[beta / (alpha + 1), y], limit=500,
                             epsabs=0, epsrel=1e-10)
    tail, _ = integrate.quad(integrand, split, np.inf, limit=500, epsabs=0, epsrel=1e-10)
    return np.log(head + tail)


@pytest.mark.parametrize("y, alpha, beta, looks", [
    (0.7, 3.0, 2.0, 1.0), (2.5, 1.5, 0.4, 1.0), (0.2, 6.0, 1.3, 4.0), (1.1, 2.2, 3.0, 2.5)])
def test_negative_log_likelihood_matches_numerical_integration(y, alpha, beta, looks):
    ours = float(np.asarray(bayes.negative_log_likelihood(y, alpha, beta, looks)))
    reference = -_log_marginal_by_quadrature(y, alpha, beta, looks)
    assert ours == pytest.approx(reference, rel=1e-5, abs=1e-5)


def test_negative_log_likelihood_is_per_pixel():
    y = np.full((3, 5), 0.8, np.float32)
    out = np.asarray(bayes.negative_log_likelihood(y, 2.0 * np.ones_like(y), np.ones_like(y), 1.0))
    assert out.shape == (3, 5) and np.allclose(out, out[0, 0])


def test_zero_intensity_and_zero_beta_stay_finite():
    out = np.asarray(bayes.negative_log_likelihood(np.zeros(2), np.array([2.0, 2.0]), np.array([0.0, 1.0]), 1.0))
    assert np.all(np.isfinite(out))


def _importance_posterior(y, alpha, beta, looks, rng, n=2_000_000):
    x = stats.invgamma.rvs(alpha, scale=beta, size=n, random_state=rng)
    w = stats.gamma.pdf(y, looks, scale=x / looks)
    mean = np.sum(w * x) / np.sum(w)
    var = np.sum(w * (x - mean) ** 2) / np.sum(w)
    return mean, np.sqrt(var)


@pytest.mark.parametrize("y, alpha, beta, looks", [(0.9, 4.0, 3.0, 1.0), (1.6, 3.0, 1.0, 3.0)])
def test_posterior_mean_and_std_against_monte_carlo(y, alpha, beta, looks, rng):
    mean_mc, std_mc = _importance_posterior(y, alpha, beta, looks, rng)
    assert float(np.asarray(bayes.posterior_mean(y, alpha, beta, looks))) == pytest.approx(mean_mc, rel=0.01)
    assert float(np.asarray(bayes.posterior_std(y, alpha, beta, looks))) == pytest.approx(std_mc, rel=0.03)


def test_prior_mean_is_the_inverse_gamma_mean():
    assert float(np.asarray(bayes.prior_mean(3.0, 4.0))) == pytest.approx(stats.invgamma.mean(3.0, scale=4.0))


def test_log_gamma_matches_scipy():
    """The backend dispatch of log Gamma against scipy.special.gammaln (float64 reference)."""
    from scipy.special import gammaln

    x = np.array([1e-3, 0.5, 1.0, 1.5, 2.0, 7.3, 40.0, 1e4], np.float32)
    np.testing.assert_allclose(np.asarray(bayes.log_gamma(x)), gammaln(x.astype(np.float64)), rtol=2e-6, atol=1e-6)


def test_numpy_in_float32_array_out():
    """Prediction calls these on numpy tiles and converts with numpy.asarray."""
    y = np.full((2, 3), 0.8)  # float64 in: computed in float32, as the network's outputs
    for out in (bayes.posterior_mean(y, 3.0 * np.ones_like(y), np.ones_like(y), 1.0),
                bayes.prior_mean(3.0 * np.ones_like(y), np.ones_like(y)),
                bayes.posterior_std(y, 3.0 * np.ones_like(y), np.ones_like(y), 1.0),
                bayes.negative_log_likelihood(y, 3.0 * np.ones_like(y), np.ones_like(y), 1.0)):
        array = np.asarray(out)
        assert array.shape == (2, 3) and array.dtype == np.float32
    assert np.asarray(bayes.posterior_mean(y, 3.0, 1.0, 1.0))[0, 0] == np.float32(1.8) / np.float32(3.0)


def test_negative_log_likelihood_takes_one_number_of_looks_per_pixel():
    """A looks plane (training on a range of looks) gives, pixel by pixel, the scalar formula."""
    y = np.array([[0.3, 1.2], [2.5, 0.05]], np.float32)
    alpha = np.array([[3.0, 4.5], [2.2, 6.0]], np.float32)
    beta = np.array([[2.0, 3.0], [1.5, 4.0]], np.float32)
    looks = np.array([[1.0, 2.0], [4.0, 8.0]], np.float32)
    per_pixel = np.asarray(bayes.negative_log_likelihood(y, alpha, beta, looks))
    for index in np.ndindex(y.shape):
        scalar = np.asarray(bayes.negative_log_likelihood(y[index], alpha[index], beta[index], float(looks[index])))
        np.testing.assert_allclose(per_pixel[index], scalar, rtol=1e-5)

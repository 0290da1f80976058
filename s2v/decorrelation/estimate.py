"""Profile fit, whitening plan and automatic parameters (shift, cut-off) of the decorrelator."""

from __future__ import annotations

import numpy as np
import scipy.fft
from numpy.polynomial import Chebyshev

from .spectra import (_centred_extension_spectrum, _complex_input, _demodulate, _lag_rho,
                      _marginals, _to_image_grid)

#: Candidate band thresholds for automatic cut-offs: fractions of the peak of the
#: smoothed amplitude profile where the band ends. 0.04 (-28 dB in power) sits
#: below the 0.08 edge of a Hamming weighting, so sharp processor bands (SAR) are
#: kept whole; higher ones give tighter bands for smooth, non-separable spectra
#: (ultrasound), where the separable model only holds near the spectral peak.
AUTO_THRESHOLDS = (0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
#: Automatic cut-offs take the widest band whose predicted |correlation| at lags 1
#: and 2 after whitening is at most this (else the band with the smallest one).
AUTO_TARGET_RHO = 0.05
#: Smallest value of the fitted, peak-normalised amplitude profile (-30 dB in power):
#: whitening never raises a frequency by more than 30 dB relative to the spectral
#: peak. Kept below the 0.08 edge of a Hamming weighting; a lower floor lets a
#: nearly empty bin kept in the band (a noise floor, the flat spectrum of what
#: stands in for point targets) be raised to the level of the speckle.
_MIN_PROFILE = 0.03


def _clip_normalise(profile):
    """Clip at the 99th percentile (isolated spectral lines, DC) and scale to peak 1."""
    clipped = np.minimum(profile, np.percentile(profile, 99))
    return clipped / clipped.max()


def fit_profile(profile, cut_bins, degree=70):
    """Fit a centred amplitude profile inside the band with a Chebyshev series.

    Parameters
    ----------
    profile : ndarray, shape (N,)
        Amplitude profile ``sqrt(mean |FFT|^2)`` in fftshift order.
    cut_bins : int
        Bins excluded at each edge; the fit uses bins ``[cut_bins, N - cut_bins)``.
    degree : int
        Requested degree (the reference uses 70). The degree used is at most a
        third of the number of in-band bins: there a least-squares fit on
        equispaced points still smooths rather than interpolates, and the
        Chebyshev design matrix has a condition number below about 2e3.

    Returns
    -------
    fitted : ndarray, shape (N - 2 * cut_bins,)
        The fit on the in-band bins of the profile after the reference's
        99th-percentile clipping and normalisation to peak 1, floored at
        0.03 (``_MIN_PROFILE``: whitening raises no frequency by more than
        30 dB relative to the peak).
    used_degree : int

    Notes
    -----
    ``equalizeIQ.m`` calls MATLAB ``polyfit`` on raw bin indices 0..N-1 at
    degree 70: the monomial Vandermonde matrix then has a condition number
    near 1e164. Here ``Chebyshev.fit`` maps the in-band indices to [-1, 1]
    and uses the Chebyshev basis, which is well conditioned.
    """
    profile = np.asarray(profile, dtype=np.float64)
    n = profile.size
    cut_bins = int(cut_bins)
    if profile.ndim != 1 or not 0 <= cut_bins <= (n - 2) // 2:
        raise ValueError(f"fit_profile: need a 1-D profile and 0 <= cut_bins <= {(n - 2) // 2}, "
                         f"got shape {profile.shape} and cut_bins={cut_bins}")
    band = np.arange(cut_bins, n - cut_bins)
    target = _clip_normalise(profile)[band]
    used_degree = int(max(1, min(int(degree), band.size // 3)))
    fitted = Chebyshev.fit(band, target, used_degree)(band)
    return np.maximum(fitted, _MIN_PROFILE), used_degree


def _plan(power, cuts, degree, resample):
    """Separable whitening of a centred periodogram for given cut bins.

    Returns a dict with the 1-D filters ``w`` (reference normalisation), the
    ``gain`` that keeps the total power, the fits and degrees, the lag-1
    correlation the whitened spectrum will have (``rho``, from its marginals
    only) and the largest |correlation| at lags 1 and 2 (``score``).
    """
    cut_y, cut_x = cuts
    fit_y, deg_y = fit_profile(np.sqrt(power.mean(axis=1)), cut_y, degree)
    fit_x, deg_x = fit_profile(np.sqrt(power.mean(axis=0)), cut_x, degree)
    # Reference: W = 1 / (G sqrt(#band)) with G = g_y g_x^T of unit Frobenius norm.
    norm = np.linalg.norm(fit_y) * np.linalg.norm(fit_x)
    w_y = norm / (fit_y * np.sqrt(fit_y.size * fit_x.size))
    w_x = 1.0 / fit_x
    marginals = _whitened_marginals(power, cuts, w_y, w_x)
    gain = float(np.sqrt(power.sum() / marginals[0].sum()))
    rho, score = _whiteness(marginals, cuts, resample)
    return {"w": (w_y, w_x), "gain": gain, "fits": (fit_y, fit_x), "degree": (deg_y, deg_x),
            "rho": rho, "score": score}


def _estimate_shift_1d(marginal):
    """Circular mean of a power marginal (fft order), rounded to a whole bin."""
    n = marginal.size
    angle = np.angle(np.sum(marginal * np.exp(2j * np.pi * np.arange(n) / n)))
    # A whole-bin shift is an exact circular roll of the spectrum (no leakage).
    return 2.0 * round(angle / np.pi * n / 2.0) / n


def _smooth_circular(profile, width):
    half = width // 2
    padded = np.concatenate([profile[-half:], profile, profile[:half]])
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _cut_bins_1d(profile, threshold):
    """Symmetric cut (bins per edge) where the smoothed centred profile drops below threshold."""
    n = profile.size
    smooth = _smooth_circular(_clip_normalise(profile), max(3, 2 * (n // 64) + 1))
    below = smooth < threshold * smooth.max()
    centre = n // 2
    left = np.flatnonzero(below[:centre][::-1])
    right = np.flatnonzero(below[centre + 1:])
    # Bins cut on each side = distance from the first bin below the level to the edge.
    cut_left = centre - left[0] if left.size else 0
    cut_right = n - (centre + 1 + right[0]) if right.size else 0
    return min(int(round(0.5 * (cut_left + cut_right))), (n - 2) // 2)


def estimate_parameters(slc, *, threshold=None, resample=False, degree=70, domain=None):
    """Estimate frequency shifts and band cut-offs from the averaged periodogram.

    Parameters
    ----------
    slc : ndarray, shape (H, W), complex
        SLC / IQ image (or real RF with ``domain='rf'``), point targets
        already removed (:func:`decorrelate` does it first).
    threshold : float, optional
        Fraction of the peak of the smoothed amplitude profile where the band
        ends. ``None``: the lowest of :data:`AUTO_THRESHOLDS` (widest band)
        whose predicted |correlation| after whitening at lags 1 and 2 is at
        most :data:`AUTO_TARGET_RHO` on both axes, else the one with the
        smallest prediction. The prediction is the largest of those of the
        whitened periodograms of the image's symmetric extension (what is
        filtered) and of the image itself (which keeps an asymmetric band
        the extension symmetrises), so this picks the widest band that the
        separable model whitens: a band's sharp edge or a non-separable
        spectrum (ultrasound) calls for a higher threshold.
        Lag 2 is included so that a whitening that cancels the lag-1
        correlation with spikes at the band edges is not taken for white.
    resample : bool
        Output grid the prediction is made for (see :func:`decorrelate`).
    degree : int
        Degree of the profile fits (see :func:`fit_profile`).
    domain : {None, 'complex', 'rf'}

    Returns
    -------
    dict
        ``shift`` (m_y, m_x), ``cutoff`` (r_y, r_x), ``threshold`` and
        ``predicted_rho`` (lag-1 rho_y, rho_x after whitening, the larger of
        the two predictions), in the conventions of the module docstring.

    Notes
    -----
    Shift: the circular mean of the power marginal along each axis, i.e. the
    phase of the lag-1 autocorrelation, ``m = angle(R(1)) / pi``, rounded to
    a whole frequency bin (``2 / N``) so that demodulation is an exact
    circular roll of the spectrum. It is the band centre for any spectrum
    symmetric about its centre (Hamming or Gaussian weighting around a
    Doppler centroid or an ultrasound centre frequency), and a flat noise
    floor does not bias it.

    Cut-off: after demodulation, from the periodogram of the image's
    half-sample symmetric extension (2H, 2W), which has no leakage from a
    jump at the borders (with the image's own periodogram that leakage
    widens the band of a non-periodic image). The amplitude profile
    ``sqrt(mean |FFT|^2)`` is clipped at its 99th percentile, normalised to
    peak 1, smoothed with a circular moving average (about N/32 bins) and
    walked outwards from zero frequency until it drops below ``threshold``;
    the two sides are averaged (the reference uses one symmetric cut-off per
    axis).
    """
    z, _ = _complex_input(slc, domain)
    _check_threshold(threshold)
    shift = _estimate_shift(np.abs(scipy.fft.fft2(z, workers=-1)) ** 2)
    z = _demodulate(z, shift)
    image_power = np.fft.fftshift(np.abs(scipy.fft.fft2(z, workers=-1)) ** 2)
    power = np.abs(_centred_extension_spectrum(z)) ** 2
    del z
    level, cuts, plan = _choose_cutoff(power, image_power, threshold, degree, resample)
    rows, cols = power.shape[0] // 2, power.shape[1] // 2
    return {"shift": shift, "cutoff": (cuts[0] / rows, cuts[1] / cols),
            "threshold": level, "predicted_rho": plan["predicted_rho"]}


def _check_threshold(threshold):
    if threshold is not None and not 0 < float(threshold) < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")


def _estimate_shift(power):
    """Whole-bin band centres ``(m_y, m_x)`` from the (unshifted) periodogram of the image."""
    marg_y, marg_x = _marginals(power)
    return (_estimate_shift_1d(marg_y), _estimate_shift_1d(marg_x))


def _image_score(power, cuts, w, resample):
    """``(lag-1 rho_y, rho_x)`` and largest |correlation| at lags 1 and 2 of the image's own
    periodogram whitened by ``w``.

    ``power``: centred periodogram (H, W) of the demodulated image; ``w``: the
    filters of a plan on the extension, sampled here at the image's
    frequencies. The extension's periodogram is symmetric in frequency: this
    sees what it cannot, an asymmetric band that the filter leaves coloured.
    """
    rows, cols = power.shape
    w_y, w_x = _to_image_grid(w[0], rows), _to_image_grid(w[1], cols)
    return _whiteness(_whitened_marginals(power, cuts, w_y, w_x), cuts, resample)


def _whitened_marginals(power, cuts, w_y, w_x):
    """In-band power marginals ``(P_y, P_x)`` (centred) of a centred periodogram whitened by ``w_y w_x^T``."""
    rows, cols = power.shape
    cut_y, cut_x = cuts
    band_power = power[cut_y:rows - cut_y, cut_x:cols - cut_x]
    return (band_power @ w_x ** 2) * w_y ** 2, (w_y ** 2 @ band_power) * w_x ** 2


def _whiteness(marginals, cuts, resample):
    """``(lag-1 rho_y, rho_x)`` and largest |correlation| at lags 1 and 2 of whitened marginals.

    On the input grid (``resample=False``) the ``cuts`` zeroed bins are put back at each edge.
    """
    marg_y, marg_x = marginals
    if not resample:
        marg_y, marg_x = np.pad(marg_y, cuts[0]), np.pad(marg_x, cuts[1])
    marg_y, marg_x = np.fft.ifftshift(marg_y), np.fft.ifftshift(marg_x)
    rho = (_lag_rho(marg_y, 1), _lag_rho(marg_x, 1))
    return rho, max(*rho, _lag_rho(marg_y, 2), _lag_rho(marg_x, 2))


def _choose_cutoff(power, image_power, threshold, degree, resample):
    """Automatic band: ``(threshold used, (cut_y, cut_x) bins of the image, whitening plan)``.

    ``power`` is the centred periodogram of the symmetric extension (2H, 2W)
    of the demodulated image, ``image_power`` that of the image itself (H, W).
    The cuts on the extension are twice those of the image, so that the
    image's own band is exactly half of the extension's. A band counts as
    white when both periodograms, whitened, are (``plan["score"]``).
    """
    rows, cols = power.shape[0] // 2, power.shape[1] // 2
    prof_y, prof_x = np.sqrt(power.mean(axis=1)), np.sqrt(power.mean(axis=0))
    candidates = AUTO_THRESHOLDS if threshold is None else (float(threshold),)
    best = None
    for level in candidates:
        cuts = (min(int(round(_cut_bins_1d(prof_y, level) / 2)), (rows - 2) // 2),
                min(int(round(_cut_bins_1d(prof_x, level) / 2)), (cols - 2) // 2))
        plan = _plan(power, (2 * cuts[0], 2 * cuts[1]), degree, resample)
        image_rho, image_score = _image_score(image_power, cuts, plan["w"], resample)
        plan["score"] = max(plan["score"], image_score)
        plan["predicted_rho"] = (max(plan["rho"][0], image_rho[0]), max(plan["rho"][1], image_rho[1]))
        if best is None or plan["score"] < best[2]["score"] or plan["score"] <= AUTO_TARGET_RHO:
            best = (level, cuts, plan)
        if plan["score"] <= AUTO_TARGET_RHO:
            break
    return best

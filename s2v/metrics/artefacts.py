"""Artefact measures: the pixel-shuffle mosaic, seen as lines in the power spectrum."""

from __future__ import annotations

import numpy as np

from ._common import _finite_array


def mosaic_frequency_distances(rows, cols, stride: int):
    """For each mosaic frequency ``(j0 / s, j1 / s)``, not (0, 0): its distance to every frequency.

    ``rows`` and ``cols`` are broadcastable frequency grids in cycles per pixel (e.g.
    ``np.fft.fftfreq(h)[:, None]`` and ``np.fft.rfftfreq(w)[None, :]``); distances are taken on
    the periodic frequency torus. Yields ``s**2 - 1`` arrays.
    """
    for j0 in range(stride):
        for j1 in range(stride):
            if j0 or j1:
                yield np.hypot((rows - j0 / stride + 0.5) % 1.0 - 0.5, (cols - j1 / stride + 0.5) % 1.0 - 0.5)


def mosaic_peak(image, stride: int) -> float:
    r"""How strongly a period-``stride`` mosaic shows in an image's power spectrum.

    A pixel-shuffle (PD) despeckler of stride ``s`` runs one network on the ``s x s``
    sub-images: on the image grid it acts like a filter dilated by ``s``, whose frequency
    response repeats every ``1 / s`` cycles per pixel. Its output therefore carries copies
    of its low-frequency spectrum (leaked speckle, blockiness) centred on the mosaic
    frequencies ``(j_0 / s, j_1 / s)``, ``0 <= j_0, j_1 < s`` not both 0, seen as a grid
    texture. Averaging over the mosaic offsets does not remove them (the dilated filter is
    already shift-invariant). With ``P`` the Hann-windowed periodogram of the image (cropped
    to a multiple of ``s``, mean removed) and ``r = 1 / (4 s)``, this returns

    .. math::
        \max_{(j_0, j_1) 
e (0, 0)}
        rac{\operatorname{mean} P(|f - j / s| < r)}{\operatorname{mean} P(r \le |f - j / s| < 2 r)},

    the excess of power in a disc around a mosaic frequency over the ring around that disc.
    A spectrum that decays away from zero frequency, as a natural image's, gives at most
    about 1.5 (measured 0.05 to 1.5 on simulated B-mode truths, noisy B-mode and NLM-log
    outputs; up to 2.2 on a stride-1 Speckle2Void output); a visible mosaic 2.5 to 20.

    Parameters
    ----------
    image : array_like, (H, W) real
        The image as it is looked at: B-mode dB or log-intensity for speckle images (a
        mosaic is a multiplicative pattern, an additive one after the log). At least
        ``16 * stride`` pixels on each side.
    stride : int
        The pixel-shuffle stride ``s`` >= 2 whose mosaic is looked for.

    Returns
    -------
    float
        The largest peak ratio (dimensionless, >= 0).

    Raises
    ------
    ValueError
        A stride below 2, an image that is not 2-D, not finite, or too small.
    """
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 2:
        raise ValueError(f"stride must be an integer >= 2, got {stride!r}")
    stride = int(stride)
    image = _finite_array(image, "image")
    if image.ndim != 2 or min(image.shape) < 16 * stride:
        raise ValueError(f"image must be 2-D with at least {16 * stride} pixels on each side for "
                         f"stride {stride}, got shape {image.shape}")
    height, width = (n - n % stride for n in image.shape)
    values = image[:height, :width]
    values = values - values.mean()
    power = np.abs(np.fft.fft2(values * np.outer(np.hanning(height), np.hanning(width)))) ** 2
    if not power.any():  # a constant image
        return 0.0
    rows = np.fft.fftfreq(height)[:, None]
    cols = np.fft.fftfreq(width)[None, :]
    radius = 1.0 / (4 * stride)
    # A floor far below any visible pattern (a mosaic of 0.1 dB on a B-mode image is about
    # 1e-3 of the mean power per bin), so that the window leakage at the high frequencies
    # of a perfectly smooth image is not read as a peak.
    floor = 1e-6 * power.mean()
    peak = 0.0
    for distance in mosaic_frequency_distances(rows, cols, stride):
        ring = max(power[(distance >= radius) & (distance < 2 * radius)].mean(), floor)
        peak = max(peak, float(power[distance < radius].mean() / ring))
    return peak

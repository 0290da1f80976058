"""The pixel-shuffle stride an image needs, from its measured speckle correlation.

A blind-spot network assumes that the noise of a pixel says nothing about the noise of its
neighbours. Ultrasound speckle (and SAR speckle before decorrelation) is correlated over the
point-spread function, a few pixels; a pixel shuffle of stride ``s`` (AP-BSN's PD) makes the
network's neighbours ``s`` pixels apart, where the correlation has decayed. The stride that
suffices therefore follows the image: the smallest ``s`` at which the log-speckle correlation
(:func:`s2v.baselines.estimate_log_speckle_correlation`, from the image's most homogeneous
windows) has fallen below a threshold along both axes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["stride_from_correlation", "image_stride", "STRIDE_CORRELATION_THRESHOLD", "MAX_STRIDE"]

#: Default correlation of the log-speckle below which neighbours count as independent
#: (:attr:`s2v.S2VConfig.stride_threshold`).
STRIDE_CORRELATION_THRESHOLD = 0.3
#: Largest stride the rule returns: the sub-images of a 256-pixel image are 32 pixels wide.
MAX_STRIDE = 8


def stride_from_correlation(intensity, *, threshold: float = STRIDE_CORRELATION_THRESHOLD,
                            max_stride: int = MAX_STRIDE) -> int:
    """Smallest pixel-shuffle stride at which the image's speckle looks uncorrelated.

    Parameters
    ----------
    intensity : array_like, (H, W)
        Noisy **intensity** (linear power, >= 0, finite), at least 8 pixels on each side.
    threshold : float
        Correlation coefficient of the log-speckle in (0, 1) below which two pixels count as
        independent (default :data:`STRIDE_CORRELATION_THRESHOLD`).
    max_stride : int
        Upper bound of the answer, an integer >= 1.

    Returns
    -------
    int
        The smallest ``s`` in ``1 .. max_stride`` with ``|rho(s, 0)|`` and ``|rho(0, s)|``
        (axial and lateral lags) both at most ``threshold``; ``max_stride`` when none is.
        1 for white speckle (a decorrelated SLC, synthetic speckle).

    Raises
    ------
    ValueError
        A threshold outside (0, 1), a bad ``max_stride``, or an image that is not a valid
        intensity of at least 8 x 8 pixels.
    """
    from .baselines import estimate_log_speckle_correlation
    from .utils import check_intensity

    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    if isinstance(max_stride, bool) or not isinstance(max_stride, (int, np.integer)) or max_stride < 1:
        raise ValueError(f"max_stride must be an integer >= 1, got {max_stride!r}")
    image = check_intensity(intensity)
    if min(image.shape) < 8:
        raise ValueError(f"stride_from_correlation needs at least 8 x 8 pixels, got {image.shape}")
    rho = estimate_log_speckle_correlation(image)
    half = rho.shape[0] // 2
    for stride in range(1, int(max_stride) + 1):
        if stride > half:  # lags the estimate cannot see: the largest stride allowed
            return int(max_stride)
        if abs(rho[half + stride, half]) <= threshold and abs(rho[half, half + stride]) <= threshold:
            return stride
    return int(max_stride)


def image_stride(intensity, config, *, prediction: bool = False) -> int:
    """The pixel-shuffle stride of one image under a configuration, at training or prediction.

    With ``config.stride_from_correlation``: :func:`stride_from_correlation` at
    ``stride_threshold`` (training) or ``predict_stride_threshold`` (prediction, when set),
    and ``pixel_shuffle`` for an image under 8 pixels on a side (too small to measure).
    Otherwise ``pixel_shuffle`` (training) or ``predict_pixel_shuffle`` when set
    (prediction).

    Parameters
    ----------
    intensity : array_like, (H, W)
        Noisy **intensity** (>= 0, finite).
    config : S2VConfig
    prediction : bool
        The stride at prediction rather than at training.
    """
    from .utils import check_intensity

    if not config.stride_from_correlation:
        return (config.predict_pixel_shuffle if prediction else 0) or config.pixel_shuffle
    image = check_intensity(intensity)
    if min(image.shape) < 8:
        return config.pixel_shuffle
    threshold = (config.predict_stride_threshold if prediction else 0.0) or config.stride_threshold
    return stride_from_correlation(image, threshold=threshold)

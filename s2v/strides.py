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

__all__ = ["stride_from_correlation", "image_stride", "remove_mosaic", "STRIDE_CORRELATION_THRESHOLD", "MAX_STRIDE"]

#: Default correlation of the log-speckle below which neighbours count as independent
#: (:attr:`s2v.S2VConfig.stride_threshold`).
STRIDE_CORRELATION_THRESHOLD = 0.3
#: Largest stride the rule returns: the sub-images of a 256-pixel image are 32 pixels wide.
MAX_STRIDE = 8
#: :func:`image_stride` measures the correlation on the central square of this side at most.
MEASURE_SIDE = 1024


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

    With ``config.stride_from_correlation``: :func:`stride_from_correlation` (on the central
    :data:`MEASURE_SIDE` x :data:`MEASURE_SIDE` pixels at most) at
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
    # The central MEASURE_SIDE x MEASURE_SIDE pixels at most: the estimate needs a few hundred
    # windows, and a 10^8-pixel image would otherwise take gigabytes of them.
    rows, cols = (slice(max(0, (n - MEASURE_SIDE) // 2), max(0, (n - MEASURE_SIDE) // 2) + MEASURE_SIDE)
                  for n in image.shape)
    return stride_from_correlation(image[rows, cols], threshold=threshold)


def remove_mosaic(intensity, stride: int, *, width: float = 0.15, exclude=None) -> np.ndarray:
    r"""Notch the pixel-shuffle mosaic out of a despeckled intensity, in the log domain.

    A network run on the ``s x s`` sub-images acts on the image grid as a filter dilated by
    ``s``: its output repeats its low-frequency spectrum around every mosaic frequency
    ``j / s`` (:func:`s2v.metrics.mosaic_peak`), a grid texture that averaging over mosaic
    offsets does not remove. This multiplies the spectrum of ``log(intensity)`` by

    .. math:: \prod_{j \ne 0} \Bigl(1 - e^{-|f - j / s|^2 / (2 (w / s)^2)}\Bigr),

    Gaussian notches of width ``w / s`` cycles per pixel at the ``s**2 - 1`` mosaic
    frequencies, and rescales the result to the input's mean intensity. Pixels in
    ``exclude`` (point targets) are replaced by the image median before the transform and
    copied back after it, so that a bright point does not ring. Measured on validation
    phantoms (``benchmarks/ultrasound_pd_inference.py``; the transform is one whole-image FFT,
    about 16 bytes per pixel of memory): ``w = 0.15`` takes the mosaic peak
    from 9-19 to under 2 and the B-mode PSNR up by 0.03-0.1 dB.

    Parameters
    ----------
    intensity : array_like, (H, W)
        Despeckled **intensity** (> 0 where not excluded, finite).
    stride : int
        The pixel-shuffle stride that made the mosaic, >= 2.
    width : float
        Notch width ``w`` in units of ``1 / s``, in (0, 0.5].
    exclude : array_like of bool, (H, W), optional
        Pixels kept as they are (point targets).

    Returns
    -------
    ndarray, (H, W) float32
        The intensity without the mosaic, same mean.
    """
    from scipy import fft

    from .metrics.artefacts import mosaic_frequency_distances

    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 2:
        raise ValueError(f"stride must be an integer >= 2, got {stride!r}")
    width = float(width)
    if not 0.0 < width <= 0.5:
        raise ValueError(f"width must lie in (0, 0.5], got {width}")
    image = np.asarray(intensity, np.float32)
    keep = np.zeros(image.shape, bool) if exclude is None else np.asarray(exclude, bool)
    floor = np.finfo(np.float32).tiny
    log_image = np.log(np.maximum(np.where(keep, np.median(image[~keep]) if (~keep).any() else 1.0, image),
                                  floor))
    # Mirrored margins: the FFT's periodic extension would put a jump at the borders, whose
    # broadband power the notches would cut into ringing; the notch responses are about
    # s / w pixels long.
    margin = int(min(np.ceil(4 * stride / width), max(image.shape)))
    log_image = np.pad(log_image, margin, mode="symmetric")
    mean = log_image.mean()
    height, cols = log_image.shape
    rows = np.fft.fftfreq(height)[:, None]
    columns = np.fft.rfftfreq(cols)[None, :]
    response = np.ones((height, columns.shape[1]), np.float32)
    sigma2 = 2.0 * (width / stride) ** 2
    # The set of notches is symmetric, so the rfft half-plane sees each one directly or
    # through its mirror image.
    for distance in mosaic_frequency_distances(rows, columns, stride):
        response *= (1.0 - np.exp(-distance**2 / sigma2)).astype(np.float32)
    filtered = fft.irfft2(fft.rfft2(log_image - mean) * response, s=log_image.shape) + mean
    filtered = filtered[margin:margin + image.shape[0], margin:margin + image.shape[1]]
    out = np.exp(filtered).astype(np.float32)
    out *= np.float32(image[~keep].mean() / out[~keep].mean()) if (~keep).any() else 1.0
    out[keep] = image[keep]
    return out

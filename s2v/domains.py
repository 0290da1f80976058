r"""Conversions between the speckle domains, and statistics read off the speckle itself.

Domains (the words every s2v docstring uses):

==============  ===========================================================================
``complex``     IQ (ultrasound) or SLC (SAR) samples ``z``, complex64/complex128
``rf``          real radio-frequency lines, axis 0 = fast time (depth)
``intensity``   linear power ``I = |z|**2``; fully developed speckle ``I = x n``,
                ``n ~ Gamma(L, 1/L)``
``amplitude``   ``A = |z| = sqrt(I)`` (the ultrasound "envelope")
``bmode``       log-compressed display: dB in ``[-DR, 0]`` or 8-bit grey levels 0..255
                mapping ``[-DR, 0]`` dB linearly
==============  ===========================================================================

B-MODE CONVENTION (log compression, :func:`intensity_to_bmode`, and its inverse
:func:`bmode_to_intensity`). With ``DR`` the dynamic range in dB and ``I_ref`` the intensity
shown as white (0 dB):

.. math::
    b_{dB} = \mathrm{clip}\big(10 \log_{10}(I / I_{ref}),\ -DR,\ 0\big), \qquad
    b_{8} = \mathrm{round}\big(255\,(b_{dB} + DR) / DR\big)

``20 log10(A / A_ref)`` of the envelope is the same number. The inverse is
``I = I_ref 10 ** (b_dB / 10)`` with ``b_dB = b_8 DR / 255 - DR``; it is exact up to the
8-bit quantisation (``DR / 255`` dB per grey level: +-2.7 % in intensity at 60 dB) except at
the clipped ends (grey 0 means "at most ``-DR`` dB", grey 255 "at least 0 dB"). Scanners may
add a non-logarithmic grey map, gain and time-gain compensation: the inverse then recovers
the displayed intensity, not the acoustic one.

The conversions of complex and RF samples live in :mod:`s2v.signals` and are re-exported
here. This module depends on numpy and scipy only (and on :mod:`s2v.decorrelation` for
``to_intensity(..., whiten=True)``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, special

from .signals import (_real_float, amplitude_from_complex, analytic_signal,
                      intensity_from_complex, iq_from_rf)

__all__ = [
    "intensity_from_complex",
    "amplitude_from_complex",
    "analytic_signal",
    "iq_from_rf",
    "bmode_to_intensity",
    "intensity_to_bmode",
    "estimate_dynamic_range",
    "estimate_looks",
    "imaging_mask",
    "overlay_mask",
    "to_intensity",
    "log_intensity_std_db",
    "DOMAINS",
]

#: The domain names understood by :func:`to_intensity` (plus ``'unknown'`` in metadata).
DOMAINS = ("complex", "rf", "bmode", "intensity", "amplitude")

_DB_PER_NEPER = 10.0 / np.log(10.0)  # 10 log10(x) = (10 / ln 10) ln(x)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _non_negative(array, name: str) -> np.ndarray:
    out = _real_float(array, name)
    if out.min() < 0:
        raise ValueError(f"{name}: contains negative values (min {out.min():.4g}); expected a non-negative "
                         "intensity or amplitude (log or B-mode data? use domain='bmode')")
    return out


def _image_2d(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) image, got shape {array.shape}")
    return array


def _check_dynamic_range(dynamic_range) -> float:
    value = float(dynamic_range)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"dynamic_range must be a positive number of dB, got {dynamic_range}")
    return value


def _check_scale(scale) -> str:
    if scale not in ("uint8", "db"):
        raise ValueError(f"scale must be 'uint8' (grey levels 0..255) or 'db' (dB in [-DR, 0]), got {scale!r}")
    return scale


def _check_window(window, shape) -> int:
    window = int(window)
    if window < 3 or window > min(shape):
        raise ValueError(f"window must be an integer between 3 and the smaller image side {min(shape)}, "
                         f"got {window}")
    return window


def _window_moments(image: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over ``window`` x ``window`` windows on a grid of half-window steps.

    The half-overlapping grid gives about ``4 H W / window**2`` windows that all lie inside
    the image (no padding, so no window sees a reflected border).
    """
    mean = ndimage.uniform_filter(image, window, mode="constant")
    mean_sq = ndimage.uniform_filter(image * image, window, mode="constant")
    half, step = window // 2, max(1, window // 2)
    grid = (slice(half, image.shape[0] - half, step), slice(half, image.shape[1] - half, step))
    mean, mean_sq = mean[grid], mean_sq[grid]
    return mean, np.maximum(mean_sq - mean * mean, 0.0)


def log_intensity_std_db(looks=1.0) -> float:
    r"""Standard deviation, in dB, of ``10 log10`` of fully developed ``L``-look speckle.

    For ``n ~ Gamma(L, 1/L)``, ``Var[ln n] = \psi_1(L)`` (trigamma), so the B-mode (dB)
    standard deviation is ``(10 / ln 10) sqrt(psi_1(L))``: 5.57 dB for single-look
    intensity (``pi / sqrt(6) * 10 / ln 10``), 3.1 dB for 3 looks. It does not depend on
    the mean, which is what makes it usable on log-compressed images.

    Examples
    --------
    >>> round(log_intensity_std_db(1.0), 3)
    5.57
    """
    looks = float(looks)
    if not np.isfinite(looks) or looks <= 0:
        raise ValueError(f"looks must be a positive number, got {looks}")
    return float(_DB_PER_NEPER * log_speckle_moments(looks)[1])


def log_speckle_moments(looks: float) -> tuple[float, float]:
    r"""Mean and standard deviation of log-speckle ``log n`` for ``n ~ Gamma(L, 1/L)``.

    .. math:: E[\log n] = \psi(L) - \ln L, \qquad \mathrm{Var}[\log n] = \psi_1(L)

    (digamma and trigamma functions). For ``L = 1``: mean ``-0.5772`` (minus the
    Euler-Mascheroni constant), standard deviation ``pi / sqrt(6) = 1.2825``.

    Parameters
    ----------
    looks : float
        Number of looks ``L`` of the INTENSITY speckle, > 0.

    Returns
    -------
    mean, std : float
        Moments of the LOG-INTENSITY speckle (natural log).

    References
    ----------
    H. Xie, L. E. Pierce, F. T. Ulaby, "Statistical properties of logarithmically
    transformed speckle", IEEE TGRS 40(3), 2002.
    """
    looks = float(looks)
    if not np.isfinite(looks) or looks <= 0:
        raise ValueError(f"log_speckle_moments: looks must be a positive number, got {looks}")
    return float(special.digamma(looks) - np.log(looks)), float(np.sqrt(special.polygamma(1, looks)))


# ---------------------------------------------------------------------------------------------
# B-mode <-> intensity
# ---------------------------------------------------------------------------------------------
def intensity_to_bmode(intensity, *, dynamic_range=60.0, scale="uint8", reference=None) -> np.ndarray:
    r"""Log-compress an intensity into a B-mode image (dB or 8-bit).

    ``b_dB = clip(10 log10(I / reference), -DR, 0)`` and, for ``scale='uint8'``,
    ``round(255 (b_dB + DR) / DR)`` (module docstring). Zero intensities map to ``-DR``.

    Parameters
    ----------
    intensity : array_like, non-negative, any shape (typically (H, W))
        Linear INTENSITY.
    dynamic_range : float, optional
        ``DR`` in dB.
    scale : {'uint8', 'db'}, optional
        Output grey levels (uint8) or dB (float32).
    reference : float, optional
        Intensity displayed at 0 dB (white). Default: the maximum of ``intensity``.

    Returns
    -------
    ndarray, same shape
        B-MODE: uint8 0..255 or float32 dB in ``[-DR, 0]``.

    Examples
    --------
    >>> intensity_to_bmode(np.array([1.0, 1e-3, 1e-9]), dynamic_range=60.0).tolist()
    [255, 128, 0]
    """
    intensity = _non_negative(intensity, "intensity")
    dynamic_range = _check_dynamic_range(dynamic_range)
    scale = _check_scale(scale)
    reference = float(intensity.max()) if reference is None else float(reference)
    if not np.isfinite(reference) or reference <= 0:
        raise ValueError(f"intensity_to_bmode: the reference intensity must be > 0, got {reference} "
                         "(an all-zero image has no B-mode)")
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(intensity.astype(np.float64) / reference)
    db = np.clip(db, -dynamic_range, 0.0)
    if scale == "db":
        return db.astype(np.float32)
    return np.round(255.0 * (db + dynamic_range) / dynamic_range).astype(np.uint8)


def bmode_to_intensity(bmode, *, dynamic_range=60.0, scale="uint8", reference=1.0) -> np.ndarray:
    r"""Undo the log compression of a B-mode image: back to linear intensity.

    ``b_dB = b_8 DR / 255 - DR`` (``scale='uint8'``) and ``I = reference 10 ** (b_dB / 10)``
    (module docstring). The inverse is exact up to 8-bit quantisation; grey 0 comes back as
    ``reference 10 ** (-DR / 10)`` (the true value was at most that).

    Parameters
    ----------
    bmode : array_like, any shape (typically (H, W))
        B-MODE: grey levels in [0, 255] (any integer or float dtype) for ``scale='uint8'``,
        or dB values (<= 0) for ``scale='db'``.
    dynamic_range : float, optional
        ``DR`` in dB of the 8-bit mapping (unused for ``scale='db'``). Unknown? See
        :func:`estimate_dynamic_range`.
    scale : {'uint8', 'db'}, optional
        Meaning of the input values.
    reference : float, optional
        Intensity given to 0 dB (white).

    Returns
    -------
    ndarray of float32 (float64 for float64 input), same shape
        Linear INTENSITY in ``[reference 10**(-DR/10), reference]``.

    Examples
    --------
    >>> bmode_to_intensity(np.array([255, 0], np.uint8), dynamic_range=60.0).tolist()
    [1.0, 9.999999974752427e-07]
    """
    values = _real_float(bmode, "bmode")
    dynamic_range = _check_dynamic_range(dynamic_range)
    scale = _check_scale(scale)
    if scale == "uint8":
        if values.min() < 0 or values.max() > 255:
            raise ValueError(f"bmode: 8-bit grey levels must lie in [0, 255], got [{values.min():.4g}, "
                             f"{values.max():.4g}] (dB values? pass scale='db')")
        db = values.astype(np.float64) * (dynamic_range / 255.0) - dynamic_range
    else:
        if values.max() > 0:
            raise ValueError(f"bmode: dB values must be <= 0 (0 dB = white), got max {values.max():.4g} "
                             "(8-bit grey levels? pass scale='uint8')")
        db = values.astype(np.float64)
    out_dtype = np.float64 if values.dtype == np.float64 else np.float32
    return (float(reference) * 10.0 ** (db / 10.0)).astype(out_dtype)


def estimate_dynamic_range(bmode, *, looks=1.0, window=15, mask=None, max_clipped=0.01) -> float:
    r"""Estimate the dynamic range (dB) of an 8-bit B-mode image from its speckle.

    In fully developed speckle the standard deviation of ``10 log10(I)`` does not depend on
    the local mean: it is ``sigma_dB`` = :func:`log_intensity_std_db` (``looks``) = 5.57 dB
    for single-look intensity. An 8-bit map with range ``DR`` multiplies dB by ``255 / DR``,
    so in a homogeneous speckle window the grey-level standard deviation is
    ``sigma_g = 255 sigma_dB / DR``, hence

    .. math:: \widehat{DR} = 255\, \sigma_{dB} / \tilde\sigma_g

    ``sigma_g`` is measured over ``window`` x ``window`` windows; windows with more than
    ``max_clipped`` of their pixels at 0 or 255 (clipped, so too smooth) are dropped; edges
    and texture only INCREASE a window's standard deviation, so the statistic is the most
    frequent value (histogram mode) of the window standard deviations, which homogeneous
    speckle dominates in most images.

    Limits: it assumes log compression of fully developed speckle with ``looks`` looks.
    Scanner smoothing, spatial/frequency compounding, speckle-reduction filters, interpolation
    during scan conversion and a non-logarithmic grey map all shrink ``sigma_g`` and make the
    estimate too LARGE; strong texture everywhere makes it too small. Measured: within 3 %
    on white single-look speckle and within 7 % on correlated simulated ultrasound, for DR of
    40-80 dB and 15-pixel windows (smaller windows overestimate correlated speckle); within 4 %
    on real beamformed ultrasound (MUST disk IQ, PICMUS envelopes) log-compressed at 60 dB and
    within 10 % on real SAR SLCs at 50 dB (tests); far off on processed scanner images (the
    two real DICOM examples give 139 and 92 dB, the OBNLM liver B-mode 179 dB: all smoothed by
    the scanner). Treat the value as a starting point and pass
    the true value to :func:`bmode_to_intensity` when it is known.

    Parameters
    ----------
    bmode : array_like, (H, W)
        8-bit B-MODE grey levels in [0, 255] (any real dtype).
    looks : float, optional
        Number of looks of the displayed speckle (1: single look).
    window : int, optional
        Side of the square windows (>= 3); windows must hold many speckle cells.
    mask : array_like of bool, (H, W), optional
        Usable pixels (e.g. :func:`imaging_mask`); windows with any excluded pixel are ignored.
    max_clipped : float, optional
        Largest fraction of clipped (0 or 255) pixels in a usable window.

    Returns
    -------
    float
        Estimated dynamic range in dB.
    """
    grey = _image_2d(_real_float(bmode, "bmode"), "bmode").astype(np.float64)
    if grey.min() < 0 or grey.max() > 255:
        raise ValueError(f"bmode: expected 8-bit grey levels in [0, 255], got [{grey.min():.4g}, {grey.max():.4g}]")
    window = _check_window(window, grey.shape)
    clipped = _window_moments(((grey <= 0) | (grey >= 255)).astype(np.float64), window)[0]
    usable = clipped <= max_clipped
    if mask is not None:
        usable &= _window_moments(_mask_like(mask, grey.shape).astype(np.float64), window)[0] >= 1.0 - 1e-9
    _, variance = _window_moments(grey, window)
    # Windows are sample estimates: correct the 1/N bias of the variance.
    n = window * window
    std = np.sqrt(variance[usable] * n / (n - 1))
    std = std[std > 0]
    if std.size < 10:
        raise ValueError("estimate_dynamic_range: fewer than 10 usable (unclipped, non-constant) windows; "
                         "is this a B-mode image with speckle?")
    return float(255.0 * log_intensity_std_db(looks) / _histogram_mode(std))


def _histogram_mode(values: np.ndarray) -> float:
    """Most frequent value of positive samples: peak of a smoothed histogram of ``log(values)``.

    The log makes the bins relative (a fixed fraction of the value) and the Gaussian
    smoothing (1.5 bins) keeps sampling noise from picking a spurious peak.
    """
    logs = np.log(values)
    bins = int(np.clip(np.sqrt(values.size), 10, 200))
    counts, edges = np.histogram(logs, bins=bins)
    smooth = ndimage.gaussian_filter1d(counts.astype(np.float64), 1.5)
    peak = int(np.argmax(smooth))
    return float(np.exp(0.5 * (edges[peak] + edges[peak + 1])))


# ---------------------------------------------------------------------------------------------
# number of looks
# ---------------------------------------------------------------------------------------------
def estimate_looks(intensity, *, window=15, mask=None, fraction=0.1) -> float:
    r"""Equivalent number of looks ``ENL = mean**2 / var`` in automatically found homogeneous areas.

    The image is cut into non-overlapping ``window`` x ``window`` blocks. A block counts as
    homogeneous when its four edge neighbours, pooled, have a low coefficient of variation:
    the ``fraction`` of blocks with the lowest neighbour CV (at least 5 blocks) are kept. The
    ENL is ``1 / median(CV_b**2)`` over the kept blocks, with ``CV_b**2`` the block's own
    unbiased variance over its squared mean.

    Ranking a block by its NEIGHBOURS, not by itself, is what keeps the estimate unbiased:
    picking the blocks whose own variance happens to be lowest would overestimate the ENL
    (by ~16 % for single-look speckle in 15 x 15 blocks); homogeneous areas are larger than
    a block, so the neighbours tell where they are. The median ignores blocks with a point
    target or an edge. Measured on white Gamma speckle over a piecewise-constant image: within
    5 % for L = 1, 3, 10 (tests); 1.01-1.18 on the real PICMUS envelopes (single look). Limits: spatially CORRELATED speckle (ultrasound, SAR
    before decorrelation) has fewer independent samples per block, so block variances come
    out low and the ENL high (about +10 to +45 % for ~30-pixel speckle cells in 15-pixel
    blocks); use larger windows, or decorrelate first. Texture everywhere lowers the ENL.

    Parameters
    ----------
    intensity : array_like, (H, W)
        Linear INTENSITY (non-negative); for amplitude data pass ``amplitude**2``.
    window : int, optional
        Block side in pixels.
    mask : array_like of bool, (H, W), optional
        Usable pixels (e.g. :func:`imaging_mask`); blocks with any excluded pixel are ignored.
    fraction : float, optional
        Fraction of the candidate blocks kept as homogeneous, in (0, 1].

    Returns
    -------
    float
        Estimated equivalent number of looks.
    """
    image = _image_2d(_non_negative(intensity, "intensity"), "intensity").astype(np.float64)
    window = _check_window(window, image.shape)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rows, cols = image.shape[0] // window, image.shape[1] // window

    def blocks(values: np.ndarray) -> np.ndarray:
        return values[: rows * window, : cols * window].reshape(rows, window, cols, window).mean(axis=(1, 3))

    mean, mean_sq = blocks(image), blocks(image * image)
    usable = mean > 0
    if mask is not None:
        usable &= blocks(_mask_like(mask, image.shape).astype(np.float64)) == 1.0
    # Pool the 4 edge neighbours: a block is eligible when all 4 exist and are usable.
    cross = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float64)
    count = ndimage.convolve(usable.astype(np.float64), cross, mode="constant")
    eligible = usable & (count == 4)
    if eligible.sum() < 5:
        raise ValueError(f"estimate_looks: only {int(eligible.sum())} usable {window}x{window} blocks with 4 usable "
                         f"neighbours in a {image.shape} image; need 5 (smaller window, or a larger image/mask)")
    pooled_mean = ndimage.convolve(mean * usable, cross, mode="constant") / 4.0
    pooled_sq = ndimage.convolve(mean_sq * usable, cross, mode="constant") / 4.0
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(eligible, (pooled_sq - pooled_mean**2) / pooled_mean**2, np.inf)
    keep = max(5, int(round(fraction * eligible.sum())))
    chosen = np.argsort(score, axis=None)[:keep]
    n = window * window
    cv2 = ((mean_sq - mean**2) / mean**2 * n / (n - 1)).ravel()[chosen]
    median = float(np.median(cv2))
    if median <= 0:
        raise ValueError("estimate_looks: the homogeneous blocks have zero variance (no speckle?)")
    return 1.0 / median


# ---------------------------------------------------------------------------------------------
# imaging area of B-mode screenshots
# ---------------------------------------------------------------------------------------------
def _mask_like(mask, shape) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask: expected shape {tuple(shape)}, got {mask.shape}")
    return mask


def _full_scale(image: np.ndarray) -> float:
    """White level of a picture: 255 for uint8, 65535 for uint16, else the image maximum."""
    if image.dtype == np.uint8:
        return 255.0
    if image.dtype == np.uint16:
        return 65535.0
    return float(max(np.max(image), np.finfo(np.float32).tiny))


def _picture(image) -> tuple[np.ndarray, np.ndarray, float]:
    """Split a grey (H, W) or colour (H, W, 3|4) picture into grey levels and a colour flag map."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        rgb = image[..., :3].astype(np.float64)
        return rgb.mean(axis=-1), np.ptp(rgb, axis=-1), _full_scale(image)
    if image.ndim != 2:
        raise ValueError(f"image: expected a grey (H, W) or colour (H, W, 3|4) picture, got shape {image.shape}")
    if np.iscomplexobj(image) or not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"image: expected real grey levels, got dtype {image.dtype}")
    grey = image.astype(np.float64)
    return grey, np.zeros_like(grey), _full_scale(image)


def overlay_mask(image, *, colour_tolerance=0.05, text_level=0.98) -> np.ndarray:
    """Graphics drawn over a B-mode screenshot: colour pixels and near-white text/lines.

    A pixel is overlay when its colour channels differ by more than ``colour_tolerance`` of
    full scale (colour Doppler, coloured markers and text: B-mode itself is grey, R = G = B)
    or when its grey level is at least ``text_level`` times the image maximum (annotation
    text, calipers and box lines are drawn at peak white; clipped speckle goes with them,
    which is harmless since it no longer follows the speckle model). The result is dilated by
    one pixel to catch anti-aliased edges.

    Parameters
    ----------
    image : array_like, (H, W) or (H, W, 3|4)
        8/16-bit or float B-MODE picture, grey or RGB(A).
    colour_tolerance : float, optional
        Largest channel spread of a grey pixel, as a fraction of full scale.
    text_level : float, optional
        Grey level (fraction of the image maximum) from which pixels count as graphics.

    Returns
    -------
    ndarray of bool, (H, W)
        True on overlay pixels.
    """
    grey, spread, full = _picture(image)
    overlay = (spread > colour_tolerance * full) | (grey >= text_level * grey.max())
    return ndimage.binary_dilation(overlay, structure=np.ones((3, 3), dtype=bool))


def imaging_mask(image, *, colour_tolerance=0.05, text_level=0.98, black_level=0.03, closing_radius=None):
    """Mask of the imaging area of a B-mode screenshot (grey or RGB picture).

    Steps: (1) overlays (:func:`overlay_mask`: colour graphics, near-white text and lines)
    are removed; (2) pixels brighter than ``black_level`` of full scale are foreground;
    (3) a morphological closing with a disc of ``closing_radius`` pixels (default 1 % of the
    smaller side, at least 2) bridges the dark speckle between them; (4) the LARGEST connected
    region is kept -- the text, rulers and logos around the image are separate small regions --
    and its holes are filled (dark cysts, vessels and the Doppler box inside the image); (5)
    overlays are removed again from the result.

    Limits: an anechoic area that touches the edge of the field of view (a full bladder
    against the sector border) is as black as the background and stays outside the mask;
    grey-scale bars or logos touching the image are kept (with DICOM input, use the
    ``regions`` that :func:`s2v.io.read_image` reports to drop them).

    Parameters
    ----------
    image : array_like, (H, W) or (H, W, 3|4)
        B-MODE screenshot: 8/16-bit or float grey levels, grey or RGB(A).
    colour_tolerance, text_level : float, optional
        See :func:`overlay_mask`.
    black_level : float, optional
        Background threshold as a fraction of full scale (255 for uint8).
    closing_radius : int, optional
        Radius in pixels of the closing disc.

    Returns
    -------
    ndarray of bool, (H, W)
        True inside the imaging area, False on background and overlays.
    """
    grey, _, full = _picture(image)
    overlay = overlay_mask(image, colour_tolerance=colour_tolerance, text_level=text_level)
    foreground = (grey > black_level * full) & ~overlay
    radius = max(2, int(round(0.01 * min(grey.shape)))) if closing_radius is None else int(closing_radius)
    disc = np.hypot(*np.mgrid[-radius : radius + 1, -radius : radius + 1]) <= radius
    # Pad so that the closing does not glue the region to the image border.
    closed = ndimage.binary_closing(np.pad(foreground, radius), structure=disc)[radius:-radius, radius:-radius]
    labels, count = ndimage.label(closed)
    if count == 0:
        return np.zeros(grey.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())[1:]
    region = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    return region & ~overlay


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------
def _bmode_scale(values: np.ndarray, dtype) -> str:
    """The meaning of B-mode values when ``scale`` is not given, or a ValueError if ambiguous.

    One rule for every entry point: 8-bit data are grey levels; all values <= 0 are dB;
    other data with values in [0, 255] and a maximum above 1 are grey levels stored in a
    wider type; anything else (16-bit grey levels, floats in [0, 1]) is refused, since its
    log-compression mapping is not known.
    """
    if dtype == np.uint8:
        return "uint8"
    if values.max() <= 0:
        return "db"
    if values.min() >= 0 and 1 < values.max() <= 255:
        return "uint8"
    raise ValueError(
        f"bmode: cannot tell the scale of values in [{values.min():.4g}, {values.max():.4g}] "
        f"(dtype {dtype}); 8-bit grey levels 0..255 or dB values <= 0 are understood: rescale the "
        "data to one of them and pass scale='uint8' or scale='db'")


def to_intensity(array, domain, **kwargs) -> np.ndarray:
    """Convert data of a given domain to the linear INTENSITY every s2v method works on.

    This is the one conversion used by every entry point (``s2v.despeckle``, the command
    line, ``s2v.train``, the comparison harness, the notebooks and AP-BSN), so one file is
    always scored and despeckled as the same image.

    ==============  =======================================================================
    ``domain``      conversion (keyword arguments passed on)
    ==============  =======================================================================
    ``complex``     ``|z|**2`` (:func:`intensity_from_complex`); with ``whiten=True``
                    the samples are first decorrelated (:func:`s2v.decorrelation.decorrelate`,
                    the paper's route for SAR SLC; deterministic). Default ``whiten=False``:
                    every shipped model was trained on un-whitened ``|z|**2``.
    ``rf``          the analytic signal (``iq_from_rf(rf, fs=, fc=, axis=0)``), then as
                    ``complex`` (``whiten`` too)
    ``bmode``       :func:`bmode_to_intensity` (``dynamic_range=60``, ``reference=1``;
                    ``scale`` defaults by one rule: uint8 data, or values in [0, 255]
                    with a maximum above 1, are grey levels; all values <= 0 are dB;
                    anything else is refused;
                    ``dynamic_range='estimate'`` uses :func:`estimate_dynamic_range`, with
                    ``mask=`` if given)
    ``amplitude``   ``amplitude**2`` (checked: finite, non-negative)
    ``intensity``   unchanged copy (checked: finite, non-negative)
    ==============  =======================================================================

    Parameters
    ----------
    array : array_like, typically (H, W)
        Data in ``domain``.
    domain : str
        One of :data:`DOMAINS`. ``'unknown'`` (what :func:`s2v.io.read_image` reports when
        it cannot tell) is refused: say which domain the data is.
    **kwargs
        Options of the conversion (table); an option that does not apply is refused.

    Returns
    -------
    ndarray of float32 (float64 for float64/complex128 input), same shape
        Linear INTENSITY.
    """
    def options(*names):
        unknown = set(kwargs) - set(names)
        if unknown:
            raise ValueError(f"to_intensity(domain={domain!r}): unexpected options {sorted(unknown)}; "
                             f"accepted: {list(names)}")
        return dict(kwargs)

    if domain in ("complex", "rf"):
        if domain == "rf":
            opts = options("fs", "fc", "axis", "whiten")
            whiten = opts.pop("whiten", False)
            array = iq_from_rf(array, **opts)
        else:
            whiten = options("whiten").get("whiten", False)
        if not isinstance(whiten, (bool, np.bool_)):
            raise ValueError(f"to_intensity: whiten must be True or False, got {whiten!r}")
        if whiten:
            from .decorrelation import decorrelate

            array = decorrelate(array)[0]
        return intensity_from_complex(array)
    if domain == "bmode":
        opts = options("dynamic_range", "scale", "reference", "mask")
        values = _real_float(array, "bmode")
        mask = opts.pop("mask", None)
        if opts.get("scale") is None:
            opts["scale"] = _bmode_scale(values, np.asarray(array).dtype)
        if isinstance(opts.get("dynamic_range"), str):
            if opts["dynamic_range"] != "estimate":
                raise ValueError(f"dynamic_range must be a number of dB or 'estimate', got {opts['dynamic_range']!r}")
            if opts["scale"] != "uint8":
                raise ValueError("dynamic_range='estimate' needs 8-bit B-mode grey levels (scale='uint8')")
            opts["dynamic_range"] = estimate_dynamic_range(values, mask=mask)
        return bmode_to_intensity(values, **opts)
    if domain == "amplitude":
        options()
        amplitude = _non_negative(array, "amplitude")
        return amplitude * amplitude
    if domain == "intensity":
        options()
        return _non_negative(array, "intensity").copy()
    raise ValueError(f"unknown domain {domain!r}; pass domain= one of {DOMAINS} "
                     "(s2v.io.read_image reports 'unknown' when the file does not say)")

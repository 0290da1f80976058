"""Ultrasound with ground truth: echogenicity phantom, Gaussian PSF, convolution simulator.

Complex circular Gaussian scatterers of mean power = echogenicity, convolved with a complex
baseband point-spread function given in physical units: complex IQ with spatially
CORRELATED speckle, its envelope, intensity and B-mode, plus the echogenicity and the
PSF-blurred echogenicity. The inputs check and the output dict are shared with the physical
array simulation of :mod:`s2v.simulate.ultrasound_pymust`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from ._checks import _check_intensity, _check_pair, _check_shape

__all__ = ["ultrasound_phantom", "vessel_phantom", "ultrasound_psf", "simulate_ultrasound"]

# FWHM of a Gaussian exp(-t^2 / (2 sigma^2)) is 2 sqrt(2 ln 2) sigma.
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def _disc(shape, center, radius) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2


def _check_phantom(shape, texture, anechoic_level, *, minimum):
    """Checked (H, W), texture and anechoic level shared by the phantoms."""
    height, width = _check_shape(shape, minimum=minimum)
    texture = float(texture)
    if texture < 0 or not np.isfinite(texture):
        raise ValueError(f"texture must be a finite standard deviation >= 0, got {texture}")
    anechoic_level = float(anechoic_level)
    if not 0 < anechoic_level < 1:
        raise ValueError(f"anechoic_level must be in (0, 1) (relative to the organ), got {anechoic_level}")
    return height, width, texture, anechoic_level


def _organ_texture(rng, shape, texture) -> np.ndarray:
    """Organ-like texture: the smooth log-normal modulation with unit mean of the phantoms.

    ``exp(texture * g - texture**2 / 2)``, ``g`` a Gaussian-filtered unit-variance field
    (correlation length 2 % of the smaller side); LINEAR INTENSITY factor, float64 (H, W).
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=max(1.0, 0.02 * min(shape)))
    field /= field.std() + 1e-12
    return np.exp(texture * field - texture**2 / 2)


def _homogeneous_band(shape):
    """The untextured band near the bottom: its box, and its mask inset by up to 3 px.

    The inset keeps the mask's expected intensity untouched by the PSF blur of the textured
    tissue around the band.
    """
    height, width = shape
    box = (slice(int(0.89 * height), int(0.98 * height)), slice(int(0.08 * width), int(0.92 * width)))
    inset = min(3, (box[0].stop - box[0].start - 1) // 2)
    mask = np.zeros(shape, dtype=bool)
    mask[box[0].start + inset : box[0].stop - inset, box[1].start + inset : box[1].stop - inset] = True
    return box, mask


def _point_discs(shape, point_targets) -> np.ndarray:
    """Discs of radius 4 px around the point targets (left out of every background)."""
    mask = np.zeros(shape, dtype=bool)
    for row, col in point_targets:
        mask |= _disc(shape, (row, col), 4)
    return mask


def _region_dict(cysts, homogeneous, point_targets, layers) -> dict:
    """The region dict of the phantoms from their per-structure masks (see ultrasound_phantom)."""
    def union(masks):
        return np.logical_or.reduce([np.zeros(homogeneous.shape, dtype=bool), *masks])

    return {
        "anechoic": union(c["inside"] for c in cysts if c["kind"] == "anechoic"),
        "hyperechoic": union(c["inside"] for c in cysts if c["kind"] == "hyperechoic"),
        "background": union(c["background"] for c in cysts),
        "homogeneous": homogeneous,
        "cysts": cysts,
        "point_targets": point_targets,
        "layers": layers,
    }


def ultrasound_phantom(
    shape=(257, 193),
    *,
    seed=None,
    texture=0.3,
    anechoic_level=1e-4,
    hyperechoic_db=6.0,
    point_target_db=30.0,
    return_regions=False,
):
    """Echogenicity map of a soft-tissue phantom (LINEAR INTENSITY scale, organ level 1).

    Layout, in fractions of the image (axis 0 = depth, axis 1 = lateral), so that any
    shape gives the same picture:

    * layered tissue near the probe: a hypoechoic subcutaneous layer (-6 dB) and a bright
      fascia (+8 dB) with wavy, randomly phased boundaries;
    * the organ (level 1) with an organ-like smooth random texture: a log-normal,
      mean-preserving modulation ``exp(texture * g - texture**2 / 2)`` of a Gaussian-filtered
      unit-variance field ``g`` (correlation length 2 % of the smaller side);
    * three anechoic cysts (level ``anechoic_level``) on the left and three hyperechoic
      cysts (``hyperechoic_db`` above the organ) on the right, radii 4, 6.5 and 9 % of the
      smaller side, growing with depth; no texture inside cysts;
    * a column of single-pixel point targets ``point_target_db`` above the organ;
    * a homogeneous untextured band near the bottom (level 1), for ENL / speckle statistics.

    Parameters
    ----------
    shape : (int, int), optional
        (H, W) in pixels, each at least 32.
    seed : None, int or numpy.random.Generator, optional
        Seed of the texture and of the layer boundaries.
    texture : float, optional
        Standard deviation of the log-echogenicity texture (0 disables it).
    anechoic_level : float, optional
        Echogenicity inside anechoic cysts (``1e-4``: -40 dB; must be > 0 so that B-mode
        and log-domain tools stay finite).
    hyperechoic_db, point_target_db : float, optional
        Levels above the organ, in dB (intensity: ``10 ** (dB / 10)``).
    return_regions : bool, optional
        Also return a dict of masks for contrast (CNR/gCNR) and ENL measurements.

    Returns
    -------
    echogenicity : ndarray of float32, (H, W)
        Mean backscattered LINEAR INTENSITY per pixel (the speckle-free ground truth).
    regions : dict, only if ``return_regions``
        ``anechoic``, ``hyperechoic``: bool (H, W) masks of the cyst interiors (0.8 x radius);
        ``background``: bool mask of the organ-tissue annuli 1.3-1.7 x radius around all
        cysts (other cysts, layers, the homogeneous band and point targets left out);
        ``homogeneous``: bool mask of the untextured band (inset by up to 3 px);
        ``cysts``: list of dicts (``kind``, ``center``, ``radius``, ``inside``, ``background``)
        for per-cyst gCNR; ``point_targets``: (N, 2) int array of (row, col);
        ``layers``: int8 (H, W) labels (0 subcutaneous, 1 fascia, 2 organ).
    """
    height, width, texture, anechoic_level = _check_phantom(shape, texture, anechoic_level, minimum=32)
    rng = np.random.default_rng(seed)
    small = min(height, width)
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]

    # Layers: boundaries wave by ~1.5 % of the depth with random phases.
    phase = rng.uniform(0, 2 * np.pi, size=2)
    top = height * (0.07 + 0.015 * np.sin(2 * np.pi * 1.3 * cols / width + phase[0]))
    bottom = top + height * (0.035 + 0.008 * np.sin(2 * np.pi * 2.1 * cols / width + phase[1]))
    layers = np.full((height, width), 2, dtype=np.int8)
    layers[rows < bottom] = 1
    layers[rows < top] = 0
    echogenicity = np.choose(layers, [10 ** (-6 / 10), 10 ** (8 / 10), 1.0]).astype(np.float64)

    modulation = _organ_texture(rng, (height, width), texture)
    homogeneous_box, homogeneous = _homogeneous_band((height, width))
    modulation[homogeneous_box] = 1.0
    echogenicity[homogeneous_box] = 1.0

    cysts = []
    hyper = 10 ** (float(hyperechoic_db) / 10)
    for depth, radius_fraction in zip((0.33, 0.55, 0.77), (0.04, 0.065, 0.09)):
        radius = radius_fraction * small
        for kind, lateral, level in (("anechoic", 0.25, anechoic_level), ("hyperechoic", 0.75, hyper)):
            center = (depth * height, lateral * width)
            disc = _disc((height, width), center, radius)
            echogenicity[disc] = level
            modulation[disc] = 1.0
            cysts.append({"kind": kind, "center": center, "radius": radius})
    echogenicity *= modulation

    point_targets = np.array(
        [(int(round(d * height)), width // 2) for d in (0.3, 0.45, 0.6, 0.75)], dtype=np.int64
    )
    echogenicity[point_targets[:, 0], point_targets[:, 1]] = 10 ** (float(point_target_db) / 10)
    echogenicity = echogenicity.astype(np.float32)
    if not return_regions:
        return echogenicity

    shape2 = (height, width)
    # Background annuli hold organ tissue only: never another cyst's rim, the layers, the
    # homogeneous band or the surroundings of a point target, whatever the aspect ratio.
    excluded = (layers != 2) | np.any([_disc(shape2, c["center"], 1.3 * c["radius"]) for c in cysts], axis=0)
    excluded[homogeneous_box] = True
    excluded |= _point_discs(shape2, point_targets)
    for cyst in cysts:
        cyst["inside"] = _disc(shape2, cyst["center"], 0.8 * cyst["radius"])
        cyst["background"] = _disc(shape2, cyst["center"], 1.7 * cyst["radius"]) & ~excluded
    return echogenicity, _region_dict(cysts, homogeneous, point_targets, layers)


def _free_distance(occupied) -> np.ndarray:
    """Distance in pixels from every pixel to the nearest occupied one or the image border."""
    return ndimage.distance_transform_edt(np.pad(~occupied, 1))[1:-1, 1:-1]


def _nearest(valid, target):
    """The True pixel of ``valid`` nearest to ``target`` (row, col), or None."""
    rows, cols = np.nonzero(valid)
    k = np.argmin((rows - target[0]) ** 2 + (cols - target[1]) ** 2) if rows.size else None
    return None if k is None else (int(rows[k]), int(cols[k]))


def _vessel_layout(shape, band, slopes, sign, harmonics):
    """Vessel axes, lesions and point targets of :func:`vessel_phantom`; None if they do not fit."""
    height, width = shape
    small = min(shape)
    rows, cols = np.indices(shape, dtype=np.float64)
    cosines = 1.0 / np.sqrt(1.0 + slopes**2)
    half = np.array([0.03, 0.05]) * small
    top_of_band = np.nonzero(band.any(axis=1))[0][0]
    deep = min(0.56 * height, top_of_band - half[1] / cosines[1] - abs(slopes[1]) * width / 2 - 0.03 * small)
    shallow = deep - abs(slopes[1] - slopes[0]) * width / 2 - (half.sum() + 0.08 * small) / cosines.min()
    # (axis row at the central column, slope, cosine, half-width) and the distance to each axis.
    axes = list(zip((shallow, deep), slopes, cosines, half))
    across = [np.abs(rows - r0 - m * (cols - width / 2)) * c for r0, m, c, _ in axes]
    occupied = band | (across[0] <= 1.3 * half[0]) | (across[1] <= 1.3 * half[1])
    lesions = []
    side = (lambda u: u * width) if sign > 0 else (lambda u: (1 - u) * width)
    for (kind, level_db, nominal), (amplitudes, phases) in zip(
            (("hypoechoic", -10.0, (0.72 * height, side(0.28))), ("hyperechoic", 6.0, (0.14 * height, side(0.72)))),
            harmonics):
        radius = 0.06 * small
        largest = radius * (1 + amplitudes.sum())
        free = _free_distance(occupied)
        center = _nearest(free >= 1.7 * largest + 1, nominal) or _nearest(free >= 1.3 * largest + 1, nominal)
        if center is None:
            return None
        theta = np.arctan2(rows - center[0], cols - center[1])
        boundary = radius * (1 + sum(a * np.cos(k * theta + p) for k, a, p in zip((2, 3, 4), amplitudes, phases)))
        scaled = np.hypot(rows - center[0], cols - center[1]) / boundary  # 1 on the boundary
        lesions.append({"kind": kind, "center": (float(center[0]), float(center[1])), "radius": float(radius),
                        "level": 10 ** (level_db / 10), "scaled": scaled})
        occupied |= scaled <= 1.3
    # Point targets: a 2 x 3 grid, every target 5 px away from the 1.3 x zones of the structures.
    ok = _free_distance(occupied) >= 5
    step = (max(14, round(0.1 * height)), max(14, round(0.14 * width)))
    grid = np.ones((height - step[0], width - 2 * step[1]), dtype=bool)
    for i in range(2):
        for j in range(3):
            grid &= ok[i * step[0] : i * step[0] + grid.shape[0], j * step[1] : j * step[1] + grid.shape[1]]
    origin = _nearest(grid, (0.45 * height - step[0] / 2, width / 2 - step[1]))
    if origin is None:
        return None
    points = np.array([(origin[0] + i * step[0], origin[1] + j * step[1]) for i in range(2) for j in range(3)],
                      dtype=np.int64)
    return axes, across, lesions, points, occupied


def vessel_phantom(
    shape=(257, 193),
    *,
    seed=None,
    texture=0.3,
    anechoic_level=1e-4,
    point_target_db=30.0,
    return_regions=False,
):
    """Echogenicity map of two oblique vessels and two irregular lesions (LINEAR INTENSITY).

    A second phantom TYPE next to :func:`ultrasound_phantom` (to evaluate on a layout a model
    was not trained on) with the same region dict. Layout (axis 0 = depth, axis 1 = lateral;
    ``s`` = the smaller side; vessels, lesions and the band untextured):

    * the organ (level 1, no layers) with the log-normal texture of :func:`ultrasound_phantom`;
    * two straight anechoic vessels (level ``anechoic_level``, half-widths 3 % and 5 % of
      ``s``, the thin one above) crossing the image at angles drawn from the seed in 10-35
      degrees from horizontal, at least 5 degrees apart, both deepening towards the same
      random side, so that they never touch (gap at least 8 % of ``s``); the thick one stays
      3 % of ``s`` above the band. On images wider than ``H / 1.15`` the slopes shrink in
      proportion; where the structures below would not fit (small images) the slopes are
      reduced by steps of 25 %, down to horizontal vessels;
    * a hypoechoic (-10 dB) and a hyperechoic (+6 dB) lesion of mean radius ``r0`` = 6 % of
      ``s`` with irregular boundaries ``r(theta) = r0 (1 + sum_k a_k cos(k theta + phi_k))``,
      k = 2, 3, 4, ``a_k`` in 0.03-0.07, in the two corners the vessels leave (nominally
      at 72 % and 14 % depth), 1.3 x their size away from the vessels and each other;
    * six single-pixel point targets ``point_target_db`` above the organ on a 2 x 3 grid
      (10 % of the depth x 14 % of the width apart, at least 14 px), 5 px away from the
      vessels and lesions (1.3 x their size);
    * the homogeneous band of :func:`ultrasound_phantom` near the bottom.

    The lesions and the grid take the free positions nearest their nominal ones.

    Parameters
    ----------
    shape : (int, int), optional
        (H, W) in pixels, each at least 80.
    seed : None, int or numpy.random.Generator, optional
        Seed of the vessel angles, lesion boundaries and texture.
    texture : float, optional
        Standard deviation of the log-echogenicity texture (0 disables it).
    anechoic_level : float, optional
        Echogenicity inside the vessels, in (0, 1) (``1e-4``: -40 dB).
    point_target_db : float, optional
        Level of the point targets above the organ, in dB.
    return_regions : bool, optional
        Also return the region dict of :func:`ultrasound_phantom` (same keys).

    Returns
    -------
    echogenicity : ndarray of float32, (H, W)
        Mean backscattered LINEAR INTENSITY per pixel (the speckle-free ground truth).
    regions : dict, only if ``return_regions``
        The keys of :func:`ultrasound_phantom`. ``cysts``: the two vessels (``kind``
        "anechoic", ``radius`` = half-width, ``center`` on the axis, farthest from the other
        structures; ``inside``: within 0.8 half-width of the axis over a segment 8
        half-widths long centred on ``center``; ``background``: within 1.7 half-widths over
        that segment), then the lesions ("hypoechoic", "hyperechoic", ``radius`` = ``r0``,
        ``inside`` / ``background`` within 0.8 / 1.7 x the boundary). Backgrounds leave out
        every structure (1.3 x its size), the band and 4 px around the point targets.
        ``anechoic``: union of the vessel insides; ``layers``: all 2 (organ).

    Raises
    ------
    ValueError
        Bad arguments, or a shape in which the structures cannot be placed.
    """
    height, width, texture, anechoic_level = _check_phantom(shape, texture, anechoic_level, minimum=80)
    point_target_db = float(point_target_db)
    if not np.isfinite(point_target_db):
        raise ValueError(f"point_target_db must be a finite number of dB, got {point_target_db}")
    rng = np.random.default_rng(seed)
    shape2 = (height, width)
    first = rng.uniform(10.0, 35.0)
    angles = np.radians([first, 10.0 + (first - 10.0 + rng.uniform(5.0, 20.0)) % 25.0])
    sign = rng.choice((-1.0, 1.0))
    slopes = sign * np.tan(angles) * min(1.0, height / (1.15 * width))
    harmonics = [(rng.uniform(0.03, 0.07, size=3), rng.uniform(0, 2 * np.pi, size=3)) for _ in range(2)]
    modulation = _organ_texture(rng, shape2, texture)
    box, homogeneous = _homogeneous_band(shape2)
    band = np.zeros(shape2, dtype=bool)
    band[box] = True
    for scale in (1.0, 0.75, 0.5, 0.25, 0.0):
        layout = _vessel_layout(shape2, band, scale * slopes, sign, harmonics)
        if layout is not None:
            break
    else:
        raise ValueError(f"shape {shape2} is too small to place the structures of vessel_phantom")
    axes, across, lesions, point_targets, occupied = layout

    echogenicity = np.ones(shape2)
    structures = [(a <= h, anechoic_level) for a, (*_, h) in zip(across, axes)]
    for mask, level in [(band, 1.0)] + structures + [(x["scaled"] <= 1, x["level"]) for x in lesions]:
        echogenicity[mask] = level
        modulation[mask] = 1.0
    echogenicity *= modulation
    echogenicity[point_targets[:, 0], point_targets[:, 1]] = 10 ** (point_target_db / 10)
    echogenicity = echogenicity.astype(np.float32)
    if not return_regions:
        return echogenicity

    rows, cols = np.indices(shape2, dtype=np.float64)
    points = _point_discs(shape2, point_targets)
    excluded = occupied | points
    cysts = []
    for index, (r0, m, c, h) in enumerate(axes):
        # Segment centre: the axis point farthest from the other structures, segment inside the image.
        others = (occupied & (across[index] > 1.3 * h)) | points
        col = np.arange(width, dtype=np.float64)
        row = r0 + m * (col - width / 2)
        length = 4 * h
        fits = ((np.minimum(row, height - 1 - row) >= length * abs(m) * c)
                & (np.minimum(col, width - 1 - col) >= length * c))
        if not fits.any():
            raise ValueError(f"shape {shape2} leaves no room for a vessel segment of vessel_phantom")
        free = _free_distance(others)[np.clip(np.rint(row), 0, height - 1).astype(int), col.astype(int)]
        best = int(np.argmax(np.where(fits, free, -1.0) - 1e-6 * np.abs(col - width / 2)))
        center = (float(row[best]), float(col[best]))
        segment = np.abs((cols - center[1]) + m * (rows - center[0])) * c <= length
        cysts.append({"kind": "anechoic", "center": center, "radius": float(h),
                      "inside": (across[index] <= 0.8 * h) & segment,
                      "background": (across[index] <= 1.7 * h) & segment & ~excluded})
    for lesion in lesions:
        cysts.append({"kind": lesion["kind"], "center": lesion["center"], "radius": lesion["radius"],
                      "inside": lesion["scaled"] <= 0.8, "background": (lesion["scaled"] <= 1.7) & ~excluded})
    layers = np.full(shape2, 2, dtype=np.int8)
    return echogenicity, _region_dict(cysts, homogeneous, point_targets, layers)


def ultrasound_psf(
    *,
    center_frequency=5e6,
    fractional_bandwidth=0.6,
    lateral_beam_width=0.6e-3,
    pixel_size=(0.05e-3, 0.1e-3),
    sound_speed=1540.0,
    demodulation_frequency=None,
    truncation=4.0,
):
    r"""Complex baseband pulse-echo point-spread function sampled on the image grid.

    Separable Gaussian model:

    .. math::
        h(z, x) \propto \exp\!\Big(-\frac{z^2}{2\sigma_z^2} - \frac{x^2}{2\sigma_x^2}\Big)
        \exp\!\big(j\,2\pi (f_c - f_d)\, 2z / c\big)

    * axial: the pulse-echo spectrum is a Gaussian centred at ``f_c`` whose -6 dB (half
      amplitude) width is ``fractional_bandwidth * f_c``: ``sigma_f = B / (2 sqrt(2 ln 2))``,
      the time envelope has ``sigma_t = 1 / (2 pi sigma_f)``, and two-way travel maps it to
      depth as ``sigma_z = c sigma_t / 2``;
    * lateral: a Gaussian beam whose amplitude FWHM is ``lateral_beam_width``;
    * the residual carrier is ``f_c - f_d`` (zero when demodulated at the centre frequency).

    Parameters
    ----------
    center_frequency : float, optional
        Transmit centre frequency ``f_c`` in Hz.
    fractional_bandwidth : float, optional
        -6 dB pulse-echo bandwidth divided by ``f_c``.
    lateral_beam_width : float, optional
        Lateral FWHM of the pulse-echo amplitude PSF in metres.
    pixel_size : (float, float), optional
        (axial, lateral) pixel size in metres.
    sound_speed : float, optional
        Speed of sound ``c`` in m/s.
    demodulation_frequency : float or None, optional
        IQ demodulation frequency ``f_d`` in Hz (``None``: ``f_c``).
    truncation : float, optional
        The kernel extends to ``truncation`` standard deviations on each side.

    Returns
    -------
    psf : ndarray of complex64, (2 * Kz + 1, 2 * Kx + 1)
        COMPLEX baseband PSF, normalised so that ``sum(|psf|**2) == 1`` (speckle intensity
        then keeps the mean of the echogenicity).
    info : dict
        ``axial_sigma_px``, ``lateral_sigma_px`` (amplitude-PSF standard deviations in pixels),
        ``axial_fwhm`` and ``lateral_fwhm`` (metres), ``half_size`` (Kz, Kx).
    """
    fc = float(center_frequency)
    fbw = float(fractional_bandwidth)
    c = float(sound_speed)
    beam = float(lateral_beam_width)
    dz, dx = _check_pair(pixel_size, "pixel_size")
    for name, value in (("center_frequency", fc), ("fractional_bandwidth", fbw), ("sound_speed", c),
                        ("lateral_beam_width", beam), ("pixel_size[0]", dz), ("pixel_size[1]", dx)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}")
    fd = fc if demodulation_frequency is None else float(demodulation_frequency)
    sigma_f = fbw * fc / _FWHM_PER_SIGMA
    sigma_z = c / (2.0 * 2.0 * np.pi * sigma_f)
    sigma_x = beam / _FWHM_PER_SIGMA
    sz, sx = sigma_z / dz, sigma_x / dx
    kz, kx = (max(1, int(np.ceil(truncation * s))) for s in (sz, sx))
    z = np.arange(-kz, kz + 1)[:, None]
    x = np.arange(-kx, kx + 1)[None, :]
    psf = np.exp(-0.5 * (z / sz) ** 2 - 0.5 * (x / sx) ** 2) * np.exp(2j * np.pi * (fc - fd) * 2.0 * z * dz / c)
    psf /= np.sqrt(np.sum(np.abs(psf) ** 2))
    info = {
        "axial_sigma_px": float(sz),
        "lateral_sigma_px": float(sx),
        "axial_fwhm": float(_FWHM_PER_SIGMA * sigma_z),
        "lateral_fwhm": beam,
        "half_size": (kz, kx),
    }
    return psf.astype(np.complex64), info


def _ultrasound_inputs(echogenicity, shape, point_targets, dynamic_range, rng):
    """Check the inputs shared by both ultrasound simulators; build the phantom if needed.

    Returns the echogenicity (float64), the (N, 2) int64 point-target pixels and the
    phantom regions (``None`` for a user echogenicity).
    """
    regions = None
    if echogenicity is None:
        echogenicity, regions = ultrasound_phantom(shape, seed=rng, return_regions=True)
        if point_targets is None:
            point_targets = regions["point_targets"]
    echogenicity = _check_intensity(echogenicity, "echogenicity").astype(np.float64)
    points = np.empty((0, 2), dtype=np.int64) if point_targets is None else np.asarray(point_targets)
    if points.size and (
        points.ndim != 2 or points.shape[1] != 2 or not np.issubdtype(points.dtype, np.integer)
        or np.any(points < 0) or np.any(points >= np.array(echogenicity.shape))
    ):
        raise ValueError(f"point_targets must be an (N, 2) integer array of (row, col) inside {echogenicity.shape}")
    dynamic_range = float(dynamic_range)
    if not np.isfinite(dynamic_range) or dynamic_range <= 0:
        raise ValueError(f"dynamic_range must be a positive number of dB, got {dynamic_range}")
    return echogenicity, points.reshape(-1, 2).astype(np.int64), regions


def simulate_ultrasound(
    echogenicity=None,
    *,
    shape=(257, 193),
    center_frequency=5e6,
    fractional_bandwidth=0.6,
    lateral_beam_width=0.6e-3,
    pixel_size=(0.05e-3, 0.1e-3),
    sound_speed=1540.0,
    demodulation_frequency=None,
    point_targets=None,
    dynamic_range=60.0,
    seed=None,
):
    r"""Simulate complex IQ ultrasound with spatially correlated, fully developed speckle.

    Convolution model of a B-mode image (e.g. Bamber & Dickinson 1980; Meunier & Bertrand
    1995): a field of complex circular Gaussian scatterers ``s`` with
    ``E|s|^2 = echogenicity`` (one independent scatterer amplitude per pixel, the limit of
    many scatterers per resolution cell) is convolved with the complex baseband PSF of
    :func:`ultrasound_psf`:

    .. math:: \mathrm{iq} = h * s, \qquad
              E[|\mathrm{iq}|^2] = |h|^2 * \mathrm{echogenicity} = \text{blurred\_echogenicity}

    RADIOMETRY: since ``sum |h|^2 = 1``, the mean intensity in a homogeneous area equals its
    echogenicity, and ``blurred_echogenicity`` is the exact expected intensity everywhere (the
    ground truth of a despeckler working on the intensity). The speckle is correlated over
    the PSF: for the Gaussian PSF the lag-``k`` correlation coefficient of the complex IQ along
    an axis is ``exp(-k**2 / (4 sigma**2))`` (``sigma`` = amplitude-PSF standard deviation in
    pixels, reported in ``params``) and that of the intensity its square. Borders: scatterers
    are drawn on a field padded by the PSF half-size (echogenicity edge-replicated) and the
    convolution keeps only the fully overlapped ('valid') part, so there is no border artefact.

    Point targets (wires, calcifications) are deterministic reflectors rather than speckle:
    at the listed pixels the scatterer has the constant modulus ``sqrt(echogenicity)`` and a
    uniformly random phase, which keeps ``E|s|^2 = echogenicity`` (so the ground truth above
    is unchanged) while making the target's brightness certain.

    Parameters
    ----------
    echogenicity : array_like, (H, W), optional
        Mean backscattered LINEAR INTENSITY per pixel (non-negative). ``None``: a
        :func:`ultrasound_phantom` of ``shape`` (its regions are returned under ``regions``).
    shape : (int, int), optional
        Image shape when ``echogenicity`` is ``None``; ignored otherwise.
    center_frequency, fractional_bandwidth, lateral_beam_width, pixel_size, sound_speed,
    demodulation_frequency :
        Physical PSF parameters, see :func:`ultrasound_psf` (SI units: Hz, m, m/s).
    point_targets : array_like of int, (N, 2), optional
        (row, col) pixels holding deterministic point reflectors (see above). ``None``: the
        phantom's point targets when ``echogenicity`` is ``None``, none otherwise.
    dynamic_range : float, optional
        B-mode dynamic range in dB.
    seed : None, int or numpy.random.Generator, optional
        Seed of the phantom (when generated) and of the scatterers.

    Returns
    -------
    dict
        ``iq``: complex64 (H, W) COMPLEX baseband IQ; ``envelope``: float32 AMPLITUDE ``|iq|``;
        ``intensity``: float32 INTENSITY ``|iq|**2``; ``bmode_db``: float32 B-MODE dB in
        ``[-dynamic_range, 0]`` and ``bmode``: uint8 8-bit B-MODE (0..255 maps
        ``[-dynamic_range, 0]`` dB), both referenced to the maximum intensity
        (:func:`s2v.domains.intensity_to_bmode`); ``echogenicity``: float32 INTENSITY ground
        truth; ``blurred_echogenicity``: float32 INTENSITY ``E[intensity]``; ``psf``: complex64
        kernel; ``regions``: the phantom's region dict or ``None``; ``point_targets``: (N, 2)
        int array of the deterministic reflectors; ``params``: dict of every
        setting plus the PSF widths (``axial_sigma_px``, ``lateral_sigma_px``, ...), the
        theoretical lag-1 IQ correlations ``rho_iq_axial`` / ``rho_iq_lateral`` and the B-mode
        reference intensity ``bmode_reference``.
    """
    rng = np.random.default_rng(seed)
    echogenicity, points, regions = _ultrasound_inputs(echogenicity, shape, point_targets, dynamic_range, rng)
    psf, info = ultrasound_psf(
        center_frequency=center_frequency,
        fractional_bandwidth=fractional_bandwidth,
        lateral_beam_width=lateral_beam_width,
        pixel_size=pixel_size,
        sound_speed=sound_speed,
        demodulation_frequency=demodulation_frequency,
    )
    kz, kx = info["half_size"]
    padded = np.pad(echogenicity, ((kz, kz), (kx, kx)), mode="edge")
    scatterers = np.sqrt(padded / 2.0) * (
        rng.standard_normal(padded.shape) + 1j * rng.standard_normal(padded.shape)
    )
    rows, cols = points[:, 0] + kz, points[:, 1] + kx
    scatterers[rows, cols] = np.sqrt(padded[rows, cols]) * np.exp(2j * np.pi * rng.uniform(size=len(points)))
    iq = signal.fftconvolve(scatterers, psf.astype(np.complex128), mode="valid")
    params = {
        "center_frequency": float(center_frequency),
        "fractional_bandwidth": float(fractional_bandwidth),
        "lateral_beam_width": float(lateral_beam_width),
        "pixel_size": _check_pair(pixel_size, "pixel_size"),
        "sound_speed": float(sound_speed),
        "demodulation_frequency": float(center_frequency if demodulation_frequency is None else demodulation_frequency),
        "rho_iq_axial": float(np.exp(-1.0 / (4.0 * info["axial_sigma_px"] ** 2))),
        "rho_iq_lateral": float(np.exp(-1.0 / (4.0 * info["lateral_sigma_px"] ** 2))),
        **info,
    }
    return _ultrasound_outputs(iq, echogenicity, psf, points, regions, params, dynamic_range)


def _ultrasound_outputs(iq, echogenicity, psf, points, regions, params, dynamic_range) -> dict:
    """Assemble the output dict shared by both ultrasound simulators (see simulate_ultrasound).

    ``blurred_echogenicity`` is the echogenicity (edge-replicated) convolved with ``|psf|^2``
    normalised to unit sum: the expected intensity when ``iq`` is scaled accordingly.
    """
    from s2v.domains import intensity_to_bmode  # domains owns the log-compression convention

    power = np.abs(psf.astype(np.complex128)) ** 2
    power /= power.sum()
    kz, kx = power.shape[0] // 2, power.shape[1] // 2
    padded = np.pad(echogenicity, ((kz, kz), (kx, kx)), mode="edge")
    blurred = np.clip(signal.fftconvolve(padded, power, mode="valid"), 0, None)
    intensity = (iq.real**2 + iq.imag**2).astype(np.float32)
    reference = float(intensity.max())
    params = {**params, "dynamic_range": float(dynamic_range), "bmode_reference": reference}
    return {
        "iq": iq.astype(np.complex64),
        "envelope": np.sqrt(intensity),
        "intensity": intensity,
        "bmode": intensity_to_bmode(intensity, dynamic_range=dynamic_range, scale="uint8", reference=reference),
        "bmode_db": intensity_to_bmode(intensity, dynamic_range=dynamic_range, scale="db", reference=reference),
        "echogenicity": echogenicity.astype(np.float32),
        "blurred_echogenicity": blurred.astype(np.float32),
        "psf": psf.astype(np.complex64),
        "regions": regions,
        "point_targets": points,
        "params": params,
    }

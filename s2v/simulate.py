"""Speckle simulators with ground truth: Gamma intensity speckle, ultrasound IQ, SAR-like SLC.

Three families, all seeded and all returning the noise-free quantity next to the noisy one:

* :func:`gamma_speckle` and :func:`synthetic_protocol_pair` / :func:`synthetic_protocol_set`
  -- the fully developed, spatially WHITE multiplicative model ``y = x * n``,
  ``n ~ Gamma(L, 1/L)``, and the single-look synthetic protocol of the SAR despeckling
  literature (clean intensity ``((gray + 1) / 256) ** 2``, Set12 01-10, 10 realisations).
* :func:`ultrasound_phantom` and :func:`simulate_ultrasound` -- an echogenicity phantom
  (layers, organ-like texture, anechoic / hyperechoic cysts, point targets) times complex
  circular Gaussian scatterers, convolved with a baseband point-spread function given in
  physical units: complex IQ with spatially CORRELATED speckle, its envelope, intensity and
  B-mode, plus the echogenicity and the PSF-blurred echogenicity as ground truth;
  :func:`simulate_ultrasound_pymust` does the same with a physical array simulation
  (plane-wave transmit, delay-and-sum) when the optional package ``pymust`` is installed.
* :func:`simulate_correlated_slc` -- SAR-like single-look complex (SLC) speckle whose spectrum
  is a tapered, band-limited, optionally off-centre window, with optional point targets: the
  test bed of the blind speckle decorrelator (:mod:`s2v.decorrelation`).

Every ``seed`` argument accepts ``None``, an integer or a :class:`numpy.random.Generator`
(as :func:`numpy.random.default_rng` does). This module needs numpy and scipy, plus
:mod:`s2v.domains` for the B-mode log-compression (imported when a B-mode is made).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from scipy import ndimage, signal

__all__ = [
    "gamma_speckle",
    "synthetic_protocol_pair",
    "synthetic_protocol_set",
    "ultrasound_phantom",
    "ultrasound_psf",
    "simulate_ultrasound",
    "simulate_ultrasound_pymust",
    "simulate_correlated_slc",
]

# FWHM of a Gaussian exp(-t^2 / (2 sigma^2)) is 2 sqrt(2 ln 2) sigma.
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _float_dtype(array: np.ndarray) -> np.dtype:
    """float32 in -> float32 out, float64 stays float64, anything else becomes float32."""
    return array.dtype if array.dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _check_intensity(image, name: str, *, ndim: int | None = 2) -> np.ndarray:
    """Return ``image`` as an array after checking it is a finite, non-negative intensity."""
    array = np.asarray(image)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a real-valued intensity array, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D (H, W) array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf values")
    if np.any(array < 0):
        raise ValueError(f"{name} is a linear intensity and must be non-negative, got min {array.min()}")
    return array


def _check_shape(shape, name: str = "shape", minimum: int = 1) -> tuple[int, int]:
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (H, W) of integers, got {shape!r}") from None
    if height < minimum or width < minimum:
        raise ValueError(f"{name} must be at least ({minimum}, {minimum}), got {(height, width)}")
    return height, width


def _check_pair(value, name: str) -> tuple[float, float]:
    """Accept a scalar (same for both axes) or an (axis-0, axis-1) pair of finite floats."""
    try:
        pair = np.broadcast_to(np.asarray(value, dtype=float), (2,))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a pair (axis 0, axis 1) of numbers, got {value!r}") from None
    if not np.all(np.isfinite(pair)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(pair[0]), float(pair[1])


def _check_looks(looks) -> float:
    looks = float(looks)
    if not np.isfinite(looks) or looks <= 0:
        raise ValueError(f"looks must be a positive number, got {looks}")
    return looks


# ---------------------------------------------------------------------------------------------
# (a) multiplicative Gamma speckle and the synthetic protocol
# ---------------------------------------------------------------------------------------------
def gamma_speckle(clean_intensity, looks=1.0, *, seed=None):
    r"""Multiply a clean intensity by spatially white Gamma(L, 1/L) speckle.

    .. math:: y = x \, n, \qquad n \sim \Gamma(L, 1/L),\ \ E[n] = 1,\ \ \mathrm{Var}[n] = 1/L

    which is the intensity of an ``L``-look average of fully developed speckle (``L = 1``:
    exponential intensity, Rayleigh amplitude).

    Parameters
    ----------
    clean_intensity : array_like, any shape, typically (H, W)
        Noise-free LINEAR INTENSITY ``x`` (non-negative, finite).
    looks : float, optional
        Number of looks ``L > 0`` (need not be an integer).
    seed : None, int or numpy.random.Generator, optional
        Seed of the noise.

    Returns
    -------
    noisy_intensity : ndarray, same shape
        Speckled INTENSITY ``y``; float32 for float32 or integer input, float64 for float64.

    Examples
    --------
    >>> import numpy as np
    >>> y = gamma_speckle(np.ones((64, 64), np.float32), looks=4, seed=0)
    >>> y.dtype, bool(abs(y.mean() - 1) < 0.05)
    (dtype('float32'), True)
    """
    clean = _check_intensity(clean_intensity, "clean_intensity", ndim=None)
    looks = _check_looks(looks)
    rng = np.random.default_rng(seed)
    noise = rng.gamma(shape=looks, scale=1.0 / looks, size=clean.shape)
    dtype = _float_dtype(clean)
    return (clean.astype(dtype) * noise.astype(dtype)).astype(dtype, copy=False)


def synthetic_protocol_pair(gray, looks=1.0, *, seed=None):
    """Clean and speckled intensities of the SAR-literature synthetic protocol.

    The clean intensity of an 8-bit grey image is ``x = ((gray + 1) / 256) ** 2`` (so
    ``sqrt(x)`` is an amplitude with peak 1, the scale on which PSNR/SSIM are reported), and
    the noisy one is ``y = x * n`` with ``n ~ Gamma(L, 1/L)`` (:func:`gamma_speckle`).

    Parameters
    ----------
    gray : array_like of int, (H, W)
        8-bit grey image, values in 0..255 (uint8 or any integer dtype within that range).
    looks : float, optional
        Number of looks ``L`` (the protocol uses 1).
    seed : None, int or numpy.random.Generator, optional
        Seed of the speckle.

    Returns
    -------
    clean_intensity, noisy_intensity : ndarray of float32, (H, W)
        LINEAR INTENSITIES, clean in ``[1/65536, 1]``.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"gray must be a 2-D (H, W) 8-bit image, got shape {gray.shape}")
    if not np.issubdtype(gray.dtype, np.integer):
        raise ValueError(f"gray must be an integer 8-bit image (0..255), got dtype {gray.dtype}")
    if gray.size == 0 or gray.min() < 0 or gray.max() > 255:
        raise ValueError("gray must hold 8-bit values in 0..255")
    clean = ((gray.astype(np.float32) + 1.0) / 256.0) ** 2
    return clean, gamma_speckle(clean, looks, seed=seed)


def synthetic_protocol_set(images, looks=1.0, *, realisations=10, seed=0) -> Iterator[dict]:
    """Yield the noisy realisations of the synthetic protocol for a set of grey images.

    The speckle of realisation ``r`` of the ``i``-th image is seeded by
    ``numpy.random.SeedSequence([seed, i, r])``, so any single pair can be regenerated on
    its own, independently of the iteration order.

    Parameters
    ----------
    images : mapping name -> (H, W) uint8 array, or sequence of (H, W) uint8 arrays
        The clean 8-bit grey images (the protocol: Set12 ``01.png`` .. ``10.png``, loaded
        with :func:`s2v.io.read_image`). Sequences are named ``"00"``, ``"01"``, ...
    looks : float, optional
        Number of looks ``L``.
    realisations : int, optional
        Noise realisations per image (the protocol: 10).
    seed : int, optional
        Base seed.

    Yields
    ------
    dict
        ``name``, ``realisation`` (int), ``clean_intensity`` and ``noisy_intensity``
        (float32 (H, W) LINEAR INTENSITIES, see :func:`synthetic_protocol_pair`).
    """
    if isinstance(images, Mapping):
        items = list(images.items())
    elif isinstance(images, Sequence) or isinstance(images, np.ndarray):
        items = [(f"{i:02d}", image) for i, image in enumerate(images)]
    else:
        raise ValueError(f"images must be a mapping name -> image or a sequence of images, got {type(images)}")
    realisations = int(realisations)
    if realisations < 1:
        raise ValueError(f"realisations must be >= 1, got {realisations}")
    for index, (name, gray) in enumerate(items):
        for r in range(realisations):
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), index, r]))
            clean, noisy = synthetic_protocol_pair(gray, looks, seed=rng)
            yield {"name": str(name), "realisation": r, "clean_intensity": clean, "noisy_intensity": noisy}


# ---------------------------------------------------------------------------------------------
# (b) ultrasound: phantom, PSF, simulator
# ---------------------------------------------------------------------------------------------
def _disc(shape, center, radius) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2


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
    height, width = _check_shape(shape, minimum=32)
    texture = float(texture)
    if texture < 0 or not np.isfinite(texture):
        raise ValueError(f"texture must be a finite standard deviation >= 0, got {texture}")
    anechoic_level = float(anechoic_level)
    if not 0 < anechoic_level < 1:
        raise ValueError(f"anechoic_level must be in (0, 1) (relative to the organ), got {anechoic_level}")
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

    # Organ-like texture: smooth log-normal modulation with unit mean.
    field = ndimage.gaussian_filter(rng.standard_normal((height, width)), sigma=max(1.0, 0.02 * small))
    field /= field.std() + 1e-12
    modulation = np.exp(texture * field - texture**2 / 2)

    homogeneous_box = (slice(int(0.89 * height), int(0.98 * height)), slice(int(0.08 * width), int(0.92 * width)))
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
    for row, col in point_targets:
        excluded |= _disc(shape2, (row, col), 4)
    for cyst in cysts:
        cyst["inside"] = _disc(shape2, cyst["center"], 0.8 * cyst["radius"])
        cyst["background"] = _disc(shape2, cyst["center"], 1.7 * cyst["radius"]) & ~excluded
    # Inset the homogeneous band by up to 3 px: its expected intensity is then not touched
    # by the PSF blur of the textured tissue around it.
    inset = min(3, (homogeneous_box[0].stop - homogeneous_box[0].start - 1) // 2)
    homogeneous = np.zeros(shape2, dtype=bool)
    homogeneous[homogeneous_box[0].start + inset : homogeneous_box[0].stop - inset,
                homogeneous_box[1].start + inset : homogeneous_box[1].stop - inset] = True
    regions = {
        "anechoic": np.any([c["inside"] for c in cysts if c["kind"] == "anechoic"], axis=0),
        "hyperechoic": np.any([c["inside"] for c in cysts if c["kind"] == "hyperechoic"], axis=0),
        "background": np.any([c["background"] for c in cysts], axis=0),
        "homogeneous": homogeneous,
        "cysts": cysts,
        "point_targets": point_targets,
        "layers": layers,
    }
    return echogenicity, regions


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


def simulate_ultrasound_pymust(
    echogenicity=None,
    *,
    shape=(129, 97),
    probe="L11-5v",
    pixel_size=(0.05e-3, 0.05e-3),
    depth=5e-3,
    sound_speed=1540.0,
    scatterer_density=200e6,
    margin=1e-3,
    point_targets=None,
    dynamic_range=60.0,
    seed=None,
):
    """Physics-based ultrasound simulation through the optional ``pymust`` package (MUST).

    A linear array (``pymust.getparam(probe)``) transmits one 0-degree plane wave into a 2-D
    medium of point scatterers; ``pymust.simus`` computes the element RF signals,
    ``pymust.rf2iq`` demodulates them and a delay-and-sum matrix (``pymust.dasmtx``)
    beamforms the IQ onto the pixel grid. Unlike :func:`simulate_ultrasound`, the PSF then
    varies in space (diffraction, sidelobes) exactly as for a real scanner.

    Scatterers are uniform at ``scatterer_density`` over the image plus ``margin`` on every
    side, with real Gaussian reflection coefficients of variance = echogenicity (nearest
    pixel, edge-replicated outside); point-target pixels get one deterministic scatterer of
    the same expected power instead. RADIOMETRY: the IQ is divided by
    ``sqrt(density * pixel_area * sum|h|^2)``, with ``h`` the beamformed response of one
    scatterer at the image centre (returned as ``psf``), so that ``blurred_echogenicity``
    (echogenicity convolved with ``|h|^2 / sum|h|^2``) is the expected intensity at the
    centre; elsewhere the unfocused transmit field adds a smooth depth/lateral gain
    (within about +-10 % over the default grid; no TGC is applied). Slow: about 2 ms per
    scatterer on one core (the default grid, ~12000 scatterers, takes ~25 s).

    Parameters
    ----------
    echogenicity : array_like, (H, W), optional
        Mean backscattered LINEAR INTENSITY per pixel; ``None``: a :func:`ultrasound_phantom`.
    shape : (int, int), optional
        Image shape when ``echogenicity`` is ``None``.
    probe : str, optional
        Transducer name understood by ``pymust.getparam`` ('L11-5v', 'L12-3v', 'P4-2v', ...).
    pixel_size : (float, float), optional
        (axial, lateral) pixel size in metres (default: a quarter wavelength of the L11-5v);
        the grid is centred laterally on the array.
    depth : float, optional
        Depth of the first row in metres.
    sound_speed : float, optional
        Speed of sound in m/s.
    scatterer_density : float, optional
        Scatterers per square metre (200e6 = 200 per mm^2, about 10 per resolution cell of
        the L11-5v: fully developed speckle).
    margin : float, optional
        Extra scatterer margin around the image in metres (avoids darker borders).
    point_targets, dynamic_range, seed :
        As in :func:`simulate_ultrasound`.

    Returns
    -------
    dict
        The keys of :func:`simulate_ultrasound`; ``psf`` is the beamformed COMPLEX response of
        a unit scatterer at the image centre (odd-sized crop) and ``params`` holds the probe
        settings (``center_frequency``, ``fractional_bandwidth``, ``sampling_frequency``),
        the grid, ``n_scatterers`` and ``pymust_version``.

    Raises
    ------
    ImportError
        When ``pymust`` is not installed (``pip install pymust``; it is not a dependency).
    """
    try:
        import pymust
    except ImportError as error:
        raise ImportError("simulate_ultrasound_pymust needs the optional package pymust (pip install pymust)") from error
    from importlib.metadata import version

    rng = np.random.default_rng(seed)
    echogenicity, points, regions = _ultrasound_inputs(echogenicity, shape, point_targets, dynamic_range, rng)
    dz, dx = _check_pair(pixel_size, "pixel_size")
    for name, value in (("pixel_size[0]", dz), ("pixel_size[1]", dx), ("depth", depth), ("sound_speed", sound_speed),
                        ("scatterer_density", scatterer_density)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}")
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a non-negative length in metres, got {margin}")
    param = pymust.getparam(probe)
    param.c = float(sound_speed)
    height, width = echogenicity.shape
    x = (np.arange(width) - (width - 1) / 2.0) * dx
    z = depth + np.arange(height) * dz

    # Diffuse scatterers; the point-target pixels are carried by their deterministic scatterer.
    diffuse = echogenicity.copy()
    diffuse[points[:, 0], points[:, 1]] = 0.0
    x_range = (x[0] - dx / 2 - margin, x[-1] + dx / 2 + margin)
    z_range = (max(z[0] - dz / 2 - margin, dz), z[-1] + dz / 2 + margin)
    count = rng.poisson(scatterer_density * (x_range[1] - x_range[0]) * (z_range[1] - z_range[0]))
    xs = rng.uniform(*x_range, size=count)
    zs = rng.uniform(*z_range, size=count)
    rows = np.clip(np.round((zs - z[0]) / dz).astype(int), 0, height - 1)
    cols = np.clip(np.round((xs - x[0]) / dx).astype(int), 0, width - 1)
    rc = np.sqrt(diffuse[rows, cols]) * rng.standard_normal(count)
    point_rc = np.sqrt(echogenicity[points[:, 0], points[:, 1]] * scatterer_density * dz * dx)
    xs = np.concatenate([xs, x[points[:, 1]]])
    zs = np.concatenate([zs, z[points[:, 0]]])
    rc = np.concatenate([rc, point_rc * rng.choice([-1.0, 1.0], size=len(points))])

    delays = np.zeros((1, param.Nelements))

    def beamform(xs, zs, rc, grid_x, grid_z):
        rf, _ = pymust.simus(xs, zs, rc, delays, param)
        iq = pymust.rf2iq(rf, param)
        matrix = pymust.dasmtx(iq, grid_x, grid_z, delays, param)
        # MUST's DAS matrix acts on the column-major (MATLAB) vectorisation of the signals.
        return (matrix @ iq.reshape(-1, order="F")).reshape(grid_x.shape, order="F")

    grid_x, grid_z = np.meshgrid(x, z)
    iq = beamform(xs, zs, rc, grid_x, grid_z)
    # Response of a unit scatterer at the central pixel, on a +-1 mm (axial) x +-2 mm grid.
    kz, kx = int(np.ceil(1e-3 / dz)), int(np.ceil(2e-3 / dx))
    center_x, center_z = x[width // 2], z[height // 2]
    psf = beamform(np.array([center_x]), np.array([center_z]), np.array([1.0]),
                   *np.meshgrid(center_x + np.arange(-kx, kx + 1) * dx, center_z + np.arange(-kz, kz + 1) * dz))
    iq = iq / np.sqrt(scatterer_density * dz * dx * np.sum(np.abs(psf) ** 2))
    params = {
        "probe": probe,
        "center_frequency": float(param.fc),
        "fractional_bandwidth": float(param.bandwidth) / 100.0,
        "sampling_frequency": float(param.fs),
        "pixel_size": (dz, dx),
        "depth": float(depth),
        "sound_speed": float(sound_speed),
        "scatterer_density": float(scatterer_density),
        "n_scatterers": int(len(rc)),
        "transmit": "plane wave, 0 degrees",
        "pymust_version": version("pymust"),
    }
    return _ultrasound_outputs(iq, echogenicity, psf / np.sqrt(np.sum(np.abs(psf) ** 2)), points, regions,
                               params, dynamic_range)


# ---------------------------------------------------------------------------------------------
# (c) SAR-like correlated single-look complex speckle
# ---------------------------------------------------------------------------------------------
def _band_window(n: int, fraction: float, shift: float, taper: str) -> tuple[np.ndarray, dict]:
    """1-D transfer function in FFT order: a taper over about ``fraction * n`` bins.

    ``shift`` is in Nyquist units (1 = half the sampling rate): the band centre is at
    ``shift / 2`` cycles/pixel, i.e. ``shift * n / 2`` bins. The first and last bins are
    rounded separately so that the realised centre is the requested one to within half a
    bin (a zero shift is exactly zero: the bin count becomes odd when needed).
    """
    center = shift * n / 2.0
    half_width = (fraction * n - 1) / 2.0
    first, last = int(round(center - half_width)), int(round(center + half_width))
    last = min(last, first + n - 1)
    bins = last - first + 1
    if bins < 2:
        raise ValueError(f"window_fraction {fraction} leaves fewer than 2 frequency bins out of {n}")
    try:
        weights = signal.get_window(taper, bins, fftbins=False)
    except ValueError as error:
        raise ValueError(f"unknown taper {taper!r} (any scipy.signal.get_window name): {error}") from None
    window = np.zeros(n)
    window[np.arange(first, last + 1) % n] = weights
    return window, {"bins": bins, "fraction": bins / n, "shift": (first + last) / n}


def simulate_correlated_slc(
    clean_intensity=None,
    *,
    shape=(256, 256),
    window_fraction=(0.8, 0.8),
    taper="hamming",
    frequency_shift=(0.0, 0.0),
    point_targets=0,
    point_target_db=30.0,
    seed=None,
):
    r"""Simulate SAR-like single-look complex (SLC) speckle with a tapered, band-limited spectrum.

    Model of a focused SAR image (Lapini et al. 2014, "Blind speckle decorrelation for SAR
    image despeckling"): a white complex reflectivity ``s = sqrt(x) w`` (``w`` circular
    complex Gaussian, unit power, ``x`` the clean intensity), plus deterministic point
    scatterers, filtered by the system transfer function ``H``:

    .. math:: \mathrm{slc} = \mathcal{F}^{-1}\{H\,\mathcal{F}\{s\}\}, \qquad
              H(f_y, f_x) = W_y(f_y)\, W_x(f_x)

    ``W`` is a ``taper`` window (``scipy.signal.get_window`` name: 'hamming', 'hann',
    'boxcar', ...) over ``round(window_fraction * N)`` frequency bins, ZERO outside, centred on
    the normalised frequency ``frequency_shift``. ``H`` is scaled so that
    ``mean(|H|**2) = 1``, hence ``sum |h|**2 = 1`` for the impulse response ``h`` and the
    mean intensity is preserved: ``E|slc|**2 = |h|**2 (*) x`` (``expected_intensity``), which
    equals ``x`` in homogeneous areas. Whitening ``slc`` by ``1/H`` inside the band gives back
    white speckle on ``x``, so ``clean_intensity`` is the ground truth of a decorrelated image.
    The filtering is circular (periodic boundaries), which keeps the spectrum exactly zero
    outside the band.

    FREQUENCY CONVENTION: ``frequency_shift = (m_y, m_x)`` is in units of half the sampling
    rate (Nyquist units, ``m = 1`` is 0.5 cycles/pixel), as in the reference MATLAB
    ``exp(-1i*pi*m*n)``: the band is centred at ``m / 2`` cycles/pixel and multiplying ``slc``
    by ``exp(-1j * pi * (m_y * row + m_x * col))`` moves it back to zero frequency. The band
    is realised on whole bins; the realised fractions and shifts are in ``params``.

    Parameters
    ----------
    clean_intensity : array_like, (H, W), optional
        Clean LINEAR INTENSITY ``x`` (non-negative). ``None``: a constant 1 of ``shape``.
    shape : (int, int), optional
        (H, W) when ``clean_intensity`` is ``None``; ignored otherwise.
    window_fraction : float or (float, float), optional
        Occupied fraction of the sampled band along (axis 0 = azimuth, axis 1 = range), in
        ``(0, 1]``.
    taper : str, optional
        Window name (``scipy.signal.get_window``), the same on both axes.
    frequency_shift : float or (float, float), optional
        Band centres ``(m_y, m_x)`` in Nyquist units, in ``[-1, 1]``.
    point_targets : int, optional
        Number of bright deterministic point scatterers, placed at random at least 8 px from
        the borders, with random phase.
    point_target_db : float, optional
        Point-scatterer intensity ``|a|**2`` above the mean clean intensity, in dB.
    seed : None, int or numpy.random.Generator, optional
        Seed of the speckle and of the point targets.

    Returns
    -------
    dict
        ``slc``: complex64 (H, W) COMPLEX SLC; ``clean_intensity``: float32 (H, W) INTENSITY
        ``x``; ``expected_intensity``: float32 INTENSITY ``E|slc|**2`` (blurred ``x`` plus the
        point-target responses); ``transfer_function``: float64 (H, W) ``H`` in FFT order
        (unshifted); ``point_targets``: (N, 2) int array of (row, col); ``params``: dict with
        ``window_fraction`` (realised bins / N per axis), ``window_bins``, ``frequency_shift``
        (realised, Nyquist units), ``center_frequency_cycles_per_pixel`` (= shift / 2),
        the requested values (``*_requested``), ``taper``, ``point_target_db``, ``rho_y`` /
        ``rho_x`` (theoretical lag-1 correlation coefficients of the complex SLC along
        axis 0 / 1, complex when the band is shifted).
    """
    if clean_intensity is None:
        height, width = _check_shape(shape, minimum=4)
        clean = np.ones((height, width))
    else:
        clean = _check_intensity(clean_intensity, "clean_intensity").astype(np.float64)
        height, width = clean.shape
    fractions = _check_pair(window_fraction, "window_fraction")
    if not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"window_fraction must be in (0, 1] on each axis, got {window_fraction!r}")
    shifts = _check_pair(frequency_shift, "frequency_shift")
    if not all(-1 <= m <= 1 for m in shifts):
        raise ValueError(f"frequency_shift must be in [-1, 1] (Nyquist units) on each axis, got {frequency_shift!r}")
    n_points = int(point_targets)
    if n_points < 0:
        raise ValueError(f"point_targets must be a count >= 0, got {point_targets}")
    if n_points and min(height, width) <= 16:
        raise ValueError(f"point targets need an image larger than 16 x 16, got {(height, width)}")

    rng = np.random.default_rng(seed)
    window_y, info_y = _band_window(height, fractions[0], shifts[0], taper)
    window_x, info_x = _band_window(width, fractions[1], shifts[1], taper)
    transfer = np.outer(window_y, window_x)
    transfer /= np.sqrt(np.mean(transfer**2))

    reflectivity = np.sqrt(clean / 2.0) * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
    positions = np.empty((0, 2), dtype=np.int64)
    points = np.zeros(clean.shape, dtype=complex)
    if n_points:
        positions = np.stack(
            [rng.integers(8, height - 8, size=n_points), rng.integers(8, width - 8, size=n_points)], axis=1
        )
        amplitude = np.sqrt(10 ** (float(point_target_db) / 10) * clean.mean())
        np.add.at(points, (positions[:, 0], positions[:, 1]),
                  amplitude * np.exp(2j * np.pi * rng.uniform(size=n_points)))
    slc = np.fft.ifft2(np.fft.fft2(reflectivity + points) * transfer)
    psf_power = np.abs(np.fft.ifft2(transfer)) ** 2
    expected = np.real(np.fft.ifft2(np.fft.fft2(clean) * np.fft.fft2(psf_power)))
    expected = np.clip(expected, 0, None) + np.abs(np.fft.ifft2(np.fft.fft2(points) * transfer)) ** 2

    def lag1(window: np.ndarray) -> complex:
        """Correlation coefficient at lag 1 = normalised DFT of the power spectrum |W|^2."""
        power = window**2
        return complex(np.sum(power * np.exp(2j * np.pi * np.fft.fftfreq(window.size))) / np.sum(power))

    params = {
        "window_fraction": (info_y["fraction"], info_x["fraction"]),
        "window_bins": (info_y["bins"], info_x["bins"]),
        "frequency_shift": (info_y["shift"], info_x["shift"]),
        "center_frequency_cycles_per_pixel": (info_y["shift"] / 2.0, info_x["shift"] / 2.0),
        "window_fraction_requested": fractions,
        "frequency_shift_requested": shifts,
        "taper": taper,
        "point_target_db": float(point_target_db),
        "rho_y": lag1(window_y),
        "rho_x": lag1(window_x),
    }
    return {
        "slc": slc.astype(np.complex64),
        "clean_intensity": clean.astype(np.float32),
        "expected_intensity": expected.astype(np.float32),
        "transfer_function": transfer,
        "point_targets": positions,
        "params": params,
    }

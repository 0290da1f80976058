"""Image sets: clean natural images, simulated ultrasound (training and held out), real speckle.

Synthetic speckle protocol (SAR-CNN protocol): train on BSD68, test on Set12 images 01-10
(``../shared/data/clean``). When that folder is absent, images of the scikit-image gallery
stand in, so code runs everywhere (the numbers are then not comparable with the
literature). These images are returned as uint8 (H, W) grey levels.

Simulated ultrasound with ground truth: :func:`simulated_ultrasound_set` (training, seeds
0-11 by convention) and :func:`held_out_ultrasound_set` (evaluation only: seeds 1000+,
probes outside the training ranges, a second phantom type).
"""

from __future__ import annotations

import numpy as np

from ._shared import shared_data_dir

__all__ = ["clean_training_images", "clean_test_images", "simulated_ultrasound_set",
           "held_out_ultrasound_set", "real_ultrasound_intensities", "TRAINING_PROBE_RANGES",
           "HELD_OUT_PROBES", "TERRASARX_HELD_OUT_ROWS", "randomised_ultrasound_set",
           "RANDOMISED_PROBE_RANGES", "EXTRAPOLATION_PROBES", "extrapolation_ultrasound_set",
           "scanner_ultrasound_set"]

#: Rows of the TerraSAR-X crop (``../shared/data/sar/terrasarx_slc_256.npy``) that the ``sar``
#: model never trains on (``scripts/train_sar.py`` trains on the others; the study scores them).
TERRASARX_HELD_OUT_ROWS = slice(128, 256)

_GALLERY_TRAIN = ("camera", "coins", "moon", "page", "text", "brick", "grass", "gravel")
_GALLERY_TEST = ("astronaut", "coffee", "chelsea", "rocket", "horse", "immunohistochemistry")


def _read_folder(folder, names=None) -> list[np.ndarray]:
    import imageio.v3 as iio

    files = sorted(folder.glob("*.png"))
    if names is not None:
        files = [f for f in files if f.stem in names]
    return [np.asarray(iio.imread(f)) for f in files]


def _gallery(names) -> list[np.ndarray]:
    from skimage import color, data, util

    images = []
    for name in names:
        image = getattr(data, name)()
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3])
        images.append(util.img_as_ubyte(image))
    return images


def clean_training_images() -> list[np.ndarray]:
    """BSD68 (68 images, 481x321 or 321x481) or the scikit-image stand-ins."""
    root = shared_data_dir()
    if root is not None and (root / "clean" / "BSD68").is_dir():
        return _read_folder(root / "clean" / "BSD68")
    return _gallery(_GALLERY_TRAIN)


def clean_test_images() -> dict[str, np.ndarray]:
    """Set12 images 01-10 (the protocol's test set) or scikit-image stand-ins, by name."""
    root = shared_data_dir()
    if root is not None and (root / "clean" / "Set12").is_dir():
        names = {f"{i:02d}" for i in range(1, 11)}
        folder = root / "clean" / "Set12"
        return {f.stem: img for f, img in zip(
            sorted(p for p in folder.glob("*.png") if p.stem in names),
            _read_folder(folder, names))}
    return dict(zip(_GALLERY_TEST, _gallery(_GALLERY_TEST)))


#: Probe ranges of :func:`simulated_ultrasound_set` (uniform draws, SI units); it also keeps the
#: default 0.05 x 0.1 mm pixels and demodulation at the centre frequency.
TRAINING_PROBE_RANGES = {
    "center_frequency": (3.5e6, 7.5e6),
    "fractional_bandwidth": (0.5, 0.8),
    "lateral_beam_width": (0.4e-3, 0.9e-3),
}


def simulated_ultrasound_set(count: int, *, seed: int = 0, shape=(257, 193)) -> list[dict]:
    """Simulated ultrasound images (complex IQ, intensity, ground truth) with varied systems.

    Each image is a new phantom (:func:`s2v.simulate.ultrasound_phantom`) seen
    through a different point-spread function: centre frequency 3.5-7.5 MHz,
    fractional bandwidth 0.5-0.8, lateral beam width 0.4-0.9 mm
    (:data:`TRAINING_PROBE_RANGES`), so that a model trained on them is not tuned to one
    probe. Seeds ``seed .. seed+count-1`` (use disjoint ranges for training and testing;
    :func:`held_out_ultrasound_set` holds the images kept out of training and tuning).

    Returns
    -------
    list of dict
        The outputs of :func:`s2v.simulate.simulate_ultrasound` (``iq``,
        ``intensity``, ``blurred_echogenicity`` = ground truth of the
        despeckled intensity, ``bmode``, ``regions``, ...).
    """
    from .simulate import simulate_ultrasound, ultrasound_phantom

    ranges = TRAINING_PROBE_RANGES
    out = []
    for k in range(seed, seed + count):
        rng = np.random.default_rng([k, 7919])
        echogenicity, regions = ultrasound_phantom(shape, seed=k, return_regions=True)
        simulation = simulate_ultrasound(
            echogenicity, shape=shape, seed=k,
            center_frequency=rng.uniform(*ranges["center_frequency"]),
            fractional_bandwidth=rng.uniform(*ranges["fractional_bandwidth"]),
            lateral_beam_width=rng.uniform(*ranges["lateral_beam_width"]))
        simulation["regions"] = regions
        out.append(simulation)
    return out


#: Ranges of :func:`randomised_ultrasound_set`: wider than :data:`TRAINING_PROBE_RANGES`, from
#: low-frequency abdominal to high-frequency superficial probes (log-uniform where marked).
RANDOMISED_PROBE_RANGES = {
    "center_frequency": (2e6, 12e6),           # log-uniform
    "fractional_bandwidth": (0.3, 1.0),
    "lateral_beam_width": (0.25e-3, 1.5e-3),   # log-uniform
    "lateral_pixel_size": (0.05e-3, 0.15e-3),  # axial pixel 0.05 mm
    "residual_carrier": (0.3e6, 1.5e6),        # in 30 % of the images, at most half the frequency
    "texture": (0.0, 0.6),
    "hyperechoic_db": (2.0, 10.0),
}


def randomised_ultrasound_set(count: int, *, seed: int = 0, shape=(257, 193), reflectors: bool = False) -> list[dict]:
    """Simulated ultrasound for training that generalises: random phantom type, probe and grid.

    Each image draws, from its own seed (:data:`RANDOMISED_PROBE_RANGES`): the phantom type
    (:func:`s2v.simulate.ultrasound_phantom` with random texture and hyperechoic contrast,
    or :func:`s2v.simulate.vessel_phantom`, one image in four), the centre frequency
    (2-12 MHz), fractional bandwidth (0.3-1.0), lateral beam width (0.25-1.5 mm), lateral
    pixel size (0.05-0.15 mm) and, in three images in ten, a residual carrier (demodulation
    0.3-1.5 MHz below the centre frequency). The speckle correlation length therefore
    varies from under one to about ten pixels. Seeds must stay disjoint from the validation
    (600-699) and held-out (1000+) seeds.

    With ``reflectors``, each image also gets one to five bright specular interfaces
    (:func:`s2v.simulate.add_specular_reflectors`, +15 to +30 dB), as clinical B-modes
    have; they are drawn from a separate generator, so every other draw is unchanged,
    and they are left out of the ``regions`` used for contrast and ENL.

    Returns
    -------
    list of dict
        The outputs of :func:`s2v.simulate.simulate_ultrasound` (COMPLEX ``iq``,
        INTENSITY ``intensity`` and ``blurred_echogenicity`` ground truth, ``params``, ...)
        plus ``regions``, ``seed`` and ``phantom``.
    """
    from .simulate import add_specular_reflectors, simulate_ultrasound, ultrasound_phantom, vessel_phantom

    ranges = RANDOMISED_PROBE_RANGES

    def log_uniform(rng, low, high):
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    images = []
    for k in range(seed, seed + count):
        rng = np.random.default_rng([k, 104729])
        if rng.uniform() < 0.25:
            phantom = "vessels"
            echogenicity, regions = vessel_phantom(shape, seed=k, return_regions=True,
                                                   texture=rng.uniform(*ranges["texture"]))
        else:
            phantom = "cysts"
            echogenicity, regions = ultrasound_phantom(
                shape, seed=k, return_regions=True, texture=rng.uniform(*ranges["texture"]),
                hyperechoic_db=rng.uniform(*ranges["hyperechoic_db"]))
        if reflectors:
            extra = np.random.default_rng([k, 104729, 1])
            echogenicity, bright = add_specular_reflectors(echogenicity, count=int(extra.integers(1, 6)),
                                                           seed=extra)
            regions = _without(regions, bright)
        frequency = log_uniform(rng, *ranges["center_frequency"])
        psf = {"center_frequency": frequency,
               "fractional_bandwidth": rng.uniform(*ranges["fractional_bandwidth"]),
               "lateral_beam_width": log_uniform(rng, *ranges["lateral_beam_width"]),
               "pixel_size": (0.05e-3, rng.uniform(*ranges["lateral_pixel_size"]))}
        if rng.uniform() < 0.3:
            carrier = min(rng.uniform(*ranges["residual_carrier"]), 0.5 * frequency)
            psf["demodulation_frequency"] = frequency - carrier
        simulation = simulate_ultrasound(echogenicity, shape=shape, seed=k, dynamic_range=60.0,
                                         point_targets=regions["point_targets"], **psf)
        simulation.update(regions=regions, seed=k, phantom=phantom)
        images.append(simulation)
    return images


def scanner_ultrasound_set(count: int, *, seed: int = 600, shape=(257, 193)) -> list[dict]:
    """Simulated scanner B-modes: :func:`randomised_ultrasound_set` (with specular reflectors)
    exported as a clinical scanner would (:func:`s2v.simulate.scanner_export`: random
    depth-dependent gain, display dynamic range 45-85 dB, 8 bits) and read back at 60 dB.

    The default seeds 600+ are VALIDATION (for choosing settings); report held-out numbers on
    seeds 3000+ (never used to choose). The export draws from its own generator
    ``[k, 104729, 2]``, so the phantom and probe of seed ``k`` are those of
    :func:`randomised_ultrasound_set`.

    Returns
    -------
    list of dict
        The simulations of :func:`randomised_ultrasound_set` with ``scanner``: the output of
        :func:`s2v.simulate.scanner_export` (``intensity`` as the user reads it,
        ``reference_intensity`` its ground truth).
    """
    from .simulate import scanner_export

    images = randomised_ultrasound_set(count, seed=seed, shape=shape, reflectors=True)
    for image in images:
        image["scanner"] = scanner_export(image["intensity"], image["blurred_echogenicity"],
                                          seed=np.random.default_rng([image["seed"], 104729, 2]))
    return images


def _without(regions: dict, excluded: np.ndarray) -> dict:
    """The phantom's region masks with the ``excluded`` pixels (and 2 px around them) left out."""
    from scipy import ndimage

    excluded = ndimage.binary_dilation(excluded, iterations=2)
    out = {}
    for name, value in regions.items():
        if isinstance(value, np.ndarray) and value.dtype == bool and value.shape == excluded.shape:
            value = value & ~excluded
        elif name == "cysts":
            value = [{**cyst, **{key: cyst[key] & ~excluded for key in ("inside", "background") if key in cyst}}
                     for cyst in value]
        out[name] = value
    return out


def _probe(name, seed, phantom, center_frequency, fractional_bandwidth, lateral_beam_width, *, psf=None,
           **phantom_options):
    """One held-out image: probe name, seed, phantom type and options, PSF settings (SI units)."""
    settings = {"center_frequency": center_frequency, "fractional_bandwidth": fractional_bandwidth,
                "lateral_beam_width": lateral_beam_width, **(psf or {})}
    return {"name": name, "seed": seed, "phantom": phantom, "phantom_options": phantom_options, "psf": settings}


#: Held-out probes and phantoms of :func:`held_out_ultrasound_set` (never for training or tuning).
#: ``psf``: keyword arguments of :func:`s2v.simulate.simulate_ultrasound`; ``phantom_options``:
#: of :func:`s2v.simulate.ultrasound_phantom` ("cysts") or :func:`s2v.simulate.vessel_phantom`
#: ("vessels"). The first six are those of ``benchmarks/baselines_ultrasound.py``.
HELD_OUT_PROBES = (
    _probe("2.5 MHz curvilinear-like, strong texture", 1000, "cysts", 2.5e6, 0.5, 1.2e-3, texture=0.5),
    _probe("10 MHz linear, no texture", 1001, "cysts", 10e6, 0.7, 0.3e-3, texture=0.0),
    _probe("5 MHz narrow band, +3 dB cysts", 1002, "cysts", 5e6, 0.35, 0.7e-3, hyperechoic_db=3.0),
    _probe("7 MHz wide band, +9 dB cysts", 1003, "cysts", 7e6, 0.95, 0.5e-3, hyperechoic_db=9.0),
    _probe("5 MHz, 1 MHz residual carrier", 1004, "cysts", 5e6, 0.6, 0.6e-3, psf={"demodulation_frequency": 4e6}),
    _probe("4 MHz, 0.05 mm lateral pixels, +3 dB cysts, strong texture", 1005, "cysts", 4e6, 0.6, 0.8e-3,
           psf={"pixel_size": (0.05e-3, 0.05e-3)}, texture=0.5, hyperechoic_db=3.0),
    _probe("3 MHz narrow band, wide beam, vessels", 1006, "vessels", 3e6, 0.45, 1.0e-3),
    _probe("8.5 MHz wide band, narrow beam, vessels", 1007, "vessels", 8.5e6, 0.85, 0.35e-3),
)


def held_out_ultrasound_set(count=None, *, shape=(257, 193)) -> list[dict]:
    """Held-out simulated ultrasound: new phantoms, probes outside the training ranges.

    For EVALUATION ONLY: the seeds 1000-1007 and these probes must never be used for
    training or for choosing parameters. :func:`simulated_ultrasound_set` trains on
    :func:`s2v.simulate.ultrasound_phantom` phantoms seen through probes drawn from
    :data:`TRAINING_PROBE_RANGES` (centre frequency 3.5-7.5 MHz, fractional bandwidth
    0.5-0.8, lateral beam width 0.4-0.9 mm), demodulated at the centre frequency, on
    0.05 x 0.1 mm pixels, phantom defaults (texture 0.3, hyperechoic cysts +6 dB). Each
    image below differs from that on at least one PSF setting (:data:`HELD_OUT_PROBES`):

    ====  ========  ==========================================================================
    seed  phantom   outside the training range because
    ====  ========  ==========================================================================
    1000  cysts     2.5 MHz (< 3.5) and 1.2 mm beam (> 0.9); texture 0.5
    1001  cysts     10 MHz (> 7.5) and 0.3 mm beam (< 0.4); no texture
    1002  cysts     bandwidth 0.35 (< 0.5); hyperechoic cysts +3 dB
    1003  cysts     bandwidth 0.95 (> 0.8); hyperechoic cysts +9 dB
    1004  cysts     demodulated at 4 MHz: a 1 MHz residual carrier (training has none)
    1005  cysts     0.05 mm lateral pixels: lateral PSF sigma 6.8 px (training at most 3.8);
                    texture 0.5, hyperechoic cysts +3 dB
    1006  vessels   3 MHz (< 3.5), bandwidth 0.45 (< 0.5), 1.0 mm beam (> 0.9)
    1007  vessels   8.5 MHz (> 7.5), bandwidth 0.85 (> 0.8), 0.35 mm beam (< 0.4)
    ====  ========  ==========================================================================

    The "vessels" images (:func:`s2v.simulate.vessel_phantom`: oblique vessels, irregular
    lesions, no layers) are a phantom TYPE absent from that training set. The shipped
    log-input ``ultrasound`` model trains on :func:`randomised_ultrasound_set` instead, whose
    wider ranges (and one vessel image in four) contain these probes: for it these are new
    phantoms and probe draws, not probes outside its training ranges. The first six are
    exactly the held-out set of ``benchmarks/baselines_ultrasound.py`` (same seeds, probes
    and phantom variants, so ``held_out_ultrasound_set(6)`` gives its images bit for bit).

    Parameters
    ----------
    count : int or None, optional
        The first ``count`` images (1-8), in the order above; ``None``: all.
    shape : (int, int), optional
        Image shape (H, W). Every region mask is checked non-empty (a ValueError names the
        first empty one); at (97, 81) the smallest cysts and the thin vessel are barely
        resolved by the low-frequency probes, so contrast figures there are rough.

    Returns
    -------
    list of dict
        The outputs of :func:`s2v.simulate.simulate_ultrasound` at 60 dB dynamic range
        (``iq``: COMPLEX IQ, ``intensity``: INTENSITY, ``blurred_echogenicity``: INTENSITY
        ground truth of the despeckled image, ``bmode``, ``params``, ...) plus ``regions``
        (the phantom's region dict), ``probe`` (its name), ``seed`` and ``phantom``
        ("cysts" or "vessels").
    """
    return _simulate_probes(HELD_OUT_PROBES, count, shape)


def _simulate_probes(probes, count, shape) -> list[dict]:
    """The first ``count`` (None: all) images of a probe table, every region checked non-empty."""
    from .simulate import add_specular_reflectors, simulate_ultrasound, ultrasound_phantom, vessel_phantom

    total = len(probes)
    if count is None:
        count = total
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= total:
        raise ValueError(f"count must be None or an integer in 1..{total}, got {count!r}")
    phantoms = {"cysts": ultrasound_phantom, "vessels": vessel_phantom}
    images = []
    for probe in probes[:count]:
        seed = probe["seed"]
        echogenicity, regions = phantoms[probe["phantom"]](
            shape, seed=seed, return_regions=True, **probe["phantom_options"])
        for name, mask in [(n, regions[n]) for n in ("anechoic", "hyperechoic", "background", "homogeneous")] + [
                (f"cyst {i} ({c['kind']}) {part}", c[part]) for i, c in enumerate(regions["cysts"])
                for part in ("inside", "background")]:
            if not mask.any():
                raise ValueError(f"shape {tuple(shape)} is too small: region {name} of seed {seed} is empty")
        sim = simulate_ultrasound(echogenicity, seed=seed, dynamic_range=60.0,
                                  point_targets=regions["point_targets"], **probe["psf"])
        sim.update(regions=regions, probe=probe["name"], seed=seed, phantom=probe["phantom"])
        images.append(sim)
    return images


#: Probes OUTSIDE every training range of the shipped models, :data:`RANDOMISED_PROBE_RANGES`
#: included (EVALUATION ONLY, seeds 2000-2007): each breaks at least one of its bounds.
EXTRAPOLATION_PROBES = (
    _probe("1.5 MHz (< 2), 2 mm beam (> 1.5)", 2000, "cysts", 1.5e6, 0.6, 2.0e-3, texture=0.4),
    _probe("15 MHz (> 12), 0.2 mm beam (< 0.25)", 2001, "cysts", 15e6, 0.7, 0.2e-3, texture=0.2),
    _probe("5 MHz, bandwidth 0.2 (< 0.3)", 2002, "cysts", 5e6, 0.2, 0.7e-3, hyperechoic_db=6.0),
    _probe("6 MHz, 0.03 mm lateral pixels (< 0.05)", 2003, "cysts", 6e6, 0.6, 0.6e-3,
           psf={"pixel_size": (0.05e-3, 0.03e-3)}),
    _probe("7 MHz, 0.2 mm lateral pixels (> 0.15)", 2004, "vessels", 7e6, 0.7, 0.5e-3,
           psf={"pixel_size": (0.05e-3, 0.2e-3)}),
    _probe("6 MHz, 2 MHz residual carrier (> 1.5)", 2005, "cysts", 6e6, 0.7, 0.5e-3,
           psf={"demodulation_frequency": 4e6}),
    _probe("4 MHz, texture 0.8 (> 0.6), +12 dB cysts (> 10)", 2006, "cysts", 4e6, 0.6, 0.8e-3,
           texture=0.8, hyperechoic_db=12.0),
    _probe("1.8 MHz (< 2), bandwidth 0.25 (< 0.3), vessels", 2007, "vessels", 1.8e6, 0.25, 1.2e-3),
)


def extrapolation_ultrasound_set(count=None, *, shape=(257, 193)) -> list[dict]:
    """Held-out simulated ultrasound with probes outside every training range (EVALUATION ONLY).

    :func:`held_out_ultrasound_set` lies outside the first training ranges but inside
    :data:`RANDOMISED_PROBE_RANGES`, which the log-input ``ultrasound`` model trains on; this
    set (:data:`EXTRAPOLATION_PROBES`, seeds 2000-2007) breaks at least one bound of those
    too: centre frequency below 2 or above 12 MHz, beam narrower than 0.25 or wider than
    1.5 mm, bandwidth under 0.3, lateral pixels under 0.05 or over 0.15 mm, a residual
    carrier above 1.5 MHz, texture or contrast beyond the drawn ones. It measures how the
    models extrapolate; it must never be used for training or for choosing parameters.

    Parameters and returns as :func:`held_out_ultrasound_set` (``count`` in 1-8).
    """
    return _simulate_probes(EXTRAPOLATION_PROBES, count, shape)


def real_ultrasound_intensities() -> dict[str, np.ndarray]:
    """Real ultrasound speckle as linear intensity, from ``../shared/data`` (empty when absent).

    The MUST rotating-disk IQ frames (|IQ|^2) and the PICMUS contrast-speckle
    envelopes (envelope^2, 1/3/11/75 compounded plane waves).
    """
    root = shared_data_dir()
    if root is None:
        return {}
    folder = root / "ultrasound"
    images = {}
    iq_file = folder / "must_pwi_disk_iq_das_4frames.npy"
    if iq_file.is_file():
        iq = np.load(iq_file, allow_pickle=False)
        for frame in range(iq.shape[-1]):
            images[f"must_disk_iq_frame{frame}"] = (np.abs(iq[..., frame]) ** 2).astype(np.float32)
    picmus_file = folder / "picmus_exp_contrast_speckle_DAS_envelope.npz"
    if picmus_file.is_file():
        with np.load(picmus_file, allow_pickle=False) as data:
            for envelope, waves in zip(data["envelope"], data["n_plane_waves"]):
                images[f"picmus_{int(waves)}pw"] = (envelope.astype(np.float32) ** 2)
    return images

"""Built-in examples: simulated data with ground truth and real ultrasound DICOMs.

>>> from s2v.examples import list_examples, load_example
>>> list_examples()  # doctest: +NORMALIZE_WHITESPACE
['us_phantom', 'us_phantom_bmode', 'sar_slc', 'us_pelvis_aloka', 'us_lymph_node_ge']
>>> example = load_example("us_phantom")
>>> example["domain"], example["data"].shape, example["intensity"].dtype
('complex', (257, 193), dtype('float32'))

Every example is a dict with ``data`` (in its native domain), ``domain``, ``intensity``
(float32 (H, W) linear intensity, the input of a despeckler), ``description``, and where
they exist ``ground_truth`` (float32 intensity), ``mask`` (bool (H, W): usable pixels),
``regions`` (name -> bool (H, W) masks for ENL / contrast measures) and ``params``.
Simulations are seeded (same arrays on every call); the real images come from the
``pydicom-data`` package (its DICOM test files) and are cropped and masked here. Each
example is built once per process and cached; callers get their own copies.
``test_examples/README.md`` describes them in detail.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
from scipy import ndimage

__all__ = ["list_examples", "load_example", "EXAMPLE_DYNAMIC_RANGE"]

#: Dynamic range (dB) assumed to undo the log compression of the real DICOM screenshots.
#: Their true display ranges are not stored in the files; 60 dB is a usual scanner setting.
EXAMPLE_DYNAMIC_RANGE = 60.0


def _disc(shape, center, radius) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2


# ---------------------------------------------------------------------------------------------
# simulated examples
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _ultrasound_simulation() -> dict:
    from s2v.simulate import simulate_ultrasound

    return simulate_ultrasound(shape=(257, 193), dynamic_range=60.0, seed=2023)


def _phantom_regions(simulation: dict) -> dict:
    regions = simulation["regions"]
    return {key: regions[key] for key in ("anechoic", "hyperechoic", "background", "homogeneous")}


def _us_phantom() -> dict:
    sim = _ultrasound_simulation()
    return {
        "data": sim["iq"],
        "domain": "complex",
        "intensity": sim["intensity"],
        "ground_truth": sim["blurred_echogenicity"],
        "regions": _phantom_regions(sim),
        "params": sim["params"],
        "description": (
            "Simulated ultrasound phantom (s2v.simulate.simulate_ultrasound, seed 2023): 257 x 193 complex IQ "
            "with spatially correlated, fully developed speckle (5 MHz, 60 % bandwidth, 0.6 mm beam, "
            "0.05 x 0.1 mm pixels); layers, organ texture, anechoic and hyperechoic cysts, point targets. "
            "Ground truth: the PSF-blurred echogenicity (the expected intensity)."
        ),
    }


def _us_phantom_bmode() -> dict:
    from s2v.domains import bmode_to_intensity

    sim = _ultrasound_simulation()
    reference = sim["params"]["bmode_reference"]
    return {
        "data": sim["bmode"],
        "domain": "bmode",
        "intensity": bmode_to_intensity(sim["bmode"], dynamic_range=60.0, reference=reference),
        "ground_truth": sim["blurred_echogenicity"],
        "regions": _phantom_regions(sim),
        "params": sim["params"],
        "dynamic_range": 60.0,
        "description": (
            "The 'us_phantom' simulation as an 8-bit B-mode (60 dB, white = brightest pixel), as a scanner "
            "would display it; 'intensity' undoes the log compression (exact up to 8-bit quantisation and "
            "the clipping below -60 dB). Ground truth as in 'us_phantom'."
        ),
    }


@functools.lru_cache(maxsize=1)
def _sar_slc() -> dict:
    from s2v.simulate import simulate_correlated_slc

    shape = (256, 256)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    # A simple scene: fields, a dark river, bright built-up blocks (linear intensity).
    scene = np.ones(shape)
    field = (rows >= 150) & (rows < 230) & (cols >= 20) & (cols < 120)
    scene[field] = 3.0
    river = np.abs(rows - (0.35 * cols + 40)) < 9
    scene[river] = 0.05
    urban = np.zeros(shape, dtype=bool)
    for top, left in ((150, 150), (150, 200), (195, 150), (195, 200)):
        urban[top : top + 35, left : left + 35] = True
    scene[urban] = 8.0
    sim = simulate_correlated_slc(scene.astype(np.float32), window_fraction=(0.8, 0.8), taper="hamming",
                                  frequency_shift=(0.2, 0.0), point_targets=6, seed=2023)
    inset = 4  # stay clear of the edges, where the band-limited response mixes regions
    # ... and of the point targets (30 dB above the mean: their sidelobes dominate nearby pixels).
    targets = np.zeros(shape, dtype=bool)
    targets[tuple(sim["point_targets"].T)] = True
    clear = ~ndimage.binary_dilation(targets, structure=_disc((17, 17), (8, 8), 8))
    regions = {
        "homogeneous": ndimage.binary_erosion(field & ~river, iterations=inset) & clear,
        "dark": ndimage.binary_erosion(river, iterations=inset // 2) & clear,
        "bright": ndimage.binary_erosion(urban, iterations=inset) & clear,
        "background": ndimage.binary_erosion(scene == 1.0, iterations=inset) & clear,
    }
    return {
        "data": sim["slc"],
        "domain": "complex",
        "intensity": (sim["slc"].real ** 2 + sim["slc"].imag ** 2).astype(np.float32),
        "ground_truth": sim["clean_intensity"],
        "expected_intensity": sim["expected_intensity"],
        "regions": regions,
        "params": {**sim["params"], "point_targets": sim["point_targets"]},
        "description": (
            "Simulated single-look SAR SLC (s2v.simulate.simulate_correlated_slc, seed 2023): 256 x 256 complex, "
            "speckle correlated by a Hamming-tapered band of 80 % on both axes, azimuth (axis 0) band centre "
            "shifted by 0.2 Nyquist, 6 point targets; scene of fields, a river and built-up blocks. "
            "Ground truth: the clean intensity (what a decorrelated despeckler should recover); "
            "'expected_intensity' is E|slc|^2 (blurred by the system response)."
        ),
    }


# ---------------------------------------------------------------------------------------------
# real ultrasound from pydicom-data
# ---------------------------------------------------------------------------------------------
def _dicom_file(name: str):
    try:
        from pydicom.data import get_testdata_file

        path = get_testdata_file(name)
    except Exception as error:  # pydicom-data missing, or no network-free copy of the file
        raise RuntimeError(f"example needs {name} from the 'pydicom-data' package "
                           f"(pip install pydicom-data): {error}") from error
    if path is None:
        raise RuntimeError(f"example needs {name} from the 'pydicom-data' package (pip install pydicom-data)")
    return path


def _box(shape, rows, cols) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def _real_bmode(grey: np.ndarray, mask: np.ndarray) -> dict:
    """Intensity at the assumed dynamic range, and the speckle-based estimate for reference."""
    from s2v.domains import bmode_to_intensity, estimate_dynamic_range

    usable = mask & (grey > 0) & (grey < 255)
    return {
        "intensity": bmode_to_intensity(grey, dynamic_range=EXAMPLE_DYNAMIC_RANGE),
        "dynamic_range": EXAMPLE_DYNAMIC_RANGE,
        "dynamic_range_estimate": estimate_dynamic_range(grey, mask=usable),
    }


@functools.lru_cache(maxsize=1)
def _us_pelvis_aloka() -> dict:
    from s2v.domains import imaging_mask
    from s2v.io import read_image, rgb_to_grey

    rgb, meta = read_image(_dicom_file("gdcm-US-ALOKA-16.dcm"), keep_colour=True)
    regions = meta["dicom"]["regions"]
    tissue_regions = [r for r in regions if r["data_type"] == 1]  # the two B-mode panels
    tissue = [r["box"] for r in tissue_regions]
    x0, y0 = min(b[0] for b in tissue), min(b[1] for b in tissue)
    x1, y1 = max(b[2] for b in tissue), max(b[3] for b in tissue)
    crop = rgb[y0 : y1 + 1, x0 : x1 + 1]
    mask = imaging_mask(crop)
    for r in regions:  # grey / colour bars drawn inside the panels
        if r["data_type"] in (13, 14):
            bx0, by0, bx1, by1 = r["box"]
            mask[max(by0 - y0, 0) : by1 - y0 + 1, max(bx0 - x0, 0) : bx1 - x0 + 1] = False
    # Frame counters ("127/128", "20Hz") on the black corners above each sector, in full-image
    # pixels; drawn in a grey that also occurs in tissue, so they are masked by position.
    for cols in ((248, 336), (552, 640)):
        mask[30 - y0 : 64 - y0, cols[0] - x0 : cols[1] - x0] = False
    grey = rgb_to_grey(crop)
    spacing = tissue_regions[0]["physical_delta"][0] * 1e-2  # physical units code 3 = cm
    shape = grey.shape
    panels = {f"{side}_panel": _box(shape, (b[1] - y0, b[3] - y0 + 1), (b[0] - x0, b[2] - x0 + 1))
              for side, b in zip(("left", "right"), sorted(tissue))}
    return {
        "data": grey,
        "domain": "bmode",
        **_real_bmode(grey, mask),
        "mask": mask,
        "regions": {
            **panels,
            "homogeneous": (_box(shape, (230, 290), (60, 140)) | _box(shape, (230, 290), (380, 460))) & mask,
        },
        "params": {"source": "pydicom-data gdcm-US-ALOKA-16.dcm", "crop": (y0, y1 + 1, x0, x1 + 1),
                   "pixel_size": (spacing, spacing)},
        "description": (
            "Real pelvis B-mode (ALOKA SSD-4000, 5 MHz, two side-by-side panels) from pydicom-data "
            "gdcm-US-ALOKA-16.dcm: 16-bit PALETTE COLOR mapped through its LUT and converted to grey, "
            "cropped to the two tissue regions of the DICOM ultrasound-region sequence (392 x 608, 0.38 mm "
            "pixels, 64 grey levels); mask: sector area without background, grey bar, coloured markers and "
            "frame counters. Intensity assumes a 60 dB log compression."
        ),
    }


@functools.lru_cache(maxsize=1)
def _us_lymph_node_ge() -> dict:
    from s2v.domains import imaging_mask, overlay_mask
    from s2v.io import read_image, rgb_to_grey

    rgb, _ = read_image(_dicom_file("US1_UNCR.dcm"), keep_colour=True)
    area = imaging_mask(rgb)
    rows, cols = np.nonzero(area)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop, mask = rgb[r0:r1, c0:c1], area[r0:r1, c0:c1]
    # The "PWR" colour-scale bars straddle the left and right image edges (full-image columns
    # < 46 and >= 595, rows 130-260): their grey parts are not colour, so mask them by position.
    bars = np.zeros(mask.shape, dtype=bool)
    bars[130 - r0 : 260 - r0, : 46 - c0] = True
    bars[130 - r0 : 260 - r0, 595 - c0 :] = True
    mask &= ~bars
    grey = rgb_to_grey(crop)
    doppler = overlay_mask(crop, text_level=1.01) & ~bars  # colour only: text_level > 1 disables the white rule
    shape = grey.shape
    return {
        "data": grey,
        "domain": "bmode",
        **_real_bmode(grey, mask),
        "mask": mask,
        "regions": {
            "colour_doppler": doppler,
            "homogeneous": (_box(shape, (5, 35), (100, 300)) | _box(shape, (195, 225), (100, 300))) & mask,
        },
        "params": {"source": "pydicom-data US1_UNCR.dcm", "crop": (int(r0), int(r1), int(c0), int(c1))},
        "description": (
            "Real lymph-node B-mode with power Doppler (GE LOGIQ 700, linear probe) from pydicom-data "
            "US1_UNCR.dcm: RGB converted to grey and cropped to the imaging area found by "
            "s2v.domains.imaging_mask; mask: grey B-mode only (colour Doppler, box lines, colour bars and "
            "text excluded). Intensity assumes a 60 dB log compression."
        ),
    }


_EXAMPLES = {
    "us_phantom": _us_phantom,
    "us_phantom_bmode": _us_phantom_bmode,
    "sar_slc": _sar_slc,
    "us_pelvis_aloka": _us_pelvis_aloka,
    "us_lymph_node_ge": _us_lymph_node_ge,
}


def list_examples() -> list[str]:
    """Names of the built-in examples, simulated first, then real.

    Returns
    -------
    list of str
    """
    return list(_EXAMPLES)


def load_example(name: str) -> dict:
    """Load a built-in example.

    Parameters
    ----------
    name : str
        One of :func:`list_examples`.

    Returns
    -------
    dict
        ``data`` (native domain: complex64 IQ/SLC or uint8 B-mode, (H, W)), ``domain``,
        ``intensity`` (float32 (H, W) linear INTENSITY), ``description``; optional
        ``ground_truth`` (float32 INTENSITY), ``mask`` (bool (H, W), usable pixels),
        ``regions`` (dict of bool (H, W) masks), ``params`` and, for B-mode examples,
        ``dynamic_range`` (dB used for ``intensity``) and ``dynamic_range_estimate``. The
        arrays are the caller's own copies.

    Raises
    ------
    ValueError
        Unknown name.
    RuntimeError
        A real example whose source package (``pydicom-data``) is missing.
    """
    if name not in _EXAMPLES:
        raise ValueError(f"unknown example {name!r}; available: {list_examples()}")
    return copy.deepcopy(_EXAMPLES[name]())

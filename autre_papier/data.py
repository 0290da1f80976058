"""Training and evaluation data of AP-BSN for ultrasound B-mode.

Every loader returns a list of *items*, the dicts of the comparison harness
(:func:`s2v.compare.compare`): ``name``, ``intensity`` (noisy linear
**intensity**, float32 (H, W)) and, where known, ``ground_truth`` (clean
intensity), ``mask`` (bool (H, W): pixels that are grey-scale B-mode, where
training crops may come from) and ``regions``.

Sources:

* :func:`simulated_items` -- ultrasound simulated by :mod:`s2v.simulate`
  (correlated speckle), passed through the 8-bit B-mode display chain and back
  to intensity, so training sees what a B-mode picture holds; ground truth is
  the PSF-blurred echogenicity on the same scale;
* :func:`folder_items` -- a user folder of B-mode pictures (any format of
  :func:`s2v.io.read_image`: PNG, TIFF, DICOM, ...);
* :func:`pydicom_items` -- the real ultrasound DICOM of ``pydicom-data``
  (``US1_UNCR.dcm``, a lymph-node scan with colour-Doppler boxes and text);
* :func:`download_busi` -- the BUSI breast-ultrasound set from Kaggle, only
  when the ``kaggle`` package and its credentials are present.

This module does not import TensorFlow.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

__all__ = [
    "grey_bmode",
    "bmode_item",
    "simulated_items",
    "folder_items",
    "pydicom_items",
    "download_busi",
    "KaggleUnavailable",
    "PYDICOM_ULTRASOUND",
    "BUSI_DATASET",
]

#: Ultrasound pictures of pydicom-data: a GE lymph-node scan with power Doppler
#: and an ALOKA pelvis scan (two panels). US1_J2KR/US1_J2KI/US1_UNCI hold the
#: same picture as US1_UNCR in other encodings, so only that one is used.
PYDICOM_ULTRASOUND = ("US1_UNCR.dcm", "gdcm-US-ALOKA-16.dcm")

#: Kaggle identifier of BUSI (Al-Dhabyani et al., Data in Brief 2020).
BUSI_DATASET = "aryashah2k/breast-ultrasound-images-dataset"


class KaggleUnavailable(RuntimeError):
    """The optional Kaggle download cannot run here (package or credentials missing)."""


def grey_bmode(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grey levels and imaging-area mask of a (possibly colour) B-mode picture.

    Parameters
    ----------
    picture : ndarray, (H, W) or (H, W, 3|4), uint8
        8-bit B-MODE picture or screenshot, grey or RGB(A).

    Returns
    -------
    grey : ndarray (H, W) uint8
        B-mode grey levels (BT.601 luma of a colour picture: the grey value
        itself wherever R = G = B).
    mask : ndarray (H, W) bool
        :func:`s2v.domains.imaging_mask`: the scan area without the black
        surround, text and colour overlays (Doppler boxes).
    """
    from s2v.domains import imaging_mask
    from s2v.io import rgb_to_grey

    picture = np.asarray(picture)
    if picture.ndim == 3 and picture.shape[2] in (3, 4):
        grey = rgb_to_grey(picture)
    elif picture.ndim == 2:
        grey = picture
    else:
        raise ValueError(f"expected a (H, W) or (H, W, 3|4) B-mode picture, got shape {picture.shape}")
    if grey.dtype != np.uint8:
        raise ValueError(f"expected 8-bit B-mode grey levels (uint8), got dtype {grey.dtype}")
    return grey, imaging_mask(picture)


def bmode_item(name: str, picture: np.ndarray, dynamic_range: float = 60.0,
               meta: dict | None = None) -> dict:
    """Harness item of an 8-bit B-mode picture: intensity (0 dB = 1) and imaging mask.

    ``picture`` is grey or RGB uint8 (see :func:`grey_bmode`); ``dynamic_range``
    is the dB span of grey levels 0..255 (:func:`s2v.domains.bmode_to_intensity`).
    ``meta`` is the metadata of :func:`s2v.io.read_image`: for a DICOM with a
    Sequence of Ultrasound Regions, the mask is limited to its tissue regions
    (data type 1), which drops grey-scale bars and logos beside the image.
    """
    from s2v.domains import bmode_to_intensity

    grey, mask = grey_bmode(picture)
    tissue = [r["box"] for r in (meta or {}).get("dicom", {}).get("regions", []) if r["data_type"] == 1]
    if tissue:
        inside = np.zeros(mask.shape, bool)
        for x0, y0, x1, y1 in tissue:  # inclusive pixel bounds
            inside[y0:y1 + 1, x0:x1 + 1] = True
        mask &= inside
    return {"name": name, "intensity": bmode_to_intensity(grey, dynamic_range=dynamic_range),
            "mask": mask, "looks": 1.0}


def simulated_items(count: int = 4, *, shape=(257, 193), seed: int = 0,
                    dynamic_range: float = 60.0, vary_psf: bool = False) -> list[dict]:
    """Simulated ultrasound B-mode with ground truth (correlated speckle).

    Each item comes from :func:`s2v.simulate.simulate_ultrasound` (seed
    ``seed + k``): its 8-bit ``bmode`` is converted back to intensity with
    :func:`s2v.domains.bmode_to_intensity` (0 dB = 1), and the ground truth is
    ``blurred_echogenicity / bmode_reference`` on that scale (the expected
    intensity; the 8-bit quantisation and the clipping at ``-dynamic_range``
    dB are part of the noise, as on a real scanner picture).

    With ``vary_psf`` each image draws its own centre frequency (3.5-7.5 MHz)
    and lateral beam width (0.4-0.9 mm), so the speckle grain varies as it
    does between scanners and probes (for training); otherwise the defaults
    of :func:`s2v.simulate.simulate_ultrasound` (5 MHz, 0.6 mm) are used.

    Returns
    -------
    list of dict
        Harness items with ``ground_truth`` and ``regions`` (the phantom's
        homogeneous band and one anechoic-cyst / background pair per cyst).
    """
    from s2v.domains import bmode_to_intensity
    from s2v.simulate import simulate_ultrasound

    items = []
    for k in range(int(count)):
        psf = {}
        if vary_psf:
            draw = np.random.default_rng([seed, k])
            psf = {"center_frequency": draw.uniform(3.5e6, 7.5e6),
                   "lateral_beam_width": draw.uniform(0.4e-3, 0.9e-3)}
        sim = simulate_ultrasound(shape=shape, seed=seed + k, dynamic_range=dynamic_range, **psf)
        reference = sim["params"]["bmode_reference"]
        regions = sim["regions"]
        pairs = [{"target": c["inside"], "background": c["background"]}
                 for c in regions["cysts"] if c["kind"] == "anechoic"]
        items.append({
            "name": f"sim_us_{seed + k}",
            "intensity": bmode_to_intensity(sim["bmode"], dynamic_range=dynamic_range),
            "ground_truth": (sim["blurred_echogenicity"] / reference).astype(np.float32),
            "regions": {"homogeneous": [regions["homogeneous"]], "pairs": pairs},
            "looks": 1.0,
        })
    return items


def folder_items(folder: str | Path, *, dynamic_range: float = 60.0) -> tuple[list[dict], list[str]]:
    """Every readable B-mode picture of a folder (recursively), as items.

    Files are read with :func:`s2v.io.read_image`; 8-bit grey or RGB pictures
    are taken as B-mode (colour and text masked, see :func:`grey_bmode`) with
    the given ``dynamic_range`` (dB); multi-frame files give one item per
    frame; files of other domains (complex, RF, intensity, amplitude) are
    converted with :func:`s2v.domains.to_intensity`.

    Returns
    -------
    items : list of dict
    skipped : list of str
        ``"file: reason"`` for every file that could not be used.
    """
    from s2v.domains import to_intensity
    from s2v.io import S2VInputError, read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of B-mode images")
    items, skipped = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            array, meta = read_image(path, frame="all", keep_colour=True)
        except S2VInputError as exc:
            skipped.append(str(exc))  # S2VInputError messages name the file
            continue
        name = str(path.relative_to(folder))
        frames = _frames(array, meta)
        for index, frame in enumerate(frames):
            label = name if len(frames) == 1 else f"{name}[{index}]"
            if frame.dtype == np.uint8:
                items.append(bmode_item(label, frame, dynamic_range, meta))
            elif meta["domain"] in ("complex", "rf", "intensity", "amplitude"):
                items.append({"name": label, "intensity": to_intensity(frame, meta["domain"]).astype(np.float32),
                              "looks": 1.0})
            else:
                skipped.append(f"{path}: domain {meta['domain']!r} with dtype {frame.dtype} is not B-mode "
                               "(expected 8-bit grey or RGB pictures)")
                break
    return items, skipped


def _frames(array: np.ndarray, meta: dict) -> list[np.ndarray]:
    """Split a multi-frame array into 2-D (or colour (H, W, 3|4)) frames."""
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4) and meta["domain"] == "bmode"):
        return [array]
    if array.ndim == 3:
        return list(array)
    if array.ndim == 4 and array.shape[3] in (3, 4):
        return list(array)
    raise ValueError(f"{meta.get('path')}: cannot split an array of shape {array.shape} into frames")


def pydicom_items(*, dynamic_range: float = 60.0) -> list[dict]:
    """The real ultrasound DICOM pictures of ``pydicom-data`` (grey B-mode area masked).

    Raises
    ------
    ValueError
        When ``pydicom`` or its test data is not installed.
    """
    try:
        from pydicom.data import get_testdata_file
    except ImportError as exc:
        raise ValueError(f"pydicom is not installed ({exc}); `pip install pydicom pydicom-data`") from None
    from s2v.io import read_image

    items = []
    for name in PYDICOM_ULTRASOUND:
        path = get_testdata_file(name)
        if path is None:
            raise ValueError(f"{name} is not in this pydicom-data installation; `pip install pydicom-data`")
        picture, meta = read_image(path, keep_colour=True)
        items.append(bmode_item(f"pydicom_{Path(name).stem}", picture, dynamic_range, meta))
    return items


def download_busi(destination: str | Path) -> Path:
    """Download the BUSI breast-ultrasound set from Kaggle into ``destination``.

    Only possible with the ``kaggle`` package installed and Kaggle API
    credentials configured (``~/.kaggle/kaggle.json`` or the
    ``KAGGLE_USERNAME`` / ``KAGGLE_KEY`` variables) and internet access.

    Raises
    ------
    KaggleUnavailable
        With a message saying what is missing and how to get the data by hand.
    """
    manual = (f"download it by hand from https://www.kaggle.com/datasets/{BUSI_DATASET} and "
              "pass the unzipped folder with --folder")
    if importlib.util.find_spec("kaggle") is None:
        raise KaggleUnavailable(f"the `kaggle` package is not installed (`pip install kaggle`); or {manual}")
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    has_env = bool(os.environ.get("KAGGLE_USERNAME")) and bool(os.environ.get("KAGGLE_KEY"))
    if not has_env and not (config_dir / "kaggle.json").is_file():
        raise KaggleUnavailable(f"no Kaggle API credentials ({config_dir / 'kaggle.json'} or "
                                f"KAGGLE_USERNAME/KAGGLE_KEY); or {manual}")
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(BUSI_DATASET, path=str(destination), unzip=True, quiet=False)
    except Exception as exc:  # network, quota, licence acceptance: report, do not crash the CLI
        raise KaggleUnavailable(f"the Kaggle download of {BUSI_DATASET} failed ({exc}); {manual}") from None
    return destination

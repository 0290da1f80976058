"""Comparison harness: run ``{name: denoiser}`` over a data set, write tables and figures.

A denoiser is any callable ``f(intensity, *, looks) -> intensity`` on float32 (H, W) linear
intensity (|z|^2). :func:`compare` runs every denoiser on every image (and on fresh speckle
realisations when a ground truth exists), scores each output and writes, under ``out_dir``::

    results.md       markdown tables: mean ± std over images and realisations, then per image
    summary.csv      the same table, one row per method
    records.csv      one row per (image, realisation, method)
    results.json     configuration, summary, records, regions and figure paths
    regions.json     the regions of interest used, editable (see below)
    figures/         <image>_montage.png, <image>_ratio.png, <image>_profile.png

Regions of interest
-------------------
Per image: ``homogeneous`` areas (for ENL) and ``pairs`` of ``target``/``background`` areas
(for CNR and gCNR). Each area is a *region spec*, a JSON-friendly description:

- ``{"box": [row0, col0, row1, col1]}``: half-open pixel box (a bare 4-list also works);
- ``{"circle": [row, col, radius]}``: a disk (cysts, inclusions);
- ``{"rle": [n_false, n_true, ...], "shape": [H, W]}``: any mask, run-length coded in C order;
- any of these with ``"exclude": [spec, ...]``: minus other areas (a ring around a target);
- or a boolean (H, W) array in Python.

When an image has none, :func:`propose_regions` proposes them from the noisy image; the
proposals are returned (``CompareResults.regions``) and saved to ``regions.json``, so a user can
edit that file and pass it back with ``compare(..., regions="regions.json")``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import functools
import io
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import ndimage

from s2v import metrics
from s2v.utils import atomic_write_text, check_intensity

__all__ = [
    "CompareResults",
    "compare",
    "propose_regions",
    "region_mask",
    "load_regions",
    "save_regions",
    "resolve_methods",
    "add_compare_arguments",
    "compare_main",
]

Denoiser = Callable[..., np.ndarray]

#: Summary columns: record key, table header, number format.
METRIC_COLUMNS = (
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("ssim", "SSIM", "{:.4f}"),
    ("enl", "ENL", "{:.2f}"),
    ("speckle_snr", "speckle SNR", "{:.2f}"),
    ("cnr", "CNR", "{:.3f}"),
    ("gcnr", "gCNR", "{:.3f}"),
    ("ratio_mean", "ratio mean", "{:.3f}"),
    ("ratio_var", "ratio var", "{:.3f}"),
    ("epi", "EPI", "{:.3f}"),
    ("runtime_s", "time (s)", "{:.3g}"),
    ("runtime_s_per_mpix", "s/MPix", "{:.3g}"),
)
CONVENTIONS = ("PSNR/SSIM on amplitude (peak data_range, default the maximum of the ground-truth "
               "amplitude); CNR, gCNR and speckle SNR on amplitude; ENL and ratio image on "
               "intensity; EPI on amplitude against the ground truth, else the noisy image; "
               "mean ± std (ddof=0) over images and realisations")
_RECORD_KEYS = ("image", "realisation", "method", "looks", "height", "width") + tuple(
    key for key, _, _ in METRIC_COLUMNS)
_REGION_KEYS = ("homogeneous", "pairs", "target", "background", "source")
#: Name of the pseudo-method that scores the noisy input itself.
NOISY = "noisy"


# --------------------------------------------------------------------------- regions


def _box_spec(box) -> dict:
    return {"box": [int(round(v)) for v in box]}


def _is_box(spec) -> bool:
    """A bare ``[row0, col0, row1, col1]``."""
    return isinstance(spec, (list, tuple)) and len(spec) == 4 and all(
        isinstance(v, (int, float, np.integer, np.floating)) for v in spec)


def _encode_mask(mask: np.ndarray) -> dict:
    """Run-length code a boolean mask (C order, runs alternate False, True, ...)."""
    flat = np.asarray(mask, dtype=bool).ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"rle": [int(c) for c in counts], "shape": [int(s) for s in mask.shape]}


def region_mask(spec, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a region spec into a boolean mask.

    Parameters
    ----------
    spec : dict, sequence of 4 ints or ndarray of bool, shape (H, W)
        A region spec (see the module docstring): ``{"box": [r0, c0, r1, c1]}`` (half-open
        pixel box, also as a bare 4-list), ``{"circle": [row, col, radius]}``,
        ``{"rle": [...], "shape": [H, W]}``, optionally with ``"exclude": [spec, ...]``;
        or a boolean mask.
    shape : tuple of int
        Image shape (H, W).

    Returns
    -------
    mask : ndarray of bool, shape (H, W)
        The pixels of the region that lie inside the image (may be empty; callers check).

    Raises
    ------
    ValueError
        For a malformed spec or a mask whose shape is not ``shape``.
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(spec, np.ndarray):
        if spec.shape != shape:
            raise ValueError(f"region mask has shape {spec.shape}, image has shape {shape}")
        return spec.astype(bool)
    if _is_box(spec):
        spec = _box_spec(spec)
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"region spec {spec!r} not understood; expected a bool (H, W) mask, "
            "[row0, col0, row1, col1], {'box': ...}, {'circle': [row, col, radius]} "
            "or {'rle': ...}")
    kinds = [k for k in ("box", "circle", "rle") if k in spec]
    if len(kinds) != 1:
        raise ValueError(f"region spec {spec!r} needs exactly one of 'box', 'circle', 'rle'")
    unknown = set(spec) - {"box", "circle", "rle", "shape", "exclude"}
    if unknown:
        raise ValueError(f"region spec {spec!r} has unknown keys {sorted(unknown)}")
    mask = np.zeros(shape, dtype=bool)
    if kinds[0] == "box":
        box = spec["box"]
        if len(box) != 4:
            raise ValueError(f"region box {box!r} must be [row0, col0, row1, col1]")
        r0, c0, r1, c1 = (int(round(v)) for v in box)
        mask[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
    elif kinds[0] == "circle":
        circle = spec["circle"]
        if len(circle) != 3:
            raise ValueError(f"region circle {circle!r} must be [row, col, radius]")
        row, col, radius = (float(v) for v in circle)
        rows, cols = np.ogrid[:shape[0], :shape[1]]
        mask = (rows - row) ** 2 + (cols - col) ** 2 <= radius ** 2
    else:
        if tuple(spec.get("shape", ())) != shape:
            raise ValueError(
                f"run-length region has shape {spec.get('shape')}, image has shape {list(shape)}")
        counts = np.asarray(spec["rle"], dtype=np.int64)
        if counts.sum() != mask.size or np.any(counts < 0):
            raise ValueError(f"run-length region does not cover {mask.size} pixels")
        mask = np.repeat(np.arange(counts.size) % 2 == 1, counts).reshape(shape)
    for other in spec.get("exclude", ()):
        mask &= ~region_mask(other, shape)
    return mask


def _spec_to_json(spec):
    """A JSON-serialisable form of a region spec (masks become boxes or run-length codes)."""
    if isinstance(spec, np.ndarray):
        rows, cols = np.nonzero(spec)
        if rows.size:
            box = [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]
            if rows.size == (box[2] - box[0]) * (box[3] - box[1]):  # a filled rectangle
                return _box_spec(box)
        return _encode_mask(spec)
    if _is_box(spec):
        return _box_spec(spec)
    if not isinstance(spec, Mapping) or set(spec) - {"box", "circle", "rle", "shape", "exclude"}:
        raise ValueError(f"region spec {spec!r} not understood; expected a bool (H, W) mask, "
                         "[row0, col0, row1, col1] or a dict with 'box', 'circle' or 'rle'")
    out = {}
    for key, value in spec.items():
        if key == "exclude":
            out[key] = [_spec_to_json(s) for s in value]
        elif key == "circle":
            out[key] = [float(v) for v in value]
        elif key == "box":
            out[key] = _box_spec(value)["box"]
        else:
            out[key] = [int(v) for v in value]
    return out


def _normalise_regions(regions, name: str) -> dict:
    """Bring user regions into ``{"homogeneous": [...], "pairs": [{"target", "background"}]}``.

    Keys that are absent stay absent (they are proposed automatically later); an explicitly
    empty list means "none".
    """
    if not isinstance(regions, Mapping):
        raise ValueError(f"regions of image '{name}' must be a dict, got {type(regions).__name__}")
    unknown = [k for k in regions if k not in _REGION_KEYS]
    if unknown:
        hints = {k: difflib.get_close_matches(k, _REGION_KEYS, n=1) for k in unknown}
        msg = ", ".join(f"'{k}'" + (f" (did you mean '{h[0]}'?)" if h else "")
                        for k, h in hints.items())
        raise ValueError(f"regions of image '{name}': unknown key(s) {msg}; "
                         f"expected {', '.join(_REGION_KEYS[:4])}")
    out = {}
    if "homogeneous" in regions:
        homogeneous = regions["homogeneous"]
        if isinstance(homogeneous, np.ndarray) and homogeneous.ndim == 3:
            homogeneous = list(homogeneous)  # a stack of masks
        elif isinstance(homogeneous, (np.ndarray, Mapping)) or _is_box(homogeneous):
            homogeneous = [homogeneous]
        out["homogeneous"] = list(homogeneous)
    if ("target" in regions) != ("background" in regions):
        raise ValueError(f"regions of image '{name}': 'target' and 'background' go together")
    pairs = []
    if "target" in regions:
        pairs.append({"target": regions["target"], "background": regions["background"]})
    for pair in regions.get("pairs", ()):
        if isinstance(pair, Mapping):
            if set(pair) != {"target", "background"}:
                raise ValueError(f"regions of image '{name}': a pair needs exactly the keys "
                                 f"'target' and 'background', got {sorted(pair)}")
            pairs.append(dict(pair))
        elif isinstance(pair, (list, tuple)) and len(pair) == 2:
            pairs.append({"target": pair[0], "background": pair[1]})
        else:
            raise ValueError(f"regions of image '{name}': a pair must be (target, background) "
                             f"or {{'target': ..., 'background': ...}}, got {pair!r}")
    if "target" in regions or "pairs" in regions:
        out["pairs"] = pairs
    return out


def _box_sums(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Sum of ``image`` over every ``size`` window, indexed by the window's top-left corner."""
    h, w = size
    table = np.zeros((image.shape[0] + 1, image.shape[1] + 1))
    table[1:, 1:] = np.cumsum(np.cumsum(image, axis=0, dtype=np.float64), axis=1)
    return table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]


def _unclipped(intensity: np.ndarray, mask) -> np.ndarray:
    """Pixels usable for homogeneous areas: inside ``mask`` and not clipped.

    B-mode data clip to black (padding, anechoic areas) and to white; such flat patches have
    a near-zero coefficient of variation and would otherwise win the homogeneity search.
    """
    valid = np.ones(intensity.shape, bool) if mask is None else np.asarray(mask, bool).copy()
    for extreme in (intensity.min(), intensity.max()):
        flat = intensity == extreme
        if flat.mean() > 0.01:
            valid &= ~flat
    return valid


def propose_regions(intensity, *, mask=None, n_homogeneous: int = 3, window: int | None = None,
                    target_window: int | None = None) -> dict:
    """Propose regions of interest from a noisy intensity image.

    Homogeneous areas are the ``n_homogeneous`` non-overlapping square windows whose
    surroundings have the lowest coefficient of variation (std / mean) of the noisy intensity.
    The target is the square window with the highest contrast to its surrounding ring (ring
    mean / window mean, a dark region in brighter surroundings, as an anechoic cyst), and the
    background is that ring (separated from the target by a gap of a quarter window); the
    target shrinks until its ring fits the image and ``mask``.

    Parameters
    ----------
    intensity : ndarray, shape (H, W)
        Noisy linear intensity (|z|^2).
    mask : ndarray of bool, shape (H, W), optional
        Valid imaging area; proposals lie entirely inside it.
    n_homogeneous : int
        Number of homogeneous windows.
    window : int, optional
        Side of the homogeneous windows, default ``min(H, W) // 8`` (at least 5, at most
        ``min(H, W) // 3``: the neighbours must fit).
    target_window : int, optional
        Side of the target window, default ``min(H, W) // 6`` (at least 5).

    Returns
    -------
    regions : dict
        ``{"homogeneous": [{"box": ...}, ...], "pairs": [{"target": {"box": ...},
        "background": {"box": ..., "exclude": [{"box": ...}]}}]}``; boxes are half-open
        ``[row0, col0, row1, col1]``. Either list is empty when nothing fits.

    Notes
    -----
    A window is ranked by the pooled statistics of its four edge neighbours, not by its own,
    so that the ENL measured in it is hardly biased by the selection. Measured on pure
    single-look speckle, 7x7 windows, 300 images: mean ENL 0.98 (63x71 images) and 1.03
    (201x211), against 1.09 for windows drawn at random (the small-sample bias of the ENL
    estimator itself); ranking windows by their own CV gives 2.3 and 2.7.
    """
    image = check_intensity(intensity, "propose_regions: intensity").astype(np.float64)
    valid = _unclipped(image, mask)
    side = min(image.shape)
    window = int(window or max(5, side // 8))
    target_window = int(target_window or max(5, side // 6))
    regions = {"homogeneous": [], "pairs": []}

    # Each window is ranked by its four edge neighbours (pooled), not by itself: picking the
    # windows whose own noise happens to be smoothest would more than double their ENL (see
    # Notes); homogeneous areas are larger than a window, so the neighbours tell where they
    # are (the rule of s2v.domains.estimate_looks).
    window = min(window, side // 3)
    if window >= 2:
        area = window * window
        ok = _box_sums(valid.astype(np.float64), (window, window)) >= area - 0.5
        first = _box_sums(image, (window, window)) / area
        second = _box_sums(image * image, (window, window)) / area
        n_r, n_c = first.shape[0] - 2 * window, first.shape[1] - 2 * window

        def shifted(a, dr, dc):  # a[r + dr, c + dc] for every candidate top-left (r, c)
            return a[window + dr:window + dr + n_r, window + dc:window + dc + n_c]

        steps = ((-window, 0), (window, 0), (0, -window), (0, window))
        mean = sum(shifted(first, *d) for d in steps) / 4
        power = sum(shifted(second, *d) for d in steps) / 4
        usable = shifted(ok, 0, 0) & np.logical_and.reduce([shifted(ok, *d) for d in steps])
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = np.sqrt(np.maximum(power - mean ** 2, 0.0)) / mean
        stride = max(1, window // 4)
        cv = np.where(usable & (mean > 0), cv, np.inf)[::stride, ::stride]
        chosen = []
        for flat in np.argsort(cv, axis=None):
            if len(chosen) == n_homogeneous or not np.isfinite(cv.flat[flat]):
                break
            r, c = (window + int(v) * stride for v in np.unravel_index(flat, cv.shape))
            if all(abs(r - r2) >= window or abs(c - c2) >= window for r2, c2 in chosen):
                chosen.append((r, c))
        regions["homogeneous"] = [_box_spec([r, c, r + window, c + window]) for r, c in chosen]

    # Clipped black is allowed for the target: an anechoic cyst is exactly that.
    usable = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool)
    # A smaller target when the ring does not fit the image or the mask at the default size.
    for size in range(target_window, 4, -max(1, target_window // 4)):
        pair = _propose_pair(image, usable, size)
        if pair is not None:
            regions["pairs"] = [pair]
            break
    return regions


def _propose_pair(image: np.ndarray, usable: np.ndarray, size: int) -> dict | None:
    """Target ``size`` x ``size`` with the highest ring / target mean ratio, and its ring."""
    gap, ring = max(1, size // 4), max(2, size // 3)
    expanded, outer = size + 2 * gap, size + 2 * (gap + ring)
    if outer > min(image.shape):
        return None
    # Every sum is indexed by the top-left corner of the outer box.
    n_r, n_c = image.shape[0] - outer + 1, image.shape[1] - outer + 1

    def crop(sums, offset):
        return sums[offset:offset + n_r, offset:offset + n_c]

    target_mean = crop(_box_sums(image, (size, size)), gap + ring) / size ** 2
    ring_sum = _box_sums(image, (outer, outer)) - crop(_box_sums(image, (expanded,) * 2), ring)
    ring_mean = ring_sum / (outer * outer - expanded * expanded)
    inside = _box_sums(usable.astype(np.float64), (outer, outer)) >= outer * outer - 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        contrast = np.where(inside & (target_mean > 0), ring_mean / target_mean, -np.inf)
    if not np.isfinite(contrast.max()):
        return None
    r, c = (int(v) for v in np.unravel_index(np.argmax(contrast), contrast.shape))
    t_r, t_c = r + gap + ring, c + gap + ring
    return {
        "target": _box_spec([t_r, t_c, t_r + size, t_c + size]),
        "background": {"box": [r, c, r + outer, c + outer],
                       "exclude": [_box_spec([r + ring, c + ring, r + ring + expanded,
                                              c + ring + expanded])]},
    }


def save_regions(regions: Mapping[str, Mapping], path) -> Path:
    """Save per-image regions ``{image_name: {"homogeneous": [...], "pairs": [...]}}`` as JSON.

    Boolean masks are stored run-length coded; boxes and circles stay editable by hand.
    """
    payload = {}
    for name, image_regions in regions.items():
        norm = _normalise_regions(image_regions, name)
        entry = {}
        if "homogeneous" in norm:
            entry["homogeneous"] = [_spec_to_json(s) for s in norm["homogeneous"]]
        if "pairs" in norm:
            entry["pairs"] = [{k: _spec_to_json(p[k]) for k in ("target", "background")}
                              for p in norm["pairs"]]
        if "source" in image_regions:
            entry["source"] = image_regions["source"]
        payload[name] = entry
    text = json.dumps(payload, indent=1)
    # One line per number list, so boxes read (and edit) as [row0, col0, row1, col1].
    text = re.sub(r"\[\s*([-0-9.eE,\s]*?)\s*\]",
                  lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text)
    return atomic_write_text(Path(path), text + "\n")


def load_regions(path) -> dict:
    """Load per-image regions written by :func:`save_regions` (or edited by hand).

    Raises
    ------
    ValueError
        When the file is missing, is not JSON, or is not ``{image_name: {...}}``.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"regions file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"regions file {path} is not valid JSON: {err}") from None
    if not isinstance(payload, dict) or not all(isinstance(v, dict) for v in payload.values()):
        raise ValueError(f"regions file {path}: expected {{image_name: {{'homogeneous': [...], "
                         "'pairs': [...]}}}}")
    for name, image_regions in payload.items():
        _normalise_regions(image_regions, f"{name}' in '{path}")
    return payload


# --------------------------------------------------------------------------- data set


@dataclass
class _Item:
    name: str
    intensity: np.ndarray
    ground_truth: np.ndarray | None = None
    mask: np.ndarray | None = None
    regions: dict | None = None
    looks: float | str | None = None
    data_range: float | None = None


def _check_looks(looks, what: str):
    """A positive number of looks, or "auto"."""
    if isinstance(looks, str) and looks == "auto":
        return looks
    if isinstance(looks, (int, float, np.integer, np.floating)) and looks > 0:
        return float(looks)
    raise ValueError(f"{what} must be a positive number or 'auto', got {looks!r}")


def _check_item(raw: Mapping, index: int) -> _Item:
    name = str(raw.get("name", f"image{index}"))
    if "intensity" not in raw:
        raise ValueError(f"data set item '{name}' has no 'intensity' (noisy linear intensity)")
    intensity = check_intensity(raw["intensity"], f"image '{name}'")
    if not np.any(intensity > 0):
        raise ValueError(f"image '{name}' is all zero; there is nothing to despeckle")
    truth = raw.get("ground_truth")
    if truth is not None:
        truth = check_intensity(truth, f"ground truth of image '{name}'")
        if truth.shape != intensity.shape:
            raise ValueError(f"image '{name}': ground truth has shape {truth.shape} but the noisy "
                             f"intensity has shape {intensity.shape}")
        if not np.any(truth > 0):
            raise ValueError(f"ground truth of image '{name}' is all zero")
    mask = raw.get("mask")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != intensity.shape:
            raise ValueError(f"image '{name}': mask has shape {mask.shape} but the intensity has "
                             f"shape {intensity.shape}")
    regions = raw.get("regions")
    return _Item(name=name, intensity=intensity, ground_truth=truth, mask=mask,
                 regions=None if regions is None else _normalise_regions(regions, name),
                 looks=None if raw.get("looks") is None else _check_looks(
                     raw["looks"], f"looks of image '{name}'"),
                 data_range=raw.get("data_range"))


def _read_item(path: Path) -> dict:
    """One image file as a data set item (intensity; imaging mask for B-mode)."""
    from s2v.domains import imaging_mask, to_intensity
    from s2v.io import read_image

    array, meta = read_image(path)
    if meta["domain"] == "unknown":
        raise ValueError(f"{path}: cannot tell what the data is (domain 'unknown'); convert it "
                         "to intensity and pass it as {'name', 'intensity'}")
    intensity = to_intensity(array, meta["domain"])
    if np.ndim(intensity) != 2:
        raise ValueError(f"{path}: not a single 2-D image (intensity shape "
                         f"{np.shape(intensity)}); pick a frame with s2v.io.read_image")
    item = {"name": path.name, "intensity": intensity}
    if meta["domain"] == "bmode":
        item["mask"] = imaging_mask(array)
    return item


def _read_folder(folder: Path) -> tuple[list[dict], list[str]]:
    """Every readable image of ``folder`` (not recursive) as items, and the skipped files."""
    items, skipped = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            items.append(_read_item(path))
        except ValueError as err:  # S2VInputError included
            message = str(err)
            skipped.append(message if str(path) in message else f"{path}: {message}")
    return items, skipped


def _resolve_string(entry: str) -> tuple[list[dict], list[str]]:
    path = Path(entry)
    if path.is_dir():
        items, skipped = _read_folder(path)
        if not items:
            raise ValueError(f"folder {path} holds no readable image"
                             + "".join(f"\n  skipped {s}" for s in skipped))
        return items, skipped
    if path.is_file():
        return [_read_item(path)], []
    from s2v.examples import list_examples, load_example

    names = list_examples()
    if entry not in names:
        close = difflib.get_close_matches(entry, names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"'{entry}' is neither an existing file or folder nor a built-in example "
                         f"(examples: {', '.join(names)}){hint}")
    example = load_example(entry)
    item = {"name": entry, "intensity": example["intensity"]}
    for key in ("ground_truth", "mask", "looks", "data_range"):
        if example.get(key) is not None:
            item[key] = example[key]
    if example.get("regions"):
        item["regions"] = _regions_from_named_masks(example["regions"])
    return [item], []


#: Names of contrast targets in the examples' region masks, each paired with "background".
_TARGET_NAMES = ("target", "anechoic", "hyperechoic", "dark", "bright")


def _components(mask: np.ndarray, min_pixels: int = 50) -> list[np.ndarray]:
    """Connected parts of a mask; specks under ``min_pixels`` give no usable statistics."""
    labels, count = ndimage.label(mask)
    parts = [labels == k for k in range(1, count + 1)]
    return [part for part in parts if part.sum() >= min_pixels]


def _regions_from_named_masks(named: Mapping[str, np.ndarray]) -> dict:
    """Harness regions from an example's ``{name: mask}`` (see :func:`s2v.examples.load_example`).

    ``homogeneous`` is split into its connected parts (one ENL each: separate areas may
    differ in mean). Each part of a target mask (``anechoic``, ``hyperechoic``, ``dark``,
    ``bright``) is paired with the ``background`` parts that surround it (rings around
    cysts); a target that no ring surrounds is paired as a whole with the whole background.
    Other names (display panels, overlays) are not regions of interest here.
    """
    regions = {}
    if "homogeneous" in named:
        regions["homogeneous"] = _components(np.asarray(named["homogeneous"], bool))
    if "background" in named:
        background = np.asarray(named["background"], bool)
        rings = [(ring, ndimage.binary_fill_holes(ring)) for ring in _components(background)]
        pairs = []
        for key in (k for k in _TARGET_NAMES if k in named):
            target = np.asarray(named[key], bool)
            parts = [(part, [ring for ring, filled in rings if np.any(filled & part)])
                     for part in _components(target)]
            if parts and all(around for _, around in parts):
                pairs += [(part, np.logical_or.reduce(around)) for part, around in parts]
            else:
                pairs.append((target, background))
        regions["pairs"] = pairs
    return regions


def _resolve_dataset(dataset) -> tuple[list[_Item], list[str]]:
    if isinstance(dataset, (str, Path, Mapping)):
        dataset = [dataset]
    raw, skipped = [], []
    for entry in dataset:
        if isinstance(entry, (str, Path)):
            items, skip = _resolve_string(str(entry))
            raw.extend(items)
            skipped.extend(skip)
        elif isinstance(entry, Mapping):
            raw.append(entry)
        else:
            raise ValueError(f"data set entries must be dicts, example names or paths, "
                             f"got {type(entry).__name__}")
    if not raw:
        raise ValueError("the data set is empty")
    items = [_check_item(entry, i) for i, entry in enumerate(raw)]
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"image names must be unique; repeated: {duplicates}")
    return items, skipped


def _image_regions(item: _Item, given) -> tuple[dict, dict]:
    """JSON regions and rasterised masks for one image: given ones, else proposals."""
    regions = dict(item.regions or {})
    if given is not None and item.name in given:
        regions.update(_normalise_regions(given[item.name], item.name))
    source = {k: "given" for k in ("homogeneous", "pairs") if k in regions}
    if len(source) < 2:
        proposal = propose_regions(item.intensity, mask=item.mask)
        for key in ("homogeneous", "pairs"):
            if key not in regions:
                regions[key] = proposal[key]
                source[key] = "auto"
    shape = item.intensity.shape
    masks = {"homogeneous": [], "pairs": []}

    def rasterise(spec, label):
        mask = region_mask(spec, shape)
        if mask.sum() < 2:
            raise ValueError(f"image '{item.name}': region {label} is empty or a single pixel "
                             f"({int(mask.sum())} pixels inside the {shape[0]}x{shape[1]} image; "
                             f"spec {_spec_to_json(spec)})")
        return mask

    for i, spec in enumerate(regions["homogeneous"]):
        masks["homogeneous"].append(rasterise(spec, f"homogeneous[{i}]"))
    for i, pair in enumerate(regions["pairs"]):
        masks["pairs"].append(tuple(rasterise(pair[k], f"pairs[{i}].{k}")
                                    for k in ("target", "background")))
    entry = {
        "homogeneous": [_spec_to_json(s) for s in regions["homogeneous"]],
        "pairs": [{k: _spec_to_json(p[k]) for k in ("target", "background")}
                  for p in regions["pairs"]],
        "source": source,
    }
    return entry, masks


# --------------------------------------------------------------------------- methods


def resolve_methods(spec: str | Sequence[str]) -> dict[str, Denoiser]:
    """Turn method names into ``{name: denoiser}``.

    Parameters
    ----------
    spec : str or sequence of str
        Comma-separated names (``"lee,bm3d_log"``) or a list. Names are the keys of
        :data:`s2v.baselines.BASELINES`, ``"all"`` (every baseline), ``"s2v"`` (the shipped
        intensity checkpoint, ``s2v.pipeline.DEFAULT_CHECKPOINT["intensity"]``) or
        ``"s2v:<checkpoint name or path>"`` (e.g. ``"s2v:ultrasound"``); a model is loaded
        once, here.

    Returns
    -------
    denoisers : dict
        Name to callable ``f(intensity, *, looks) -> intensity`` (linear intensity, float32 (H, W)).

    Raises
    ------
    ValueError
        For an unknown name (with close matches), an empty list, or an ``s2v`` method when the
        core model API (``s2v.despeckle``) is not available.
    """
    from s2v.baselines import BASELINES

    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise ValueError("no method given; choose from " + ", ".join(["all", *BASELINES, "s2v"]))
    denoisers: dict[str, Denoiser] = {}
    for name in names:
        if name == "all":
            denoisers.update((k, v) for k, v in BASELINES.items() if k not in denoisers)
        elif name in BASELINES:
            denoisers[name] = BASELINES[name]
        elif name == "s2v" or name.startswith("s2v:"):
            denoisers[name] = _s2v_denoiser(name.partition(":")[2] or None)
        else:
            choices = ["all", *BASELINES, "s2v"]
            close = difflib.get_close_matches(name, choices, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown method '{name}'{hint} (available: {', '.join(choices)}, "
                             "s2v:<checkpoint>)")
    return denoisers


def _s2v_denoiser(checkpoint: str | None) -> Denoiser:
    """``s2v.despeckle`` bound to a model loaded once (TensorFlow is imported only here)."""
    try:
        from s2v.pipeline import DEFAULT_CHECKPOINT, despeckle, load_model
    except ImportError as err:
        raise ValueError("method 's2v' needs the Speckle2Void model API (s2v.despeckle), which "
                         f"is not available in this installation ({err})") from None
    try:
        model = load_model(checkpoint or DEFAULT_CHECKPOINT["intensity"])
    except FileNotFoundError as err:
        raise ValueError(f"method 's2v{':' + checkpoint if checkpoint else ''}': {err}") from None
    # The harness shows its own progress bar; one per tile set would interleave with it.
    return functools.partial(despeckle, model=model, progress=False)


# --------------------------------------------------------------------------- scoring


def _amplitude(intensity: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(intensity, 0.0))


def _defined(metric, *args, **kwargs) -> float:
    """``metric(...)``, or NaN where it is undefined for this output.

    Inputs are validated before scoring, so a ValueError here means the metric has no value
    for this estimate (a constant region for CNR, an edgeless image for EPI, ...); one method
    producing such an output should not abort the whole comparison.
    """
    try:
        return float(metric(*args, **kwargs))
    except ValueError:
        return math.nan


def _score(item: _Item, noisy, estimate, masks, *, data_range) -> dict:
    """Quality metrics of one output (see :func:`compare` for the conventions)."""
    scores = {}
    amplitude = _amplitude(estimate)
    if item.ground_truth is not None:
        reference = _amplitude(item.ground_truth)
        peak = float(data_range or reference.max())
        scores["psnr"] = _defined(metrics.psnr, reference, amplitude, data_range=peak)
        scores["ssim"] = _defined(metrics.ssim, reference, amplitude, data_range=peak)
    if masks["homogeneous"]:
        scores["enl"] = float(np.mean([_defined(metrics.enl, estimate[m])
                                       for m in masks["homogeneous"]]))
        scores["speckle_snr"] = float(np.mean([_defined(metrics.speckle_snr, amplitude[m])
                                               for m in masks["homogeneous"]]))
    if masks["pairs"]:
        scores["cnr"] = float(np.mean([_defined(metrics.cnr, amplitude[t], amplitude[b])
                                       for t, b in masks["pairs"]]))
        scores["gcnr"] = float(np.mean([_defined(metrics.gcnr, amplitude[t], amplitude[b])
                                        for t, b in masks["pairs"]]))
    # The ratio is undefined where an estimate is <= 0: those pixels are left out.
    usable = estimate > 0 if item.mask is None else (estimate > 0) & item.mask
    ratio = {"mean": math.nan, "var": math.nan}
    if np.count_nonzero(usable) >= 2:
        ratio = metrics.ratio_statistics(noisy, estimate, mask=usable)
    scores["ratio_mean"], scores["ratio_var"] = float(ratio["mean"]), float(ratio["var"])
    edge_reference = item.ground_truth if item.ground_truth is not None else noisy
    scores["epi"] = _defined(metrics.edge_preservation_index, _amplitude(edge_reference),
                             amplitude, mask=item.mask)
    return scores


def _realisation_seed(seed: int, image_index: int, realisation: int) -> int:
    return int(np.random.SeedSequence([seed, image_index, realisation]).generate_state(1)[0])


# --------------------------------------------------------------------------- results


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _nan_to_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class CompareResults:
    """Outcome of :func:`compare`.

    Attributes
    ----------
    records : list of dict
        One per (image, realisation, method): keys ``image``, ``realisation``, ``method``,
        ``looks``, ``height``, ``width`` and the metric keys of :data:`METRIC_COLUMNS`
        (NaN where a metric does not apply, e.g. PSNR without ground truth).
    summary : list of dict
        One per method, in run order: ``method``, ``n`` and ``<metric>_mean`` / ``<metric>_std``
        (population std over images and realisations).
    regions : dict
        ``{image_name: {"homogeneous": [...], "pairs": [...], "source": {...}}}`` as used;
        JSON-ready, the same content as ``regions.json``.
    out_dir : Path
        Where everything was written.
    figures : dict
        ``{image_name: {"montage": Path, "ratio": Path, "profile": Path}}``.
    files : dict
        ``{"markdown", "summary_csv", "records_csv", "json", "regions"}`` to paths.
    skipped : list of str
        Files of a folder data set that could not be read, with the reason.
    config : dict
        The settings of the run.
    """

    records: list[dict]
    summary: list[dict]
    regions: dict
    out_dir: Path
    figures: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def figure_paths(self) -> list[Path]:
        """Every figure written, image by image."""
        return [path for per_image in self.figures.values() for path in per_image.values()]

    def table_markdown(self, image: str | None = None) -> str:
        """The summary as a markdown table, ``mean ± std`` per cell.

        Parameters
        ----------
        image : str, optional
            Only this image (mean ± std over its realisations); default all images.
        """
        summary = self.summary
        if image is not None:
            rows = [r for r in self.records if r["image"] == image]
            if not rows:
                raise ValueError(f"no image '{image}' in these results; images: "
                                 f"{', '.join(dict.fromkeys(r['image'] for r in self.records))}")
            summary = _summarise(rows, list(dict.fromkeys(r["method"] for r in rows)))
        # Columns without a single value (PSNR without ground truth, ...) are left out.
        columns = [c for c in METRIC_COLUMNS
                   if any(not math.isnan(row[f"{c[0]}_mean"]) for row in summary)]
        lines = ["| method | n | " + " | ".join(c[1] for c in columns) + " |",
                 "|---|---:|" + "---:|" * len(columns)]
        for row in summary:
            cells = []
            for key, _, fmt in columns:
                mean, std = row[f"{key}_mean"], row[f"{key}_std"]
                cells.append("—" if math.isnan(mean)
                             else f"{fmt.format(mean)} ± {fmt.format(std)}")
            lines.append(f"| {row['method']} | {row['n']} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def report_markdown(self) -> str:
        """The whole report: the summary, then one table per image when there are several."""
        images = list(dict.fromkeys(r["image"] for r in self.records))
        parts = [f"# Comparison: {', '.join(self.config.get('methods', []))}\n",
                 f"All images ({len(images)}):\n", self.table_markdown()]
        if len(images) > 1:
            parts += [f"## {name}\n\n{self.table_markdown(name)}" for name in images]
        parts.append(f"Conventions: {CONVENTIONS}.\n")
        return "\n".join(parts)

    def to_csv(self, path, *, per_image: bool = False) -> Path:
        """Write the per-method summary (or, with ``per_image``, every record) as CSV."""
        rows = self.records if per_image else self.summary
        keys = list(_RECORD_KEYS) if per_image else ["method", "n"] + [
            f"{key}_{stat}" for key, _, _ in METRIC_COLUMNS for stat in ("mean", "std")]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if _is_nan(row.get(k)) else row[k] for k in keys})
        return atomic_write_text(Path(path), buffer.getvalue())

    def to_json(self, path) -> Path:
        """Write configuration, summary, records, regions and figure paths as JSON (NaN -> null)."""
        def clean(rows):
            return [{k: _nan_to_none(v) for k, v in row.items()} for row in rows]

        payload = {
            "config": self.config,
            "summary": clean(self.summary),
            "records": clean(self.records),
            "regions": self.regions,
            "figures": {n: {k: str(p) for k, p in f.items()} for n, f in self.figures.items()},
            "skipped": self.skipped,
        }
        return atomic_write_text(Path(path), json.dumps(payload, indent=1) + "\n")


def _summarise(records: list[dict], methods: Sequence[str]) -> list[dict]:
    summary = []
    for method in methods:
        rows = [r for r in records if r["method"] == method]
        entry = {"method": method, "n": len(rows)}
        for key, _, _ in METRIC_COLUMNS:
            values = np.array([r[key] for r in rows], dtype=np.float64)
            # NaN: metric not applicable; inf (a constant region's ENL) is kept and shows.
            values = values[~np.isnan(values)]
            entry[f"{key}_mean"] = float(values.mean()) if values.size else math.nan
            entry[f"{key}_std"] = float(values.std()) if values.size else math.nan
        summary.append(entry)
    return summary


# --------------------------------------------------------------------------- figures


def _to_db(intensity: np.ndarray, reference: float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(intensity, reference * 1e-12) / reference)


def _strongest_edge(item: _Item) -> tuple[int, int, str]:
    """Pixel of the strongest log-intensity gradient and the profile axis through it.

    Uses the ground truth when there is one, else the noisy image smoothed (sigma 2 px) so the
    speckle does not dominate; pixels outside the item's mask (overlays, padding) are replaced
    by the median inside it first, and the search stays clear of the mask border. Returns
    (row, col, "row" | "col"): a profile along a row crosses an edge whose gradient is
    horizontal.
    """
    sigma = 0.0 if item.ground_truth is not None else 2.0
    reference = (item.intensity if sigma else item.ground_truth).astype(np.float64)
    keep = np.ones(reference.shape, bool)
    if item.mask is not None and item.mask.any():
        reference = np.where(item.mask, reference, np.median(reference[item.mask]))
        keep = ndimage.binary_erosion(item.mask, iterations=2 + int(3 * sigma))
    if sigma:
        reference = ndimage.gaussian_filter(reference, sigma)
    log = np.log(np.maximum(reference, reference.max() * 1e-6))
    grad_r, grad_c = ndimage.sobel(log, axis=0), ndimage.sobel(log, axis=1)
    margin = min(2, min(log.shape) // 4)
    border = np.zeros(log.shape, bool)
    border[margin:log.shape[0] - margin, margin:log.shape[1] - margin] = True
    magnitude = np.where(keep & border, np.hypot(grad_r, grad_c), -1.0)
    row, col = (int(v) for v in np.unravel_index(np.argmax(magnitude), magnitude.shape))
    return row, col, "row" if abs(grad_c[row, col]) >= abs(grad_r[row, col]) else "col"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "image"


def _save(fig, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    return path


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _figures(item: _Item, outputs: dict[str, np.ndarray], scores: dict[str, dict], masks: dict,
             looks: float, folder: Path) -> dict[str, Path]:
    """Montage with zoomed inset, ratio images and an edge profile for one image."""
    from matplotlib.figure import Figure

    noisy = item.intensity
    reference_image = item.ground_truth if item.ground_truth is not None else noisy
    reference = float(np.mean(reference_image))
    ref_db = _to_db(reference_image, reference)
    # A 3 dB margin keeps piecewise-constant references off the ends of the grey scale.
    vmax = float(np.percentile(ref_db, 99.5)) + 3.0
    vmin = max(float(np.percentile(ref_db, 1.0)) - 3.0, vmax - 50.0)
    row, col, axis = _strongest_edge(item)
    height, width = noisy.shape
    zoom = max(8, min(height, width) // 5)
    z_r0 = int(np.clip(row - zoom // 2, 0, height - zoom)) if height > zoom else 0
    z_c0 = int(np.clip(col - zoom // 2, 0, width - zoom)) if width > zoom else 0
    base = _safe_name(item.name)
    paths = {}

    panels = [("noisy", noisy)]
    if item.ground_truth is not None:
        panels.append(("ground truth", item.ground_truth))
    panels += [(name, out) for name, out in outputs.items() if name != NOISY]
    n_rows, n_cols = _grid(len(panels))
    fig = Figure(figsize=(3.2 * n_cols, 3.2 * n_rows * height / width + 0.4 * n_rows))
    for k, (label, image) in enumerate(panels):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        shown = _to_db(image, reference)
        ax.imshow(shown, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        title = label
        if label in scores and math.isfinite(scores[label].get("psnr", math.nan)):
            title += f"\n{scores[label]['psnr']:.2f} dB / SSIM {scores[label]['ssim']:.3f}"
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
        inset = ax.inset_axes([0.6, 0.6, 0.38, 0.38])
        inset.imshow(shown, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        inset.set_xlim(z_c0 - 0.5, z_c0 + zoom - 0.5)
        inset.set_ylim(z_r0 + zoom - 0.5, z_r0 - 0.5)
        inset.set_xticks([])
        inset.set_yticks([])
        ax.indicate_inset_zoom(inset, edgecolor="yellow")
        if k == 0:
            for m in masks["homogeneous"]:
                ax.contour(m.astype(float), levels=[0.5], colors="lime", linewidths=0.8)
            for target, background in masks["pairs"]:
                ax.contour(target.astype(float), levels=[0.5], colors="red", linewidths=0.8)
                ax.contour(background.astype(float), levels=[0.5], colors="orange", linewidths=0.8)
            if axis == "row":
                ax.axhline(row, color="cyan", linewidth=0.6, linestyle="--")
            else:
                ax.axvline(col, color="cyan", linewidth=0.6, linestyle="--")
    fig.suptitle(f"{item.name}: display in dB re mean, [{vmin:.0f}, {vmax:.0f}] dB", fontsize=9)
    fig.tight_layout()
    paths["montage"] = _save(fig, folder / f"{base}_montage.png")

    methods = [(name, out) for name, out in outputs.items() if name != NOISY]
    if methods:
        n_rows, n_cols = _grid(len(methods))
        fig = Figure(figsize=(3.2 * n_cols, 3.2 * n_rows * height / width + 0.5 * n_rows))
        # Ratio noisy / estimate should look like pure speckle: mean 1, variance 1 / L.
        top = 1.0 + 3.0 / math.sqrt(looks)
        for k, (name, out) in enumerate(methods):
            ax = fig.add_subplot(n_rows, n_cols, k + 1)
            ratio = np.divide(noisy, out, out=np.full(out.shape, np.nan), where=out > 0)
            handle = ax.imshow(ratio, cmap="gray", vmin=0.0, vmax=top, interpolation="nearest")
            ax.set_title(f"{name}\nmean {scores[name]['ratio_mean']:.3f}, "
                         f"var {scores[name]['ratio_var']:.3f}", fontsize=8)
            ax.set_axis_off()
            fig.colorbar(handle, ax=ax, fraction=0.046, pad=0.04)
        fig.suptitle(f"{item.name}: ratio images noisy / estimate (ideal mean 1, var "
                     f"{1.0 / looks:.3g})", fontsize=9)
        fig.tight_layout()
        paths["ratio"] = _save(fig, folder / f"{base}_ratio.png")

    fig = Figure(figsize=(7.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    pick = (lambda a: a[row, :]) if axis == "row" else (lambda a: a[:, col])
    ax.plot(_to_db(pick(noisy), reference), color="0.75", linewidth=0.7, label="noisy")
    if item.ground_truth is not None:
        ax.plot(_to_db(pick(item.ground_truth), reference), "k--", linewidth=1.2,
                label="ground truth")
    for name, out in methods:
        ax.plot(_to_db(pick(out), reference), linewidth=1.0, label=name)
    ax.set_xlabel("column" if axis == "row" else "row")
    ax.set_ylabel("intensity (dB re mean)")
    ax.set_ylim(vmin - 5.0, vmax + 5.0)
    where = f"row {row}" if axis == "row" else f"column {col}"
    ax.set_title(f"{item.name}: profile along {where} (strongest edge)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    paths["profile"] = _save(fig, folder / f"{base}_profile.png")
    return paths


# --------------------------------------------------------------------------- harness


def _check_region_names(regions: Mapping, names: list[str]) -> None:
    """Regions keyed by a name that is not an image are a typo, not something to ignore."""
    stray = [n for n in regions if n not in names]
    if stray:
        lower = {n.lower(): n for n in names}
        hints = {n: difflib.get_close_matches(n.lower(), lower, n=1) for n in stray}
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise ValueError("regions given for image(s) not in the data set: " + ", ".join(
            f"'{n}'" + (f" (did you mean '{lower[h[0]]}'?)" if h else "")
            for n, h in hints.items()) + f"; images: {shown}")


def _run_denoiser(name: str, fn: Denoiser, noisy: np.ndarray, looks: float,
                  where: str) -> tuple[np.ndarray, float]:
    """Output (float32) and wall-clock seconds of one call, with the output checked."""
    start = time.perf_counter()
    estimate = np.asarray(fn(noisy.copy(), looks=looks))  # a copy: a filter may work in place
    elapsed = time.perf_counter() - start
    if estimate.shape != noisy.shape:
        raise ValueError(f"method '{name}' returned shape {estimate.shape} on {where} "
                         f"of shape {noisy.shape}")
    if not np.all(np.isfinite(estimate)):
        raise ValueError(f"method '{name}' returned NaN or Inf on {where}")
    return estimate.astype(np.float32, copy=False), elapsed


def compare(denoisers: Mapping[str, Denoiser], dataset, *, out_dir, looks: float | str = 1.0,
            regions=None, realisations: int = 1, seed: int = 0, progress: bool = True,
            figures: bool = True, data_range: float | None = None,
            include_noisy: bool = True) -> CompareResults:
    """Run every denoiser on every image, score the outputs and write tables and figures.

    Parameters
    ----------
    denoisers : dict
        ``{name: f}`` with ``f(intensity, *, looks) -> intensity``: float32 (H, W) linear
        intensity in and out (see :func:`resolve_methods` to build it from names).
    dataset : list, str or Path
        A list of items, example names or paths, or a single one of these. An item is a dict
        with ``name``, ``intensity`` (noisy linear intensity, (H, W), the input) and optionally
        ``ground_truth`` (clean linear intensity, same shape), ``regions``, ``mask`` (valid
        imaging area), ``looks`` and ``data_range`` (per-image overrides). A string is an example
        name (:func:`s2v.examples.load_example`), an image file or a folder (every readable image
        in it, via :func:`s2v.io.read_image` and :func:`s2v.domains.to_intensity` with the
        detected domain; unreadable files are listed in ``skipped``).
    out_dir : str or Path
        Output folder (created).
    looks : float or "auto"
        Number of looks L passed to the denoisers and used for new realisations; ``"auto"``
        estimates it per image with :func:`s2v.domains.estimate_looks` (inside the item's
        ``mask``).
    regions : dict or str or Path, optional
        ``{image_name: {"homogeneous": [...], "target": ..., "background": ...}}`` (or
        ``"pairs": [...]``), or the path of a ``regions.json`` written by an earlier run.
        Overrides an item's own regions; anything still missing is proposed by
        :func:`propose_regions`.
    realisations : int
        Speckle realisations per image. Realisation 0 is the given noisy image; realisations
        1, 2, ... are new Gamma(L) speckle on the ground truth (:func:`s2v.simulate.gamma_speckle`),
        so images without ground truth are run once.
    seed : int
        Seed of the new realisations (each image and realisation gets its own stream).
    progress : bool
        Show a tqdm progress bar (one step per method run).
    figures : bool
        Write the figures (for realisation 0 of every image).
    data_range : float, optional
        Peak amplitude for PSNR/SSIM; default the maximum of the ground-truth amplitude of each
        image. Use 1.0 for the synthetic protocol (clean = ((gray + 1) / 256)^2).
    include_noisy : bool
        Also score the noisy input itself (method ``"noisy"``), the reference row of the table.

    Returns
    -------
    results : CompareResults

    Raises
    ------
    ValueError
        For bad inputs: an all-zero, negative, non-finite or non-2-D image; a ground truth or mask
        whose shape differs from the image; an empty region of interest; a duplicated image name;
        regions for an image that is not in the data set; no denoiser; a denoiser output of the
        wrong shape or with non-finite values.

    Notes
    -----
    Conventions (all metrics from :mod:`s2v.metrics`):

    - PSNR and SSIM compare amplitudes (sqrt of intensity) of ground truth and estimate, with
      the peak ``data_range`` (the convention of the synthetic SAR protocol).
    - ENL is computed on the estimated intensity in each homogeneous region, the speckle SNR
      (mean / std, 1.91 for Rayleigh speckle) on its amplitude; both averaged over regions.
    - CNR and gCNR compare target and background *amplitudes* (envelope) of the estimate,
      averaged over pairs; gCNR does not depend on this choice, CNR does.
    - Ratio-image mean and variance (noisy / estimate, inside ``mask`` when given, leaving out
      pixels where the estimate is <= 0): ideally 1 and 1 / L.
    - The edge-preservation index compares amplitudes, against the ground truth when there is
      one, else against the noisy image.
    - A metric that is undefined for an output (a constant region for CNR, an edgeless image
      for EPI) is NaN in the records and left out of the means.
    - Runtime is wall-clock per call, also per megapixel; the noisy row has none. A first call
      includes one-time costs (TensorFlow graph tracing for a network), so judge speed on
      several images or realisations.
    """
    if not denoisers:
        raise ValueError("no denoiser given; pass {name: f(intensity, *, looks)}")
    for name, fn in denoisers.items():
        if not callable(fn):
            raise ValueError(f"denoiser '{name}' is not callable (got {type(fn).__name__})")
    if include_noisy and NOISY in denoisers:
        raise ValueError(f"'{NOISY}' is reserved for the noisy input; rename that denoiser")
    if int(realisations) < 1:
        raise ValueError(f"realisations must be >= 1, got {realisations}")
    looks = _check_looks(looks, "looks")
    items, skipped = _resolve_dataset(dataset)
    if isinstance(regions, (str, Path)):
        regions = load_regions(regions)
    if regions is not None:
        _check_region_names(regions, [item.name for item in items])
    # Every region is checked before the first (possibly long) denoiser run.
    region_entries, region_masks = {}, {}
    for item in items:
        region_entries[item.name], region_masks[item.name] = _image_regions(item, regions)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    methods = ([NOISY] if include_noisy else []) + list(denoisers)
    runs = sum(int(realisations) if item.ground_truth is not None else 1 for item in items)
    from tqdm.auto import tqdm

    bar = tqdm(total=runs * len(denoisers), desc="compare", unit="run", disable=not progress)
    records, figure_paths = [], {}
    try:
        for index, item in enumerate(items):
            item_looks = item.looks if item.looks is not None else looks
            if item_looks == "auto":
                from s2v.domains import estimate_looks

                item_looks = float(estimate_looks(item.intensity, mask=item.mask))
            masks = region_masks[item.name]
            for realisation in range(int(realisations) if item.ground_truth is not None else 1):
                if realisation == 0:
                    noisy = item.intensity
                else:
                    from s2v.simulate import gamma_speckle

                    noisy = np.asarray(gamma_speckle(
                        item.ground_truth, item_looks,
                        seed=_realisation_seed(seed, index, realisation)), dtype=np.float32)
                outputs = {NOISY: noisy} if include_noisy else {}
                timings = {NOISY: math.nan} if include_noisy else {}
                for name, fn in denoisers.items():
                    bar.set_postfix_str(f"{item.name} · {name}", refresh=False)
                    outputs[name], timings[name] = _run_denoiser(
                        name, fn, noisy, item_looks,
                        f"image '{item.name}' (realisation {realisation})")
                    bar.update(1)
                scores = {}
                for name in methods:
                    scores[name] = _score(item, noisy, outputs[name], masks,
                                          data_range=item.data_range or data_range)
                    scores[name]["runtime_s"] = timings[name]
                    scores[name]["runtime_s_per_mpix"] = timings[name] / (noisy.size / 1e6)
                    records.append({
                        "image": item.name, "realisation": realisation, "method": name,
                        "looks": item_looks, "height": noisy.shape[0], "width": noisy.shape[1],
                        **{key: scores[name].get(key, math.nan) for key, _, _ in METRIC_COLUMNS}})
                if figures and realisation == 0:
                    figure_paths[item.name] = _figures(item, outputs, scores, masks, item_looks,
                                                       out_dir / "figures")
    finally:
        bar.close()

    config = {"methods": methods, "images": [item.name for item in items], "looks": looks,
              "realisations": int(realisations), "seed": int(seed), "data_range": data_range,
              "conventions": CONVENTIONS}
    results = CompareResults(records=records, summary=_summarise(records, methods),
                             regions=region_entries, out_dir=out_dir, figures=figure_paths,
                             skipped=skipped, config=config)
    results.files = {
        "regions": save_regions(region_entries, out_dir / "regions.json"),
        "summary_csv": results.to_csv(out_dir / "summary.csv"),
        "records_csv": results.to_csv(out_dir / "records.csv", per_image=True),
        "markdown": atomic_write_text(out_dir / "results.md", results.report_markdown()),
    }
    results.files["json"] = results.to_json(out_dir / "results.json")
    return results


# --------------------------------------------------------------------------- command line


def _looks_arg(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got '{text}'")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"looks must be positive, got {text}")
    return value


def add_compare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``s2v compare`` options to ``parser`` (a subcommand parser)."""
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR|FILE|EXAMPLE",
                        help="folder(s) of images, image file(s) or built-in example name(s)")
    parser.add_argument("--methods", default="all",
                        help="comma-separated methods: baseline names (lee, bm3d_log, ...), 'all', "
                             "'s2v' or 's2v:<checkpoint>' (default: all baselines)")
    parser.add_argument("--out", required=True, help="output folder for tables and figures")
    parser.add_argument("--looks", type=_looks_arg, default=1.0,
                        help="number of looks L, or 'auto' to estimate it per image (default 1)")
    parser.add_argument("--regions", default=None,
                        help="regions.json from an earlier run (edited), instead of proposals")
    parser.add_argument("--realisations", type=int, default=1,
                        help="speckle realisations per image with ground truth (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the new realisations")
    parser.add_argument("--data-range", type=float, default=None,
                        help="peak amplitude for PSNR/SSIM (default: max of the ground truth)")
    parser.add_argument("--no-figures", action="store_true", help="write tables only")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def compare_main(args: argparse.Namespace) -> int:
    """Run ``s2v compare`` from parsed arguments; print the table. Returns the exit status."""
    try:
        results = compare(resolve_methods(args.methods), list(args.data), out_dir=args.out,
                          looks=args.looks, regions=args.regions,
                          realisations=args.realisations, seed=args.seed,
                          progress=not args.no_progress, figures=not args.no_figures,
                          data_range=args.data_range)
    except ValueError as err:
        print(f"s2v compare: error: {err}", file=sys.stderr)
        return 2
    print(results.table_markdown())
    for message in results.skipped:
        print(f"skipped {message}", file=sys.stderr)
    print(f"tables, regions and figures written to {results.out_dir}")
    return 0

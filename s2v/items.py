"""The harness's data set: items (noisy intensity, ground truth, mask, regions) from dicts,
example names, image files and folders, checked before any denoiser runs.

An item is a dict with ``name`` and ``intensity`` (noisy linear intensity |z|^2, (H, W)) and
optionally ``ground_truth`` (clean linear intensity, same shape), ``regions`` (see
:mod:`s2v.roi`), ``mask`` (valid imaging area), ``looks`` and ``data_range`` (per-image
overrides of the harness settings) and ``insets`` (pixel boxes ``[row0, col0, row1, col1]``
zoomed in the montage, e.g. a cyst and a point target) and ``points`` ((row, col) of point
targets, where the resolution figure is measured). :func:`resolve_dataset` turns a list
of such dicts, example names and paths into checked :class:`Item` objects.

This module imports no harness or plotting code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from s2v.roi import normalise_regions, regions_from_named_masks
from s2v.utils import check_intensity

__all__ = ["Item", "check_looks", "resolve_dataset"]


@dataclass
class Item:
    """One checked image of a data set (see the module docstring for the fields)."""

    name: str
    intensity: np.ndarray
    ground_truth: np.ndarray | None = None
    mask: np.ndarray | None = None
    regions: dict | None = None
    looks: float | str | None = None
    data_range: float | None = None
    insets: list = field(default_factory=list)
    points: list = field(default_factory=list)


def check_looks(looks, what: str):
    """A positive number of looks as a float, or ``"auto"``; ``what`` names it in the error."""
    if isinstance(looks, str) and looks == "auto":
        return looks
    if (isinstance(looks, (int, float, np.integer, np.floating)) and not isinstance(looks, bool)
            and np.isfinite(looks) and looks > 0):
        return float(looks)
    raise ValueError(f"{what} must be a finite positive number or 'auto', got {looks!r}")


def _check_points(points, shape, name: str) -> list:
    """Point-target positions ``(row, col)`` inside the image, as int pairs."""
    out = []
    for point in points:
        row, col = (int(round(float(v))) for v in point)
        if not (0 <= row < shape[0] and 0 <= col < shape[1]):
            raise ValueError(f"image '{name}': point target {tuple(point)} lies outside the {shape} image")
        out.append((row, col))
    return out


def _check_insets(insets, shape, name: str) -> list:
    """Zoom boxes ``[row0, col0, row1, col1]`` (half-open) with at least 2x2 pixels inside."""
    boxes = []
    for box in insets:
        if not (isinstance(box, (list, tuple, np.ndarray)) and len(box) == 4):
            raise ValueError(f"image '{name}': an inset must be [row0, col0, row1, col1], "
                             f"got {box!r}")
        r0, c0, r1, c1 = (int(round(float(v))) for v in box)
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, shape[0]), min(c1, shape[1])
        if r1 - r0 < 2 or c1 - c0 < 2:
            raise ValueError(f"image '{name}': inset {list(box)} has less than 2x2 pixels "
                             f"inside the {shape[0]}x{shape[1]} image")
        boxes.append([r0, c0, r1, c1])
    return boxes


def _check_item(raw: Mapping, index: int) -> Item:
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
    return Item(name=name, intensity=intensity, ground_truth=truth, mask=mask,
                regions=None if regions is None else normalise_regions(regions, name),
                looks=None if raw.get("looks") is None else check_looks(
                    raw["looks"], f"looks of image '{name}'"),
                data_range=raw.get("data_range"),
                insets=_check_insets(raw.get("insets") or (), intensity.shape, name),
                points=_check_points(raw.get("points") or (), intensity.shape, name))


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
        item["regions"] = regions_from_named_masks(example["regions"])
    return [item], []


def resolve_dataset(dataset) -> tuple[list[Item], list[str]]:
    """Checked items of a data set, and the files of a folder that could not be read.

    Parameters
    ----------
    dataset : list, str, Path or dict
        Items (dicts, see the module docstring), example names (:func:`s2v.examples.load_example`),
        image files or folders (every readable image in it, via :func:`s2v.io.read_image` and
        :func:`s2v.domains.to_intensity` with the detected domain), or a single one of these.

    Returns
    -------
    items : list of Item
    skipped : list of str
        ``"<path>: <reason>"`` for each unreadable file of a folder.

    Raises
    ------
    ValueError
        For an empty data set, an unknown name (with close matches), a bad item (all-zero,
        negative, non-finite or non-2-D intensity; a ground truth or mask of another shape;
        bad regions or insets) or repeated image names.
    """
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


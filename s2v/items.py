"""The harness's data set: items (noisy intensity, ground truth, mask, regions) from dicts,
example names, image files and folders, checked before any denoiser runs.

An item is a dict with ``name`` and ``intensity`` (noisy linear intensity |z|^2, (H, W)) and
optionally ``ground_truth`` (clean linear intensity, same shape), ``regions`` (see
:mod:`s2v.roi`), ``mask`` (valid imaging area), ``looks`` and ``data_range`` (per-image
overrides of the harness settings) and ``insets`` (pixel boxes ``[row0, col0, row1, col1]``
zoomed in the montage, e.g. a cyst and a point target) and ``points`` ((row, col) of point
targets, where the resolution figure is measured). :func:`resolve_dataset` turns a list
of such dicts, example names and paths into checked :class:`Item` objects.

CINES: every frame is scored. A dict whose ``intensity`` is an (N, H, W) stack (N >= 2,
frames first) becomes N items ``name[i]``; its ``ground_truth`` and ``mask`` are (H, W),
shared by every frame, or (N, H, W), one per frame; regions, insets, points and the other
fields are shared (a (1, H, W) array is refused: give one frame as (H, W)). A multi-frame
file (multi-frame DICOM, multi-page TIFF, 3-D NPY/MAT/HDF5, read by
:func:`s2v.io.read_frames`) becomes one item per frame, ``<file name>[i]``, each with its
own imaging mask for B-mode. Indices are zero-padded to the width of the frame count
(``cine.tif[00]`` .. ``cine.tif[11]``), so tables sort in frame order. A 3-D array whose
frame axis the file does not state and the shape does not show is refused (skipped in a
folder) with the reader's message naming ``frame_axis``: read it with
``s2v.io.read_frames(path, frame_axis=...)`` and pass the converted stack as a dict item.

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

__all__ = ["Item", "check_looks", "read_file_items", "resolve_dataset"]


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


def _frame_names(name: str, count: int) -> list[str]:
    """``name[i]`` for each of ``count`` frames, ``i`` zero-padded to the width of ``count``."""
    width = len(str(count))
    return [f"{name}[{i:0{width}d}]" for i in range(count)]


def read_file_items(path, *, domain: str | None = None) -> list[dict]:
    """Every frame of an image file as a data set item (intensity; imaging mask for B-mode).

    Parameters
    ----------
    path : path
        Any file :func:`s2v.io.read_frames` reads (a 3-D array whose frame axis it cannot
        tell is refused, with a message naming ``frame_axis``).
    domain : str, optional
        The data's domain (as ``s2v compare --domain``); default the file's own. B-mode
        data are checked to be 8-bit grey levels or dB (:func:`s2v.pipeline.read_frames_domain`).

    Returns
    -------
    list of dict
        ``{"name", "intensity"}`` (plus ``"mask"`` for B-mode) per frame: a 2-D image (or a
        stack of one frame) keeps the file name; the N frames of a cine are named
        ``<file name>[i]``. Each frame is converted to intensity on its own, as
        ``s2v denoise`` does.
    """
    from s2v.domains import imaging_mask, to_intensity

    path = Path(path)
    if domain is None:
        from s2v.io import read_frames

        frames, meta = read_frames(path)  # (N, H, W); refuses an ambiguous frame axis
        domain = meta["domain"]
        if domain == "unknown":
            raise ValueError(f"{path}: cannot tell what the data is (domain 'unknown'); convert it "
                             "to intensity and pass it as {'name', 'intensity'}")
    else:
        from s2v.pipeline import read_frames_domain

        frames, domain, _ = read_frames_domain(path, domain)
    names = [path.name] if len(frames) == 1 else _frame_names(path.name, len(frames))
    items = []
    for name, frame in zip(names, frames):
        item = {"name": name, "intensity": to_intensity(frame, domain)}
        if domain == "bmode":
            item["mask"] = imaging_mask(frame)
        items.append(item)
    return items


def _split_stack(raw: Mapping, index: int) -> list[Mapping]:
    """A dict item whose intensity is an (N, H, W) stack (N >= 2) as N items ``name[i]``.

    Anything else is returned as it is, for :func:`_check_item` to check.
    """
    intensity = raw.get("intensity")
    if intensity is None or np.ndim(intensity) != 3 or np.shape(intensity)[0] < 2:
        return [raw]
    name = str(raw.get("name", f"image{index}"))
    stack = np.asarray(intensity)
    count, shape = stack.shape[0], stack.shape[1:]
    per_frame = {}
    for key, what in (("ground_truth", "ground truth"), ("mask", "mask")):
        value = raw.get(key)
        if value is None:
            continue
        value = np.asarray(value)
        if value.shape == stack.shape:
            per_frame[key] = list(value)
        elif value.shape == shape:
            per_frame[key] = [value] * count
        else:
            raise ValueError(f"image '{name}': {what} has shape {value.shape} but the noisy "
                             f"intensity is a stack of shape {stack.shape} (N, H, W); expected "
                             f"{shape} (shared by every frame) or {stack.shape} (one per frame)")
    items = []
    for i, frame_name in enumerate(_frame_names(name, count)):
        item = {**raw, "name": frame_name, "intensity": stack[i]}
        item.update((key, values[i]) for key, values in per_frame.items())
        items.append(item)
    return items


def _read_folder(folder: Path) -> tuple[list[dict], list[str]]:
    """Every readable image of ``folder`` (not recursive) as items, and the skipped files."""
    items, skipped = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            items.extend(read_file_items(path))
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
        return read_file_items(path), []
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
    """Checked items of a data set, one per 2-D image, every frame of a cine, and the files of
    a folder that could not be read.

    Parameters
    ----------
    dataset : list, str, Path or dict
        Items (dicts, see the module docstring), example names (:func:`s2v.examples.load_example`),
        image files or folders (every readable file in it, not recursive), or a single one of
        these. A dict's ``intensity`` is NOISY LINEAR INTENSITY, (H, W) or an (N, H, W) stack
        (N >= 2, frames first) that becomes N items ``name[i]``; its ``ground_truth`` (clean
        linear intensity) and ``mask`` are then (H, W), shared, or (N, H, W), per frame. A
        file is read with :func:`s2v.io.read_frames` and each frame converted to intensity
        with :func:`s2v.domains.to_intensity` in the detected domain (B-mode frames also get
        their :func:`s2v.domains.imaging_mask`); a cine of N frames gives N items
        ``<file name>[i]``, ``i`` zero-padded to the width of N.

    Returns
    -------
    items : list of Item
        Each with a float32 (H, W) linear intensity, in the order of ``dataset`` (frames in
        order, a folder's files sorted by name).
    skipped : list of str
        ``"<path>: <reason>"`` for each unreadable file of a folder (among them a 3-D array
        whose frame axis is ambiguous: the reader's message names ``frame_axis``).

    Raises
    ------
    ValueError
        For an empty data set, an unknown name (with close matches), an unreadable single
        file (an ambiguous frame axis included), a bad item (all-zero, negative, non-finite
        or non-2-D intensity; a ground truth or mask of another shape than the image or, for
        a stack, than (H, W) or (N, H, W); bad regions or insets) or repeated image names.
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
            raw.extend(_split_stack(entry, len(raw)))
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


"""Figures: B-mode montages with one display range, zoomed insets, ratio images and profiles.

Every function takes LINEAR INTENSITIES (|z|^2, float (H, W)) and shows them as B-mode in dB,
``10 log10(I / reference)`` clipped to ``[-dynamic_range, 0]``
(:func:`s2v.domains.intensity_to_bmode`), with ONE reference and one dynamic range for all
panels of a figure, so that methods are compared on the same grey scale. Ratio images
(noisy / estimate) are shown linearly.

Each plotting function returns a :class:`matplotlib.figure.Figure` (no pyplot state: it
displays inline in a notebook and is freed when dropped) and also saves it when ``path`` is
given. This module imports no harness code. The decorrelator's spectrum view is
:func:`s2v.decorrelation.inspect_spectrum`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["DYNAMIC_RANGE_DB", "display_reference", "montage", "ratio_montage",
           "profile_figure", "strongest_edge", "save_figure"]

#: Default displayed dynamic range of the B-mode panels, in dB.
DYNAMIC_RANGE_DB = 60.0
#: Colours of the zoom boxes, in order; also how many insets a panel can hold.
_INSET_COLOURS = ("yellow", "cyan", "magenta", "lime")
_INSET_BOUNDS = ([0.6, 0.6, 0.38, 0.38], [0.6, 0.02, 0.38, 0.38], [0.02, 0.6, 0.38, 0.38],
                 [0.02, 0.02, 0.38, 0.38])


def display_reference(intensity, *, mask=None) -> float:
    """Intensity displayed at 0 dB: the 99.5th percentile of ``intensity`` (inside ``mask``) + 3 dB.

    The 3 dB margin keeps piecewise-constant ground truths off the white end of the scale.
    ``intensity`` is LINEAR INTENSITY; returns a positive float (1.0 for an all-zero image).
    """
    values = np.asarray(intensity, dtype=np.float64)
    if mask is not None and np.any(mask):
        values = values[np.asarray(mask, bool)]
    top = float(np.percentile(values, 99.5)) if values.size else 0.0
    return top * 10 ** 0.3 if top > 0 else 1.0


def _bmode(intensity, reference: float, dynamic_range: float) -> np.ndarray:
    from s2v.domains import intensity_to_bmode

    return intensity_to_bmode(np.maximum(intensity, 0.0), dynamic_range=dynamic_range,
                              scale="db", reference=reference)


def _figure(figsize):
    """A Figure with an Agg canvas (savefig and inline display work without pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path, *, dpi: int = 110) -> Path:
    """Save ``fig`` to ``path`` atomically (written beside, then renamed); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix or '.png'}")
    fig.savefig(tmp, dpi=dpi)
    tmp.replace(path)
    return path


def _grid(n: int, columns: int) -> tuple[int, int]:
    cols = max(1, min(n, columns))
    return math.ceil(n / cols), cols


def _check_boxes(insets, shape) -> list[tuple[int, int, int, int]]:
    if len(insets) > len(_INSET_COLOURS):
        raise ValueError(f"at most {len(_INSET_COLOURS)} insets per panel, got {len(insets)}")
    boxes = []
    for box in insets:
        if len(box) != 4:
            raise ValueError(f"an inset must be [row0, col0, row1, col1], got {box!r}")
        r0, c0, r1, c1 = (int(round(float(v))) for v in box)
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, shape[0]), min(c1, shape[1])
        if r1 - r0 < 2 or c1 - c0 < 2:
            raise ValueError(f"inset {list(box)} has less than 2x2 pixels inside the "
                             f"{shape[0]}x{shape[1]} image")
        boxes.append((r0, c0, r1, c1))
    return boxes


def _show_ratio(ax, noisy, estimate, top: float):
    ratio = np.divide(noisy, estimate, out=np.full(estimate.shape, np.nan), where=estimate > 0)
    ax.set_axis_off()
    return ax.imshow(ratio, cmap="gray", vmin=0.0, vmax=top, interpolation="nearest")


def _ratio_title(noisy, estimate, mask) -> str:
    from s2v.metrics import ratio_statistics

    usable = estimate > 0 if mask is None else (estimate > 0) & mask
    if np.count_nonzero(usable) < 2:
        return "ratio undefined"
    stats = ratio_statistics(noisy, estimate, mask=usable)
    return f"mean {stats['mean']:.3f}, var {stats['var']:.3f}"


def montage(estimates: Mapping[str, np.ndarray], *, noisy=None, ground_truth=None,
            reference: float | None = None, dynamic_range: float = DYNAMIC_RANGE_DB,
            insets: Sequence = (), ratio: bool = False, looks: float = 1.0,
            titles: Mapping[str, str] | None = None, outlines: Sequence = (), guide=None,
            columns: int = 4, title: str | None = None, path=None):
    """B-mode panels of the noisy image, the ground truth and every estimate, on one grey scale.

    Parameters
    ----------
    estimates : dict
        ``{method: estimate}``, LINEAR INTENSITIES (H, W), in display order.
    noisy, ground_truth : ndarray (H, W), optional
        LINEAR INTENSITIES shown first (panels "noisy" and "ground truth").
    reference : float, optional
        Intensity shown at 0 dB (white) in every panel; default :func:`display_reference`
        of the ground truth, else of the noisy image, else of the first estimate.
    dynamic_range : float
        Displayed range in dB: black is ``-dynamic_range`` dB (default 60).
    insets : sequence of [row0, col0, row1, col1]
        Half-open pixel boxes zoomed in every panel (at most 4, e.g. a cyst and a point
        target), each outlined in its colour (yellow, cyan, magenta, lime).
    ratio : bool
        Under each row of panels, a row of ratio images noisy / estimate for the estimates
        (needs ``noisy``): pure speckle of mean 1 and variance ``1 / looks`` when the method
        removes only speckle. Shown linearly on ``[0, 1 + 3 / sqrt(looks)]``.
    looks : float
        Number of looks L of ``noisy``, for the ratio display range.
    titles : dict, optional
        ``{label: text}`` added under a panel's label ("noisy", "ground truth" or a method).
    outlines : sequence of (mask, colour)
        Boolean (H, W) masks outlined on the first panel (regions of interest).
    guide : ("row" | "col", int), optional
        A dashed line on the first panel (the line of a profile).
    columns : int
        Panels per row.
    title, path : str, optional
        Figure title; where to save it (PNG).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For no panel, panels of different shapes, ``ratio`` without ``noisy``, or bad insets.
    """
    panels = ([("noisy", noisy)] if noisy is not None else []) + (
        [("ground truth", ground_truth)] if ground_truth is not None else []) + list(
        estimates.items())
    if not panels:
        raise ValueError("montage: nothing to show (no noisy image, ground truth or estimate)")
    panels = [(label, np.asarray(image, dtype=np.float64)) for label, image in panels]
    shape = panels[0][1].shape
    for label, image in panels:
        if image.shape != shape:
            raise ValueError(f"montage: panel '{label}' has shape {image.shape}, "
                             f"'{panels[0][0]}' has {shape}")
    if ratio and noisy is None:
        raise ValueError("montage: ratio images need the noisy image (noisy=...)")
    boxes = _check_boxes(insets, shape)
    if reference is None:
        reference = display_reference(panels[1 if ground_truth is not None and noisy is not None
                                             else 0][1])
    titles = dict(titles or {})
    n_rows, n_cols = _grid(len(panels), columns)
    rows_per = 2 if ratio else 1
    height, width = shape
    fig = _figure((3.2 * n_cols, (3.2 * height / width + 0.45) * n_rows * rows_per))
    grid = fig.add_gridspec(n_rows * rows_per, n_cols)
    top = 1.0 + 3.0 / math.sqrt(looks)
    bmode_axes, ratio_axes, handle, ratio_handle = [], [], None, None
    for k, (label, image) in enumerate(panels):
        row, col = divmod(k, n_cols)
        ax = fig.add_subplot(grid[row * rows_per, col])
        shown = _bmode(image, reference, dynamic_range)
        handle = ax.imshow(shown, cmap="gray", vmin=-dynamic_range, vmax=0.0,
                           interpolation="nearest")
        ax.set_title(label + (f"\n{titles[label]}" if label in titles else ""), fontsize=8)
        ax.set_axis_off()
        bmode_axes.append(ax)
        for (r0, c0, r1, c1), bounds, colour in zip(boxes, _INSET_BOUNDS, _INSET_COLOURS):
            inset = ax.inset_axes(bounds)
            inset.imshow(shown, cmap="gray", vmin=-dynamic_range, vmax=0.0,
                         interpolation="nearest")
            inset.set_xlim(c0 - 0.5, c1 - 0.5)
            inset.set_ylim(r1 - 0.5, r0 - 0.5)
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_edgecolor(colour)
            ax.indicate_inset_zoom(inset, edgecolor=colour)
        if k == 0:
            for area, colour in outlines:
                ax.contour(np.asarray(area, float), levels=[0.5], colors=colour, linewidths=0.8)
            if guide is not None:
                line = ax.axhline if guide[0] == "row" else ax.axvline
                line(guide[1], color="cyan", linewidth=0.6, linestyle="--")
        if ratio and label in estimates:
            rax = fig.add_subplot(grid[row * rows_per + 1, col])
            ratio_handle = _show_ratio(rax, np.asarray(noisy, np.float64), image, top)
            rax.set_title(f"ratio noisy / {label}", fontsize=8)
            ratio_axes.append(rax)
    fig.colorbar(handle, ax=bmode_axes, shrink=0.7, label="dB")
    if ratio_handle is not None:
        fig.colorbar(ratio_handle, ax=ratio_axes, shrink=0.7, label="ratio")
    fig.suptitle((f"{title}: " if title else "") + f"B-mode, 0 dB = intensity {reference:.3g}, "
                 f"dynamic range {dynamic_range:g} dB", fontsize=9)
    if path is not None:
        save_figure(fig, path)
    return fig


def ratio_montage(noisy, estimates: Mapping[str, np.ndarray], *, looks: float = 1.0,
                  mask=None, titles: Mapping[str, str] | None = None, columns: int = 4,
                  title: str | None = None, path=None):
    """Ratio images noisy / estimate, one panel per method, each with its colour bar.

    ``noisy`` and the estimates are LINEAR INTENSITIES (H, W). A method that removes only
    speckle leaves a ratio of pure speckle: mean 1, variance ``1 / looks``; structure in the
    ratio is signal the method removed. Shown linearly on ``[0, 1 + 3 / sqrt(looks)]``; pixels
    where an estimate is <= 0 are blank. Panel titles: ``titles[method]``, default the ratio
    mean and variance (:func:`s2v.metrics.ratio_statistics` on estimate > 0, inside ``mask``).
    Returns the Figure; saves it when ``path`` is given.
    """
    if not estimates:
        raise ValueError("ratio_montage: no estimate given")
    noisy = np.asarray(noisy, dtype=np.float64)
    titles = dict(titles or {})
    n_rows, n_cols = _grid(len(estimates), columns)
    height, width = noisy.shape
    fig = _figure((3.2 * n_cols, (3.2 * height / width + 0.5) * n_rows))
    top = 1.0 + 3.0 / math.sqrt(looks)
    for k, (name, estimate) in enumerate(estimates.items()):
        estimate = np.asarray(estimate, dtype=np.float64)
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        handle = _show_ratio(ax, noisy, estimate, top)
        ax.set_title(f"{name}\n{titles.get(name) or _ratio_title(noisy, estimate, mask)}",
                     fontsize=8)
        fig.colorbar(handle, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle((f"{title}: " if title else "") + "ratio images noisy / estimate (ideal mean 1,"
                 f" var {1.0 / looks:.3g})", fontsize=9)
    if path is not None:
        save_figure(fig, path)
    return fig


def strongest_edge(intensity, *, ground_truth=None, mask=None) -> tuple[int, int, str]:
    """Pixel of the strongest log-intensity gradient and the profile axis through it.

    Uses the ground truth (LINEAR INTENSITY) when given, else ``intensity`` (the noisy linear
    intensity) smoothed (sigma 2 px) so the speckle does not dominate; pixels outside
    ``mask`` (overlays, padding) are replaced by the median inside it first, and the search
    stays clear of the mask border. Returns (row, col, "row" | "col"): a profile along a row
    crosses an edge whose gradient is horizontal.
    """
    sigma = 0.0 if ground_truth is not None else 2.0
    reference = np.asarray(intensity if sigma else ground_truth, dtype=np.float64)
    keep = np.ones(reference.shape, bool)
    if mask is not None and np.any(mask):
        mask = np.asarray(mask, bool)
        reference = np.where(mask, reference, np.median(reference[mask]))
        keep = ndimage.binary_erosion(mask, iterations=2 + int(3 * sigma))
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


def profile_figure(estimates: Mapping[str, np.ndarray], *, noisy, ground_truth=None,
                   line: tuple[str, int], reference: float | None = None,
                   dynamic_range: float = DYNAMIC_RANGE_DB, title: str | None = None,
                   path=None):
    """Intensity profiles in dB along one row or column, for every method.

    ``noisy``, ``ground_truth`` and the estimates are LINEAR INTENSITIES (H, W); ``line`` is
    ``("row", r)`` or ``("col", c)`` (e.g. from :func:`strongest_edge`); ``reference`` is the
    intensity at 0 dB (default :func:`display_reference` of the ground truth, else the noisy
    image), the y axis spans the montage's ``dynamic_range`` plus 5 dB on each side. Returns
    the Figure; saves it when ``path`` is given.
    """
    axis, index = line
    if axis not in ("row", "col"):
        raise ValueError(f"line must be ('row', r) or ('col', c), got {line!r}")
    if reference is None:
        reference = display_reference(ground_truth if ground_truth is not None else noisy)
    pick = (lambda a: np.asarray(a)[index, :]) if axis == "row" else (
        lambda a: np.asarray(a)[:, index])

    def db(values):
        return 10.0 * np.log10(np.maximum(values, reference * 1e-12) / reference)

    fig = _figure((7.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(db(pick(noisy)), color="0.75", linewidth=0.7, label="noisy")
    if ground_truth is not None:
        ax.plot(db(pick(ground_truth)), "k--", linewidth=1.2, label="ground truth")
    for name, estimate in estimates.items():
        ax.plot(db(pick(estimate)), linewidth=1.0, label=name)
    ax.set_xlabel("column" if axis == "row" else "row")
    ax.set_ylabel(f"B-mode (dB re {reference:.3g})")
    ax.set_ylim(-dynamic_range - 5.0, 5.0)
    ax.set_title((f"{title}: " if title else "") + f"profile along {axis} {index}", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    if path is not None:
        save_figure(fig, path)
    return fig

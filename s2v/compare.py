"""Comparison harness: run ``{name: denoiser}`` over a data set, write tables and figures.

A denoiser is any callable ``f(intensity, *, looks) -> intensity`` on float32 (H, W) linear
intensity (|z|^2). :func:`compare` runs every denoiser on every image (and on fresh speckle
realisations when a ground truth exists), scores each output and writes, under ``out_dir``::

    results.md       markdown tables: mean ± std over images and realisations, then per image
    summary.csv      the same table, one row per method
    records.csv      one row per (image, realisation, method)
    results.json     configuration, summary, records, regions and figure paths
    regions.json     the regions of interest used, editable (see :mod:`s2v.roi`)
    figures/         <image>_montage.png, <image>_ratio.png, <image>_profile.png

The pieces live by concern: :mod:`s2v.items` (the data set), :mod:`s2v.roi` (regions of
interest: specs, proposals, ``regions.json``), :mod:`s2v.plot` (figures), :mod:`s2v.results`
(the result object, tables, DataFrames and :func:`s2v.results.conclude`); this module holds
the method registry (:func:`resolve_methods`), the scoring and the loop. The command line
is ``s2v compare`` (:mod:`s2v.cli`).

When an image has no regions, :func:`propose_regions` proposes them from the noisy image; the
proposals are returned (``CompareResults.regions``) and saved to ``regions.json``, so a user can
edit that file and pass it back with ``compare(..., regions="regions.json")``.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from s2v import metrics, plot
from s2v.items import Item, check_looks, resolve_dataset
from s2v.results import CONVENTIONS, METRIC_COLUMNS, CompareResults, Rule, conclude, summarise
from s2v.roi import (check_region_names, load_regions, propose_regions, region_mask,
                     resolve_regions, save_regions)
from s2v.utils import atomic_write_text

__all__ = [
    "CompareResults",
    "Rule",
    "compare",
    "point_blur",
    "conclude",
    "propose_regions",
    "region_mask",
    "load_regions",
    "save_regions",
    "resolve_methods",
]

Denoiser = Callable[..., np.ndarray]

#: Dynamic range (dB) of the B-mode display on which bmode_psnr / bmode_ssim are scored.
BMODE_DYNAMIC_RANGE = 60.0

#: Name of the pseudo-method that scores the noisy input itself.
NOISY = "noisy"


# --------------------------------------------------------------------------- methods


def resolve_methods(spec: str | Sequence[str]) -> dict[str, Denoiser]:
    """Turn method names into ``{name: denoiser}``.

    Parameters
    ----------
    spec : str or sequence of str
        Comma-separated names (``"lee,bm3d_log"``) or a list. Names are the keys of
        :data:`s2v.baselines.BASELINES`, ``"all"`` (every baseline), ``"s2v"`` (the shipped
        intensity checkpoint, ``s2v.pipeline.DEFAULT_CHECKPOINT["intensity"]``) or
        ``"s2v:<checkpoint name or path>"`` (e.g. ``"s2v:ultrasound"``), ``"apbsn"`` (the
        shipped AP-BSN model, :mod:`s2v.apbsn`) or ``"apbsn:<path>"``; a model is loaded
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
        elif name == "apbsn" or name.startswith("apbsn:"):
            from s2v import apbsn

            try:
                denoisers[name] = apbsn.denoiser(name.partition(":")[2] or None)
            except FileNotFoundError as err:
                raise ValueError(f"method '{name}': {err}") from None
        else:
            choices = ["all", *BASELINES, "s2v", "apbsn"]
            close = difflib.get_close_matches(name, choices, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown method '{name}'{hint} (available: {', '.join(choices)}, "
                             "s2v:<checkpoint>, apbsn:<checkpoint>)")
    return denoisers


def _s2v_denoiser(checkpoint: str | None) -> Denoiser:
    """``s2v.despeckle`` bound to a model loaded once (TensorFlow is imported only here)."""
    from s2v.pipeline import DEFAULT_CHECKPOINT, despeckle, load_model

    try:
        model = load_model(checkpoint or DEFAULT_CHECKPOINT["intensity"])
    except ImportError as err:  # Keras / TensorFlow missing from this installation
        raise ValueError("method 's2v' needs the Speckle2Void model API (s2v.despeckle), whose "
                         f"Keras/TensorFlow is not available in this installation ({err})") from None
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


def _score(item: Item, noisy, estimate, masks, *, data_range) -> dict:
    """Quality metrics of one output (see :func:`compare` for the conventions)."""
    scores = {}
    amplitude = _amplitude(estimate)
    if item.ground_truth is not None:
        reference = _amplitude(item.ground_truth)
        peak = float(data_range or reference.max())
        scores["psnr"] = _defined(metrics.psnr, reference, amplitude, data_range=peak)
        scores["ssim"] = _defined(metrics.ssim, reference, amplitude, data_range=peak)
        # What clinicians read: the log-compressed display (60 dB), dark regions included.
        scores["bmode_psnr"] = _defined(metrics.bmode_psnr, item.ground_truth, estimate,
                                        dynamic_range=BMODE_DYNAMIC_RANGE)
        scores["bmode_ssim"] = _defined(metrics.bmode_ssim, item.ground_truth, estimate,
                                        dynamic_range=BMODE_DYNAMIC_RANGE)
        if item.points:
            scores["point_fwhm"] = point_blur(reference, amplitude, item.points)
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


def point_blur(reference_amplitude, amplitude, points) -> float:
    """Median over point targets of the estimate's FWHM over the ground truth's (1 = no blur).

    The FWHM of a target is the geometric mean of its axial and lateral widths on amplitude
    (:func:`s2v.metrics.point_fwhm`, the -6 dB envelope width); a target that vanishes
    (no half-maximum crossing) is left out.
    """
    ratios = []
    for point in points:
        try:
            truth = metrics.point_fwhm(reference_amplitude, point)
            found = metrics.point_fwhm(amplitude, point)
        except ValueError:
            continue
        width = math.sqrt(found["axial"] * found["lateral"])
        truth_width = math.sqrt(truth["axial"] * truth["lateral"])
        if np.isfinite(width) and truth_width > 0:
            ratios.append(width / truth_width)
    return float(np.median(ratios)) if ratios else math.nan


def _realisation_seed(seed: int, image_index: int, realisation: int) -> int:
    return int(np.random.SeedSequence([seed, image_index, realisation]).generate_state(1)[0])


# --------------------------------------------------------------------------- figures


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "image"


def _default_insets(shape, masks: dict, row: int, col: int) -> list[list[int]]:
    """Zoom boxes when an item names none: its first contrast target, and the strongest edge."""
    height, width = shape
    boxes = []
    if masks["pairs"]:
        rows, cols = np.nonzero(masks["pairs"][0][0])
        pad_r, pad_c = max(2, np.ptp(rows) // 2), max(2, np.ptp(cols) // 2)
        boxes.append([rows.min() - pad_r, cols.min() - pad_c, rows.max() + 1 + pad_r,
                      cols.max() + 1 + pad_c])
    zoom = max(8, min(height, width) // 5)
    r0 = int(np.clip(row - zoom // 2, 0, height - zoom)) if height > zoom else 0
    c0 = int(np.clip(col - zoom // 2, 0, width - zoom)) if width > zoom else 0
    boxes.append([r0, c0, r0 + zoom, c0 + zoom])
    return boxes


def _figures(item: Item, outputs: dict[str, np.ndarray], scores: dict[str, dict], masks: dict,
             looks: float, folder: Path) -> dict[str, Path]:
    """Montage with zoomed insets, ratio images and an edge profile for one image."""
    estimates = {name: out for name, out in outputs.items() if name != NOISY}
    reference = plot.display_reference(
        item.ground_truth if item.ground_truth is not None else item.intensity, mask=item.mask)
    row, col, axis = plot.strongest_edge(item.intensity, ground_truth=item.ground_truth,
                                         mask=item.mask)
    line = (axis, row if axis == "row" else col)
    titles = {label: f"{s['psnr']:.2f} dB / SSIM {s['ssim']:.3f}" for label, s in scores.items()
              if math.isfinite(s.get("psnr", math.nan))}
    outlines = [(m, "lime") for m in masks["homogeneous"]] + [
        outline for target, background in masks["pairs"]
        for outline in ((target, "red"), (background, "orange"))]
    base = folder / _safe_name(item.name)
    paths = {"montage": Path(f"{base}_montage.png")}
    plot.montage(estimates, noisy=item.intensity, ground_truth=item.ground_truth,
                 reference=reference, titles=titles, outlines=outlines, guide=line,
                 insets=item.insets or _default_insets(item.intensity.shape, masks, row, col),
                 title=item.name, path=paths["montage"])
    if estimates:
        paths["ratio"] = Path(f"{base}_ratio.png")
        plot.ratio_montage(item.intensity, estimates, looks=looks, title=item.name,
                           titles={name: f"mean {scores[name]['ratio_mean']:.3f}, "
                                         f"var {scores[name]['ratio_var']:.3f}"
                                   for name in estimates}, path=paths["ratio"])
    paths["profile"] = Path(f"{base}_profile.png")
    plot.profile_figure(estimates, noisy=item.intensity, ground_truth=item.ground_truth,
                        line=line, reference=reference,
                        title=f"{item.name} (strongest edge)", path=paths["profile"])
    return paths


# --------------------------------------------------------------------------- harness


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
        with ``name``, ``intensity`` (noisy linear intensity, (H, W), or an (N, H, W) cine that
        becomes N items ``name[i]``) and optionally
        ``ground_truth`` (clean linear intensity, same shape), ``regions``, ``mask`` (valid
        imaging area), ``looks`` and ``data_range`` (per-image overrides) and ``insets`` (boxes
        zoomed in the montage; default the first contrast target and the strongest edge); see
        :mod:`s2v.items`. A string is an example
        name (:func:`s2v.examples.load_example`), an image file or a folder (every readable image
        in it, every frame of a cine, via :func:`s2v.items.read_file_items` with the detected
        domain; unreadable files are listed in ``skipped``).
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
        Write the figures (for realisation 0 of every image): a B-mode montage on one display
        range (0 dB at :func:`s2v.plot.display_reference` of the ground truth, else of the noisy
        image; 60 dB dynamic range) with zoomed insets, the ratio images and an edge profile
        (:mod:`s2v.plot`).
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
    looks = check_looks(looks, "looks")
    items, skipped = resolve_dataset(dataset)
    if isinstance(regions, (str, Path)):
        regions = load_regions(regions)
    if regions is not None:
        check_region_names(regions, [item.name for item in items])
    # Every region is checked before the first (possibly long) denoiser run.
    region_entries, region_masks = {}, {}
    for item in items:
        region_entries[item.name], region_masks[item.name] = resolve_regions(
            item.name, item.intensity, mask=item.mask, own=item.regions, given=regions)

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
    results = CompareResults(records=records, summary=summarise(records, methods),
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

"""Non-local baselines on held-out simulated ultrasound: white vs data-driven noise models.

Each image is a new phantom (:func:`s2v.simulate.ultrasound_phantom`, seeds 1000+, disjoint
from the training seeds 0-11, the study's test seeds 100+ and the seeds 500-503 on which the
data-driven rules were checked) seen through a probe outside the training range of
:func:`s2v.datasets.simulated_ultrasound_set` (3.5-7.5 MHz, bandwidth 0.5-0.8, beam
0.4-0.9 mm, no carrier, 0.05 x 0.1 mm pixels): 2.5 to 10 MHz, bandwidth 0.35 to 0.95, beam
0.3 to 1.2 mm, a residual carrier, finer lateral sampling, and phantom variants (no
texture, stronger texture, hyperechoic cysts at 3 or 9 dB instead of 6).

Methods: the noisy input; BM3D-log with a white noise model and with the noise PSD
estimated from the image; NLM-log and OBNLM with the white-speckle parameters and with the
data-driven noise level (``s2v.baselines``). Scores against the ground truth
``blurred_echogenicity``:

* B-mode PSNR and SSIM at 60 dB dynamic range (reference maximum at 0 dB), the primary
  figures (:func:`s2v.metrics.bmode_psnr`, :func:`s2v.metrics.bmode_ssim`);
* amplitude PSNR with the peak of the ground-truth amplitude (the comparison harness's
  convention), secondary;
* gCNR of each cyst against its surrounding tissue (the phantom's ``regions["cysts"]``),
  on amplitude, averaged over the six cysts;
* resolution: the -6 dB (half-amplitude) widths of the four point targets (deterministic
  reflectors), axially and laterally, and the 10-90 % edge width of the anechoic cysts
  (radial profile of the amplitude out to 1.6 radii), each as a ratio to the same figure
  on the ground truth (1 = no blur added; below 1 = sharper than the truth, e.g.
  residual speckle), plus the point targets' peak amplitude relative to the truth in dB
  (0 = kept; about -20 dB = erased into the background); medians over the targets;
* the intensity ratio-image mean on the homogeneous band (ideal 1) and seconds per
  megapixel (on this machine, under whatever load it has).

Prints a Markdown table (mean over images) and the gain of each data-driven setting, and
writes everything, per image included, to ``--out`` as JSON.

    python benchmarks/baselines_ultrasound.py [--out results/baselines_ultrasound.json]
        [--count 6] [--shape 257 193]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from s2v import baselines, metrics
from s2v.datasets import HELD_OUT_PROBES, held_out_ultrasound_set

DYNAMIC_RANGE = 60.0
FIRST_SEED = 1000
#: The six cyst phantoms of the README table (the set's two vessel phantoms: --count 8).
DEFAULT_COUNT = 6
PROBES = [probe["name"] for probe in HELD_OUT_PROBES]

METHODS = {
    "noisy": None,
    "BM3D-log, white": (baselines.denoise_bm3d_log, {"noise_psd": None}),
    "BM3D-log, PSD (auto)": (baselines.denoise_bm3d_log, {"noise_psd": "auto"}),
    "NLM-log, fixed": (baselines.denoise_nlm_log, {"noise_correlation": None}),
    "NLM-log, data-driven": (baselines.denoise_nlm_log, {"noise_correlation": "auto"}),
    "OBNLM, fixed": (baselines.denoise_obnlm, {"noise_correlation": None}),
    "OBNLM, data-driven": (baselines.denoise_obnlm, {"noise_correlation": "auto"}),
}
GAINS = [("BM3D-log", "BM3D-log, white", "BM3D-log, PSD (auto)"),
         ("NLM-log", "NLM-log, fixed", "NLM-log, data-driven"),
         ("OBNLM", "OBNLM, fixed", "OBNLM, data-driven")]
COLUMNS = [  # key, header, format
    ("bmode_psnr", "B-mode PSNR (dB)", "{:.2f}"),
    ("bmode_ssim", "B-mode SSIM", "{:.3f}"),
    ("amplitude_psnr", "amplitude PSNR (dB)", "{:.2f}"),
    ("gcnr", "gCNR", "{:.3f}"),
    ("point_peak_db", "point peak (dB)", "{:+.1f}"),
    ("fwhm_axial_ratio", "FWHM axial ×", "{:.2f}"),
    ("fwhm_lateral_ratio", "FWHM lateral ×", "{:.2f}"),
    ("edge_width_ratio", "cyst edge 10–90 % ×", "{:.2f}"),
    ("ratio_mean", "ratio mean", "{:.3f}"),
    ("seconds_per_mpix", "s/MPix", "{:.1f}"),
]


def held_out_images(count: int, shape) -> list[dict]:
    """The first ``count`` held-out phantoms (seeds 1000+), each through its probe
    (:func:`s2v.datasets.held_out_ultrasound_set`, the study's held-out set)."""
    return held_out_ultrasound_set(count, shape=shape)


def _resolution(clean_amp: np.ndarray, estimate_amp: np.ndarray, regions: dict) -> dict:
    """Point-target FWHM, peak and anechoic-cyst edge width of the estimate, relative to the truth.

    Medians over the point targets (a target erased by a filter has no meaningful width,
    often none at all: its profile never falls to half height)."""
    axial, lateral, peaks = [], [], []
    for point in regions["point_targets"]:
        truth = metrics.point_fwhm(clean_amp, point)
        found = metrics.point_fwhm(estimate_amp, point)
        axial.append(found["axial"] / truth["axial"])
        lateral.append(found["lateral"] / truth["lateral"])
        peaks.append(20 * np.log10(estimate_amp[found["peak"]] / clean_amp[truth["peak"]]))
    edges = []
    for cyst in regions["cysts"]:
        if cyst["kind"] != "anechoic":
            continue
        widths = []
        for image in (clean_amp, estimate_amp):
            _, profile = metrics.radial_profile(image, cyst["center"], 1.6 * cyst["radius"], bin_width=0.5)
            widths.append(metrics.edge_spread_width(profile, spacing=0.5))
        edges.append(widths[1] / widths[0])
    with np.errstate(all="ignore"):
        return {"point_peak_db": float(np.median(peaks)),
                "fwhm_axial_ratio": float(np.nanmedian(axial)) if np.isfinite(axial).any() else float("nan"),
                "fwhm_lateral_ratio": float(np.nanmedian(lateral)) if np.isfinite(lateral).any() else float("nan"),
                "edge_width_ratio": float(np.nanmean(edges))}


def score(sim: dict, estimate: np.ndarray) -> dict:
    """Every figure of the table for one estimate (intensity) of one simulated image."""
    clean = sim["blurred_echogenicity"].astype(np.float64)
    estimate = np.maximum(estimate.astype(np.float64), 0.0)
    clean_amp, estimate_amp = np.sqrt(clean), np.sqrt(estimate)
    regions = sim["regions"]
    gcnrs = [metrics.gcnr(estimate_amp[c["inside"]], estimate_amp[c["background"]]) for c in regions["cysts"]]
    homogeneous = regions["homogeneous"]
    return {
        "bmode_psnr": metrics.bmode_psnr(clean, estimate, dynamic_range=DYNAMIC_RANGE),
        "bmode_ssim": metrics.bmode_ssim(clean, estimate, dynamic_range=DYNAMIC_RANGE),
        "amplitude_psnr": metrics.psnr(clean_amp, estimate_amp, data_range=float(clean_amp.max())),
        "gcnr": float(np.mean(gcnrs)),
        **_resolution(clean_amp, estimate_amp, regions),
        "ratio_mean": metrics.ratio_statistics(sim["intensity"], np.maximum(estimate, 1e-12), mask=homogeneous)["mean"],
    }


def run(count: int, shape) -> dict:
    per_image = []
    for sim in held_out_images(count, shape):
        params = sim["params"]
        row = {"probe": sim["probe"], "seed": sim["seed"],
               "axial_sigma_px": params["axial_sigma_px"], "lateral_sigma_px": params["lateral_sigma_px"],
               "methods": {}}
        noisy = sim["intensity"]
        for label, method in METHODS.items():
            if method is None:
                scores = score(sim, noisy)
                scores["seconds_per_mpix"] = float("nan")
            else:
                func, options = method
                estimate, seconds = metrics.time_per_megapixel(func, noisy, looks=1.0, **options)
                scores = score(sim, estimate)
                scores["seconds_per_mpix"] = seconds
            row["methods"][label] = scores
        per_image.append(row)
        print(f"  {sim['probe']} (seed {sim['seed']}): "
              + ", ".join(f"{k} {v['bmode_psnr']:.2f}" for k, v in row["methods"].items()), file=sys.stderr)
    def mean(values):
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    summary = {label: {key: mean([r["methods"][label][key] for r in per_image]) for key, _, _ in COLUMNS}
               for label in METHODS}
    gains = {name: {key: summary[after][key] - summary[before][key]
                    for key in ("bmode_psnr", "bmode_ssim", "amplitude_psnr", "gcnr")}
             for name, before, after in GAINS}
    return {
        "settings": {"dynamic_range_db": DYNAMIC_RANGE, "seeds": [r["seed"] for r in per_image],
                     "shape": list(shape), "probes": PROBES[:count], "looks": 1.0,
                     "python": platform.python_version(), "machine": platform.machine()},
        "per_image": per_image, "summary": summary, "gains": gains,
    }


def markdown(results: dict) -> str:
    lines = ["| method | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for label, scores in results["summary"].items():
        cells = ["—" if not np.isfinite(scores[key]) else fmt.format(scores[key]) for key, _, fmt in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Gain of the data-driven setting (mean over images):")
    lines.append("")
    for name, gain in results["gains"].items():
        lines.append(f"- {name}: B-mode PSNR {gain['bmode_psnr']:+.2f} dB, B-mode SSIM {gain['bmode_ssim']:+.3f}, "
                     f"amplitude PSNR {gain['amplitude_psnr']:+.2f} dB, gCNR {gain['gcnr']:+.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/baselines_ultrasound.json"),
                        help="JSON file for all results (default results/baselines_ultrasound.json)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"number of held-out images, 1-{len(PROBES)} (default {DEFAULT_COUNT})")
    parser.add_argument("--shape", type=int, nargs=2, default=(257, 193), metavar=("H", "W"),
                        help="image shape in pixels (default 257 193)")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= len(PROBES):
        parser.error(f"--count must be between 1 and {len(PROBES)}")
    results = run(args.count, tuple(args.shape))
    table = markdown(results)
    print(f"Held-out simulated ultrasound, {args.count} images {args.shape[0]}x{args.shape[1]}, "
          f"seeds {FIRST_SEED}-{FIRST_SEED + args.count - 1}; B-mode at {DYNAMIC_RANGE:.0f} dB.\n")
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results["markdown"] = table
    args.out.write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Classical baselines on the single-look synthetic despeckling protocol (SAR-CNN protocol).

Clean intensity ``x = ((gray + 1) / 256) ** 2`` of Set12 images 01-10 (from
``../shared/data/clean/Set12`` when present, else ten grey images of ``skimage.data``),
noisy ``y = x * n`` with ``n ~ Gamma(L, 1/L)``, ``L = 1``, 10 noise realisations per image.
For every baseline of ``s2v.baselines.BASELINES`` (and the noisy input itself) it reports
PSNR and SSIM on amplitude with peak 1, the ratio-image mean and variance (ideal 1 and 1/L)
and the runtime per megapixel; mean ± std over images and realisations. Prints a markdown
table and writes ``baselines_synthetic.md``, ``baselines_synthetic.csv`` (summary) and
``baselines_synthetic_runs.csv`` (one row per method, image and realisation) to ``--out``.

    python benchmarks/baselines_synthetic.py --out results/baselines [--realisations 10]
        [--images 10] [--methods lee bm3d_log ...] [--looks 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
from pathlib import Path

import numpy as np

from s2v.datasets import clean_test_images
from s2v.baselines import BASELINES
from s2v.metrics import ratio_statistics, synthetic_protocol_scores, time_call
from s2v.simulate import synthetic_protocol_set

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the markdown and CSV files")
    parser.add_argument("--realisations", type=int, default=10, help="noise realisations per image (10)")
    parser.add_argument("--images", type=int, default=10, help="number of images, Set12 01..N (10)")
    parser.add_argument("--methods", nargs="+", default=list(BASELINES), choices=list(BASELINES))
    parser.add_argument("--looks", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    images = dict(list(clean_test_images().items())[:args.images])
    methods = {"noisy": None, **{name: BASELINES[name] for name in args.methods}}
    runs = []
    pairs = list(
        synthetic_protocol_set(images, args.looks, realisations=args.realisations, seed=args.seed)
    )
    for index, pair in enumerate(pairs):
        clean, noisy = pair["clean_intensity"], pair["noisy_intensity"]
        megapixels = noisy.size / 1e6
        for name, denoiser in methods.items():
            if denoiser is None:
                estimate, seconds = noisy, 0.0
            else:
                estimate, seconds = time_call(denoiser, noisy, looks=args.looks)
            scores = synthetic_protocol_scores(clean, estimate)
            ratio = ratio_statistics(noisy, estimate)
            runs.append(
                {
                    "method": name,
                    "image": pair["name"],
                    "realisation": pair["realisation"],
                    "psnr": scores["psnr"],
                    "ssim": scores["ssim"],
                    "ratio_mean": ratio["mean"],
                    "ratio_var": ratio["var"],
                    "seconds": seconds,
                    "megapixels": megapixels,
                }
            )
        progress = f"[{index + 1}/{len(pairs)}] {pair['name']} realisation {pair['realisation']}"
        print(progress, file=sys.stderr, flush=True)

    summary = []
    for name in methods:
        rows = [run for run in runs if run["method"] == name]
        total_mpix = sum(run["megapixels"] for run in rows)
        summary.append(
            {
                "method": name,
                "psnr_mean": float(np.mean([r["psnr"] for r in rows])),
                "psnr_std": float(np.std([r["psnr"] for r in rows])),
                "ssim_mean": float(np.mean([r["ssim"] for r in rows])),
                "ssim_std": float(np.std([r["ssim"] for r in rows])),
                "ratio_mean": float(np.mean([r["ratio_mean"] for r in rows])),
                "ratio_var": float(np.mean([r["ratio_var"] for r in rows])),
                "seconds_per_megapixel": sum(r["seconds"] for r in rows) / total_mpix,
            }
        )

    header = (
        f"Single-look synthetic protocol (L = {args.looks:g}): {len(images)} images ({', '.join(images)}), "
        f"{args.realisations} realisation(s) each, seed {args.seed}. PSNR/SSIM on amplitude, peak 1; "
        f"ratio = noisy / estimate in intensity (ideal mean 1, var {1 / args.looks:.3g}); "
        f"runtime on {platform.processor() or platform.machine()}, shared machine.\n"
    )
    lines = [
        "| method | PSNR (dB) | SSIM | ratio mean | ratio var | s / MPix |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(summary, key=lambda r: r["psnr_mean"], reverse=True):
        lines.append(
            f"| {row['method']} | {row['psnr_mean']:.2f} ± {row['psnr_std']:.2f} | "
            f"{row['ssim_mean']:.3f} ± {row['ssim_std']:.3f} | "
            f"{row['ratio_mean']:.3f} | {row['ratio_var']:.3f} | {row['seconds_per_megapixel']:.2f} |"
        )
    by_name = {row["method"]: row for row in summary}
    checks = []
    if "bm3d_log" in by_name:
        best = max((row for row in summary if row["method"] != "noisy"), key=lambda r: r["psnr_mean"])
        gain = by_name["bm3d_log"]["psnr_mean"] - by_name["noisy"]["psnr_mean"]
        checks.append(f"- strongest classical method by PSNR: {best['method']}")
        checks.append(f"- BM3D-log gain over the noisy input: {gain:.2f} dB (target >= 10 dB)")
    markdown = "\n".join([header, *lines, "", *checks]) + "\n"
    print(markdown)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "baselines_synthetic.md").write_text(markdown)
    fields = list(summary[0])
    with open(args.out / "baselines_synthetic.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(summary)
    with open(args.out / "baselines_synthetic_runs.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(runs[0]))
        writer.writeheader()
        writer.writerows(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

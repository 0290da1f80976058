"""Classical baselines on the single-look synthetic despeckling protocol (SAR-CNN protocol).

The items are the study's (:func:`s2v.study.synthetic_items`): clean intensity
``x = ((gray + 1) / 256) ** 2`` of Set12 images 01-N (from ``../shared/data/clean/Set12`` when
present, else ten grey images of ``skimage.data``), noisy ``y = x * n`` with
``n ~ Gamma(L, 1/L)``; they are scored by the study's harness (:func:`s2v.compare.compare`,
amplitude PSNR/SSIM with peak 1, ratio image, runtime per megapixel) with the study's seeding
(realisation 0 of image ``i`` seeded ``seed + i``, realisations 1, 2, ... drawn by the harness
from ``seed``), so that the numbers equal the study's for the same images, methods and
realisations. Prints the harness table and two checks, and leaves the harness outputs
(``results.md``, ``summary.csv``, ``records.csv``, ``results.json``, ``regions.json``) in
``--out``.

    python benchmarks/baselines_synthetic.py --out results/baselines [--realisations 10]
        [--images 10] [--methods lee bm3d_log ...] [--looks 1] [--seed 0] [--figures]
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from s2v.baselines import BASELINES
from s2v.compare import compare, resolve_methods
from s2v.study import synthetic_items


def checks(summary: list[dict]) -> list[str]:
    """The strongest classical method by PSNR and BM3D-log's gain over the noisy input."""
    by_name = {row["method"]: row for row in summary}
    lines = []
    methods = [row for row in summary if row["method"] != "noisy"]
    if methods:
        best = max(methods, key=lambda r: r["psnr_mean"])
        lines.append(f"- strongest classical method by PSNR: {best['method']}")
    if "bm3d_log" in by_name and "noisy" in by_name:
        gain = by_name["bm3d_log"]["psnr_mean"] - by_name["noisy"]["psnr_mean"]
        lines.append(f"- BM3D-log gain over the noisy input: {gain:.2f} dB (target >= 10 dB)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the harness outputs")
    parser.add_argument("--realisations", type=int, default=10, help="noise realisations per image (10)")
    parser.add_argument("--images", type=int, default=10, help="number of images, Set12 01..N (10)")
    parser.add_argument("--methods", nargs="+", default=list(BASELINES), choices=list(BASELINES))
    parser.add_argument("--looks", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", action="store_true", help="also write the harness figures")
    args = parser.parse_args(argv)

    items = synthetic_items(False, args.seed, looks=args.looks, count=args.images)
    results = compare(resolve_methods(args.methods), items, out_dir=args.out, looks=args.looks,
                      realisations=args.realisations, seed=args.seed, data_range=1.0,
                      figures=args.figures)
    header = (
        f"Single-look synthetic protocol (L = {args.looks:g}): {len(items)} images "
        f"({', '.join(item['name'] for item in items)}), {args.realisations} realisation(s) each, "
        f"seed {args.seed} (the study's seeding). PSNR/SSIM on amplitude, peak 1; ratio = noisy / "
        f"estimate in intensity (ideal mean 1, var {1 / args.looks:.3g}); runtime on "
        f"{platform.processor() or platform.machine()}, shared machine.\n"
    )
    print("\n".join([header, results.table_markdown(), *checks(results.summary)]))
    print(f"\ntables written to {results.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

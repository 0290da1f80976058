"""Score candidate ultrasound checkpoints on one section of the study, next to the study's filters.

The study's images are HELD OUT: ``real`` (MUST IQ, PICMUS, the ALOKA and GE B-modes, the
liver B-mode) and ``simulated`` (the held-out phantoms and probes, seeds 1000-1007, as
intensity, and the last one as an 8-bit B-mode). This prints their scores; it chooses nothing
(choices are made on validation phantoms, ``scripts/validate_ultrasound_checkpoints.py``). Each
candidate is scored by the study's own harness (``s2v.compare`` with the study's items and
regions); the classical filters' numbers are read from the study's last run
(``results/ultrasound_<section>/records.csv``) so that they are not recomputed for every
candidate. The last column is the mean over the images whose name has no ``_bmode8``.

    python benchmarks/ultrasound_candidates.py runs/ultrasound/checkpoints/ckpt-00002000.keras \
        [--section real|simulated] [--baselines nlm_log bm3d_log obnlm s2v:ultrasound]
"""
import argparse
import csv
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from s2v.compare import compare, resolve_methods
from s2v.study import real_ultrasound_items, simulated_ultrasound_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("checkpoints", nargs="+", help=".keras files or shipped names")
parser.add_argument("--baselines", nargs="*", default=["nlm_log", "bm3d_log", "obnlm", "s2v:ultrasound"])
parser.add_argument("--section", choices=["real", "simulated"], default="real")
parser.add_argument("--study", default="results", help="folder of the study's run (ultrasound_<section>/ inside)")
parser.add_argument("--out", default="results/ultrasound_candidates", help="folder for the candidates' records")
args = parser.parse_args()

columns = (("enl", "ratio_mean", "epi", "gcnr") if args.section == "real"
           else ("bmode_psnr", "gcnr", "point_fwhm", "ratio_mean"))
items = (real_ultrasound_items if args.section == "real" else simulated_ultrasound_items)(False)
rows = {}
with open(os.path.join(args.study, f"ultrasound_{args.section}", "records.csv")) as handle:
    for record in csv.DictReader(handle):
        if record["method"] in args.baselines:
            rows.setdefault(record["method"], {}).setdefault(record["image"], []).append(record)
methods = resolve_methods([f"s2v:{name}" for name in args.checkpoints])
result = compare(methods, items, progress=False, looks=1.0, out_dir=f"{args.out}/{args.section}",
                 figures=False, include_noisy=False)
for record in result.records:
    rows.setdefault(record["method"], {}).setdefault(record["image"], []).append(record)

images = sorted({image for per_image in rows.values() for image in per_image})
averaged = [image for image in images if "_bmode8" not in image]


def values(records, column):
    return [float(r[column]) for r in records if r.get(column) not in (None, "", "nan")]


def cell(numbers):
    return f"{np.mean(numbers):.4g}" if numbers else "—"


for column in columns:
    print(f"\n{column}\n\n| method | " + " | ".join(images) + " | mean |\n|---|" + "---:|" * (len(images) + 1))
    for method, per_image in rows.items():
        per = [cell(values(per_image.get(image, []), column)) for image in images]
        means = [np.mean(v) for image in averaged if (v := values(per_image.get(image, []), column))]
        print(f"| {method} | " + " | ".join(per) + f" | {cell(means)} |")

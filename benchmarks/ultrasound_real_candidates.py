"""Score candidate ultrasound checkpoints on the study's real images, next to the study's filters.

The real images of the study (MUST IQ, PICMUS, the ALOKA and GE B-modes, the liver B-mode) are
HELD OUT: this prints their scores, it chooses nothing (choices are made on validation
phantoms, ``scripts/validate_ultrasound_checkpoints.py``). Each candidate is scored by the
study's own harness (``s2v.compare`` with the study's items and regions); the classical filters'
numbers are read from the study's last run (``results/ultrasound_real/records.csv``) so that they
are not recomputed for every candidate.

    python benchmarks/ultrasound_real_candidates.py runs/ultrasound/checkpoints/ckpt-00002000.keras \
        [--baselines nlm_log bm3d_log obnlm] [--study results/ultrasound_real]
"""
import argparse
import csv
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from s2v.compare import compare, resolve_methods
from s2v.study import real_ultrasound_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("checkpoints", nargs="+", help=".keras files or shipped names")
parser.add_argument("--baselines", nargs="*", default=["nlm_log", "bm3d_log", "obnlm", "s2v:ultrasound"])
parser.add_argument("--study", default="results/ultrasound_real", help="folder of the study's real-data run")
parser.add_argument("--out", default="results/ultrasound_real_candidates", help="folder for the candidates' records")
args = parser.parse_args()

columns = ("enl", "ratio_mean", "epi", "gcnr")
rows = {}
with open(os.path.join(args.study, "records.csv")) as handle:
    for record in csv.DictReader(handle):
        if record["method"] in args.baselines:
            rows.setdefault(record["method"], {}).setdefault(record["image"], []).append(record)
methods = resolve_methods([f"s2v:{name}" for name in args.checkpoints])
result = compare(methods, real_ultrasound_items(False), progress=False, looks=1.0, out_dir=args.out,
                 figures=False, include_noisy=False)
for record in result.records:
    rows.setdefault(record["method"], {}).setdefault(record["image"], []).append(record)

images = sorted({image for per_image in rows.values() for image in per_image})


def cell(records, column):
    values = [float(r[column]) for r in records if r.get(column) not in (None, "", "nan")]
    return f"{np.mean(values):.3g}" if values else "—"


for column in columns:
    print(f"\n{column}\n\n| method | " + " | ".join(images) + " |\n|---|" + "---:|" * len(images))
    for method, per_image in rows.items():
        print(f"| {method} | " + " | ".join(cell(per_image.get(image, []), column) for image in images) + " |")

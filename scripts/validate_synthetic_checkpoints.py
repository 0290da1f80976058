"""Score synthetic-speckle checkpoints on the VALIDATION images, under chosen prediction settings.

The validation images of ``continue_training.py`` (Set12 11 and 12, one fixed realisation per
number of looks, seeds 1011 and 1012), never trained on and not part of the Set12 01-10 test
protocol: prediction-time options (``predict_*`` fields: flips, ratio calibration, ...) are
chosen here, never on the test protocol. Printed: mean PSNR / SSIM on amplitude per number of
looks, as ``curve.json`` records them.

    python scripts/validate_synthetic_checkpoints.py training/synthetic-L1-log/ckpt-00005500.keras \
        --set predict_flips=4 --set predict_ratio_calibration=true [--looks 1,4]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sys
from pathlib import Path

import numpy as np

import s2v
from s2v.metrics import synthetic_protocol_scores

sys.path.insert(0, str(Path(__file__).resolve().parent))
from continue_training import validation_pairs  # noqa: E402
from ship_checkpoint import parse_settings  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("checkpoints", nargs="+", help=".keras files or shipped names")
parser.add_argument("--looks", default="1", help="comma-separated numbers of looks (default 1)")
parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a prediction setting (predict_* field) for every checkpoint, e.g. predict_flips=4")
args = parser.parse_args()
settings = parse_settings(args.set, s2v.S2VConfig(), parser)  # predict_* fields: the same for every model
looks_values = [float(v) for v in args.looks.split(",")]
pairs = {looks: validation_pairs(looks) for looks in looks_values}
print(f"settings: {args.set or 'as stored'}")
print("| checkpoint | " + " | ".join(f"L = {v:g} PSNR / SSIM" for v in looks_values) + " |")
print("|---|" + "---:|" * len(looks_values))
for name in args.checkpoints:
    model = s2v.load_model(name).with_prediction_settings(**settings)
    cells = []
    for looks in looks_values:
        scores = [synthetic_protocol_scores(clean, model.predict_maps(noisy, looks=looks, progress=False,
                                                                      outputs=("posterior_mean",))["posterior_mean"])
                  for clean, noisy in pairs[looks]]
        cells.append(f"{np.mean([s['psnr'] for s in scores]):.2f} / {np.mean([s['ssim'] for s in scores]):.3f}")
    print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

"""Evaluate a candidate ultrasound model exactly as the study does, against the classical filters.

The study's held-out simulations (``s2v.study.simulated_ultrasound_items``: seeds 1000-1007,
probes and a phantom type outside the shipped models' training, plus the 8-bit B-mode export of
the last one) and its real images (``real_ultrasound_items``: MUST IQ, PICMUS, pydicom-data
B-mode, the liver), through the same harness (``s2v.compare``) with NLM-log, BM3D-log (noise PSD
estimated from the image), OBNLM and the candidate. EVALUATION ONLY: nothing here chooses a
parameter. Writes the harness's tables under ``--out`` and prints the mean rows.

    python scripts/evaluate_ultrasound_model.py runs/ultrasound/checkpoints/ckpt-00002000.keras \
        [--out results/candidate] [--name candidate]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from s2v.compare import compare, resolve_methods
from s2v.study import real_ultrasound_items, simulated_ultrasound_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("model", help="checkpoint path or shipped name")
parser.add_argument("--out", default="results/candidate")
parser.add_argument("--baselines", nargs="*", default=["nlm_log", "bm3d_log", "obnlm"])
parser.add_argument("--skip-real", action="store_true")
args = parser.parse_args()

methods = {**resolve_methods(args.baselines), **resolve_methods([f"s2v:{args.model}"])}
simulated = compare(methods, simulated_ultrasound_items(False), out_dir=f"{args.out}/ultrasound_simulated",
                    looks=1.0, progress=False)
print("## held-out simulations\n")
print(simulated.table_markdown())
if not args.skip_real:
    real = compare(methods, real_ultrasound_items(False), out_dir=f"{args.out}/ultrasound_real", looks=1.0,
                   progress=False)
    print("\n## real images\n")
    print(real.table_markdown())

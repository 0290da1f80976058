"""Regenerate the study's two ultrasound sections only (``results/ultrasound_simulated``,
``results/ultrasound_real``), as ``s2v study`` computes them, after a shipped ultrasound model
changed; then ``python scripts/readme_tables.py results`` prints README's tables and ranks.

    python scripts/ultrasound_study.py [--out results]
"""
import argparse
import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from s2v import study
from s2v.compare import compare

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="results")
args = parser.parse_args()

run = functools.partial(compare, progress=False, looks=1.0)
methods = study.ultrasound_methods(False)
simulated = run(methods, study.simulated_ultrasound_items(False), out_dir=f"{args.out}/ultrasound_simulated")
print(simulated.table_markdown())
real = run(methods, study.real_ultrasound_items(False), out_dir=f"{args.out}/ultrasound_real")
print(real.table_markdown())
print(study.conclusion_section(simulated, real))

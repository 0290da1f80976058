"""The 8-bit B-mode input case on every held-out phantom (issue 13's second input type).

The study scores the held-out phantoms as intensity (|IQ|^2, the complex-IQ input) and only the
last one as the 8-bit 60 dB B-mode a scanner exports. Here all eight held-out phantoms
(``held_out_ultrasound_set``, evaluation only) are given as that 8-bit B-mode, converted back to
intensity exactly as ``s2v.despeckle(bmode, domain="bmode")`` converts it, and scored with the
harness (``s2v.compare``) for the shipped ``ultrasound`` model and the classical filters at their
defaults (data-driven noise models).

    python benchmarks/ultrasound_bmode8_held_out.py [--out results/ultrasound_bmode8]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from s2v.compare import compare, resolve_methods
from s2v.datasets import held_out_ultrasound_set
from s2v.study import simulation_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="results/ultrasound_bmode8")
parser.add_argument("--methods", nargs="*", default=["nlm_log", "bm3d_log", "obnlm", "s2v:ultrasound"])
args = parser.parse_args()

items = simulation_items(held_out_ultrasound_set(), bmode8=True)
results = compare(resolve_methods(args.methods), items, out_dir=args.out, looks=1.0, progress=False)
print(results.table_markdown())

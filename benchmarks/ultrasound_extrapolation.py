"""Probes outside every training range: how the ultrasound model extrapolates (issue 13).

``s2v.datasets.extrapolation_ultrasound_set`` (seeds 2000-2007, evaluation only) breaks at least
one bound of ``RANDOMISED_PROBE_RANGES``, the ranges the log-input ``ultrasound`` model trained
on (1.5 and 1.8 MHz, 15 MHz, bandwidths 0.2-0.25, 0.03 and 0.2 mm lateral pixels, a 2 MHz
residual carrier, texture 0.8). Each phantom is scored twice through the harness
(``s2v.compare``): as intensity (|IQ|^2, the complex-IQ input) and as the 8-bit 60 dB B-mode a
scanner exports, converted back as ``s2v.despeckle(bmode, domain="bmode")`` does; the classical
filters at their defaults (noise models estimated from each image).

    python benchmarks/ultrasound_extrapolation.py [--out results/ultrasound_extrapolation]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from s2v.compare import compare, resolve_methods
from s2v.datasets import extrapolation_ultrasound_set
from s2v.study import simulation_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="results/ultrasound_extrapolation")
parser.add_argument("--methods", nargs="*", default=["nlm_log", "bm3d_log", "obnlm", "s2v:ultrasound"])
args = parser.parse_args()

simulations = extrapolation_ultrasound_set()
methods = resolve_methods(args.methods)
for kind in ("intensity", "bmode8"):
    items = (simulation_items(simulations, bmode8=True) if kind == "bmode8"
             else simulation_items(simulations, suffix="_intensity"))
    results = compare(methods, items, out_dir=f"{args.out}/{kind}", looks=1.0, progress=False)
    print(f"## {kind}\n")
    print(results.table_markdown())

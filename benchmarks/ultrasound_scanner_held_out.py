"""Simulated SCANNER B-modes, held out: gain drift, the scanner's own dynamic range, 8 bits.

A clinical scanner's export is not the 60 dB log compression of the beamformed intensity:
the time-gain compensation leaves brightness drifting with depth, the display dynamic range
is the operator's (45-85 dB here) and the user, who does not know it, reads the grey levels
back at 60 dB. ``s2v.datasets.scanner_ultrasound_set`` simulates that
(``s2v.simulate.scanner_export``); seeds 3000-3007 are EVALUATION ONLY (the validation seeds
600-607 of the same set are the ones settings are chosen on, never these). Randomised phantoms
with specular reflectors, probes from the randomised ranges (inside the training ranges of the
``ultrasound`` models; the phantoms are new). Scored with the harness against the ground truth
mapped the same way (B-mode at 60 dB = the scanner's display).

    python benchmarks/ultrasound_scanner_held_out.py [--out results/ultrasound_scanner] [--methods ...]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from s2v.compare import compare, resolve_methods
from s2v.datasets import scanner_ultrasound_set
from s2v.study import simulation_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="results/ultrasound_scanner")
parser.add_argument("--methods", nargs="*", default=["nlm_log", "bm3d_log", "obnlm", "s2v:ultrasound"])
args = parser.parse_args()

items = simulation_items(scanner_ultrasound_set(8, seed=3000), scanner=True)
results = compare(resolve_methods(args.methods), items, out_dir=args.out, looks=1.0, progress=False)
print(results.table_markdown())

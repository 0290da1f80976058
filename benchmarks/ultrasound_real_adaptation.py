"""Self-supervised adaptation on the real B-modes, cross-fitted so that no score is in-sample.

Speckle2Void needs no clean image, so a user can fine-tune the shipped ``ultrasound`` model on
their own scanner's images (``s2v.fine_tune``, its defaults: 300 steps, a third of the model's
learning rate). To score that honestly each real B-mode of the study (pydicom-data ALOKA and
GE, the liver) is cut into its left and right halves; one model is fine-tuned on the three left
halves and scores the right ones, another the other way round. Every method (the classical
filters at their defaults, the shipped model, the adapted one) is scored by the harness
(``s2v.compare``) on the same halves, with homogeneous regions proposed inside each half's
imaging mask. Nothing here chooses a parameter.

    python benchmarks/ultrasound_real_adaptation.py [--out results/ultrasound_real_adaptation] [--steps 300]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import s2v
from s2v.compare import compare, resolve_methods
from s2v.finetune import FINE_TUNE_STEPS
from s2v.items import resolve_dataset
from s2v.study import real_ultrasound_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="results/ultrasound_real_adaptation")
parser.add_argument("--steps", type=int, default=FINE_TUNE_STEPS)
parser.add_argument("--model", default="ultrasound")
parser.add_argument("--baselines", nargs="*", default=["nlm_log", "bm3d_log", "obnlm"])
args = parser.parse_args()

bmodes = [entry for entry in real_ultrasound_items(False)
          if isinstance(entry, str) or entry["name"] == "liver_bmode"]
items, _ = resolve_dataset(bmodes)
halves = {"left": [], "right": []}
for item in items:
    width = item.intensity.shape[1] // 2
    for side, cols in (("left", slice(0, width)), ("right", slice(width, None))):
        half = {"name": f"{item.name}_{side}", "intensity": np.ascontiguousarray(item.intensity[:, cols])}
        if item.mask is not None:
            half["mask"] = np.ascontiguousarray(item.mask[:, cols])
        halves[side].append(half)

for side in ("left", "right"):  # writes <out>/fine_tuned_on_<side>/model.keras
    s2v.fine_tune([h["intensity"] for h in halves[side]], args.model,
                  out_dir=f"{args.out}/fine_tuned_on_{side}", steps=args.steps, verbose=2)
baselines = resolve_methods(args.baselines + [f"s2v:{args.model}"])
for scored, trained in (("right", "left"), ("left", "right")):
    (adapted,) = resolve_methods([f"s2v:{args.out}/fine_tuned_on_{trained}/model.keras"]).values()
    methods = {**baselines, f"s2v:{args.model}+adapted": adapted}
    results = compare(methods, halves[scored], out_dir=f"{args.out}/{scored}_halves", looks=1.0, progress=False)
    print(f"## {scored} halves (adapted model fine-tuned on the {trained} halves)\n")
    print(results.table_markdown())

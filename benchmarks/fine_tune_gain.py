"""Gain of s2v.fine_tune on a new probe, measured on a held-out phantom of that probe (issue 13).

For each chosen held-out probe (s2v.datasets.HELD_OUT_PROBES), a folder of the "user's" scans is
simulated with that probe's settings on NEW phantoms (seeds 3000+, never evaluated) and written
as 8-bit B-mode PNGs; the shipped model is fine-tuned on that folder (s2v.fine_tune, default
options) and both models despeckle the held-out image of the probe (held_out_ultrasound_set,
B-mode input, evaluation only: it is neither trained on nor used to choose anything). Reported:
B-mode PSNR (60 dB, against the PSF-blurred echogenicity) before and after, and the fine-tuning
wall-clock.

    python benchmarks/fine_tune_gain.py [--probes 0 1] [--scans 4] [--steps 300] [--model ultrasound]
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import imageio.v3 as iio
import numpy as np

import s2v
from s2v.datasets import HELD_OUT_PROBES, held_out_ultrasound_set
from s2v.domains import intensity_to_bmode, to_intensity
from s2v.finetune import FINE_TUNE_STEPS
from s2v.metrics import bmode_psnr
from s2v.simulate import simulate_ultrasound, ultrasound_phantom, vessel_phantom

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--probes", type=int, nargs="+", default=[0, 1])
parser.add_argument("--scans", type=int, default=4)
parser.add_argument("--steps", type=int, default=FINE_TUNE_STEPS)
parser.add_argument("--model", default="ultrasound")
parser.add_argument("--json", help="write the results to this file")
args = parser.parse_args()

held_out = held_out_ultrasound_set()
phantoms = {"cysts": ultrasound_phantom, "vessels": vessel_phantom}
results = []
for index in args.probes:
    probe = HELD_OUT_PROBES[index]
    test = held_out[index]
    shape = test["intensity"].shape
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "scans"
        folder.mkdir()
        for k in range(args.scans):
            seed = 3000 + 10 * index + k
            echogenicity, regions = phantoms[probe["phantom"]](shape, seed=seed, return_regions=True,
                                                               **probe["phantom_options"])
            sim = simulate_ultrasound(echogenicity, seed=seed, dynamic_range=60.0,
                                      point_targets=regions["point_targets"], **probe["psf"])
            iio.imwrite(folder / f"scan{k}.png", intensity_to_bmode(sim["intensity"], scale="uint8"))
        started = time.perf_counter()
        tuned = s2v.fine_tune(folder, args.model, out_dir=Path(work) / "tuned", steps=args.steps,
                              domain="bmode", verbose=0)
        seconds = time.perf_counter() - started
    bmode = intensity_to_bmode(test["intensity"], scale="uint8", reference=float(test["intensity"].max()))
    reference = test["blurred_echogenicity"]
    scores = {}
    for name, model in (("shipped", args.model), ("fine-tuned", tuned)):
        out = s2v.despeckle(bmode, model, domain="bmode", progress=False)
        # Back to intensity on the input's scale (0 dB = the noisy maximum) for the B-mode PSNR.
        estimate = to_intensity(out, "bmode", dynamic_range=60.0) * float(test["intensity"].max())
        scores[name] = bmode_psnr(reference, estimate)
    row = {"probe": probe["name"], "seed": test["seed"], "scans": args.scans, "steps": args.steps,
           "fine_tune_s": round(seconds, 1), **{k: round(v, 2) for k, v in scores.items()}}
    results.append(row)
    print(row, flush=True)
print(f"mean gain {np.mean([r['fine-tuned'] - r['shipped'] for r in results]):+.2f} dB")
if args.json:
    Path(args.json).write_text(json.dumps(results, indent=1))

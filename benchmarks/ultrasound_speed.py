"""Inference time per megapixel of the recommended ultrasound pipelines against the classical
filters at their best (BM3D-log with the coloured-noise PSD estimated from the image, NLM-log,
OBNLM), in one run (issue 13's goal: Speckle2Void at least 5 times faster than BM3D-log-PSD).

One simulated phantom (``randomised_ultrasound_set`` seed 650, a validation seed) of
``--shape``; each method through its public entry point, timed as the best of ``--repeats``
runs after a warm-up (:func:`timing.best_time`): ``s2v.despeckle`` of the 8-bit B-mode (the
B-mode pipeline: conversion, the model's stride rule, back to B-mode) and of the intensity,
and the baselines on the intensity. Ratios > 1: Speckle2Void is faster.

    python benchmarks/ultrasound_speed.py [--model ultrasound] [--shape 513 385] [--repeats 2]
"""
import argparse
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from timing import best_time

import s2v
from s2v.baselines import denoise_bm3d_log, denoise_nlm_log, denoise_obnlm
from s2v.datasets import randomised_ultrasound_set
from s2v.domains import intensity_to_bmode

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model", default="ultrasound")
parser.add_argument("--shape", type=int, nargs=2, default=(513, 385))
parser.add_argument("--repeats", type=int, default=2)
args = parser.parse_args()

sim = randomised_ultrasound_set(1, seed=650, shape=tuple(args.shape))[0]
intensity = sim["intensity"]
bmode = intensity_to_bmode(intensity, scale="uint8")
model = s2v.load_model(args.model)
megapixels = intensity.size / 1e6
methods = {
    f"s2v {args.model} (B-mode in/out)": lambda: s2v.despeckle(bmode, model, domain="bmode", progress=False),
    f"s2v {args.model} (intensity)": lambda: s2v.despeckle(intensity, model, progress=False),
    "BM3D-log, coloured PSD": lambda: denoise_bm3d_log(intensity, noise_psd="auto"),
    "NLM-log": lambda: denoise_nlm_log(intensity),
    "OBNLM": lambda: denoise_obnlm(intensity),
}
seconds = {name: best_time(fn, args.repeats) for name, fn in methods.items()}
print(f"{platform.machine()}, {os.cpu_count()} CPUs; image {intensity.shape} ({megapixels:.2f} MP); "
      f"stride measured on it: {model.prediction_stride(intensity)}")
reference = seconds[f"s2v {args.model} (B-mode in/out)"]
for name, value in seconds.items():
    print(f"{name:34s} {value / megapixels:8.2f} s/MP   x{value / reference:6.2f} the B-mode pipeline's time")

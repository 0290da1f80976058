"""Pixel-shuffle inference variants of the shipped `ultrasound` model (issue 13).

Validation phantoms only (simulated_ultrasound_set seeds 600-603, the training probe ranges;
never the held-out set): B-mode PSNR of the posterior mean when the model trained at stride 4
predicts at stride 1-4, with and without averaging over all stride x stride mosaic offsets,
against the noisy input and NLM-log.  Run: python benchmarks/ultrasound_pd_inference.py
"""
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import s2v
from s2v.datasets import simulated_ultrasound_set
from s2v.metrics import bmode_psnr
from s2v.baselines import denoise_nlm_log

val = simulated_ultrasound_set(4, seed=600)
base = s2v.load_model("ultrasound")

def with_stride(model, s):
    """The same weights predicting through a pixel shuffle of stride ``s``."""
    m = s2v.Speckle2Void(model.s2v_config.replace(pixel_shuffle=s))
    m.set_weights(model.get_weights())
    return m

def offsets_avg(model, y, s):
    """Mean of the estimates over the s*s mosaic offsets (reflect-padded top/left by dy, dx)."""
    acc = np.zeros_like(y, dtype=np.float64)
    for dy in range(s):
        for dx in range(s):
            p = np.pad(y, ((dy, 0), (dx, 0)), mode="reflect")
            acc += model.predict_maps(p, outputs=("posterior_mean",), progress=False)["posterior_mean"][dy:, dx:]
    return (acc / s**2).astype(np.float32)

models = {s: with_stride(base, s) for s in (1, 2, 3, 4)}
rows = {}
for k, sim in enumerate(val):
    y, ref = sim["intensity"], sim["blurred_echogenicity"]
    rows.setdefault("noisy", []).append(bmode_psnr(ref, y))
    rows.setdefault("nlm_log", []).append(bmode_psnr(ref, denoise_nlm_log(y)))
    for s in (1, 2, 3, 4):
        e = models[s].predict_maps(y, outputs=("posterior_mean",), progress=False)["posterior_mean"]
        rows.setdefault(f"stride{s}", []).append(bmode_psnr(ref, e))
    for s in (2, 3, 4):
        rows.setdefault(f"stride{s}+offsets", []).append(bmode_psnr(ref, offsets_avg(models[s], y, s)))
    print(k, {n: round(v[-1], 2) for n, v in rows.items()}, flush=True)
for n, v in rows.items():
    print(f"{n:20s} {np.mean(v):.2f}")

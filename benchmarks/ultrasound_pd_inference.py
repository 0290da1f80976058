"""Pixel-shuffle inference variants of an ultrasound model (issue 13), on VALIDATION phantoms.

For each variant (a fixed prediction stride, or the stride measured on each image by
:func:`s2v.strides.stride_from_correlation` at a threshold; one mosaic grid or the mean over
all mosaic offsets, or with the log-domain notch of :func:`s2v.strides.remove_mosaic` at
width 0.25) the mean B-mode PSNR (60 dB, against the PSF-blurred echogenicity) and
the largest mosaic peak of the output's B-mode spectrum (:func:`s2v.metrics.mosaic_peak` at
the stride used; about 1 without a mosaic), next to the noisy input and NLM-log. The
validation phantoms are ``randomised_ultrasound_set`` seeds 600-607 (``--set randomised``,
the default) or ``simulated_ultrasound_set`` seeds 600-603 (``--set training``): neither
trained on nor held out (the held-out seeds 1000+ are never used to choose).

    python benchmarks/ultrasound_pd_inference.py [--model ultrasound] [--set randomised]
"""
import argparse
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np

import s2v
from s2v.baselines import denoise_nlm_log
from s2v.datasets import randomised_ultrasound_set, simulated_ultrasound_set
from s2v.domains import intensity_to_bmode
from s2v.metrics import bmode_psnr, mosaic_peak
from s2v.strides import stride_from_correlation

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model", default="ultrasound", help="shipped name or .keras path")
parser.add_argument("--set", choices=["randomised", "training"], default="randomised")
args = parser.parse_args()

validation = (randomised_ultrasound_set(8, seed=600) if args.set == "randomised"
              else simulated_ultrasound_set(4, seed=600))
model = s2v.load_model(args.model)
variants = {f"stride {s}": {"stride": s} for s in (1, 2, 3, 4)}
variants.update({f"rho<={t}": {"threshold": t} for t in (0.3, 0.5, 0.7)})
rows = {"noisy": [], "nlm_log": []}
peaks = {}
for index, sim in enumerate(validation):
    y, reference = sim["intensity"], sim["blurred_echogenicity"]
    rows["noisy"].append(bmode_psnr(reference, y))
    rows["nlm_log"].append(bmode_psnr(reference, denoise_nlm_log(y)))
    for name, variant in variants.items():
        stride = variant.get("stride") or stride_from_correlation(y, threshold=variant["threshold"])
        for suffix, options in (("", {}), (" + offsets", {"offsets": True}),
                                (" + notch", {"mosaic_notch": 0.25})):
            key = name + suffix
            if options and stride == 1:  # no mosaic to average or notch: the plain estimate
                rows.setdefault(key, []).append(rows[name][-1])
                continue
            estimate = model.predict_maps(y, pixel_shuffle=stride, progress=False, outputs=("posterior_mean",),
                                          **{"offsets": False, "mosaic_notch": 0.0, **options})["posterior_mean"]
            rows.setdefault(key, []).append(bmode_psnr(reference, estimate))
            if stride > 1:
                bmode = intensity_to_bmode(estimate, dynamic_range=60.0, scale="db",
                                           reference=float(reference.max()))
                peaks.setdefault(key, []).append(mosaic_peak(bmode, stride))
    print(index, {name: round(values[-1], 2) for name, values in rows.items()}, flush=True)
print(f"\n{'variant':24s} B-mode PSNR   largest mosaic peak")
for name, values in rows.items():
    peak = f"{max(peaks[name]):10.1f}" if name in peaks else ""
    print(f"{name:24s} {np.mean(values):8.2f}   {peak}")

"""Choose among ultrasound checkpoints on VALIDATION phantoms, as the shipped pipeline predicts.

Each checkpoint gets the prediction-time settings of the shipped ``ultrasound`` model (the
``predict_*`` fields of its configuration: stride threshold, mosaic notch, ratio calibration),
then despeckles the validation phantoms ``randomised_ultrasound_set`` seeds 600-607 (neither
trained on nor held out; ``--probes randomised-reflectors``: with bright specular interfaces); printed: mean B-mode PSNR (60 dB, against the PSF-blurred
echogenicity), mean gCNR over the anechoic cysts and vessels, and the amplitude PSNR (peak of
the true amplitude), which, unlike the log display, weighs errors on bright structures. The held-out seeds 1000+ and
2000+ are never used to choose.

    python scripts/validate_ultrasound_checkpoints.py runs/ultrasound/checkpoints/ckpt-0000{3000,3500}.keras \
        [--set predict_point_target_share=0.001]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sys
from pathlib import Path

import numpy as np

import s2v
from s2v.compare import point_blur
from s2v.metrics import bmode_psnr, enl, gcnr, psnr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ship_checkpoint import parse_settings  # noqa: E402
from train_shipped import ultrasound_validation_simulations  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("checkpoints", nargs="+", help=".keras files or shipped names")
parser.add_argument("--like", default="ultrasound", help="shipped model whose prediction settings to use")
parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override one of those settings (a predict_* field), e.g. predict_point_target_share=0.001")
parser.add_argument("--baselines", nargs="*", default=[], help="classical filters scored on the same phantoms "
                    "(names of s2v.compare.resolve_methods, at their defaults), e.g. nlm_log")
parser.add_argument("--probes", choices=["randomised", "randomised-reflectors", "scanner", "bmode8"],
                    default="randomised",
                    help="validation phantoms: randomised_ultrasound_set seeds 600-607, without or with "
                    "bright specular interfaces; 'scanner': the same with reflectors, exported as 8-bit "
                    "scanner B-modes (s2v.datasets.scanner_ultrasound_set) and read back at 60 dB; "
                    "'bmode8': the randomised ones as their exact 60 dB 8-bit B-mode, read back at 60 dB "
                    "(s2v.study.simulation_items(bmode8=True), the held-out 8-bit benchmark's reading)")
args = parser.parse_args()

shipped = s2v.load_model(args.like).s2v_config
settings = {k: v for k, v in shipped.to_dict().items() if k.startswith("predict_")}
settings.update(parse_settings(args.set, shipped, parser))
if args.probes == "bmode8":
    from s2v.study import bmode8_intensity

    phantoms = [{**sim, "intensity": bmode8_intensity(sim)}
                for sim in ultrasound_validation_simulations(8, "randomised", seed=600)]
else:
    phantoms = ultrasound_validation_simulations(8, args.probes, seed=600)
print(f"prediction settings of {args.like}: {settings}")
print("| checkpoint | B-mode PSNR (dB) | gCNR | amplitude PSNR (dB) | point FWHM x | ENL |\n"
      "|---|---:|---:|---:|---:|---:|")
# One signature for all: intensity in, intensity out (the filters are told L = 1, as in the study).
denoisers = {name: (lambda image, model=s2v.load_model(name).with_prediction_settings(**settings):
                    model.predict(image, progress=False))
             for name in args.checkpoints}
if args.baselines:
    from s2v.compare import resolve_methods

    denoisers.update({name: (lambda image, denoise=denoise: denoise(image, looks=1.0))
                      for name, denoise in resolve_methods(args.baselines).items()})
for name, denoise in denoisers.items():
    psnrs, gcnrs, amplitude_psnrs, fwhms, enls = [], [], [], [], []
    for sim in phantoms:
        estimate = denoise(sim["intensity"])
        points = [tuple(int(v) for v in p) for p in sim["regions"]["point_targets"]]
        fwhms.append(point_blur(np.sqrt(sim["blurred_echogenicity"]), np.sqrt(estimate), points))
        enls.append(enl(estimate[sim["regions"]["homogeneous"]]))
        psnrs.append(bmode_psnr(sim["blurred_echogenicity"], estimate, dynamic_range=60.0))
        truth = np.sqrt(sim["blurred_echogenicity"])  # amplitude, peak of the truth: bright errors weigh
        envelope = np.sqrt(estimate)
        amplitude_psnrs.append(psnr(truth, envelope, data_range=float(truth.max())))
        gcnrs += [gcnr(envelope[c["inside"]], envelope[c["background"]])
                  for c in sim["regions"]["cysts"] if c["kind"] == "anechoic"]
    print(f"| {name} | {np.mean(psnrs):.2f} | {np.mean(gcnrs):.3f} | {np.mean(amplitude_psnrs):.2f} | "
          f"{np.nanmedian(fwhms):.2f} | {np.mean(enls):.1f} |", flush=True)

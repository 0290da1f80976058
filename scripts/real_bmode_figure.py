"""README's real-B-mode figure: the liver B-mode (never trained on) despeckled by the shipped
``ultrasound`` and ``ultrasound-bmode`` (the B-mode default) models and by the classical filters
of highest ENL there (NLM-log, OBNLM), with the ratio images noisy / estimate under each (pure
speckle of mean 1 when only speckle is removed).

    python scripts/real_bmode_figure.py [--out docs/figures/liver_bmode_s2v_vs_nlm.png]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import s2v
from s2v.baselines import denoise_nlm_log, denoise_obnlm
from s2v.plot import montage
from s2v.study import real_ultrasound_items

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="docs/figures/liver_bmode_s2v_vs_nlm.png")
args = parser.parse_args()

# The study's liver item (its 60 dB conversion), present only with ../shared/data.
liver = next((item for item in real_ultrasound_items(False)
              if isinstance(item, dict) and item["name"] == "liver_bmode"), None)
if liver is None:
    raise SystemExit("needs ../shared/data/ultrasound/obnlm_liver_convex_bmode.png")
noisy = liver["intensity"].astype("float32")
estimates = {"nlm_log": denoise_nlm_log(noisy, looks=1.0), "obnlm": denoise_obnlm(noisy, looks=1.0),
             **{f"s2v:{name}": s2v.despeckle(noisy, model=name, domain="intensity", looks=1.0, progress=False)
                for name in ("ultrasound", "ultrasound-bmode")}}
montage(estimates, noisy=noisy, ratio=True, columns=5, insets=[[200, 200, 300, 300]],
        title="liver B-mode (OBNLM demo image, never trained on), 60 dB assumed", path=args.out)
print(args.out)

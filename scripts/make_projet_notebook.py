"""Write projet.ipynb (the study notebook) from its cells; run once, outputs stripped."""

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# Despeckling ultrasound images: which method is the most promising?

The study of the **s2v** project. It compares, with numbers, Speckle2Void (self-supervised, Bayesian
blind-spot network), the other paper's method (AP-BSN, `autre_papier/`) and the classical filters,
on (a) simulated ultrasound with ground truth, (b) real IQ and PICMUS phantom envelopes, (c) real
B-mode images, and (d) **your own images** (one cell below). Every number comes from `s2v`;
`s2v study` (or `make demo`) regenerates all tables and figures into `results/`.

Set `S2V_QUICK=1` in the environment for a tiny run (this is how the tests execute the notebook)."""),
    md("""## 1. State of the art, and what each method assumes about the speckle

Fully developed speckle is **multiplicative**: intensity `y = x · n`, `n ~ Gamma(L, 1/L)` (mean 1,
variance 1/L; L = 1 for a single look), or Rayleigh-distributed envelope (SNR 1.91). In ultrasound and
SAR it is also **spatially correlated**, by the system's point-spread function.

| family | methods | assumption on the speckle | needs |
|---|---|---|---|
| local statistics | Lee, Kuan, Frost (+ enhanced Lee) | multiplicative, locally stationary, *uncorrelated* | L |
| diffusion | SRAD (Yu & Acton 2002) | multiplicative; the coefficient of variation marks edges | L (q0), iterations |
| non-local, ultrasound | OBNLM (Coupé et al. 2009) | Pearson-type noise on the B-mode-like image; similar patches share the same x | h, patch, search window |
| homomorphic | NL-means-log, BM3D-log | after log, additive noise with known bias ψ(L) − ln L and variance ψ₁(L), *white* | L |
| supervised CNN | SAR-CNN, ID-CNN, ... | learns from clean targets | clean images (none exist in ultrasound) |
| self-supervised blind-spot | Noise2Void, Laine et al. 2019, **Speckle2Void** (TGRS 2022) | noise independent between pixels: the network predicts a pixel from its neighbours only; Speckle2Void adds the Gamma × inverse-gamma Bayesian posterior, shifted receptive fields and a decorrelator for correlated speckle | only noisy images |
| pixel-shuffle blind-spot | **AP-BSN** (CVPR 2022) | correlation is short-range: sub-sampling with stride s makes neighbours independent | only noisy images |

Speckle2Self (Medical Image Analysis 2025) claims blind-spot networks cannot handle ultrasound speckle
because of its spatial dependency. Section 4 answers with numbers: blind-spot networks fail on raw
correlated speckle (they learn to copy the correlated neighbours), and work once the correlation is
broken — by whitening complex IQ (`s2v.decorrelation`) or by pixel shuffle (B-mode)."""),
    code("""import functools
import os
from pathlib import Path

from IPython.display import Image, Markdown, display

import s2v
from s2v import study
from s2v.compare import compare

QUICK = os.environ.get("S2V_QUICK") == "1"
OUT = Path(os.environ.get("S2V_OUTPUT_DIR", "results")) / "projet"
print("shipped checkpoints:", sorted(s2v.list_checkpoints()), "| quick mode:", QUICK)"""),
    md("""## 2. Reproducing the paper's claim on the single-look synthetic protocol

Set12 images 01–10, clean intensity ((gray+1)/256)², Gamma(1) speckle. Speckle2Void self-supervised
(`synthetic-L1`, trained on noisy BSD68 only) against the **same network, data and budget trained
supervised** (`synthetic-L1-supervised`), BM3D-log and the other baselines. PSNR/SSIM on amplitude,
peak 1."""),
    code("""synthetic = compare(study.synthetic_methods(QUICK), study.synthetic_items(QUICK), out_dir=OUT / "synthetic",
                    looks=1.0, data_range=1.0, progress=not QUICK)
display(Markdown(synthetic.table_markdown()))"""),
    md("""The blind spot, measured: gradient of one output pixel with respect to the input. With shift 1 the
pixel itself is hidden; with the training shift "3" its vertical neighbours are hidden too."""),
    code("""if "synthetic-L1" in s2v.list_checkpoints():
    display(Image(filename=str(study.receptive_field_figure(OUT / "receptive_field.png", s2v.load_model("synthetic-L1")))))"""),
    md("""## 3. Simulated ultrasound with ground truth

Phantoms (anechoic and hyperechoic cysts, layers, point targets, organ texture) never seen in
training, imaged through probes (3.5–7.5 MHz, beam width 0.4–0.9 mm) also drawn at random:
complex IQ with **correlated** speckle. Ground truth = PSF-blurred echogenicity. gCNR on the anechoic
cysts."""),
    code("""methods = study.ultrasound_methods(QUICK)
simulated = compare(methods, study.simulated_ultrasound_items(QUICK), out_dir=OUT / "ultrasound_simulated",
                    looks=1.0, progress=not QUICK)
display(Markdown(simulated.table_markdown()))
display(Image(filename=str(simulated.figure_paths[0])))"""),
    md("""## 4. Real ultrasound: IQ, PICMUS phantom, B-mode images

No ground truth: ENL in homogeneous regions, gCNR between cysts and tissue, and the ratio image
(noisy / estimate: mean 1 and variance 1/L when only speckle is removed, no structure visible)."""),
    code("""real = compare(methods, study.real_ultrasound_items(QUICK), out_dir=OUT / "ultrasound_real", looks=1.0,
               progress=not QUICK)
display(Markdown(real.table_markdown()))
for path in real.figure_paths[:3]:
    display(Image(filename=str(path)))"""),
    md("""## 5. Your own images

Set `USER_FOLDER` to a folder of your images (PNG/JPEG/TIFF B-mode, DICOM, .mat IQ/RF, .npy, HDF5: any
format `s2v.io` reads; B-mode is converted to intensity with a 60 dB dynamic range). All methods run
on them with automatic regions of interest (edit `regions.json` in the output folder and pass it
back with `regions=` to choose your own). Set `TRAIN_ON_USER = True` to train Speckle2Void on your
images, self-supervised — the point of the method: no clean image is needed."""),
    code("""USER_FOLDER = os.environ.get("S2V_USER_FOLDER")  # e.g. "/data/my_ultrasound_images"
TRAIN_ON_USER = False

if USER_FOLDER:
    user = study.run_on_folder(USER_FOLDER, OUT / "user_folder", progress=not QUICK)
    display(Markdown(user.table_markdown()))
if USER_FOLDER and TRAIN_ON_USER:
    files = sorted(p for p in Path(USER_FOLDER).iterdir() if p.is_file())
    user_model = s2v.train(files, s2v.S2VConfig.from_preset("cpu", pixel_shuffle=4), out_dir=OUT / "user_training")
    user = study.run_on_folder(USER_FOLDER, OUT / "user_folder_trained",
                               methods={"s2v (your images)": functools.partial(s2v.despeckle, model=user_model,
                                                                               progress=False)})
    display(Markdown(user.table_markdown()))"""),
    md("""## 6. Conclusion (from the measurements of the full run, `make demo`; also in the README)

**The most promising method for ultrasound is Speckle2Void with pixel shuffle**, trained
self-supervised on ultrasound intensity (`s2v_checkpoint/ultrasound`). On unseen simulated
phantoms it has the best PSNR (27.99 dB: +4.7 dB over the noisy input, +0.6 dB over OBNLM, the
best classical filter) and SSIM (0.873 against 0.799), the best result on the B-mode phantom
(28.77 dB against 27.92 for OBNLM), the highest ENL on real data (17.7 against 9.0 for NLM-log and
13.4 for AP-BSN), and the only ratio image with the statistics of pure speckle (mean 1.00-1.03,
variance about 1/L): it removes speckle and nothing else on average, where the classical filters
darken the image (ratio mean 0.73-0.89).

**Its limits**: it loses contrast on small anechoic cysts (gCNR 0.905 against 0.957 for OBNLM;
on real images NLM-log has the best gCNR, 0.676 against 0.530), the stride-4 mosaic leaves a faint
periodic texture, and it was trained for 2000 CPU steps only. Next: AP-BSN's asymmetric strides
(train 4, predict 2) with averaging over shifted mosaics, and a GPU budget. BM3D-log, the best
classical method on white speckle (24.34 dB on Set12), fails on correlated ultrasound speckle.

**Blind-spot networks and ultrasound speckle (the Speckle2Self claim)**: the same network, data
and budget *without* pixel shuffle gains only 1.1 dB and leaves ENL at 1.5: on raw correlated
speckle a blind-spot network learns to copy the noise from correlated neighbours, as the claim
says. With the correlation broken (pixel shuffle; or whitening when IQ is available) it is the best
method measured here: the claim holds for naive blind-spot networks, not for blind-spot networks
given decorrelated input.

**The paper's synthetic claim** was not reproduced at our budget (400 times fewer training
patches than the paper): Speckle2Void self-supervised 21.29 dB against BM3D-log 24.34 dB on Set12;
the supervised twin (MSE on intensity) reached only 17.15 dB at the same budget. Closing the gap
needs the paper's budget on a GPU."""),
]
nb = nbf.v4.new_notebook()
nb.cells = cells
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbf.write(nb, "projet.ipynb")
print("written projet.ipynb")

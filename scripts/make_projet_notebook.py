"""Write projet.ipynb (the study notebook) from its cells, outputs stripped.

The notebook reads the results ``s2v study`` (``make demo``) writes, running the study first
when they are missing; tables, figures and the conclusion all come from library calls, so
it holds no hand-typed number. Run ``python scripts/make_projet_notebook.py [OUT]`` after
editing (default ``OUT``: the repository's ``projet.ipynb``).
"""

import sys
from pathlib import Path

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# Despeckling ultrasound images: which method is the most promising?

The study of the **s2v** project. It compares, with numbers, Speckle2Void (self-supervised, Bayesian
blind-spot network), the other paper's method (AP-BSN, `autre_papier/`) and the classical filters,
on (a) simulated ultrasound with ground truth, (b) real IQ and PICMUS phantom envelopes, (c) real
B-mode images, and (d) **your own images** (one cell below). Every number, figure and the conclusion
come from `s2v`: the tables are the ones `s2v study` (or `make demo`) writes into `results/` (run here
first when that folder holds none), shown as pandas DataFrames; the figures are drawn by `s2v.plot`.

Environment: `S2V_OUTPUT_DIR` is the results folder (default `results`); `S2V_QUICK=1` makes the
study tiny when it has to be run (this is how the tests execute the notebook)."""),
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
because of its spatial dependency: on raw correlated speckle a blind-spot network can learn to copy the
correlated neighbours. Section 6 puts the claim to the test with the same network trained with and
without pixel shuffle, which breaks the correlation (whitening complex IQ, `s2v.decorrelation`, is the
other way)."""),
    code("""%matplotlib inline
import functools
import os
from pathlib import Path

from IPython.display import Image, Markdown, display

import s2v
from s2v import plot, study
from s2v.items import resolve_dataset
from s2v.pipeline import despeckle_folder
from s2v.results import load_results

QUICK = os.environ.get("S2V_QUICK") == "1"
RESULTS = Path(os.environ.get("S2V_OUTPUT_DIR", "results"))  # what `s2v study --out results` writes
if not (RESULTS / "summary.md").is_file():
    print("no study results in", RESULTS, "-> running the study (`make demo` does the same)")
    study.run_study(RESULTS, quick=QUICK, progress=not QUICK)
print("results:", RESULTS, "| shipped checkpoints:", sorted(s2v.list_checkpoints()), "| quick mode:", QUICK)"""),
    md("""## 2. Reproducing the paper's claim on the single-look synthetic protocol

Set12 images 01–10, clean intensity ((gray+1)/256)², Gamma(1) speckle. Speckle2Void self-supervised
(`synthetic-L1`, trained on noisy BSD68 only) against the **same network, data and budget trained
supervised** (`synthetic-L1-supervised`), BM3D-log and the other baselines. PSNR/SSIM on amplitude,
peak 1. Each table is the run's summary (`load_results(...).to_dataframe()`): mean and population std
over images and realisations, one row per method; metrics that do not apply are left out."""),
    code("""synthetic = load_results(RESULTS / "synthetic")
synthetic.to_dataframe().dropna(axis="columns", how="all")"""),
    md("""The blind spot, measured: gradient of one output pixel with respect to the input. With shift 1 the
pixel itself is hidden; with the training shift "3" its vertical neighbours are hidden too (the figure
`s2v.study.receptive_field_figure` wrote for the study)."""),
    code("""if (RESULTS / "receptive_field.png").is_file():
    display(Image(filename=str(RESULTS / "receptive_field.png")))"""),
    md("""## 3. Simulated ultrasound with ground truth

The held-out set `s2v.datasets.held_out_ultrasound_set()` (seeds 1000–1007, never used for training
or for choosing parameters): phantoms with cysts, layers, point targets and organ texture, and a
phantom type absent from training (oblique vessels, irregular lesions), imaged through probes
**outside** the training ranges (2.5–10 MHz, bandwidth 0.35–0.95, beam 0.3–1.2 mm, a residual
carrier, finer lateral sampling): complex IQ with **correlated** speckle; the last one also as an
8-bit 60 dB B-mode. Ground truth = PSF-blurred echogenicity. gCNR on the anechoic cysts and
vessels; B-mode PSNR/SSIM on the 60 dB display; point FWHM × = blur of the point targets (1 = none)."""),
    code("""simulated = load_results(RESULTS / "ultrasound_simulated")
simulated.to_dataframe().dropna(axis="columns", how="all")"""),
    md("""## 4. Real ultrasound: IQ, PICMUS phantom, B-mode images

No ground truth: ENL in homogeneous regions, gCNR between cysts and tissue, and the ratio image
(noisy / estimate: mean 1 and variance 1/L when only speckle is removed, no structure visible)."""),
    code("""real = load_results(RESULTS / "ultrasound_real")
real.to_dataframe().dropna(axis="columns", how="all")"""),
    md("""### Figures

Every method of the ultrasound study on the first simulated phantom and the first real image, drawn
here by `s2v.plot`: a B-mode montage on one grey scale (0 dB at the ground truth's, else the input's,
99.5th percentile + 3 dB; 60 dB range; the phantom's smallest anechoic cyst and first point target
zoomed), then the ratio images noisy / estimate. The study saved the same views, with regions and
profiles, under `RESULTS/<table>/figures/`."""),
    code("""methods = study.ultrasound_methods(QUICK)
shown, _ = resolve_dataset([study.simulated_ultrasound_items(QUICK)[0], study.real_ultrasound_items(QUICK)[0]])
for item in shown:
    estimates = {name: denoise(item.intensity, looks=1.0) for name, denoise in methods.items()}
    display(plot.montage(estimates, noisy=item.intensity, ground_truth=item.ground_truth, insets=item.insets,
                         title=item.name))
    display(plot.ratio_montage(item.intensity, estimates, mask=item.mask, title=item.name))"""),
    md("""## 5. Your own images

Set `USER_FOLDER` to a folder of your images (PNG/JPEG/TIFF B-mode, DICOM, .mat IQ/RF, .npy, HDF5: any
format `s2v.io` reads; B-mode is converted to intensity with a 60 dB dynamic range). All methods run
on them with automatic regions of interest (edit `regions.json` in the output folder and pass it
back with `regions=` to choose your own), and `despeckle_folder` writes every file despeckled by the
shipped Speckle2Void model of its domain (every frame of a cine loop, in its own container). Set
`TRAIN_ON_USER = True` to fine-tune the shipped `ultrasound` model on your images (`s2v.fine_tune`,
self-supervised — the point of the method: no clean image is needed; 300 steps, a few minutes on a
CPU, resumable) and compare it with the shipped one."""),
    code("""USER_FOLDER = os.environ.get("S2V_USER_FOLDER")  # e.g. "/data/my_ultrasound_images"
TRAIN_ON_USER = False

if USER_FOLDER:
    user = study.run_on_folder(USER_FOLDER, RESULTS / "user_folder", progress=not QUICK)
    display(user.to_dataframe().dropna(axis="columns", how="all"))
    written = despeckle_folder(USER_FOLDER, RESULTS / "user_folder_despeckled", progress=not QUICK)
    print(len(written), "files despeckled into", RESULTS / "user_folder_despeckled")
if USER_FOLDER and TRAIN_ON_USER:
    user_model = s2v.fine_tune(USER_FOLDER, "ultrasound", out_dir=RESULTS / "user_fine_tuned", verbose=0)
    user = study.run_on_folder(USER_FOLDER, RESULTS / "user_folder_fine_tuned",
                               methods={"s2v:ultrasound": functools.partial(s2v.despeckle, model="ultrasound",
                                                                            progress=False),
                                        "s2v fine-tuned on your images": functools.partial(
                                            s2v.despeckle, model=user_model, progress=False)})
    display(user.to_dataframe().dropna(axis="columns", how="all"))"""),
    md("""## 6. Conclusion, computed

The most promising method for ultrasound is named by a rule stated before the numbers were seen,
`s2v.study.CONCLUSION_RULE`, applied by `s2v.study.ultrasound_conclusion` to the tables above: rank the
methods on the held-out simulations, keep only those whose ratio image on the real images has the mean
of pure speckle — each method checked on the real images it never trained on (`s2v.study.TRAINED_ON`). Below: the rule, the winner and every method's ranks (`why not` says what excluded a method).
With `S2V_QUICK=1` the tables are tiny and the outcome only shows that the pipeline runs."""),
    code("""conclusion = study.ultrasound_conclusion(simulated, real)  # real-data check on held-out images only
display(Markdown(f"**Rule.** {study.CONCLUSION_RULE.text}\\n\\n"
                 f"**Most promising method for ultrasound: {conclusion.winner or 'none eligible'}.**"))
conclusion.to_dataframe()"""),
    md("""**Blind-spot networks and ultrasound speckle (the Speckle2Self claim).** The same Speckle2Void
network, data and budget with pixel shuffle (`s2v:ultrasound`) and without (`s2v:ultrasound-noshuffle`),
beside the noisy input, on the simulated and the real images: if the claim held for every blind-spot
network, breaking the correlation would not help."""),
    code("""blind_spot = r"^(noisy|s2v:ultrasound.*)$"
display(simulated.to_dataframe().filter(regex=blind_spot, axis="index")[["psnr_mean", "bmode_ssim_mean", "enl_mean", "gcnr_mean"]])
real.to_dataframe().filter(regex=blind_spot, axis="index")[["enl_mean", "gcnr_mean", "ratio_mean_mean", "ratio_var_mean"]]"""),
]
nb = nbf.v4.new_notebook()
nb.cells = cells
for number, cell in enumerate(nb.cells):  # stable ids: regenerating changes only what was edited
    cell.id = f"projet-{number:02d}"
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "projet.ipynb"
nbf.write(nb, target)
print("written", target)

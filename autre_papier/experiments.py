"""Measurements behind the README: step times of the configurations, log-L1 vs Gamma loss.

Run from the repository root::

    python -m autre_papier.experiments steptime [--out autre_papier/results/steptime.json]
    python -m autre_papier.experiments losses --steps 400 [--model-dir runs/apbsn_losses]
    python -m autre_papier.experiments sizes 16x4:400 32x4:120
    python -m autre_papier.experiments evaluate --model autre_papier/checkpoint

``steptime`` times training steps of the "paper" configuration and of lighter
candidates (the "cpu" preset was chosen from this table). ``losses`` trains
the same network with the paper's L1 loss on log-intensity and with the
Gamma likelihood of Speckle2Void on intensity, on simulated ultrasound
B-mode, and scores both against the ground truth (:func:`score_estimate`).
``sizes`` trains network sizes for the same CPU time; ``evaluate`` scores a
trained model beside the baselines, on simulated and real ultrasound, in the
study's harness. Results go to ``autre_papier/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from s2v.utils import atomic_write_text

#: Candidates for the CPU configuration: (base_channels, num_modules).
CANDIDATES = ((16, 4), (32, 2), (32, 4), (48, 4), (64, 6), (128, 9))

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _threads() -> dict:
    import tensorflow as tf

    # 0 means "TensorFlow's default"; the environment variables say what was asked for.
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "env": {k: os.environ.get(k) for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                                                   "OMP_NUM_THREADS")},
            "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine()}


def time_training_step(config, *, steps: int = 3, seed: int = 0) -> dict:
    """Seconds per training step of ``config`` (after one untimed compiling step).

    The batch is ``config.batch_size`` crops of ``config.patch_size`` pixels of
    exponential (single-look) speckle. Reported: the median wall-clock time of
    ``steps`` steps and the median CPU time of this process (all its threads),
    which depends much less on other jobs sharing the machine.
    """
    from autre_papier.apbsn import APBSN, PatchSampler, _optimizer

    rng = np.random.default_rng(seed)
    image = rng.exponential(size=(2 * config.patch_size, 2 * config.patch_size)).astype(np.float32)
    sampler = PatchSampler([image], config.patch_size, seed=seed)
    model = APBSN(config)
    model.compile(optimizer=_optimizer(config))
    model.train_on_batch(*sampler.batch(config.batch_size))
    wall, cpu = [], []
    for _ in range(steps):
        batch = sampler.batch(config.batch_size)
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(*batch)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"base_channels": config.base_channels, "num_modules": config.num_modules,
            "patch_size": config.patch_size, "batch_size": config.batch_size,
            "parameters": int(model.count_params()), "wall_s_per_step": float(np.median(wall)),
            "cpu_s_per_step": float(np.median(cpu)), "steps_timed": steps,
            "load_average_1min": os.getloadavg()[0]}


def score_estimate(item: dict, estimate: np.ndarray, *, dynamic_range: float = 60.0) -> dict:
    """Scores of one estimate against an item's ground truth (intensity).

    ``psnr_db`` / ``ssim_db``: on the B-mode display, both images in dB relative
    to the ground-truth maximum, clipped to ``[-dynamic_range, 0]``, data range
    ``dynamic_range``: what a reader of the B-mode picture sees.
    ``psnr_amp`` / ``ssim_amp``: the harness's convention (amplitudes, peak =
    maximum ground-truth amplitude). ``gcnr``: mean over the anechoic-cyst
    pairs (amplitude). ``bias_db``: mean of ``10 log10(estimate / truth)`` in
    the homogeneous band (0 for an unbiased estimate in the log domain).
    """
    from s2v import metrics

    truth = item["ground_truth"]
    reference = float(truth.max())

    def db(image):
        return np.clip(10 * np.log10(np.maximum(image, 1e-30) / reference), -dynamic_range, 0.0)

    amp_truth, amp_est = np.sqrt(truth), np.sqrt(np.maximum(estimate, 0))
    peak = float(amp_truth.max())
    homogeneous = item["regions"]["homogeneous"][0]
    return {
        "psnr_db": metrics.psnr(db(truth), db(estimate), data_range=dynamic_range),
        "ssim_db": metrics.ssim(db(truth), db(estimate), data_range=dynamic_range),
        "psnr_amp": metrics.psnr(amp_truth, amp_est, data_range=peak),
        "ssim_amp": metrics.ssim(amp_truth, amp_est, data_range=peak),
        "gcnr": float(np.mean([metrics.gcnr(amp_est[p["target"]], amp_est[p["background"]])
                               for p in item["regions"]["pairs"]])),
        "bias_db": float(np.mean(10 * np.log10(np.maximum(estimate[homogeneous], 1e-30)
                                               / truth[homogeneous]))),
    }


def mean_scores(rows: list[dict]) -> dict:
    """Average of score dicts over test images."""
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def compare_sizes(budgets: dict[tuple[int, int], int], *, train_count: int = 6, test_count: int = 2,
                  seed: int = 0) -> dict:
    """Quality of network sizes trained for about the same CPU time.

    ``budgets`` maps ``(base_channels, num_modules)`` to a number of steps
    (chosen from ``steptime`` so that every size gets the same CPU seconds).
    Every size uses the "cpu" preset otherwise (log-L1 loss, R^3 at test).
    """
    from autre_papier.apbsn import APBSNConfig, train_apbsn
    from autre_papier.data import simulated_items

    train = simulated_items(train_count, seed=seed)
    test = simulated_items(test_count, seed=seed + 1000)
    rows = []
    for (channels, modules), steps in budgets.items():
        config = APBSNConfig.from_preset("cpu", base_channels=channels, num_modules=modules,
                                         total_steps=steps, checkpoint_every=steps, seed=seed)
        start_cpu = time.process_time()
        model, info = train_apbsn([i["intensity"] for i in train], config, verbose=0)
        scores = mean_scores([score_estimate(i, model.denoise(i["intensity"])) for i in test])
        rows.append({"base_channels": channels, "num_modules": modules, "steps": steps,
                     "train_cpu_s": round(time.process_time() - start_cpu, 1),
                     "train_wall_s": info["wall_clock_s"], **scores})
        print(json.dumps(rows[-1]), flush=True)
    return {"threads": _threads(), "train_images": train_count, "test_images": test_count,
            "noisy": mean_scores([score_estimate(i, i["intensity"]) for i in test]), "rows": rows}


def compare_losses(steps: int, *, train_count: int = 6, test_count: int = 2, seed: int = 0,
                   model_dir: str | Path | None = None, verbose: int = 0) -> dict:
    """Train log-L1 and Gamma AP-BSN (CPU preset, ``steps`` each) and score them.

    Training: ``train_count`` simulated ultrasound B-mode images (seeds
    ``seed ..``); test: ``test_count`` others (seeds ``seed + 1000 ..``).
    Variants scored: first stage only (PD stride 2) and with R^3; for
    "log_l1" the median (L1) and mean (L2) log-bias corrections; for "gamma"
    the posterior and the prior mean. With ``model_dir`` the two trained
    models are saved there (``log_l1/``, ``gamma/``).
    """
    from autre_papier.apbsn import APBSNConfig, log_speckle_bias, save_apbsn, train_apbsn
    from autre_papier.data import simulated_items

    train = simulated_items(train_count, seed=seed)
    test = simulated_items(test_count, seed=seed + 1000)
    results = {"steps": steps, "train_images": train_count, "test_images": test_count,
               "threads": _threads(), "noisy": mean_scores([score_estimate(i, i["intensity"]) for i in test])}
    for loss in ("log_l1", "gamma"):
        config = APBSNConfig.from_preset("cpu", loss=loss, total_steps=steps,
                                         checkpoint_every=max(1, steps // 4), seed=seed)
        model, info = train_apbsn([i["intensity"] for i in train], config, verbose=verbose)
        if model_dir is not None:
            save_apbsn(model, Path(model_dir) / loss, extra=info)
        variants = {}
        for passes in (0, config.r3_passes):
            tag = "r3" if passes else "pd2"
            if loss == "log_l1":
                rows = [score_estimate(i, model.denoise(i["intensity"], r3_passes=passes)) for i in test]
                variants[f"{tag}_median_bias"] = mean_scores(rows)
                # The L2 (mean) correction instead of the L1 (median) one: a constant factor.
                factor = np.exp(log_speckle_bias(1.0, "median") - log_speckle_bias(1.0, "mean"))
                rows = [score_estimate(i, model.denoise(i["intensity"], r3_passes=passes) * factor)
                        for i in test]
                variants[f"{tag}_mean_bias"] = mean_scores(rows)
            else:
                for estimate in ("posterior", "prior"):
                    rows = [score_estimate(i, model.denoise(i["intensity"], r3_passes=passes,
                                                            gamma_estimate=estimate)) for i in test]
                    variants[f"{tag}_{estimate}"] = mean_scores(rows)
        results[loss] = {"train": info, "variants": variants}
    return results


#: PICMUS experimental contrast phantom (1 plane wave): the two anechoic cysts
#: (centres and radius ~12 px measured on the 75-wave compound): inside 8 px,
#: background ring 16-24 px.
PICMUS_REGIONS = {"pairs": [
    {"target": {"circle": [r, c, 8]},
     "background": {"circle": [r, c, 24], "exclude": [{"circle": [r, c, 16]}]}}
    for r, c in ((37, 127), (233, 128))]}


def real_items() -> list[dict]:
    """Held-out real ultrasound of ``../shared/data`` (empty list when absent).

    The OBNLM liver B-mode (8-bit, 60 dB assumed) and the PICMUS contrast
    phantom (linear envelope of one plane wave, squared to intensity).
    """
    from autre_papier.data import bmode_item
    from s2v._shared import shared_data_dir
    from s2v.io import read_image

    shared = shared_data_dir()
    if shared is None:
        return []
    liver, meta = read_image(shared / "ultrasound" / "obnlm_liver_convex_bmode.png")
    with np.load(shared / "ultrasound" / "picmus_exp_contrast_speckle_DAS_envelope.npz") as picmus:
        envelope = picmus["envelope"][0].astype(np.float32)
    return [bmode_item("liver_bmode", liver, 60.0, meta),
            {"name": "picmus_1pw", "intensity": envelope ** 2, "regions": PICMUS_REGIONS, "looks": 1.0}]


def evaluate_model(model_dir: str | Path, *, methods=("bm3d_log", "lee", "median"), test_count: int = 4,
                   out_dir: str | Path = RESULTS_DIR / "compare", seed: int = 1000) -> dict:
    """Score a trained AP-BSN against baselines (and Speckle2Void when shipped).

    1. Simulated ultrasound B-mode (``test_count`` phantoms, seeds ``seed ..``,
       default probe) with :func:`score_estimate` (B-mode dB PSNR/SSIM,
       amplitude PSNR/SSIM, gCNR, bias).
    2. The study's harness (:func:`s2v.compare.compare`) on the examples
       ``us_phantom_bmode``, ``us_lymph_node_ge``, ``us_pelvis_aloka`` and
       :func:`real_items`, its tables written to ``out_dir``.
    """
    import functools

    from autre_papier.apbsn import despeckle, load_apbsn
    from autre_papier.data import simulated_items
    from s2v import list_checkpoints
    from s2v.baselines import BASELINES
    from s2v.compare import compare, resolve_methods

    model = load_apbsn(model_dir)
    denoisers = {"apbsn": functools.partial(despeckle, model=model),
                 **{name: BASELINES[name] for name in methods}}
    for name in ("ultrasound", "synthetic-L1"):
        if name in list_checkpoints():
            denoisers.update(resolve_methods(f"s2v:{name}"))
    test = simulated_items(test_count, seed=seed)
    simulated = {"noisy": mean_scores([score_estimate(i, i["intensity"]) for i in test])}
    for name, denoiser in denoisers.items():
        start = time.perf_counter()
        rows = [score_estimate(i, denoiser(i["intensity"], looks=1.0)) for i in test]
        simulated[name] = {**mean_scores(rows), "seconds_per_image": (time.perf_counter() - start) / len(test)}
        print(name, json.dumps(simulated[name]), flush=True)
    harness = compare(denoisers, ["us_phantom_bmode", "us_lymph_node_ge", "us_pelvis_aloka", *real_items()],
                      out_dir=out_dir, figures=False, progress=False)
    return {"simulated": simulated, "harness_table": harness.table_markdown(), "threads": _threads()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autre_papier.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("steptime", help="time training steps of the paper and candidate configs")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "steptime.json")
    p = sub.add_parser("sizes", help="network sizes trained for the same CPU time")
    p.add_argument("budgets", nargs="+", metavar="CxM:STEPS",
                   help="e.g. 16x4:900 32x4:270 (channels x modules : steps)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "sizes.json")
    p = sub.add_parser("evaluate", help="score a trained model against baselines")
    p.add_argument("--model", type=Path, required=True, help="model folder (config.json + weights)")
    p.add_argument("--methods", default="bm3d_log,lee,median", help="baselines (comma-separated)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "evaluation.json")
    p = sub.add_parser("losses", help="log-L1 vs Gamma loss on simulated ultrasound")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--train-count", type=int, default=6)
    p.add_argument("--test-count", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "losses.json")
    p.add_argument("--model-dir", type=Path, help="save the two trained models here")
    args = parser.parse_args(argv)

    from autre_papier.apbsn import APBSNConfig

    if args.command == "steptime":
        rows = []
        for channels, modules in CANDIDATES:
            preset = "paper" if (channels, modules) == (128, 9) else "cpu"
            config = APBSNConfig.from_preset(preset, base_channels=channels, num_modules=modules)
            rows.append(time_training_step(config, steps=args.steps))
            print(json.dumps(rows[-1]), flush=True)
        result = {"threads": _threads(), "rows": rows}
    elif args.command == "evaluate":
        result = evaluate_model(args.model, methods=[m for m in args.methods.split(",") if m])
    elif args.command == "sizes":
        budgets = {}
        for text in args.budgets:
            size, _, steps = text.partition(":")
            channels, _, modules = size.partition("x")
            budgets[(int(channels), int(modules))] = int(steps)
        result = compare_sizes(budgets)
    else:
        result = compare_losses(args.steps, train_count=args.train_count, test_count=args.test_count,
                                model_dir=args.model_dir)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measurements behind autre_papier/README.md: step times, network sizes, losses, evaluation.

Run from the repository root::

    python -m autre_papier.experiments steptime [--out autre_papier/results/steptime.json]
    python -m autre_papier.experiments sizes 16x4:400 32x4:120
    python -m autre_papier.experiments losses --steps 400
    python -m autre_papier.experiments evaluate [--model s2v_checkpoint/apbsn/apbsn.keras]

Everything comes from the package: the model, its training and the data from
:mod:`s2v.apbsn`, the scoring from the study's harness :func:`s2v.compare.compare` (amplitude
PSNR/SSIM against the ground truth, ENL, gCNR, ratio image, EPI; regions from the items or
proposed by the harness), so these numbers are comparable with the study's. ``steptime``
times training steps of the "paper" configuration and of lighter candidates (the "cpu"
preset was chosen from this table); ``sizes`` trains network sizes for about the same CPU
time; ``losses`` trains the paper's L1 loss on log-intensity and the Gamma likelihood of
Speckle2Void and scores their estimates; ``evaluate`` scores a trained model beside the
baselines and the shipped Speckle2Void models on simulated and real ultrasound.
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
#: Held-out simulated B-mode (training uses seeds 0..99 or 100..115).
TEST_SEED = 1000


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

    The batch is ``config.batch_size`` crops of ``config.patch_size`` pixels of exponential
    (single-look) speckle. Reported: the median wall-clock time of ``steps`` steps and the
    median CPU time of this process (all its threads), which depends much less on other
    jobs sharing the machine.
    """
    from s2v.apbsn import APBSN, APBSNPatchSampler
    from s2v.apbsn.training import make_optimizer

    rng = np.random.default_rng(seed)
    image = rng.exponential(size=(2 * config.patch_size, 2 * config.patch_size)).astype(np.float32)
    sampler = APBSNPatchSampler([image], config)
    model = APBSN(config)
    model.compile(optimizer=make_optimizer(config))
    model.train_on_batch(*sampler.batch(0))
    wall, cpu = [], []
    for step in range(1, steps + 1):
        batch = sampler.batch(step)
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(*batch)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"base_channels": config.base_channels, "num_modules": config.num_modules,
            "patch_size": config.patch_size, "batch_size": config.batch_size,
            "parameters": int(model.count_params()), "wall_s_per_step": float(np.median(wall)),
            "cpu_s_per_step": float(np.median(cpu)), "steps_timed": steps,
            "load_average_1min": os.getloadavg()[0]}


def _train(config, train_count: int, seed: int, out_dir: Path):
    from s2v import apbsn

    items = apbsn.simulated_bmode_items(train_count, seed=seed)
    return apbsn.train([i["intensity"] for i in items], config, out_dir=out_dir, verbose=0)


def _harness(denoisers: dict, items: list, out_dir: Path) -> dict:
    """Scores of the harness (summary rows) for ``denoisers`` on ``items``."""
    from s2v.compare import compare

    results = compare(denoisers, items, out_dir=out_dir, figures=False, progress=False)
    return {"table": results.table_markdown(), "out_dir": str(out_dir)}


def compare_sizes(budgets: dict[tuple[int, int], int], *, train_count: int = 6, test_count: int = 2,
                  seed: int = 0, out_dir: Path = RESULTS_DIR / "sizes") -> dict:
    """Network sizes trained for about the same CPU time, scored by the harness.

    ``budgets`` maps ``(base_channels, num_modules)`` to a number of steps (chosen from
    ``steptime`` so that every size gets the same CPU seconds); the "cpu" preset otherwise.
    """
    from s2v import apbsn

    denoisers, rows = {}, []
    for (channels, modules), steps in budgets.items():
        config = apbsn.APBSNConfig.from_preset("cpu", base_channels=channels, num_modules=modules,
                                               total_steps=steps, checkpoint_every=steps, seed=seed)
        start_cpu = time.process_time()
        model, info = _train(config, train_count, seed, out_dir / f"run_{channels}x{modules}")
        rows.append({"base_channels": channels, "num_modules": modules, "steps": steps,
                     "train_cpu_s": round(time.process_time() - start_cpu, 1),
                     "train_wall_s": info["wall_clock_s"]})
        denoisers[f"apbsn_{channels}x{modules}"] = apbsn.denoiser(out_dir / f"run_{channels}x{modules}")
    test = apbsn.simulated_bmode_items(test_count, seed=TEST_SEED)
    return {"threads": _threads(), "rows": rows, **_harness(denoisers, test, out_dir / "compare")}


class _Scaled:
    """A denoiser times a constant (the L2 "mean" log-bias correction instead of the L1 median one)."""

    def __init__(self, denoiser, factor: float):
        self.denoiser, self.factor = denoiser, float(factor)

    def __call__(self, intensity, *, looks=1.0):
        return self.denoiser(intensity, looks=looks) * np.float32(self.factor)


def compare_losses(steps: int, *, train_count: int = 6, test_count: int = 2, seed: int = 0,
                   out_dir: Path = RESULTS_DIR / "losses") -> dict:
    """Train log-L1 and Gamma AP-BSN ("cpu" preset, ``steps`` each) and score their variants.

    Variants: first stage only (PD stride 2) and with R^3; for "log_l1" the median (L1) and
    mean (L2) log-bias corrections; for "gamma" the posterior and the prior mean.
    """
    import functools

    from s2v import apbsn

    denoisers, info = {}, {}
    for loss in ("log_l1", "gamma"):
        config = apbsn.APBSNConfig.from_preset("cpu", loss=loss, total_steps=steps,
                                               checkpoint_every=max(1, steps // 4), seed=seed)
        model, info[loss] = _train(config, train_count, seed, out_dir / f"run_{loss}")
        for passes in (0, config.r3_passes):
            tag = f"{loss}_{'r3' if passes else 'pd2'}"
            if loss == "log_l1":
                base = functools.partial(apbsn.despeckle, model=model, r3_passes=passes)
                denoisers[f"{tag}_median_bias"] = base
                factor = np.exp(apbsn.log_speckle_bias(1.0, "median") - apbsn.log_speckle_bias(1.0, "mean"))
                denoisers[f"{tag}_mean_bias"] = _Scaled(base, factor)
            else:
                for estimate in ("posterior", "prior"):
                    denoisers[f"{tag}_{estimate}"] = functools.partial(
                        model.denoise, r3_passes=passes, gamma_estimate=estimate)
    test = apbsn.simulated_bmode_items(test_count, seed=TEST_SEED)
    return {"steps": steps, "threads": _threads(), "train": info,
            **_harness(denoisers, test, out_dir / "compare")}


def evaluate_model(model=None, *, methods: str = "bm3d_log,lee,median", test_count: int = 4,
                   out_dir: Path = RESULTS_DIR / "compare") -> dict:
    """Score a trained AP-BSN (default: the shipped one) beside baselines and Speckle2Void.

    Data: ``test_count`` held-out simulated B-mode phantoms (seeds 1000..), the example
    ``us_phantom_bmode``, and the study's real ultrasound (:func:`s2v.study.real_ultrasound_items`:
    the pydicom-data B-mode examples, which were AP-BSN training images, and the shared-data
    MUST IQ, PICMUS envelopes and liver B-mode when ``../shared/data`` is present).
    """
    from s2v import apbsn, list_checkpoints
    from s2v.compare import resolve_methods
    from s2v.study import real_ultrasound_items

    denoisers = {"apbsn": apbsn.denoiser(model), **resolve_methods(methods)}
    shipped = [f"s2v:{n}" for n in ("ultrasound", "synthetic-L1") if n in list_checkpoints()]
    if shipped:
        denoisers.update(resolve_methods(shipped))
    items = apbsn.simulated_bmode_items(test_count, seed=TEST_SEED) + ["us_phantom_bmode"] \
        + real_ultrasound_items(quick=False)
    return {"threads": _threads(), **_harness(denoisers, items, out_dir)}


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
    p = sub.add_parser("losses", help="log-L1 vs Gamma loss on simulated B-mode")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "losses.json")
    p = sub.add_parser("evaluate", help="score a trained model against baselines")
    p.add_argument("--model", type=Path, help="AP-BSN .keras file or training folder (default: shipped)")
    p.add_argument("--methods", default="bm3d_log,lee,median", help="baselines (comma-separated)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "evaluation.json")
    args = parser.parse_args(argv)

    from s2v.apbsn import APBSNConfig

    if args.command == "steptime":
        rows = []
        for channels, modules in CANDIDATES:
            preset = "paper" if (channels, modules) == (128, 9) else "cpu"
            config = APBSNConfig.from_preset(preset, base_channels=channels, num_modules=modules)
            rows.append(time_training_step(config, steps=args.steps))
            print(json.dumps(rows[-1]), flush=True)
        result = {"threads": _threads(), "rows": rows}
    elif args.command == "sizes":
        budgets = {}
        for text in args.budgets:
            size, _, steps = text.partition(":")
            channels, _, modules = size.partition("x")
            budgets[(int(channels), int(modules))] = int(steps)
        result = compare_sizes(budgets)
    elif args.command == "losses":
        result = compare_losses(args.steps)
    else:
        result = evaluate_model(args.model, methods=args.methods)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(result.get("table", json.dumps(result, indent=2)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Inference speed per megapixel: Speckle2Void (each preset) against BM3D-log and OBNLM, in one run.

Every method despeckles the same single-look intensity image (a piecewise-constant scene x
Gamma speckle) through its public entry point: ``model.predict_maps(..., outputs=("posterior_mean",))``
for Speckle2Void (normalisation, exact tiling and the Bayesian estimate included; the network
is built untrained with a fixed seed -- speed does not depend on the weights' values) and
:data:`s2v.baselines.BASELINES` for the others. Each is timed as the best of ``--repeats``
runs after one warm-up run (TensorFlow traces its graph in the warm-up). Ratios > 1 mean
Speckle2Void is faster.

    python benchmarks/speed_vs_baselines.py [--size 256] [--repeats 3] [--presets paper cpu]
"""

from __future__ import annotations

import argparse
import os
import platform

# TensorFlow's C++ log lines off (level 2 would show grappler's benign "remapper failed" line
# on every training step function); errors still raise, and quiet_import keeps unknown lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from timing import best_time

from s2v._tensorflow import quiet_import  # imports no TensorFlow itself
from s2v.baselines import BASELINES
from s2v.simulate import gamma_speckle


def scene(size: int) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size]
    clean = 1.0 + 3.0 * (cols >= size // 2) + 8.0 * ((np.abs(rows - size / 3) < size / 8) & (cols < size / 3))
    return gamma_speckle(clean.astype(np.float32), 1.0, seed=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu"])
    parser.add_argument("--baselines", nargs="+", default=["bm3d_log", "obnlm"])
    args = parser.parse_args(argv)

    quiet_import()  # Keras and TensorFlow without their CPU-machine start-up lines
    import keras
    import tensorflow as tf

    from s2v.config import S2VConfig
    from s2v.model import Speckle2Void

    image = scene(args.size)
    mpix = image.size / 1e6
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, TensorFlow {tf.__version__}")
    print(f"image: {args.size} x {args.size} single-look intensity, best of {args.repeats} runs\n")

    seconds = {}
    for name in args.presets:
        keras.utils.set_random_seed(0)
        model = Speckle2Void(S2VConfig.from_preset(name))
        seconds[f"Speckle2Void ({name})"] = best_time(
            lambda: model.predict_maps(image, outputs=("posterior_mean",), progress=False), args.repeats)
    for name in args.baselines:
        seconds[name] = best_time(lambda: BASELINES[name](image, looks=1.0), args.repeats)

    references = [name for name in args.baselines if name in seconds]
    header = ["method", "s / MPix", "MPix/s"] + [f"speed-up vs {name}" for name in references]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for method, t in seconds.items():
        ratios = [f"{seconds[ref] / t:.2f}x" for ref in references]
        print("| " + " | ".join([method, f"{t / mpix:.2f}", f"{mpix / t:.3f}", *ratios]) + " |")


if __name__ == "__main__":
    main()

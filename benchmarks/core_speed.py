"""Speed of the Speckle2Void network on this machine, as ratios measured in one run.

Prints, for each preset: training step time and throughput (patches/s),
inference throughput (MPix/s), achieved GFLOP/s as a fraction of a float32
matmul peak measured in the same run, and the speed-up of the batched-rotation
network (0°+180° and 90°+270° as one batch each) over four separate passes.

    python benchmarks/core_speed.py [--presets paper cpu] [--repeats 3] [--size 512]
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
from s2v.config import S2VConfig


def matmul_peak(repeats):
    import tensorflow as tf

    n = 2048
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    run = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    return 2 * n ** 3 / best_time(lambda: run().numpy(), repeats) / 1e9


def train_step_time(config, batched, repeats):
    import keras
    import tensorflow as tf

    from s2v.model import Speckle2Void, pack_batch

    model = Speckle2Void(config, batched_rotations=batched)

    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    rng = np.random.default_rng(0)
    shape = (config.batch_size, config.patch_size, config.patch_size, 1)
    y = tf.constant(rng.gamma(1.0, 1.0, shape).astype(np.float32))
    valid = tf.ones(shape)
    batch = tf.constant(pack_batch(y.numpy(), valid.numpy(), 2))  # shift 2 rows, the usual draw
    step = tf.function(lambda: model.train_step(batch)["loss"])
    return best_time(lambda: step().numpy(), repeats)


def inference_time(config, batched, size, repeats):
    import tensorflow as tf

    from s2v.model import Speckle2Void

    model = Speckle2Void(config, batched_rotations=batched)
    x = tf.constant(np.random.default_rng(0).gamma(1.0, 1.0, (1, size, size, 1)).astype(np.float32))
    run = tf.function(lambda: model(x, training=False))
    return best_time(lambda: run().numpy(), repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=256, help="side of the inference image")
    args = parser.parse_args(argv)

    quiet_import()  # TensorFlow without its CPU-machine start-up lines (CUDA probe, absl, oneDNN)
    import tensorflow as tf

    from s2v.model import count_flops

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"TensorFlow {tf.__version__}")
    peak = matmul_peak(args.repeats)
    print(f"float32 matmul peak (2048^3): {peak:.1f} GFLOP/s\n")
    rows = []
    for name in args.presets:
        config = S2VConfig.from_preset(name)
        step = {b: train_step_time(config, b, args.repeats) for b in (True, False)}
        infer = {b: inference_time(config, b, args.size, args.repeats) for b in (True, False)}
        p = config.patch_size
        train_flops = 3 * count_flops(config, p, p) * config.batch_size  # forward + backward ~ 3x forward
        infer_flops = count_flops(config, args.size, args.size)
        rows.append((
            name, f"{config.filters}x{config.depth}", config.batch_size, p,
            f"{step[True]:.3f}", f"{config.batch_size / step[True]:.1f}",
            f"{train_flops / step[True] / 1e9 / peak:.1%}",
            f"{args.size ** 2 / infer[True] / 1e6:.3f}",
            f"{infer_flops / infer[True] / 1e9 / peak:.1%}",
            f"{step[False] / step[True]:.2f}x", f"{infer[False] / infer[True]:.2f}x",
        ))
    header = ("preset", "F x depth", "batch", "patch", "train step (s)", "patches/s",
              "train % peak", "infer MPix/s", "infer % peak", "batched speed-up train",
              "batched speed-up infer")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()

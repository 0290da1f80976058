"""Quality of the ``paper`` and ``cpu`` presets at an equal wall-clock training budget.

Both presets train *at the same time* (one process each, so they share the
machine equally) for ``--minutes`` on the synthetic single-look set (noisy
BSD68, self-supervised), then despeckle Set12 01-10 (one realisation, central
``--crop`` crops): PSNR/SSIM on amplitude with peak 1. The paper preset's
``clip``/``norm`` are TerraSAR-X digital numbers, so both presets use the
``median`` normalisation here (architecture and schedule unchanged).

    python benchmarks/preset_quality.py --minutes 15 --out /tmp/preset_quality
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# TensorFlow's C++ log lines off (level 2 would show grappler's benign "remapper failed" line
# on every training step function); errors still raise, and quiet_import keeps unknown lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def train_one(preset: str, minutes: float, out: Path) -> None:
    from s2v._tensorflow import quiet_import

    quiet_import()  # each worker: Keras and TensorFlow without their CPU-machine start-up lines
    import keras
    import numpy as np

    import s2v
    from s2v.datasets import clean_test_images, clean_training_images
    from s2v.metrics import synthetic_protocol_scores
    from s2v.simulate import synthetic_protocol_pair

    class Budget(keras.callbacks.Callback):
        def __init__(self, seconds):
            super().__init__()
            self.deadline = time.monotonic() + seconds

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() > self.deadline:
                self.model.stop_training = True

    noisy = [synthetic_protocol_pair(g, 1.0, seed=i)[1] for i, g in enumerate(clean_training_images())]
    config = s2v.S2VConfig.from_preset(preset, normalization="median", clip=50.0, steps_per_epoch=50,
                                       checkpoint_every=10_000)
    model = s2v.train(noisy, config, out_dir=out / preset, resume=False, verbose=0, tensorboard=False,
                      callbacks=[Budget(60 * minutes)])
    steps = int(model.optimizer.iterations.numpy())
    scores = []
    for i, gray in enumerate(clean_test_images().values()):
        r, c = (gray.shape[0] - 128) // 2, (gray.shape[1] - 128) // 2
        clean, noisy_test = synthetic_protocol_pair(gray[r:r + 128, c:c + 128], 1.0, seed=1000 + i)
        estimate = model.predict_maps(noisy_test, progress=False, outputs=("posterior_mean",))["posterior_mean"]
        scores.append(synthetic_protocol_scores(clean, estimate))
    result = {"preset": preset, "minutes": minutes, "steps": steps,
              "psnr": float(np.mean([s["psnr"] for s in scores])),
              "ssim": float(np.mean([s["ssim"] for s in scores]))}
    (out / f"{preset}.json").write_text(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/preset_quality"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return train_one(args.worker, args.minutes, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", p, "--minutes", str(args.minutes),
                               "--out", str(args.out)]) for p in args.presets]
    for proc in procs:
        proc.wait()
    print("| preset | budget (min) | steps | PSNR (dB) | SSIM |\n|---|---|---|---|---|")
    for preset in args.presets:
        r = json.loads((args.out / f"{preset}.json").read_text())
        print(f"| {preset} | {r['minutes']:g} | {r['steps']} | {r['psnr']:.2f} | {r['ssim']:.3f} |")


if __name__ == "__main__":
    main()

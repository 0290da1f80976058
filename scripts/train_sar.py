"""Train the ``sar`` model: Speckle2Void self-supervised on real, decorrelated SAR SLCs.

    nohup nice python scripts/train_sar.py --steps 3000 --out runs &

The paper's real-data setting at a small scale (issue 14): the single-look complex crops of
``../shared/data/sar`` are whitened first (:func:`s2v.decorrelation.decorrelate`, automatic
parameters; the TerraSAR-X band fills its sampling, so on the input grid), then the network
is trained on their intensity, self-supervised (no clean image exists).

Held out: the **bottom half** of the TerraSAR-X crop (rows 128-255) is never trained on;
the training images are its top half and the Sentinel-1 VH channel (the VV channel is not
zero-mean, so not a speckle phase that whitening applies to, and is left out). Every
``--eval-every`` steps the posterior mean of the held-out half is scored (ENL of the three
homogeneous windows that :func:`s2v.roi.propose_regions` picks on the noisy half, and the
ratio-image mean and variance over the half) and appended to ``<out>/sar/curve.json``,
with NLM-log and BM3D-log (noise PSD from the image) on the same half at step 0 for
reference. A killed run resumes exactly where it stopped (same command).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")



def sar_intensities():
    """(training intensities, held-out intensity) of the decorrelated real SLC crops."""
    import numpy as np

    from s2v._shared import shared_data_dir
    from s2v.datasets import TERRASARX_HELD_OUT_ROWS
    from s2v.decorrelation import decorrelate

    root = shared_data_dir()
    tsx = None if root is None else root / "sar" / "terrasarx_slc_256.npy"
    if tsx is None or not tsx.is_file():
        raise SystemExit("the sar model needs ../shared/data/sar/terrasarx_slc_256.npy")
    raw = np.load(tsx, allow_pickle=False)
    whitened, _ = decorrelate(raw[..., 0] + 1j * raw[..., 1])
    intensity = (np.abs(whitened) ** 2).astype(np.float32)
    held_out = np.zeros(len(intensity), bool)
    held_out[TERRASARX_HELD_OUT_ROWS] = True
    train = [intensity[~held_out]]
    s1 = root / "sar" / "sentinel1_slc_labrador_256.npz"
    if s1.is_file():
        with np.load(s1, allow_pickle=False) as data:
            for channel in range(data["k"].shape[-1]):
                slc = data["k"][..., channel]
                # A genuine SLC is zero-mean; channel 0 of this crop is not (|mean|^2 / power
                # 0.52: its phase is not that of speckle), so whitening cannot apply to it.
                if abs(slc.mean()) ** 2 > 0.1 * np.mean(np.abs(slc) ** 2):
                    continue
                white, _ = decorrelate(slc)
                train.append((np.abs(white) ** 2).astype(np.float32))
    return train, intensity[TERRASARX_HELD_OUT_ROWS]


def held_out_scores(noisy, estimate, boxes) -> dict:
    """ENL over the homogeneous boxes (mean), ratio mean and variance over the image."""
    import numpy as np

    from s2v.metrics import enl, ratio_statistics

    enls = [enl(estimate[r0:r1, c0:c1]) for r0, c0, r1, c1 in boxes]
    ratio = ratio_statistics(noisy, estimate)
    return {"enl": float(np.mean(enls)), "ratio_mean": float(ratio["mean"]),
            "ratio_var": float(ratio["var"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", default="runs")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--lr", type=float, default=3e-4)
    args = parser.parse_args(argv)
    if args.steps <= 0 or args.eval_every <= 0:
        parser.error("--steps and --eval-every must be positive")

    from s2v._tensorflow import quiet_import

    quiet_import()
    import s2v
    from s2v import baselines
    from s2v.roi import propose_regions
    from s2v.training import EverySteps
    from s2v.utils import atomic_write_text

    train, held_out = sar_intensities()
    boxes = [tuple(region["box"]) for region in propose_regions(held_out)["homogeneous"]]
    config = s2v.S2VConfig.from_preset("cpu", learning_rate=args.lr, lr_schedule="cosine",
                                       total_steps=args.steps)
    out_dir = Path(args.out) / "sar"
    out_dir.mkdir(parents=True, exist_ok=True)
    curve_file = out_dir / "curve.json"
    curve = json.loads(curve_file.read_text()) if curve_file.is_file() else []
    started = time.time()

    def write():
        atomic_write_text(curve_file, json.dumps(curve, indent=1))

    if not curve:
        for name, estimate in (("noisy", held_out),
                               ("nlm_log", baselines.denoise_nlm_log(held_out)),
                               ("bm3d_log", baselines.denoise_bm3d_log(held_out))):
            curve.append({"step": 0, "method": name, **held_out_scores(held_out, estimate, boxes)})
        write()

    def record(model, step, logs=None):
        estimate = model.predict(held_out, progress=False)
        curve.append({"step": step, "method": "s2v", **held_out_scores(held_out, estimate, boxes),
                      "loss": float(logs.get("loss", float("nan"))) if logs else None,
                      "wall_s": round(time.time() - started, 1)})
        write()
        print(f"step {step}: held-out ENL {curve[-1]['enl']:.1f}, ratio mean "
              f"{curve[-1]['ratio_mean']:.3f}, var {curve[-1]['ratio_var']:.3f}", flush=True)

    s2v.train(train, config, out_dir=out_dir, total_steps=args.steps, verbose=2,
              tensorboard=False, callbacks=[EverySteps(args.eval_every, record)])


if __name__ == "__main__":
    main()

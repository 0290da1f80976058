"""Train Speckle2Void on whitened ultrasound IQ (band grid), with a held-out curve.

    nohup nice python scripts/train_whitened_iq.py --steps 3000 --out runs \
        > runs/ultrasound-iq-whitened.log 2>&1 &

The paper's route for correlated speckle (Bordone Molini et al. 2022, after Lapini et al.
2014): whiten the complex IQ (``s2v.whitened.whiten_iq``: ``decorrelate(..., resample=True,
cf=np.inf)``, speckle white on the band's own grid), then train the blind-spot network on
that preparation, with no pixel shuffle (the whitened speckle is already white). Training
images: the 12 simulated phantoms of the ultrasound training set (seeds 0-11, 257 x 193)
and the 4 real MUST IQ frames of ``../shared/data`` when present
(``s2v.whitened.whitened_training_images``). Configuration: the ``cpu`` preset with
``pixel_shuffle=1``, ``lr_schedule="cosine"``, ``learning_rate=3e-4`` (``--lr``),
``patch_size=32`` (``--patch-size``): the band grids of the phantoms are 87-207 rows by
39-83 columns, so 48 does not fit the narrower ones (a patch larger than an image is
zero-padded and the padding is wasted), and the MUST frames' are 25-29 x 63-69.

Writes ``<out>/ultrasound-iq-whitened/`` (``s2v.train``'s folder: config.json,
checkpoints/, model.keras) plus ``data.json`` (the band-grid sizes) and ``curve.json``:
every ``--eval-every`` steps (and at the last step) the current model despeckles 4
validation phantoms (``simulated_ultrasound_set(4, seed=600)``: disjoint from training
(0-11), tuning (500-503) and the study's test sets (100+, 1000+)) with
``s2v.whitened.despeckle_iq``, and the mean B-mode PSNR at 60 dB against
``blurred_echogenicity`` and the mean and variance of the ratio image (un-whitened noisy
intensity / estimate) on the homogeneous band are appended. At step 0 the same numbers are
recorded once for the noisy input and for ``denoise_nlm_log`` on the un-whitened intensity.

Running the command again resumes exactly (``s2v.train``: weights, Adam moments, step,
data order) and drops curve entries newer than the checkpoint it resumes from.
``--tiny`` (tests only): a tiny network, 2 small phantoms, 2 validation phantoms.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NAME = "ultrasound-iq-whitened"
VALIDATION_SEED = 600
DYNAMIC_RANGE = 60.0


def _write_json(path: Path, value) -> None:
    from s2v.utils import atomic_write_text

    atomic_write_text(path, json.dumps(value, indent=1))


def _scores(sims, estimates) -> dict:
    """Mean B-mode PSNR (60 dB) and ratio-image mean / variance on the homogeneous band."""
    import numpy as np

    from s2v.metrics import bmode_psnr, ratio_statistics

    psnr, ratio_mean, ratio_var = [], [], []
    for sim, estimate in zip(sims, estimates):
        psnr.append(bmode_psnr(sim["blurred_echogenicity"], estimate, dynamic_range=DYNAMIC_RANGE))
        stats = ratio_statistics(sim["intensity"], np.maximum(estimate, np.finfo(np.float32).tiny),
                                 mask=sim["regions"]["homogeneous"])
        ratio_mean.append(stats["mean"])
        ratio_var.append(stats["var"])
    return {"bmode_psnr_60db": float(np.mean(psnr)), "ratio_mean": float(np.mean(ratio_mean)),
            "ratio_var": float(np.mean(ratio_var))}


def _checkpoint_step(checkpoints: Path) -> int | None:
    from s2v.training import latest_checkpoint

    found = latest_checkpoint(checkpoints)
    if found is None:
        return None
    try:
        return int(found.stem.split("-")[1])
    except (IndexError, ValueError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="total training steps (default 3000)")
    parser.add_argument("--out", default="runs", help="parent folder of the training folder")
    parser.add_argument("--eval-every", type=int, default=250, help="steps between held-out scores")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (cosine decay)")
    parser.add_argument("--patch-size", type=int, default=32)
    parser.add_argument("--no-real", action="store_true", help="leave out the real MUST IQ frames")
    parser.add_argument("--tiny", action="store_true", help="tests only: a tiny network and data set")
    args = parser.parse_args(argv)
    if args.steps <= 0 or args.eval_every <= 0:
        parser.error("--steps and --eval-every must be positive")

    from s2v.utils import FolderLock

    out_dir = Path(args.out) / NAME
    holder = FolderLock.held_by(out_dir)
    if holder is not None:
        raise SystemExit(f"{out_dir}: another training ({holder}) is using this folder")

    from s2v._tensorflow import quiet_import

    quiet_import()  # before Keras: TensorFlow's start-up lines dropped

    import numpy as np

    import s2v
    from s2v.baselines import denoise_nlm_log
    from s2v.datasets import simulated_ultrasound_set
    from s2v.training import EverySteps
    from s2v.whitened import despeckle_iq, whiten_iq, whitened_training_images

    overrides = {"pixel_shuffle": 1, "lr_schedule": "cosine", "learning_rate": args.lr,
                 "patch_size": args.patch_size, "total_steps": args.steps}
    if args.tiny:
        overrides.update(filters=8, depth=3, batch_size=2, checkpoint_every=10)
        train_kwargs = {"count": 2, "shape": (129, 97), "real": False}
        validation = simulated_ultrasound_set(2, seed=VALIDATION_SEED, shape=(129, 97))
    else:
        train_kwargs = {"real": not args.no_real}
        validation = simulated_ultrasound_set(4, seed=VALIDATION_SEED)
    config = s2v.S2VConfig.from_preset("cpu", **overrides)

    started = time.time()
    images = whitened_training_images(**train_kwargs)
    validation_bands = [whiten_iq(sim["iq"])[1].band_bins for sim in validation]
    print(f"{len(images)} whitened training images, band grids "
          f"{sorted({tuple(int(n) for n in im.shape) for im in images})} ({time.time() - started:.0f} s)",
          flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "data.json", {
        "training_band_grids": [list(im.shape) for im in images],
        "training": {"simulated": train_kwargs.get("count", 12), "seed": 0,
                     "shape": list(train_kwargs.get("shape", (257, 193))),
                     "real_must_frames": len(images) - train_kwargs.get("count", 12)},
        "validation": {"seeds": [VALIDATION_SEED, VALIDATION_SEED + len(validation) - 1],
                       "shape": list(validation[0]["iq"].shape),
                       "band_grids": [list(b) for b in validation_bands]},
        "whitening": "s2v.whitened.whiten_iq (decorrelate resample=True, cf=inf); back with to_input_grid "
                     "(log-fourier)",
    })

    curve_file = out_dir / "curve.json"
    record_file = json.loads(curve_file.read_text()) if curve_file.is_file() else {}
    resumed_at = _checkpoint_step(out_dir / "checkpoints")
    curve = [e for e in record_file.get("curve", []) if resumed_at is not None and e["step"] <= resumed_at]
    if len(curve) < len(record_file.get("curve", [])):
        print(f"curve: dropped {len(record_file['curve']) - len(curve)} entries after step {resumed_at}")
    references = record_file.get("references")
    if references is None:
        print("scoring the noisy input and NLM (log) on the validation phantoms ...", flush=True)
        references = {
            "noisy": _scores(validation, [sim["intensity"] for sim in validation]),
            "nlm_log": _scores(validation, [denoise_nlm_log(sim["intensity"]) for sim in validation]),
        }
    session_start = time.time()

    def save():
        _write_json(curve_file, {
            "validation": f"simulated_ultrasound_set({len(validation)}, seed={VALIDATION_SEED})",
            "metrics": f"bmode_psnr_60db: mean s2v.metrics.bmode_psnr(blurred_echogenicity, estimate, "
                       f"dynamic_range={DYNAMIC_RANGE:g}); ratio_mean / ratio_var: mean "
                       "ratio_statistics(intensity, estimate, regions['homogeneous']); loss_epoch_mean: "
                       "Keras' running training loss since the start of the epoch (or of the resumed "
                       "session, if later)",
            "references": references, "curve": curve})

    def record(model, step, logs=None):
        if any(entry["step"] == step for entry in curve):
            return
        estimates = [despeckle_iq(sim["iq"], model) for sim in validation]
        loss = float(np.asarray(logs["loss"])) if logs and "loss" in logs else None
        curve.append({"step": step, **_scores(validation, estimates), "loss_epoch_mean": loss,
                      "wall_s_session": round(time.time() - session_start, 1)})
        save()
        print(f"step {step}: held-out B-mode PSNR {curve[-1]['bmode_psnr_60db']:.2f} dB, ratio mean "
              f"{curve[-1]['ratio_mean']:.3f} (noisy {references['noisy']['bmode_psnr_60db']:.2f} dB, "
              f"NLM {references['nlm_log']['bmode_psnr_60db']:.2f} dB)", flush=True)

    save()
    s2v.train(images, config, out_dir=out_dir, total_steps=args.steps, verbose=2, tensorboard=False,
              callbacks=[EverySteps(args.eval_every, record, last_step=args.steps, at_start=True)])
    print(f"done: {out_dir / 'model.keras'}, curve in {curve_file}")


if __name__ == "__main__":
    main()

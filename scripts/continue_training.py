"""Continue training a shipped checkpoint in the background, with a held-out curve.

    nohup nice python scripts/continue_training.py synthetic-L1 --steps 4000 --out runs/ &

The first session warm-starts from the shipped weights (``s2v_checkpoint/<name>``;
the shipped file has no optimizer state, so Adam starts afresh and the step
counter restarts at 0); later sessions resume the run's own newest checkpoint
exactly (weights, Adam moments, step counter, data order); ``--scratch`` trains
from fresh weights instead (e.g. the supervised twin with ``--supervised-loss
mse_log``, a new loss that the shipped twin's weights would bias). ``--steps`` counts
the steps of *this run* (the shipped model's earlier steps are in its card).

Every ``--eval-every`` steps the posterior mean is scored on a validation set
that is neither trained on nor part of the test protocol, and the scores are
appended to ``<out>/<name>/curve.json``:

- ``synthetic-L1*``: Set12 images 11 and 12, one fixed single-look realisation
  each (Set12 01-10 stay the test set); PSNR/SSIM on amplitude. With
  ``--looks-range``: one realisation of each number of looks of the range
  (``psnr_L4``, ...), predicted with that number of looks.
- ``ultrasound``: the simulated phantoms of seeds 600-603 (training probe ranges;
  with ``--probes randomised`` the randomised phantoms of seeds 600-607), not in the
  held-out set of seeds 1000+; B-mode PSNR at 60 dB against the PSF-blurred
  echogenicity, predicted by the model's stride rule (and at stride 2 for a fixed
  stride above 2).

Data options, recorded in ``<out>/<name>/data.json`` and checked on resume:
``--fresh-speckle`` draws a new speckle realisation for every batch instead of
one fixed noisy copy of each image: of the BSD68 images for the synthetic runs
(:func:`s2v.training.train_synthetic`), of the phantoms for the ultrasound run
(:func:`s2v.training.train_simulated_ultrasound`; the real frames stay fixed); ``--simulations N`` (ultrasound) trains on the phantoms of
seeds 0..N-1 (the shipped model: 12) and the real IQ/PICMUS frames; ``--probes
randomised`` draws them from :func:`s2v.datasets.randomised_ultrasound_set` (random
phantom type, probe, lateral pixel size and residual carrier). ``--stride-rule
correlation`` sets ``S2VConfig.stride_from_correlation`` (a configuration change, stored
in the checkpoints).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VALIDATION_NAMES = ("11", "12")


def validation_pairs(looks: float = 1.0):
    """(clean, noisy) intensities of the validation images (fixed seeds 1011, 1012)."""
    import imageio.v3 as iio

    from s2v._shared import shared_data_dir
    from s2v.simulate import synthetic_protocol_pair

    root = shared_data_dir()
    folder = None if root is None else root / "clean" / "Set12"
    if folder is None or not folder.is_dir():
        raise SystemExit("the validation images need ../shared/data/clean/Set12")
    return [synthetic_protocol_pair(iio.imread(folder / f"{name}.png"), looks, seed=1000 + int(name))
            for name in VALIDATION_NAMES]


ULTRASOUND_VALIDATION_SEED = 600


def ultrasound_validation_scores(model, simulations, pipeline=None):
    """Mean B-mode PSNR on the validation phantoms, predicted by the model's own stride rule.

    ``bmode_psnr``: one mosaic grid at the training stride rule, no notch, no calibration
    (averaging over the mosaic offsets changed it by under 0.06 dB,
    ``benchmarks/ultrasound_pd_inference.py``, at up to 64 times the cost); for a fixed
    stride above 2 also ``bmode_psnr_stride2`` (the asymmetric PD). With ``pipeline`` (the
    ``predict_*`` fields of a shipped configuration) also ``bmode_psnr_pipeline``: predicted
    as that shipped pipeline predicts (its stride threshold, mosaic notch, ratio calibration).
    """
    import numpy as np

    from s2v.metrics import bmode_psnr
    from s2v.strides import image_stride

    config = model.s2v_config
    raw = {"offsets": False, "mosaic_notch": 0.0, "ratio_calibration": False}
    # The training stride: measured at the training threshold, or the fixed pixel_shuffle.
    raw["pixel_shuffle"] = ((lambda image: image_stride(image, config)) if config.stride_from_correlation
                            else config.pixel_shuffle)
    variants = {"bmode_psnr": raw}
    if not config.stride_from_correlation and config.pixel_shuffle > 2:
        variants["bmode_psnr_stride2"] = {**raw, "pixel_shuffle": 2}
    scores = {}
    for key, options in variants.items():
        values = []
        for sim in simulations:
            chosen = {k: (v(sim["intensity"]) if callable(v) else v) for k, v in options.items()}
            estimate = model.predict_maps(sim["intensity"], progress=False, outputs=("posterior_mean",),
                                          **chosen)["posterior_mean"]
            values.append(bmode_psnr(sim["blurred_echogenicity"], estimate))
        scores[key] = float(np.mean(values))
    if pipeline:  # the shipped settings' own defaults of predict_maps: as users predict
        shipped = model.with_prediction_settings(**pipeline)
        scores["bmode_psnr_pipeline"] = float(np.mean([bmode_psnr(
            sim["blurred_echogenicity"], shipped.predict(sim["intensity"], progress=False))
            for sim in simulations]))
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=["synthetic-L1", "synthetic-L1-supervised", "ultrasound"])
    parser.add_argument("--steps", type=int, required=True, help="total steps of this run")
    parser.add_argument("--out", default="runs")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--init", help="warm-start from the weights of this .keras file instead of the "
                        "shipped model (a fresh run only)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the shipped model's)")
    parser.add_argument("--schedule", choices=["constant", "cosine"], help="lr_schedule (default: the "
                        "shipped model's)")
    parser.add_argument("--supervised-loss", choices=["mse_intensity", "mse_log", "mse_amplitude"],
                        help="supervised_loss of a supervised run (default: the shipped model's)")
    parser.add_argument("--scratch", action="store_true", help="start from freshly initialised weights "
                        "(the shipped model's configuration only; a fresh run only)")
    parser.add_argument("--dilations", help="comma-separated dilation of each branch convolution "
                        "(S2VConfig.dilations; with --scratch), e.g. 1,1,2,4,8,1,2,4,1,1")
    parser.add_argument("--filters", type=int, help="S2VConfig.filters of every branch convolution "
                        "(with --scratch; default: the shipped model's)")
    parser.add_argument("--depth", type=int, help="S2VConfig.depth, convolutions per branch (with "
                        "--scratch; default: the shipped model's)")
    parser.add_argument("--network-input", choices=["intensity", "log"], help="S2VConfig.network_input "
                        "(with --scratch; default: the shipped model's)")
    parser.add_argument("--widen", type=int, metavar="FILTERS", help="warm-start a network with this many "
                        "feature maps from the starting weights, computing the same function "
                        "(s2v.widen.widen_model, Net2WiderNet; a fresh run only)")
    parser.add_argument("--point-targets", choices=["global", "local"],
                        help="ultrasound: S2VConfig.point_targets AND predict_point_targets, the "
                        "point-target rule at training and at prediction, the curve's pipeline "
                        "included (default: the starting model's)")
    parser.add_argument("--clip", type=float, help="S2VConfig.clip: point-target threshold in multiples of "
                        "the image median (default: the starting model's), e.g. 1000 to let bright tissue "
                        "through the network instead of copying it back")
    parser.add_argument("--patch-size", type=int, help="training patch side (default: the shipped model's)")
    parser.add_argument("--fresh-speckle", action="store_true", help="a new speckle realisation for "
                        "every batch (ultrasound: the phantoms re-simulated at every step, the real "
                        "frames fixed)")
    parser.add_argument("--simulations", type=int, default=12, help="ultrasound: training phantoms "
                        "(seeds 0..N-1, default 12 as for the shipped model)")
    parser.add_argument("--looks-range", help="synthetic runs with --fresh-speckle: comma-separated numbers "
                        "of looks drawn per patch (S2VConfig.looks_range), e.g. 1,2,4,8; validated at each")
    parser.add_argument("--probes", choices=["training", "randomised", "randomised-reflectors", "scanner"],
                        default="training",
                        help="ultrasound: phantoms of simulated_ultrasound_set (the shipped model's "
                        "probe ranges) or of randomised_ultrasound_set (random phantom type, probe, "
                        "grid and carrier; validated on its seeds 600-607), the latter with bright "
                        "specular interfaces (randomised-reflectors); 'scanner' (with --fresh-speckle): "
                        "those, exported at every step as 8-bit scanner B-modes with random gain and "
                        "dynamic range, validated on scanner_ultrasound_set seeds 600-607")
    parser.add_argument("--stride-rule", choices=["fixed", "correlation"],
                        help="ultrasound: the shipped model's constant pixel_shuffle, or the stride "
                        "measured on each image (S2VConfig.stride_from_correlation)")
    args = parser.parse_args(argv)
    if args.scratch and args.init:
        parser.error("--scratch and --init exclude each other")
    if args.steps <= 0 or args.eval_every <= 0:
        parser.error("--steps and --eval-every must be positive")
    ultrasound = args.name == "ultrasound"
    if not 1 <= args.simulations < ULTRASOUND_VALIDATION_SEED:
        parser.error(f"--simulations must be in 1..{ULTRASOUND_VALIDATION_SEED - 1} (seeds from "
                     f"{ULTRASOUND_VALIDATION_SEED} on are validation and held-out images)")
    if args.looks_range and (ultrasound or not args.fresh_speckle):
        parser.error("--looks-range needs speckle drawn per patch: a synthetic run with --fresh-speckle")
    if args.probes == "scanner" and not args.fresh_speckle:
        parser.error("--probes scanner exports each new realisation: it needs --fresh-speckle")
    if not ultrasound and (args.probes != "training" or args.stride_rule or args.point_targets):
        parser.error("--probes, --stride-rule and --point-targets are for the ultrasound run")
    data_options = ({"simulations": args.simulations, "real_images": True, "probes": args.probes}
                    if ultrasound else {"fresh_speckle": args.fresh_speckle})
    if ultrasound and args.fresh_speckle:  # the key only when set: older runs' data.json stay valid
        data_options["fresh_speckle"] = True

    import numpy as np

    import s2v
    from s2v.metrics import synthetic_protocol_scores
    from s2v.training import EverySteps, latest_checkpoint, write_start_checkpoint
    from s2v.utils import atomic_write_text

    sys_path = Path(__file__).resolve().parent
    import sys

    sys.path.insert(0, str(sys_path))
    from train_shipped import (synthetic_training_set, ultrasound_simulations, ultrasound_training_set,
                               ultrasound_validation_simulations)

    out_dir = Path(args.out) / args.name
    checkpoints = out_dir / "checkpoints"
    shipped = s2v.load_model(args.name)
    # The starting weights: the shipped model's, or --init's (whose configuration is then the base).
    start = shipped if args.init is None else s2v.load_model(args.init)
    if args.widen is not None:
        if args.scratch:
            parser.error("--widen starts from trained weights: not with --scratch")
        from s2v.widen import widen_model

        start = widen_model(start, args.widen)
    if not args.scratch:
        if args.dilations and tuple(int(d) for d in args.dilations.split(",")) != tuple(start.s2v_config.dilations):
            parser.error("--dilations changes the network of the starting weights: it needs --scratch")
        for field in ("filters", "depth"):
            if getattr(args, field) is not None and getattr(args, field) != getattr(start.s2v_config, field):
                parser.error(f"--{field} changes the network of the starting weights: it needs --scratch")
        if args.network_input and args.network_input != start.s2v_config.network_input:
            parser.error("--network-input changes what the starting weights mean: it needs --scratch "
                         "(or an --init model trained with that input)")
    changes = {"total_steps": args.steps}
    if args.lr is not None:
        changes["learning_rate"] = args.lr
    if args.schedule is not None:
        changes["lr_schedule"] = args.schedule
    if args.supervised_loss is not None:
        changes["supervised_loss"] = args.supervised_loss
    if args.dilations:
        changes["dilations"] = tuple(int(d) for d in args.dilations.split(","))
    for field in ("filters", "depth"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    if args.clip is not None:
        changes["clip"] = args.clip
    if args.point_targets is not None:
        changes["point_targets"] = changes["predict_point_targets"] = args.point_targets
    if args.patch_size is not None:
        changes["patch_size"] = args.patch_size
    if args.looks_range:
        changes["looks_range"] = tuple(float(v) for v in args.looks_range.split(","))
    if args.network_input is not None:
        changes["network_input"] = args.network_input
    if args.stride_rule is not None:
        changes["stride_from_correlation"] = args.stride_rule == "correlation"
    supervised = args.name.endswith("supervised")
    config = (shipped if args.scratch else start).s2v_config.replace(**changes)
    data_file = out_dir / "data.json"
    if latest_checkpoint(checkpoints) is not None:
        recorded = json.loads(data_file.read_text()) if data_file.is_file() else {"fresh_speckle": False}
        if ultrasound:
            recorded.setdefault("probes", "training")  # written before --probes existed
        if recorded != data_options:
            raise SystemExit(f"{out_dir} was trained with the data options {recorded}, not {data_options}: "
                             "give the same options to resume, or a new --out")
    if latest_checkpoint(checkpoints) is None:
        write_start_checkpoint(config, checkpoints, None if args.scratch else start.get_weights())
    atomic_write_text(data_file, json.dumps(data_options, indent=1))
    if ultrasound:
        if args.fresh_speckle:
            from s2v.datasets import real_ultrasound_intensities

            simulations = ultrasound_simulations(args.simulations, args.probes)
            noisy = list(real_ultrasound_intensities().values())
        else:
            noisy = ultrasound_training_set(args.simulations, probes=args.probes)
        clean = None
        validation = ultrasound_validation_simulations(4 if args.probes == "training" else 8, args.probes,
                                                       seed=ULTRASOUND_VALIDATION_SEED)
    else:
        noisy, clean = synthetic_training_set()
        validation = {looks: validation_pairs(looks) for looks in (config.looks_range or (config.looks,))}
    # The shipped model's prediction settings: the curve also scores the pipeline users get.
    pipeline = {k: v for k, v in shipped.s2v_config.to_dict().items() if k.startswith("predict_")}
    if args.point_targets is not None:  # the rule the run trains with is the rule its pipeline predicts with
        pipeline["predict_point_targets"] = args.point_targets
    curve_file = out_dir / "curve.json"
    curve = json.loads(curve_file.read_text()) if curve_file.is_file() else []
    started = time.time()

    def record(model, step, logs=None):
        if ultrasound:
            entry = ultrasound_validation_scores(model, validation, pipeline)
        else:
            entry = {}
            for looks, pairs in validation.items():
                scores = [synthetic_protocol_scores(clean, model.predict_maps(
                    noisy_val, looks=looks, progress=False, outputs=("posterior_mean",))["posterior_mean"])
                    for clean, noisy_val in pairs]
                suffix = "" if len(validation) == 1 else f"_L{looks:g}"
                entry[f"psnr{suffix}"] = float(np.mean([s["psnr"] for s in scores]))
                entry[f"ssim{suffix}"] = float(np.mean([s["ssim"] for s in scores]))
        curve.append({"step": step, **entry,
                      "loss": float(logs.get("loss", float("nan"))) if logs else None,
                      "wall_s": round(time.time() - started, 1)})
        atomic_write_text(curve_file, json.dumps(curve, indent=1))
        print(f"step {step}: validation " + ", ".join(f"{k} {v:.3f}" for k, v in entry.items()), flush=True)

    if not curve:  # the start checkpoint: the starting weights under this run's configuration
        record(s2v.load_model(checkpoints / "ckpt-00000000.keras"), 0)

    callbacks = [EverySteps(args.eval_every, record)]
    if ultrasound and args.fresh_speckle:
        from s2v.training import train_simulated_ultrasound

        train_simulated_ultrasound(simulations, config, out_dir=out_dir, images=noisy, total_steps=args.steps,
                                   verbose=2, tensorboard=False, callbacks=callbacks,
                                   scanner=args.probes == "scanner")
    elif args.fresh_speckle:
        from s2v.training import train_synthetic

        train_synthetic(clean, config, out_dir=out_dir, supervised=supervised, total_steps=args.steps,
                        verbose=2, tensorboard=False, callbacks=callbacks)
    else:
        s2v.train(noisy, config, out_dir=out_dir, total_steps=args.steps, verbose=2,
                  targets=clean if supervised else None, tensorboard=False, callbacks=callbacks)


if __name__ == "__main__":
    main()

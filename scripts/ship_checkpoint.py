"""Copy a training run's model into ``s2v_checkpoint/<name>/`` with a model card.

    python scripts/ship_checkpoint.py runs/synthetic-L1 synthetic-L1 --data "..." [--checkpoint FILE]

The shipped file holds the weights and configuration only (no optimizer
state), so it stays small. The card records data, preset, steps, wall-clock
(first to last checkpoint file of the run), hardware and the metrics passed
with ``--metrics`` (a markdown snippet, e.g. from the study).
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_setting(item: str, config) -> tuple[str, object]:
    """``FIELD=VALUE`` of a prediction-time field of ``config`` (predict_*, complex_input), typed.

    Raises ``ValueError`` naming the allowed fields for anything else.
    """
    field, _, value = item.partition("=")
    allowed = [k for k in config.to_dict() if k.startswith("predict_") or k == "complex_input"]
    if field not in allowed or not value:
        raise ValueError(f"--set {item!r}: expected FIELD=VALUE with a prediction-time field "
                         f"({', '.join(allowed)})")
    current = getattr(config, field)
    return field, (value.lower() in ("1", "true", "yes")) if isinstance(current, bool) else type(current)(value)


def parse_settings(items, config, parser) -> dict:
    """``{field: value}`` of the ``--set FIELD=VALUE`` items (:func:`parse_setting`); a bad
    item ends the script through ``parser.error``."""
    settings = {}
    for item in items:
        try:
            field, value = parse_setting(item, config)
        except ValueError as exc:
            parser.error(str(exc))
        settings[field] = value
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="training folder (with checkpoints/ and config.json)")
    parser.add_argument("name", help="shipped name, e.g. synthetic-L1")
    parser.add_argument("--data", required=True, help="what the model was trained on")
    parser.add_argument("--checkpoint", type=Path, help="default: the newest checkpoint of the run")
    parser.add_argument("--metrics", default="", help="markdown with the measured metrics")
    parser.add_argument("--complex-input", choices=["intensity", "whitened"],
                        help="set the shipped configuration's complex_input (what s2v.despeckle does "
                        "with complex input: 'whitened' for a model trained on decorrelated speckle)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a prediction-time field of the shipped configuration (predict_*, "
                        "complex_input), measured on validation data, e.g. predict_mosaic_notch=0.25")
    parser.add_argument("--reproduce", help="the command that trained the run (default: train_shipped.py)")
    args = parser.parse_args(argv)

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from readme_tables import software_versions
    from s2v.pipeline import CHECKPOINT_DIR, load_model
    from s2v.training import latest_checkpoint, save_model_atomic
    from s2v.utils import atomic_write_text

    source = args.checkpoint or latest_checkpoint(args.run / "checkpoints")
    if source is None:
        parser.error(f"{args.run}: no checkpoint found")
    model = load_model(source)
    changes = {} if args.complex_input is None else {"complex_input": args.complex_input}
    changes.update(parse_settings(args.set, model.s2v_config, parser))
    if changes:
        model = model.with_prediction_settings(**changes)
    steps = int(source.stem.split("-")[-1]) if source.stem.startswith("ckpt-") else None
    target = CHECKPOINT_DIR / args.name
    save_model_atomic(model, target / "model.keras")
    model.s2v_config.save(target / "config.json")
    started = (args.run / "config.json").stat().st_mtime
    hours = (source.stat().st_mtime - started) / 3600
    config = model.s2v_config
    if config.stride_from_correlation:
        stride_text = (f"pixel-shuffle stride measured on each image (log-speckle correlation <= "
                       f"{config.stride_threshold} at training, <= "
                       f"{config.predict_stride_threshold or config.stride_threshold} at prediction)")
    else:
        stride_text = f"pixel-shuffle stride {config.pixel_shuffle}" + (
            f" (prediction {config.predict_pixel_shuffle})" if config.predict_pixel_shuffle else "")
    if config.predict_mosaic_notch:
        stride_text += f", mosaic notch {config.predict_mosaic_notch} at prediction"
    card = f"""# Model card: `{args.name}`

- **Method**: Speckle2Void (Bordone Molini et al., TGRS 2022), self-supervised unless the name says
  otherwise; blind-spot network with shifted receptive fields, Gamma(L) x inverse-gamma Bayesian loss.
- **Configuration**: preset `cpu` ({config.filters} filters, depth {config.depth},
  batch {config.batch_size}, patches {config.patch_size}x{config.patch_size}, lr {config.learning_rate},
  shifts {list(config.shift_list)} with probabilities {list(config.prob)}, L = {config.looks},
  normalisation `{config.normalization}`, network input `{config.network_input}`, {stride_text},
  lr schedule `{config.lr_schedule}`, supervised loss `{config.supervised_loss}` (supervised runs only),
  complex input `{config.complex_input}`); full
  configuration in `config.json`.
- **Data**: {args.data}
- **Budget**: {steps if steps is not None else 'see run'} steps of batch {config.batch_size}
  ({(steps or 0) * config.batch_size} patches), {hours:.2f} h wall-clock.
- **Hardware**: {platform.machine()} CPU, {os.cpu_count()} cores shared with other jobs
  (no GPU); TensorFlow on CPU.
- **Software** (at shipping): {software_versions()}.
- **Size**: {(target / 'model.keras').stat().st_size / 1e6:.2f} MB, {model.count_params()} parameters.
- **Use**: `s2v.load_model("{args.name}")`, `s2v.despeckle(image, model="{args.name}")`.
- **Reproduce**: `{args.reproduce or f"python scripts/train_shipped.py {args.name} --steps {steps}"}` then this script.

## Measured
{args.metrics or 'Run `make demo`, then `python scripts/readme_tables.py results --model-cards` to copy the study numbers here.'}
"""
    atomic_write_text(target / "MODEL_CARD.md", card)
    print(f"shipped {source} -> {target} ({(target / 'model.keras').stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

"""The ``s2v`` command: thin over the library.

    s2v train IMAGES... --out DIR [--preset cpu|paper] [--steps N] [--resume [CKPT]]
    s2v denoise INPUTS... --out DIR [--model NAME|PATH] [--domain D] [--looks L] [--tile-size N]
    s2v decorrelate IN OUT [--auto | --fx --fy --mx --my] [--cf CF] [--plot FILE]
    s2v compare --data DIR|EXAMPLE --methods ... --out DIR
    s2v study [--out results] [--quick] [--realisations N] [--folder DIR]
    s2v examples

Every error is reported as one line naming the file and the problem (exit
status 2), never as a traceback from inside TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_OUTPUT_SUFFIXES = {".npy", ".tif", ".tiff", ".png", ".mat"}


# -- train ---------------------------------------------------------------------------
def _add_train(sub):
    p = sub.add_parser("train", help="train Speckle2Void self-supervised on noisy images")
    p.add_argument("images", nargs="+", help="image files or folders (any format s2v.io reads)")
    p.add_argument("--out", required=True, help="training folder (checkpoints, logs, model)")
    p.add_argument("--preset", default="cpu", help="configuration preset: cpu (default) or paper")
    p.add_argument("--config", help="JSON configuration file (overrides --preset)")
    p.add_argument("--steps", type=int, help="total training steps")
    p.add_argument("--looks", type=float, help="number of looks L of the speckle")
    p.add_argument("--domain", choices=["intensity", "amplitude", "complex", "bmode", "rf"],
                   help="domain of the inputs (default: from each file's metadata)")
    p.add_argument("--resume", nargs="?", const=True, default=True,
                   help="resume from the newest checkpoint (default) or from CKPT")
    p.add_argument("--fresh", action="store_true", help="start afresh, ignoring checkpoints")
    p.add_argument("--strategy", choices=["none", "mirrored", "multiworker"], default="none",
                   help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    p.set_defaults(run=_run_train)


def _expand(paths) -> list[Path]:
    """Files named, and the files of folders named (sorted), skipping hidden files."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        raise ValueError(f"no input files found in {', '.join(map(str, paths))}")
    return files


def _output_folder(raw) -> Path:
    """The ``--out`` folder, created; a clear error when it is a file or not writable."""
    out_dir = Path(raw)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: --out must be a folder, but this is an existing file")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(out_dir, os.W_OK):
        raise PermissionError(f"{out_dir}: output folder is not writable")
    return out_dir


def _warn_frames(command: str, path: Path, meta: dict):
    """A 3-D stack is read as one frame: say so, since the other frames are not used."""
    if meta.get("n_frames", 1) > 1:
        print(f"s2v {command}: warning: {path}: {meta['n_frames']} frames, only frame {meta['frame']} "
              "is used", file=sys.stderr)


def _naming(path: Path, exc: Exception) -> str:
    """The error message, prefixed with the file when it does not name it already."""
    message = str(exc).strip() or type(exc).__name__
    return message if str(path) in message else f"{path}: {message}"


def _read_intensity(path: Path, domain: str | None = None):
    from .io import read_image
    from .pipeline import prepare_intensity
    from .utils import check_intensity

    array, meta = read_image(path)
    _warn_frames("train", path, meta)
    domain = domain or meta["domain"]
    if domain == "unknown":
        raise ValueError(f"{path}: cannot tell the data's domain; pass --domain")
    try:
        return check_intensity(prepare_intensity(array, domain), name=str(path)), meta
    except ValueError as exc:
        raise ValueError(_naming(path, exc)) from None


def _run_train(args) -> int:
    import s2v

    config = (s2v.S2VConfig.load(args.config) if args.config
              else s2v.S2VConfig.from_preset(args.preset))
    if args.looks is not None:
        config = config.replace(looks=args.looks)
    images = [_read_intensity(path, args.domain)[0] for path in _expand(args.images)]
    _output_folder(args.out)
    strategy = None
    if args.strategy != "none":
        from .distribute import make_strategy

        strategy = make_strategy(args.strategy)
    s2v.train(images, config, out_dir=args.out, total_steps=args.steps,
              resume=False if args.fresh else args.resume, strategy=strategy)
    print(f"model written to {Path(args.out) / 'model.keras'}")
    return 0


# -- denoise -------------------------------------------------------------------------
def _add_denoise(sub):
    p = sub.add_parser("denoise", help="despeckle images with a trained model")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="checkpoint file/folder or shipped name (default: per domain)")
    p.add_argument("--domain", choices=["intensity", "amplitude", "complex", "bmode"],
                   help="domain of the inputs (default: from the file's metadata)")
    p.add_argument("--looks", type=float, help="number of looks L (default: the model's)")
    p.add_argument("--tile-size", type=int, help="tile side for large images (default 512)")
    p.add_argument("--format", default="npy", choices=["npy", "tif", "png", "mat"],
                   help="output format (npy and tif keep float32 values)")
    p.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")
    p.set_defaults(run=_run_denoise)


def _run_denoise(args) -> int:
    from .io import read_image, write_image
    from .pipeline import DEFAULT_CHECKPOINT, DOMAINS, despeckle, load_model, prepare_intensity

    files = _expand(args.inputs)
    out_dir = _output_folder(args.out)
    models = {}
    done = skipped = failed = 0
    for path in files:
        target = out_dir / f"{path.stem}_despeckled.{args.format}"
        if target.exists() and not args.overwrite:
            skipped += 1  # an earlier (interrupted) run finished this one: outputs are atomic
            continue
        # One bad file must not stop a folder: report it on one line and go on (exit status 2).
        try:
            array, meta = read_image(path)
            _warn_frames("denoise", path, meta)
            domain = args.domain or meta["domain"]
            if domain == "rf":
                array, domain = prepare_intensity(array, "rf"), "intensity"
            elif domain not in DOMAINS:
                domain = "intensity"
        except (ValueError, OSError) as exc:
            failed += 1
            print(f"s2v denoise: error: {_naming(path, exc)}", file=sys.stderr)
            continue
        model_name = args.model or DEFAULT_CHECKPOINT[domain]
        if model_name not in models:  # a model that cannot be loaded stops the run
            models[model_name] = load_model(model_name)
        try:
            estimate = despeckle(array, models[model_name], domain=domain, looks=args.looks,
                                 tile_size=args.tile_size)
            write_image(target, estimate, inputs=files, overwrite=args.overwrite)
        except (ValueError, OSError) as exc:
            failed += 1
            print(f"s2v denoise: error: {_naming(path, exc)}", file=sys.stderr)
            continue
        done += 1
        print(f"{path} -> {target}")
    print(f"{done} despeckled, {skipped} already done (use --overwrite to redo)"
          + (f", {failed} failed (see the errors above)" if failed else ""))
    return 2 if failed else 0


# -- other commands ------------------------------------------------------------------
def _add_decorrelate(sub):
    from .decorrelation import add_decorrelate_arguments, decorrelate_main

    p = sub.add_parser("decorrelate", help="whiten complex SAR SLC / ultrasound IQ speckle")
    add_decorrelate_arguments(p)
    p.set_defaults(run=decorrelate_main)


def _add_compare(sub):
    from .compare import add_compare_arguments, compare_main

    p = sub.add_parser("compare", help="compare despeckling methods: tables and figures")
    add_compare_arguments(p)
    p.set_defaults(run=compare_main)


def _add_examples(sub):
    p = sub.add_parser("examples", help="list the built-in examples")
    p.set_defaults(run=_run_examples)


def _run_examples(args) -> int:
    from .examples import list_examples, load_example

    for name in list_examples():
        print(f"{name}: {load_example(name).get('description', '')}")
    return 0


def _add_study(sub):
    p = sub.add_parser("study", help="regenerate every table and figure of the study")
    p.add_argument("--out", default="results", help="output folder (default results/)")
    p.add_argument("--quick", action="store_true", help="tiny crops and budget (for tests)")
    p.add_argument("--realisations", type=int, default=1,
                   help="speckle realisations per Set12 image (the literature's protocol: 10)")
    p.add_argument("--folder", help="also compare the methods on your own folder of images")
    p.set_defaults(run=_run_study)


def _run_study(args) -> int:
    from .study import run_on_folder, run_study

    summary = run_study(args.out, quick=args.quick, realisations=args.realisations)
    print(f"study written to {summary.parent} (headline tables: {summary})")
    if args.folder:
        results = run_on_folder(args.folder, Path(args.out) / "user_folder")
        print(results.table_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s2v", description="Self-supervised speckle reduction (Speckle2Void).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_denoise, _add_decorrelate, _add_compare, _add_study, _add_examples):
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("s2v: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # "<file>: <reason>" rather than "[Errno 13] ..."
        where = f"{exc.filename}: " if exc.filename is not None and exc.strerror else ""
        print(f"s2v {args.command}: error: {where}{exc.strerror or str(exc).strip() or type(exc).__name__}",
              file=sys.stderr)
        return 2
    except (ValueError, KeyError, ImportError, MemoryError) as exc:
        print(f"s2v {args.command}: error: {str(exc).strip() or type(exc).__name__}", file=sys.stderr)
        return 2
    except Exception as exc:
        # TensorFlow's own errors (e.g. out of memory for a --tile-size too large): one line, not
        # a traceback from inside TensorFlow. Anything else is a bug in s2v and keeps its traceback.
        if not type(exc).__module__.startswith("tensorflow"):
            raise
        print(f"s2v {args.command}: error: TensorFlow {type(exc).__name__}: "
              f"{getattr(exc, 'message', str(exc)).strip()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

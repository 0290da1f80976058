"""The ``s2v`` command: thin over the library.

    s2v train IMAGES... --out DIR [--preset cpu|paper] [--domain D] [--steps N] [--resume [CKPT]]
    s2v denoise INPUTS... --out DIR [--model NAME|PATH] [--domain D] [--looks L] [--tile-size N]
      (D: intensity, amplitude, complex, bmode or rf; needed when a file does not say)
    s2v decorrelate IN OUT [--auto | --fx --fy --mx --my] [--cf CF] [--plot FILE]
    s2v compare --data DIR|EXAMPLE --methods ... --out DIR [--domain D] [--looks L|auto]
    s2v study [--out results] [--quick] [--realisations N] [--folder DIR]
    s2v examples

Every error is reported as one line naming the file and the problem (exit
status 2), never as a traceback from inside TensorFlow. Numeric options are checked
where they enter (finite, in range); the domain of a file is the file's own or
``--domain``, never a guess from the sign of its values (:func:`s2v.utils.domain_of`).
TensorFlow's start-up chatter on a CPU machine (CUDA not found, absl pre-init lines) is
dropped; any other line it prints is kept (``TF_CPP_MIN_LOG_LEVEL=0`` shows everything).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from ._tensorflow import quiet_import as _quiet_tensorflow  # imports no TensorFlow itself
from .pipeline import output_format as _output_format  # the API's output naming; no TensorFlow
from .pipeline import output_paths as _output_paths

# Before anything imports TensorFlow: no INFO/WARNING lines from its C++ core (errors stay).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_OUTPUT_SUFFIXES = {".npy", ".tif", ".tiff", ".png", ".mat"}
#: ``--domain`` choices of every subcommand that reads images.
_DOMAIN_CHOICES = ["intensity", "amplitude", "complex", "bmode", "rf"]


def _number(option: str, *, integer: bool = False, minimum: float = 0.0):
    """An argparse type: a finite number > ``minimum`` (an integer if ``integer``)."""
    def parse(text: str):
        from .utils import check_number

        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if integer else 'a number'}, got {text!r}") from None
        try:
            return check_number(value, option, integer=integer, minimum=minimum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = "integer" if integer else "number"
    return parse


def _cli_words(message: str) -> str:
    """An API message in command-line words: ``domain='bmode'`` -> ``--domain bmode``, ..."""
    message = re.sub(r"\bdomain='(\w+)'", r"--domain \1", message)
    for keyword, flag in (("domain", "--domain"), ("looks", "--looks"), ("tile_size", "--tile-size"),
                          ("total_steps", "--steps")):
        message = re.sub(rf"(?<![\w-]){keyword}=(?!=)", flag + " ", message).replace(flag + "  ", flag + " ")
    return message


# -- train ---------------------------------------------------------------------------
def _add_train(sub):
    p = sub.add_parser("train", help="train Speckle2Void self-supervised on noisy images")
    p.add_argument("images", nargs="+", help="image files or folders (any format s2v.io reads)")
    p.add_argument("--out", required=True, help="training folder (checkpoints, logs, model)")
    p.add_argument("--preset", default="cpu", help="configuration preset: cpu (default) or paper")
    p.add_argument("--config", help="JSON configuration file (overrides --preset)")
    p.add_argument("--steps", type=_number("--steps", integer=True), help="total training steps (> 0)")
    p.add_argument("--looks", type=_number("--looks"), help="number of looks L of the speckle (> 0)")
    p.add_argument("--domain", choices=_DOMAIN_CHOICES,
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


def _output_folder(raw, *, create: bool = True) -> Path:
    """The ``--out`` folder (created unless ``create`` is False); a clear error when it cannot be."""
    out_dir = Path(raw)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: --out must be a folder, but this is an existing file")
    existing = next(p for p in (out_dir, *out_dir.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(f"{out_dir}: --out cannot be created: {existing} is an existing file")
    if not os.access(existing, os.W_OK):
        raise PermissionError(f"{out_dir}: output folder is not writable"
                              + (f" ({existing} is read-only)" if existing != out_dir else ""))
    if create:
        out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _warn_frames(command: str, path: Path, meta: dict):
    """A 3-D stack is read as one frame: say so, since the other frames are not used."""
    if meta.get("n_frames", 1) > 1:
        print(f"s2v {command}: warning: {path}: {meta['n_frames']} frames, only frame {meta['frame']} "
              "is used", file=sys.stderr)


def _naming(path: Path, exc: Exception) -> str:
    """The error message in command-line words, prefixed with the file when it does not name it."""
    message = _cli_words(str(exc).strip() or type(exc).__name__)
    return message if str(path) in message else f"{path}: {message}"


def _check_bmode_scale(path: Path, array):
    """B-mode values must be 8-bit grey levels or dB: :func:`s2v.pipeline.check_bmode_scale`."""
    from .pipeline import check_bmode_scale

    try:
        check_bmode_scale(path, array)
    except ValueError as exc:
        raise ValueError(_cli_words(str(exc))) from None


def _read_domain(command: str, path: Path, domain: str | None):
    """``(array, domain, meta)`` of a file: the domain from ``--domain`` or the file itself."""
    from .io import read_image
    from .utils import domain_of

    array, meta = read_image(path)
    _warn_frames(command, path, meta)
    try:
        domain = domain_of(array, meta, domain)
        if domain == "bmode":
            _check_bmode_scale(path, array)
    except ValueError as exc:
        raise ValueError(_naming(path, exc)) from None
    return array, domain, meta


def _read_intensity(path: Path, domain: str | None = None):
    from .pipeline import prepare_intensity
    from .utils import check_intensity

    array, domain, meta = _read_domain("train", path, domain)
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
    _output_folder(args.out, create=False)  # s2v.train creates it once everything is validated
    from .utils import FolderLock

    holder = FolderLock.held_by(args.out)  # say so now, not after loading TensorFlow (train() decides)
    if holder is not None:
        raise ValueError(f"{args.out}: another s2v train process ({holder}) is using this folder; wait "
                         "for it to finish, or use another --out")
    _quiet_tensorflow()
    strategy = None
    if args.strategy != "none":
        from .distribute import make_strategy

        strategy = make_strategy(args.strategy)
    try:
        s2v.train(images, config, out_dir=args.out, total_steps=args.steps,
                  resume=False if args.fresh else args.resume, strategy=strategy)
    except ValueError as exc:
        raise ValueError(_cli_words(str(exc))) from None
    print(f"model written to {Path(args.out) / 'model.keras'}")
    return 0


# -- denoise -------------------------------------------------------------------------
def _add_denoise(sub):
    p = sub.add_parser("denoise", help="despeckle images with a trained model")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True,
                   help="output folder; each output keeps its input's path relative to the inputs' "
                        "common folder (<name>_despeckled.<format>)")
    p.add_argument("--model", help="checkpoint file/folder or shipped name (default: per domain)")
    p.add_argument("--domain", choices=_DOMAIN_CHOICES,
                   help="domain of the inputs (default: from the file itself; required when it "
                        "cannot be told)")
    p.add_argument("--looks", type=_number("--looks"), help="number of looks L (default: the model's)")
    p.add_argument("--tile-size", type=_number("--tile-size", integer=True),
                   help="tile side for large images (default 512)")
    p.add_argument("--format", default=None, choices=["npy", "tif", "png", "mat", "h5", "dcm"],
                   help="output format (default: the input's container for DICOM, TIFF and HDF5 "
                        "files, so cine loops come back as cine loops; npy otherwise; npy, tif and "
                        "h5 keep float32 values)")
    p.add_argument("--frame-axis", type=int, default=None,
                   help="axis of the frames in a 3-D stack (HDF5/NPY/MAT cines), when the file "
                        "does not say it; every frame is despeckled")
    p.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")
    p.set_defaults(run=_run_denoise)


def _unique_inputs(files) -> list[Path]:
    """The files without repeats (a file named twice, or named and inside a named folder)."""
    seen, unique = set(), []
    for path in files:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _read_frames_domain(path: Path, domain: str | None, frame_axis: int | None):
    """``(frames (N, H, W), domain, meta)``: :func:`s2v.pipeline.read_frames_domain`, CLI words."""
    from .pipeline import read_frames_domain

    try:
        return read_frames_domain(path, domain, frame_axis)
    except ValueError as exc:
        raise ValueError(_naming(path, exc)) from None


def _frame_progress(frames, path: Path):
    """The frames, with a progress bar when there are several."""
    if len(frames) == 1:
        return frames
    from tqdm.auto import tqdm

    return tqdm(frames, desc=f"{Path(path).name}: frames", unit="frame")


def _run_denoise(args) -> int:
    from .io import write_frames, write_image
    from .pipeline import DEFAULT_CHECKPOINT, despeckle, load_model

    files = _unique_inputs(_expand(args.inputs))
    out_dir = _output_folder(args.out)
    targets = _output_paths(files, out_dir, {path: _output_format(path, args.format) for path in files})
    models = {}
    done = skipped = failed = 0
    for path in files:
        target = targets[path]
        if target.exists() and not args.overwrite:
            skipped += 1  # an earlier (interrupted) run finished this one: outputs are atomic
            continue
        # One bad file must not stop a folder: report it on one line and go on (exit status 2).
        try:
            frames, domain, meta = _read_frames_domain(path, args.domain, args.frame_axis)
        except (ValueError, OSError) as exc:
            failed += 1
            print(f"s2v denoise: error: {_naming(path, exc)}", file=sys.stderr)
            continue
        model_name = args.model or DEFAULT_CHECKPOINT["complex" if domain == "rf" else domain]
        if model_name not in models:  # a model that cannot be loaded stops the run
            _quiet_tensorflow()
            models[model_name] = load_model(model_name)
        try:
            estimates = [despeckle(frame, models[model_name], domain=domain, looks=args.looks,
                                   tile_size=args.tile_size, progress=len(frames) == 1)
                         for frame in _frame_progress(frames, path)]
            out_domain = "bmode" if domain == "bmode" else "intensity"
            source = path if meta.get("format") == "dicom" and target.suffix == ".dcm" else None
            if len(estimates) == 1:
                write_image(target, estimates[0], inputs=files, overwrite=args.overwrite,
                            domain=out_domain, source=source)
            else:
                write_frames(target, np.stack(estimates), frame_axis=meta.get("frame_axis") or 0, inputs=files,
                             overwrite=args.overwrite, domain=out_domain, source=source,
                             description="despeckled with s2v (Speckle2Void), frame by frame")
        except (ValueError, OSError) as exc:
            failed += 1
            print(f"s2v denoise: error: {_naming(path, exc)}", file=sys.stderr)
            continue
        done += 1
        print(f"{path} -> {target}" + (f" ({len(frames)} frames)" if len(frames) > 1 else ""))
    assert done + skipped + failed == len(files)
    print(f"{len(files)} input{'s' if len(files) != 1 else ''}: {done} despeckled, {skipped} already done "
          f"(use --overwrite to redo), {failed} failed" + (" (see the errors above)" if failed else ""))
    return 2 if failed else 0


# -- decorrelate ---------------------------------------------------------------------
def _add_decorrelate(sub):
    p = sub.add_parser("decorrelate", help="whiten complex SAR SLC / ultrasound IQ speckle")
    add_decorrelate_arguments(p)
    p.set_defaults(run=decorrelate_main)


def add_decorrelate_arguments(parser):
    """Add the ``s2v decorrelate`` arguments to an ``argparse`` (sub)parser."""
    parser.add_argument("input", help="complex SLC / IQ image or real RF, any format s2v.io reads: "
                        ".npy (complex (H, W), or (H, W, 2) real/imag), .mat (complex or I/Q "
                        "variables), .npz, .h5, .tif")
    parser.add_argument("output", help="whitened complex image: .npy, .tif or .mat (variable 'cout')")
    parser.add_argument("--auto", action="store_true",
                        help="estimate shifts and cut-offs (the default when none is given)")
    parser.add_argument("--fx", type=float, help="cut-off r_x along axis 1 (fraction of bins per edge)")
    parser.add_argument("--fy", type=float, help="cut-off r_y along axis 0")
    parser.add_argument("--mx", type=float, help="frequency shift m_x along axis 1 (units of pi rad/sample)")
    parser.add_argument("--my", type=float, help="frequency shift m_y along axis 0")
    parser.add_argument("--cf", type=float, default=50.0,
                        help="point targets: |z|^2 >= cf * median (default 50; inf disables)")
    parser.add_argument("--grow", type=int, default=0,
                        help="grow the point-target mask by this many pixels (default 0)")
    parser.add_argument("--degree", type=int, default=70, help="profile fit degree (default 70)")
    parser.add_argument("--threshold", type=float, help="band threshold of the automatic cut-off")
    parser.add_argument("--resample", action="store_true",
                        help="output on the band's own grid (white speckle for oversampled data)")
    parser.add_argument("--rf", action="store_true", help="input is real RF lines, axis 0 = fast time")
    parser.add_argument("--variable", help="variable of a .mat / .npz / HDF5 file (or a struct "
                        "holding an I/Q pair)")
    parser.add_argument("--frame", type=int, help="frame of a 3-D stack (default: the first)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the point-target stand-ins")
    parser.add_argument("--plot", metavar="FILE", help="save the inspect_spectrum figure (png, pdf, ...)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser


def decorrelate_main(args: argparse.Namespace) -> int:
    """Run ``s2v decorrelate`` for parsed ``args``; return the exit status (0, or 2 on bad input)."""
    try:
        manual = [args.fx, args.fy, args.mx, args.my]
        if args.auto and any(v is not None for v in manual):
            raise ValueError("--auto cannot be combined with --fx/--fy/--mx/--my")
        if (args.fx is None) != (args.fy is None) or (args.mx is None) != (args.my is None):
            raise ValueError("give --fx with --fy and --mx with --my (or neither, to estimate them)")
        from .decorrelation import decorrelate, inspect_spectrum
        from .io import read_image, write_image

        slc, meta = read_image(args.input, variable=args.variable, frame=args.frame)
        domain = "rf" if args.rf or meta["domain"] == "rf" else meta["domain"]
        if domain not in ("complex", "rf"):
            raise ValueError(f"{args.input}: holds {domain} data ({meta['dtype']}); whitening needs "
                             "the phase: a complex SLC / IQ image, or real RF lines (--rf)")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            whitened, report = decorrelate(
                slc, cutoff=None if args.fx is None else (args.fy, args.fx),
                shift=None if args.mx is None else (args.my, args.mx), cf=args.cf, grow=args.grow,
                degree=args.degree, resample=args.resample, threshold=args.threshold,
                seed=args.seed, domain=domain)
        for warning in caught:
            print(f"s2v decorrelate: warning: {warning.message}", file=sys.stderr)
        # Variable 'cout' in .mat files, as decorrelate.m saves it.
        written = write_image(args.output, whitened, overwrite=args.overwrite, inputs=(args.input,),
                              domain="complex", variable="cout")
        print(report.summary())
        print(f"wrote {written} {whitened.shape} {whitened.dtype}")
        if args.plot:
            inspect_spectrum(slc, report=report, whitened=whitened,
                             domain=domain).savefig(args.plot, dpi=120)
            print(f"wrote {args.plot}")
    except (ValueError, OSError) as error:
        message = str(error)
        if str(args.input) not in message:  # every error names the file it is about
            message = f"{args.input}: {message}"
        print(f"s2v decorrelate: error: {message}", file=sys.stderr)
        return 2
    return 0


# -- compare -------------------------------------------------------------------------
def _add_compare(sub):
    p = sub.add_parser("compare", help="compare despeckling methods: tables and figures")
    add_compare_arguments(p)
    p.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
    if any(word in str(args.methods) for word in ("s2v", "apbsn")):  # methods that load TensorFlow
        _quiet_tensorflow()
    return compare_main(args)


def _looks_arg(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got '{text}'")
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"looks must be a finite positive number, got {text}")
    return value


def add_compare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``s2v compare`` options to ``parser`` (a subcommand parser)."""
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR|FILE|EXAMPLE",
                        help="folder(s) of images, image file(s) or built-in example name(s)")
    parser.add_argument("--methods", default="all",
                        help="comma-separated methods: baseline names (lee, bm3d_log, ...), 'all', "
                             "'s2v' or 's2v:<checkpoint>' (default: all baselines)")
    parser.add_argument("--out", required=True, help="output folder for tables and figures")
    parser.add_argument("--looks", type=_looks_arg, default=1.0,
                        help="number of looks L, or 'auto' to estimate it per image (default 1)")
    parser.add_argument("--regions", default=None,
                        help="regions.json from an earlier run (edited), instead of proposals")
    parser.add_argument("--realisations", type=int, default=1,
                        help="speckle realisations per image with ground truth (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the new realisations")
    parser.add_argument("--data-range", type=float, default=None,
                        help="peak amplitude for PSNR/SSIM (default: max of the ground truth)")
    parser.add_argument("--no-figures", action="store_true", help="write tables only")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--domain", choices=_DOMAIN_CHOICES,
                        help="domain of the image files (default: from each file itself; required "
                             "when it cannot be told)")
    return parser


def _compare_data(entries, domain: str | None) -> tuple[list, list[str]]:
    """``--data`` for :func:`s2v.compare.compare`, and the files of folders that could not be read.

    Without ``--domain`` the entries go to the library as they are (it reads each file in
    its own domain). With it, every file (of every folder) is read with that domain by the
    library's own reader (:func:`s2v.items.read_file_items`: every frame of a cine, imaging
    masks for B-mode); example names pass through.
    """
    if domain is None:
        return list(entries), []
    from .items import read_file_items

    data, skipped = [], []
    for entry in entries:
        if not Path(entry).exists():
            data.append(entry)  # an example name (or a typo the library reports)
            continue
        for path in _expand([entry]):
            try:
                data.extend(read_file_items(path, domain=domain))
            except (ValueError, OSError) as exc:
                if not Path(entry).is_dir():
                    raise ValueError(_naming(path, exc)) from None
                skipped.append(_naming(path, exc))
    return data, skipped


def compare_main(args: argparse.Namespace) -> int:
    """Run ``s2v compare`` from parsed arguments; print the table. Returns the exit status."""
    from .compare import compare, resolve_methods

    try:
        data, skipped = _compare_data(args.data, args.domain)
        results = compare(resolve_methods(args.methods), data, out_dir=args.out,
                          looks=args.looks, regions=args.regions,
                          realisations=args.realisations, seed=args.seed,
                          progress=not args.no_progress, figures=not args.no_figures,
                          data_range=args.data_range)
    except ValueError as err:
        print(f"s2v compare: error: {err}", file=sys.stderr)
        return 2
    print(results.table_markdown())
    for message in skipped + results.skipped:
        print(f"skipped {message}", file=sys.stderr)
    print(f"tables, regions and figures written to {results.out_dir}")
    return 0


# -- other commands ------------------------------------------------------------------


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
    p.add_argument("--realisations", type=_number("--realisations", integer=True), default=1,
                   help="speckle realisations per Set12 image (the literature's protocol: 10)")
    p.add_argument("--folder", help="also compare the methods on your own folder of images")
    p.set_defaults(run=_run_study)


def _run_study(args) -> int:
    if args.folder is not None:  # before the study runs, not after
        folder = Path(args.folder)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder}: --folder must be an existing folder of images"
                                     + (" (this is a file)" if folder.exists() else ""))
        if not any(p.is_file() and not p.name.startswith(".") for p in folder.iterdir()):
            raise ValueError(f"{folder}: --folder holds no image files")
    _output_folder(args.out, create=False)
    _quiet_tensorflow()
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
    except FloatingPointError as exc:  # s2v.training.TrainingDivergedError: the loss became NaN
        if type(exc).__name__ != "TrainingDivergedError":
            raise
        print(f"s2v {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, ImportError, MemoryError) as exc:
        message = (str(exc).strip() or type(exc).__name__).replace(":\n  - ", ": ").replace("\n  - ", "; ")
        print(f"s2v {args.command}: error: {message}", file=sys.stderr)  # one line (config problems too)
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

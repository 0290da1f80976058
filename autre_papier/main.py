"""AP-BSN for ultrasound B-mode, from the command line: prepare, train, predict.

Examples (from the repository root)::

    # training data: simulated B-mode + the pydicom-data ultrasound DICOM + your pictures
    python -m autre_papier.main prepare --out runs/apbsn_data.npz --simulated 8 --folder my_bmode/
    # optional: BUSI from Kaggle (needs `pip install kaggle` and API credentials)
    python -m autre_papier.main prepare --out runs/apbsn_data.npz --kaggle-busi runs/busi
    # self-supervised training (resumable), then export the small model folder
    python -m autre_papier.main train --data runs/apbsn_data.npz --run runs/apbsn_us --preset cpu
    # despeckle pictures (default model: autre_papier/checkpoint)
    python -m autre_papier.main predict scan1.png scan2.dcm --out despeckled/
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from s2v.utils import atomic_write_bytes

__all__ = ["build_parser", "main", "prepare", "read_prepared"]


def prepare(out: str | Path, *, folder: str | Path | None = None, pydicom: bool = True,
            simulated: int = 8, vary_psf: bool = True, kaggle_busi: str | Path | None = None,
            dynamic_range: float = 60.0, seed: int = 0) -> dict:
    """Gather training images into one ``.npz`` file (noisy intensity + crop masks).

    Parameters
    ----------
    out : path
        Output ``.npz``: ``intensity_<k>`` (float32 (H, W) linear **intensity**),
        ``mask_<k>`` (bool, where crops may come from) and ``manifest`` (JSON:
        names, sources, shapes, skipped files).
    folder : path, optional
        User folder of B-mode pictures (:func:`autre_papier.data.folder_items`).
    pydicom : bool
        Include the real ultrasound DICOM of ``pydicom-data``.
    simulated : int
        Number of simulated ultrasound B-mode images (:mod:`s2v.simulate`).
    vary_psf : bool
        Give each simulated image its own speckle grain (probe frequency and
        beam width, see :func:`autre_papier.data.simulated_items`).
    kaggle_busi : path, optional
        Download BUSI there with the Kaggle API and include it; raises
        :class:`autre_papier.data.KaggleUnavailable` with instructions when
        the package, the credentials or the network are missing.
    dynamic_range : float
        dB range assumed for 8-bit B-mode pictures.
    seed : int
        Seed of the simulations.

    Returns
    -------
    dict
        The manifest.
    """
    from autre_papier import data

    sources = []
    if kaggle_busi is not None:
        busi = data.download_busi(kaggle_busi)
        sources.append(("kaggle_busi", *data.folder_items(busi, dynamic_range=dynamic_range)))
    if folder is not None:
        sources.append(("folder", *data.folder_items(folder, dynamic_range=dynamic_range)))
    if pydicom:
        sources.append(("pydicom", data.pydicom_items(dynamic_range=dynamic_range), []))
    if simulated:
        sources.append(("simulated", data.simulated_items(simulated, seed=seed, vary_psf=vary_psf,
                                                          dynamic_range=dynamic_range), []))
    arrays, manifest = {}, {"images": [], "skipped": [], "dynamic_range": dynamic_range}
    for source, items, skipped in sources:
        manifest["skipped"] += skipped
        for item in items:
            k = len(manifest["images"])
            arrays[f"intensity_{k}"] = item["intensity"].astype(np.float32)
            arrays[f"mask_{k}"] = item.get("mask", np.ones(item["intensity"].shape, bool))
            manifest["images"].append({"name": item["name"], "source": source,
                                       "shape": list(item["intensity"].shape)})
    if not manifest["images"]:
        raise ValueError("no training image: give --folder, --simulated N > 0 or keep pydicom")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, manifest=np.array(json.dumps(manifest)), **arrays)
    atomic_write_bytes(Path(out), buffer.getvalue())
    return manifest


def read_prepared(path: str | Path) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """Read a file written by :func:`prepare`: intensities, masks and manifest."""
    path = Path(path)
    try:
        with np.load(path) as archive:
            manifest = json.loads(str(archive["manifest"]))
            count = len(manifest["images"])
            images = [archive[f"intensity_{k}"] for k in range(count)]
            masks = [archive[f"mask_{k}"] for k in range(count)]
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a training-data file of `autre_papier.main prepare` ({exc})") from None
    return images, masks, manifest


def _prepare_command(args) -> int:
    from autre_papier.data import KaggleUnavailable

    try:
        manifest = prepare(args.out, folder=args.folder, pydicom=args.pydicom, simulated=args.simulated,
                           vary_psf=args.vary_psf, kaggle_busi=args.kaggle_busi,
                           dynamic_range=args.dynamic_range, seed=args.seed)
    except KaggleUnavailable as exc:
        print(f"Kaggle download unavailable: {exc}", file=sys.stderr)
        return 2
    by_source = {}
    for image in manifest["images"]:
        by_source[image["source"]] = by_source.get(image["source"], 0) + 1
    print(f"wrote {args.out}: {len(manifest['images'])} images {by_source}")
    for line in manifest["skipped"]:
        print(f"skipped {line}", file=sys.stderr)
    return 0


def _train_command(args) -> int:
    from autre_papier.apbsn import APBSNConfig, save_apbsn, train_apbsn

    images, masks, manifest = read_prepared(args.data)
    overrides = {k: v for k, v in (("total_steps", args.steps), ("loss", args.loss),
                                   ("checkpoint_every", args.checkpoint_every)) if v is not None}
    config = APBSNConfig.from_preset(args.preset, **overrides)
    model, info = train_apbsn(images, config, masks=masks, out_dir=args.run, resume=args.resume,
                              verbose=args.verbose)
    if args.export is not None:
        sources = sorted({image["source"] for image in manifest["images"]})
        save_apbsn(model, args.export, extra={**info, "data": args.data.name, "sources": sources,
                                              "images": len(images)})
        print(f"exported the model to {args.export}")
    print(json.dumps({k: info[k] for k in ("steps", "wall_clock_s")}))
    return 0


def _predict_command(args) -> int:
    from autre_papier.apbsn import DEFAULT_CHECKPOINT, despeckle, load_apbsn
    from autre_papier.data import grey_bmode
    from s2v.domains import bmode_to_intensity, intensity_to_bmode, to_intensity
    from s2v.io import read_image, write_image

    model = load_apbsn(args.model or DEFAULT_CHECKPOINT)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.inputs:
        array, meta = read_image(path)
        if array.dtype == np.uint8:
            grey, mask = grey_bmode(array)
            intensity = bmode_to_intensity(grey, dynamic_range=args.dynamic_range)
            estimate = despeckle(intensity, looks=args.looks, model=model)
            # Same display: reference 1 is 0 dB of the input; text/colour pixels are kept.
            result = intensity_to_bmode(estimate, dynamic_range=args.dynamic_range, reference=1.0)
            result[~mask] = grey[~mask]
            target = args.out / f"{Path(path).stem}_apbsn.png"
        else:
            intensity = to_intensity(array, meta["domain"])
            result = despeckle(intensity.astype(np.float32), looks=args.looks, model=model)
            target = args.out / f"{Path(path).stem}_apbsn_intensity.npy"
        write_image(target, result, overwrite=args.overwrite, inputs=list(args.inputs))
        print(f"{path} -> {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``prepare`` / ``train`` / ``predict`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m autre_papier.main", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="gather training images into one .npz")
    p.add_argument("--out", type=Path, required=True, help="output .npz")
    p.add_argument("--folder", type=Path, help="folder of B-mode pictures (png, tiff, dicom, ...)")
    p.add_argument("--no-pydicom", dest="pydicom", action="store_false",
                   help="leave out the pydicom-data ultrasound DICOM")
    p.add_argument("--simulated", type=int, default=8, help="simulated B-mode images (default 8)")
    p.add_argument("--fixed-psf", dest="vary_psf", action="store_false",
                   help="simulate every image with the same probe (default: varied speckle grain)")
    p.add_argument("--kaggle-busi", type=Path, metavar="DIR",
                   help="download BUSI from Kaggle into DIR (needs the kaggle package and credentials)")
    p.add_argument("--dynamic-range", type=float, default=60.0, help="dB range of 8-bit pictures")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_prepare_command)

    p = sub.add_parser("train", help="self-supervised training on a prepared .npz")
    p.add_argument("--data", type=Path, required=True, help=".npz written by `prepare`")
    p.add_argument("--run", type=Path, required=True,
                   help="run folder (resume.keras, export/, history.csv)")
    p.add_argument("--preset", default="cpu", help="'cpu' (default) or 'paper'")
    p.add_argument("--steps", type=int, help="total training steps (default: the preset's)")
    p.add_argument("--loss", choices=("log_l1", "gamma"), help="default: the preset's (log_l1)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from RUN/resume.keras")
    p.add_argument("--export", type=Path, help="also write the final model folder here")
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1, 2)")
    p.set_defaults(func=_train_command)

    p = sub.add_parser("predict", help="despeckle pictures or intensity files")
    p.add_argument("inputs", nargs="+", type=Path, help="B-mode pictures or other s2v.io files")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--model", type=Path, help="model folder (default: autre_papier/checkpoint)")
    p.add_argument("--looks", type=float, default=1.0, help="number of looks L (default 1)")
    p.add_argument("--dynamic-range", type=float, default=60.0, help="dB range of 8-bit pictures")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=_predict_command)
    return parser


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # bad inputs: one clear line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

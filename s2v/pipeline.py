"""Ready-to-use despeckling: shipped checkpoints by name, per-domain pipelines, folders of files.

:func:`despeckle` takes an image or a stack of frames in any domain; :func:`despeckle_folder`
reads every file of a folder with :func:`s2v.io.read_frames` and writes its despeckled frames
with :func:`s2v.io.write_frames` (:func:`read_frames_domain`, :func:`output_paths`: the road of
``s2v denoise``). Shipped checkpoints are package data of the ``s2v_checkpoint`` package (the
top-level ``s2v_checkpoint/<name>/`` folder of the repository, installed with the wheel; found
by :func:`s2v._shared.checkpoint_root`): ``model.keras``, ``config.json``, ``MODEL_CARD.md``.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from ._shared import checkpoint_root
from .config import ConfigError

__all__ = ["load_model", "despeckle", "despeckle_folder", "prepare_intensity", "list_checkpoints",
           "read_frames_domain", "output_format", "output_paths", "CHECKPOINT_DIR",
           "DEFAULT_CHECKPOINT"]

CHECKPOINT_DIR = checkpoint_root()

#: The shipped checkpoint used when ``model=None``, per input domain.
DEFAULT_CHECKPOINT = {
    "intensity": "synthetic-L1",
    "amplitude": "synthetic-L1",
    "complex": "ultrasound",
    # Trained on simulated scanner exports (unknown display range, gain drift, 8 bits): chosen
    # for B-mode input on the scanner-like validation phantoms (its model card).
    "bmode": "ultrasound-bmode",
}

DOMAINS = tuple(DEFAULT_CHECKPOINT)


def list_checkpoints() -> dict[str, Path]:
    """Names of the shipped checkpoints and their ``model.keras`` files."""
    if not CHECKPOINT_DIR.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(CHECKPOINT_DIR.glob("*/model.keras"))}


def _resolve(path_or_name) -> Path:
    candidate = Path(path_or_name)
    if candidate.is_dir():
        candidate = candidate / "model.keras"
    if candidate.is_file():
        return candidate
    shipped = list_checkpoints()
    if str(path_or_name) in shipped:
        return shipped[str(path_or_name)]
    hint = difflib.get_close_matches(str(path_or_name), shipped, n=1)
    raise FileNotFoundError(
        f"{path_or_name}: no such checkpoint file, folder or shipped name"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; shipped checkpoints: {sorted(shipped) or 'none'}")


def load_model(path_or_name, *, compile: bool = False):
    """Load a Speckle2Void model from a ``.keras`` file, a folder or a shipped name.

    Loading is safe: Keras' ``safe_mode`` refuses any code stored in the file
    (no lambdas, no pickle); only registered s2v layers are rebuilt. A
    checkpoint records the s2v version and its configuration, and an
    incompatible one raises :class:`s2v.ConfigError` saying why.

    Parameters
    ----------
    path_or_name : str or Path
        ``model.keras`` file, a folder containing one, or a shipped name such
        as ``"synthetic-L1"`` or ``"ultrasound"``.
    compile : bool
        Also restore the optimizer state (to continue training).

    Raises
    ------
    ValueError
        Not a loadable s2v checkpoint, or one whose weights hold NaN/Inf values.
    """
    import keras

    from .model import Speckle2Void  # noqa: F401  (registers the s2v classes)

    path = _resolve(path_or_name)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=compile)
    except ConfigError as exc:  # an s2v checkpoint, but of another version or configuration
        raise ConfigError(f"{path}: {exc}") from None
    except (ValueError, TypeError, OSError, KeyError) as exc:
        raise ValueError(f"{path}: not a loadable s2v checkpoint ({exc})") from None
    if not isinstance(model, Speckle2Void):
        raise ValueError(f"{path}: contains a {type(model).__name__}, not a Speckle2Void model")
    # A diverged checkpoint is refused here: on some CPUs (oneDNN kernels) ReLU maps NaN to 0,
    # and the network would then silently return its input instead of a NaN result.
    bad = sum(int(np.size(w) - np.count_nonzero(np.isfinite(w))) for w in model.get_weights())
    if bad:
        raise ValueError(f"{path}: {bad} NaN/Inf weight value(s) (a diverged training?); refused")
    return model


def _check_domain(domain):
    """A ValueError with a close match for a domain :func:`despeckle` does not take."""
    accepted = DOMAINS + ("rf",)
    if domain not in accepted:
        hint = difflib.get_close_matches(str(domain), accepted, n=1)
        raise ValueError(f"unknown domain {domain!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; pass domain= one of {accepted}")


def despeckle(data, model=None, *, domain: str = "intensity", looks=None, tile_size=None,
              dynamic_range: float = 60.0, scale=None, progress: bool = True) -> np.ndarray:
    """Despeckle an image with Speckle2Void and the recommended pipeline for its domain.

    Parameters
    ----------
    data : array_like, (H, W) or (N, H, W)
        The image, or a stack of N frames (a cine loop: each frame despeckled on its own,
        exactly as alone), in the domain named by ``domain``:
        ``"intensity"`` (|z|^2, >= 0), ``"amplitude"`` (|z|, >= 0), ``"complex"``
        (IQ or SLC: converted to ``|z|^2``, decorrelated first when the model's
        ``complex_input`` is ``"whitened"`` (the ``sar`` model), then despeckled as
        intensity on the input grid), ``"rf"``
        (real RF lines, axis 0 = depth: analytic signal, then as ``"complex"``) or
        ``"bmode"`` (log-compressed, 8-bit grey levels or dB <= 0, with ``dynamic_range``).
        Converted by :func:`prepare_intensity` (:func:`s2v.domains.to_intensity`).
    model : Speckle2Void, str or Path, optional
        A loaded model, a checkpoint path, or a shipped name; ``None`` picks
        the shipped checkpoint that fits the domain (:data:`DEFAULT_CHECKPOINT`;
        ``"rf"`` takes the ``"complex"`` one).
    looks : float, optional
        Number of looks of the speckle, finite and > 0 (default: the model's).
    tile_size : int, optional
        Tile side for large images, an integer > 0 (exact tiling; see ``predict_maps``).
    dynamic_range : float
        B-mode dynamic range in dB, finite and > 0 (``domain="bmode"`` only).
    scale : {"uint8", "db"}, optional
        Meaning of B-mode values (``domain="bmode"`` only); default from the data (the whole
        stack) by the rule of :func:`s2v.domains.to_intensity` (8-bit grey levels, or dB
        when every value is <= 0); the output uses the same scale.
    progress : bool
        Progress bar over the frames of a stack, else over tiles for large images.

    Returns
    -------
    ndarray, (H, W) or (N, H, W) float32
        Despeckled **intensity** for intensity, amplitude, complex and RF input (an
        all-zero intensity comes back as zeros); despeckled **B-mode** (same scale as the
        input) for B-mode input. Always finite: a non-finite result (a diverged
        checkpoint) raises a ValueError instead of being returned.

    Raises
    ------
    ValueError
        An unknown domain, a bad option, data that is not a valid image of its domain (for
        a stack, naming the frame), an empty stack or a trailing axis of 1 to 4 (a
        channel axis: (real, imag) pairs, RGB or RGBA; pass a complex array or grey levels).
    """
    from .utils import check_number

    _check_domain(domain)
    if looks is not None:
        looks = check_number(looks, "looks")
    if tile_size is not None:
        tile_size = check_number(tile_size, "tile_size", integer=True)
    dynamic_range = check_number(dynamic_range, "dynamic_range")
    if scale is not None and (domain != "bmode" or scale not in ("uint8", "db")):
        raise ValueError(f"scale={scale!r}: only domain='bmode' takes a scale, 'uint8' or 'db'")
    if model is None:
        model = DEFAULT_CHECKPOINT["complex" if domain == "rf" else domain]
    if isinstance(model, (str, Path)):
        model = load_model(model)
    array = np.asarray(data)
    if array.ndim != 3:
        return _despeckle_image(array, model, domain, looks, tile_size, dynamic_range, scale,
                                progress)
    # A last axis of 1-4 is a channel axis ((real, imag) pairs, RGB, RGBA), not image columns.
    if array.shape[0] == 0 or array.shape[-1] in (1, 2, 3, 4):
        raise ValueError(f"despeckle: expected an (H, W) image or an (N, H, W) stack of frames, got "
                         f"shape {array.shape}" + ("" if array.shape[0] == 0 else
                                                   " (a trailing channel axis? drop it, convert RGB "
                                                   "to grey, or pass (real, imag) pairs as a complex "
                                                   "array with domain='complex')"))
    if domain == "bmode" and scale is None:  # one scale for the whole cine
        from .domains import _bmode_scale

        scale = _bmode_scale(array, array.dtype)
    frames = array
    if progress and len(array) > 1:
        from tqdm.auto import tqdm

        frames = tqdm(array, desc="despeckle: frames", unit="frame")
    estimates = []
    for index, frame in enumerate(frames):
        try:
            estimates.append(_despeckle_image(frame, model, domain, looks, tile_size,
                                              dynamic_range, scale, progress and len(array) == 1))
        except ValueError as exc:
            raise ValueError(f"frame {index} of the stack: {exc}") from None
    return np.stack(estimates)


def _despeckle_image(array, model, domain, looks, tile_size, dynamic_range, scale,
                     progress) -> np.ndarray:
    """:func:`despeckle` of one (H, W) image, its arguments already checked."""
    from .utils import check_finite_output, check_intensity

    if domain == "bmode":
        from .domains import _bmode_scale, intensity_to_bmode, to_intensity

        intensity = to_intensity(array, "bmode", dynamic_range=dynamic_range, scale=scale)
        scale = scale or _bmode_scale(array, array.dtype)
    else:
        whiten = domain in ("complex", "rf") and model.s2v_config.complex_input == "whitened"
        # An intensity is only checked below (check_intensity: finite, >= 0), not copied by
        # to_intensity: a memory-mapped 10^8-pixel .npy stays mapped (+4 B/pixel otherwise).
        intensity = array if domain == "intensity" else prepare_intensity(array, domain, whiten=whiten)
    intensity = check_intensity(intensity)
    if not intensity.any():  # no signal: the estimate is 0 (the network would answer its prior)
        estimate = np.zeros(intensity.shape, np.float32)
    else:
        estimate = model.predict_maps(intensity, looks=looks, tile_size=tile_size,
                                      outputs=("posterior_mean",), progress=progress)["posterior_mean"]
    check_finite_output(estimate, "despeckle")
    if domain == "bmode":
        return check_finite_output(
            intensity_to_bmode(estimate, dynamic_range=dynamic_range, scale=scale, reference=1.0),
            "despeckle")
    return estimate


def prepare_intensity(data, domain: str, *, dynamic_range: float = 60.0, whiten: bool = False) -> np.ndarray:
    """The intensity Speckle2Void works on: :func:`s2v.domains.to_intensity`, with the pipeline's options.

    Kept as the pipeline's name for the one conversion (training and prediction call it);
    ``dynamic_range`` applies to ``"bmode"`` only and ``whiten`` to ``"complex"``/``"rf"``
    only (default False: :func:`despeckle` whitens for models whose ``complex_input`` is
    ``'whitened'``, e.g. ``sar``; the others were trained on un-whitened ``|z|**2``).

    Returns
    -------
    ndarray, (H, W) float32
        Linear intensity.
    """
    from .domains import to_intensity

    if domain == "bmode":
        return to_intensity(data, domain, dynamic_range=dynamic_range)
    if domain in ("complex", "rf"):
        return to_intensity(data, domain, whiten=whiten)
    return to_intensity(data, domain)


# --------------------------------------------------------------------------- files and folders

#: Output format by input suffix: a cine stays in its container; anything else becomes .npy.
_SAME_CONTAINER = {".dcm": "dcm", ".tif": "tif", ".tiff": "tif", ".h5": "h5", ".hdf5": "h5"}


def output_format(path, fmt: str | None = None) -> str:
    """``fmt``, or by default the input's own container (DICOM, TIFF, HDF5: cines stay cines), else npy."""
    return fmt or _SAME_CONTAINER.get(Path(path).suffix.lower(), "npy")


def output_paths(files, out_dir, fmt) -> dict:
    """One output per input, never two on one name.

    Each output keeps its input's folder relative to the inputs' common folder
    (``d1/scan.npy`` and ``d2/scan.npy`` -> ``OUT/d1/scan_despeckled.npy`` and
    ``OUT/d2/...``; one folder -> directly in ``OUT``); inputs of one folder that share a
    stem (``scan.npy``, ``scan.tif``) keep their extension in the name
    (``scan_npy_despeckled.npy``); names are compared case-insensitively, and any clash
    left gets a number.

    Parameters
    ----------
    files : sequence of paths
        The input files.
    out_dir : path
        The output folder.
    fmt : str or dict
        Output extension without the dot (``"npy"``), or ``{input: extension}``
        (:func:`output_format`).

    Returns
    -------
    dict
        ``{input: output path}``, in the order of ``files``.
    """
    import os

    out_dir = Path(out_dir)
    absolute = [Path(os.path.abspath(p)) for p in files]
    try:
        root = Path(os.path.commonpath([str(p.parent) for p in absolute]))
    except ValueError:  # different drives: keep the whole path below out_dir
        root = None
    folders = [p.parent.relative_to(root) if root else Path(*p.parent.parts[1:]) for p in absolute]
    stems = {}
    for folder, path in zip(folders, absolute):
        stems.setdefault((str(folder).lower(), path.stem.lower()), []).append(path)
    taken, targets = set(), {}
    formats = fmt if isinstance(fmt, dict) else {original: fmt for original in files}
    for original, folder, path in zip(files, folders, absolute):
        extension = formats[original]
        shared = len(stems[(str(folder).lower(), path.stem.lower())]) > 1
        stem = f"{path.stem}_{path.suffix.lstrip('.') or 'noext'}" if shared else path.stem
        name, k = f"{stem}_despeckled.{extension}", 1
        while str(folder / name).lower() in taken:
            k += 1
            name = f"{stem}_{k}_despeckled.{extension}"
        taken.add(str(folder / name).lower())
        targets[original] = out_dir / folder / name
    return targets


def _naming(path, exc: Exception) -> str:
    """The error message, prefixed with the file when it does not name it."""
    message = str(exc).strip() or type(exc).__name__
    return message if str(path) in message else f"{path}: {message}"


def check_bmode_scale(path, array) -> None:
    """Raise a ValueError naming ``path`` unless ``array`` holds 8-bit grey levels or dB (<= 0)."""
    from .domains import _bmode_scale

    values = np.asarray(array)
    try:
        _bmode_scale(values, values.dtype)
    except (ValueError, TypeError):
        span = (f"values in [{values.min():.4g}, {values.max():.4g}] " if values.size and
                np.issubdtype(values.dtype, np.number) and not np.iscomplexobj(values) else "")
        raise ValueError(
            f"{path}: domain='bmode': {span}(dtype {values.dtype}) are neither 8-bit grey levels "
            "(0..255) nor dB (<= 0), so their log compression is unknown; rescale the file to "
            "one of these, or pass domain='intensity' if it holds linear intensities") from None


def read_frames_domain(path, domain: str | None = None, frame_axis: int | None = None):
    """Every frame of a file and its domain, as :func:`despeckle_folder` and ``s2v denoise`` read it.

    Parameters
    ----------
    path : path
        Any file :func:`s2v.io.read_frames` reads.
    domain : str, optional
        The data's domain; default the file's own (:func:`s2v.utils.domain_of`: never a
        guess from the sign of the values).
    frame_axis : int, optional
        Axis of the frames in a 3-D array as stored, when the file does not say it.

    Returns
    -------
    frames : ndarray, (N, H, W)
        In the file's own domain and dtype.
    domain : str
        A domain of :func:`despeckle`.
    meta : dict
        The metadata of :func:`s2v.io.read_frames`.

    Raises
    ------
    ValueError
        Naming the file: unreadable, no domain, or B-mode values that are neither 8-bit
        grey levels nor dB.
    """
    from .io import read_frames
    from .utils import domain_of

    frames, meta = read_frames(path, frame_axis=frame_axis)
    try:
        domain = domain_of(frames[0], meta, domain)
    except ValueError as exc:
        raise ValueError(_naming(path, exc)) from None
    if domain == "bmode":
        check_bmode_scale(path, frames[0])
    return frames, domain, meta


def folder_files(folder, pattern: str, task: str, *, exclude=None) -> list[Path]:
    """The files of ``folder`` matching ``pattern``, sorted: no dot files, none under ``exclude``.

    Raises a ValueError naming ``task`` when none matches.
    """
    folder = Path(folder)
    below = None if exclude is None else Path(exclude).resolve()
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(".")
                   and (below is None or below not in p.resolve().parents))
    if not files:
        raise ValueError(f"{folder}: no file matches {pattern!r}; nothing to {task}")
    return files


def despeckle_folder(folder, out_dir, *, model=None, domain: str | None = None, looks=None,
                     pattern: str = "*", frame_axis: int | None = None, tile_size=None,
                     fmt: str | None = None, overwrite: bool = False,
                     progress: bool = True) -> list[dict]:
    """Despeckle every file of a folder, every frame of a cine, into ``out_dir``.

    Each file is read with :func:`read_frames_domain` (:func:`s2v.io.read_frames`), despeckled
    frame by frame with :func:`despeckle` and written with :func:`s2v.io.write_image` (one
    frame) or :func:`s2v.io.write_frames` (a stack: same frame count and frame axis; a DICOM
    keeps its source's metadata), atomically, as ``s2v denoise`` does. Output names come from
    :func:`output_paths` (``<stem>_despeckled.<fmt>``, collision-free). An output that
    already exists is kept, not recomputed, unless ``overwrite``: a run that stopped resumes.

    Parameters
    ----------
    folder : path
        The folder; files whose name starts with a dot and files under ``out_dir`` are left out.
    out_dir : path
        The output folder (created).
    model : Speckle2Void, str or Path, optional
        As in :func:`despeckle`; loaded once. ``None``: the shipped checkpoint of each
        file's domain (:data:`DEFAULT_CHECKPOINT`), each loaded once.
    domain : str, optional
        Domain of every file (``"intensity"``, ``"amplitude"``, ``"complex"``, ``"rf"``,
        ``"bmode"``); default each file's own.
    looks : float, optional
        Number of looks (default: the model's).
    pattern : str
        Glob pattern of the files, relative to ``folder`` (``"*.dcm"``; ``"**/*"`` recurses).
    frame_axis : int, optional
        Axis of the frames in 3-D arrays (NPY/MAT/HDF5 cines) when a file does not say it.
    tile_size : int, optional
        As in :func:`despeckle`.
    fmt : {"npy", "tif", "png", "mat", "h5", "dcm"}, optional
        Output format; default :func:`output_format` (the input's container for DICOM, TIFF
        and HDF5, else npy; npy, tif and h5 keep float32 values).
    overwrite : bool
        Recompute outputs that already exist.
    progress : bool
        A progress bar over the files (over the frames or tiles for a single file).

    Returns
    -------
    list of dict
        One record per file, in sorted order: ``input`` and ``output`` (Path), ``frames``
        (int, None when kept), ``domain`` (the input's; None when kept) and ``status``
        (``"written"`` or ``"kept"``). Outputs are **intensity** (float32), or **B-mode** on the
        input's scale for B-mode input.

    Raises
    ------
    FileNotFoundError
        ``folder`` is not a folder.
    ValueError
        No file matches ``pattern`` in ``folder``; or, after every other file is written,
        one or more files could not be read or despeckled: the message names each of them
        and why.

    Examples
    --------
    >>> records = despeckle_folder("scans", "scans_despeckled", domain="bmode")  # doctest: +SKIP
    >>> [r["output"].name for r in records]  # doctest: +SKIP
    ['cine_despeckled.dcm', 'still_despeckled.npy']
    """
    from .io import write_frames, write_image

    if domain is not None:
        _check_domain(domain)
    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = folder_files(folder, pattern, "despeckle", exclude=out_dir)
    targets = output_paths(files, out_dir, {path: output_format(path, fmt) for path in files})
    if isinstance(model, (str, Path)):
        model = load_model(model)
    models = {}
    records, failed = [], []
    iterator = files
    if progress and len(files) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(files, desc="despeckle_folder", unit="file")
    for path in iterator:
        target = targets[path]
        if target.exists() and not overwrite:
            records.append(dict(input=path, output=target, frames=None, domain=None, status="kept"))
            continue
        # One bad file must not stop the folder: it is reported at the end.
        try:
            frames, file_domain, meta = read_frames_domain(path, domain, frame_axis)
        except (ValueError, OSError) as exc:
            failed.append(_naming(path, exc))
            continue
        chosen = model
        if chosen is None:  # a checkpoint that cannot be loaded stops the run
            name = DEFAULT_CHECKPOINT["complex" if file_domain == "rf" else file_domain]
            if name not in models:
                models[name] = load_model(name)
            chosen = models[name]
        try:
            estimates = despeckle(frames, chosen, domain=file_domain, looks=looks,
                                  tile_size=tile_size, progress=progress and len(files) == 1)
            out_domain = "bmode" if file_domain == "bmode" else "intensity"
            source = path if meta.get("format") == "dicom" and target.suffix == ".dcm" else None
            if len(estimates) == 1:
                write_image(target, estimates[0], inputs=files, overwrite=overwrite,
                            domain=out_domain, source=source)
            else:
                write_frames(target, estimates, frame_axis=meta.get("frame_axis") or 0,
                             inputs=files, overwrite=overwrite, domain=out_domain, source=source,
                             description="despeckled with s2v (Speckle2Void), frame by frame")
        except (ValueError, OSError) as exc:
            failed.append(_naming(path, exc))
            continue
        records.append(dict(input=path, output=target, frames=len(estimates), domain=file_domain,
                            status="written"))
    if failed:
        raise ValueError(f"{len(failed)} of {len(files)} files failed ({len(records)} done, in "
                         f"{out_dir}):\n" + "\n".join(failed))
    return records

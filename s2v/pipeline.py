"""Ready-to-use despeckling: shipped checkpoints by name and per-domain pipelines.

Shipped checkpoints are package data of the ``s2v_checkpoint`` package (the top-level
``s2v_checkpoint/<name>/`` folder of the repository, installed with the wheel; found by
:func:`s2v._shared.checkpoint_root`): ``model.keras``, ``config.json``, ``MODEL_CARD.md``.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from ._shared import checkpoint_root
from .config import ConfigError

__all__ = ["load_model", "despeckle", "prepare_intensity", "list_checkpoints", "CHECKPOINT_DIR",
           "DEFAULT_CHECKPOINT"]

CHECKPOINT_DIR = checkpoint_root()

#: The shipped checkpoint used when ``model=None``, per input domain.
DEFAULT_CHECKPOINT = {
    "intensity": "synthetic-L1",
    "amplitude": "synthetic-L1",
    "complex": "ultrasound",
    "bmode": "ultrasound",
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
    return model


def despeckle(data, model=None, *, domain: str = "intensity", looks=None, tile_size=None,
              dynamic_range: float = 60.0, scale=None, progress: bool = True) -> np.ndarray:
    """Despeckle an image with Speckle2Void and the recommended pipeline for its domain.

    Parameters
    ----------
    data : array_like, (H, W)
        The image, in the domain named by ``domain``:
        ``"intensity"`` (|z|^2, >= 0), ``"amplitude"`` (|z|, >= 0), ``"complex"``
        (IQ or SLC: converted to ``|z|^2``, then despeckled as intensity), ``"rf"``
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
        Meaning of B-mode values (``domain="bmode"`` only); default from the data by the
        rule of :func:`s2v.domains.to_intensity` (8-bit grey levels, or dB when every
        value is <= 0); the output uses the same scale.
    progress : bool
        Progress bar over tiles for large images.

    Returns
    -------
    ndarray, (H, W) float32
        Despeckled **intensity** for intensity, amplitude, complex and RF input (an
        all-zero intensity comes back as zeros); despeckled **B-mode** (same scale as the
        input) for B-mode input. Always finite: a non-finite result (a diverged
        checkpoint) raises a ValueError instead of being returned.
    """
    from .utils import check_finite_output, check_intensity, check_number

    accepted = DOMAINS + ("rf",)
    if domain not in accepted:
        hint = difflib.get_close_matches(str(domain), accepted, n=1)
        raise ValueError(f"unknown domain {domain!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; pass domain= one of {accepted}")
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
    if domain == "bmode":
        from .domains import _bmode_scale, intensity_to_bmode, to_intensity

        intensity = to_intensity(array, "bmode", dynamic_range=dynamic_range, scale=scale)
        scale = scale or _bmode_scale(array, array.dtype)
    else:
        intensity = prepare_intensity(array, domain)
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
    only (default False: the shipped models were trained on un-whitened ``|z|**2``).

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

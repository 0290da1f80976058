"""Ready-to-use despeckling: shipped checkpoints by name and per-domain pipelines.

Shipped checkpoints live in ``s2v_checkpoint/<name>/`` at the repository root
(``model.keras``, ``config.json``, ``MODEL_CARD.md``).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from ._shared import repo_root
from .config import ConfigError

__all__ = ["load_model", "despeckle", "prepare_intensity", "list_checkpoints", "CHECKPOINT_DIR",
           "DEFAULT_CHECKPOINT"]

CHECKPOINT_DIR = repo_root() / "s2v_checkpoint"

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
              dynamic_range: float = 60.0, progress: bool = True) -> np.ndarray:
    """Despeckle an image with Speckle2Void and the recommended pipeline for its domain.

    Parameters
    ----------
    data : array_like, (H, W)
        The image, in the domain named by ``domain``:
        ``"intensity"`` (|z|^2, >= 0), ``"amplitude"`` (|z|), ``"complex"``
        (IQ or SLC: decorrelated first, then despeckled as intensity) or
        ``"bmode"`` (log-compressed, uint8 or dB with ``dynamic_range``).
    model : Speckle2Void, str or Path, optional
        A loaded model, a checkpoint path, or a shipped name; ``None`` picks
        the shipped checkpoint that fits the domain (:data:`DEFAULT_CHECKPOINT`).
    looks : float, optional
        Number of looks of the speckle (default: the model's).
    tile_size : int, optional
        Tile side for large images (exact tiling; see ``predict_maps``).
    dynamic_range : float
        B-mode dynamic range in dB (``domain="bmode"`` only).
    progress : bool
        Progress bar over tiles for large images.

    Returns
    -------
    ndarray, (H, W) float32
        Despeckled **intensity** for intensity, amplitude and complex input;
        despeckled **B-mode** (same scale as the input) for B-mode input.
    """
    if domain not in DOMAINS:
        hint = difflib.get_close_matches(str(domain), DOMAINS, n=1)
        raise ValueError(f"unknown domain {domain!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; choose among {DOMAINS}")
    if model is None:
        model = DEFAULT_CHECKPOINT[domain]
    if isinstance(model, (str, Path)):
        model = load_model(model)
    array = np.asarray(data)
    if domain == "bmode":
        from .domains import intensity_to_bmode

        scale = "uint8" if array.dtype == np.uint8 else "db"
        intensity = prepare_intensity(array, "bmode", dynamic_range=dynamic_range)
        estimate = model.predict_maps(intensity, looks=looks, tile_size=tile_size,
                                      outputs=("posterior_mean",), progress=progress)["posterior_mean"]
        return intensity_to_bmode(estimate, dynamic_range=dynamic_range, scale=scale, reference=1.0)
    return model.predict_maps(prepare_intensity(array, domain), looks=looks, tile_size=tile_size,
                              outputs=("posterior_mean",), progress=progress)["posterior_mean"]


def prepare_intensity(data, domain: str, *, dynamic_range: float = 60.0) -> np.ndarray:
    """Turn data of any domain into the intensity Speckle2Void works on (training and prediction).

    ``"intensity"`` passes through; ``"amplitude"`` is squared; ``"complex"``
    (IQ/SLC) is decorrelated (:func:`s2v.decorrelation.decorrelate`, automatic
    parameters) then ``|z|^2``; ``"rf"`` goes to IQ by the analytic signal, then
    as complex; ``"bmode"`` (uint8 or dB) is log-decompressed with
    ``dynamic_range`` (:func:`s2v.domains.bmode_to_intensity`).

    Returns
    -------
    ndarray, (H, W) float32
        Linear intensity.
    """
    array = np.asarray(data)
    if domain in ("complex", "rf"):
        from .decorrelation import decorrelate
        from .domains import analytic_signal, intensity_from_complex

        if domain == "rf":
            array = analytic_signal(array, axis=0)
        if not np.iscomplexobj(array):
            raise ValueError(f"domain='complex' expects complex IQ/SLC data, got dtype {array.dtype}")
        whitened, _ = decorrelate(array)
        return intensity_from_complex(whitened)
    if domain == "amplitude":
        return np.square(array, dtype=np.float32)
    if domain == "bmode":
        from .domains import bmode_to_intensity

        scale = "uint8" if array.dtype == np.uint8 else "db"
        return bmode_to_intensity(array, dynamic_range=dynamic_range, scale=scale)
    if domain != "intensity":
        raise ValueError(f"unknown domain {domain!r}; choose among {DOMAINS + ('rf',)}")
    return array

"""AP-BSN as a denoiser of the harness: load a ``.keras`` model, despeckle intensity.

The shipped model is package data: ``s2v_checkpoint/apbsn/apbsn.keras`` (model card beside
it), found through :func:`s2v._shared.checkpoint_root` as the Speckle2Void checkpoints are.
Its file name is not ``model.keras`` on purpose: :func:`s2v.list_checkpoints` lists the
Speckle2Void models, the folders holding a ``model.keras``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from s2v._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras

from . import DEFAULT_CHECKPOINT
from .config import check_looks
from .model import APBSN

__all__ = ["load_model", "save_model", "despeckle", "denoiser"]


def _resolve(path) -> Path:
    path = Path(DEFAULT_CHECKPOINT if path is None else path)
    if path.is_dir():
        candidates = [path / name for name in ("apbsn.keras", "model.keras") if (path / name).is_file()]
        if not candidates:
            raise FileNotFoundError(f"{path}: no apbsn.keras or model.keras in this folder "
                                    "(train one with s2v.apbsn.train)")
        path = candidates[0]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such AP-BSN model file"
                                + (" (the shipped model is missing from this installation)"
                                   if path == Path(DEFAULT_CHECKPOINT) else ""))
    return path


def load_model(path=None) -> APBSN:
    """Load an AP-BSN model saved as ``.keras`` (default: the shipped B-mode model).

    Parameters
    ----------
    path : str or Path, optional
        A ``.keras`` file, or a folder holding ``apbsn.keras`` or ``model.keras`` (a
        training folder of :func:`s2v.apbsn.train`). Loading is safe (Keras ``safe_mode``:
        no code is read from the file, only the registered ``s2v`` layers are rebuilt).

    Raises
    ------
    FileNotFoundError
        No such file or folder.
    ValueError
        The file is not a Keras file or holds another kind of model.
    """
    path = _resolve(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as exc:
        raise ValueError(f"{path}: not a loadable AP-BSN model ({exc})") from None
    if not isinstance(model, APBSN):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not an AP-BSN model")
    return model


def save_model(model: APBSN, path) -> Path:
    """Save the weights and configuration only (no optimizer state), atomically, as ``.keras``.

    This is the small file to ship; the checkpoints of :func:`s2v.apbsn.train` keep the
    optimizer state for resuming.
    """
    from s2v.training import save_model_atomic

    copy = APBSN(model.config, name=model.name)
    copy.set_weights(model.get_weights())
    return save_model_atomic(copy, Path(path))


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> APBSN:
    return load_model(path)


def despeckle(intensity, *, looks: float = 1.0, model=None, seed: int = 0,
              r3_passes: int | None = None) -> np.ndarray:
    """Despeckle an intensity image with AP-BSN (the denoiser interface of every method).

    Parameters
    ----------
    intensity : ndarray, shape (H, W)
        Noisy **intensity** (linear power, finite, >= 0; for 8-bit B-mode use
        ``s2v.domains.to_intensity(bmode, "bmode")`` first). Any scale.
    looks : float
        Number of looks ``L`` (finite, > 0; 1 for fully developed speckle).
    model : APBSN, str or Path, optional
        A model, or a path for :func:`load_model` (loaded once and cached). Default: the
        shipped model trained on ultrasound B-mode (``s2v_checkpoint/apbsn``, see its model
        card).
    seed : int
        Seed of the R^3 replacement masks (equal seeds, equal outputs).
    r3_passes : int, optional
        R^3 passes (default: the model's configuration; 0 disables R^3).

    Returns
    -------
    ndarray, shape (H, W), float32
        Despeckled **intensity**, on the input's scale.
    """
    looks = check_looks(looks)
    if not isinstance(model, APBSN):
        path = _resolve(model)
        model = _cached(str(path.resolve()), path.stat().st_mtime)
    return model.denoise(intensity, looks=looks, seed=seed, r3_passes=r3_passes)


def denoiser(path=None):
    """``f(intensity, *, looks) -> intensity`` with a model loaded once (for the harness)."""
    return functools.partial(despeckle, model=load_model(path))

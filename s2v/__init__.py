"""s2v: self-supervised speckle reduction (Speckle2Void) for ultrasound and SAR images.

The public API is imported lazily, so ``import s2v`` is cheap and numpy-only
modules (simulation, metrics, baselines, I/O) do not load TensorFlow.
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_LAZY = {
    "S2VConfig": "s2v.config",
    "ConfigError": "s2v.config",
    "Speckle2Void": "s2v.model",
    "despeckle": "s2v.pipeline",
    "load_model": "s2v.pipeline",
    "list_checkpoints": "s2v.pipeline",
    "train": "s2v.training",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 's2v' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

"""s2v: self-supervised speckle reduction (Speckle2Void) for ultrasound and SAR images.

The public API is imported lazily, so ``import s2v`` is cheap and numpy-only
modules (simulation, metrics, baselines, I/O) do not load TensorFlow.
"""

from __future__ import annotations

import os

from ._shared import lazy_exports

__version__ = "0.1.0"

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_LAZY = {
    "S2VConfig": "config",
    "ConfigError": "config",
    "Speckle2Void": "model",
    "despeckle": "pipeline",
    "despeckle_folder": "pipeline",
    "load_model": "pipeline",
    "list_checkpoints": "pipeline",
    "train": "training",
    "fine_tune": "finetune",
}

#: Functions of s2v.pipeline that import Keras when called: Keras is imported quietly
#: (:func:`s2v._tensorflow.quiet_import`) before they are handed out.
_KERAS_ON_CALL = ("despeckle", "despeckle_folder", "load_model", "fine_tune")


def _before(name):
    if name in _KERAS_ON_CALL:
        from ._tensorflow import quiet_import

        quiet_import()


__all__ = [*_LAZY, "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _before)

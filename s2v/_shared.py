"""Location of the optional shared real-data folder (``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def repo_root() -> Path:
    """Return the repository root (the folder that holds the ``s2v`` package)."""
    return _REPO_ROOT


def shared_data_dir() -> Path | None:
    """Return the shared real-data folder, or ``None`` when it is absent.

    Looked up in this order: the ``S2V_SHARED_DATA`` environment variable, then
    ``../shared/data`` next to the repository. Code that uses it must degrade
    cleanly (skip, or fall back to simulated data) when this returns ``None``.
    """
    env = os.environ.get("S2V_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(_REPO_ROOT.parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None

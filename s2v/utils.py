"""Small shared helpers: atomic file writing and input validation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an interrupted write leaves
    the previous file (if any) intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_intensity(image, name: str = "intensity") -> np.ndarray:
    """Validate a 2-D, finite, non-negative intensity image; return it as float32.

    Raises
    ------
    ValueError
        With a message that says what is wrong and what was expected.
    """
    array = np.asarray(image)
    if np.iscomplexobj(array):
        raise ValueError(
            f"{name}: got complex data; expected a real intensity image "
            "(use s2v.domains.intensity_from_complex or domain='complex')")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) image, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name}: the image is empty (shape {array.shape})")
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise ValueError(f"{name}: expected a numeric image, got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or Inf values; expected finite intensities")
    if array.min() < 0:
        raise ValueError(
            f"{name}: contains negative values (min {array.min():.3g}); intensity is |z|^2 >= 0 "
            "(is this log-compressed or B-mode data? use domain='bmode')")
    return array

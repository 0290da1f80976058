"""Package plumbing: lazily imported public names, the shipped checkpoints, the shared data folder."""

from __future__ import annotations

import importlib
import importlib.resources
import os
from collections.abc import Callable, Mapping
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent

#: Top-level package that carries the shipped checkpoints as package data.
CHECKPOINT_PACKAGE = "s2v_checkpoint"


def lazy_exports(package: str, names: Mapping[str, str], before: Callable[[str], None] | None = None):
    """``__getattr__`` and ``__dir__`` of a package whose public names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Public name -> submodule that defines it, relative to ``package`` (``"config"``).
    before : callable, optional
        Called with the name before its submodule is imported.

    Returns
    -------
    (__getattr__, __dir__)
        To assign at the package's top level (PEP 562).
    """
    def __getattr__(name):
        if name in names:
            if before is not None:
                before(name)
            return getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        module = importlib.import_module(package)
        return sorted(set(vars(module)) | set(names))

    return __getattr__, __dir__


def repo_root() -> Path:
    """Return the folder that holds the ``s2v`` package.

    In a source checkout (plain or editable install) this is the repository root; after
    ``pip install .`` or a wheel install it is the ``site-packages`` (or ``--target``) folder,
    where repository-only folders (notebooks, ``test_examples/``) do not exist.
    """
    return _REPO_ROOT


def checkpoint_root() -> Path:
    """Return the folder of the shipped checkpoints (``<name>/model.keras`` and friends).

    The import system answers first: ``importlib.resources.files("s2v_checkpoint")``, which
    is the installed package after ``pip install .`` or a wheel install, and the
    repository's ``s2v_checkpoint/`` through the editable finder after ``pip install -e .``.
    Where that package cannot be imported as a regular folder (not installed, a namespace
    package of an old editable install, a zip), the folder next to the ``s2v`` package is
    used, i.e. the repository's in a source checkout. The returned folder may be absent
    (an install built without package data); callers treat that as "no checkpoints".
    """
    try:
        root = importlib.resources.files(CHECKPOINT_PACKAGE)
    except ImportError:
        root = None
    if isinstance(root, Path) and root.is_dir():
        return root
    return _REPO_ROOT / CHECKPOINT_PACKAGE


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

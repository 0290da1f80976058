"""A built wheel carries the shipped checkpoints: build it, install it outside the repository,
and despeckle an image with every shipped model from the installed copy.

The wheel is built from a copy of the working tree (what a clone would hold plus uncommitted
changes), so no ``build/`` folder of the checkout can leak stale files into it, then installed
with ``pip install --target`` into a temporary folder. A child interpreter (this virtual
environment's, so the dependencies are there) runs with ``PYTHONPATH`` set to that folder
and its working directory outside the repository: ``PYTHONPATH`` comes before the editable
finder of ``pip install -e .``, and the test asserts that the installed copy, not the
checkout, was imported.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from s2v._shared import CHECKPOINT_PACKAGE, repo_root

ROOT = repo_root()
SOURCE = ROOT / CHECKPOINT_PACKAGE
APBSN_MODEL = SOURCE / "apbsn" / "apbsn.keras"   # AP-BSN's shipped model (s2v.apbsn), not listed
#                                                   by s2v.list_checkpoints (no model.keras)

# The child despeckles a seeded two-level intensity image under 1-look speckle with each
# shipped model (argv[1] == "apbsn": AP-BSN's too) and reports where everything came from
# and the error of input and output.
CHILD = r"""
import json, sys
import numpy as np
import s2v, s2v_checkpoint
from s2v._shared import checkpoint_root
from s2v import pipeline


def scores(estimate):
    return {"shape": list(estimate.shape), "dtype": str(estimate.dtype),
            "finite": bool(np.isfinite(estimate).all()),
            "mse_noisy": float(np.mean((noisy - clean) ** 2)),
            "mse_estimate": float(np.mean((estimate - clean) ** 2))}


rng = np.random.default_rng(20221)
clean = np.full((67, 93), 1.0, np.float32)
clean[:, 40:] = 4.0                      # two regions, an odd-sized image
noisy = (clean * rng.gamma(1.0, 1.0, clean.shape)).astype(np.float32)   # intensity, L = 1
report = {"s2v": s2v.__file__, "s2v_checkpoint": s2v_checkpoint.__file__,
          "checkpoint_root": str(checkpoint_root()), "checkpoint_dir": str(pipeline.CHECKPOINT_DIR),
          "list_checkpoints": {k: str(v) for k, v in s2v.list_checkpoints().items()}, "models": {}}
for name in sorted(report["list_checkpoints"]):
    report["models"][name] = scores(s2v.despeckle(noisy, model=name, domain="intensity", progress=False))
if sys.argv[1:] == ["apbsn"]:
    from s2v import apbsn

    report["apbsn"] = str(apbsn.DEFAULT_CHECKPOINT)
    report["models"]["apbsn"] = scores(apbsn.despeckle(noisy, looks=1.0))
print("REPORT " + json.dumps(report))
"""


def _working_tree_files() -> list[Path]:
    """Files a clone would hold plus untracked, non-ignored ones (the working tree's state)."""
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an unpacked sdist)
        skip = {".venv", ".git", "build", "dist", "results", "__pycache__", ".pytest_cache"}
        return [p.relative_to(ROOT) for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    files = {Path(name) for name in listed.decode().split("\0") if name}
    return sorted(f for f in files if (ROOT / f).is_file())  # tracked files deleted here are gone


def _checkpoint_files(folder: Path, files=None) -> dict[str, str]:
    """``relative path -> sha256`` of the model files (those in subfolders) of a checkpoints folder.

    ``files``: the candidate paths (default: everything under ``folder``).
    """
    files = sorted(folder.rglob("*")) if files is None else files
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files if p.is_file() and p.parent != folder and "__pycache__" not in p.parts}


def _shipped_files() -> dict[str, str]:
    """The checkpoint files of the working tree, which the wheel must carry."""
    return _checkpoint_files(SOURCE, [ROOT / f for f in _working_tree_files()
                                      if f.parts[0] == CHECKPOINT_PACKAGE])


def _check_build_backend():
    """The wheel is built offline with this environment's setuptools: say so when it is too old."""
    from importlib.metadata import version

    from packaging.requirements import Requirement

    if sys.version_info >= (3, 11):
        import tomllib

        requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    else:  # the floor is also stated in constraints.txt; only checked where tomllib exists
        requires = []
    for requirement in map(Requirement, requires):
        installed = version(requirement.name)
        if not requirement.specifier.contains(installed, prereleases=True):
            pytest.fail(f"{requirement.name} {installed} in {sys.prefix} does not satisfy pyproject.toml's "
                        f"build requirement {requirement}: run `make` (it installs constraints.txt's)")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel from a copy of the working tree and install it into a fresh folder."""
    _check_build_backend()
    work = tmp_path_factory.mktemp("install")
    src, dist, target = work / "src", work / "dist", work / "site"
    for relative in _working_tree_files():
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, src / relative)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    str(dist), str(src)], check=True, env=env, cwd=work)
    (wheel,) = dist.glob("s2v-*.whl")
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target),
                    str(wheel)], check=True, env=env, cwd=work)
    return {"work": work, "wheel": wheel, "target": target}


def test_wheel_contains_every_checkpoint_file_and_the_licence(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    shipped = _shipped_files()
    expected = {f"{CHECKPOINT_PACKAGE}/{name}" for name in shipped}
    assert expected, f"no checkpoint files in {SOURCE}"
    assert expected <= names, f"left out of the wheel: {sorted(expected - names)}"
    assert any(name.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in name for name in names)
    # Installed byte for byte, nothing missing and nothing extra.
    assert _checkpoint_files(installed["target"] / CHECKPOINT_PACKAGE) == shipped


def test_installed_wheel_despeckles_with_every_shipped_model(installed):
    target = installed["target"]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PYTHONPATH=str(target), PYTHONNOUSERSITE="1", TF_CPP_MIN_LOG_LEVEL="2")
    extra = ["apbsn"] if APBSN_MODEL.is_file() else []
    run = subprocess.run([sys.executable, "-c", CHILD, *extra], cwd=installed["work"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("REPORT ")]
    report = json.loads(line[len("REPORT "):])

    # The installed copy was imported, not the checkout through the editable finder.
    for key in ("s2v", "s2v_checkpoint", "checkpoint_root", "checkpoint_dir", *extra):
        assert Path(report[key]).resolve().is_relative_to(target.resolve()), (key, report[key])
    repo_models = sorted(p.parent.name for p in SOURCE.glob("*/model.keras"))
    assert repo_models, f"no shipped model in {SOURCE}"
    assert sorted(report["list_checkpoints"]) == repo_models
    for path in report["list_checkpoints"].values():
        assert Path(path).resolve().is_relative_to(target.resolve()), path

    # Every shipped model despeckles: the same shape, float32, finite, and at least quarters the
    # mean squared error of the 1-look input (expected MSE: mean of clean**2, 9.5, since a
    # unit-mean Gamma(1) speckle has variance 1).
    assert sorted(report["models"]) == sorted(repo_models + extra)
    for name, result in report["models"].items():
        assert result["shape"] == [67, 93] and result["dtype"] == "float32" and result["finite"], name
        assert result["mse_estimate"] < 0.25 * result["mse_noisy"], (name, result)

"""The study notebook runs end to end in quick mode."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.notebook
def test_projet_notebook_runs_in_quick_mode(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "projet.ipynb", as_version=4)
    env = {"S2V_QUICK": "1", "S2V_OUTPUT_DIR": str(tmp_path)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert (tmp_path / "projet" / "ultrasound_simulated" / "results.md").is_file()
    assert (tmp_path / "projet" / "synthetic" / "results.md").is_file()

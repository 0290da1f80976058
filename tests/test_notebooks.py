"""The Speckle2Void training and prediction notebooks: thin, stripped, and they run in quick mode.

The notebooks of ``decorrelation/`` and ``autre_papier/`` are executed by their own test files
(tests/test_decorrelation.py, tests/test_apbsn.py), not here.

Execution uses the ``python3`` kernel, which jupyter_client starts with the interpreter running
pytest (the kernelspec's ``python`` is replaced by ``sys.executable``), so ``make test`` from a
fresh clone runs the notebooks in the project's virtual environment; a last cell checks it.
"""

import ast
import os
import sys

import numpy as np
import pytest

from s2v._shared import repo_root

nbformat = pytest.importorskip("nbformat")

ROOT = repo_root()
NOTEBOOKS = ("Speckle2Void-training.ipynb", "Speckle2Void-prediction.ipynb")
#: The parameters of the reference notebooks (diegovalsesia/speckle2void), same names and meaning.
REFERENCE_PARAMETERS = ("dir_train", "dir_test", "file_checkpoint", "batch_size", "patch_size",
                        "model_name", "lr", "steps_per_epoch", "k_penalty_tv", "shift_list", "prob",
                        "clip", "norm", "L_noise")


def run_quick(name, out_dir, monkeypatch):
    """Execute a notebook in quick mode with outputs under ``out_dir``; return it executed."""
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / name, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    monkeypatch.setenv("S2V_QUICK", "1")
    monkeypatch.setenv("S2V_OUTPUT_DIR", str(out_dir))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    kernel_python = notebook.cells[-1].outputs[0]["text"].strip()
    assert os.path.realpath(kernel_python) == os.path.realpath(sys.executable)
    return notebook


def python_of(cell) -> str:
    """The cell's source as plain Python (``%matplotlib inline`` and other magics translated)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell.source)


def shows_figures(notebook) -> bool:
    """Whether some cell displayed an image inline."""
    return any("image/png" in output.get("data", {}) for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.outputs)


def printed(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.get("output_type") == "stream")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_thin_stripped_and_has_the_reference_parameters(name):
    notebook = nbformat.read(ROOT / name, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "strip the outputs"
    trees = [ast.parse(python_of(cell)) for cell in code]
    defined = [node for tree in trees for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
    assert not defined, "notebooks stay thin: all logic comes from s2v"
    imported = {alias.name for tree in trees for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    modules = {node.module for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "matplotlib.pyplot" not in imported and "plot" in imported and "s2v" in modules, \
        "figures come from s2v.plot, not from hand-made pyplot panels"
    # One parameters cell assigns every reference parameter and the quick switch.
    assigned = [{target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)} for tree in trees]
    parameter_cells = [names for names in assigned if set(REFERENCE_PARAMETERS) <= names]
    assert len(parameter_cells) == 1 and "QUICK" in parameter_cells[0]
    assert sum(cell.cell_type == "markdown" for cell in notebook.cells) >= len(code) - 1


@pytest.mark.notebook
def test_training_notebook_trains_and_saves_in_quick_mode(tmp_path, monkeypatch):
    notebook = run_quick("Speckle2Void-training.ipynb", tmp_path, monkeypatch)
    run = tmp_path / "speckle2void-quick"
    assert (run / "model.keras").is_file() and (run / "config.json").is_file()
    # Quick mode: 2 epochs of 5 steps, a checkpoint at the end of each.
    assert (run / "checkpoints" / "latest.txt").read_text().strip() == "ckpt-00000010.keras"
    assert (tmp_path / "speckle2void-quick-check.png").stat().st_size > 0
    assert shows_figures(notebook)
    text = printed(notebook)
    assert "step 10 after" in text and "ENL" in text


@pytest.mark.notebook
def test_prediction_notebook_despeckles_and_saves_in_quick_mode(tmp_path, monkeypatch):
    from s2v.datasets import clean_test_images
    from s2v.io import read_image

    notebook = run_quick("Speckle2Void-prediction.ipynb", tmp_path, monkeypatch)
    out = tmp_path / "prediction"
    # Quick mode: the first two protocol images and the simulated SLC (plus TerraSAR-X with shared data).
    names = list(clean_test_images())[:2] + ["sar_slc"]
    for name in names:
        assert (out / f"{name}.png").stat().st_size > 0
    first = names[0]
    estimate, meta = read_image(out / f"{first}_despeckled.tif")
    assert meta["domain"] == "intensity" and estimate.dtype == np.float32
    assert estimate.shape == clean_test_images()[first].shape
    assert np.isfinite(estimate).all() and estimate.min() >= 0
    assert "protocol" in printed(notebook)
    assert shows_figures(notebook) and (out / f"{first}_ratio.png").stat().st_size > 0

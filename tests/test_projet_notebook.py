"""The study notebook: generated, thin, fed by the study's results, and it runs in quick mode."""

import ast
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
nbformat = pytest.importorskip("nbformat")


def test_results_read_back_from_json_are_the_written_ones(tmp_path, rng):
    from s2v.baselines import BASELINES
    from s2v.compare import compare
    from s2v.results import Rule, conclude, load_results

    clean = np.full((24, 21), 2.0, np.float32)
    clean[6:14, 5:12] = 0.2
    item = {"name": "cyst", "intensity": (clean * rng.gamma(1.0, 1.0, clean.shape)).astype(np.float32),
            "ground_truth": clean}
    written = compare({"boxcar": BASELINES["boxcar"]}, [item], out_dir=tmp_path, figures=False,
                      progress=False)
    loaded = load_results(tmp_path)
    assert loaded.table_markdown() == written.table_markdown()
    assert loaded.report_markdown() == written.report_markdown()
    assert loaded.to_dataframe().equals(written.to_dataframe())
    assert loaded.to_dataframe(per_image=True).equals(written.to_dataframe(per_image=True))
    assert math.isnan(loaded.records[0]["runtime_s"])  # null in the JSON comes back as NaN
    rule = Rule({"psnr": "max"})
    assert conclude(loaded, rule).ranks == conclude(written, rule).ranks
    assert loaded.files["json"] == tmp_path / "results.json" and loaded.out_dir == tmp_path
    with pytest.raises(FileNotFoundError, match="no such results file"):
        load_results(tmp_path / "missing")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="missing config, summary, records"):
        load_results(tmp_path / "other.json")


def test_notebook_is_the_generated_one_thin_and_without_typed_numbers(tmp_path):
    from IPython.core.inputtransformer2 import TransformerManager

    stored = nbformat.read(ROOT / "projet.ipynb", as_version=4)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_projet_notebook.py"),
                    str(tmp_path / "projet.ipynb")], check=True, capture_output=True)
    generated = nbformat.read(tmp_path / "projet.ipynb", as_version=4)
    assert generated == stored, "projet.ipynb is out of date: run scripts/make_projet_notebook.py"
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "strip the outputs"
    trees = [ast.parse(TransformerManager().transform_cell(cell.source)) for cell in code]
    assert not [node for tree in trees for node in ast.walk(tree)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
    source = "\n".join(cell.source for cell in code)
    assert "load_results(" in source and "ultrasound_conclusion(" in source and "CONCLUSION_RULE" in source
    assert "plot.montage(" in source and "plot.ratio_montage(" in source
    # Results are computed, never typed: no measured value (dB, PSNR, SSIM, ENL...) in the text.
    text = "\n".join(cell.source for cell in stored.cells if cell.cell_type == "markdown")
    assert not re.findall(r"\d+\.\d+\s*dB|(?:PSNR|SSIM|ENL|gCNR)[^|\n]{0,12}\d\.\d", text)


@pytest.mark.notebook
def test_projet_notebook_runs_in_quick_mode(tmp_path):
    from s2v.study import CONCLUSION_RULE

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
    # No results in the folder: the notebook ran the study there, then read it back.
    assert (tmp_path / "summary.md").is_file()
    assert (tmp_path / "ultrasound_simulated" / "results.md").is_file()
    assert (tmp_path / "synthetic" / "results.md").is_file()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert sum("dataframe" in h and "psnr_mean" in h for h in html) >= 2  # tables as DataFrames
    assert any("mean rank" in h for h in html)  # the conclusion's ranks
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4  # montages and ratio images
    shown = "".join(o["data"].get("text/markdown", "") for o in outputs if "data" in o)
    assert CONCLUSION_RULE.text in shown and "Most promising method for ultrasound" in shown

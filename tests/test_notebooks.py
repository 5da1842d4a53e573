"""Every notebook in notebooks/ runs top to bottom (in a scratch copy of the repository's examples).

No browser here: widgets have no view, so a graph shows as its text (``text/plain``) and the assertions read the
cells' printed output. A cell tagged ``raises-exception`` may fail (a deliberate mistake); no other cell may.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def _text(cell: Any) -> str:
    """What a cell printed (stdout and stderr) and the text of what it displayed."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts)


def _cell(nb: Any, start: str) -> Any:
    """The one code cell whose source starts with ``start``."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]
    assert len(found) == 1, f"expected one code cell starting with {start!r}, found {len(found)}"
    return found[0]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("work", ".scanflow", "mlruns")
    )
    (tmp_path / "notebooks").mkdir()
    # Inline figures (image/png outputs), as in JupyterLab; the kernel's temporary folders under tmp_path.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path / "notebooks")}}
    ).execute()

    for cell in nb.cells:
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        failures = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        failures += [o for o in cell.get("outputs", []) if o.output_type == "stream" and "UsageError" in o.text]
        assert not failures, f"cell {cell.source[:60]!r} failed: {_text(cell)}"

    if path.stem == "quickstart":
        check_quickstart(nb)
    if path.stem == "checker":
        check_checker(nb)


def check_quickstart(nb: Any) -> None:
    assert "loaded 'tabular'" in _text(_cell(nb, "%scanflow load ../examples/tabular"))
    assert _text(_cell(nb, "%scanflow validate")).strip() == "tabular: valid (1 workflow(s), 5 step(s))"

    plot = _cell(nb, "g = %scanflow plot")
    assert WIDGET in plot.outputs[0].data
    assert re.findall(r"^  (\S+)", _text(plot), re.M) == [
        "gather",
        "preprocess",
        "modeling/linear",
        "modeling/forest",
        "evaluate",
    ]

    first = _cell(nb, "result = %scanflow run --workers 2")
    assert any(WIDGET in o.get("data", {}) for o in first.outputs)  # the run's own live graph
    run_id = re.search(r"^(\S+) succeeded$", _text(first), re.M)
    assert run_id, _text(first)
    runs = _text(_cell(nb, "%scanflow runs"))
    assert run_id.group(1) in runs and "5 succeeded" in runs

    # The step runs read back from MLflow, and the chart drawn from them.
    steps = _text(_cell(nb, "import mlflow"))
    for name in ("gather", "preprocess", "modeling/linear", "modeling/forest", "evaluate"):
        assert name in steps
    assert "FINISHED" in steps
    chart = _cell(nb, "import matplotlib")
    assert any("image/png" in o.get("data", {}) for o in chart.outputs)

    cached = {a: "cached" for a in ("gather", "preprocess", "modeling/linear", "modeling/forest", "evaluate")}
    assert str(cached) in _text(_cell(nb, "again = %scanflow run"))
    changed = {**cached, "modeling/forest": "succeeded", "evaluate": "succeeded"}
    assert str(changed) in _text(_cell(nb, "changed = %scanflow run"))

    # An application written in cells.
    assert "created 'hello'" in _text(_cell(nb, "import tempfile"))
    assert "step 'make-data' saved to steps/make-data.py" in _text(_cell(nb, "%%scanflow step make-data"))
    assert "added to workflow 'main' after make-data" in _text(_cell(nb, "%%scanflow step fit"))
    assert "intercept: true" in _text(_cell(nb, "%scanflow export"))
    assert "succeeded {'make-data': 'succeeded', 'fit': 'succeeded'}" in _text(_cell(nb, "hello = %scanflow run"))
    assert re.search(r"fit\s+succeeded", _text(_cell(nb, "%scanflow status")))

    # Deliberate mistakes: one clear message each, no traceback.
    unknown = _text(_cell(nb, "%scanflow run nightly"))
    assert unknown.startswith("UsageError: ") and "no workflow named 'nightly'; choose one of: main" in unknown
    assert "Traceback" not in unknown
    wrong = _text(_cell(nb, "%scanflow run --param fit.intercept=maybe"))
    assert "UsageError: Parameter 'fit.intercept' expects a bool (true or false), got 'maybe'" in wrong


def check_checker(nb: Any) -> None:
    assert "AutoencoderDetector(dense, samples (64,)" in _text(_cell(nb, "detector = AutoencoderDetector("))
    auroc = re.search(r"AUROC, unseen 1-9 against 0: ([0-9.]+)", _text(_cell(nb, "import matplotlib")))
    assert auroc and float(auroc.group(1)) > 0.9, _text(_cell(nb, "import matplotlib"))
    assert any("image/png" in o.get("data", {}) for o in _cell(nb, "import matplotlib").outputs)

    clean = _cell(nb, "rng = np.random.default_rng(1)")
    assert WIDGET in clean.outputs[-1].data and _text(clean).startswith("NO DRIFT: p = ")
    assert _text(_cell(nb, "from scanflow_jupyter.notebook import DriftReportView")).startswith("DRIFT: p = ")
    registered = _text(_cell(nb, "%scanflow check models:/digits-checker/1"))
    assert "recorded in MLflow: run " in registered and "DRIFT: p = " in registered
    assert "verdict: drift" in _text(_cell(nb, "client = mlflow.MlflowClient()"))

    broken = _text(_cell(nb, "broken = clean.copy()"))
    assert broken.startswith("UsageError: the batch 'broken' has NaN or infinite values in 1 of 200 samples (rows 3)")
    assert "Traceback" not in broken

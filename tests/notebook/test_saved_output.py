"""The output a run's graph leaves in a saved notebook: its text (what nbviewer, GitHub, nbconvert or a notebook
opened without the widget show) is that of the run's end, not of the moment the graph was displayed.

The magic displays the view with a display id and replaces that output when the run ends; these tests read the
outputs as a real kernel sends them (nbclient applies ``update_display_data`` as a notebook frontend does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient

from scanflow_jupyter.notebook import GraphView

from .conftest import step

WIDGET = "application/vnd.jupyter.widget-view+json"


def graph_outputs(cell: Any) -> list[Any]:
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result") and WIDGET in o.data]


def test_run_replaces_its_graph_output_when_it_ends(
    make_app: Callable[..., Any], shell: InteractiveShell, magics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"sleep": 0.0})])
    shell.run_line_magic("scanflow", f"load {app.folder}")
    magics.tracking = False
    publisher = CapturingDisplayPublisher()
    monkeypatch.setattr(shell, "display_pub", publisher)

    result = shell.run_line_magic("scanflow", "run")

    shown, *updates = [o for o in publisher.outputs if WIDGET in o["data"]]
    display_id = shown["transient"]["display_id"]
    assert not shown["update"] and "(run" not in shown["data"]["text/plain"].splitlines()[0]
    assert [u["transient"]["display_id"] for u in updates] == [display_id] and updates[0]["update"]
    text = updates[0]["data"]["text/plain"]
    assert text.startswith(f"demo / main (run {result.run_id}: succeeded)")
    assert "pending" not in text and text.count("succeeded") == 3
    assert updates[0]["data"][WIDGET] == shown["data"][WIDGET]  # the same widget, drawn again


def test_a_graph_that_follows_every_run_keeps_its_output(
    make_app: Callable[..., Any], shell: InteractiveShell, magics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # %scanflow plot follows every run: replacing its output after each would redraw it each time.
    app = make_app([step("a")])
    shell.run_line_magic("scanflow", f"load {app.folder}")
    magics.tracking = False
    publisher = CapturingDisplayPublisher()
    monkeypatch.setattr(shell, "display_pub", publisher)
    view = shell.run_line_magic("scanflow", "plot")
    shell.display_formatter.format(view)  # as the displayhook shows `g` at the end of a cell
    shell.run_line_magic("scanflow", "run")
    updated = [o for o in publisher.outputs if o["update"]]
    assert isinstance(view, GraphView) and view.run_status == "succeeded"
    assert all(o["transient"]["display_id"] not in view._display_ids for o in updated)


@pytest.mark.slow
def test_saved_notebook_shows_the_final_states(make_app: Callable[..., Any], tmp_path: Path) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"sleep": 0.3})])
    cells = [
        "%load_ext scanflow_jupyter\n%config ScanflowMagics.tracking = False",
        f"%scanflow load {json.dumps(str(app.folder))}",
        "result = %scanflow run",
        "view = %scanflow run --background --force\nview",
        "print(view.wait(60).status)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)

    for index in (2, 3):
        [graph] = graph_outputs(saved.cells[index])
        text = graph.data["text/plain"]
        first, *rows = text.splitlines()
        assert first.startswith("demo / main (run ") and first.endswith(": succeeded)"), text
        assert [row.split()[:2] for row in rows] == [["a", "succeeded"], ["b", "succeeded"]], text
    assert saved.cells[4].outputs[0].text.strip() == "succeeded"
